"""The patch points: ``SyncAPIClient.request`` / ``AsyncAPIClient.request`` of the anthropic SDK.

Every SDK method (``messages.create``, ``messages.stream``, ``count_tokens``, batches,
``beta.messages``, ``with_raw_response``) and every client class (``Anthropic``,
``AsyncAnthropic``, Bedrock, Vertex, ...) ends in one of these two methods, so one
wrapper per client kind covers them all. Requests that are not Messages endpoints pass
straight through (:mod:`.endpoints`).

Where the SDK traces natively (2.x, a tracer configured), the SDK's span is enriched:
``anthropic._base_client.finish_api_call_span`` is wrapped so the request and response
attributes land on that span before it ends, and no second span is made
(:mod:`.native`). Elsewhere (0.x, or 2.x with its tracing off) the call starts its own
span (:mod:`.call`).

Every hook is guarded: whatever happens in here, the application gets exactly what the
SDK returned or raised (:mod:`.guard`).
"""

from __future__ import annotations

import contextvars
import weakref
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Tracer

from . import attributes as at
from .attributes import sc
from .batches import observe_results
from .call import NO_KEYS, Call
from .endpoints import BATCH_RESULTS, COUNT, CREATE, classify
from .fields import given
from .guard import safe, swallowed
from .message_call import MessageCall
from .native import SDK_CREATE, sdk_sets, span_name_of, traces_natively
from .price_factors import request_factors
from .response import decode_json
from .runs import current_run
from .simple_call import SimpleCall
from .streams import tap
from .tracker import Tracker

_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar("tokentrail_call",
                                                                   default=None)
"""The call whose ``request`` is running, for the hooks that the SDK calls inside it."""


class Hooks:
    """The wrappers, bound to one tracker and one tracer (one per ``instrument()``)."""

    def __init__(self, tracker: Tracker, tracer: Tracer) -> None:
        self.tracker = tracker
        self.tracer = tracer

    # --- request analysis ---
    @safe
    def _prepare(self, client: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> tuple[str, Call | None, bool] | None:
        """(endpoint kind, call, whether the SDK traces it) of a Messages request."""
        options = args[1] if len(args) > 1 else kwargs.get("options")
        kind = classify(options)
        if kind is None:
            return None
        if kind == BATCH_RESULTS:
            return kind, None, False
        body = getattr(options, "json_data", None)
        body = body if isinstance(body, dict) else {}
        stream = bool(kwargs.get("stream", False))
        native = traces_natively(client, options)
        if kind == CREATE:
            otel = getattr(client, "_otel", None)
            conversation = getattr(otel, "conversation_id", None)
            call = self.tracker.begin(body, conversation if isinstance(conversation, str)
                                      else None, stream, _factors(options, client))
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
        options.json_data = {**body, "diagnostics": {"previous_message_id": call.previous_id}}
        if call.previous_id:
            call.attrs[at.CACHE_PREVIOUS_MESSAGE_ID] = call.previous_id

    def _start(self, call: Call) -> object | None:
        """Start our own span for a call the SDK does not trace; returns a context token."""
        try:
            return call.start(self.tracer)
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

    def finish_hook(self, wrapped: Any, instance: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        """Wraps the SDK's ``finish_api_call_span(client, span, result)`` (2.x)."""
        try:
            call = _CALL.get()
            if call is not None and call.span is None and len(args) >= 3:
                result = args[2]
                sdk = isinstance(call, MessageCall) and span_name_of(result) == SDK_CREATE
                call.attach(args[1], sdk_sets()[0] if sdk else ())
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
    def _returned(self, kind: str, call: Call | None, result: Any) -> Any:
        if call is not None and call.done and not call.own_span:
            return result  # recorded on the SDK's span already (finish_hook)
        try:
            if kind == BATCH_RESULTS:
                observe_results(result, self.tracer)
            elif call is not None:
                self._record_data(call, result, native=False)
        except Exception:
            swallowed("record a response")
        return result

    def _record_data(self, call: Call, data: Any, *, native: bool, sdk: bool = False) -> None:
        if hasattr(type(data), "model_fields"):
            # A parsed Message (pydantic): not a stream nor a raw response. Checked first
            # because a missing attribute on a model costs an exception in pydantic.
            # With ``sdk``, the SDK records this very Message on its span right after us.
            call.record_message(data, sdk_sets()[1] if sdk else NO_KEYS)
            if not native:
                call.end_span()
            return
        if hasattr(data, "_iterator") and hasattr(data, "response"):
            if not native:  # a stream: the SDK's own span ends when it is read (2.x)
                tap(data, call.stream_event, call.stream_end)
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

    def _defer_raw(self, call: Call, raw: Any) -> None:
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


def _factors(options: Any, client: Any) -> dict[str, Any]:
    """:func:`.price_factors.request_factors`, or none if reading them fails (logged)."""
    try:
        return request_factors(options, client)
    except Exception:
        swallowed("read the request's price factors")
        return {}


def _detach(token: Any) -> None:
    try:
        otel_context.detach(token)
    except Exception:
        swallowed("detach context")


def _fail(call: Call, error: BaseException) -> None:
    try:
        call.fail(error)
    except Exception:
        swallowed("record an error")
