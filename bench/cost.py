"""Cost benchmark: what pricing every call costs a query, side by side with the same
query over the token columns alone (issue 11: at most 2x for ``sum(cost_usd)``).

    python bench/cost.py [--rows 10000000] [--rounds 7]

A fresh embedded store gets the real schema (migrations) and the packaged prices, then
``--rows`` calls generated inside ClickHouse (``numbers()``; nothing goes through
Python): a mix of the priced families under their API, dated, Bedrock and Vertex ids
plus an unknown model, timestamps over 2026 (so Sonnet 5.5's 2026-10-07 price change
splits its calls between two versions), 5% batch calls, long-context calls with the
1M beta, some fast-mode and US-only calls, web searches. The table is merged
(``OPTIMIZE FINAL``), the cheapest state for the token-only baseline.

Each pair of queries runs alternately ``--rounds`` times (so load from elsewhere hits
both alike); the table reports the fastest round of each and their ratio, in wall time
(default threads) and in the engine's CPU time on one thread (chDB runs in-process, so
this is its work alone, which a busy machine does not inflate the way it does wall
time).
"""

# ruff: noqa: S608 - every query here is built from this file's constants.
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tokentrail.analysis import prices  # noqa: E402
from tokentrail.store import Store  # noqa: E402

MODELS = [
    "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "claude-opus-4-6", "claude-opus-4-7",
    "claude-haiku-4-5-20251001", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5",
    "claude-fable-5-1", "claude-3-haiku-20240307",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929",
    "claude-unknown-9",
]
TOKENS = "input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens"

# (name, token-only query, the same query with cost)
QUERIES = [
    ("sum over all calls",
     f"SELECT sum({TOKENS} + output_tokens) FROM llm_calls",
     "SELECT sum(cost_usd) FROM llm_calls"),
    ("per model",
     f"SELECT model, sum({TOKENS} + output_tokens) FROM llm_calls GROUP BY model",
     "SELECT model, sum(cost_usd) FROM llm_calls GROUP BY model"),
    ("per day",
     f"SELECT toDate(timestamp) AS d, sum({TOKENS} + output_tokens) FROM llm_calls GROUP BY d",
     "SELECT toDate(timestamp) AS d, sum(cost_usd) FROM llm_calls GROUP BY d"),
    ("cache savings per run (top 10)",
     f"SELECT run_id, sum({TOKENS}) AS t FROM llm_calls GROUP BY run_id "
     "ORDER BY t DESC LIMIT 10",
     "SELECT run_id, sum(cost_uncached_usd - cost_usd) AS s FROM llm_calls GROUP BY run_id "
     "ORDER BY s DESC LIMIT 10"),
    ("one run's calls",
     f"SELECT sum({TOKENS} + output_tokens) FROM llm_calls WHERE run_id = 'run-4242'",
     "SELECT sum(cost_usd) FROM llm_calls WHERE run_id = 'run-4242'"),
]
# The pricing expression alone, without FINAL and the one-family-per-run rule of the
# view: the per-row price of pricing.
RAW = ("sum over llm_call_reports (no FINAL)",
       f"SELECT sum({TOKENS} + output_tokens) FROM llm_call_reports",
       None)


def generate(store: Store, rows: int) -> None:
    """Insert ``rows`` calls computed by ClickHouse itself."""
    h = "cityHash64(number)"
    store.client.command(f"""
        INSERT INTO llm_call_reports
            (timestamp, call_id, trace_id, span_id, service_name, source, source_rank,
             family_rank, run_id, turn, model, input_tokens, cache_read_tokens,
             cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
             output_tokens, is_batch, betas, speed, inference_geo, web_search_requests)
        SELECT
            toDateTime64('2026-01-01 00:00:00', 9) + toIntervalSecond({h} % 31536000),
            concat('msg_', toString(number)), hex({h}), hex(number), 'svc-' || toString(number % 5),
            'tokentrail', 90, 0, concat('run-', toString(intDiv(number, 40))),
            toUInt32(number % 40 + 1),
            arrayElement({MODELS}, 1 + ({h} % {len(MODELS)})),
            {h} % 200 + 1 AS uncached,
            (number % 40) * (bitShiftRight({h}, 8) % 6000) AS read,
            bitShiftRight({h}, 20) % 3000 AS written,
            if(bitShiftRight({h}, 30) % 10 = 0, 0, written) AS w5,
            written - w5,
            bitShiftRight({h}, 40) % 1500 + 1,
            bitShiftRight({h}, 12) % 20 = 0,
            if(bitShiftRight({h}, 14) % 50 = 0, ['context-1m-2025-08-07'], []),
            if(bitShiftRight({h}, 16) % 200 = 0, 'fast', ''),
            if(bitShiftRight({h}, 18) % 100 = 0, 'us', ''),
            toUInt32(bitShiftRight({h}, 22) % 25 = 0)
        FROM numbers({rows})
    """, settings={"max_insert_threads": 2, "max_block_size": 1_000_000})
    store.client.command("OPTIMIZE TABLE llm_call_reports FINAL")


def timed(store: Store, sql: str, settings: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): chDB runs in-process, so the CPU
    time is the engine's work, which load from other processes does not inflate."""
    wall, cpu = time.perf_counter(), time.process_time()
    store.client.query(sql, settings=settings or {})
    return time.perf_counter() - wall, time.process_time() - cpu


def run(rows: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-cost-") as tmp:
        store = Store.open(f"chdb://{Path(tmp) / 'data'}")
        try:
            prices.sync(store.client)
            started = time.perf_counter()
            generate(store, rows)
            print(f"generated {rows:,} calls in {time.perf_counter() - started:.1f} s\n")
            priced = store.query("SELECT countIf(cost_usd IS NOT NULL) AS priced, "
                                 "count() AS calls, sum(cost_usd) AS usd FROM llm_calls")[0]
            print(f"priced {priced['priced']:,} of {priced['calls']:,} calls "
                  f"(${priced['usd']:,.2f}; the unknown model gets NULL)\n")
            lines = []
            for name, tokens_sql, cost_sql in [*QUERIES, _raw_pair(store)]:
                for sql in (tokens_sql, cost_sql):  # warm both (parts in the page cache)
                    timed(store, sql)
                walls: dict[str, list[float]] = {"tokens": [], "cost": []}
                cpus: dict[str, list[float]] = {"tokens": [], "cost": []}
                for _ in range(rounds):
                    for key, sql in (("tokens", tokens_sql), ("cost", cost_sql)):
                        walls[key].append(timed(store, sql)[0])
                        cpus[key].append(timed(store, sql, ONE_THREAD)[1])
                wt, wc = min(walls["tokens"]), min(walls["cost"])
                ct, cc = min(cpus["tokens"]), min(cpus["cost"])
                lines.append(f"| {name} | {wt * 1000:,.0f} | {wc * 1000:,.0f} | {wc / wt:.2f}x "
                             f"| {ct * 1000:,.0f} | {cc * 1000:,.0f} | {cc / ct:.2f}x |")
        finally:
            store.close()
    print(f"{rows:,} calls; fastest of {rounds} alternating rounds; wall: default threads, "
          "CPU: the engine's on one thread (ms)\n")
    print("| query | wall, tokens | wall, with cost | ratio | CPU, tokens | CPU, with cost "
          "| ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))


ONE_THREAD = {"max_threads": 1}


def _raw_pair(store: Store) -> tuple[str, str, str]:
    """The pricing of llm_calls applied to llm_call_reports directly."""
    from tokentrail.analysis.pricing_sql import priced_select

    return (RAW[0], RAW[1],
            f"SELECT sum(cost_usd) FROM ({priced_select('SELECT * FROM llm_call_reports')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    run(args.rows, args.rounds)


if __name__ == "__main__":
    main()
