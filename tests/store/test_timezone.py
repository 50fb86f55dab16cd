"""The store's days and times are UTC on a machine whose clock is not.

The embedded engine takes the process's timezone (``TZ``), and the client then returns
datetimes in that zone: without ``session_timezone = 'UTC'`` a run at 23:00 UTC fell on
the next day in Tokyo, time filters were shifted by the zone's offset, and /fleet
compared naive with aware datetimes (a 500). The check runs in a child process with
``TZ=Asia/Tokyo``, since a process's zone is fixed once the engine has started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import datetime as dt, sys
    from tests.analysis.calls import START, insert, loop
    from tokentrail.store import Store

    UTC = dt.timezone.utc
    store = Store.open("chdb://" + sys.argv[1])
    at = START + dt.timedelta(hours=11)  # 23:00 UTC, 08:00 the next day in Tokyo
    insert(store, "late-run", loop(3, at=11 * 3600))
    assert store.query("SELECT timezone() AS tz")[0]["tz"] == "UTC"
    day = store.query("SELECT toDate(min(timestamp)) AS d FROM llm_call_reports")[0]["d"]
    assert day == at.date(), day

    rows, _ = store.run_list()
    (run,) = rows
    assert run["started_at"] == at and run["started_at"].utcoffset() == dt.timedelta(0), run
    assert store.run_list(start=at + dt.timedelta(minutes=1))[0] == []
    assert [r["run_id"] for r in store.run_list(end=at + dt.timedelta(minutes=1))[0]] == [
        "late-run"]

    fleet = store.fleet(at - dt.timedelta(days=1), at + dt.timedelta(days=1))
    assert [r["day"] for r in fleet["hit_rate_by_day"]] == [at.date()], fleet
    store.refresh_cache_events(margin_seconds=0, max_runs=100)
    store.refresh_run_rollup(margin_seconds=0, max_runs=100)
    fleet = store.fleet(at - dt.timedelta(days=1), at + dt.timedelta(days=1))
    assert [r["day"] for r in fleet["hit_rate_by_day"]] == [at.date()], fleet
    print("ok")
""")


def test_days_and_filters_are_utc_in_another_timezone(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "data")], env=env,
                          cwd=root, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
