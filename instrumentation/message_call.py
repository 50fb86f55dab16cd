"""A ``messages.create``-like call in flight: its request analysed, its response recorded.

The call records the response (a Message, decoded JSON, or a stream's events) on
whichever span describes it: the SDK's own (anthropic 2.x native tracing) or ours
(:mod:`.call`), and remembers the response in its conversation thread so that the
next call of the conversation is recognised as its continuation (:mod:`.threads`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as at
from .attributes import sc
from .call import NO_KEYS, CallSpan
from .content import output_attributes
from .fields import get
from .guard import swallowed
from .response import StreamAccumulator, message_attributes, usage_attributes
from .runs import Run
from .threads import Response, Thread

if TYPE_CHECKING:
    from .tracker import Analysis, Tracker

# On message_start, what is final already (the rest comes with message_delta).
_FINAL_AT_START = (sc.GEN_AI_RESPONSE_ID, sc.GEN_AI_RESPONSE_MODEL, sc.CACHE_MISS_REASON,
                   sc.CACHE_MISSED_INPUT_TOKENS)


class MessageCall(CallSpan):
    """A :class:`.call.Call` for ``POST /v1/messages``.

    ``attrs`` holds the request attributes, the analysis's included (:meth:`analysed`).
    """

    __slots__ = ("accumulator", "pending", "previous_id", "run", "start_ns", "stream", "thread",
                 "tracker")

    def __init__(self, tracker: Tracker, attrs: dict[str, Any], stream: bool) -> None:
        super().__init__(attrs)
        self.tracker = tracker
        self.run: Run | None = None
        self.thread: Thread | None = None
        self.previous_id: str | None = None
        self.stream = stream
        self.accumulator: StreamAccumulator | None = None
        self.pending: dict[str, Any] | None = None  # request attributes not yet on the span
        self.start_ns = time.time_ns()

    @property
    def span_name(self) -> str:
        return f"chat {self.attrs.get(sc.GEN_AI_REQUEST_MODEL, '')}".rstrip()

    def analysed(self, analysis: Analysis) -> None:
        """The request's analysis: its run, thread, previous response and attributes."""
        self.run, self.thread, self.previous_id = (analysis.run, analysis.thread,
                                                   analysis.previous_id)
        self.attrs.update(analysis.attrs)

    def _set(self, attrs: Mapping[str, Any]) -> None:
        span = self.span
        if span is not None and span.is_recording():
            pending = self.pending
            if pending is not None:
                # One set_attributes (one lock, one cleaning pass) for request + response.
                self.pending = None
                attrs = {**pending, **attrs}
            if attrs:
                span.set_attributes(attrs)

    def attach(self, span: Span, sdk_keys: tuple[str, ...] = ()) -> None:
        """The SDK's own span describes this call: the request attributes go on it with
        the next :meth:`_set` (one ``set_attributes`` with the response's).

        ``sdk_keys``: request attributes that the SDK's own span already has, with the
        value we would set (see ``native.sdk_sets``); left out.
        """
        self.span = span
        self.pending = {k: v for k, v in self.attrs.items() if k not in sdk_keys}

    def flush(self) -> None:
        if self.pending is not None:
            self._set({})

    def record_message(self, message: Any, sdk_keys: frozenset[str] = NO_KEYS) -> None:
        if self.done:
            return
        self.done = True
        attrs = message_attributes(message, sdk_keys)
        if sdk_keys:
            attrs = {k: v for k, v in attrs.items() if k not in sdk_keys}
        self._set(attrs)
        settings = self.tracker.settings
        if settings.capture_content:
            try:
                self._set(output_attributes(get(message, "content"), settings.max_content_bytes))
            except Exception:
                swallowed("output content")
        self._remember(get(message, "content"), get(message, "id"))

    def _remember(self, content: Any, response_id: Any) -> None:
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
        if changed is None:
            return
        snapshot = acc.snapshot()
        if changed == "message_start":
            # Output is final only from message_delta on (docs/facts.md §1).
            attrs = usage_attributes(acc.usage)
            attrs.pop(sc.GEN_AI_USAGE_OUTPUT_TOKENS, None)
            attrs.update({k: v for k, v in message_attributes(snapshot).items()
                          if k in _FINAL_AT_START})
        else:
            attrs = message_attributes(snapshot)
        self._set(attrs)

    def stream_end(self, error: BaseException | None) -> None:
        acc = self.accumulator
        if acc is not None and not self.done:
            self.done = True
            self._remember(acc.content(), acc.message.get("id"))
        if error is None and acc is not None and acc.started and not acc.stopped:
            self.end_span(Status(StatusCode.ERROR, "stream ended before message_stop"))
        else:
            super().stream_end(error)
