"""Unit tests of the cache rules (cache.py / prefix.py), without HTTP.

Every expected number is derived from the documented estimate: a text of 4n ASCII
bytes is n tokens, and a request's input is the sum of its blocks.
"""

from __future__ import annotations

import pytest

from tokentrail.emulator import APIError, Clock, Emulator
from tokentrail.emulator.cache import model_family

from .helpers import text_of, toks

MODEL = "claude-sonnet-4-6"  # docs/facts.md §1: minimum cacheable prefix 2048 tokens
EPH = {"type": "ephemeral"}
EPH_1H = {"type": "ephemeral", "ttl": "1h"}


def sysblock(n: int, tag: str = "sys", cc: dict | None = EPH) -> dict:
    block = {"type": "text", "text": text_of(n, tag)}
    if cc is not None:
        block["cache_control"] = cc
    return block


def req(system: list[dict] | None = None, messages: list[dict] | None = None, **extra) -> dict:
    body = {"model": MODEL, "max_tokens": 50,
            "messages": messages or [{"role": "user", "content": "hi"}], **extra}
    if system is not None:
        body["system"] = system
    return body


def usage(emu: Emulator, body: dict, workspace: str = "ws") -> dict:
    return emu.create_message(body, workspace)["usage"]


def buckets(u: dict) -> tuple[int, int, int]:
    """(uncached input, cache read, cache write) — the three disjoint buckets."""
    return u["input_tokens"], u["cache_read_input_tokens"], u["cache_creation_input_tokens"]


@pytest.fixture
def emu() -> Emulator:
    return Emulator(clock=Clock(frozen=True))


def test_write_then_read_with_disjoint_buckets(emu: Emulator) -> None:
    body = req([sysblock(3000)])  # user "hi" = 1 token after the breakpoint
    first = usage(emu, body)
    assert buckets(first) == (1, 0, 3000)
    assert first["cache_creation"] == {"ephemeral_5m_input_tokens": 3000,
                                       "ephemeral_1h_input_tokens": 0}
    assert buckets(usage(emu, body)) == (1, 3000, 0)


def test_more_than_four_breakpoints_is_a_400(emu: Emulator) -> None:
    four = [sysblock(600, f"s{i}") for i in range(4)]
    usage(emu, req(four))  # four is allowed
    with pytest.raises(APIError) as err:
        usage(emu, req([*four, sysblock(600, "s5")]))
    assert err.value.status == 400
    assert err.value.error_type == "invalid_request_error"
    assert "maximum of 4 blocks with cache_control" in err.value.message
    assert "Found 5" in err.value.message


def test_automatic_cache_control_takes_one_of_the_four_slots(emu: Emulator) -> None:
    four = [sysblock(600, f"s{i}") for i in range(4)]
    with pytest.raises(APIError, match="Found 5"):
        usage(emu, req(four, cache_control=EPH))
    # If the last block already carries a marker, the automatic one reuses it.
    msgs = [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPH}]}]
    usage(emu, req(four[:3], msgs, cache_control=EPH))


def test_longer_ttl_must_come_first(emu: Emulator) -> None:
    with pytest.raises(APIError, match="must not come after") as err:
        usage(emu, req([sysblock(2000, "a", EPH), sysblock(2000, "b", EPH_1H)]))
    assert err.value.status == 400
    u = usage(emu, req([sysblock(2100, "a", EPH_1H), sysblock(1000, "b", EPH)]))
    # The tokens up to the 1h breakpoint are billed as 1h writes, the rest as 5m.
    assert u["cache_creation"] == {"ephemeral_1h_input_tokens": 2100,
                                   "ephemeral_5m_input_tokens": 1000}
    assert buckets(u) == (1, 0, 3100)


def test_a_breakpoint_below_the_minimum_is_billed_with_the_next_one(emu: Emulator) -> None:
    # 2000 < 2048: the 1h breakpoint writes nothing; its tokens go to the 5m write.
    u = usage(emu, req([sysblock(2000, "a", EPH_1H), sysblock(1000, "b", EPH)]))
    assert u["cache_creation"] == {"ephemeral_1h_input_tokens": 0,
                                   "ephemeral_5m_input_tokens": 3000}


def test_one_hour_entry_outlives_five_minute_entry(emu: Emulator) -> None:
    body = req([sysblock(2500, "long", EPH_1H), sysblock(500, "short", EPH)])
    usage(emu, body)
    emu.clock.advance(301)  # 5m entry expired, 1h entry alive
    u = usage(emu, body)
    assert buckets(u) == (1, 2500, 500)
    assert u["cache_creation"] == {"ephemeral_1h_input_tokens": 0,
                                   "ephemeral_5m_input_tokens": 500}
    # The read at +301 refreshed the 1h entry until +3901; at +3900 it still hits.
    emu.clock.advance(3599)
    assert buckets(usage(emu, body)) == (1, 2500, 500)
    emu.clock.advance(3600)  # both expired
    assert buckets(usage(emu, body)) == (1, 0, 3000)


def test_five_minute_ttl_is_refreshed_by_each_read(emu: Emulator) -> None:
    body = req([sysblock(3000)])
    usage(emu, body)
    for _ in range(3):
        emu.clock.advance(299)
        assert buckets(usage(emu, body)) == (1, 3000, 0)
    emu.clock.advance(300)  # exactly the TTL since the last read: expired
    assert buckets(usage(emu, body)) == (1, 0, 3000)


def test_caches_are_isolated_per_workspace(emu: Emulator) -> None:
    body = req([sysblock(3000)])
    assert buckets(usage(emu, body, "team-a")) == (1, 0, 3000)
    assert buckets(usage(emu, body, "team-b")) == (1, 0, 3000)
    assert buckets(usage(emu, body, "team-a")) == (1, 3000, 0)


def test_caches_are_per_model_and_dated_ids_share_their_alias(emu: Emulator) -> None:
    body = req([sysblock(5000)])
    usage(emu, body)
    assert buckets(usage(emu, {**body, "model": "claude-opus-4-7"})) == (1, 0, 5000)
    assert buckets(usage(emu, {**body, "model": "claude-opus-4-7-20260301"})) == (1, 5000, 0)
    assert model_family("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"


@pytest.mark.parametrize(("model", "minimum"), [
    ("claude-opus-4-7", 4096), ("claude-opus-4-5-20251101", 4096), ("claude-haiku-4-5", 4096),
    ("claude-sonnet-4-6", 2048), ("claude-sonnet-4-5", 1024), ("claude-opus-4-1", 1024),
    ("some-future-model", 1024),
])
def test_minimum_cacheable_prefix_per_model(emu: Emulator, model: str, minimum: int) -> None:
    below = req([sysblock(minimum - 1, "below")], model=model)
    assert buckets(usage(emu, below)) == (minimum, 0, 0)
    assert buckets(usage(emu, below)) == (minimum, 0, 0)  # nothing was cached
    at = req([sysblock(minimum, "at")], model=model)
    assert buckets(usage(emu, at)) == (1, 0, minimum)


def test_entry_is_readable_only_once_its_response_started(emu: Emulator) -> None:
    body = req([sysblock(3000)])
    first = emu.prepare(body, "ws")
    second = emu.prepare(body, "ws")  # arrives before the first response started
    emu.start(first)
    emu.start(second)
    assert buckets(first.message["usage"]) == (1, 0, 3000)
    assert buckets(second.message["usage"]) == (1, 0, 3000)
    assert buckets(usage(emu, body)) == (1, 3000, 0)


def _conversation(blocks_in_turn: list[int]) -> list[dict]:
    """user/assistant turns; user turn i holds blocks_in_turn[i] one-token blocks."""
    messages: list[dict] = []
    for i, n in enumerate(blocks_in_turn):
        if messages:
            messages.append({"role": "assistant", "content": f"ok{i:02d}"})  # 1 token
        messages.append({"role": "user",
                         "content": [{"type": "text", "text": f"u{i:02d}"} for _ in range(n)]})
    messages[-1]["content"][-1]["cache_control"] = EPH
    return messages


@pytest.mark.parametrize(("new_blocks", "hit"), [(19, True), (20, False)])
def test_lookback_covers_twenty_blocks_including_the_breakpoint(
        emu: Emulator, new_blocks: int, hit: bool) -> None:
    system = [sysblock(3000, cc=None)]
    first = req(system, _conversation([1]))
    assert buckets(usage(emu, first)) == (0, 0, 3001)
    # Turn 2 adds an assistant block and (new_blocks - 1) user blocks: the new
    # breakpoint sits `new_blocks` blocks after the old one.
    second = req(system, _conversation([1, new_blocks - 1]))
    total = 3001 + 1 + (new_blocks - 1)
    expected = (0, 3001, total - 3001) if hit else (0, 0, total)
    assert buckets(usage(emu, second)) == expected


def test_level_parameters_invalidate_their_level_and_later_ones(emu: Emulator) -> None:
    tools = [{"name": "t1", "description": text_of(2100, "tool"),
              "input_schema": {"type": "object"}, "cache_control": EPH}]
    t_tokens = toks('{"description":"' + text_of(2100, "tool")
                    + '","input_schema":{"type":"object"},"name":"t1"}')
    msgs = [{"role": "user", "content": [{"type": "text", "text": text_of(100, "m"),
                                          "cache_control": EPH}]}]
    base = req([sysblock(2100)], msgs, tools=tools)
    total = t_tokens + 2100 + 100
    assert buckets(usage(emu, base)) == (0, 0, total)
    # tool_choice: tools and system caches stay valid, messages cache does not.
    u = usage(emu, {**base, "tool_choice": {"type": "any"}})
    assert buckets(u) == (0, t_tokens + 2100, 100)
    # thinking parameters: the same.
    u = usage(emu, {**base, "thinking": {"type": "enabled", "budget_tokens": 2000},
                    "max_tokens": 4000})
    assert buckets(u) == (0, t_tokens + 2100, 100)
    # speed: system level, so only the tools cache survives.
    u = usage(emu, {**base, "speed": "fast"})
    assert buckets(u) == (0, t_tokens, 2200)
    # the tool definitions themselves: nothing survives.
    edited = [{**tools[0], "description": tools[0]["description"].upper()}]
    assert buckets(usage(emu, {**base, "tools": edited})) == (0, 0, total)
    # and the original request still reads everything.
    assert buckets(usage(emu, base)) == (0, total, 0)


def test_adding_an_image_invalidates_the_messages_cache(emu: Emulator) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}}
    first = [{"role": "user", "content": [{"type": "text", "text": text_of(100, "a"),
                                           "cache_control": EPH}]}]
    base = req([sysblock(2100)], first)
    usage(emu, base)
    second = [*first, {"role": "assistant", "content": "ok"},
              {"role": "user", "content": [image, {"type": "text", "text": "what is it?",
                                                   "cache_control": EPH}]}]
    u = usage(emu, req([sysblock(2100)], second))
    # 1600 tokens per image (tokens.py); the system breakpoint still hits.
    assert buckets(u) == (0, 2100, 100 + 1 + 1600 + 3)


def test_automatic_caching_moves_the_breakpoint_forward(emu: Emulator) -> None:
    messages = [{"role": "user", "content": text_of(2500, "q1")}]
    assert buckets(usage(emu, req(None, messages, cache_control=EPH))) == (0, 0, 2500)
    messages += [{"role": "assistant", "content": text_of(10, "a1")},
                 {"role": "user", "content": text_of(20, "q2")}]
    assert buckets(usage(emu, req(None, messages, cache_control=EPH))) == (0, 2500, 30)


def test_cache_control_must_be_ephemeral_with_a_known_ttl(emu: Emulator) -> None:
    with pytest.raises(APIError, match="ttl"):
        usage(emu, req([sysblock(10, cc={"type": "ephemeral", "ttl": "2h"})]))
    with pytest.raises(APIError, match="ephemeral"):
        usage(emu, req([sysblock(10, cc={"type": "persistent"})]))
