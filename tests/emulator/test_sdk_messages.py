"""The real anthropic SDK against the emulator over HTTP: sync, async, streaming,
count_tokens, models, raw responses, errors and injected faults."""

from __future__ import annotations

import asyncio
import json
import re

import anthropic
import pytest

from tokentrail.emulator.scenario import DEFAULT_TEXT

from .helpers import API_KEY, text_of, toks

pytestmark = pytest.mark.sdk

MODEL = "claude-sonnet-4-6"
BASH = {"name": "Bash", "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                         "required": ["command"]}}
BASH_TOKENS = toks(json.dumps(BASH, sort_keys=True, separators=(",", ":")))
BASH_INPUT = {"command": "echo hi", "description": "Print a greeting"}
TOOL_USE_TOKENS = toks("Bash" + json.dumps(BASH_INPUT, sort_keys=True, separators=(",", ":")))


def test_sync_create_returns_a_message_with_predictable_usage(client) -> None:
    msg = client.messages.create(model=MODEL, max_tokens=100,
                                 messages=[{"role": "user", "content": text_of(12)}])
    assert msg.type == "message" and msg.role == "assistant" and msg.model == MODEL
    assert msg.content[0].type == "text" and msg.content[0].text == DEFAULT_TEXT
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens == 12
    assert msg.usage.output_tokens == toks(DEFAULT_TEXT)
    assert msg.usage.cache_read_input_tokens == 0
    assert msg.usage.cache_creation_input_tokens == 0
    assert msg.usage.service_tier == "standard"


def test_raw_response_carries_request_id_matching_the_log(client, emu) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    msg = raw.parse()
    request_id = raw.headers["request-id"]
    assert request_id.startswith("req_")
    [call] = emu.calls()
    assert call.request_id == request_id and call.message_id == msg.id
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", call.headers["anthropic-version"])
    # 2.x sends the key as a bearer token, 0.x as x-api-key: either way it is redacted.
    assert API_KEY not in json.dumps(call.headers)
    assert "<redacted>" in (call.headers.get("x-api-key"), call.headers.get("authorization"))


def test_async_create(async_client) -> None:
    async def run():
        async with async_client as c:
            return await asyncio.gather(*[
                c.messages.create(model=MODEL, max_tokens=50,
                                  messages=[{"role": "user", "content": text_of(n)}])
                for n in (3, 5)])
    first, second = asyncio.run(run())
    assert (first.usage.input_tokens, second.usage.input_tokens) == (3, 5)


def test_tool_use_then_answer(client) -> None:
    messages = [{"role": "user", "content": "list files"}]
    first = client.messages.create(model=MODEL, max_tokens=200, tools=[BASH], messages=messages)
    assert first.stop_reason == "tool_use"
    [tool_use] = first.content
    assert tool_use.type == "tool_use" and tool_use.name == "Bash"
    assert tool_use.input == BASH_INPUT
    assert first.usage.output_tokens == TOOL_USE_TOKENS
    assert first.usage.input_tokens == BASH_TOKENS + toks("list files")
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                   for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result",
                                               "tool_use_id": tool_use.id, "content": "a b"}]}]
    second = client.messages.create(model=MODEL, max_tokens=200, tools=[BASH],
                                    messages=messages)
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"


def test_stream_true_emits_the_real_event_sequence(client) -> None:
    stream = client.messages.create(model=MODEL, max_tokens=200, tools=[BASH], stream=True,
                                    messages=[{"role": "user", "content": text_of(7)}])
    events = list(stream)
    kinds = [e.type for e in events]
    # (The SDK drops the ping event the emulator sends after message_start.)
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"} and len(kinds[2:-3]) >= 2
    start = events[0].message
    assert start.content == [] and start.stop_reason is None
    assert start.usage.input_tokens == BASH_TOKENS + 7
    block_start = next(e for e in events if e.type == "content_block_start")
    assert block_start.content_block.type == "tool_use"
    assert block_start.content_block.name == "Bash"
    partial = "".join(e.delta.partial_json for e in events
                      if e.type == "content_block_delta" and e.delta.type == "input_json_delta")
    assert json.loads(partial) == BASH_INPUT
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "tool_use"
    assert delta.usage.output_tokens == TOOL_USE_TOKENS
    assert delta.usage.input_tokens == BASH_TOKENS + 7


def test_stream_helper_accumulates_text_and_final_usage(client) -> None:
    with client.messages.stream(model=MODEL, max_tokens=200,
                                messages=[{"role": "user", "content": text_of(9)}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == DEFAULT_TEXT == final.content[0].text
    assert final.usage.input_tokens == 9
    assert final.usage.output_tokens == toks(DEFAULT_TEXT)
    assert final.stop_reason == "end_turn"


def test_async_stream_helper(async_client) -> None:
    async def run():
        async with async_client as c, c.messages.stream(
                model=MODEL, max_tokens=200,
                messages=[{"role": "user", "content": "hi"}]) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_message()
    final = asyncio.run(run())
    assert final.content[0].text == DEFAULT_TEXT


def test_streaming_reports_cache_usage_in_message_start_and_delta(client) -> None:
    system = [{"type": "text", "text": text_of(2500, "sys"),
               "cache_control": {"type": "ephemeral"}}]
    for expected_read, expected_write in ((0, 2500), (2500, 0)):
        with client.messages.stream(model=MODEL, max_tokens=100, system=system,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            first = next(iter(stream))
            assert first.type == "message_start"
            assert first.message.usage.cache_read_input_tokens == expected_read
            assert first.message.usage.cache_creation_input_tokens == expected_write
            final = stream.get_final_message()
        assert final.usage.cache_read_input_tokens == expected_read
        assert final.usage.cache_creation_input_tokens == expected_write
        assert final.usage.input_tokens == 1


def test_max_tokens_truncates_and_stop_sequences_stop(client) -> None:
    msg = client.messages.create(model=MODEL, max_tokens=3,
                                 messages=[{"role": "user", "content": "hi"}])
    assert msg.stop_reason == "max_tokens"
    assert msg.content[0].text == DEFAULT_TEXT[:12] and msg.usage.output_tokens == 3
    msg = client.messages.create(model=MODEL, max_tokens=100, stop_sequences=["answer"],
                                 messages=[{"role": "user", "content": "hi"}])
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == "answer"
    assert msg.content[0].text == DEFAULT_TEXT[: DEFAULT_TEXT.index("answer")]


def test_count_tokens(client) -> None:
    system = text_of(40, "s")
    result = client.messages.count_tokens(
        model=MODEL, system=system, tools=[BASH],
        messages=[{"role": "user", "content": text_of(10)}])
    assert result.input_tokens == BASH_TOKENS + 40 + 10


def test_models_list_and_retrieve(client) -> None:
    ids = [m.id for m in client.models.list(limit=100)]
    assert "claude-sonnet-4-6" in ids and "claude-opus-4-7" in ids
    page = client.models.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    assert client.models.retrieve("claude-opus-4-7").display_name == "Claude Opus 4.7"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-nonexistent-9")


def test_beta_messages_path_is_served(client, emu) -> None:
    msg = client.beta.messages.create(model=MODEL, max_tokens=20,
                                      betas=["interleaved-thinking-2025-05-14"],
                                      messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == DEFAULT_TEXT
    assert emu.calls()[-1].headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


def test_bad_bodies_get_the_error_envelope(client) -> None:
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model=MODEL, max_tokens=10, messages=[])
    assert err.value.status_code == 400
    assert err.value.body["type"] == "error"
    assert err.value.body["error"]["type"] == "invalid_request_error"
    assert "at least one message" in err.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
        system = [{"type": "text", "text": f"s{i}", "cache_control": {"type": "ephemeral"}}
                  for i in range(5)]
        client.messages.create(model=MODEL, max_tokens=10, system=system,
                               messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError, match="tool_result"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                               "name": "Bash", "input": {}}]},
            {"role": "user", "content": "no result"}])


@pytest.mark.parametrize(("spec", "exc", "status"), [
    ("429", anthropic.RateLimitError, 429),
    ("529", getattr(anthropic, "OverloadedError", anthropic.APIStatusError), 529),
    ("500", anthropic.InternalServerError, 500),
])
def test_injected_errors_per_request(client, spec, exc, status) -> None:
    with pytest.raises(exc) as err:
        client.messages.create(model=MODEL, max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}],
                               extra_headers={"x-emulator-fault": spec})
    assert err.value.status_code == status
    if status == 429:
        assert err.value.response.headers["retry-after"] == "1"
    if status == 529:
        assert err.value.body["error"]["type"] == "overloaded_error"


def test_sdk_retries_through_emulator_wide_429(emu) -> None:
    emu.faults.inject("429:0.01", times=2)  # retry-after-ms: 10
    with anthropic.Anthropic(base_url=emu.base_url, api_key="k", max_retries=2) as c:
        msg = c.messages.create(model=MODEL, max_tokens=100,
                                messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == DEFAULT_TEXT
    assert [r.status for r in emu.requests] == [429, 429, 200]


def test_cut_stream_raises_in_the_client(client, emu) -> None:
    received = []
    with pytest.raises(Exception) as err, client.messages.stream(model=MODEL, max_tokens=100,
                                messages=[{"role": "user", "content": text_of(50)}],
                                extra_headers={"x-emulator-fault": "cut:4"}) as stream:
        received.extend(e.type for e in stream)
    assert type(err.value).__name__ == "RemoteProtocolError"  # incomplete chunked read
    # 4 SSE events went out (message_start, ping, content_block_start, one delta).
    assert received == ["message_start", "content_block_start", "content_block_delta", "text"]
    assert emu.calls()[-1].fault == "cut:4"


def test_cut_json_body_is_a_connection_error(client) -> None:
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=100,
                               messages=[{"role": "user", "content": "hi"}],
                               extra_headers={"x-emulator-fault": "cut"})


def test_overloaded_error_event_mid_stream(client) -> None:
    with pytest.raises(anthropic.APIStatusError) as err, client.messages.stream(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-emulator-fault": "sse-error:2"}) as stream:
        list(stream)
    assert "overloaded" in str(err.value).lower()


def test_slow_first_byte_hits_the_client_timeout(emu) -> None:
    with anthropic.Anthropic(base_url=emu.base_url, api_key="k", max_retries=0,
                             timeout=0.2) as c, pytest.raises(anthropic.APITimeoutError):
        c.messages.create(model=MODEL, max_tokens=10,
                          messages=[{"role": "user", "content": "hi"}],
                          extra_headers={"x-emulator-fault": "slow:3"})
