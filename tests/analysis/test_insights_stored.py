"""``insights`` from the facts ``serve`` stores per run and day (insight_facts, migration
9): the same findings as judging on read, current as soon as calls arrive (runs not
judged since are judged on read), and a stored write that a later call of another run
reads stops counting as unread after the next pass."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.analysis.insights_agents import END, START, Call, findings, only, send
from tests.otlp import NOW_NS
from tokentrail.analysis import insights_store
from tokentrail.analysis.insights_refresh import AnalysisKeeper

REL = 1e-9


@pytest.fixture(scope="module")
def store(shared_store):
    return shared_store


@pytest.fixture(scope="module")
def otlp(shared_otlp):
    return shared_otlp


def _pass(store) -> None:
    """serve's passes until nothing is left to judge (what it does when it stops)."""
    AnalysisKeeper(store, margin=0.0, max_runs=10_000).finish()


def _dirty(store) -> set[str]:
    return {r["run_id"] for r in store.query(insights_store.dirty_runs_select())}


def _key(rows: list[dict]) -> list[tuple]:
    return sorted((r["kind"], r["scope"], r["service_name"], r["model"], tuple(r["run_ids"]),
                   r["calls"], round(r["cost_usd"], 12), round(r["savings_usd"], 12),
                   r["detail"]) for r in rows)


def _facts(store, run: str) -> list[dict]:
    return store.query("SELECT * FROM insight_facts FINAL WHERE run_id = {r:String} "
                       "ORDER BY day, model", {"r": run})


def test_stored_findings_equal_those_judged_on_read(store, otlp):
    seed = [Call("st-seed", k, at=30.0 * k, uncached=40_000 + 500 * k, output=200,
                 service="st-prefix") for k in range(1, 13)]
    queue = [Call(f"st-q-{i}", 1, at=5.0 * i, uncached=2000 + 10 * i, output=60,
                  service="st-classifier") for i in range(12)]
    jobs = [Call(f"st-job-{i}", 1, at=7200.0 * i, w1=8000, uncached=30, output=40,
                 service="st-nightly") for i in range(5)]
    send(otlp, seed + queue + jobs)
    assert {c.run for c in seed + queue + jobs} <= _dirty(store)
    on_read = store.insights(START, END)

    _pass(store)
    assert not _dirty(store)
    assert len(_facts(store, "st-seed")) == 1 and _facts(store, "st-seed")[0]["n"] == 12
    stored = store.insights(START, END)
    assert _key(stored) == _key(on_read)
    assert {"uncached_prefix", "batch_candidate", "unread_cache_writes"} <= {
        r["kind"] for r in stored}

    # Calls arriving for a stored run: it is judged on read at once, with all its calls.
    more = [Call("st-seed", k, at=30.0 * k, uncached=40_000 + 500 * k, output=200,
                 service="st-prefix") for k in range(13, 16)]
    send(otlp, more)
    assert "st-seed" in _dirty(store)
    assert only(findings(store, "uncached_prefix"), service_name="st-prefix")["calls"] == 15
    _pass(store)
    assert _facts(store, "st-seed")[0]["n"] == 15
    assert only(findings(store, "uncached_prefix"), service_name="st-prefix")["calls"] == 15


def test_a_later_read_of_another_run_clears_a_stored_unread_write(store, otlp):
    """Three runs write a 1h entry that nobody reads: unread_cache_writes. Then runs of
    the same service and model read within the hour after each write: the writes were
    read after all, and the next pass re-judges the stored runs that wrote them."""
    writers = [Call(f"st-w-{i}", 1, at=10_000.0 * i, w1=9000, uncached=20, output=30,
                    service="st-shared") for i in range(3)]
    send(otlp, writers)
    _pass(store)
    assert only(findings(store, "unread_cache_writes"), service_name="st-shared")["calls"] == 3
    assert all(_facts(store, c.run)[0]["unread_writes"] == 1 for c in writers)

    readers = [Call(f"st-r-{i}", 1, at=10_000.0 * i + 1200, read=9000, uncached=20, output=30,
                    service="st-shared") for i in range(3)]
    send(otlp, readers)
    _pass(store)
    assert all(_facts(store, c.run)[0]["unread_writes"] == 0 for c in writers)
    assert [r for r in findings(store, "unread_cache_writes")
            if r["service_name"] == "st-shared"] == []


def test_a_run_over_midnight_counts_by_its_days_first_calls(store, otlp):
    """Facts are per UTC day: a range holds the days of a run whose first call it holds,
    and the run's windows (its first call, its growth) span all its calls."""
    midnight = (NOW_NS // (86400 * 10**9) + 1) * 86400  # seconds, the next UTC midnight
    at = midnight - NOW_NS / 1e9
    calls = [Call("st-night", k, at=at + 60.0 * (k - 6), uncached=30_000 + 2000 * k,
                  output=100, service="st-night") for k in range(1, 11)]
    send(otlp, calls)
    _pass(store)
    days = _facts(store, "st-night")
    assert [d["n"] for d in days] == [5, 5]
    whole = only(findings(store, "uncached_prefix"), service_name="st-night")
    assert whole["calls"] == 10
    second_day = store.insights(days[1]["first_ts"] - timedelta(seconds=1), END,
                                kinds=["uncached_prefix"])
    late = only(second_day, service_name="st-night")
    assert late["calls"] == 5 and late["cost_usd"] < whole["cost_usd"]
