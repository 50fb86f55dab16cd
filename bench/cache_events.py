"""cache_events benchmark (issue 12: one run of <= 500 calls in <= 100 ms, the fleet by
cause in <= 1 s, with 10M calls stored, on the embedded store).

    python bench/cache_events.py [--calls 10000000] [--run-length 200] [--rounds 5]

A fresh embedded store gets the real schema (migrations, prices), then ``--calls``
calls generated inside ClickHouse (``numbers()``, nothing through Python): agent runs
of ``--run-length`` turns with tokentrail's fingerprints, a cached system prompt and a
breakpoint on the last message, spread over 30 days; every 50th turn comes 400 s after
the one before (its cache expired) and every 100th changes the system prompt for one
turn (the next restores it: a revert). Response ids are random, as the API's are, so a
run's calls are scattered over ``llm_call_reports``' order.

Then, each the fastest of ``--rounds`` (wall time, this process, after a warm-up):

* one run judged on read (``Store.cache_events`` on a run serve has not judged yet),
  beside reading the same run's rows through ``llm_calls`` (what the UI's run page does
  today) and through the run-ordered projection alone;
* ``serve``'s passes over the whole backlog (runs judged per second);
* one run read back from the stored table, the run summary, and ``tokentrail explain``'s
  three queries;
* the fleet by cause over the last 7 days and over all 30 days from the
  ``cache_events`` view, with nothing left to judge and with one fresh run to judge on
  read; beside a plain ``count()`` over ``llm_calls`` for the same range.

Prints one Markdown table.
"""

# ruff: noqa: S608 - every query here is built from this file's constants.
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tokentrail.analysis.cache_events import QUERY_SETTINGS  # noqa: E402
from tokentrail.analysis.cache_events_refresh import MAX_RUNS  # noqa: E402
from tokentrail.analysis.cache_events_store import run_calls_select  # noqa: E402
from tokentrail.store import Store  # noqa: E402

DAYS = 30


def generate(store: Store, calls: int, length: int, now: datetime, prefix: str = "run",
             days: float = DAYS, services: int = 12,
             models: tuple[str, ...] = ("claude-sonnet-4-5",)) -> None:
    """``calls`` calls in runs of ``length`` turns over the ``days`` days before ``now``,
    each run on one of ``services`` services and one of ``models`` (bench/queries.py
    asks for hundreds)."""
    runs = max(1, calls // length)
    start = (now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
    spacing_ms = int(days * 86_400_000) // runs
    store.client.command(f"""
        INSERT INTO llm_call_reports
            (timestamp, call_id, trace_id, span_id, service_name, source, source_rank,
             family_rank, run_id, turn, model, input_tokens, cache_read_tokens,
             cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
             output_tokens, duration_ms, prefix_tools_hash, prefix_system_hash,
             prefix_params_hash, prefix_message_hashes, prefix_message_count,
             prefix_block_count, prefix_tokens, cache_breakpoints, cache_ttls,
             prefix_change_level)
        SELECT
            toDateTime64('{start}', 9) + toIntervalMillisecond(
                r * {spacing_ms} + k * 10000 + intDiv(k, 50) * 400000) AS timestamp,
            concat('msg_', hex(cityHash64(number, '{prefix}'))) AS call_id,
            hex(cityHash64(r)) AS trace_id, hex(number) AS span_id,
            concat('svc-', toString(r % {services})) AS service_name, 'tokentrail', 90, 0,
            concat('{prefix}-', toString(r)) AS run_id, toUInt32(k) AS turn,
            arrayElement({list(models)}, 1 + cityHash64(r, '{prefix}') % {len(models)}) AS model,
            toUInt64(0) AS input_tokens,
            toUInt64(multiIf(k = 1 OR k % 50 = 0 OR k % 100 = 60, 0, total - 400)) AS read,
            toUInt64(total - read) AS write, write, toUInt64(0),
            toUInt64(120), 2000.0,
            'tools', if(k % 100 = 60, 'system-changed', 'system'), 'params',
            arrayMap(i -> hex(cityHash64(r, i)), range(greatest(0, 2 * k - 21), 2 * k - 1)),
            toUInt32(2 * k - 1), toUInt32(2 * k + 1), toUInt64(total),
            [toUInt32(1), toUInt32(2 * k)], ['5m', '5m'],
            multiIf(k = 1, '', k % 100 IN (60, 61), 'system', 'none')
        FROM (
            SELECT number, intDiv(number, {length}) AS r,
                   toUInt32(number % {length} + 1) AS k,
                   toInt64(3000 + 200 * (2 * k - 1)) AS total
            FROM numbers({runs * length})
        )
    """, settings={"max_insert_block_size": 1_000_000, "max_threads": 2})


def best(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    fn()  # warm-up: first use of a part, page cache
    times, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--run-length", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-") as tmp:
        store = Store.open(f"chdb://{tmp}/data")
        began = time.perf_counter()
        generate(store, args.calls, args.run_length, now)
        stored = store.query("SELECT count() AS n FROM llm_call_reports")[0]["n"]
        print(f"generated {stored:,} calls in {time.perf_counter() - began:.0f} s",
              file=sys.stderr)
        run = "run-7"

        def run_via_llm_calls() -> int:
            return len(store.query("SELECT * FROM llm_calls WHERE run_id = {r:String}",
                                   {"r": run}))

        def run_via_projection() -> int:
            return len(store.query(f"SELECT * FROM {run_calls_select('run_id = {r:String}')}",
                                   {"r": run}))

        seconds, n = best(run_via_llm_calls, args.rounds)
        rows.append(("one run's rows through llm_calls (FINAL over the table)",
                     f"{seconds * 1000:,.0f} ms", f"{n} calls"))
        seconds, n = best(run_via_projection, args.rounds)
        rows.append(("one run's rows through the run-ordered projection",
                     f"{seconds * 1000:,.0f} ms", f"{n} calls"))
        seconds, events = best(lambda: store.cache_events(run), args.rounds)
        rows.append(("**cache_events of one run, judged on read**", f"{seconds * 1000:,.0f} ms",
                     f"{args.run_length} calls, {len(events)} events"))

        began = time.perf_counter()
        judged = passes = 0
        while True:
            count = store.refresh_cache_events(margin_seconds=0, max_runs=MAX_RUNS)
            if not count:
                break
            judged, passes = judged + count, passes + 1
        seconds = time.perf_counter() - began
        rows.append(("serve's passes over the whole backlog", f"{seconds:,.1f} s",
                     f"{judged:,} runs in {passes} passes, {judged / seconds:,.0f} runs/s"))

        seconds, events = best(lambda: store.cache_events(run), args.rounds)
        rows.append(("**cache_events of one run, stored**", f"{seconds * 1000:,.0f} ms",
                     f"{len(events)} events"))
        seconds, _ = best(lambda: store.cache_summary(run), args.rounds)
        rows.append(("run cache summary", f"{seconds * 1000:,.0f} ms", ""))
        seconds, _ = best(lambda: (store.cache_run_calls(run), store.cache_summary(run),
                                   store.cache_events(run)), args.rounds)
        rows.append(("`tokentrail explain`'s queries", f"{seconds * 1000:,.0f} ms",
                     "calls, summary, events"))

        for label, days in (("7 days", 7), ("30 days", DAYS)):
            begin, end = now - timedelta(days=days), now + timedelta(days=1)
            seconds, n = best(lambda b=begin, e=end: store.query(
                "SELECT count() AS n FROM llm_calls WHERE timestamp >= {b:DateTime64(9)} "
                "AND timestamp < {e:DateTime64(9)}", {"b": b, "e": e})[0]["n"], args.rounds)
            rows.append((f"count() of llm_calls, {label}", f"{seconds * 1000:,.0f} ms",
                         f"{n:,} calls"))
            seconds, result = best(lambda b=begin, e=end: store.cache_events_by(b, e, "cause"),
                                   args.rounds)
            events = sum(r["events"] for r in result)
            rows.append((f"**fleet by cause, {label}, nothing to judge**",
                         f"{seconds * 1000:,.0f} ms",
                         f"{events:,} events, {len(result)} causes"))
        generate(store, args.run_length, args.run_length, now, prefix="fresh", days=1)
        begin, end = now - timedelta(days=7), now + timedelta(days=1)
        seconds, result = best(lambda: store.cache_events_by(begin, end, "cause"), args.rounds)
        rows.append(("**fleet by cause, 7 days, one fresh run judged on read**",
                     f"{seconds * 1000:,.0f} ms", f"{sum(r['events'] for r in result):,} events"))
        seconds, result = best(lambda: store.cache_events_by(begin, end, "service_cause"),
                               args.rounds)
        rows.append(("fleet by service and cause, 7 days", f"{seconds * 1000:,.0f} ms",
                     f"{len(result)} groups"))
        store.close()

    print(f"\n{stored:,} calls stored, runs of {args.run_length}, best of {args.rounds} "
          f"(settings {QUERY_SETTINGS})\n")
    print("| what | time | |\n|---|---:|---|")
    for what, took, note in rows:
        print(f"| {what} | {took} | {note} |")


if __name__ == "__main__":
    main()
