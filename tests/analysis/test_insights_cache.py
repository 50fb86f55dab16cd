"""Insights about the prompt cache: uncached_prefix, growing_uncached_input,
ttl_too_short, unread_cache_writes. Each test sends agents that exhibit the kind and
agents that do not (their own service or run), and checks the finding's savings
against a re-pricing written here from the published rates (docs/facts.md §2)."""

from __future__ import annotations

import itertools

import pytest

from tests.analysis.insights_agents import Call, cost, findings, only, price, send

REL = 1e-9


@pytest.fixture(scope="module")
def store(shared_store):
    return shared_store


@pytest.fixture(scope="module")
def otlp(shared_otlp):
    return shared_otlp



def test_uncached_prefix_the_seed_case(store, otlp):
    """A 40k-token system prompt on 12 turns of a growing conversation, nothing cached."""
    model, turns = "claude-sonnet-4-6", 12
    seed = [Call("seed", k, at=30.0 * k, uncached=40_000 + 500 * k, output=200,
                 service="prefix") for k in range(1, turns + 1)]
    # Not exhibiting: the same run shape with caching on; one below the model's minimum
    # (2048 for Sonnet 4.6, docs/facts.md §1); one whose turns are hours apart.
    cached = [Call("cached", 1, at=0, w5=40_500, output=200, service="prefix")] + [
        Call("cached", k, at=30.0 * k, read=40_000 + 500 * (k - 1), w5=500, output=200,
             service="prefix") for k in range(2, 6)]
    small = [Call("small", k, at=30.0 * k, uncached=500 + 50 * k, output=20,
                  service="prefix") for k in range(1, 6)]
    slow = [Call("slow", k, at=7200.0 * k, uncached=40_000 + 500 * k, output=200,
                 service="prefix") for k in range(1, 6)]
    send(otlp, seed + cached + small + slow)

    rows = findings(store, "uncached_prefix")
    finding = only(rows, service_name="prefix")
    assert finding["scope"] == "run" and finding["run_ids"] == ["seed"]
    assert finding["model"] == model and finding["calls"] == turns
    assert finding["confidence"] == "estimated"
    # Re-priced: turn 1 writes its prompt (5m); every later turn reads the previous
    # prompt and writes what was added.
    actual = sum(cost(c) for c in seed)
    alt = price(model, w5=seed[0].total_in, output=seed[0].output)
    for prev, c in itertools.pairwise(seed):
        alt += price(model, read=prev.total_in, w5=c.total_in - prev.total_in, output=c.output)
    assert finding["cost_usd"] == pytest.approx(actual, rel=REL)
    assert finding["savings_usd"] == pytest.approx(actual - alt, rel=REL)
    assert "11 of 12 calls" in finding["detail"]
    assert "cache_control" in finding["fix"]


def test_growing_uncached_input(store, otlp):
    """The system prompt is cached, the conversation after it is not."""
    model = "claude-sonnet-4-6"
    grow, inputs = [], [1000]
    for _ in range(2, 8):
        inputs.append(inputs[-1] + 300 + 200)  # previous output + a new user message
    for k, uncached in enumerate(inputs, start=1):
        grow.append(Call("grow", k, at=20.0 * k, uncached=uncached, output=300,
                         read=5000 if k > 1 else 0, w5=0 if k > 1 else 5000,
                         service="growing"))
    # Not exhibiting: a cached conversation whose uncached input stays flat.
    flat = [Call("flat", k, at=20.0 * k, uncached=100, read=5000 if k > 1 else 0,
                 w5=0 if k > 1 else 5000, output=300, service="growing")
            for k in range(1, 8)]
    send(otlp, grow + flat)

    finding = only(findings(store, "growing_uncached_input"), service_name="growing")
    assert finding["run_ids"] == ["grow"] and finding["scope"] == "run"
    actual = sum(cost(c) for c in grow)
    alt = 0.0
    for i, c in enumerate(grow):
        carried = grow[i - 1].uncached if i else 0  # the last message's breakpoint
        alt += price(model, uncached=0, read=c.read + carried, w5=c.w5 + c.uncached - carried,
                     output=c.output)
    assert finding["savings_usd"] == pytest.approx(actual - alt, rel=REL)
    assert finding["cost_usd"] == pytest.approx(actual, rel=REL)


def test_ttl_too_short(store, otlp):
    """Humans in the loop: 10 minutes between turns, the 5m entry gone every time."""
    model = "claude-sonnet-4-6"
    loop = []
    for r in range(4):
        run = f"human-{r}"
        base = 20_000.0 * r
        loop += [Call(run, 1, at=base, w5=10_000, uncached=50, output=100, service="humans"),
                 Call(run, 2, at=base + 600, w5=10_050, uncached=50, output=100,
                      service="humans"),
                 Call(run, 3, at=base + 630, read=20_050, w5=150, uncached=50, output=100,
                      service="humans")]
    # Not exhibiting: one minute between turns (the 5m TTL is enough), or two hours
    # (a 1h TTL would not help either).
    quick, idle = [], []
    for r in range(4):
        quick += [Call(f"quick-{r}", k, at=20_000.0 * r + 60 * k, w5=10_000 if k == 1 else 100,
                       read=0 if k == 1 else 10_000, output=100, service="quick")
                  for k in range(1, 4)]
        idle += [Call(f"idle-{r}", k, at=30_000.0 * r + 7200 * k, w5=10_000, output=100,
                      service="idle") for k in range(1, 4)]
    send(otlp, loop + quick + idle)

    rows = findings(store, "ttl_too_short")
    assert {r["service_name"] for r in rows} == {"humans"}, rows
    finding = rows[0]
    assert finding["scope"] == "service" and finding["model"] == model
    writing = [c for c in loop if c.w5]
    actual = sum(cost(c) for c in writing)
    # With 1h writes: every 5m write costs the 1h rate, and the 10,000 tokens re-written
    # after each 10-minute gap are read instead.
    alt = 0.0
    for c in writing:
        rewritten = min(c.w5, 10_000) if c.turn == 2 else 0  # what turn 1 had cached
        alt += price(model, uncached=c.uncached, read=c.read + rewritten,
                     w1=c.w5 - rewritten, output=c.output)
    assert finding["calls"] == len(writing)
    assert finding["cost_usd"] == pytest.approx(actual, rel=REL)
    assert finding["savings_usd"] == pytest.approx(actual - alt, rel=REL)
    assert finding["savings_usd"] > 0


def test_unread_cache_writes(store, otlp):
    """1h writes of a job that runs every two hours: nobody ever reads them."""
    model = "claude-sonnet-4-6"
    jobs = [Call(f"job-{i}", 1, at=7200.0 * i, w1=8000, uncached=30, output=40,
                 service="nightly") for i in range(5)]
    # Not exhibiting: each write is read by the next turn within seconds, and the last
    # turn writes nothing.
    chat = []
    for r in range(3):
        chat += [Call(f"chat-{r}", 1, at=1000.0 * r, w5=6000, output=50, service="chat"),
                 Call(f"chat-{r}", 2, at=1000.0 * r + 10, read=6000, w5=400, output=50,
                      service="chat"),
                 Call(f"chat-{r}", 3, at=1000.0 * r + 20, read=6400, uncached=90, output=50,
                      service="chat")]
    send(otlp, jobs + chat)

    rows = findings(store, "unread_cache_writes")
    assert "chat" not in {r["service_name"] for r in rows}
    finding = only(rows, service_name="nightly")
    actual = sum(cost(c) for c in jobs)
    alt = sum(price(model, uncached=c.uncached + c.w1, output=c.output) for c in jobs)
    assert finding["calls"] == 5
    assert finding["cost_usd"] == pytest.approx(actual, rel=REL)
    assert finding["savings_usd"] == pytest.approx(actual - alt, rel=REL)
    assert "40000 of 40000 written tokens, 40000 of them 1h" in finding["detail"]
