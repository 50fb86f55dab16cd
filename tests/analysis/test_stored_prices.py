"""What ``serve`` stores follows a new price load: after a sync writes other prices (an
upgrade with a new prices.csv, a user's override), the ``cache_events`` view's
``extra_cost_usd`` and the insights' dollars are the new prices' at once (the runs
stored at the old prices are judged on read), and again once serve's passes stored
them again, at the new load. Every rate of the models used here is cut to a third,
so every dollar figure must be a third of what it was (issue 12/13: stored rows are a
speed-up, never a different answer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analysis import calls as hand
from tests.analysis.insights_agents import Call, findings, only, send
from tokentrail.analysis import price_file
from tokentrail.analysis.insights_refresh import AnalysisKeeper
from tokentrail.analysis.prices import sync

# A third of every published rate of the two Sonnets these tests use (docs/facts.md §2:
# $3 / $3.75 / $6 / $0.30 / $15 per million tokens).
THIRD = 1 / 3
HEADER = ",".join(price_file.COLUMNS)
CHEAPER = [
    "claude-sonnet-4-5,,,0,,1,1.25,2,0.10,5,0.5,,,10,0,unverified,a third of the list price",
    "claude-sonnet-4-6,,,0,,1,1.25,2,0.10,5,0.5,,1.1,10,0,unverified,a third of the list price",
]
REL = 1e-9


@pytest.fixture(scope="module")
def store(shared_store):
    return shared_store


@pytest.fixture(scope="module")
def otlp(shared_otlp):
    return shared_otlp


@pytest.fixture
def cheaper(store, tmp_path) -> Iterator[Path]:
    """A price file with a third of the rates; the packaged prices are loaded again
    after the test (a new load of its own), so the module's other tests see them."""
    path = tmp_path / "cheaper.csv"
    path.write_text(HEADER + "\n" + "\n".join(CHEAPER) + "\n")
    yield path
    sync(store.client, [])


def _latest_load(store) -> int:
    return int(store.query("SELECT max(load_id) AS l FROM model_price_slots")[0]["l"])


def _state_load(store, table: str, run: str) -> int:
    rows = store.query(f"SELECT price_load FROM {table} FINAL "
                       "WHERE run_id = {r:String}", {"r": run})
    assert len(rows) == 1, f"{run}: {len(rows)} rows in {table}"
    return int(rows[0]["price_load"])


def _view_costs(store, run: str) -> list[float]:
    return [r["extra_cost_usd"] for r in store.query(
        "SELECT extra_cost_usd FROM cache_events WHERE run_id = {r:String} "
        "ORDER BY timestamp, call_id", {"r": run})]


def _stored_costs(store, run: str) -> list[float]:
    return [r["extra_cost_usd"] for r in store.query(
        "SELECT extra_cost_usd FROM cache_events_stored FINAL WHERE run_id = {r:String} "
        "ORDER BY timestamp, call_id", {"r": run})]


def _runs_page_cost(store, run: str) -> float:
    """What the runs page says the run's cache events cost (the run rollup)."""
    rows, _ = store.run_list(limit=1000)
    return only(rows, run_id=run)["events_cost_usd"]


def test_cache_events_follow_a_new_price_load(store, cheaper):
    calls = hand.loop(6)
    calls[5].at = calls[4].at + 400  # the 5-minute cache expired: re-written
    calls[5].write_5m += calls[5].read
    calls[5].read = 0
    run = "prices-ttl-run"
    hand.insert(store, run, calls)
    missed = calls[4].read + calls[4].write_5m
    listed = missed * (3.75 - 0.30) / 1e6
    store.refresh_cache_events(margin_seconds=0, max_runs=10_000)
    store.refresh_run_rollup(margin_seconds=0, max_runs=10_000)
    assert _stored_costs(store, run) == [pytest.approx(listed, rel=REL)]
    assert _view_costs(store, run) == [pytest.approx(listed, rel=REL)]
    assert _runs_page_cost(store, run) == pytest.approx(listed, rel=REL)
    old_load = _latest_load(store)

    assert sync(store.client, [cheaper]).loaded
    assert _latest_load(store) > old_load
    # At once: the run was stored at the old prices, so it is judged on read.
    new = [pytest.approx(listed * THIRD, rel=REL)]
    assert _view_costs(store, run) == new
    assert [e["extra_cost_usd"] for e in store.cache_events(run)] == new
    assert _runs_page_cost(store, run) == pytest.approx(listed * THIRD, rel=REL)
    assert _stored_costs(store, run) == [pytest.approx(listed, rel=REL)]  # not stored yet

    # serve's pass stores the run again, at the new load.
    assert store.refresh_cache_events(margin_seconds=0, max_runs=10_000) >= 1
    assert _stored_costs(store, run) == new
    assert _state_load(store, "cache_event_runs", run) == _latest_load(store)
    assert _view_costs(store, run) == new
    assert [e["extra_cost_usd"] for e in store.cache_events(run)] == new
    store.refresh_run_rollup(margin_seconds=0, max_runs=10_000)
    assert _runs_page_cost(store, run) == pytest.approx(listed * THIRD, rel=REL)


def _prefix_finding(store) -> dict:
    return only(findings(store, "uncached_prefix"), service_name="prices-prefix")


def test_insights_follow_a_new_price_load(store, otlp, cheaper):
    seed = [Call("prices-seed", k, at=30.0 * k, uncached=40_000 + 500 * k, output=200,
                 service="prices-prefix") for k in range(1, 13)]
    send(otlp, seed)
    AnalysisKeeper(store, margin=0.0, max_runs=10_000).finish()
    listed = _prefix_finding(store)
    assert listed["cost_usd"] > 0 and listed["savings_usd"] > 0
    listed_cost = store.query("SELECT sum(run_cost) AS c FROM insight_facts FINAL "
                              "WHERE run_id = 'prices-seed'")[0]["c"]

    assert sync(store.client, [cheaper]).loaded
    now = _prefix_finding(store)  # judged on read: stored at the old prices
    assert now["cost_usd"] == pytest.approx(listed["cost_usd"] * THIRD, rel=REL)
    assert now["savings_usd"] == pytest.approx(listed["savings_usd"] * THIRD, rel=REL)

    AnalysisKeeper(store, margin=0.0, max_runs=10_000).finish()
    stored = _prefix_finding(store)
    assert stored["cost_usd"] == pytest.approx(listed["cost_usd"] * THIRD, rel=REL)
    assert stored["savings_usd"] == pytest.approx(listed["savings_usd"] * THIRD, rel=REL)
    assert store.query("SELECT sum(run_cost) AS c FROM insight_facts FINAL "
                       "WHERE run_id = 'prices-seed'")[0]["c"] == pytest.approx(
                           listed_cost * THIRD, rel=REL)
    assert _state_load(store, "insight_runs", "prices-seed") == _latest_load(store)
    # The view serves the same findings.
    view = store.query("SELECT cost_usd, savings_usd FROM insights "
                       "WHERE kind = 'uncached_prefix' AND service_name = 'prices-prefix'")
    assert view == [{"cost_usd": pytest.approx(stored["cost_usd"], rel=REL),
                     "savings_usd": pytest.approx(stored["savings_usd"], rel=REL)}]
