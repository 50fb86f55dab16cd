"""``recurring_invalidation``: the real anthropic SDK with tokentrail's instrumentation
against the emulator, spans through the real ingest path, ``cache_events`` (issue 12)
and the finding built on them."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.analysis.insights_agents import END, START, findings
from tests.emulator.helpers import text_of
from tests.instrumentation.conftest import (  # noqa: F401  (fixtures used by name)
    client,
    emu,
    exporter,
    instrumentor,
    provider,
)
from tokentrail.instrumentation import run

MODEL = "claude-sonnet-4-6"
R_W5, R_READ = 3.75, 0.30  # docs/facts.md §2, Sonnet 4.6, USD per million


def _agent(api, run_id: str, stamps: list[str], static: str) -> list:
    """Turns whose cached system prompt starts with a timestamp that changes."""
    usages, messages = [], []
    with run("stamped", run_id=run_id):
        for i, stamp in enumerate(stamps):
            messages.append({"role": "user", "content": f"question {i} of {run_id}"})
            system = [{"type": "text", "text": f"Now: {stamp}. {static}",
                       "cache_control": {"type": "ephemeral"}}]
            reply = api.messages.create(model=MODEL, max_tokens=16, system=system,
                                           messages=messages)
            messages.append({"role": "assistant", "content": reply.content})
            usages.append(reply.usage)
    return usages


def test_recurring_invalidation(store, otlp, client, exporter):  # noqa: F811
    static = text_of(3000, "policy")
    stamped = {f"stamp-{r}": _agent(client, f"stamp-{r}",
                                    [f"2026-11-24T10:0{r}:00", f"2026-11-24T10:0{r}:30"],
                                    static) for r in range(3)}
    # Not exhibiting: the same agent with a stable system prompt (reads every turn).
    stable = _agent(client, "stable", ["2026-11-24", "2026-11-24"], static)
    assert stable[1].cache_read_input_tokens > 0
    otlp.traces(encode_spans(exporter.get_finished_spans()))

    events = store.query("SELECT run_id, cause FROM cache_events ORDER BY run_id")
    assert {(e["run_id"], e["cause"]) for e in events} == {
        (f"stamp-{r}", "system_changed") for r in range(3)}

    rows = findings(store, "recurring_invalidation")
    assert len(rows) == 1, rows
    finding = rows[0]
    assert finding["confidence"] == "measured" and finding["scope"] == "service"
    assert sorted(finding["run_ids"]) == sorted(stamped)
    assert finding["calls"] == 3
    # Where: the system prompt's block (changed_message is NULL by design for a system
    # change, not an unrecorded place).
    assert finding["detail"].startswith("system_changed in 3 runs: at prefix block 0; "), \
        finding["detail"]
    assert "unrecorded" not in finding["detail"] and "message" not in finding["detail"]
    # Each second turn wrote again what the first had cached: those tokens priced as
    # 5m writes instead of reads.
    missed = sum(u[0].cache_creation_input_tokens for u in stamped.values())
    assert all(u[1].cache_read_input_tokens == 0 for u in stamped.values())
    assert finding["savings_usd"] == pytest.approx(missed * (R_W5 - R_READ) / 1e6, rel=1e-9)
    assert START < finding["first_seen"].replace(tzinfo=START.tzinfo) < END
