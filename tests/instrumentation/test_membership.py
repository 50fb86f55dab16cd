"""The run and thread a call belongs to, rule by rule (instrumentation/membership.py).

Each rule is checked on its own with real threads and runs; the precedence between
them is checked through ``Tracker.analyze`` in test_runs.py with the real SDK.
"""

from __future__ import annotations

from tokentrail.instrumentation.membership import (
    continued_run,
    conversation_run,
    run_for,
    thread_for,
)
from tokentrail.instrumentation.runs import ConversationRuns, Run
from tokentrail.instrumentation.threads import Match, Response, Thread, ThreadTable, extend

USER = {"role": "user", "content": "hello"}
ASSISTANT = {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}
FOLLOW_UP = {"role": "user", "content": "and then?"}


def sent(messages: list, run: Run, table: ThreadTable, answered: bool = True) -> Thread:
    """A thread as the tracker leaves it after a call with ``messages`` (and its response)."""
    thread = Thread(run)
    extend(thread, messages, 0, {})
    table.add(thread)
    if answered:
        thread.response = Response(ASSISTANT["content"])
    return thread


def test_an_explicit_run_wins_over_everything() -> None:
    table, earlier = ThreadTable(), Run()
    sent([USER], earlier, table)
    explicit = Run("mine")
    messages = [USER, ASSISTANT, FOLLOW_UP]
    match = table.match(messages)
    assert run_for(match, messages, explicit, "conv-1", ConversationRuns()) is explicit


def test_a_conversation_id_names_the_run_and_keeps_it() -> None:
    conversations = ConversationRuns()
    run = conversation_run("conv-1", conversations)
    assert run is not None and run.id == "conv-1"
    assert conversation_run("conv-1", conversations) is run
    assert conversation_run(None, conversations) is None
    assert conversation_run("", conversations) is None


def test_continuity_follows_the_response_or_new_messages() -> None:
    table, earlier = ThreadTable(), Run()
    thread = sent([USER], earlier, table)
    with_response = [USER, ASSISTANT, FOLLOW_UP]
    assert continued_run(table.match(with_response), with_response) is earlier
    more = [USER, FOLLOW_UP]  # not the response, but messages the thread has not seen
    assert continued_run(table.match(more), more) is earlier
    thread.response = None  # still waiting for its response: the same call again
    assert continued_run(table.match([USER]), [USER]) is earlier


def test_resending_the_same_messages_after_the_response_starts_over() -> None:
    table, earlier = ThreadTable(), Run()
    sent([USER], earlier, table)
    assert continued_run(table.match([USER]), [USER]) is None
    run = run_for(table.match([USER]), [USER], None, None, ConversationRuns())
    assert run is not earlier and run.automatic


def test_no_match_no_continuity() -> None:
    assert continued_run(Match(None, 0, False, {}), [USER]) is None


def test_the_thread_is_reused_copied_or_new() -> None:
    table, earlier = ThreadTable(), Run()
    thread = sent([USER], earlier, table)
    messages = [USER, ASSISTANT, FOLLOW_UP]
    match = table.match(messages)
    assert thread_for(match, earlier) is thread  # same run: extended in place
    other = Run()
    copy = thread_for(match, other)  # another run: its own copy, fingerprints reused
    assert copy is not thread and copy.run is other
    assert copy.fps == thread.fps and copy.fps is not thread.fps
    fresh = thread_for(Match(None, 0, False, {}), other)
    assert fresh.run is other and fresh.messages == []
