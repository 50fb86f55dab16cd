"""The scenario decides replies: default policy, rules, limits, formats."""

from __future__ import annotations

import json

import pytest

from tokentrail.emulator import Scenario
from tokentrail.emulator.faults import FaultInjector, parse
from tokentrail.emulator.scenario import DEFAULT_TEXT, DEFAULT_THINKING

from .helpers import toks

TOOL = {"name": "lookup", "description": "d",
        "input_schema": {"type": "object", "required": ["q", "n", "tags"],
                         "properties": {"q": {"type": "string"}, "n": {"type": "integer"},
                                        "tags": {"type": "array", "items": {"type": "string"}}}}}


def body(messages=None, **extra) -> dict:
    return {"model": "claude-sonnet-4-6", "max_tokens": 500,
            "messages": messages or [{"role": "user", "content": "go"}], **extra}


def test_default_policy_uses_a_tool_for_the_first_n_turns_after_a_prompt() -> None:
    scenario = Scenario(tool_turns=2)
    history = [{"role": "user", "content": "go"}]
    for _ in range(2):
        gen = scenario.decide(body(history, tools=[TOOL]))
        assert gen.stop_reason == "tool_use"
        call = gen.content[0]
        assert call["input"] == {"q": "example", "n": 1, "tags": []}  # from the schema
        history += [{"role": "assistant", "content": gen.content},
                    {"role": "user", "content": [{"type": "tool_result",
                                                  "tool_use_id": call["id"], "content": "r"}]}]
    assert scenario.decide(body(history, tools=[TOOL])).stop_reason == "end_turn"
    # A new human prompt starts a new count.
    history += [{"role": "assistant", "content": "done"}, {"role": "user", "content": "again"}]
    assert scenario.decide(body(history, tools=[TOOL])).stop_reason == "tool_use"


def test_tool_choice_is_respected() -> None:
    scenario = Scenario(tool_turns=0)
    other = {**TOOL, "name": "other"}
    assert scenario.decide(body(tools=[TOOL])).stop_reason == "end_turn"
    forced = scenario.decide(body(tools=[TOOL, other],
                                  tool_choice={"type": "tool", "name": "other"}))
    assert forced.content[0]["name"] == "other"
    assert scenario.decide(body(tools=[TOOL], tool_choice={"type": "any"})).stop_reason \
        == "tool_use"
    assert Scenario().decide(body(tools=[TOOL], tool_choice={"type": "none"})).stop_reason \
        == "end_turn"


def test_server_and_deferred_tools_are_never_called() -> None:
    tools = [{"type": "web_search_20250305", "name": "web_search"},
             {**TOOL, "defer_loading": True}]
    assert Scenario().decide(body(tools=tools)).stop_reason == "end_turn"


def test_thinking_block_comes_first_and_counts_as_output() -> None:
    gen = Scenario().decide(body(thinking={"type": "enabled", "budget_tokens": 1024},
                                 max_tokens=2000))
    assert [b["type"] for b in gen.content] == ["thinking", "text"]
    assert gen.thinking_tokens == toks(DEFAULT_THINKING)
    assert gen.output_tokens == toks(DEFAULT_THINKING) + toks(DEFAULT_TEXT)


def test_json_schema_output_format_gets_matching_json() -> None:
    schema = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
    gen = Scenario().decide(body(output_config={"format": {"type": "json_schema",
                                                           "schema": schema}}))
    assert json.loads(gen.content[0]["text"]) == {"title": "example"}


def test_tool_call_that_does_not_fit_max_tokens_is_cut() -> None:
    gen = Scenario().decide(body(tools=[TOOL], max_tokens=2))
    assert gen.stop_reason == "max_tokens" and gen.output_tokens <= 2
    assert all(b["type"] != "tool_use" for b in gen.content)


def test_rules_from_a_file(tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"tool_turns": 0, "rules": [
        {"when": {"turn": 2}, "reply": {"text": "second turn", "stop_reason": "pause_turn"}},
        {"when": {"has_tools": True}, "reply": {"tool": "*", "input": {"q": "x"}}},
    ]}))
    scenario = Scenario.load(path)
    assert scenario.decide(body(tools=[TOOL])).content[0]["input"] == {"q": "x"}
    turn2 = body([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                  {"role": "user", "content": "c"}])
    gen = scenario.decide(turn2)
    assert (gen.content[0]["text"], gen.stop_reason) == ("second turn", "pause_turn")


@pytest.mark.parametrize(("spec", "status", "headers"), [
    ("429", 429, {"retry-after": "1", "retry-after-ms": "1000"}),
    ("429:2.5", 429, {"retry-after": "3", "retry-after-ms": "2500"}),
    ("529", 529, {}), ("500", 500, {}), ("503", 503, {}),
])
def test_fault_specs(spec: str, status: int, headers: dict) -> None:
    fault = parse(spec)
    assert fault.error.status == status and fault.error.headers == headers


def test_fault_queue_and_header_precedence() -> None:
    faults = FaultInjector()
    faults.inject("slow:0.5,cut:3", times=2)
    assert faults.take("500").error.status == 500  # the header wins, queue untouched
    first = faults.take(None)
    assert (first.slow_seconds, first.cut_after) == (0.5, 3)
    assert faults.take(None) is not None and faults.take(None) is None
    with pytest.raises(ValueError, match="unknown fault"):
        faults.inject("teapot")
