"""The patch points: ``SyncAPIClient.request`` / ``AsyncAPIClient.request`` of the anthropic SDK.

Every SDK method (``messages.create``, ``messages.stream``, ``count_tokens``, batches,
``beta.messages``, ``with_raw_response``) and every client class (``Anthropic``,
``AsyncAnthropic``, Bedrock, Vertex, ...) ends in one of these two methods, so one
wrapper per client kind covers them all. Requests that are not Messages endpoints pass
straight through after one string check. ``BaseClient._build_request`` is wrapped too:
once the request is built, the caller soon waits for the network, and the request's
analysis runs meanwhile (:mod:`.inflight`).

Where the SDK traces natively (2.x, a tracer configured), the SDK's span is enriched:
``anthropic._base_client.finish_api_call_span`` is wrapped so the request and response
attributes land on that span before it ends, and no second span is made. Elsewhere
(0.x, or 2.x with its tracing off) an equivalent span ``chat {model}`` is started here.

Every hook is guarded: whatever happens in here, the application gets exactly what the
SDK returned or raised.
"""

from __future__ import annotations

import contextvars
import time
import weakref
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from . import attributes as at
from .attributes import sc
from .calls import MessageCall, Tracker, decode_json
from .fingerprint import get, given
from .guard import safe, swallowed
from .inflight import INFLIGHT
from .response import message_attributes
from .runs import current_run

_CALL: contextvars.ContextVar[Any] = contextvars.ContextVar("tokentrail_call", default=None)

CREATE, COUNT, BATCH_CREATE, BATCH_RESULTS = "create", "count_tokens", "batch_create", "results"
SPAN_NAMES = {COUNT: "anthropic.messages.count_tokens",
              BATCH_CREATE: "anthropic.messages.batches.create",
              BATCH_RESULTS: "anthropic.messages.batches.results"}


def classify(options: Any) -> str | None:
    url = getattr(options, "url", None)
    if not isinstance(url, str) or "/messages" not in url:
        return None
    path = url.split("?", 1)[0]
    method = str(getattr(options, "method", "")).lower()
    if path.endswith("/v1/messages"):
        return CREATE if method == "post" else None
    if path.endswith("/v1/messages/count_tokens"):
        return COUNT
    if path.endswith("/v1/messages/batches"):
        return BATCH_CREATE if method == "post" else None
    if path.endswith("/results") and "/messages/batches/" in path:
        return BATCH_RESULTS
    return None


def _native(client: Any, options: Any) -> bool:
    """Whether the SDK itself will put a span around this call (anthropic 2.x)."""
    if getattr(options, "span_name", None) is None:
        return False
    try:
        tracer = getattr(client, "_tracer", None)
    except Exception:
        return False
    if tracer is None or isinstance(tracer, trace.NoOpTracer):
        return False
    if isinstance(tracer, trace.ProxyTracer):
        # No provider of its own: the SDK's spans record only once a global one is set.
        return not isinstance(trace.get_tracer_provider(),
                              (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    return True


class SimpleCall:
    """count_tokens and batch creation: a few attributes, no run state."""

    __slots__ = ("attrs", "done", "kind", "own_span", "span")

    def __init__(self, kind: str, attrs: dict[str, Any]) -> None:
        self.kind = kind
        self.attrs = attrs
        self.span: Any = None
        self.own_span = False
        self.done = False

    @property
    def span_name(self) -> str:
        return SPAN_NAMES[self.kind]

    def _set(self, attrs: dict[str, Any]) -> None:
        if self.span is not None and self.span.is_recording():
            self.span.set_attributes(attrs)

    def attach(self, span: Any) -> None:
        self.span = span
        self._set(self.attrs)

    def defer_attach(self, span: Any, sdk_keys: Any = ()) -> None:
        self.attach(span)

    def flush(self) -> None:
        pass

    def record_message(self, data: Any) -> None:
        if self.done:
            return
        self.done = True
        if self.kind == COUNT:
            tokens = get(data, "input_tokens")
            if type(tokens) is int:
                self._set({at.ANTHROPIC_COUNT_TOKENS_INPUT: tokens})
        elif self.kind == BATCH_CREATE:
            batch_id = get(data, "id")
            if isinstance(batch_id, str):
                self._set({at.BATCH_ID: batch_id, at.ANTHROPIC_BATCH_ID: batch_id})

    def fail(self, error: BaseException) -> None:
        if self.own_span:
            if isinstance(error, Exception):
                self._set({at.ERROR_TYPE: type(error).__name__})
                self.end_span(Status(StatusCode.ERROR, type(error).__name__))
            else:
                self.end_span()

    def end_span(self, status: Status | None = None) -> None:
        if self.span is not None and self.own_span:
            self.own_span = False
            if self.span.is_recording():
                self.span.set_status(status or Status(StatusCode.OK))
            self.span.end()

    def stream_event(self, event: Any) -> None:
        pass

    def stream_end(self, error: BaseException | None) -> None:
        self.end_span()


_SDK_CREATE = "anthropic.messages.create"
# Attributes that tokentrail and the SDK's native tracing (2.x) both set on the
# ``anthropic.messages.create`` span, with the same value whenever tokentrail sets one:
# constants, request fields (the SDK reads the same body at span start, before our
# hooks) and response fields (the SDK's ``record_response`` runs after our finish hook,
# from the same parsed Message, and overwrites ours). On that span, ours are redundant
# work (~0.5 us each in the OTel SDK). Each is skipped only if this SDK's
# ``anthropic._tracing`` declares it with exactly the source below.
_SDK_CONSTANTS = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic"}
_SDK_REQUEST = {sc.GEN_AI_REQUEST_MODEL: (("model",), "string"),
                at.GEN_AI_REQUEST_MAX_TOKENS: (("max_tokens",), "integer")}
_SDK_RESPONSE = {
    sc.GEN_AI_RESPONSE_ID: (("id",), "string"),
    sc.GEN_AI_RESPONSE_MODEL: (("model",), "string"),
    sc.ANTHROPIC_USAGE_CACHE_WRITE: (("usage", "cache_creation_input_tokens"), "integer"),
    sc.GEN_AI_USAGE_CACHE_READ: (("usage", "cache_read_input_tokens"), "integer"),
    sc.ANTHROPIC_USAGE_WRITE_5M: (("usage", "cache_creation", "ephemeral_5m_input_tokens"),
                                  "integer"),
    sc.ANTHROPIC_USAGE_WRITE_1H: (("usage", "cache_creation", "ephemeral_1h_input_tokens"),
                                  "integer"),
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: (("usage", "output_tokens"), "integer"),
    at.GEN_AI_USAGE_REASONING_OUTPUT: (("usage", "output_tokens_details", "thinking_tokens"),
                                       "integer"),
    at.ANTHROPIC_STOP_REASON: (("stop_reason",), "string"),
}
_sdk_sets: tuple[tuple[str, ...], frozenset[str]] | None = None


def sdk_sets() -> tuple[tuple[str, ...], frozenset[str]]:
    """(request, response) attributes that this SDK's native span always has as we would."""
    global _sdk_sets
    if _sdk_sets is None:
        request: list[str] = []
        response: list[str] = []
        try:
            from anthropic import _tracing

            table = _tracing.SPAN_ATTRIBUTES[_SDK_CREATE]
            constants = {**getattr(_tracing, "CLIENT_ATTRIBUTES", {}), **table.get("constants", {})}
            request = [k for k, v in _SDK_CONSTANTS.items() if constants.get(k) == v]
            request += [k for k, v in _SDK_REQUEST.items() if table.get("request", {}).get(k) == v]
            response = [k for k, v in _SDK_RESPONSE.items()
                        if table.get("response", {}).get(k) == v]
        except Exception:
            request, response = [], []  # unknown SDK: set everything ourselves
        _sdk_sets = (tuple(request), frozenset(response))
    return _sdk_sets


def _span_name(result: Any) -> Any:
    return getattr(getattr(result, "options", None), "span_name", None)


class Hooks:
    """The wrappers, bound to one tracker and one tracer (one per ``instrument()``)."""

    def __init__(self, tracker: Tracker, tracer: Tracer) -> None:
        self.tracker = tracker
        self.tracer = tracer

    # --- request analysis ---
    @safe
    def _prepare(self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        options = args[1] if len(args) > 1 else kwargs.get("options")
        kind = classify(options)
        if kind is None:
            return None
        if kind == BATCH_RESULTS:
            return kind, None, False
        body = getattr(options, "json_data", None)
        body = body if isinstance(body, dict) else {}
        stream = bool(kwargs.get("stream", False))
        native = _native(client, options)
        if kind == CREATE:
            otel = getattr(client, "_otel", None)
            conversation = getattr(otel, "conversation_id", None)
            call: Any = self.tracker.begin(body, conversation if isinstance(conversation, str)
                                           else None, stream)
            if self.tracker.settings.cache_diagnostics:
                self._add_diagnostics(options, body, call)
            return kind, call, native
        attrs: dict[str, Any] = {sc.GEN_AI_PROVIDER_NAME: "anthropic"}
        if kind == COUNT:
            model = body.get("model")
            if isinstance(model, str):
                attrs[sc.GEN_AI_REQUEST_MODEL] = model
        else:
            requests = body.get("requests")
            if isinstance(requests, (list, tuple)):
                attrs[at.BATCH_REQUEST_COUNT] = len(requests)
        run = current_run()
        if run is not None:
            attrs[sc.RUN_ID] = run.id
        return kind, SimpleCall(kind, attrs), native

    def _add_diagnostics(self, options: Any, body: dict[str, Any], call: MessageCall) -> None:
        extra = getattr(options, "extra_json", None)
        if given(body.get("diagnostics")) or (isinstance(extra, dict) and "diagnostics" in extra):
            return
        call.ready()  # the previous response is known once the thread is matched
        options.json_data = {**body, "diagnostics": {"previous_message_id": call.previous_id}}
        if call.previous_id:
            call.attrs[at.CACHE_PREVIOUS_MESSAGE_ID] = call.previous_id

    def _start(self, call: Any) -> Any:
        """Start our own span for a call the SDK does not trace; returns a context token."""
        try:
            call.span = self.tracer.start_span(call.span_name, kind=SpanKind.CLIENT,
                                               attributes=call.attrs)
            call.own_span = True
            return otel_context.attach(trace.set_span_in_context(call.span))
        except Exception:
            swallowed("start a span")
            return None

    # --- the wrappers ---
    def sync_request(self, wrapped: Any, instance: Any, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> Any:
        prepared = self._prepare(instance, args, kwargs)
        if prepared is None:
            return wrapped(*args, **kwargs)
        kind, call, native = prepared
        if call is None:
            return self._returned(kind, None, wrapped(*args, **kwargs))
        token = self._start(call) if not native else None
        call_token = _CALL.set(call)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            _fail(call, error)
            raise
        finally:
            _CALL.reset(call_token)
            if token is not None:
                _detach(token)
        return self._returned(kind, call, result)

    async def async_request(self, wrapped: Any, instance: Any, args: tuple[Any, ...],
                            kwargs: dict[str, Any]) -> Any:
        prepared = self._prepare(instance, args, kwargs)
        if prepared is None:
            return await wrapped(*args, **kwargs)
        kind, call, native = prepared
        if call is None:
            return self._returned(kind, None, await wrapped(*args, **kwargs))
        token = self._start(call) if not native else None
        call_token = _CALL.set(call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as error:
            _fail(call, error)
            raise
        finally:
            _CALL.reset(call_token)
            if token is not None:
                _detach(token)
        return self._returned(kind, call, result)

    def request_built(self, wrapped: Any, instance: Any, args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> Any:
        """Wraps ``BaseClient._build_request`` (every client class, sync and async, all
        generations): the body is encoded, what is left before the network wait is
        signing or auth headers (``_prepare_request``) and the send itself, so queued
        analyses can run now."""
        result = wrapped(*args, **kwargs)
        _sending()
        return result

    def finish_hook(self, wrapped: Any, instance: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        """Wraps the SDK's ``finish_api_call_span(client, span, result)`` (2.x)."""
        try:
            call = _CALL.get()
            if call is not None and call.span is None and len(args) >= 3:
                result = args[2]
                sdk = isinstance(call, MessageCall) and _span_name(result) == _SDK_CREATE
                call.defer_attach(args[1], sdk_sets()[0] if sdk else ())
                try:
                    if getattr(result, "error", None) is None:
                        self._record_data(call, getattr(result, "data", None), native=True,
                                          sdk=sdk)
                finally:
                    call.flush()
        except Exception:
            swallowed("enrich the SDK span")
        return wrapped(*args, **kwargs)

    # --- results ---
    def _returned(self, kind: str, call: Any, result: Any) -> Any:
        if call is not None and call.done and not call.own_span:
            return result  # recorded on the SDK's span already (finish_hook)
        try:
            if kind == BATCH_RESULTS:
                self._observe_results(result)
            else:
                self._record_data(call, result, native=False)
        except Exception:
            swallowed("record a response")
        return result

    def _record_data(self, call: Any, data: Any, *, native: bool, sdk: bool = False) -> None:
        if hasattr(type(data), "model_fields"):
            # A parsed Message (pydantic): not a stream nor a raw response. Checked first
            # because a missing attribute on a model costs an exception in pydantic.
            if sdk:
                # The SDK records this very Message on its span right after us.
                call.record_message(data, sdk_sets()[1])
            else:
                call.record_message(data)
            if not native:
                call.end_span()
            return
        if hasattr(data, "_iterator") and hasattr(data, "response"):
            if not native:
                _observe_stream(data, call)
            return
        http_response = getattr(data, "http_response", None)
        if http_response is not None and hasattr(data, "parse"):
            body = decode_json(http_response)
            if isinstance(body, dict):
                call.record_message(body)
                if not native:
                    call.end_span()
            elif not native:
                self._defer_raw(call, data)
            return
        if data is None:
            return
        call.record_message(data)
        if not native:
            call.end_span()

    def _defer_raw(self, call: Any, raw: Any) -> None:
        """A raw response whose body is unread: record when the application parses it."""
        original = raw.parse

        def parse(*args: Any, **kwargs: Any) -> Any:
            parsed = original(*args, **kwargs)
            try:
                self._record_data(call, parsed, native=False)
            except Exception:
                swallowed("record a parsed raw response")
            return parsed

        try:
            raw.parse = parse
            weakref.finalize(raw, call.end_span)
        except Exception:
            call.end_span()

    # --- batches: one span per item result, as read ---
    def _observe_results(self, decoder: Any) -> None:
        if not hasattr(decoder, "_iterator"):
            return
        url = str(getattr(getattr(decoder, "http_response", None), "url", ""))
        parts = url.split("?", 1)[0].rstrip("/").split("/")
        batch_id = parts[-2] if len(parts) >= 2 else ""
        iterator = decoder._iterator
        if hasattr(iterator, "__anext__"):
            decoder._iterator = _async_items(iterator, self, batch_id)
        else:
            decoder._iterator = _sync_items(iterator, self, batch_id)

    def batch_item(self, item: Any, batch_id: str, index: int) -> None:
        result = get(item, "result")
        if get(result, "type") != "succeeded":
            return
        message = get(result, "message")
        attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic",
                 sc.IS_BATCH: True, at.BATCH_ID: batch_id}
        custom_id = get(item, "custom_id")
        if isinstance(custom_id, str):
            attrs[at.BATCH_CUSTOM_ID] = custom_id
        run = current_run()
        attrs[sc.RUN_ID] = run.id if run is not None else batch_id
        attrs[sc.TURN] = index
        attrs.update(message_attributes(message))
        model = get(message, "model")
        if isinstance(model, str):
            attrs[sc.GEN_AI_REQUEST_MODEL] = model
        now = time.time_ns()
        span = self.tracer.start_span(f"chat {model}" if isinstance(model, str) else "chat",
                                      kind=SpanKind.CLIENT, attributes=attrs, start_time=now)
        span.set_status(Status(StatusCode.OK))
        span.end(end_time=now)


def _sending() -> None:
    """The request is built: hand the call's span to its analysis, then wake the thread."""
    try:
        call = _CALL.get()
        if isinstance(call, MessageCall) and call.analysis is not None:
            if call.own_span:
                call.early_span = call.span
            else:  # the SDK's span is current while it sends (``trace.use_span``)
                span = trace.get_current_span()
                if getattr(span, "name", None) == _SDK_CREATE:
                    call.early_span = span
        INFLIGHT.wake()
    except Exception:
        swallowed("hand over the analysis")


def _detach(token: Any) -> None:
    try:
        otel_context.detach(token)
    except Exception:
        swallowed("detach context")


def _fail(call: Any, error: BaseException) -> None:
    try:
        call.fail(error)
    except Exception:
        swallowed("record an error")


def _observe_stream(stream: Any, call: Any) -> None:
    iterator = stream._iterator
    if hasattr(iterator, "__anext__"):
        stream._iterator = _async_events(iterator, call)
    else:
        stream._iterator = _sync_events(iterator, call)


def _sync_events(iterator: Any, call: Any) -> Any:
    error: BaseException | None = None
    try:
        for event in iterator:
            try:
                call.stream_event(event)
            except Exception:
                swallowed("read a stream event")
            yield event
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            call.stream_end(error)
        except Exception:
            swallowed("end a stream")


async def _async_events(iterator: Any, call: Any) -> Any:
    error: BaseException | None = None
    try:
        async for event in iterator:
            try:
                call.stream_event(event)
            except Exception:
                swallowed("read a stream event")
            yield event
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            call.stream_end(error)
        except Exception:
            swallowed("end a stream")


def _sync_items(iterator: Any, hooks: Hooks, batch_id: str) -> Any:
    for index, item in enumerate(iterator, 1):
        try:
            hooks.batch_item(item, batch_id, index)
        except Exception:
            swallowed("record a batch item")
        yield item


async def _async_items(iterator: Any, hooks: Hooks, batch_id: str) -> Any:
    index = 0
    async for item in iterator:
        index += 1
        try:
            hooks.batch_item(item, batch_id, index)
        except Exception:
            swallowed("record a batch item")
        yield item
