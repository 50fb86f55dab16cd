"""What the run and call pages read from the store: ``Store.run_detail`` and
``Store.call_detail`` (tokentrail/store/ui_reads.py), normalised for the templates and
the JSON (UTC-aware datetimes, the cache summary as a dict)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, is_dataclass
from typing import Any

from tokentrail.store import Store
from tokentrail.store.ui_reads import as_utc


def utc(value: Any) -> Any:
    """A datetime from the store as an aware UTC datetime; other values unchanged."""
    return as_utc(value) if isinstance(value, dt.datetime) else value


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) for k, v in row.items()}


def run_detail(store: Store, run_id: str) -> dict[str, Any] | None:
    """The run, its calls in order, its cache events and summary, parent and children."""
    detail = store.run_detail(run_id)
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
    detail = store.call_detail(call_id)
    if detail is None:
        return None
    previous = detail.get("previous")
    return {"call": _aware(detail["call"]),
            "previous": _aware(previous) if previous else None,
            "events": [_aware(e) for e in detail.get("events") or []]}
