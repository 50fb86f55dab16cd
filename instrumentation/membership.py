"""Which run and which thread a call belongs to: the precedence rules, one function each.

docs/design.md "Runs and turns": a call belongs to

1. the run of the caller's explicit ``run()`` context, if there is one;
2. else the run named by the SDK client's ``gen_ai.conversation.id`` (:func:`conversation_run`);
3. else, by continuity, the run of the conversation it continues (:func:`continued_run`);
4. else a new automatic run.

Its *thread* (the conversation state its messages extend, :mod:`.threads`) follows from
the match and the run (:func:`thread_for`). These functions read and change the
tracker's conversation state: call them with ``ThreadTable.lock`` held, as one step.
"""

from __future__ import annotations

from typing import Any

from .runs import ConversationRuns, Run
from .threads import Match, Thread


def run_for(match: Match, messages: list[Any], explicit: Run | None,
            conversation_id: str | None, conversations: ConversationRuns) -> Run:
    """The run of a call, by precedence; ``explicit`` is the caller's ``run()``, if any."""
    if explicit is not None:
        return explicit
    run = conversation_run(conversation_id, conversations)
    if run is None:
        run = continued_run(match, messages)
    return run if run is not None else Run(automatic=True)


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
    when it is that run's and the call takes all of it; a copy of it for another run
    (its fingerprints reused, its state untouched); else a new thread."""
    found = match.thread
    if found is None:
        return Thread(run)
    if found.run is run and match.shared == len(found.messages):
        return found
    return found.copy_for(run)
