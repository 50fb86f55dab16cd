"""A call in flight and the span that describes it: the protocol every call implements.

The patch points (:mod:`.hooks`) handle two kinds of calls alike, through :class:`Call`:
:class:`.message_call.MessageCall` (``messages.create`` and everything that ends in the
same endpoint: runs, prefixes, usage) and :class:`.simple_call.SimpleCall`
(``count_tokens`` and batch creation: a few attributes). Both take their span lifecycle
from :class:`CallSpan`, so a call's span starts, fails and ends the same way whatever
the call:

- the span is either the SDK's own (anthropic 2.x traces natively: :meth:`Call.attach`,
  and the SDK ends it) or ours (:meth:`Call.start`; ``own_span`` is true until ours ends);
- ours ends exactly once: with the response (:meth:`Call.end_span`), the error
  (:meth:`Call.fail`: ``error.type`` as the SDK's own spans spell it) or the end of a
  stream (:meth:`Call.stream_end`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from . import attributes as at

NO_KEYS: frozenset[str] = frozenset()


class Call(Protocol):
    """What the patch points need of a call, from its request to its span's end."""

    attrs: dict[str, Any]
    """Request attributes known so far."""
    span: Span | None
    own_span: bool
    """Whether ``span`` is ours and still open (the SDK ends its own)."""
    done: bool
    """Whether the response has been recorded."""

    @property
    def span_name(self) -> str:
        """The name of our span, when the SDK does not trace the call."""

    def start(self, tracer: Tracer) -> object:
        """Start our own span and make it current; returns the context token to detach."""

    def attach(self, span: Span, sdk_keys: tuple[str, ...] = ()) -> None:
        """The SDK's own span describes the call (``sdk_keys``: request attributes it
        already has, with our values)."""

    def flush(self) -> None:
        """Put request attributes still held back on the span."""

    def record_message(self, message: Any, sdk_keys: frozenset[str] = NO_KEYS) -> None:
        """A complete response (model or decoded JSON); ``sdk_keys``: attributes that the
        SDK sets on its span from the same message, left out."""

    def stream_event(self, event: Any) -> None:
        """One event of a streamed response."""

    def stream_end(self, error: BaseException | None) -> None:
        """The stream ended (exhausted, closed, or raised ``error``)."""

    def fail(self, error: BaseException) -> None:
        """The SDK raised ``error``: our span ends with it."""

    def end_span(self, status: Status | None = None) -> None:
        """End our span (OK unless ``status`` says otherwise); no-op on the SDK's."""


class CallSpan:
    """The span lifecycle that every :class:`Call` shares; subclasses add what they record."""

    __slots__ = ("attrs", "done", "own_span", "span")

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs
        self.span: Span | None = None
        self.own_span = False
        self.done = False

    @property
    def span_name(self) -> str:
        raise NotImplementedError

    def _set(self, attrs: Mapping[str, Any]) -> None:
        span = self.span
        if span is not None and span.is_recording():
            span.set_attributes(attrs)

    def start(self, tracer: Tracer) -> object:
        self.span = tracer.start_span(self.span_name, kind=SpanKind.CLIENT, attributes=self.attrs)
        self.own_span = True
        return otel_context.attach(trace.set_span_in_context(self.span))

    def attach(self, span: Span, sdk_keys: tuple[str, ...] = ()) -> None:
        self.span = span
        self._set({k: v for k, v in self.attrs.items() if k not in sdk_keys})

    def flush(self) -> None:
        pass

    def stream_event(self, event: Any) -> None:
        pass

    def stream_end(self, error: BaseException | None) -> None:
        if isinstance(error, Exception):
            self.fail(error)
        else:
            self.end_span()

    def fail(self, error: BaseException) -> None:
        if not self.own_span:
            return
        if isinstance(error, Exception):
            self._set({at.ERROR_TYPE: error_type(error)})
            self.end_span(Status(StatusCode.ERROR, type(error).__name__))
        else:  # the caller stopped (KeyboardInterrupt, GeneratorExit): not the call's error
            self.end_span()

    def end_span(self, status: Status | None = None) -> None:
        span = self.span
        if span is None or not self.own_span:
            return
        self.flush()
        self.own_span = False
        if span.is_recording():
            span.set_status(status or Status(StatusCode.OK))
        span.end()


def error_type(error: BaseException) -> str:
    """``error.type`` as the SDK's native spans spell it: the API's error type
    (``rate_limit_error``), else the HTTP status, else the exception's class."""
    kind = getattr(error, "type", None)
    if isinstance(kind, str) and kind:
        return kind
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return str(status)
    return type(error).__name__
