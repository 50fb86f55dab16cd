"""One Messages API call as the instrumentation sees it: request analysis, response recording.

:class:`Tracker` holds the process-wide state (threads, conversation runs, tools/system
caches). :meth:`Tracker.begin` turns a request body into a :class:`MessageCall` and
queues its analysis (run, turn, prefix and change attributes: :meth:`Tracker.analyze`)
to run while the request is in flight (:mod:`.inflight`); the call object joins it when
it needs it, and records the response (or the stream's events, or the error) on
whichever span describes the call: the SDK's own (anthropic 2.x native tracing) or ours
(:mod:`.wrappers`).
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any, NamedTuple

from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as at
from .attributes import sc
from .config import Settings
from .fingerprint import (
    EMPTY,
    cache_params,
    get,
    given,
    new_system_cache,
    new_tools_cache,
    params_hash,
)
from .forks import reset_in_child
from .guard import swallowed
from .inflight import INFLIGHT, Task
from .prefix import LastCall, change_attributes, prefix_attributes
from .response import StreamAccumulator, message_attributes, usage_attributes
from .runs import ConversationRuns, Run, current_run
from .threads import Response, Thread, ThreadTable, extend


def _messages_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return None  # an iterator: never consume what the SDK has yet to send


class Tracker:
    """Process-wide state of the instrumentation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.forget()
        reset_in_child(self.forget)

    def forget(self) -> None:
        """Start over: no threads, conversation runs or tools/system fingerprints.

        Run in a forked child: the analysis thread may have held the locks, halfway
        through an update, when the parent forked, and does not exist in the child.
        """
        self.threads = ThreadTable()
        self.conversations = ConversationRuns()
        self.tools_cache = new_tools_cache()
        self.system_cache = new_system_cache()

    def begin(self, body: dict[str, Any], conversation_id: str | None,
              stream: bool) -> MessageCall:
        """A call with the request attributes read straight off the body; the rest (run,
        turn, prefix, changes) from :meth:`analyze`, queued to run while the request is
        in flight (:mod:`.inflight`), or run here if ``analysis_thread`` is off."""
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
        call = MessageCall(self, attrs, stream)
        # The run context belongs to the caller: read here, not on the analysis thread.
        job = partial(self._analyze_call, call, body, conversation_id, current_run())
        if self.settings.analysis_thread:
            call.analysis = INFLIGHT.submit(job)
        else:
            call.analysis = task = Task(job)
            task.run()
        return call

    def _analyze_call(self, call: MessageCall, body: dict[str, Any],
                      conversation_id: str | None, explicit: Run | None) -> Analysis:
        analysis = self.analyze(body, conversation_id, explicit)
        span = call.early_span
        if span is not None:
            try:
                if span.is_recording():
                    span.set_attributes(analysis.attrs)
                    return analysis._replace(on_span=True)
            except Exception:
                swallowed("set the analysis attributes")
        return analysis

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

        with self.threads.lock:
            match = self.threads.match(messages) if messages else None
            found = match.thread if match is not None else None
            if explicit is not None:
                run = explicit
            elif conversation_id:
                run = self.conversations.get(conversation_id)
            elif found is not None and (match.continues or (
                    match.shared < len(messages) or found.response is None)):
                run = found.run
            else:
                run = Run(automatic=True)
            if found is not None and found.run is run and match.shared == len(found.messages):
                thread = found
            elif found is not None:
                thread = found.copy_for(run)
            else:
                thread = Thread(run)
            if messages:
                extend(thread, messages, match.shared if found is not None else 0,
                       match.fps if match is not None else {})
            self.threads.touch(thread)
            turn = run.next_turn()
            last = run.last
            current = LastCall(body.get("model"), tools, system, system_value, params, p_hash,
                               thread, thread.messages, thread.fps, len(thread.messages))
            run.last = current
            continues = (last is not None and match is not None and last.thread is found
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
            attrs.update(_content_attributes(body, messages, settings.max_content_bytes))
        return Analysis(run, thread, previous_id, attrs)


class Analysis(NamedTuple):
    """What :meth:`Tracker.analyze` found for one call."""

    run: Run
    thread: Thread
    previous_id: str | None  # the response this call follows, for diagnostics
    attrs: dict[str, Any]
    on_span: bool = False  # ``attrs`` are on the call's span already (``early_span``)


def _capped(value: Any, limit: int) -> str:
    from .fingerprint import compact_json

    text = compact_json(value)
    if len(text) > limit:
        text = text[:limit] + "...[truncated]"
    return text


def _content_attributes(body: dict[str, Any], messages: list[Any], limit: int) -> dict[str, Any]:
    out = {at.GEN_AI_INPUT_MESSAGES: _capped(messages, limit)}
    system = body.get("system")
    if given(system):
        out[at.GEN_AI_SYSTEM_INSTRUCTIONS] = _capped(system, limit)
    return out


class MessageCall:
    """A ``messages.create``-like call in flight.

    ``attrs`` holds the request attributes known so far; the analysis adds its own when
    joined (:meth:`ready`), which every method that needs them does first.
    """

    __slots__ = ("accumulator", "analysis", "attrs", "done", "early_span", "own_span",
                 "pending", "previous_id", "run", "span", "start_ns", "stream", "thread",
                 "tracker")

    def __init__(self, tracker: Tracker, attrs: dict[str, Any], stream: bool) -> None:
        self.tracker = tracker
        self.attrs = attrs
        self.analysis: Task | None = None
        # The span that will describe this call, known before the request is sent (the
        # SDK's, current while it sends; or ours): the analysis puts its attributes there
        # itself, off the caller's path.
        self.early_span: Span | None = None
        self.run: Run | None = None
        self.thread: Thread | None = None
        self.previous_id: str | None = None
        self.stream = stream
        self.span: Span | None = None
        self.own_span = False
        self.done = False
        self.accumulator: StreamAccumulator | None = None
        self.pending: dict[str, Any] | None = None  # request attributes not yet on the span
        self.start_ns = time.time_ns()

    @property
    def span_name(self) -> str:
        return f"chat {self.attrs.get(sc.GEN_AI_REQUEST_MODEL, '')}".rstrip()

    def ready(self) -> None:
        """Join the analysis: run, thread, previous response and the remaining attributes."""
        task = self.analysis
        if task is None:
            return
        self.analysis = None
        if not INFLIGHT.join(task) or task.result is None:
            return  # the analysis failed (logged): the call goes on without it
        self.run, self.thread, self.previous_id, extra, on_span = task.result
        self.attrs.update(extra)
        if self.span is not None and not on_span:  # the span has ``attrs`` as they were
            if self.pending is None:
                self.pending = extra
            else:
                self.pending.update(extra)

    def _set(self, attrs: dict[str, Any]) -> None:
        if self.analysis is not None:
            self.ready()
        span = self.span
        if span is not None and span.is_recording():
            pending = self.pending
            if pending is not None:
                # One set_attributes (one lock, one cleaning pass) for request + response.
                self.pending = None
                attrs = {**pending, **attrs}
            if attrs:
                span.set_attributes(attrs)

    def defer_attach(self, span: Span, sdk_keys: tuple[str, ...] = ()) -> None:
        """The SDK's own span describes this call: the request attributes go on it with
        the next :meth:`_set` (one ``set_attributes`` with the response's).

        ``sdk_keys``: request attributes that the SDK's own span already has, with the
        value we would set (see ``wrappers.sdk_sets``); left out.
        """
        self.span = span
        self.pending = {k: v for k, v in self.attrs.items() if k not in sdk_keys}

    def flush(self) -> None:
        """Put still-pending request attributes on the span."""
        if self.pending is not None or self.analysis is not None:
            self._set({})

    def record_message(self, message: Any, sdk_keys: frozenset[str] = frozenset()) -> None:
        """A complete response (model or decoded JSON).

        ``sdk_keys``: attributes that the SDK sets on the span from this same message
        after us (see ``wrappers.sdk_sets``); left out.
        """
        if self.done:
            return
        self.done = True
        attrs = message_attributes(message, sdk_keys)
        if sdk_keys:
            attrs = {k: v for k, v in attrs.items() if k not in sdk_keys}
        self._set(attrs)
        if self.tracker.settings.capture_content:
            from .fingerprint import compact_json

            content = get(message, "content")
            try:
                text = compact_json([{"role": "assistant", "content": content}])
                limit = self.tracker.settings.max_content_bytes
                self._set({at.GEN_AI_OUTPUT_MESSAGES: text[:limit]})
            except Exception:
                swallowed("output content")
        self._remember(get(message, "content"), get(message, "id"))

    def _remember(self, content: Any, response_id: Any) -> None:
        self.ready()
        if self.thread is None or self.run is None:
            return
        with self.tracker.threads.lock:
            self.thread.response = Response(content)
            if isinstance(response_id, str):
                self.thread.response_id = response_id
                self.run.last_response_id = response_id

    # --- streams ---
    def stream_event(self, event: Any) -> None:
        acc = self.accumulator
        if acc is None:
            acc = self.accumulator = StreamAccumulator()
        first = not acc.blocks
        changed = acc.feed(event)
        if first and acc.blocks:
            self._set({at.GEN_AI_TIME_TO_FIRST_CHUNK: (time.time_ns() - self.start_ns) / 1e9})
        if changed is not None:
            snapshot = acc.snapshot()
            attrs = usage_attributes(acc.usage)
            if changed == "message_start":
                # Output is final only from message_delta on (docs/facts.md §1).
                attrs.pop(sc.GEN_AI_USAGE_OUTPUT_TOKENS, None)
                snapshot.pop("stop_reason", None)
            else:
                attrs = message_attributes(snapshot)
            if changed == "message_start":
                attrs.update({k: v for k, v in message_attributes(snapshot).items()
                              if k in (sc.GEN_AI_RESPONSE_ID, sc.GEN_AI_RESPONSE_MODEL,
                                       sc.CACHE_MISS_REASON, sc.CACHE_MISSED_INPUT_TOKENS)})
            self._set(attrs)

    def stream_end(self, error: BaseException | None) -> None:
        acc = self.accumulator
        if acc is not None and not self.done:
            self.done = True
            self._remember(acc.content(), acc.message.get("id"))
        if self.own_span:
            if error is not None and isinstance(error, Exception):
                self.fail(error)
                return
            if acc is not None and acc.started and not acc.stopped and error is None:
                self.end_span(Status(StatusCode.ERROR, "stream ended before message_stop"))
                return
            self.end_span()

    # --- own span ---
    def fail(self, error: BaseException) -> None:
        if self.own_span and isinstance(error, Exception):
            self._set({at.ERROR_TYPE: _error_type(error)})
            self.end_span(Status(StatusCode.ERROR, type(error).__name__))
        elif self.own_span:
            self.end_span()

    def end_span(self, status: Status | None = None) -> None:
        span = self.span
        if span is not None and self.own_span:
            self.flush()
            self.own_span = False
            if span.is_recording():
                span.set_status(status or Status(StatusCode.OK))
            span.end()


def _error_type(error: BaseException) -> str:
    kind = getattr(error, "type", None)
    if isinstance(kind, str) and kind:
        return kind
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return str(status)
    return type(error).__name__


def decode_json(response: Any) -> Any:
    """The decoded JSON body of a read ``httpx`` response, or None."""
    try:
        if not getattr(response, "is_closed", False):
            return None
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            return None
        return json.loads(response.content)
    except Exception:
        swallowed("decode a raw response")
        return None
