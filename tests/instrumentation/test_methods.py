"""The other entry points: count_tokens, batches (per-item usage), beta.messages,
with_raw_response / with_streaming_response, and the Bedrock/Vertex client classes."""

from __future__ import annotations

import inspect

import pytest
import wrapt

from tests.emulator.helpers import text_of
from tests.waiting import wait_until, wait_until_async
from tokentrail import semconv as sc
from tokentrail.instrumentation import attributes as at

from .conftest import NATIVE, llm_spans

pytestmark = pytest.mark.sdk

MODEL = "claude-sonnet-4-6"
SYSTEM = [{"type": "text", "text": text_of(3000, "shared"), "cache_control": {"type": "ephemeral"}}]


def test_count_tokens_is_traced_but_never_a_call(client, exporter) -> None:
    counted = client.messages.count_tokens(model=MODEL,
                                           messages=[{"role": "user", "content": text_of(9, "c")}])
    assert counted.input_tokens == 9
    (span,) = exporter.get_finished_spans()
    assert span.name == "anthropic.messages.count_tokens"
    assert span.attributes[at.ANTHROPIC_COUNT_TOKENS_INPUT] == 9
    assert llm_spans(exporter) == []  # no gen_ai.usage.input_tokens: not an llm_calls row


def test_batches_create_and_per_item_usage(client, exporter) -> None:
    def item(custom_id: str, text: str) -> dict:
        return {"custom_id": custom_id,
                "params": {"model": MODEL, "max_tokens": 20, "system": SYSTEM,
                           "messages": [{"role": "user", "content": text}]}}

    batch = client.messages.batches.create(requests=[item("one", text_of(10, "1")),
                                                     item("two", text_of(12, "2"))])
    wait_until(lambda: client.messages.batches.retrieve(batch.id).processing_status,
               until=lambda status: status == "ended", timeout=10, interval=0.01,
               message=f"batch {batch.id} ends")
    results = {r.custom_id: r.result.message for r in client.messages.batches.results(batch.id)}

    create = [s for s in exporter.get_finished_spans()
              if s.name == "anthropic.messages.batches.create"]
    assert len(create) == 1
    assert create[0].attributes[at.BATCH_REQUEST_COUNT] == 2
    assert create[0].attributes[at.BATCH_ID] == batch.id

    items = {s.attributes[at.BATCH_CUSTOM_ID]: s for s in llm_spans(exporter)}
    assert set(items) == {"one", "two"}
    for custom_id, span in items.items():
        usage = results[custom_id].usage
        a = span.attributes
        assert a[sc.IS_BATCH] is True and a[at.BATCH_ID] == batch.id
        assert a[sc.RUN_ID] == batch.id
        assert a[sc.GEN_AI_RESPONSE_ID] == results[custom_id].id
        total = (usage.input_tokens + usage.cache_read_input_tokens
                 + usage.cache_creation_input_tokens)
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == total
        assert a[sc.GEN_AI_USAGE_CACHE_READ] == usage.cache_read_input_tokens
        assert a[sc.ANTHROPIC_USAGE_SERVICE_TIER] == "batch"
    assert (items["one"].attributes[sc.GEN_AI_USAGE_CACHE_CREATION],
            items["two"].attributes[sc.GEN_AI_USAGE_CACHE_READ]) == (3000, 3000)


def test_beta_messages_create_and_stream(client, exporter) -> None:
    reply = client.beta.messages.create(model=MODEL, max_tokens=20, system=SYSTEM,
                                        messages=[{"role": "user", "content": text_of(7, "b")}])
    with client.beta.messages.stream(model=MODEL, max_tokens=20, system=SYSTEM,
                                     messages=[{"role": "user", "content": text_of(8, "b2")}]
                                     ) as stream:
        final = stream.get_final_message()
    one, two = llm_spans(exporter)
    assert one.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3007
    assert one.attributes[sc.GEN_AI_USAGE_CACHE_CREATION] == 3000
    assert one.attributes[sc.GEN_AI_RESPONSE_ID] == reply.id
    assert two.attributes[sc.GEN_AI_USAGE_CACHE_READ] == 3000
    assert two.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    assert len(exporter.get_finished_spans()) == 2


def test_with_raw_response_and_streaming_response(client, exporter) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": text_of(11, "r")}])
    parsed = raw.parse()
    raw_stream = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=20, stream=True,
        messages=[{"role": "user", "content": text_of(13, "rs")}])
    events = list(raw_stream.parse())
    with client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=20,
            messages=[{"role": "user", "content": text_of(17, "sr")}]) as response:
        streamed = response.parse()
    spans = [s for s in exporter.get_finished_spans() if sc.RUN_ID in s.attributes]
    assert len(spans) == 3
    one, two, three = spans
    assert one.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert one.attributes[sc.GEN_AI_RESPONSE_ID] == parsed.id
    assert two.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 13
    delta = [e for e in events if e.type == "message_delta"][-1]
    assert two.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == delta.usage.output_tokens
    assert streamed.usage.input_tokens == 17
    if NATIVE:
        # Known limit: the SDK ends its span while parse() reads the body, before the
        # parsed message exists; the SDK itself records no usage for these either, so
        # the span is not an llm_calls row (no input tokens) rather than a wrong one.
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in three.attributes
        assert three.attributes[sc.TURN] == 1
    else:
        assert three.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 17
        assert three.attributes[sc.GEN_AI_RESPONSE_ID] == streamed.id


def test_cloud_client_classes_share_the_patch_point(instrumentor) -> None:
    """No Bedrock or Vertex endpoint runs here, so this checks the wiring only: their
    client classes inherit the one wrapped ``request`` (sync and async)."""
    import anthropic

    names = ["AnthropicBedrock", "AsyncAnthropicBedrock", "AnthropicVertex",
             "AsyncAnthropicVertex", "Anthropic", "AsyncAnthropic"]
    found = [getattr(anthropic, name, None) for name in names]
    assert all(cls is not None for cls in found[-2:])
    for cls in filter(None, found):
        assert isinstance(inspect.getattr_static(cls, "request"), wrapt.FunctionWrapper), cls
    if NATIVE:
        import anthropic._base_client as base

        assert isinstance(base.finish_api_call_span, wrapt.FunctionWrapper)


def test_async_batch_results_per_item_usage(async_client, exporter) -> None:
    import asyncio

    def item(custom_id: str, text: str) -> dict:
        return {"custom_id": custom_id,
                "params": {"model": MODEL, "max_tokens": 20, "system": SYSTEM,
                           "messages": [{"role": "user", "content": text}]}}

    async def main() -> tuple[str, dict]:
        batches = async_client.messages.batches
        batch = await batches.create(requests=[item("a1", text_of(10, "a1")),
                                               item("a2", text_of(11, "a2")),
                                               item("a3", text_of(12, "a3"))])
        async def status() -> str:
            return (await batches.retrieve(batch.id)).processing_status

        await wait_until_async(status, until=lambda s: s == "ended", timeout=10, interval=0.01,
                               message=f"batch {batch.id} ends")
        results = {}
        async for r in await batches.results(batch.id):
            results[r.custom_id] = r.result.message
        await async_client.close()
        return batch.id, results

    batch_id, results = asyncio.run(main())

    create = [s for s in exporter.get_finished_spans()
              if s.name == "anthropic.messages.batches.create"]
    assert len(create) == 1 and create[0].attributes[at.BATCH_REQUEST_COUNT] == 3
    items = {s.attributes[at.BATCH_CUSTOM_ID]: s for s in llm_spans(exporter)}
    assert set(items) == {"a1", "a2", "a3"}
    assert sorted(s.attributes[sc.TURN] for s in items.values()) == [1, 2, 3]
    for custom_id, span in items.items():
        message, a = results[custom_id], span.attributes
        assert a[sc.IS_BATCH] is True and a[at.BATCH_ID] == batch_id == a[sc.RUN_ID]
        assert a[sc.GEN_AI_RESPONSE_ID] == message.id
        assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == (message.usage.input_tokens
                                                   + message.usage.cache_read_input_tokens
                                                   + message.usage.cache_creation_input_tokens)
        assert a[sc.ANTHROPIC_USAGE_SERVICE_TIER] == "batch"
