"""Runs for the run and call page tests.

``timestamp_agent``: the real anthropic SDK with tokentrail's instrumentation against
the emulator (tests/instrumentation/conftest.py fixtures), an 8-turn conversation whose
system prompt gets a new timestamp on turn 5; its spans go through the real ingest path
(OTLP/HTTP into the collector, tests/analysis/conftest.py). The cache event on turn 5
(``system_changed``, the change a timestamp) is judged by the store from what the
instrumentation recorded, nothing written by hand.

``hand_run``: rows of ``llm_call_reports`` written directly (tests/analysis/calls.py),
for shapes the SDK cannot produce quickly (500 turns, an API diagnostic).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.analysis.calls import Call, insert, loop
from tests.emulator.helpers import text_of
from tokentrail.instrumentation import run

MODEL = "claude-sonnet-4-5"  # minimum cacheable prefix 1024 tokens (docs/facts.md §1)
CLOCK = "Current time: 2026-12-02T01:04:55Z."
EPH = {"type": "ephemeral"}


def timestamp_agent(client, exporter, otlp, *, name: str = "timestamp-agent",
                    turns: int = 8, changed_turn: int = 5) -> dict[str, Any]:
    """Run the agent; returns {"run_id", "ids" (response id per turn, in order)}."""
    handbook = text_of(3000, "handbook")
    messages: list[dict[str, Any]] = []
    ids = []
    with run(name):
        for turn in range(1, turns + 1):
            clock = CLOCK if turn < changed_turn else CLOCK.replace("01:04:55", "01:09:12")
            system = [{"type": "text", "text": handbook + " " + clock, "cache_control": EPH}]
            messages.append({"role": "user", "content": [
                {"type": "text", "text": f"Step {turn}: " + text_of(150, f"q{turn}"),
                 "cache_control": EPH}]})
            reply = client.messages.create(model=MODEL, max_tokens=64, system=system,
                                           messages=messages)
            # the breakpoint moves to the newest message, as agents do
            messages[-1]["content"][0].pop("cache_control")
            messages.append({"role": "assistant", "content": reply.content})
            ids.append(reply.id)
    otlp.traces(encode_spans(exporter.get_finished_spans()))
    exporter.clear()
    return {"ids": ids}


def hand_run(store, run_id: str, turns: int, **kwargs: Any) -> list[Call]:
    """A clean agent loop of ``turns`` calls written as report rows."""
    calls = loop(turns, **kwargs)
    insert(store, run_id, calls)
    return calls


def with_system_change(calls: list[Call], turn: int) -> list[Call]:
    """The loop with its system prompt changed from ``turn`` on (position 1, char 212,
    a timestamp), so ``turn`` reads nothing and writes everything again."""
    i = turn - 1
    before = calls[i]
    calls[i] = Call(turn, before.at, read=0, write_5m=before.read + before.write_5m, uncached=0,
                    system="S2", messages=before.messages, breakpoints=before.breakpoints,
                    ttls=before.ttls, prefix_tokens=before.prefix_tokens, change="system",
                    change_block=1, change_char=212, hint="timestamp")
    for later in calls[i + 1:]:
        later.system = "S2"
    return calls
