"""Prefix fingerprints without the network: hashes, estimates, breakpoints, what changed,
and the O(new content) property (counted, not timed)."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import text_of, toks
from tokentrail import semconv as sc
from tokentrail.instrumentation import attributes as at
from tokentrail.instrumentation import fingerprint, threads
from tokentrail.instrumentation.config import Settings
from tokentrail.instrumentation.tracker import Tracker

EPH = {"type": "ephemeral"}
TOOL = {"name": "grep", "description": "search", "input_schema": {"type": "object"}}


def reply(call, text="ok", msg_id="msg_1"):
    call.record_message({"id": msg_id, "content": [{"type": "text", "text": text}],
                         "usage": {"input_tokens": 1, "output_tokens": 1}})
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def begin(tracker, *args):
    """``Tracker.begin``: the call, with its analysis done."""
    return tracker.begin(*args)


def body(messages, **kw):
    return {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": messages, **kw}


def test_dict_and_sdk_model_blocks_hash_alike() -> None:
    anthropic = pytest.importorskip("anthropic")
    model = anthropic.types.TextBlock(type="text", text="hello", citations=None)
    as_dict = fingerprint.canonical({"type": "text", "text": "hello"})
    assert fingerprint.canonical(model) == as_dict
    assert fingerprint.canonical("hello") == as_dict


def test_estimates_follow_the_emulator_rule() -> None:
    text = text_of(123, "t") + "é"
    assert fingerprint.canonical(text)[2] == toks(text)
    tool_text = fingerprint.compact_json(TOOL)
    assert fingerprint.tool_fingerprint({**TOOL, "cache_control": EPH}) == (
        fingerprint.block_hash("tool", tool_text), toks(tool_text))


def test_blocks_breakpoints_ttls_and_window() -> None:
    tracker = Tracker(Settings(window=3))
    system = [{"type": "text", "text": "s1"}, {"type": "text", "text": "s2" * 10,
                                               "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "a" * 40},
        {"type": "text", "text": "b" * 8, "cache_control": EPH}]}]
    call = begin(tracker, body(messages, tools=[TOOL], system=system, cache_control=EPH),
                         None, False)
    a = call.attrs
    # tools[0], system[0], system[1], messages[0].content[0], messages[0].content[1]
    assert a[at.PREFIX_BLOCK_COUNT] == 5 and a[at.PREFIX_MESSAGE_COUNT] == 1
    assert a[sc.CACHE_BREAKPOINTS] == "2,4,4"  # system, message block, automatic (last)
    assert at.split_list(a[sc.CACHE_TTLS]) == ["1h", "5m", "5m"]
    tool_tokens = toks(fingerprint.compact_json(TOOL))
    assert at.split_list(a[at.CACHE_BREAKPOINT_TOKENS], int) == [
        tool_tokens + 1 + 5, tool_tokens + 1 + 5 + 10 + 2, tool_tokens + 18]
    assert a[at.PREFIX_TOKENS] == tool_tokens + 1 + 5 + 10 + 2
    # The window: the last 3 blocks.
    assert at.split_list(a[sc.PREFIX_BLOCK_TOKENS], int) == [5, 10, 2]
    assert len(at.split_list(a[sc.PREFIX_BLOCK_HASHES])) == 3
    assert a[at.CACHE_AUTOMATIC] is True


def test_cache_control_does_not_change_hashes() -> None:
    tracker = Tracker(Settings())
    plain = begin(tracker, body([{"role": "user", "content": [{"type": "text", "text": "x"}]}]),
                          None, False).attrs
    marked = begin(tracker, body([{"role": "user", "content": [
        {"type": "text", "text": "x", "cache_control": EPH}]}]), None, False).attrs
    assert plain[sc.PREFIX_MESSAGE_HASHES] == marked[sc.PREFIX_MESSAGE_HASHES]
    assert plain[sc.CACHE_BREAKPOINTS] == "" and marked[sc.CACHE_BREAKPOINTS] == "0"


def test_what_changed_system_char_tools_params_messages() -> None:
    from tokentrail.instrumentation import run

    tracker = Tracker(Settings())
    messages = [{"role": "user", "content": "q1"}]
    with run("r"):
        system = "You are helpful. Today is 2026-11-24 10:00."
        call = begin(tracker, body(messages, system=system, tools=[TOOL]), None, False)
        messages.append(reply(call))
        messages.append({"role": "user", "content": "q2"})
        edited = system.replace("10:00", "10:05")
        changed = begin(tracker, body(messages, system=edited, tools=[TOOL]), None, False).attrs
        assert changed[at.CHANGE_LEVEL] == "system"
        assert changed[at.CHANGE_BLOCK] == 1  # after the one tool block
        assert changed[at.CHANGE_CHAR] == system.index("10:00") + 4
        tools2 = [{**TOOL, "description": "search files"}]
        changed = begin(tracker, body(messages, system=edited, tools=tools2), None, False).attrs
        assert (changed[at.CHANGE_LEVEL], changed[at.CHANGE_BLOCK]) == ("tools", 0)
        changed = begin(tracker, body(messages, system=edited, tools=tools2,
                                     tool_choice={"type": "any"}), None, False).attrs
        assert changed[at.CHANGE_LEVEL] == "params"
        assert at.split_list(changed[at.CHANGE_PARAMS]) == ["tool_choice"]
        rewritten = [messages[0], {"role": "assistant", "content": "ok, edited"}, messages[2]]
        changed = begin(tracker, body(rewritten, system=edited, tools=tools2,
                                     tool_choice={"type": "any"}), None, False).attrs
        assert (changed[at.CHANGE_LEVEL], changed[at.CHANGE_MESSAGE]) == ("messages", 1)
        assert changed[at.CHANGE_BLOCK] == 1 + 1 + 1  # tool, system, messages[0]
        assert changed[at.CHANGE_CHAR] == 2


def test_in_place_tool_edit_is_seen() -> None:
    tracker = Tracker(Settings())
    tools = [dict(TOOL)]
    first = begin(tracker, body([{"role": "user", "content": "q"}], tools=tools), None, False)
    tools[0]["description"] = "changed in place"
    second = begin(tracker, body([{"role": "user", "content": "q"}], tools=tools), None, False)
    assert first.attrs[sc.PREFIX_TOOLS_HASH] != second.attrs[sc.PREFIX_TOOLS_HASH]


def test_moving_the_breakpoint_forward_is_seen() -> None:
    tracker = Tracker(Settings())
    messages = [{"role": "user", "content": [{"type": "text", "text": "q1", "cache_control": EPH}]}]
    call = begin(tracker, body(messages), None, False)
    assert at.split_list(call.attrs[sc.CACHE_BREAKPOINTS], int) == [0]
    messages.append(reply(call))
    del messages[0]["content"][0]["cache_control"]  # in place, as agents do
    messages.append({"role": "user", "content": [{"type": "text", "text": "q2",
                                                   "cache_control": EPH}]})
    call = begin(tracker, body(messages), None, False)
    assert at.split_list(call.attrs[sc.CACHE_BREAKPOINTS], int) == [2]


def test_hashing_is_proportional_to_new_messages(monkeypatch) -> None:
    """300 turns: each call fingerprints only the messages it adds (counted, not timed)."""
    hashed = []
    original = threads.message_fingerprint

    def counting(message):
        hashed.append(message)
        return original(message)

    monkeypatch.setattr(threads, "message_fingerprint", counting)
    tracker = Tracker(Settings())
    messages: list = []
    per_call = []
    for i in range(300):
        messages.append({"role": "user", "content": text_of(50, f"u{i}")})
        before = len(hashed)
        call = begin(tracker, body(messages), None, False)
        per_call.append(len(hashed) - before)
        messages.append(reply(call, text=f"answer {i}", msg_id=f"msg_{i}"))
        assert call.attrs[sc.TURN] == i + 1
        assert call.attrs[at.PREFIX_MESSAGE_COUNT] == len(messages) - 1
        hashes = at.split_list(call.attrs[sc.PREFIX_MESSAGE_HASHES])
        assert len(hashes) == min(20, len(messages) - 1)
    # First call: 1 message. Then: the previous reply + the new question.
    assert per_call[0] == 1 and set(per_call[1:]) == {2}


def test_list_attributes_are_comma_joined_strings() -> None:
    """One string per list attribute (one OTel check, not one per element); the store
    splits it back (tokentrail/store/normalize.py), so no element may hold a comma."""
    tracker = Tracker(Settings())
    messages = [{"role": "user", "content": [{"type": "text", "text": "q", "cache_control": EPH}]}]
    a = begin(tracker, body(messages, system="s", cache_control=EPH), None, False).attrs
    for name in (sc.PREFIX_MESSAGE_HASHES, sc.PREFIX_BLOCK_HASHES, sc.PREFIX_BLOCK_TOKENS,
                 sc.CACHE_BREAKPOINTS, sc.CACHE_TTLS, at.CACHE_BREAKPOINT_TOKENS):
        assert isinstance(a[name], str) and a[name]
        assert at.split_list(a[name]) == a[name].split(",")
    assert len(at.split_list(a[sc.PREFIX_BLOCK_HASHES])) == a[at.PREFIX_BLOCK_COUNT]
    assert at.split_list(a[sc.CACHE_TTLS]) == ["5m", "5m"]
    assert at.split_list("") == [] and at.split_list(["x", "y"]) == ["x", "y"]
