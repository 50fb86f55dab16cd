"""One call: tokens and cost per bucket, timing, its cache events, and its prompt prefix
part by part against the previous call of the run; HTML and ``/api/calls/{call_id}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from tokentrail.analysis.cache_events_rules import CAUSES
from tokentrail.web.dependencies import StoreDep, templates
from tokentrail.web.prefix_diff import compare

router = APIRouter()

# (label, tokens column, cost column, rate column)
BUCKET_ROWS = (
    ("Uncached input", "input_tokens", "cost_input_usd", "rate_input_usd"),
    ("Cache read", "cache_read_tokens", "cost_cache_read_usd", "rate_cache_read_usd"),
    ("Cache write 5m", "cache_write_5m_tokens", "cost_cache_write_5m_usd",
     "rate_cache_write_5m_usd"),
    ("Cache write 1h", "cache_write_1h_tokens", "cost_cache_write_1h_usd",
     "rate_cache_write_1h_usd"),
    ("Output", "output_tokens", "cost_output_usd", "rate_output_usd"),
)


class CallPage(BaseModel):
    """The call page as JSON: the call's row, the previous call's row, its cache events,
    and the prefix compared part by part."""

    call: dict[str, Any]
    previous: dict[str, Any] | None
    events: list[dict[str, Any]]
    prefix: dict[str, Any]
    gap_seconds: float | None
    contents: list[dict[str, str]]  # captured text, only when the agent opted in


def _load(store, call_id: str) -> dict[str, Any]:
    detail = store.call_detail(call_id)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no call {call_id!r}")
    call, previous = detail["call"], detail["previous"]
    detail["prefix"] = compare(call, previous).as_dict()
    gap = None
    if previous and previous.get("timestamp") and call.get("timestamp"):
        gap = (call["timestamp"] - previous["timestamp"]).total_seconds()
    detail["gap_seconds"] = gap
    detail["contents"] = [{"part": heading, "text": text}
                          for heading, text in store.call_contents(call)]
    return detail


@router.get("/calls/{call_id:path}", response_class=HTMLResponse, name="call")
def call_page(request: Request, call_id: str, store: StoreDep):
    try:
        detail = _load(store, call_id)
    except HTTPException:
        return templates.TemplateResponse(request, "missing.html",
                                          {"what": "call", "ident": call_id}, status_code=404)
    return templates.TemplateResponse(request, "call.html", {
        **detail, "buckets": BUCKET_ROWS, "causes": CAUSES})


@router.get("/api/calls/{call_id:path}", name="call_json", response_model=CallPage)
def call_json(call_id: str, store: StoreDep) -> dict[str, Any]:
    """One call with every column, the previous call of its run, its cache events, and
    its prefix against the previous call (same / changed / new per part, breakpoints and
    TTLs, the first difference and its hint, the API's cache diagnostics)."""
    return _load(store, call_id)
