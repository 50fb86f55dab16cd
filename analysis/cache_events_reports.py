"""Reports over ``cache_events``: one run's cache summary, and the fleet by cause and
by service over a time range, ranked by the money lost.

SQL only; :class:`tokentrail.store.Store` runs it (``cache_summary``,
``cache_events_by``), the CLI (``tokentrail explain``) and the web UI read the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .cache_events_store import VIEW, priced, run_calls_select


def run_totals_select() -> str:
    """Params: ``run``. One row: the run's calls and token buckets, its cache hit rate
    (reads over total input, docs/facts.md §1 rule 8) and its cost where prices are
    known."""
    calls = priced(run_calls_select("run_id = {run:String}"))
    return f"""
SELECT
    count() AS calls,
    sum(input_tokens) AS sum_input,
    sum(cache_read_tokens) AS sum_read,
    sum(cache_write_5m_tokens) AS sum_write_5m,
    sum(cache_write_1h_tokens) AS sum_write_1h,
    sum(output_tokens) AS sum_output,
    sum_read / nullIf(sum_input + sum_read + sum_write_5m + sum_write_1h, 0) AS hit_rate,
    sum(cost_usd) AS sum_cost,
    countIf(cost_usd IS NULL) AS unpriced_calls
FROM {calls}"""  # noqa: S608


def run_calls_priced_select() -> str:
    """Params: ``run``. The run's calls with their cost columns, through the run-ordered
    projection, unordered (an ORDER BY here would make ClickHouse pass over the
    projection; the caller sorts the few rows)."""
    return f"SELECT * FROM {priced(run_calls_select('run_id = {run:String}'))}"  # noqa: S608


def run_writes_select() -> str:
    """Params: ``run``. The cache writes of each call of the run (to tell how many of an
    event's missed tokens were written again)."""
    calls = run_calls_select("run_id = {run:String}")
    return f"""
SELECT call_id, cache_write_5m_tokens + cache_write_1h_tokens AS written
FROM {calls}"""  # noqa: S608


_GROUPS = {"cause": ("cause",), "service": ("service_name",),
           "service_cause": ("service_name", "cause")}


def fleet_select(by: str) -> str:
    """Params: ``start``, ``end`` (DateTime64(9), end exclusive). Events over the time
    range grouped by ``by`` (``cause``, ``service`` or ``service_cause``), ranked by
    ``extra_cost_usd`` (then missed tokens, for calls of models without a price)."""
    if by not in _GROUPS:
        raise ValueError(f"group cache events by one of {sorted(_GROUPS)}, not {by!r}")
    keys = ", ".join(_GROUPS[by])
    return f"""
SELECT
    {keys},
    count() AS events,
    uniqExact(e.run_id) AS runs,
    sum(e.missed_tokens) AS missed_tokens,
    sum(e.extra_cost_usd) AS extra_cost_usd,
    countIf(e.extra_cost_usd IS NULL) AS unpriced_events
FROM {VIEW} AS e
WHERE e.timestamp >= {{start:DateTime64(9)}} AND e.timestamp < {{end:DateTime64(9)}}
GROUP BY {keys}
ORDER BY extra_cost_usd DESC NULLS LAST, missed_tokens DESC, {keys}"""  # noqa: S608


@dataclass(frozen=True)
class CacheSummary:
    """One run's cache behaviour: what it read and wrote, and what its events cost."""

    run_id: str
    calls: int
    input_tokens: int  # uncached
    cache_read_tokens: int
    cache_write_tokens: int  # 5m + 1h
    output_tokens: int
    hit_rate: float | None  # cache reads / total input
    cost_usd: float | None  # the run's cost; None if a call has no price
    rewritten_tokens: int  # tokens written again that the run had cached before
    events: int
    missed_tokens: int
    extra_cost_usd: float | None  # None when no event could be priced
    by_cause: list[dict[str, Any]] = field(default_factory=list)  # cause, events, ...


def summarize(run_id: str, totals: dict[str, Any], events: list[dict[str, Any]],
              written: dict[str, int]) -> CacheSummary:
    """Combine the run's totals with its events (which come either from the stored
    table or from judging the run now, so they are joined here rather than in SQL).
    ``rewritten_tokens``: of each event's missed tokens, those its call wrote to the
    cache again (the rest went to uncached input)."""
    by_cause: dict[str, dict[str, Any]] = {}
    rewritten = 0
    for event in events:
        rewritten += min(int(event["missed_tokens"]), int(written.get(event["call_id"], 0)))
        entry = by_cause.setdefault(event["cause"], {
            "cause": event["cause"], "events": 0, "missed_tokens": 0, "extra_cost_usd": None})
        entry["events"] += 1
        entry["missed_tokens"] += int(event["missed_tokens"])
        if event["extra_cost_usd"] is not None:
            entry["extra_cost_usd"] = (entry["extra_cost_usd"] or 0.0) + event["extra_cost_usd"]
    causes = sorted(by_cause.values(),
                    key=lambda e: (-(e["extra_cost_usd"] or 0.0), -e["missed_tokens"], e["cause"]))
    priced = [e["extra_cost_usd"] for e in causes if e["extra_cost_usd"] is not None]
    return CacheSummary(
        run_id=run_id, calls=int(totals["calls"]), input_tokens=int(totals["sum_input"]),
        cache_read_tokens=int(totals["sum_read"]),
        cache_write_tokens=int(totals["sum_write_5m"]) + int(totals["sum_write_1h"]),
        output_tokens=int(totals["sum_output"]),
        cost_usd=None if totals["unpriced_calls"] else totals["sum_cost"],
        hit_rate=None if totals["hit_rate"] is None else float(totals["hit_rate"]),
        rewritten_tokens=rewritten, events=len(events),
        missed_tokens=sum(int(e["missed_tokens"]) for e in events),
        extra_cost_usd=sum(priced) if priced else None, by_cause=causes)
