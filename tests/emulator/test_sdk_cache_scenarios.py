"""The cache, turn by turn, as an agent sees it through the real SDK.

Each scenario is a situation tokentrail must explain (docs/design.md "Prefix
fingerprints"): the expected usage numbers follow from docs/facts.md §1 and the documented
token estimate (``helpers.toks``), never from the emulator's own code.
"""

from __future__ import annotations

import json
import threading

import pytest

from tokentrail.emulator import Scenario

from .helpers import text_of, toks

pytestmark = pytest.mark.sdk

SONNET = "claude-sonnet-4-6"  # minimum cacheable prefix 2048 (docs/facts.md §1)
OPUS = "claude-opus-4-7"  # minimum 4096
EPH = {"type": "ephemeral"}
BASH = {"name": "Bash", "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                         "required": ["command"]}}
GREP = {"name": "Grep", "description": "Search files for a pattern",
        "input_schema": {"type": "object", "properties": {"pattern": {"type": "string"}},
                         "required": ["pattern"]}}


def tool_tokens(tool: dict) -> int:
    return toks(json.dumps(tool, sort_keys=True, separators=(",", ":")))


def tool_use_tokens(block) -> int:
    return toks(block.name + json.dumps(block.input, sort_keys=True, separators=(",", ":")))


def buckets(usage) -> tuple[int, int, int]:
    """(uncached input, cache read, cache write)."""
    return (usage.input_tokens, usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens)


def with_breakpoint(messages: list[dict]) -> list[dict]:
    """A copy with a cache_control marker on the last block (what Claude Code does)."""
    out = [dict(m) for m in messages]
    content = out[-1]["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    blocks[-1] = {**blocks[-1], "cache_control": EPH}
    out[-1]["content"] = blocks
    return out


def assistant_turn(msg) -> dict:
    return {"role": "assistant",
            "content": [b.model_dump(exclude_none=True) for b in msg.content]}


def tool_results(msg, output: str = "hi") -> dict:
    return {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": b.id, "content": output}
        for b in msg.content if b.type == "tool_use"]}


def test_well_cached_multi_turn_agent(client, emu) -> None:
    emu.scenario = Scenario(tool_turns=3)
    system = [{"type": "text", "text": text_of(3000, "agent"), "cache_control": EPH}]
    prompt = text_of(25, "task")
    messages: list[dict] = [{"role": "user", "content": prompt}]
    total = tool_tokens(BASH) + 3000 + 25
    # Turn 1 writes the whole prefix; no earlier entry exists.
    msg = client.messages.create(model=SONNET, max_tokens=500, system=system, tools=[BASH],
                                 messages=with_breakpoint(messages))
    assert buckets(msg.usage) == (0, 0, total)
    assert msg.usage.cache_creation.ephemeral_5m_input_tokens == total
    for turn in (2, 3, 4):
        emu.clock.advance(30)  # an agent thinks; well within the 5-minute TTL
        new = tool_use_tokens(msg.content[0]) + toks("hi")
        messages += [assistant_turn(msg), tool_results(msg)]
        msg = client.messages.create(model=SONNET, max_tokens=500, system=system, tools=[BASH],
                                     messages=with_breakpoint(messages))
        # Each turn reads everything the previous turn wrote and writes only the new tail.
        assert buckets(msg.usage) == (0, total, new), f"turn {turn}"
        total += new
    assert msg.stop_reason == "end_turn"  # after three tool turns the scenario answers
    # Each turn read the entry written by the turn before it.
    calls = emu.calls()
    assert [c.cache["read_writer"] for c in calls] == [None] + [c.message_id for c in calls[:-1]]


def test_timestamp_in_system_prompt_defeats_the_cache(client, emu) -> None:
    base = text_of(3000, "policy")
    messages = [{"role": "user", "content": "status?"}]
    for second in range(3):
        stamp = f"Current time: 2026-11-24T06:28:{second:02d}Z\n"  # 37 bytes, 10 tokens
        system = [{"type": "text", "text": stamp + base, "cache_control": EPH}]
        msg = client.messages.create(model=SONNET, max_tokens=100, system=system,
                                     messages=messages)
        # The system block changes every call: nothing is ever read, all is rewritten.
        assert buckets(msg.usage) == (toks("status?"), 0, toks(stamp + base))
        emu.clock.advance(5)


def test_reordered_tools_invalidate_everything(client) -> None:
    system = [{"type": "text", "text": text_of(3000, "sys"), "cache_control": EPH}]
    total = tool_tokens(BASH) + tool_tokens(GREP) + 3000
    user = [{"role": "user", "content": "go"}]
    kwargs = {"model": SONNET, "max_tokens": 100, "system": system, "messages": user,
              "tool_choice": {"type": "none"}}
    assert buckets(client.messages.create(tools=[BASH, GREP], **kwargs).usage) == (1, 0, total)
    assert buckets(client.messages.create(tools=[BASH, GREP], **kwargs).usage) == (1, total, 0)
    # Same tools, other order: the tools level changed, so every level after it too.
    assert buckets(client.messages.create(tools=[GREP, BASH], **kwargs).usage) == (1, 0, total)


@pytest.mark.parametrize(("gap", "hit"), [(299, True), (300, False), (3600, False)])
def test_ttl_gap(client, emu, gap: int, hit: bool) -> None:
    system = [{"type": "text", "text": text_of(2500, "sys"), "cache_control": EPH}]
    kwargs = {"model": SONNET, "max_tokens": 50, "system": system,
              "messages": [{"role": "user", "content": "next"}]}
    assert buckets(client.messages.create(**kwargs).usage) == (1, 0, 2500)
    emu.clock.advance(gap)
    expected = (1, 2500, 0) if hit else (1, 0, 2500)
    assert buckets(client.messages.create(**kwargs).usage) == expected


def test_one_hour_ttl_survives_a_gap_that_kills_five_minutes(client, emu) -> None:
    system = [{"type": "text", "text": text_of(2500, "sys"),
               "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    kwargs = {"model": SONNET, "max_tokens": 50, "system": system,
              "messages": [{"role": "user", "content": "next"}]}
    first = client.messages.create(**kwargs).usage
    assert first.cache_creation.ephemeral_1h_input_tokens == 2500
    assert first.cache_creation.ephemeral_5m_input_tokens == 0
    emu.clock.advance(45 * 60)
    assert buckets(client.messages.create(**kwargs).usage) == (1, 2500, 0)


def test_prefix_below_the_minimum_caches_nothing(client) -> None:
    system = [{"type": "text", "text": text_of(2000, "short"), "cache_control": EPH}]
    for _ in range(2):
        msg = client.messages.create(model=SONNET, max_tokens=50, system=system,
                                     messages=[{"role": "user", "content": "hey!"}])
        # 2001 tokens < 2048 for Sonnet 4.6: both cache fields stay 0, silently.
        assert buckets(msg.usage) == (2001, 0, 0)


def test_breakpoint_beyond_the_twenty_block_lookback(client) -> None:
    system = [{"type": "text", "text": text_of(3000, "sys"), "cache_control": EPH}]
    messages: list[dict] = [{"role": "user", "content": text_of(40, "q1")},
                            {"role": "assistant", "content": text_of(10, "a1")}]
    first = client.messages.create(model=SONNET, max_tokens=50, system=system,
                                   messages=with_breakpoint(
                                       [*messages, {"role": "user", "content": "ok"}]))
    assert buckets(first.usage) == (0, 0, 3000 + 40 + 10 + 1)
    # The next turn pastes 25 one-token blocks: the new breakpoint is 26 blocks past the
    # old one, out of its 20-block reach; only the system breakpoint's entry is found.
    pasted = [{"type": "text", "text": f"l{i:03d}"} for i in range(25)]
    messages += [{"role": "user", "content": [{"type": "text", "text": "ok"}, *pasted]}]
    second = client.messages.create(model=SONNET, max_tokens=50, system=system,
                                    messages=with_breakpoint(messages))
    assert buckets(second.usage) == (0, 3000, 40 + 10 + 1 + 25)
    # A breakpoint in the middle (a second marker) would have bridged the gap:
    messages[-1]["content"][10] = {**messages[-1]["content"][10], "cache_control": EPH}
    third = client.messages.create(model=SONNET, max_tokens=50, system=system,
                                   messages=with_breakpoint(messages))
    assert buckets(third.usage) == (0, 3000 + 40 + 10 + 1 + 25, 0)


def test_model_switch_misses_and_each_model_keeps_its_own_cache(client) -> None:
    system = [{"type": "text", "text": text_of(5000, "sys"), "cache_control": EPH}]
    kwargs = {"max_tokens": 50, "system": system,
              "messages": [{"role": "user", "content": "next"}]}
    assert buckets(client.messages.create(model=SONNET, **kwargs).usage) == (1, 0, 5000)
    assert buckets(client.messages.create(model=OPUS, **kwargs).usage) == (1, 0, 5000)
    assert buckets(client.messages.create(model=SONNET, **kwargs).usage) == (1, 5000, 0)
    assert buckets(client.messages.create(model=OPUS, **kwargs).usage) == (1, 5000, 0)


def test_two_parallel_first_calls_both_miss(client, emu) -> None:
    system = [{"type": "text", "text": text_of(3000, "sys"), "cache_control": EPH}]
    kwargs = {"model": SONNET, "max_tokens": 50, "system": system,
              "messages": [{"role": "user", "content": "fan"}]}
    results: list = [None, None]

    def call(i: int) -> None:
        # The gate holds both responses until both requests have arrived, so neither
        # response has started when the other request consults the cache.
        results[i] = client.messages.create(**kwargs,
                                            extra_headers={"x-emulator-gate": "fan-out/2"})

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [buckets(r.usage) for r in results] == [(1, 0, 3000), (1, 0, 3000)]
    # Once a response has started, its entry is readable.
    assert buckets(client.messages.create(**kwargs).usage) == (1, 3000, 0)


def test_workspaces_do_not_share_caches(emu) -> None:
    import anthropic

    system = [{"type": "text", "text": text_of(3000, "sys"), "cache_control": EPH}]
    kwargs = {"model": SONNET, "max_tokens": 50, "system": system,
              "messages": [{"role": "user", "content": "hi"}]}
    with anthropic.Anthropic(base_url=emu.base_url, api_key="sk-ant-team-a") as a, \
            anthropic.Anthropic(base_url=emu.base_url, api_key="sk-ant-team-b") as b:
        assert buckets(a.messages.create(**kwargs).usage) == (1, 0, 3000)
        assert buckets(b.messages.create(**kwargs).usage) == (1, 0, 3000)
        assert buckets(a.messages.create(**kwargs).usage) == (1, 3000, 0)
        # An explicit workspace header groups keys into one workspace.
        ws = {"anthropic-workspace-id": "wrkspc_shared"}
        assert buckets(a.messages.create(**kwargs, extra_headers=ws).usage) == (1, 0, 3000)
        assert buckets(b.messages.create(**kwargs, extra_headers=ws).usage) == (1, 3000, 0)


def test_automatic_caching_follows_the_conversation(client, emu) -> None:
    emu.scenario = Scenario(text="fine")
    messages: list[dict] = [{"role": "user", "content": text_of(2100, "doc")}]
    msg = client.messages.create(model=SONNET, max_tokens=50, messages=messages,
                                 extra_body={"cache_control": EPH})
    assert buckets(msg.usage) == (0, 0, 2100)
    messages += [assistant_turn(msg), {"role": "user", "content": "more"}]
    msg = client.messages.create(model=SONNET, max_tokens=50, messages=messages,
                                 extra_body={"cache_control": EPH})
    assert buckets(msg.usage) == (0, 2100, toks("fine") + toks("more"))
