"""One run: its timeline (tokens per turn, cumulative cost, cache events), summary and
turns; HTML for people, JSON at ``/api/runs/{run_id}``.

A run whose last call is recent is "live": the page refetches its server-rendered body
(``/runs/{run_id}?part=body``) every few seconds until the run goes quiet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from tokentrail.analysis.cache_events_rules import CAUSES
from tokentrail.web import timeline
from tokentrail.web.api_models import RunListRow
from tokentrail.web.dependencies import StoreDep, templates

router = APIRouter()

LIVE_WINDOW = dt.timedelta(minutes=2)  # a run whose last call is newer is still going
POLL_SECONDS = 3


class _Open(BaseModel):
    """Rows keep every column the store returns; the named fields are documented."""

    model_config = ConfigDict(extra="allow")


class RunCall(_Open):
    call_id: str
    position: int
    turn: int
    timestamp: dt.datetime
    model: str
    input_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    cost_usd: float | None = None
    cost_uncached_usd: float | None = None
    duration_ms: float
    stop_reason: str = ""


class CacheEvent(_Open):
    call_id: str
    turn: int
    cause: str
    detail: str
    missed_tokens: int
    extra_cost_usd: float | None = None


class RunPage(BaseModel):
    """The run timeline page as JSON: the same rows the page draws."""

    run: RunListRow
    calls: list[RunCall]
    events: list[CacheEvent]
    summary: dict[str, Any] | None
    parent: str | None
    parent_name: str = ""  # the parent run's name, '' when it has none
    children: list[RunListRow]
    cost_saved_usd: float | None
    live: bool


def _load(store, run_id: str) -> dict[str, Any]:
    detail = store.run_detail(run_id)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no run {run_id!r}")
    run = detail["run"]
    cost, uncached = run.get("cost_usd"), run.get("cost_uncached_usd")
    detail["cost_saved_usd"] = None if cost is None or uncached is None else uncached - cost
    detail["live"] = _is_live(run, detail["calls"])
    return detail


def _is_live(run: dict[str, Any], calls: list[dict[str, Any]]) -> bool:
    """Whether the run's last call ended (start + duration: a call is stored once it
    has ended) less than :data:`LIVE_WINDOW` ago."""
    ended = run.get("ended_at")  # the store's reads give aware UTC datetimes
    if not isinstance(ended, dt.datetime):
        return False
    if calls:
        ended = max(ended, calls[-1]["timestamp"]
                    + dt.timedelta(milliseconds=float(calls[-1].get("duration_ms") or 0)))
    return dt.datetime.now(dt.timezone.utc) - ended < LIVE_WINDOW


def _context(detail: dict[str, Any]) -> dict[str, Any]:
    calls, events = detail["calls"], detail["events"]
    chart = timeline.build(calls, events)
    event_of = {e["call_id"]: e for e in events}
    started = calls[0]["timestamp"] if calls else None
    turns = []
    for i, call in enumerate(calls):
        turns.append({"call": call, "n": i + 1, "event": event_of.get(call["call_id"]),
                      "cumulative": chart.cumulative[i],
                      "offset": (call["timestamp"] - started).total_seconds()
                      if started else None,
                      "total": sum(int(call.get(col) or 0) for _, _, col in timeline.SERIES)})
    return {**detail, "chart": chart, "turns": turns, "series": timeline.SERIES,
            "causes": CAUSES, "poll_seconds": POLL_SECONDS}


def _not_found(request: Request, run_id: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "missing.html", {"what": "run", "ident": run_id}, status_code=404)


@router.get("/runs/{run_id:path}", response_class=HTMLResponse, name="run")
def run_page(request: Request, run_id: str, store: StoreDep, part: str = ""):
    """The timeline page; ``?part=body`` is its body alone, which the page refetches
    while the run is live. (``:path``: run ids may contain slashes.)"""
    try:
        detail = _load(store, run_id)
    except HTTPException:
        if part:
            raise
        return _not_found(request, run_id)
    template = "_run_body.html" if part == "body" else "run.html"
    return templates.TemplateResponse(request, template, _context(detail))


@router.get("/api/runs/{run_id:path}", name="run_json", response_model=RunPage)
def run_json(run_id: str, store: StoreDep) -> dict[str, Any]:
    """One run: its row, its calls in order with tokens and cost per bucket, its cache
    events and summary, parent and child runs, what caching saved, whether it is live."""
    return _load(store, run_id)
