"""What a call's price depends on beyond its tokens (instrumentation/price_factors.py):
betas, speed, inference region, service tier and server tool uses, on every path, with
the real SDK against the emulator (docs/facts.md §1 "Usage fields", §2).

Paths: the SDK's own span (anthropic 2.x) and tokentrail's (0.x always; 2.x for a
client with ``open_telemetry=False``); a parsed Message, ``stream=True``, the
``messages.stream`` helper, async, and batch result items.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.emulator.helpers import API_KEY, text_of
from tests.waiting import wait_until
from tokentrail import semconv as sc
from tokentrail.instrumentation import hooks
from tokentrail.instrumentation.config import Settings
from tokentrail.instrumentation.price_factors import usage_factors
from tokentrail.instrumentation.tracker import Tracker

from .conftest import NATIVE, client_kwargs, llm_spans

MODEL = "claude-sonnet-4-6"
REQUEST_KEYS = (sc.REQUEST_BETAS, sc.REQUEST_SPEED, sc.REQUEST_INFERENCE_GEO)
# What the emulator's usage says for a call without server tools (emulator/emulator.py).
STANDARD = {sc.ANTHROPIC_USAGE_SERVICE_TIER: "standard", sc.USAGE_WEB_SEARCH_REQUESTS: 0,
            sc.USAGE_WEB_FETCH_REQUESTS: 0}


def ask(tag: str) -> list[dict]:
    return [{"role": "user", "content": text_of(20, tag)}]


def factors(span) -> dict:
    return {k: v for k, v in span.attributes.items() if k in (*REQUEST_KEYS, *STANDARD)}


# --- without the network ---

def test_usage_factors_read_sdk_models_and_json_alike() -> None:
    anthropic = pytest.importorskip("anthropic")
    body = {"input_tokens": 1, "output_tokens": 2, "service_tier": "priority",
            "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 1}}
    expected = {sc.ANTHROPIC_USAGE_SERVICE_TIER: "priority", sc.USAGE_WEB_SEARCH_REQUESTS: 3,
                sc.USAGE_WEB_FETCH_REQUESTS: 1}
    assert usage_factors(anthropic.types.Usage.model_validate(body)) == expected
    assert usage_factors(body) == expected


def test_usage_factors_are_set_only_when_present_and_well_typed() -> None:
    assert usage_factors(None) == {}
    assert usage_factors({"input_tokens": 1, "output_tokens": 1}) == {}
    assert usage_factors({"service_tier": None, "server_tool_use": None}) == {}
    assert usage_factors({"service_tier": 1, "server_tool_use": {
        "web_search_requests": True, "web_fetch_requests": -1}}) == {}
    assert usage_factors({"server_tool_use": {"web_search_requests": 2}}) == {
        sc.USAGE_WEB_SEARCH_REQUESTS: 2}


def test_a_stream_takes_the_running_totals_of_message_delta() -> None:
    """Server tools run while the message is generated: their count in message_start is
    provisional, message_delta's is the total (docs/facts.md §1, "Streaming")."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    call = Tracker(Settings()).begin({"model": MODEL, "max_tokens": 50, "messages": ask("s")},
                                     None, True)
    call.start(provider.get_tracer("test"))
    start_usage = {"input_tokens": 20, "output_tokens": 1, "service_tier": "standard",
                   "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0}}
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": MODEL,
                                              "usage": start_usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text",
                                                                        "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",
                                                              "text": "found it"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 9, "server_tool_use": {"web_search_requests": 2,
                                                            "web_fetch_requests": 1}}},
        {"type": "message_stop"},
    ]
    for event in events:
        call.stream_event(event)
    call.stream_end(None)
    (span,) = exporter.get_finished_spans()
    assert factors(span) == {sc.ANTHROPIC_USAGE_SERVICE_TIER: "standard",
                             sc.USAGE_WEB_SEARCH_REQUESTS: 2, sc.USAGE_WEB_FETCH_REQUESTS: 1}


# --- with the real SDK ---

@pytest.fixture(params=["sdk-span", "own-span"] if NATIVE else ["own-span"])
def any_client(request, emu, provider, instrumentor):
    """A client whose calls the SDK traces itself (2.x), or one that tokentrail traces."""
    anthropic = pytest.importorskip("anthropic")
    if request.param == "sdk-span":
        kwargs = client_kwargs(emu, provider)
    else:
        kwargs = {"base_url": emu.base_url, "api_key": API_KEY, "max_retries": 0,
                  **({"open_telemetry": False} if NATIVE else {})}
    with anthropic.Anthropic(**kwargs) as client:
        yield client


@pytest.mark.sdk
def test_betas_speed_and_region_from_a_beta_call(any_client, exporter) -> None:
    any_client.beta.messages.create(model=MODEL, max_tokens=10, messages=ask("b"),
                                    betas=["context-1m-2025-08-07", "fast-mode-2026-02-01"],
                                    extra_body={"speed": "fast", "inference_geo": "us"})
    (span,) = llm_spans(exporter)
    assert factors(span) == {sc.REQUEST_BETAS: "context-1m-2025-08-07,fast-mode-2026-02-01",
                             sc.REQUEST_SPEED: "fast", sc.REQUEST_INFERENCE_GEO: "us",
                             **STANDARD}


@pytest.mark.sdk
def test_speed_and_region_as_the_sdks_own_parameters(any_client, exporter) -> None:
    create = any_client.beta.messages.create
    params = inspect.signature(create).parameters
    if "speed" not in params or "inference_geo" not in params:
        pytest.skip("this SDK has no speed / inference_geo parameters (extra_body: above)")
    create(model=MODEL, max_tokens=10, messages=ask("p"), speed="fast", inference_geo="eu")
    (span,) = llm_spans(exporter)
    assert span.attributes[sc.REQUEST_SPEED] == "fast"
    assert span.attributes[sc.REQUEST_INFERENCE_GEO] == "eu"
    assert sc.REQUEST_BETAS not in span.attributes


@pytest.mark.sdk
def test_betas_from_default_headers_and_extra_headers(emu, provider, instrumentor,
                                                      exporter) -> None:
    anthropic = pytest.importorskip("anthropic")
    with anthropic.Anthropic(**client_kwargs(emu, provider),
                             default_headers={"anthropic-beta": "beta-a, beta-b"}) as client:
        client.messages.create(model=MODEL, max_tokens=10, messages=ask("d"))
        client.messages.create(model=MODEL, max_tokens=10, messages=ask("e"),
                               extra_headers={"Anthropic-Beta": "beta-c"})
    first, second = llm_spans(exporter)
    assert first.attributes[sc.REQUEST_BETAS] == "beta-a,beta-b"
    assert second.attributes[sc.REQUEST_BETAS] == "beta-c"  # the call's header wins


@pytest.mark.sdk
def test_a_plain_call_has_no_request_factors_but_its_tier(any_client, exporter) -> None:
    any_client.messages.create(model=MODEL, max_tokens=10, messages=ask("n"))
    (span,) = llm_spans(exporter)
    assert factors(span) == STANDARD


@pytest.mark.sdk
def test_tier_and_server_tools_on_streams(any_client, exporter) -> None:
    events = list(any_client.messages.create(model=MODEL, max_tokens=10, messages=ask("s1"),
                                             stream=True))
    # The emulator sends the server tool count where the API does: in message_delta too.
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.usage.server_tool_use is not None
    with any_client.messages.stream(model=MODEL, max_tokens=10, messages=ask("s2"),
                                    extra_body={"speed": "fast"}) as stream:
        stream.get_final_message()
    raw, helper = llm_spans(exporter)
    assert factors(raw) == STANDARD
    assert factors(helper) == {**STANDARD, sc.REQUEST_SPEED: "fast"}


@pytest.mark.sdk
def test_tier_and_server_tools_async(async_client, exporter) -> None:
    async def main() -> None:
        await async_client.messages.create(model=MODEL, max_tokens=10, messages=ask("a1"))
        stream = await async_client.messages.create(model=MODEL, max_tokens=10,
                                                    messages=ask("a2"), stream=True)
        async for _ in stream:
            pass

    asyncio.run(main())
    assert [factors(s) for s in llm_spans(exporter)] == [STANDARD, STANDARD]


@pytest.mark.sdk
def test_batch_items_carry_the_batch_tier(client, exporter) -> None:
    batch = client.messages.batches.create(requests=[
        {"custom_id": "one", "params": {"model": MODEL, "max_tokens": 10,
                                        "messages": ask("q")}}])
    wait_until(lambda: client.messages.batches.retrieve(batch.id).processing_status,
               until=lambda status: status == "ended", timeout=10, interval=0.01,
               message=f"batch {batch.id} ends")
    list(client.messages.batches.results(batch.id))
    (item,) = llm_spans(exporter)
    assert item.attributes[sc.ANTHROPIC_USAGE_SERVICE_TIER] == "batch"


@pytest.mark.sdk
def test_a_failure_to_read_them_never_reaches_the_call(any_client, exporter,
                                                       monkeypatch) -> None:
    def broken(options, client):
        raise RuntimeError("price factor bug")

    monkeypatch.setattr(hooks, "request_factors", broken)
    reply = any_client.beta.messages.create(model=MODEL, max_tokens=10, messages=ask("f"),
                                            betas=["context-1m-2025-08-07"])
    assert reply.usage.input_tokens == 20
    (span,) = llm_spans(exporter)
    assert factors(span) == STANDARD  # the call is traced, without the request's factors
    assert span.attributes[sc.RUN_ID]
