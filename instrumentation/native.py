"""The anthropic SDK's own tracing (2.x): whether it traces a call, and what it sets itself.

Where the SDK traces natively, tokentrail enriches the SDK's span instead of adding a
second one (:mod:`.hooks`), and leaves out the attributes that the SDK's span always
carries with the value tokentrail would set (:func:`sdk_sets`): setting them again is
redundant work (~0.5 µs each in the OpenTelemetry SDK).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from . import attributes as at
from .attributes import sc

SDK_CREATE = "anthropic.messages.create"
"""The SDK's span name for a ``POST /v1/messages`` call."""


def traces_natively(client: Any, options: Any) -> bool:
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


def span_name_of(result: Any) -> Any:
    """The SDK's span name for the call whose ``APICallResult`` is ``result``."""
    return getattr(getattr(result, "options", None), "span_name", None)


# Attributes that tokentrail and the SDK's native tracing (2.x) both set on the
# ``anthropic.messages.create`` span, with the same value whenever tokentrail sets one:
# constants, request fields (the SDK reads the same body at span start, before our
# hooks) and response fields (the SDK's ``record_response`` runs after our finish hook,
# from the same parsed Message, and overwrites ours). Each is skipped only if this SDK's
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

            table = _tracing.SPAN_ATTRIBUTES[SDK_CREATE]
            constants = {**getattr(_tracing, "CLIENT_ATTRIBUTES", {}), **table.get("constants", {})}
            request = [k for k, v in _SDK_CONSTANTS.items() if constants.get(k) == v]
            request += [k for k, v in _SDK_REQUEST.items() if table.get("request", {}).get(k) == v]
            response = [k for k, v in _SDK_RESPONSE.items()
                        if table.get("response", {}).get(k) == v]
        except Exception:
            request, response = [], []  # unknown SDK: set everything ourselves
        _sdk_sets = (tuple(request), frozenset(response))
    return _sdk_sets
