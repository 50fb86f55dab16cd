"""Cache diagnostics (``diagnostics.previous_message_id`` → ``cache_miss_reason``).

The request goes through ``extra_body`` and the answer is read from the raw JSON, so
these run on SDKs that predate the feature (0.x); one test checks that the SDK
parses the reasons into its own types, where it has them.
"""

from __future__ import annotations

import json

import anthropic
import pytest

from .helpers import text_of, toks

pytestmark = pytest.mark.sdk

SONNET = "claude-sonnet-4-6"
EPH = {"type": "ephemeral"}
TOOL_A = {"name": "alpha", "description": text_of(30, "a"), "input_schema": {"type": "object"}}
TOOL_B = {"name": "beta", "description": text_of(30, "b"), "input_schema": {"type": "object"}}
A_TOKENS = toks(json.dumps(TOOL_A, sort_keys=True, separators=(",", ":")))
B_TOKENS = toks(json.dumps(TOOL_B, sort_keys=True, separators=(",", ":")))
SYSTEM = [{"type": "text", "text": text_of(3000, "sys"), "cache_control": EPH}]
Q1 = text_of(20, "q1")
TOTAL = A_TOKENS + B_TOKENS + 3000 + 20


def create(client, previous: str | None, **overrides) -> tuple[str, dict]:
    """One call opted in to diagnostics; returns (message id, raw response JSON)."""
    kwargs = {"model": SONNET, "max_tokens": 50, "system": SYSTEM, "tools": [TOOL_A, TOOL_B],
              "tool_choice": {"type": "none"},
              "messages": [{"role": "user", "content": Q1}], **overrides}
    raw = client.messages.with_raw_response.create(
        **kwargs, extra_body={"diagnostics": {"previous_message_id": previous}})
    body = json.loads(raw.text() if callable(raw.text) else raw.text)
    return body["id"], body


def reason(body: dict) -> dict | None:
    return (body["diagnostics"] or {}).get("cache_miss_reason")


def test_first_turn_opts_in_and_appending_shows_no_divergence(client) -> None:
    first, body = create(client, None)
    assert body["diagnostics"] is None
    messages = [{"role": "user", "content": Q1}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "and then?"}]
    _, body = create(client, first, messages=messages)
    assert body["diagnostics"] is None  # only entries were appended


def test_system_change_is_named_with_the_tokens_it_cost(client) -> None:
    first, _ = create(client, None)
    system = [{"type": "text", "text": "Now: 06:28:07\n" + SYSTEM[0]["text"],
               "cache_control": EPH}]
    _, body = create(client, first, system=system)
    # Everything after the tools fell behind the divergence point.
    assert reason(body) == {"type": "system_changed", "cache_missed_input_tokens": 3000 + 20}
    assert body["usage"]["cache_read_input_tokens"] == 0


def test_tools_change_reports_the_tokens_after_the_first_differing_tool(client) -> None:
    first, _ = create(client, None)
    _, body = create(client, first, tools=[TOOL_A, {**TOOL_B, "description": "changed"}])
    assert reason(body) == {"type": "tools_changed",
                            "cache_missed_input_tokens": TOTAL - A_TOKENS}
    second, _ = create(client, None)
    _, body = create(client, second, tools=[TOOL_B, TOOL_A])  # reordered
    assert reason(body) == {"type": "tools_changed", "cache_missed_input_tokens": TOTAL}


def test_model_change(client) -> None:
    first, _ = create(client, None)
    _, body = create(client, first, model="claude-opus-4-7")
    assert reason(body) == {"type": "model_changed", "cache_missed_input_tokens": TOTAL}


def test_edited_earlier_message(client) -> None:
    history = [{"role": "user", "content": Q1}, {"role": "assistant", "content": "ok"},
               {"role": "user", "content": "go on"}]
    first, _ = create(client, None, messages=history)
    edited = [{"role": "user", "content": Q1.upper()}, *history[1:],
              {"role": "assistant", "content": "sure"}, {"role": "user", "content": "more"}]
    _, body = create(client, first, messages=edited)
    prev_total = TOTAL + toks("ok") + toks("go on")
    assert reason(body) == {"type": "messages_changed",
                            "cache_missed_input_tokens": prev_total - (TOTAL - 20)}


def test_other_parameters_are_unavailable(client) -> None:
    first, _ = create(client, None)
    _, body = create(client, first, tool_choice={"type": "auto"})
    assert reason(body) == {"type": "unavailable"}


def test_unknown_or_not_opted_in_previous_message(client) -> None:
    _, body = create(client, "msg_does_not_exist")
    assert reason(body) == {"type": "previous_message_not_found"}
    plain = client.messages.create(model=SONNET, max_tokens=10,
                                   messages=[{"role": "user", "content": "hi"}])
    _, body = create(client, plain.id)  # no fingerprint: that call did not opt in
    assert reason(body) == {"type": "previous_message_not_found"}


def test_fingerprints_are_per_workspace(client, emu) -> None:
    first, _ = create(client, None)
    with anthropic.Anthropic(base_url=emu.base_url, api_key="sk-ant-other") as other:
        _, body = create(other, first)
    assert reason(body) == {"type": "previous_message_not_found"}


def test_streaming_carries_diagnostics_in_message_start(client) -> None:
    first, _ = create(client, None)
    stream = client.messages.create(
        model="claude-opus-4-7", max_tokens=50, system=SYSTEM, tools=[TOOL_A, TOOL_B],
        tool_choice={"type": "none"}, messages=[{"role": "user", "content": Q1}], stream=True,
        extra_body={"diagnostics": {"previous_message_id": first}})
    start = next(iter(stream))
    extra = start.message.model_dump()
    assert extra["diagnostics"]["cache_miss_reason"]["type"] == "model_changed"


def test_sdk_parses_cache_miss_reasons_into_its_types(client) -> None:
    types = anthropic.types
    if not hasattr(types, "CacheMissSystemChanged"):
        pytest.skip(f"anthropic {anthropic.__version__} has no cache diagnostics types "
                    "(added in the 2.x SDK); the raw-JSON tests above cover the wire format")
    first = client.messages.create(model=SONNET, max_tokens=10, system=SYSTEM,
                                   messages=[{"role": "user", "content": "hi"}],
                                   diagnostics={"previous_message_id": None})
    assert first.diagnostics is None
    second = client.messages.create(
        model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "hi"}],
        system=[{"type": "text", "text": "changed", "cache_control": EPH}],
        diagnostics={"previous_message_id": first.id})
    miss = second.diagnostics.cache_miss_reason
    assert isinstance(miss, types.CacheMissSystemChanged)
    assert miss.cache_missed_input_tokens == 3000 + 1
