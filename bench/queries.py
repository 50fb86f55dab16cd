"""The web UI's reads at 10M calls (issue 14: run timeline p50 <= 100 ms, runs page
<= 200 ms, fleet for 30 days <= 500 ms, on the embedded store).

    python bench/queries.py [--calls 10000000] [--rounds 5] [--store DIR]

``--store DIR`` keeps the generated store in DIR, and a later run with the same DIR
measures it again without generating (an hour at 10M) or measuring the reads on read
(the backlog is worked off by then): how read designs are compared at full size.

A fresh embedded store gets the real schema (migrations, prices), then about
``--calls`` calls generated inside ClickHouse by bench/cache_events.py's generator
(tokentrail's fingerprints, cached prompts, a TTL expiry every 50th turn and a changed
system prompt every 100th, random response ids): runs of 1 to 500 turns (about as many
runs of each length, so most calls are in long runs), 300 services and 24 model ids
(dated, Bedrock and Vertex spellings, one without a price) over 90 days.

Side by side, each the median of ``--rounds`` after a warm-up:

* the reads as they were (the issue's baseline): one run's calls through ``llm_calls``,
  the runs-page aggregate over ``llm_calls`` and a 30-day fleet aggregate over it;
* the UI's reads (tokentrail/store/ui_reads.py) with every run computed on read (what a
  store gets before ``serve`` rolled it up), then after ``serve``'s passes (cache
  events, then the run rollup) worked off the backlog, then with one fresh run that
  arrived after the last pass.

Prints one Markdown table.
"""


from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cache_events import generate  # noqa: E402

# Loaded now, with the rest: the run takes an hour at 10M, and a module first imported
# by the Store's methods half-way through would be whatever the file is by then.
from tokentrail.store import Store, run_rollup, ui_reads  # noqa: E402, F401

DAYS = 90
SERVICES = 300
MODELS = (
    "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-1",
    "claude-opus-4-1-20250805", "claude-haiku-4-5", "claude-haiku-4-5-20251001",
    "claude-sonnet-4-6", "claude-opus-4-6", "claude-3-5-haiku-20241022",
    "claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-3-7-sonnet-20250219",
    "anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-haiku-4-5-v1:0",
    "anthropic.claude-opus-4-1-20250805-v1:0", "global.anthropic.claude-sonnet-4-6",
    "claude-sonnet-4-5@20250929", "claude-haiku-4-5@20251001", "claude-opus-4-1@20250805",
    "publishers/anthropic/models/claude-sonnet-4-6", "claude-sonnet-4-5-latest",
    "claude-opus-4-5", "claude-opus-4-5-20251101", "claude-internal-preview",
)
# (turns per run, share of the calls): about 10k runs of each length up to 50.
LENGTHS = ((1, 0.001), (3, 0.003), (8, 0.008), (20, 0.02), (50, 0.068), (120, 0.2),
           (250, 0.3), (500, 0.4))


def median(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    """Median wall time of ``rounds`` calls after a warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--store", type=Path, default=None,
                        help="keep the store in this directory; reuse it if it has calls")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []  # what, before, after, note

    with contextlib.ExitStack() as stack:
        where = args.store or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="tokentrail-bench-")))
        store = Store.open(f"chdb://{where}/data")
        began = time.perf_counter()
        reused = store.query("SELECT count() AS n FROM llm_call_reports")[0]["n"] > 0
        if reused:
            now = store.query("SELECT max(timestamp) AS t FROM llm_call_reports "
                              "WHERE run_id NOT LIKE 'fresh%'")[0]["t"]
            now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
        else:
            now = datetime.now(timezone.utc).replace(microsecond=0)
            for length, share in LENGTHS:
                generate(store, int(args.calls * share), length, now, prefix=f"r{length}",
                         days=DAYS, services=SERVICES, models=MODELS)
        stats = store.query("SELECT count() AS n, uniqExact(run_id) AS runs "
                            "FROM llm_call_reports")[0]
        print(f"generated {stats['n']:,} calls in {stats['runs']:,} runs in "
              f"{time.perf_counter() - began:.0f} s", file=sys.stderr)
        # Runs of every length; the timeline is measured over all of them.
        sample = [f"r{length}-{i}" for length, _ in LENGTHS for i in (3, 1000)]
        sample = [r for r in sample if store.query(
            "SELECT count() > 0 AS ok FROM llm_call_reports WHERE run_id = {r:String}",
            {"r": r})[0]["ok"]]
        long_run = "r500-3"
        end = now + timedelta(days=1)
        start30 = now - timedelta(days=30)
        service = "svc-7"

        def per_run(fn: Callable[[str], Any]) -> Callable[[], Any]:
            return lambda: [fn(r) for r in sample]

        def timeline_p50() -> tuple[float, float]:
            """p50 and max over the sample runs, each the median of the rounds."""
            each = [median(lambda r=r: store.run_detail(r), args.rounds)[0] for r in sample]
            return statistics.median(each), max(each)

        # --- the reads as they were: through llm_calls ---------------------------------
        before: dict[str, float] = {}
        before["run"] = statistics.median(
            [median(lambda r=r: store.query("SELECT * FROM llm_calls WHERE run_id = "
                                            "{r:String} ORDER BY timestamp", {"r": r}),
                    args.rounds)[0] for r in sample[-4:]])
        before["runs"], _ = median(lambda: store.runs(limit=50), args.rounds)
        before["fleet"], _ = median(lambda: store.query(
            "SELECT toDate(timestamp) AS day, model, count() AS calls, sum(cost_usd) AS cost "
            "FROM llm_calls WHERE timestamp >= {s:DateTime64(9)} AND timestamp < "
            "{e:DateTime64(9)} GROUP BY day, model", {"s": start30, "e": end}), args.rounds)

        def measure(label: str, *, fleet_wide: bool = True) -> dict[str, float]:
            """The reads; ``fleet_wide`` False leaves out those over every run (computed
            on read, each judges and prices every stored call: a minute at 10M)."""
            out: dict[str, float] = {}
            out["timeline"], out["timeline_max"] = timeline_p50()
            out["timeline_500"], _ = median(lambda: store.run_detail(long_run), args.rounds)
            call_id = store.run_detail(long_run)["calls"][60]["call_id"]
            out["call"], _ = median(lambda: store.call_detail(call_id), args.rounds)
            if fleet_wide:
                out.update(fleet_wide_reads())
            print(f"{label}: {out}", file=sys.stderr)
            return out

        def fleet_wide_reads() -> dict[str, float]:
            out: dict[str, float] = {}
            out["runs"], _ = median(lambda: store.run_list(), args.rounds)
            out["runs_service"], _ = median(lambda: store.run_list(service=service),
                                            args.rounds)
            out["runs_cost"], _ = median(lambda: store.run_list(sort="cost"), args.rounds)
            out["runs_events"], _ = median(lambda: store.run_list(has_events=True,
                                                                  start=start30), args.rounds)
            out["options"], _ = median(store.filter_options, args.rounds)
            out["fleet"], _ = median(lambda: store.fleet(start30, end), args.rounds)
            # A page's first view after a run received rows: nothing remembered of what
            # that run computes to (tokentrail/store/on_read.py); the rows above are the
            # views after it (the same page again, another page, a live poll).
            out["runs_first"], _ = median(cold(store.run_list), args.rounds)
            out["fleet_first"], _ = median(cold(lambda: store.fleet(start30, end)),
                                           args.rounds)
            return out

        def cold(fn: Callable[[], Any]) -> Callable[[], Any]:
            def first_view() -> Any:
                store.on_read.clear()
                return fn()
            return first_view

        on_read = {} if reused else measure("on read", fleet_wide=args.calls <= 200_000)
        began = time.perf_counter()
        judged = 0
        while count := store.refresh_cache_events(margin_seconds=0, max_runs=2000):
            judged += count
        events_s = time.perf_counter() - began
        began = time.perf_counter()
        rolled = 0
        while count := store.refresh_run_rollup(margin_seconds=0, max_runs=5000):
            rolled += count
        rollup_s = time.perf_counter() - began
        stored = measure("stored")
        generate(store, 300, 300, now, prefix=f"fresh{time.time_ns()}", days=0.01,
                 services=SERVICES, models=MODELS)
        fresh = measure("one fresh run")
        rollup_rows = store.query("SELECT count() AS n FROM run_rollup FINAL")[0]["n"]
        store.close()

    def line(what: str, key: str, base: str = "") -> None:
        after = " / ".join(ms(m[key]) if key in m else "-" for m in (on_read, stored, fresh))
        rows.append((what, base, after, ""))

    line("**run timeline** (`run_detail`), p50 over runs of 1-500 turns", "timeline",
         ms(before["run"]) + " (calls only)")
    line("run timeline, slowest run of the sample", "timeline_max")
    line("run timeline, a 500-turn run", "timeline_500")
    line("**runs page**, first page, newest first", "runs", ms(before["runs"]))
    line("**runs page**, one service", "runs_service")
    line("**runs page**, by cost", "runs_cost")
    line("runs page, has events, last 30 days", "runs_events")
    line("filter options", "options")
    line("call detail (with the previous call)", "call")
    line("**fleet, 30 days**", "fleet", ms(before["fleet"]) + " (cost by day and model only)")
    line("runs page, first view after a run received rows", "runs_first")
    line("fleet, 30 days, first view after a run received rows", "fleet_first")
    print(f"\n{stats['n']:,} calls in {stats['runs']:,} runs over {DAYS} days, {SERVICES} "
          f"services, {len(MODELS)} model ids; median of {args.rounds}. Backlog: cache events "
          f"{judged:,} runs in {events_s:,.0f} s, rollup {rolled:,} runs in {rollup_s:,.0f} s "
          f"({rollup_rows:,} rollup rows)\n")
    print("| read | via llm_calls (before) | computed on read / stored / + one fresh run |")
    print("|---|---:|---:|")
    for what, base, after, _ in rows:
        print(f"| {what} | {base} | {after} |")


if __name__ == "__main__":
    main()
