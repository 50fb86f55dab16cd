"""The runs list: filters, sort, paging; HTML for people, JSON for scripts.

Both read one ``store.run_list`` call with the same arguments, so the page and its twin
show the same rows in the same order.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator

from tokentrail.store import Store
from tokentrail.web.api_models import FilterOptions, RunFilters, RunListRow, RunsPage
from tokentrail.web.dependencies import StoreDep, templates
from tokentrail.web.params import EndQuery, StartQuery, time_range

router = APIRouter()

PAGE_SIZE = 50

Sort = Literal["recent", "cost"]
ServiceQuery = Annotated[str | None, Query(description="Only runs of this service")]
ModelQuery = Annotated[str | None, Query(description="Only runs that called this model")]
# The form's "any" option submits has_events= (empty): that is "not given".
HasEventsQuery = Annotated[bool | None, BeforeValidator(lambda v: None if v == "" else v),
                           Query(description="true: only runs with cache events; false: "
                                             "only runs without; empty: any")]
SortQuery = Annotated[Sort, Query(description="recent: newest first; cost: costliest first")]
PageQuery = Annotated[int, Query(ge=1)]
PerPageQuery = Annotated[int, Query(ge=1, le=500)]


def _page(store: Store, *, service: str | None, model: str | None, start: str | None,
          end: str | None, has_events: bool | None, sort: Sort, page: int,
          per_page: int) -> RunsPage:
    span = time_range(start, end)
    rows, total = store.run_list(
        start=span.start, end=span.end, service=service or None, model=model or None,
        has_events=has_events, sort=sort, limit=per_page, offset=(page - 1) * per_page)
    options = store.filter_options()
    return RunsPage(
        runs=[RunListRow.model_validate(r) for r in rows], total=total, page=page,
        pages=max(1, math.ceil(total / per_page)), per_page=per_page,
        filters=RunFilters(service=service or None, model=model or None, start=span.start,
                           end=span.end, has_events=has_events, sort=sort),
        options=FilterOptions(**options))


@router.get("/", response_class=HTMLResponse, name="runs")
def runs_page(request: Request, store: StoreDep, service: ServiceQuery = None,
              model: ModelQuery = None, start: StartQuery = None, end: EndQuery = None,
              has_events: HasEventsQuery = None, sort: SortQuery = "recent",
              page: PageQuery = 1, per_page: PerPageQuery = PAGE_SIZE):
    data = _page(store, service=service, model=model, start=start, end=end,
                 has_events=has_events, sort=sort, page=page, per_page=per_page)
    # What the form shows and the pager/sort links keep.
    params: dict[str, Any] = {
        "service": service or "", "model": model or "", "start": start or "",
        "end": end or "", "sort": sort if sort != "recent" else "",
        "has_events": "" if has_events is None else str(has_events).lower(),
        "per_page": per_page if per_page != PAGE_SIZE else ""}
    filtered = any(params[k] for k in ("service", "model", "start", "end", "has_events"))
    return templates.TemplateResponse(request, "runs.html", {
        "data": data, "params": params, "filtered": filtered})


@router.get("/api/runs", name="runs_json", response_model=RunsPage)
def runs_json(store: StoreDep, service: ServiceQuery = None, model: ModelQuery = None,
              start: StartQuery = None, end: EndQuery = None,
              has_events: HasEventsQuery = None, sort: SortQuery = "recent",
              page: PageQuery = 1, per_page: PerPageQuery = PAGE_SIZE) -> RunsPage:
    """The runs page as JSON: the same rows, order, filters and paging."""
    return _page(store, service=service, model=model, start=start, end=end,
                 has_events=has_events, sort=sort, page=page, per_page=per_page)

