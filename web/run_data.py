"""What the run and call pages read from the store, in the shape of the UI contract.

``Store.run_detail`` / ``Store.call_detail`` (tokentrail/store/ui_reads.py) are the
reads the pages are built for. A store without them (an older checkout in the middle of
an upgrade) gets the same dicts from the reads every store has, so the pages never
depend on which one answered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, is_dataclass
from typing import Any

from tokentrail.store import Store

BUCKETS = ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
           "cache_write_1h_tokens", "output_tokens")
COST_BUCKETS = ("cost_input_usd", "cost_cache_read_usd", "cost_cache_write_5m_usd",
                "cost_cache_write_1h_usd", "cost_output_usd", "cost_server_tools_usd")


def utc(value: Any) -> Any:
    """A naive datetime from the store is UTC (ClickHouse DateTime64 in UTC)."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) for k, v in row.items()}


def run_detail(store: Store, run_id: str) -> dict[str, Any] | None:
    """The run, its calls in order, its cache events and summary, parent and children."""
    reader = getattr(store, "run_detail", None)
    detail = reader(run_id) if reader is not None else _run_detail_fallback(store, run_id)
    if detail is None:
        return None
    summary = detail.get("summary")
    if is_dataclass(summary) and not isinstance(summary, type):
        summary = asdict(summary)
    return {
        "run": _aware(detail["run"]),
        "calls": [_aware(c) for c in detail["calls"]],
        "events": [_aware(e) for e in detail["events"]],
        "summary": summary,
        "parent": detail.get("parent") or None,
        "children": [_aware(c) for c in detail.get("children") or []],
    }


def call_detail(store: Store, call_id: str) -> dict[str, Any] | None:
    """One call (all its columns and its position in the run), the previous call of
    the run, and the cache events of the call."""
    reader = getattr(store, "call_detail", None)
    detail = reader(call_id) if reader is not None else _call_detail_fallback(store, call_id)
    if detail is None:
        return None
    previous = detail.get("previous")
    return {"call": _aware(detail["call"]),
            "previous": _aware(previous) if previous else None,
            "events": [_aware(e) for e in detail.get("events") or []]}


# --- the same from the reads every store has ------------------------------------------


def _run_row(run_id: str, calls: list[dict[str, Any]], events: list[dict[str, Any]]
             ) -> dict[str, Any]:
    sums = {b: sum(int(c.get(b) or 0) for c in calls) for b in BUCKETS}
    costs = [c.get("cost_usd") for c in calls]
    uncached = [c.get("cost_uncached_usd") for c in calls]
    input_side = sums["input_tokens"] + sums["cache_read_tokens"] + \
        sums["cache_write_5m_tokens"] + sums["cache_write_1h_tokens"]
    extra = [e["extra_cost_usd"] for e in events if e.get("extra_cost_usd") is not None]
    first = calls[0]
    return {
        "run_id": run_id,
        "run_name": next((c["run_name"] for c in calls if c.get("run_name")), ""),
        "service_name": first.get("service_name", ""),
        "models": sorted({c["model"] for c in calls if c.get("model")}),
        "parent_run_id": next((c["parent_run_id"] for c in calls if c.get("parent_run_id")),
                              ""),
        "source": first.get("source", ""),
        "calls": len(calls),
        **sums,
        "cost_usd": None if any(c is None for c in costs) else sum(costs),
        "cost_uncached_usd": None if any(c is None for c in uncached) else sum(uncached),
        "hit_rate": sums["cache_read_tokens"] / input_side if input_side else None,
        "events": len(events),
        "events_cost_usd": sum(extra) if extra else None,
        "started_at": calls[0]["timestamp"],
        "ended_at": calls[-1]["timestamp"],
    }


_CALL_FIELDS = ("call_id", "position", "turn", "timestamp", "model", "source", *BUCKETS,
                *COST_BUCKETS, "cost_usd", "cost_uncached_usd", "duration_ms", "stop_reason")


def _run_detail_fallback(store: Store, run_id: str) -> dict[str, Any] | None:
    calls = store.calls(run_id)
    if not calls:
        return None
    events = store.cache_events(run_id)
    run = _run_row(run_id, calls, events)
    children_ids = [r["run_id"] for r in store.query(
        "SELECT DISTINCT run_id FROM llm_calls WHERE parent_run_id = {run:String} "
        "ORDER BY run_id", {"run": run_id})]
    children = []
    for child in children_ids:
        child_calls = store.calls(child)
        if child_calls:
            children.append(_run_row(child, child_calls, store.cache_events(child)))
    return {"run": run, "calls": [{k: c.get(k) for k in _CALL_FIELDS} for c in calls],
            "events": events, "summary": store.cache_summary(run_id),
            "parent": run["parent_run_id"] or None, "children": children}


def _call_detail_fallback(store: Store, call_id: str) -> dict[str, Any] | None:
    rows = store.query("SELECT run_id FROM llm_calls WHERE call_id = {c:String} LIMIT 1",
                       {"c": call_id})
    if not rows:
        return None
    run_id = rows[0]["run_id"]
    calls = store.calls(run_id)
    index = next((i for i, c in enumerate(calls) if c["call_id"] == call_id), None)
    if index is None:
        return None
    events = [e for e in store.cache_events(run_id) if e["call_id"] == call_id]
    return {"call": calls[index], "previous": calls[index - 1] if index else None,
            "events": events}
