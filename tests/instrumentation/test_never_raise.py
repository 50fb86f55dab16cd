"""Odd responses and broken streams: the application sees exactly what it would see
without tokentrail (same value, or the same exception).

A seeded random generator (reproducible, no extra dependency) mutates a valid Messages
response and a valid event stream: fields dropped, wrong types, negative or boolean
counts, unknown event types, events out of order, streams cut in the middle. Each case
runs through the real SDK twice over an in-process transport, uninstrumented and
instrumented, and the outcomes are compared. Real cut streams come from the emulator's
fault injection. Every case runs through both paths tokentrail has (enriching the
SDK's own span, the default on 2.x; its own span, on 0.x or with the SDK's tracing
off), and checks that the instrumented run did take that path.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from tests.emulator.helpers import API_KEY
from tokentrail import semconv as sc
from tokentrail.instrumentation import AnthropicInstrumentor

from .conftest import NATIVE, SDK_SCOPE

# Odd values make pydantic warn when the SDK dumps them; the warning is the same either way.
pytestmark = [pytest.mark.sdk, pytest.mark.filterwarnings("ignore::UserWarning")]

VALID = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 1,
              "cache_creation_input_tokens": 3,
              "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 0}},
    "diagnostics": {"cache_miss_reason": {"type": "system_changed",
                                          "cache_missed_input_tokens": 4}},
}
ODD_VALUES: list[Any] = [None, -1, True, "12", 1.5, [], {}, [1, 2], {"x": 1}, "", 10**30]


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.15:
                continue  # dropped
            if roll < 0.35:
                out[key] = rng.choice(ODD_VALUES)
            else:
                out[key] = mutate(item, rng, depth + 1)
        return out
    if isinstance(value, list):
        return [mutate(v, rng, depth + 1) for v in value if rng.random() > 0.1]
    return value


def events_of(message: dict) -> list[dict]:
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]


def odd_stream(rng: random.Random) -> list[dict]:
    events = [mutate(e, rng) for e in events_of(copy.deepcopy(VALID))]
    roll = rng.random()
    if roll < 0.2:
        rng.shuffle(events)
    elif roll < 0.4:
        events = events[: rng.randrange(len(events))]  # cut short
    elif roll < 0.5:
        events.insert(rng.randrange(len(events) + 1), {"type": "mystery", "data": [1]})
    return events


def sse(events: list[dict]) -> bytes:
    return "".join(f"event: {e.get('type', 'x')}\ndata: {json.dumps(e)}\n\n"
                   for e in events).encode()


def http_module():
    import anthropic._base_client as base

    return getattr(base, "httpx2", None) or base.httpx


def outcome(make_client, call) -> tuple[str, Any]:
    """What the application observes: a value (dumped) or an exception (type, message)."""
    try:
        with make_client() as client:
            result = call(client)
            if hasattr(result, "__iter__") and not hasattr(result, "model_dump"):
                result = [e.to_dict() if hasattr(e, "to_dict") else repr(e) for e in result]
            elif hasattr(result, "to_dict"):
                result = result.to_dict()
            return "value", result
    except Exception as error:  # the comparison is the point
        return "error", (type(error).__name__, str(error))


# Where the instrumented call is recorded (instrumentation/__init__.py): on the SDK's own
# ``anthropic.messages.create`` span where the SDK traces (2.x with a tracer: the
# default), else on a span tokentrail starts (0.x, or 2.x with tracing off).
SDK_SPAN, OWN_SPAN = "sdk-span", "own-span"
PATHS = [
    pytest.param(SDK_SPAN, marks=pytest.mark.skipif(
        not NATIVE, reason="anthropic 0.x has no tracing of its own: only tokentrail's "
                           "own span exists there")),
    OWN_SPAN,
]


def tracing_option(path: str, provider) -> dict[str, Any]:
    """Client options that put the SDK's tracing on (SDK_SPAN) or off (OWN_SPAN)."""
    if not NATIVE:
        return {}  # 0.x has no such option; tokentrail always makes the span
    return {"open_telemetry": {"tracer_provider": provider} if path == SDK_SPAN else False}


def check_path(spans, path: str, what: object) -> None:
    """The instrumented run made exactly one span, on the expected path, and tokentrail
    wrote its own attributes on it (not only the SDK's)."""
    assert len(spans) == 1, (what, [(s.name, s.instrumentation_scope.name) for s in spans])
    (span,) = spans
    if path == SDK_SPAN:
        assert (span.instrumentation_scope.name, span.name) == (
            SDK_SCOPE, "anthropic.messages.create"), what
    else:
        assert span.instrumentation_scope.name == sc.TOKENTRAIL_SCOPE, what
    assert isinstance(span.attributes.get(sc.RUN_ID), str), (what, dict(span.attributes))


def run_both(make_client, call, provider, exporter) -> tuple[Any, Any, list]:
    """The outcome without and with tokentrail, and the spans of the instrumented run."""
    inst = AnthropicInstrumentor()
    inst.uninstrument()
    plain = outcome(make_client, call)
    exporter.clear()  # the SDK's tracing alone may have made spans
    inst.instrument(tracer_provider=provider)
    try:
        traced = outcome(make_client, call)
    finally:
        inst.uninstrument()
    return plain, traced, list(exporter.get_finished_spans())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stream", [False, True])
def test_odd_responses_behave_as_without_instrumentation(stream, path, provider,
                                                         exporter) -> None:
    anthropic = pytest.importorskip("anthropic")
    httpx = http_module()
    rng = random.Random(20261124 + stream)
    for case in range(80):
        if stream:
            body, kind = sse(odd_stream(rng)), "text/event-stream"
        else:
            body, kind = json.dumps(mutate(copy.deepcopy(VALID), rng)).encode(), "application/json"

        def handler(request, body=body, kind=kind):
            return httpx.Response(200, content=body, headers={"content-type": kind})

        def make_client(handler=handler):
            http_client = httpx.Client(transport=httpx.MockTransport(handler))
            return anthropic.Anthropic(api_key=API_KEY, base_url="http://mock", max_retries=0,
                                       http_client=http_client,
                                       **tracing_option(path, provider))

        def call(client, stream=stream, case=case):
            return client.messages.create(
                model="claude-haiku-4-5", max_tokens=5, stream=stream,
                messages=[{"role": "user", "content": f"case {case}"}])

        plain, traced, spans = run_both(make_client, call, provider, exporter)
        assert traced == plain, f"case {case}: {body[:300]!r}"
        check_path(spans, path, f"case {case}: {body[:300]!r}")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", ["cut:2", "cut:4", "sse-error:3", "500", "529"])
def test_emulator_faults_behave_as_without_instrumentation(fault, path, emu, provider,
                                                           exporter) -> None:
    anthropic = pytest.importorskip("anthropic")

    def make_client():
        return anthropic.Anthropic(base_url=emu.base_url, api_key=API_KEY, max_retries=0,
                                   **tracing_option(path, provider))

    for stream in (False, True):
        def call(client, stream=stream):
            return client.messages.create(
                model="claude-haiku-4-5", max_tokens=30, stream=stream,
                messages=[{"role": "user", "content": "fault please " * 20}],
                extra_headers={"x-emulator-fault": fault})

        plain, traced, spans = run_both(make_client, call, provider, exporter)
        check_path(spans, path, (fault, stream))
        if plain[0] == "value" and stream:
            # The emulator's ids differ per call; compare the event types only.
            plain = ("value", [e.get("type") for e in plain[1]])
            traced = ("value", [e.get("type") for e in traced[1]])
        if plain[0] == "value" and not stream:
            plain = ("value", plain[1]["usage"])
            traced = ("value", traced[1]["usage"])
        if plain[0] == "error":
            plain = ("error", plain[1][0])
            traced = ("error", traced[1][0])
        assert traced == plain, (fault, stream)
