"""The process-wide state of the instrumentation, and the analysis of each request.

:class:`Tracker` holds the conversation threads, the runs named by conversation ids and
the tools/system fingerprint caches. :meth:`Tracker.begin` turns a request body into a
:class:`.message_call.MessageCall`: the attributes read straight off the body, and the
analysis (:meth:`Tracker.analyze`: run, turn, prefix and change attributes), in the
caller, before the request is sent (bench/README.md, "Where the analysis runs").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from . import attributes as at
from .attributes import sc
from .config import Settings
from .content import input_attributes
from .fields import given
from .fingerprint import EMPTY, cache_params, new_system_cache, new_tools_cache, params_hash
from .forks import reset_in_child
from .guard import swallowed
from .membership import run_for, thread_for
from .message_call import MessageCall
from .prefix import LastCall, change_attributes, prefix_attributes
from .runs import ConversationRuns, Run, current_run
from .threads import Match, Thread, ThreadTable, extend

NO_MATCH = Match(None, 0, False, {})


def _messages_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return None  # an iterator: never consume what the SDK has yet to send


class Analysis(NamedTuple):
    """What :meth:`Tracker.analyze` found for one call."""

    run: Run
    thread: Thread
    previous_id: str | None  # the response this call follows, for diagnostics
    attrs: dict[str, Any]


class Tracker:
    """Process-wide state of the instrumentation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.forget()
        reset_in_child(self.forget)

    def forget(self) -> None:
        """Start over: no threads, conversation runs or tools/system fingerprints.

        Run in a forked child: another thread of the application may have held the
        locks, halfway through an update, when the parent forked, and does not exist in
        the child.
        """
        self.threads = ThreadTable()
        self.conversations = ConversationRuns()
        self.tools_cache = new_tools_cache()
        self.system_cache = new_system_cache()

    def begin(self, body: dict[str, Any], conversation_id: str | None, stream: bool,
              factors: Mapping[str, Any] | None = None) -> MessageCall:
        """A call with the request attributes read straight off the body (and
        ``factors``: what its price depends on, :mod:`.price_factors`) and the rest (run,
        turn, prefix, changes) from :meth:`analyze`. If the analysis fails (logged), the
        call goes on without it."""
        attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: "chat",
                                 sc.GEN_AI_PROVIDER_NAME: "anthropic"}
        model = body.get("model")
        if isinstance(model, str):
            attrs[sc.GEN_AI_REQUEST_MODEL] = model
        max_tokens = body.get("max_tokens")
        if type(max_tokens) is int:
            attrs[at.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        if stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        if conversation_id:
            attrs[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        if factors:
            attrs.update(factors)
        call = MessageCall(self, attrs, stream)
        try:
            call.analysed(self.analyze(body, conversation_id, current_run()))
        except Exception:
            swallowed("analyse a request")
        return call

    def analyze(self, body: dict[str, Any], conversation_id: str | None,
                explicit: Run | None) -> Analysis:
        """Match the conversation, fingerprint what is new, and describe the prefix."""
        settings = self.settings
        tools_value = body.get("tools")
        tools_value = tools_value if given(tools_value) else None
        system_value = body.get("system")
        system_value = system_value if given(system_value) else None
        tools = self.tools_cache.get(tools_value) if tools_value else EMPTY
        system = self.system_cache.get(system_value) if system_value else EMPTY
        params = cache_params(body, tools_value)
        p_hash = params_hash(params)
        messages = _messages_list(body.get("messages")) or []

        # One step under the lock: which run and thread, the thread brought up to this
        # call's messages, the run's turn and previous call (membership.py).
        with self.threads.lock:
            match = self.threads.match(messages) if messages else NO_MATCH
            run, match = run_for(self.threads, match, messages, explicit, conversation_id,
                                 self.conversations)
            found = match.thread
            thread = thread_for(match, run)
            if messages:
                extend(thread, messages, match.shared, match.fps, match.relink)
            self.threads.touch(thread)
            turn = run.next_turn()
            last = run.last
            current = LastCall(body.get("model"), tools, system, system_value, params, p_hash,
                               thread, thread.messages, thread.fps, len(thread.messages))
            run.last = current
            continues = (last is not None and found is not None and last.thread is found
                         and match.shared == last.count)
            previous_id = thread.response_id if found is thread else run.last_response_id
            thread.response = None

        attrs: dict[str, Any] = {sc.RUN_ID: run.id, sc.TURN: turn}
        if run.name:
            attrs[sc.RUN_NAME] = run.name
        if run.parent_id:
            attrs[sc.RUN_PARENT_ID] = run.parent_id
        if run.automatic:
            attrs[at.RUN_AUTOMATIC] = True
        for key, value in run.attributes.items():
            if isinstance(value, (str, bool, int, float)):
                attrs[at.RUN_ATTRIBUTE_PREFIX + key] = value
        automatic = body.get("cache_control")
        attrs.update(prefix_attributes(tools, system, thread, p_hash,
                                       automatic if given(automatic) else None, settings.window))
        if last is not None:
            attrs.update(change_attributes(last, current, continues))
        if settings.capture_content:
            attrs.update(input_attributes(body, messages, settings.max_content_bytes))
        return Analysis(run, thread, previous_id, attrs)
