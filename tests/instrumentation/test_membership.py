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
    assert run_for(table, match, messages, explicit, "conv-1", ConversationRuns()) == (
        explicit, match)


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
    run, _ = run_for(table, table.match([USER]), [USER], None, None, ConversationRuns())
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


# --- rule 4: a conversation rewritten behind its first message stays in its run ---------

def say(text: str, role: str = "user") -> dict:
    return {"role": role, "content": text}


def conversation(turns: int, tag: str = "") -> list:
    """``turns`` exchanges (user, assistant), then the next question: what an agent sends."""
    messages: list = []
    for i in range(turns):
        messages += [say(f"{tag}q{i}"), say(f"{tag}a{i}", "assistant")]
    return [*messages, say(f"{tag}q{turns}")]


def rewrite(table: ThreadTable, messages: list) -> tuple[Run, Match]:
    return run_for(table, table.match(messages), messages, None, None, ConversationRuns())


def test_an_edited_earlier_message_keeps_the_call_in_its_run() -> None:
    table, earlier = ThreadTable(), Run(automatic=True)
    sent_messages = conversation(5)
    thread = sent(sent_messages, earlier, table)
    edited = [*sent_messages, ASSISTANT, FOLLOW_UP]
    edited[2] = say("q1 (edited)")  # a new object, as an application edits its history
    assert table.match(edited).thread is None  # no thread prefixes it: rule 3 has nothing
    run, match = rewrite(table, edited)
    assert run is earlier
    assert (match.thread, match.shared, match.continues) == (thread, 2, False)


def test_a_removed_middle_exchange_and_a_compaction_behind_the_task_keep_the_run() -> None:
    table, earlier = ThreadTable(), Run(automatic=True)
    sent_messages = conversation(4)
    sent(sent_messages, earlier, table)
    removed = sent_messages[:2] + sent_messages[4:] + [ASSISTANT, FOLLOW_UP]
    assert rewrite(table, removed)[0] is earlier
    compacted = [sent_messages[0], say("Summary of the work so far.", "assistant"),
                 say("go on")]
    run, match = rewrite(table, compacted)
    assert run is earlier and match.shared == 1


def test_sharing_no_message_or_only_a_start_plus_one_message_is_a_new_run() -> None:
    table, earlier = ThreadTable(), Run(automatic=True)
    sent_messages = conversation(4)
    sent(sent_messages, earlier, table)
    cases = {
        # a compaction that replaces the first message too: nothing ties it to the run
        "nothing shared": [say("Summary of everything."), say("ok", "assistant"), say("go")],
        # the same few-shot examples, a new question: how a new task opens
        "template + one": [*sent_messages[:4], say("a new task")],
        # another sample / a new task from the same opening messages
        "leading part only": sent_messages[:3],
        "one message": sent_messages[:1],
    }
    for name, messages in cases.items():
        assert table.match_content(messages, {})[1] is None, name
        run, match = rewrite(table, messages)
        assert run is not earlier and run.automatic, name
        assert match.thread is None or match.thread.run is not run, name


def test_a_thread_still_waiting_for_its_response_is_not_rewritten() -> None:
    table, earlier = ThreadTable(), Run(automatic=True)
    sent_messages = conversation(3)
    sent(sent_messages, earlier, table, answered=False)
    edited = [*sent_messages, ASSISTANT, FOLLOW_UP]
    edited[2] = say("q1 (edited)")
    assert table.match_content(edited, {})[1] is None


def test_the_longest_shared_start_wins_then_the_most_recent() -> None:
    """Two conversations with the same first message (one task template, two agents):
    a rewrite goes to the one it shares most with, whatever came last."""
    table = ThreadTable()
    mine, other, third = Run(automatic=True), Run(automatic=True), Run(automatic=True)
    mine_messages = conversation(4, "m")
    mine_messages[0] = say("same task")
    other_messages = [say("same task"), *conversation(4, "o")[1:]]
    sent(mine_messages, mine, table)
    sent(other_messages, other, table)  # more recent
    edited = [*mine_messages, ASSISTANT, FOLLOW_UP]
    edited[4] = say("mq2 (edited)")  # shares 4 messages with mine, 1 with other
    assert rewrite(table, edited)[0] is mine
    # Equal shares: the most recently used thread.
    sent([say("same task"), *conversation(4, "t")[1:]], third, table)
    compacted = [say("same task"), say("summary", "assistant"), say("go on")]
    assert rewrite(table, compacted)[0] is third


def test_the_rewritten_thread_is_cut_back_in_place_and_the_last_call_keeps_its_lists() -> None:
    table, earlier = ThreadTable(), Run(automatic=True)
    sent_messages = conversation(3)
    thread = sent(sent_messages, earlier, table)
    old_messages, old_fps = thread.messages, thread.fps  # what the run's LastCall holds
    snapshot = (list(old_messages), list(old_fps))
    edited = [*sent_messages, ASSISTANT, FOLLOW_UP]
    edited[2] = say("q1 (edited)")
    run, match = rewrite(table, edited)
    assert thread_for(match, run) is thread
    extend(thread, edited, match.shared, match.fps)
    assert thread.messages == edited and len(thread.fps) == len(edited)
    assert thread.fps[2].hash != snapshot[1][2].hash and thread.fps[:2] == snapshot[1][:2]
    assert (old_messages, old_fps) == snapshot  # untouched: copied before the cut


# --- the second look: messages compared by content, cache_control left out ---------------

def marked(text: str) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text,
                                         "cache_control": {"type": "ephemeral"}}]}


def plain(text: str) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def test_rebuilt_messages_with_the_breakpoint_moved_continue_the_conversation() -> None:
    """A fresh list each call, the breakpoint on the newest user turn only (Anthropic's
    prompt-caching cookbook rebuilds its turns this way): unequal objects, same content."""
    table, earlier = ThreadTable(), Run(automatic=True)
    thread = sent([plain("q0"), ASSISTANT, marked("q1")], earlier, table)
    messages = [plain("q0"), ASSISTANT, plain("q1"), ASSISTANT, marked("q2")]
    assert table.match(messages).thread is None  # not equal as sent
    run, match = rewrite(table, messages)
    assert run is earlier
    assert (match.thread, match.shared, match.continues) == (thread, 3, True)
    extend(thread, messages, match.shared, match.fps)
    assert thread.marked == {4}  # the old breakpoint re-read away, the new one in


def test_by_content_the_exact_resend_still_starts_over() -> None:
    table, earlier = ThreadTable(), Run(automatic=True)
    sent([plain("q0"), ASSISTANT, marked("q1")], earlier, table)
    run, _ = rewrite(table, [plain("q0"), ASSISTANT, plain("q1")])
    assert run is not earlier and run.automatic


def test_a_rebuilt_list_hashes_only_what_was_rebuilt_since_the_last_call() -> None:
    """The snapshot takes the call's objects where only cache_control differed, so the
    next rebuilt call fingerprints the messages rebuilt since, not the conversation."""
    table, earlier = ThreadTable(), Run(automatic=True)
    history = [plain(f"q{i}") if i % 2 == 0 else ASSISTANT for i in range(39)]
    thread = sent([*history[:-1], marked("q38")], earlier, table)
    for turn in range(3):
        history += [ASSISTANT, plain(f"next {turn}")]
        messages = [*history[:-3], marked(history[-3]["content"][0]["text"]), ASSISTANT,
                    marked(f"next {turn}")]
        run, match = rewrite(table, messages)
        assert run is earlier and match.continues
        # hashed: the user turn whose mark went away (as sent, it differs from the
        # snapshot) and the response after the snapshot; nothing of the 39 before
        n = len(messages)
        assert set(match.fps) <= {n - 5, n - 2} and n - 2 in match.fps
        extend(thread, messages, match.shared, match.fps, match.relink)
        assert thread.messages == messages  # as sent now, cache_control included
        thread.response = Response(ASSISTANT["content"])
