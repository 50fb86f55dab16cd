"""Insights about what the calls are and how they are sent: batch_candidate,
model_routing_candidate, context_growth; and what-if totals against re-pricing the
calls one by one. Savings are checked against a re-pricing written here from the
published rates (docs/facts.md §2)."""

from __future__ import annotations

import pytest

from tests.analysis.insights_agents import (
    BATCH,
    END,
    START,
    Call,
    cost,
    findings,
    only,
    price,
    send,
)

REL = 1e-9


@pytest.fixture(scope="module")
def store(shared_store):
    return shared_store


@pytest.fixture(scope="module")
def otlp(shared_otlp):
    return shared_otlp



def test_batch_candidate(store, otlp):
    """Twelve independent single-call runs (a classifier over a queue)."""
    queue = [Call(f"q-{i}", 1, at=5.0 * i, uncached=2000 + 10 * i, output=60,
                  service="classifier") for i in range(12)]
    # Not exhibiting: too few of them; and multi-turn runs (each call needs the last).
    few = [Call(f"few-{i}", 1, at=5.0 * i, uncached=2000, output=60, service="rare")
           for i in range(4)]
    chats = [Call(f"conv-{r}", k, at=100.0 * r + 5 * k, uncached=300 * k, output=400,
                  service="conversations") for r in range(12) for k in range(1, 4)]
    send(otlp, queue + few + chats)

    rows = findings(store, "batch_candidate")
    assert {r["service_name"] for r in rows} == {"classifier"}, rows
    finding = rows[0]
    actual = sum(cost(c) for c in queue)
    as_batch = sum(cost(c, factor=BATCH) for c in queue)
    assert finding["scope"] == "service" and finding["calls"] == 12
    assert finding["confidence"] == "estimated"
    assert finding["cost_usd"] == pytest.approx(actual, rel=REL)
    assert finding["savings_usd"] == pytest.approx(actual - as_batch, rel=REL)
    assert len(finding["run_ids"]) == 5 and set(finding["run_ids"]) <= {c.run for c in queue}


def test_model_routing_candidate(store, otlp):
    """Opus answering yes/no questions, 30 times, in 3-turn runs."""
    model, cheap = "claude-opus-4-5", "claude-haiku-4-5"
    labels = [Call(f"label-{r}", k, at=50.0 * r + 3 * k, model=model, uncached=800 * k,
                   output=12, service="labeller") for r in range(10) for k in range(1, 4)]
    # Not exhibiting: long answers; tool use (an agent loop); a mix where mechanical calls
    # are the minority.
    essays = [Call(f"essay-{r}", k, at=50.0 * r + 3 * k, model=model, uncached=800 * k,
                   output=1500, service="writer") for r in range(10) for k in range(1, 4)]
    tools = [Call(f"tool-{r}", k, at=50.0 * r + 3 * k, model=model, uncached=800 * k,
                  output=40, stop="tool_use", service="tooling")
             for r in range(10) for k in range(1, 4)]
    mixed = [Call(f"mix-{r}", k, at=50.0 * r + 3 * k, model=model, uncached=800 * k,
                  output=12 if k == 1 else 900, service="mixed")
             for r in range(10) for k in range(1, 4)]
    send(otlp, labels + essays + tools + mixed)

    rows = findings(store, "model_routing_candidate")
    assert {r["service_name"] for r in rows} == {"labeller"}, rows
    finding = rows[0]
    assert finding["confidence"] == "needs_eval" and finding["model"] == model
    actual = sum(cost(c) for c in labels)
    routed = sum(cost(c, model=cheap) for c in labels)
    assert finding["calls"] == 30
    assert finding["savings_usd"] == pytest.approx(actual - routed, rel=REL)
    assert "against your evals" in finding["fix"] and cheap in finding["fix"]


def test_context_growth(store, otlp):
    """A cached conversation that grows by 15k tokens a turn, to 360k."""
    model = "claude-sonnet-4-6"
    totals = [60_000 + 15_000 * k for k in range(1, 21)]
    long_run = [Call("long", 1, at=0, w5=totals[0], output=500, service="research")]
    long_run += [Call("long", k, at=30.0 * (k - 1), read=totals[k - 2],
                      w5=totals[k - 1] - totals[k - 2], output=500, service="research")
                 for k in range(2, 21)]
    short = [Call("short", k, at=30.0 * k, read=20_000 * (k - 1), w5=20_000, output=500,
                  service="research") for k in range(1, 5)]
    send(otlp, long_run + short)

    finding = only(findings(store, "context_growth"), service_name="research")
    assert finding["run_ids"] == ["long"]
    # Compaction to 10k tokens after the first call over 100k (turn 3, 105k): every later
    # call carries 95k fewer tokens, all of them cache reads; the summarising call reads
    # 105k and writes 10k output tokens.
    actual = sum(cost(c) for c in long_run)
    alt = actual + price(model, read=totals[2], output=10_000)
    alt -= sum(price(model, read=95_000) for _ in long_run[3:])
    assert finding["savings_usd"] == pytest.approx(actual - alt, rel=REL)
    assert finding["cost_usd"] == pytest.approx(actual, rel=REL)


def test_whatif_equals_repricing_each_call(store, otlp):
    """What-if totals over a service equal the calls re-priced one by one."""
    model = "claude-sonnet-4-6"
    calls = [Call(f"w-{r}", k, at=400.0 * r + 30 * k, uncached=100 * k + r, read=3000 * k,
                  w5=500 + 7 * r, output=200 + r, service="whatif")
             for r in range(6) for k in range(1, 4)]
    send(otlp, calls)
    actual = sum(cost(c) for c in calls)

    batch = store.whatif("batch", START, END, service="whatif")
    assert batch["calls"] == len(calls) and batch["runs"] == 6
    assert batch["cost_usd"] == pytest.approx(actual, rel=REL)
    assert batch["whatif_cost_usd"] == pytest.approx(
        sum(cost(c, factor=BATCH) for c in calls), rel=REL)

    haiku = store.whatif("model", START, END, service="whatif",
                         routing_model="claude-haiku-4-5")
    assert haiku["whatif_cost_usd"] == pytest.approx(
        sum(cost(c, model="claude-haiku-4-5") for c in calls), rel=REL)
    assert haiku["savings_usd"] == pytest.approx(actual - haiku["whatif_cost_usd"], rel=REL)

    one_run = store.whatif("ttl_1h", START, END, run="w-2")
    mine = [c for c in calls if c.run == "w-2"]
    assert one_run["calls"] == 3
    # No gap over 5 minutes inside the run: only the write rate changes.
    assert one_run["whatif_cost_usd"] == pytest.approx(
        sum(price(model, c.uncached, c.read, 0, c.w5, c.output) for c in mine), rel=REL)

    with pytest.raises(ValueError, match="unknown scenario"):
        store.whatif("cheaper", START, END)
