"""What runs serve has not kept yet compute to, remembered per run version
(tokentrail/store/on_read.py): computed once per version, computed again when the run
receives rows or the prices change, never served past the moment its rows settle."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.analysis.calls import insert, loop
from tokentrail.store import Store, run_rollup, ui_reads
from tokentrail.store.on_read import OnReadMemo, RunVersion

T0 = dt.datetime(2026, 1, 1, 12, 0, 0)
LATER = T0 + dt.timedelta(hours=1)


class Computer:
    """compute() for the memo: one row per run asked for, and a record of the asks."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, ids: list[str]) -> list[dict]:
        self.asked.append(list(ids))
        return [{"run_id": run_id, "n": len(self.asked)} for run_id in ids]


def test_a_version_is_computed_once_and_a_new_one_again() -> None:
    memo, compute = OnReadMemo(), Computer()
    a, b = RunVersion("a", T0, 1), RunVersion("b", T0, 1)
    assert memo.fetch("rollup", [a, b], LATER, compute) == [
        {"run_id": "a", "n": 1}, {"run_id": "b", "n": 1}]
    assert sorted(r["run_id"] for r in memo.fetch("rollup", [a, b], LATER, compute)) == [
        "a", "b"]
    assert compute.asked == [["a", "b"]]
    # b received rows, then new prices for a: each a new version, computed alone
    b2 = RunVersion("b", T0 + dt.timedelta(seconds=1), 1)
    assert memo.fetch("rollup", [a, b2], LATER, compute)[-1] == {"run_id": "b", "n": 2}
    memo.fetch("rollup", [RunVersion("a", T0, 2)], LATER, compute)
    assert compute.asked == [["a", "b"], ["b"], ["a"]]
    # kinds are apart
    memo.fetch("events", [a], LATER, compute)
    assert compute.asked[-1] == ["a"]


def test_a_run_with_no_rows_is_remembered_as_none() -> None:
    memo, asked = OnReadMemo(), []

    def nothing(ids: list[str]) -> list[dict]:
        asked.append(ids)
        return []

    run = RunVersion("quiet", T0, 1)
    assert memo.fetch("events", [run], LATER, nothing) == []
    assert memo.fetch("events", [run], LATER, nothing) == []
    assert asked == [["quiet"]]


def test_rows_younger_than_the_settling_time_are_kept_only_that_long() -> None:
    memo, compute = OnReadMemo(settle_seconds=0.2), Computer()
    young = RunVersion("live", T0, 1)
    now = T0 + dt.timedelta(seconds=0.1)  # the insert was 0.1 s before the store's now
    memo.fetch("rollup", [young], now, compute)
    memo.fetch("rollup", [young], now, compute)
    assert len(compute.asked) == 1
    time.sleep(0.3)  # past the settling time: rows that were not visible may be now
    memo.fetch("rollup", [young], now, compute)
    assert len(compute.asked) == 2


def test_the_memo_is_bounded_and_hands_out_copies() -> None:
    memo, compute = OnReadMemo(max_entries=2), Computer()
    runs = [RunVersion(name, T0, 1) for name in "abc"]
    for run in runs:
        memo.fetch("rollup", [run], LATER, compute)
    memo.fetch("rollup", [runs[0]], LATER, compute)  # the least recently used: gone
    assert compute.asked == [["a"], ["b"], ["c"], ["a"]]
    rows = OnReadMemo(max_rows=3)
    many = lambda ids: [{"run_id": i, "k": k} for i in ids for k in range(2)]  # noqa: E731
    rows.fetch("events", [runs[0]], LATER, many)
    rows.fetch("events", [runs[1]], LATER, many)  # 4 rows: a's two are forgotten
    asked = []
    rows.fetch("events", [runs[0], runs[1]], LATER,
               lambda ids: asked.append(ids) or many(ids))
    assert asked == [["a"]]
    mine = memo.fetch("rollup", [runs[2]], LATER, compute)
    mine[0]["n"] = "changed"
    assert memo.fetch("rollup", [runs[2]], LATER, compute)[0]["n"] == 3


@pytest.fixture()
def store(tmp_path) -> Store:
    db = Store.open(f"chdb://{tmp_path / 'data'}")
    yield db
    db.close()


def _run_row(store: Store, run_id: str) -> dict:
    rows, _ = ui_reads.run_list(store, limit=100)
    return next(r for r in rows if r["run_id"] == run_id)


def test_a_page_judges_a_fresh_run_once_and_again_after_its_next_rows(
        store: Store, monkeypatch) -> None:
    """The runs page, the fleet and their polls reuse what one fresh run computed to;
    the run's next call makes it a new version, and the page shows that call."""
    insert(store, "kept", loop(3))
    store.refresh_cache_events(margin_seconds=0, max_runs=100)
    store.refresh_run_rollup(margin_seconds=0, max_runs=100)
    calls = loop(6, at=7200)
    insert(store, "fresh", calls[:4])
    # Judging is the expensive part a fresh run costs: count it.
    judged: list[list[str]] = []
    judge = store._judge

    def counting(sql: str, params: dict) -> list[dict]:
        judged.append(params.get("runs"))
        return judge(sql, params)

    monkeypatch.setattr(store, "_judge", counting)
    store.on_read.settle = dt.timedelta(0)  # the rows are visible: a test inserts and waits
    assert _run_row(store, "fresh")["calls"] == 4
    ui_reads.fleet(store, dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1))
    assert _run_row(store, "fresh")["calls"] == 4
    assert judged == [["fresh"]]
    assert store.query("SELECT count() AS n FROM run_rollup WHERE run_id = 'fresh'")[0][
        "n"] == 0, "the fresh run is computed on read, not stored"

    insert(store, "fresh", calls[4:])
    row = _run_row(store, "fresh")
    assert row["calls"] == 6
    assert judged == [["fresh"], ["fresh"]]
    expected = store.query("SELECT count() AS calls, sum(cost_usd) AS cost FROM llm_calls "
                           "WHERE run_id = 'fresh'")[0]
    assert row["cost_usd"] == pytest.approx(expected["cost"], rel=1e-12)
    assert row["ended_at"] == ui_reads.as_utc(store.query(
        "SELECT max(timestamp) AS t FROM llm_calls WHERE run_id = 'fresh'")[0]["t"])
    assert run_rollup.FEW_RUNS >= 1
