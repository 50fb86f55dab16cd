"""The fleet: what the whole fleet spent, day by day, and where the cache lost money.

One ``store.fleet(start, end)`` read feeds the page and its JSON twin; the page adds the
charts (server-rendered SVG, :mod:`tokentrail.web.fleet_charts`) and a table under each.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tokentrail.store import Store
from tokentrail.web import fleet_charts
from tokentrail.web.api_models import FleetPage
from tokentrail.web.dependencies import StoreDep, templates
from tokentrail.web.params import (
    RANGES,
    EndQuery,
    RangeQuery,
    StartQuery,
    TimeRange,
    time_range,
    to_date_text,
)

router = APIRouter()

DEFAULT_RANGE = "30d"


def _fleet(store: Store, span: TimeRange) -> FleetPage:
    data = store.fleet(span.start, span.end)
    return FleetPage.model_validate({**data, "start": span.start, "end": span.end,
                                     "range": span.range})


@router.get("/fleet", response_class=HTMLResponse, name="fleet")
def fleet_page(request: Request, store: StoreDep, start: StartQuery = None,
               end: EndQuery = None, range_: RangeQuery = None):
    span = time_range(start, end, range_, default=DEFAULT_RANGE)
    fleet = _fleet(store, span)
    return templates.TemplateResponse(request, "fleet.html", {
        "fleet": fleet, "span": span, "ranges": list(RANGES),
        "start_date": start or to_date_text(span.start),
        "end_date": end or to_date_text(span.end),
        "charts": fleet_charts.build(fleet)})


@router.get("/api/fleet", name="fleet_json", response_model=FleetPage)
def fleet_json(store: StoreDep, start: StartQuery = None, end: EndQuery = None,
               range_: RangeQuery = None) -> FleetPage:
    """The fleet page as JSON: cost per day by model and by service, cache hit rate per
    day, money lost to cache events by cause, the costliest runs, calls per source.
    Default range: the last 30 days."""
    return _fleet(store, time_range(start, end, range_, default=DEFAULT_RANGE))
