"""The runs list: newest first, paginated; HTML for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from tokentrail.web.dependencies import StoreDep, templates

from tokentrail.store import Store

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
