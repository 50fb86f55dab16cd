"""Insights benchmark: ``insights`` over 7 and 30 days of a store holding ``--calls``
calls, judged on read and from the facts ``serve`` stores, side by side (issue 13: a
7-day range of 10M stored calls in at most 2 s on the embedded store).

    python bench/insights.py [--calls 10000000] [--rounds 3]

A fresh embedded store gets the real schema (migrations) and the packaged prices, then
about ``--calls`` calls generated inside ClickHouse (``numbers()``; nothing goes through
Python): runs of 1 to 40 calls (a quarter single-call), a few services and models,
turns 5 to 400 seconds apart, growing prompts, some cached and some not. Two layouts
of the same number of calls: spread over 30 days (the 7-day range holds about a
quarter) and all inside the 7 days (the range holds all of them).

Per layout, in this order (rounds: the fastest of ``--rounds``; a judged-on-read
measure runs once at a million calls and more, it takes minutes):

* the whole-range scan of ``llm_calls`` alone (``sum(cost_usd)``, 7 days);
* on read, before ``serve`` judged anything (every run judged on read: a store written
  by a stock Collector with no ``serve``, or right after the upgrade): 7 and 30 days
  through :meth:`Store.insights`, and the range-limited judging of every call in the
  range (``stored=False``, what other thresholds use; the path before the stored facts);
* ``serve``'s passes over the whole backlog (runs per second);
* stored: 7 and 30 days, and 7 days with one fresh run of 40 calls judged on read; and
  whether the findings equal those judged on read.

``recurring_invalidation`` is left out (it reads ``cache_events``, measured by
bench/cache_events.py); the findings compared are those of the other kinds.

    python bench/insights.py --whole [--calls 1000000] [--rounds 3]

``--whole``: :meth:`Store.insights` as a whole, every kind included, over a store kept
as ``serve`` keeps it: half the calls from this generator, half from
bench/cache_events.py's (agent runs with tokentrail's fingerprints and a system prompt
that changes every 100th turn: recurring_invalidation has events to read), spread over
30 days; then ``serve``'s passes over the backlog of both keepers (insight facts and
cache events), then 7 and 30 days. Beside them, the insights page's data
(web/routers/insights.py ``_findings``, 30 days, the top 20) as it is now (the findings
carry their what-if: no what-if query) and as it was (one ``store.whatif`` over each
finding's whole service or run, up to 10), and the what-if a finding links to (its
calls only), for one service-scoped finding.
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
from tokentrail.analysis import insights_store  # noqa: E402
from tokentrail.analysis.cache_events import QUERY_SETTINGS  # noqa: E402
from tokentrail.store import Store  # noqa: E402

# A quarter of the runs have one call, the others 1 + (hash % 40): 0.25 + 0.75 * 20.5.
SLOTS_FILLED = 15.625
BACKLOG_RUNS = 20_000  # runs per pass while working off the backlog
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


def _insights(store: Store, begin: datetime, end: datetime, *, stored: bool = True) -> list:
    """Store.insights without recurring_invalidation: the same SQL, settings and check
    for runs to judge on read."""
    findings = insights_store.findings_select(store, recurring=False, stored=stored)
    sql = f"SELECT * FROM ({findings}) ORDER BY savings_usd DESC"
    result = store.client.query(sql, parameters={**ins.DEFAULTS, "start": begin, "end": end},
                                settings=QUERY_SETTINGS)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _key(rows: list) -> list:
    return sorted((r["kind"], r["service_name"], r["model"], r["calls"],
                   round(float(r["savings_usd"]), 6)) for r in rows)


def _drain(store: Store) -> tuple[float, int]:
    """serve's passes until nothing is left, each with the engine's default threads and
    priority (serve's run on one thread at nice 19, to leave the cores to the
    collector: on an idle machine the backlog takes about twice as long there)."""
    started, runs = time.perf_counter(), 0
    while True:
        judged = insights_store.refresh(store, margin_seconds=0, max_runs=BACKLOG_RUNS,
                                        background=False)
        runs += judged
        if judged == 0:
            return time.perf_counter() - started, runs


def _log(what: str, seconds: float) -> None:
    print(f"  {what}: {seconds * 1000:,.0f} ms", file=sys.stderr, flush=True)


def measure(slots: int, days: int, rounds: int, on_read_measures: str = "all") -> list[str]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    week = (now - timedelta(days=7), now + timedelta(hours=1))
    month = (now - timedelta(days=30), now + timedelta(hours=1))
    slow = 1 if slots > 2_000_000 else rounds
    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-insights-") as tmp:
        store = Store.open(f"chdb://{Path(tmp) / 'data'}")
        try:
            generate(store, slots, days, now)
            stored = store.query("SELECT count() AS n FROM llm_call_reports")[0]["n"]
            in_week = store.query(
                "SELECT count() AS n FROM llm_calls WHERE timestamp >= {s:DateTime64(9)} "
                "AND timestamp < {e:DateTime64(9)}", {"s": week[0], "e": week[1]})[0]["n"]
            scan_sql = ("SELECT sum(cost_usd) FROM llm_calls WHERE timestamp >= "
                        "{s:DateTime64(9)} AND timestamp < {e:DateTime64(9)}")
            print(f"{stored:,} calls over {days} days, {in_week:,} in 7 days",
                  file=sys.stderr, flush=True)
            scan, _ = best(slow, lambda: store.query(scan_sql, {"s": week[0], "e": week[1]}))
            _log("scan", scan)
            ranged = read_week = read_month = float("nan")
            on_read: object = None
            if on_read_measures == "all":
                ranged, _ = best(slow, lambda: _insights(store, *week, stored=False))
                _log("on read, range only, 7 days", ranged)
            if on_read_measures != "none":
                read_week, on_read = best(slow, lambda: _insights(store, *week))
                _log("on read, 7 days", read_week)
            if on_read_measures == "all":
                read_month, _ = best(slow, lambda: _insights(store, *month))
                _log("on read, 30 days", read_month)
            backlog, runs = _drain(store)
            _log(f"backlog of {runs:,} runs", backlog)
            stored_week, from_facts = best(rounds, lambda: _insights(store, *week))
            _log("stored, 7 days", stored_week)
            stored_month, _ = best(rounds, lambda: _insights(store, *month))
            _log("stored, 30 days", stored_month)
            fresh_run(store, now)
            fresh, _ = best(rounds, lambda: _insights(store, *week))
            _log("stored + 1 fresh run, 7 days", fresh)
        finally:
            store.close()
    same = ("not judged" if on_read is None
            else "yes" if _key(on_read) == _key(from_facts) else "**no**")
    return [f"| {stored:,} over {days} days | {in_week:,} | {scan * 1000:,.0f} | "
            f"{ranged * 1000:,.0f} | {read_week * 1000:,.0f} | {read_month * 1000:,.0f} | "
            f"{backlog:,.0f} s ({runs / backlog:,.0f} runs/s) | "
            f"**{stored_week * 1000:,.0f}** | {stored_month * 1000:,.0f} | "
            f"{fresh * 1000:,.0f} | {len(from_facts):,} ({same}) |"]


def fresh_run(store: Store, now: datetime) -> None:
    """One run of 40 calls in the last hour, not judged yet (the view judges it on read)."""
    ts = (now - timedelta(minutes=50)).strftime("%Y-%m-%d %H:%M:%S")
    store.client.command(f"""
        INSERT INTO llm_call_reports
            (timestamp, call_id, trace_id, span_id, service_name, source, source_rank,
             family_rank, run_id, turn, model, input_tokens, cache_read_tokens,
             cache_write_tokens, cache_write_5m_tokens, output_tokens, stop_reason)
        SELECT toDateTime64('{ts}', 9) + toIntervalSecond(number * 30),
            concat('fresh_', toString(number)), 'fresh', hex(number), 'svc-1', 'tokentrail',
            90, 0, 'fresh-run', toUInt32(number + 1), 'claude-sonnet-4-6',
            toUInt64(200 + number * 300), toUInt64(if(number = 0, 0, 8000)),
            toUInt64(if(number = 0, 8000, 0)), toUInt64(if(number = 0, 8000, 0)),
            toUInt64(150), 'end_turn'
        FROM numbers(40)""")


def facts_only(runs: int, days: int, rounds: int) -> str:
    """The read path alone at scale: ``insight_facts`` filled with ``runs`` runs' facts
    (one row per run, the row count ``serve`` stores for this generator's runs, which
    last at most a few hours) spread over ``days`` days, generated inside ClickHouse
    with values in the generator's ranges; nothing left to judge. Times 7 and 30 days
    as :meth:`Store.insights` reads them (without recurring_invalidation)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    week = (now - timedelta(days=7), now + timedelta(hours=1))
    month = (now - timedelta(days=30), now + timedelta(hours=1))
    h = "cityHash64(number)"
    values = {name: f"toFloat64({h} % 1000) / 100" if typ == "Float64" else f"{h} % 50 + 1"
              for name, typ in ins.FACT_TYPES.items() if name in ins.FACTS}
    values.update({
        "first_ts": f"toDateTime64('{now - timedelta(days=days):%Y-%m-%d %H:%M:%S}', 9)"
                    f" + toIntervalSecond({h} % {days * 86400 - 7200})",
        "last_ts": "first_ts + toIntervalSecond(600)", "run_size": f"{h} % 40 + 1",
        "first_read_ts": "first_ts", "last_read_ts": "last_ts",
        "first_unread_ts": "first_ts", "last_unread_ts": "last_ts",
        "run_caches": f"if({h} % 3 = 0, 0, 5000)", "unread_writes": f"{h} % 2",
    })
    columns = ", ".join(ins.FACTS)
    select = ", ".join(f"{values[name]} AS {name}" for name in ins.FACTS)
    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-insights-") as tmp:
        store = Store.open(f"chdb://{Path(tmp) / 'data'}")
        try:
            store.client.command(f"""
                INSERT INTO {insights_store.STORED}
                    (run_id, service_name, model, day, {columns}, version, is_deleted)
                SELECT concat('run-', toString(number)), 'svc-' || toString({h} % 7),
                    arrayElement({MODELS}, 1 + ({h} % {len(MODELS)})), toDate(first_ts),
                    {columns}, 1, 0
                FROM (SELECT number, {select} FROM numbers({runs}))""")
            rows = store.query(f"SELECT count() AS n FROM {insights_store.STORED}")[0]["n"]
            stored_week, found = best(rounds, lambda: _insights(store, *week))
            _log("stored facts, 7 days", stored_week)
            stored_month, _ = best(rounds, lambda: _insights(store, *month))
            _log("stored facts, 30 days", stored_month)
        finally:
            store.close()
    return (f"| {rows:,} fact rows over {days} days | **{stored_week * 1000:,.0f}** | "
            f"{stored_month * 1000:,.0f} | {len(found):,} |")


def _page_before(store: Store, begin: datetime, end: datetime) -> int:
    """What the insights page ran before its what-ifs were the findings' own numbers:
    the findings, then ``store.whatif`` of each finding's scenario over its whole run
    or service (not its model, not only its rule's calls), the first 10 distinct."""
    from tokentrail.web.routers.insights import SCENARIO_OF_KIND

    rows = store.insights(begin, end, limit=20)
    scopes = []
    for row in rows:
        scenario = SCENARIO_OF_KIND.get(row["kind"])
        if scenario in (None, "unread_writes"):  # no what-if for this kind then
            continue
        run = row["run_ids"][0] if row["scope"] == "run" else ""
        key = (scenario, run, "" if run else row["service_name"])
        if key not in scopes and len(scopes) < 10:
            scopes.append(key)
    for scenario, run, service in scopes:
        store.whatif(scenario, begin, end, run=run, service=service)
    return len(scopes)


def whole(calls: int, rounds: int) -> list[str]:
    """--whole: see the module's docstring."""
    import cache_events as ce_bench  # bench/cache_events.py, beside this file

    from tokentrail.analysis.cache_events_refresh import MAX_RUNS
    from tokentrail.web.params import TimeRange
    from tokentrail.web.routers.insights import _findings

    now = datetime.now(timezone.utc).replace(microsecond=0)
    week = (now - timedelta(days=7), now + timedelta(hours=1))
    month = (now - timedelta(days=30), now + timedelta(hours=1))
    rows = []
    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-insights-") as tmp:
        store = Store.open(f"chdb://{Path(tmp) / 'data'}")
        try:
            began = time.perf_counter()
            generate(store, int(calls / 2 * 40 / SLOTS_FILLED), 30, now)
            ce_bench.generate(store, calls // 2, 200, now, prefix="agent",
                              models=("claude-sonnet-4-5", "claude-opus-4-6"))
            stored = store.query("SELECT count() AS n FROM llm_call_reports")[0]["n"]
            print(f"{stored:,} calls generated in {time.perf_counter() - began:,.0f} s",
                  file=sys.stderr, flush=True)
            facts, runs = _drain(store)
            _log(f"insight facts: backlog of {runs:,} runs", facts)
            began, judged = time.perf_counter(), 0
            while count := store.refresh_cache_events(margin_seconds=0, max_runs=MAX_RUNS):
                judged += count
            events = time.perf_counter() - began
            _log(f"cache events: backlog of {judged:,} runs", events)
            rows.append(("calls stored (llm_call_reports)", f"{stored:,}", ""))
            rows.append(("serve's passes: insight facts, cache events",
                         f"{facts:,.0f} s, {events:,.0f} s",
                         f"{runs:,} and {judged:,} runs"))
            for label, span in (("7 days", week), ("30 days", month)):
                seconds, found = best(rounds, lambda span=span: store.insights(*span))
                _log(f"Store.insights, {label}", seconds)
                kinds = sorted({r["kind"] for r in found})
                rows.append((f"**Store.insights, {label}, every kind**",
                             f"**{seconds * 1000:,.0f} ms**",
                             f"{len(found):,} findings: {', '.join(kinds)}"))
            page = TimeRange(start=month[0], end=month[1], range="30d")
            after, data = best(rounds, lambda: _findings(store, page, [], 20))
            _log("insights page, now", after)
            before, whatifs = best(rounds, lambda: _page_before(store, *month))
            _log("insights page, before", before)
            rows.append(("insights page's data, 30 days: now (the findings' own what-ifs)",
                         f"{after * 1000:,.0f} ms", f"{len(data.findings)} findings"))
            rows.append(("insights page's data, 30 days: before (+ a what-if per scope)",
                         f"{before * 1000:,.0f} ms",
                         f"{whatifs} what-ifs; now/before = {after / before:.2f}"))
            linked = next((f for f in data.findings
                           if f.scope == "service" and f.whatif is not None), None)
            if linked:
                w = linked.whatif
                seconds, answer = best(rounds, lambda: store.whatif(
                    w.scenario, month[0], month[1], service=w.service,
                    only_model=w.only_model, only_candidates=True))
                rows.append((f"the what-if a {linked.kind} finding links to (its calls)",
                             f"{seconds * 1000:,.0f} ms",
                             f"{answer['calls']:,} calls (finding: {linked.calls:,})"))
        finally:
            store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000_000,
                        help="calls to store (about: runs fill 15.6 of their 40 slots on "
                             "average)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layouts", type=int, nargs="+", default=[30, 7],
                        help="days the calls are spread over, one store each")
    parser.add_argument("--on-read", choices=("all", "week", "none"), default="all",
                        help="which judged-on-read measures to take (minutes each at 10M "
                             "calls): all, the 7-day range with every run judged on read "
                             "only, or none")
    parser.add_argument("--facts-only", action="store_true",
                        help="time the read of stored facts alone, for the runs --calls "
                             "makes (no calls, no judging)")
    parser.add_argument("--whole", action="store_true",
                        help="time Store.insights whole (every kind) and the insights "
                             "page over calls, facts and cache events stored as serve "
                             "keeps them")
    args = parser.parse_args()
    if args.whole:
        rows = whole(args.calls, args.rounds)
        print(f"\nStore.insights whole, fastest of {args.rounds} rounds:\n")
        print("| measure | time | notes |\n|---|---:|---|")
        print("\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows))
        return
    slots = int(args.calls * 40 / SLOTS_FILLED)
    if args.facts_only:
        runs = int(slots / 40)
        print("| stored facts | stored, 7 days | stored, 30 days | findings |")
        print("|---|---:|---:|---:|")
        for days in args.layouts:
            print(facts_only(runs, days, args.rounds), flush=True)
        return
    lines = []
    for days in args.layouts:
        lines += measure(slots, days, args.rounds, args.on_read)
        print(lines[-1], flush=True)
    print(f"\ninsights, ms (stored: fastest of {args.rounds} rounds):\n")
    print("| stored calls | calls in 7 days | scan llm_calls, 7 days | on read, range only, "
          "7 days | on read, 7 days | on read, 30 days | serve's backlog | stored, 7 days "
          "| stored, 30 days | stored + 1 fresh run, 7 days "
          "| findings (same as on read) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
