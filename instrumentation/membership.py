"""Which run and which thread a call belongs to: the precedence rules, one function each.

docs/design.md "Runs and turns": a call belongs to

1. the run of the caller's explicit ``run()`` context, if there is one;
2. else the run named by the SDK client's ``gen_ai.conversation.id`` (:func:`conversation_run`);
3. else, by continuity, the run of the conversation it continues (:func:`continued_run`);
4. else the run of the conversation it rewrites: an earlier message edited or removed,
   or the conversation compacted behind its first message (the second match of
   :meth:`.ThreadTable.match_content`);
5. else a new automatic run.

Rules 3 and 4 compare messages as sent (identity, then ``==``: :meth:`.ThreadTable.match`)
and, when that finds nothing to continue, by content, ``cache_control`` left out
(:meth:`.ThreadTable.match_content`). The change a rewrite makes (level ``messages``,
the first differing message) is what the comparison with the run's previous call finds
(:func:`.prefix.change_attributes`), as in an explicit run.

Its *thread* (the conversation state its messages extend, :mod:`.threads`) follows from
the match and the run (:func:`thread_for`). These functions read and change the
tracker's conversation state: call them with ``ThreadTable.lock`` held, as one step.
"""

from __future__ import annotations

from typing import Any

from .runs import ConversationRuns, Run
from .threads import Match, Thread, ThreadTable


def run_for(table: ThreadTable, match: Match, messages: list[Any], explicit: Run | None,
            conversation_id: str | None, conversations: ConversationRuns) -> tuple[Run, Match]:
    """The run of a call, by precedence (``explicit`` is the caller's ``run()``, if any),
    and the match its thread follows from: ``match`` (``table.match``: the messages
    compared as sent), else the second look by content (:meth:`.ThreadTable.match_content`)
    for rules 3 and 4 of an automatic call."""
    if explicit is not None:
        return explicit, match
    run = conversation_run(conversation_id, conversations)
    if run is None:
        run = continued_run(match, messages)
    if run is not None:
        return run, match
    if match.thread is not None or len(messages) < 2:
        # The same messages again after their response (another sample: a new run, as
        # rule 3 says), or one message: the second look would find nothing else.
        return Run(automatic=True), match
    by_content, rewritten = table.match_content(messages, match.fps)
    run = continued_run(by_content, messages)
    if run is not None:
        return run, by_content
    if rewritten is not None and rewritten.thread is not None:
        return rewritten.thread.run, rewritten  # rule 4
    return Run(automatic=True), by_content


def conversation_run(conversation_id: str | None, conversations: ConversationRuns) -> Run | None:
    """The run that a ``gen_ai.conversation.id`` names (its id is the run id), if one is set."""
    return conversations.get(conversation_id) if conversation_id else None


def continued_run(match: Match, messages: list[Any]) -> Run | None:
    """The run of the thread whose messages this call's messages extend, if the call
    continues it: with the thread's response next, with messages the thread has not
    seen, or while the thread still waits for its response. A call that re-sends a
    thread's exact messages after its response (a retry, another sample) starts over."""
    found = match.thread
    if found is None:
        return None
    if match.continues or match.shared < len(messages) or found.response is None:
        return found.run
    return None


def thread_for(match: Match, run: Run) -> Thread:
    """The thread that the call's messages extend in ``run``: the matched thread itself
    when it is that run's (brought to the call's messages by :func:`.threads.extend`,
    which cuts a rewritten thread back to the shared messages first); a copy of it for
    another run (its fingerprints reused, its state untouched); else a new thread."""
    found = match.thread
    if found is None:
        return Thread(run)
    if found.run is run:
        return found
    return found.copy_for(run)
