"""The runs list: newest first, paginated; HTML for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from tokentrail.store import Store
from tokentrail.web.dependencies import StoreDep, templates

router = APIRouter()

PAGE_SIZE = 50


def _page(store: Store, page: int, per_page: int) -> dict:
    total = store.count_runs()
    pages = max(1, math.ceil(total / per_page))
    runs = store.runs(limit=per_page, offset=(page - 1) * per_page)
    return {"runs": runs, "page": page, "pages": pages, "per_page": per_page, "total": total}


@router.get("/", response_class=HTMLResponse, name="runs")
def runs_page(
    request: Request,
    store: StoreDep,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
):
    return templates.TemplateResponse(request, "runs.html", _page(store, page, per_page))


@router.get("/api/runs", name="runs_json")
def runs_json(
    store: StoreDep,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
) -> dict:
    """The runs page as JSON (same rows, same order, same paging)."""
    data = _page(store, page, per_page)
    data["runs"] = [
        dataclasses.asdict(run) | {"total_input_tokens": run.total_input_tokens}
        for run in data["runs"]
    ]
    return data


@router.get("/api/runs/{run_id}/calls", name="run_calls_json")
def run_calls_json(run_id: str, store: StoreDep) -> dict:
    """Every LLM call of one run, in order: the rows of ``llm_calls``."""
    calls = store.calls(run_id)
    if not calls:
        raise HTTPException(status_code=404, detail=f"no run {run_id!r}")
    return {"run_id": run_id, "calls": calls}
