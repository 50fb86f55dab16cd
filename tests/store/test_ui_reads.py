"""The web UI's reads (tokentrail/store/ui_reads.py) against data ingested for real:
OTLP spans through the collector's HTTP app, Claude Code's captured export (three
families of reports for one session), and hand-written report rows for cache events.

The oracle is the ``llm_calls`` and ``cache_events`` views: every number a page shows
must be what plain SQL over those views says, when the runs are computed on read, and
again after ``serve``'s rollup pass stored them (tokentrail/store/run_rollup.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from tests.analysis.calls import START, Call, insert, loop
from tests.analysis.conftest import collector
from tests.otlp import NOW_NS
from tests.store.stores import ingest_sample
from tokentrail.store import Store, run_rollup

UTC = dt.timezone.utc
DAY_NS = 86_400 * 10**9


def _events_run() -> list[Call]:
    """Five turns whose fourth comes after the 5-minute TTL: one ttl_expired event."""
    calls = loop(5)
    for later in calls[3:]:
        later.at += 400
    calls[3].write_5m += calls[3].read
    calls[3].read = 0
    return calls


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Iterator[Store]:
    store = Store.open(f"chdb://{tmp_path_factory.mktemp('ui-reads') / 'data'}")
    try:
        with collector(store) as otlp:
            run = {"tokentrail.run.id": "parent", "tokentrail.run.name": "triage"}
            otlp.call("msg_p1", model="claude-sonnet-4-5", uncached=100, read=2000,
                      write_5m=300, output=50, start_ns=NOW_NS, **run)
            otlp.call("msg_p2", model="claude-sonnet-4-5", uncached=10, read=2300,
                      write_1h=400, output=70, start_ns=NOW_NS + 5 * 10**9, **run)
            # The same call reported twice: one call in every read.
            otlp.call("msg_p2", model="claude-sonnet-4-5", uncached=10, read=2300,
                      write_1h=400, output=70, start_ns=NOW_NS + 5 * 10**9, **run)
            otlp.call("msg_c1", model="claude-haiku-4-5", uncached=500, output=20,
                      start_ns=NOW_NS + DAY_NS, **{"tokentrail.run.id": "child",
                                                   "tokentrail.run.parent_id": "parent"})
            otlp.call("msg_u1", model="claude-unreleased-9", uncached=10, output=1,
                      start_ns=NOW_NS + 2 * DAY_NS, **{"tokentrail.run.id": "unpriced"})
        ingest_sample(store)  # Claude Code: event, span and transcript families
        insert(store, "events-run", _events_run())
        insert(store, "clean-run", loop(3, at=3600))
        yield store
    finally:
        store.close()


@pytest.fixture(params=["on read", "on read, a backlog", "stored"])
def ui(request, db: Store, monkeypatch) -> Store:
    """The same store read with every run computed on read (as a few runs in progress,
    their events read on their own; and as a backlog, joined with the cache_events
    view), then with every run stored by serve's rollup pass (a pass is idempotent:
    the next one redoes none)."""
    if request.param == "on read, a backlog":
        monkeypatch.setattr(run_rollup, "FEW_RUNS", 0)
    if request.param.startswith("on read"):
        db.client.command("TRUNCATE TABLE run_rollup")
        db.client.command("TRUNCATE TABLE run_rollup_runs")
    else:
        db.refresh_cache_events(margin_seconds=0, max_runs=10_000)
        db.refresh_run_rollup(margin_seconds=0, max_runs=10_000)
        assert db.refresh_run_rollup(margin_seconds=0, max_runs=10_000) == 0
        assert db.query("SELECT count() AS n FROM run_rollup")[0]["n"] > 0
    return db


def _expected_runs(db: Store) -> dict[str, dict[str, Any]]:
    """Run rows computed the plain way, over the views."""
    rows = db.query("""
        SELECT c.run_id AS run_id, anyIf(c.run_name, c.run_name != '') AS run_name,
               arraySort(groupUniqArrayIf(c.model, c.model != '')) AS models,
               anyIf(c.parent_run_id, c.parent_run_id != '') AS parent_run_id,
               count() AS calls, sum(c.input_tokens) AS input_tokens,
               sum(c.cache_read_tokens) AS cache_read_tokens,
               sum(c.cache_write_5m_tokens) AS cache_write_5m_tokens,
               sum(c.cache_write_1h_tokens) AS cache_write_1h_tokens,
               sum(c.output_tokens) AS output_tokens,
               if(countIf(c.cost_usd IS NULL) > 0, NULL, sum(c.cost_usd)) AS cost_usd,
               if(countIf(c.cost_usd IS NULL) > 0, NULL, sum(c.cost_uncached_usd))
                   AS cost_uncached_usd,
               min(c.timestamp) AS started_at, max(c.timestamp) AS ended_at
        FROM llm_calls AS c GROUP BY c.run_id""")
    events = {r["run_id"]: r for r in db.query(
        "SELECT run_id, count() AS events, sum(extra_cost_usd) AS cost FROM cache_events "
        "GROUP BY run_id")}
    out = {}
    for row in rows:
        row["started_at"] = row["started_at"].replace(tzinfo=UTC)
        row["ended_at"] = row["ended_at"].replace(tzinfo=UTC)
        row["events"] = events.get(row["run_id"], {}).get("events", 0)
        row["events_cost_usd"] = events.get(row["run_id"], {}).get("cost", 0.0)
        out[row["run_id"]] = row
    return out


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert actual[key] == value, (actual["run_id"], key)


def test_every_run_row_is_what_the_views_say(ui: Store) -> None:
    expected = _expected_runs(ui)
    rows, total = ui.run_list(limit=1000)
    assert total == len(rows) == len(expected)
    assert {"parent", "child", "unpriced", "events-run", "clean-run"} <= set(expected)
    for row in rows:
        _same(row, expected[row["run_id"]])
        total_input = (row["input_tokens"] + row["cache_read_tokens"]
                       + row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"])
        assert row["hit_rate"] == pytest.approx(row["cache_read_tokens"] / total_input)
    by_id = {r["run_id"]: r for r in rows}
    assert by_id["parent"]["calls"] == 2  # msg_p2 reported twice, one call
    assert by_id["parent"]["run_name"] == "triage"
    assert by_id["child"]["parent_run_id"] == "parent"
    assert by_id["unpriced"]["cost_usd"] is None
    assert by_id["events-run"]["events"] == 1
    assert by_id["events-run"]["events_cost_usd"] > 0
    # Claude Code's session: one family kept (llm_calls' rule), whichever read it.
    claude = [r for r in rows if r["source"].startswith("claude-code")]
    assert claude and all(r["calls"] == expected[r["run_id"]]["calls"] for r in claude)


def test_newest_first_pages_and_totals(ui: Store) -> None:
    everything, total = ui.run_list(limit=1000)
    starts = [r["started_at"] for r in everything]
    assert starts == sorted(starts, reverse=True)
    assert all(s.tzinfo is not None for s in starts)
    page, page_total = ui.run_list(limit=2, offset=1)
    assert page_total == total
    assert [r["run_id"] for r in page] == [r["run_id"] for r in everything[1:3]]
    past_the_end, after_total = ui.run_list(limit=2, offset=total + 5)
    assert past_the_end == [] and after_total == total


def test_sort_by_cost_puts_unpriced_runs_last(ui: Store) -> None:
    rows, _ = ui.run_list(sort="cost", limit=1000)
    costs = [r["cost_usd"] for r in rows]
    priced = [c for c in costs if c is not None]
    assert priced == sorted(priced, reverse=True)
    assert costs[len(priced):] == [None] * (len(costs) - len(priced))
    assert rows[-1]["run_id"] == "unpriced" or rows[-1]["cost_usd"] is None


def test_filters(ui: Store) -> None:
    expected = _expected_runs(ui)
    with_events, n = ui.run_list(has_events=True, limit=1000)
    assert {r["run_id"] for r in with_events} == {
        k for k, v in expected.items() if v["events"] > 0} and n == len(with_events)
    without, _ = ui.run_list(has_events=False, limit=1000)
    assert {r["run_id"] for r in without} == {k for k, v in expected.items() if not v["events"]}
    haiku, _ = ui.run_list(model="claude-haiku-4-5", limit=1000)
    assert [r["run_id"] for r in haiku] == ["child"]
    agent, _ = ui.run_list(service="agent", limit=1000)
    assert {r["run_id"] for r in agent} == {"events-run", "clean-run"}
    day = START.replace(hour=0)
    in_range, _ = ui.run_list(start=day, end=day + dt.timedelta(days=1), limit=1000)
    assert {r["run_id"] for r in in_range} == {
        k for k, v in expected.items() if day <= v["started_at"] < day + dt.timedelta(days=1)}
    assert ui.run_list(service="no-such-service") == ([], 0)
    with pytest.raises(ValueError, match="sort runs by"):
        ui.run_list(sort="name")


def test_filter_options(ui: Store) -> None:
    options = ui.filter_options()
    models = ui.query("SELECT arraySort(groupUniqArray(model)) AS m FROM llm_calls "
                      "WHERE model != ''")[0]["m"]
    services = ui.query("SELECT arraySort(groupUniqArray(service_name)) AS s FROM llm_calls "
                        "WHERE service_name != ''")[0]["s"]
    assert options == {"services": services, "models": models}


def test_run_detail(ui: Store) -> None:
    detail = ui.run_detail("events-run")
    assert detail is not None
    calls = ui.query("SELECT call_id, cost_usd, stop_reason, turn FROM llm_calls "
                     "WHERE run_id = 'events-run' ORDER BY timestamp, call_id")
    assert [c["call_id"] for c in detail["calls"]] == [c["call_id"] for c in calls]
    assert [c["position"] for c in detail["calls"]] == [1, 2, 3, 4, 5]
    for got, want in zip(detail["calls"], calls, strict=True):
        assert got["cost_usd"] == pytest.approx(want["cost_usd"])
        assert got["stop_reason"] == want["stop_reason"] and got["turn"] == want["turn"]
    assert [(e["turn"], e["cause"]) for e in detail["events"]] == [(4, "ttl_expired")]
    assert detail["summary"]["events"] == 1 and detail["summary"]["calls"] == 5
    _same(detail["run"], _expected_runs(ui)["events-run"])
    assert detail["parent"] is None and detail["children"] == []

    parent = ui.run_detail("parent")
    assert [c["run_id"] for c in parent["children"]] == ["child"]
    assert ui.run_detail("child")["parent"] == "parent"
    assert ui.run_detail("no-such-run") is None


def test_call_detail(ui: Store) -> None:
    fourth = "events-run-4"
    detail = ui.call_detail(fourth)
    want = ui.query("SELECT * FROM llm_calls WHERE call_id = {c:String}", {"c": fourth})[0]
    want["timestamp"] = want["timestamp"].replace(tzinfo=UTC)
    assert {k: v for k, v in detail["call"].items() if k != "position"} == want
    assert detail["call"]["position"] == 4
    assert detail["previous"]["call_id"] == "events-run-3"
    assert detail["previous"]["position"] == 3
    assert [e["cause"] for e in detail["events"]] == ["ttl_expired"]
    first = ui.call_detail("events-run-1")
    assert first["previous"] is None and first["events"] == []
    assert ui.call_detail("msg_p2")["call"]["run_id"] == "parent"
    assert ui.call_detail("no-such-call") is None


def test_a_claude_code_report_that_llm_calls_drops_has_no_detail(ui: Store) -> None:
    """A call of the lower Claude Code families is not in llm_calls: no detail page."""
    dropped = ui.query("""
        SELECT call_id FROM llm_call_reports FINAL
        WHERE family_rank > 0 AND call_id NOT IN (SELECT call_id FROM llm_calls)
        LIMIT 1""")
    assert dropped, "the Claude Code sample has reports of several families"
    assert ui.call_detail(dropped[0]["call_id"]) is None


def test_fleet_is_what_the_views_say(ui: Store) -> None:
    start = dt.datetime.fromtimestamp(NOW_NS / 1e9, UTC) - dt.timedelta(days=1)
    end = START + dt.timedelta(days=2)
    fleet = ui.fleet(start, end)
    days = {"first": start.date(), "last": end.date()}
    by_model = ui.query("""
        SELECT toDate(c.timestamp) AS day, c.model AS model, count() AS calls,
               sum(ifNull(c.cost_usd, 0)) AS cost_usd
        FROM llm_calls AS c WHERE toDate(timestamp) BETWEEN {first:Date} AND {last:Date}
        GROUP BY day, model ORDER BY day, model""", days)
    assert [(r["day"], r["model"], r["calls"]) for r in fleet["cost_by_day_model"]] == [
        (r["day"], r["model"], r["calls"]) for r in by_model]
    for got, want in zip(fleet["cost_by_day_model"], by_model, strict=True):
        assert got["cost_usd"] == pytest.approx(want["cost_usd"])
    totals = ui.query("""
        SELECT count() AS calls, uniqExact(c.run_id) AS runs,
               sum(ifNull(c.cost_usd, 0)) AS cost_usd, sum(c.cache_read_tokens) AS reads
        FROM llm_calls AS c WHERE toDate(timestamp) BETWEEN {first:Date} AND {last:Date}""",
        days)[0]
    assert fleet["totals"]["calls"] == totals["calls"]
    assert fleet["totals"]["runs"] == totals["runs"]
    assert fleet["totals"]["cost_usd"] == pytest.approx(totals["cost_usd"])
    assert fleet["totals"]["unpriced_calls"] == 1
    assert sum(r["calls"] for r in fleet["cost_by_day_service"]) == totals["calls"]
    assert sum(r["calls"] for r in fleet["calls_by_source"]) == totals["calls"]
    assert sum(r["cache_read_tokens"] for r in fleet["hit_rate_by_day"]) == totals["reads"]
    assert [r["cause"] for r in fleet["lost_by_cause"]] == ["ttl_expired"]
    by_view = ui.cache_events_by(start.replace(tzinfo=None), end.replace(tzinfo=None))
    assert [(r["cause"], r["events"]) for r in fleet["lost_by_cause"]] == [
        (r["cause"], r["events"]) for r in by_view]
    assert fleet["lost_by_cause"][0]["extra_cost_usd"] == pytest.approx(
        by_view[0]["extra_cost_usd"])
    top = fleet["top_runs"]
    assert len(top) <= 10 and [r["cost_usd"] for r in top if r["cost_usd"] is not None] == \
        sorted([r["cost_usd"] for r in top if r["cost_usd"] is not None], reverse=True)
    with pytest.raises(ValueError, match="start < end"):
        ui.fleet(end, start)


def test_rows_that_arrive_after_a_pass_are_read_at_once(db: Store) -> None:
    """A run that got a call after serve rolled it up is computed on read until the
    next pass: the page never shows the stale stored row."""
    db.refresh_cache_events(margin_seconds=0, max_runs=10_000)
    db.refresh_run_rollup(margin_seconds=0, max_runs=10_000)
    before = {r["run_id"]: r for r in db.run_list(limit=1000)[0]}["clean-run"]
    insert(db, "clean-run", loop(1, start_turn=4, at=3600 + 30))
    after = {r["run_id"]: r for r in db.run_list(limit=1000)[0]}["clean-run"]
    assert after["calls"] == before["calls"] + 1
    assert db.run_detail("clean-run")["run"]["calls"] == after["calls"]
    assert db.refresh_run_rollup(margin_seconds=0, max_runs=10_000) >= 1
    stored = {r["run_id"]: r for r in db.run_list(limit=1000)[0]}["clean-run"]
    _same(stored, after)

