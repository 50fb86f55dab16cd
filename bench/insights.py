"""Insights benchmark: ``insights`` over a 7-day range of a store holding ``--rows``
calls (issue 13: at most 2 s for 10M stored calls on the embedded store).

    python bench/insights.py [--calls 10000000] [--rounds 3]

A fresh embedded store gets the real schema (migrations) and the packaged prices, then
about ``--calls`` calls generated inside ClickHouse (``numbers()``; nothing goes through
Python): runs of 1 to 40 calls (a quarter single-call), a few services and models,
turns 5 to 400 seconds apart, growing prompts, some cached and some not. Two layouts
of the same number of calls: spread over 30 days (the 7-day range holds about a
quarter) and all inside the 7 days (the range holds all of them).

Side by side, each the fastest of ``--rounds``: the whole-range scan of ``llm_calls``
alone (``sum(cost_usd)``, the floor any analysis over those calls pays), the findings
(:meth:`Store.insights`, without ``recurring_invalidation``, which reads
``cache_events``: its cost is that view's and is measured by bench/cache_events.py),
and one what-if over the fleet.
"""

# ruff: noqa: S608 - every query here is built from this file's constants.
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tokentrail.analysis import insights as ins  # noqa: E402
from tokentrail.store import Store  # noqa: E402

# A quarter of the runs have one call, the others 1 + (hash % 40): 0.25 + 0.75 * 20.5.
SLOTS_FILLED = 15.625
MODELS = ["claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5", "claude-sonnet-4-5"]


def generate(store: Store, rows: int, days: int, now: datetime) -> None:
    """``rows`` calls in runs of 40 call slots over the ``days`` before ``now``."""
    h = "cityHash64(intDiv(number, 40))"  # per run
    start = (now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
    store.client.command(f"""
        INSERT INTO llm_call_reports
            (timestamp, call_id, trace_id, span_id, service_name, source, source_rank,
             family_rank, run_id, turn, model, input_tokens, cache_read_tokens,
             cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
             output_tokens, is_batch, stop_reason)
        SELECT
            toDateTime64('{start}', 9) + toIntervalSecond({h} % {days * 86400 - 20000})
                + toIntervalSecond(turn_ * (5 + {h} % 395)) AS ts,
            concat('msg_', toString(number)), hex(cityHash64(number)), hex(number),
            'svc-' || toString({h} % 7),
            'tokentrail', 90, 0, concat('run-', toString(intDiv(number, 40))),
            toUInt32(number % 40 + 1) AS turn_,
            arrayElement({MODELS}, 1 + ({h} % {len(MODELS)})),
            toUInt64(if(mode = 0, 3000 + turn_ * 900, 50 + turn_ * 200 * (mode = 1)))
                AS uncached,
            toUInt64(if(mode = 0, 0, 6000 + if(mode = 2, turn_ * 700, 0))),
            toUInt64(if(mode = 0, 0, if(mode = 2, 700, 0))),
            toUInt64(if(mode = 0, 0, if(mode = 2, 700, 0))),
            toUInt64(0),
            toUInt64(20 + cityHash64(number) % 700),
            false,
            if(cityHash64(number) % 3 = 0, 'tool_use', 'end_turn')
        FROM (SELECT number, {h} % 3 AS mode FROM numbers({rows}))
        WHERE number % 40 < if({h} % 4 = 0, 1, 1 + {h} % 40)
    """, settings={"max_insert_threads": 2, "max_block_size": 1_000_000})
    store.client.command("OPTIMIZE TABLE llm_call_reports FINAL")


def best(rounds: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(rows: int, days: int, rounds: int) -> list[str]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    begin, end = now - timedelta(days=7), now + timedelta(hours=1)
    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-insights-") as tmp:
        store = Store.open(f"chdb://{Path(tmp) / 'data'}")
        try:
            generate(store, rows, days, now)
            stored = store.query("SELECT count() AS n FROM llm_call_reports")[0]["n"]
            in_range = store.query(
                "SELECT count() AS n FROM llm_calls WHERE timestamp >= {s:DateTime64(9)} "
                "AND timestamp < {e:DateTime64(9)}", {"s": begin, "e": end})[0]["n"]
            scan_sql = ("SELECT sum(cost_usd) FROM llm_calls WHERE timestamp >= "
                        "{s:DateTime64(9)} AND timestamp < {e:DateTime64(9)}")
            scan, _ = best(rounds, lambda: store.query(scan_sql, {"s": begin, "e": end}))
            found, rows_found = best(rounds, lambda: _insights(store, begin, end))
            whatif, _ = best(rounds, lambda: store.whatif("batch", begin, end))
        finally:
            store.close()
    kinds = sorted({r["kind"] for r in rows_found})
    return [f"| {stored:,} over {days} days | {in_range:,} | {scan * 1000:,.0f} | "
            f"{found * 1000:,.0f} | {whatif * 1000:,.0f} | {len(rows_found):,} "
            f"({', '.join(kinds)}) |"]


def _insights(store: Store, begin: datetime, end: datetime) -> list[dict]:
    sql = (f"SELECT * FROM ({ins.insights_select(recurring=False)}) "
           "ORDER BY savings_usd DESC")
    return store.query(sql, {**ins.DEFAULTS, "start": begin, "end": end})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000_000,
                        help="calls to store (about: runs fill 15.6 of their 40 slots on "
                             "average)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    slots = int(args.calls * 40 / SLOTS_FILLED)
    lines = []
    for days in (30, 7):
        lines += measure(slots, days, args.rounds)
    print(f"insights over a 7-day range, fastest of {args.rounds} rounds (ms):\n")
    print("| stored calls | calls in range | scan llm_calls | insights | what-if (batch) "
          "| findings |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
