"""``tokentrail explain RUN_ID``: a run's turns with its cache events inline, as text.

A pure function of what the store returned (the run's calls, its cache summary and its
events), so the CLI computes nothing of its own and the output can be tested as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .cache_events_reports import CacheSummary


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.4f}"


def _time(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 100_000}"
    return str(value)


def explain(run_id: str, calls: Sequence[dict[str, Any]], summary: CacheSummary | None,
            events: Sequence[dict[str, Any]]) -> str:
    """The text of ``tokentrail explain``: a header, the cache summary, then one line per
    call (turn, start, gap, model, token buckets, cost) with its event below it."""
    if not calls or summary is None:
        return f"run {run_id}: no calls\n"
    first, last = calls[0], calls[-1]
    models = sorted({c["model"] for c in calls if c.get("model")})
    name = next((c["run_name"] for c in calls if c.get("run_name")), "")
    lines = [
        f"run {run_id}" + (f" ({name})" if name else "")
        + f" | service {first.get('service_name') or '-'} | {len(calls)} calls"
        + f" | {', '.join(models) or '-'} | {first['timestamp']} -> {last['timestamp']}",
    ]
    hit = "n/a" if summary.hit_rate is None else f"{summary.hit_rate:.1%}"
    lost = _usd(summary.extra_cost_usd) if summary.events else "$0"
    causes = ", ".join(
        f"{c['cause']} {c['events']}x {_usd(c['extra_cost_usd'])}" for c in summary.by_cause)
    lines.append(
        f"cache: hit rate {hit} | read {_n(summary.cache_read_tokens)} | written "
        f"{_n(summary.cache_write_tokens)} | re-written {_n(summary.rewritten_tokens)} | "
        f"{summary.events} event(s), lost {lost}" + (f" ({causes})" if causes else "")
        + f" | run cost {_usd(summary.cost_usd)}")
    lines.append("")
    header = (f"{'turn':>4}  {'start':<10}  {'gap':>8}  {'model':<26}  {'uncached':>9}  "
              f"{'read':>9}  {'written':>9}  {'output':>7}  {'cost':>9}")
    lines += [header, "-" * len(header)]
    by_call = {e["call_id"]: e for e in events}
    previous = None
    for position, call in enumerate(calls, 1):
        turn = call.get("turn") or position
        gap = ""
        if previous is not None:
            gap = f"+{(call['timestamp'] - previous).total_seconds():.1f}s"
        previous = call["timestamp"]
        written = (call.get("cache_write_5m_tokens") or 0) + (call.get("cache_write_1h_tokens")
                                                            or 0)
        lines.append(
            f"{turn:>4}  {_time(call['timestamp']):<10}  {gap:>8}  {call.get('model', ''):<26}  "
            f"{_n(call.get('input_tokens')):>9}  {_n(call.get('cache_read_tokens')):>9}  "
            f"{_n(written):>9}  {_n(call.get('output_tokens')):>7}  "
            f"{_usd(call.get('cost_usd')):>9}")
        event = by_call.get(call["call_id"])
        if event is not None:
            extra = ("" if event["extra_cost_usd"] is None
                     else f", +{_usd(event['extra_cost_usd'])}")
            lines.append(f"{'':>6}! {event['cause']} [{event['evidence']}] "
                         f"{_n(event['missed_tokens'])} tokens missed{extra}: {event['detail']}")
    unmatched = [e for e in events if e["call_id"] not in {c["call_id"] for c in calls}]
    for event in unmatched:  # a call the calls list did not have (should not happen)
        lines.append(f"turn {event['turn']}: ! {event['cause']}: {event['detail']}")
    return "\n".join(lines) + "\n"
