"""The fleet page's charts as numbers for the templates: which bars, where, how tall.

Geometry comes from :mod:`tokentrail.web.svg` (scales, ticks, stacked bars, lines);
this module decides what the fleet charts show: one bar per day of the range, the
costliest series named and the rest summed as "other" (a chart with 40 colours reads
as none), and every value the chart draws also as the rows of its table. Nothing here
emits markup: the templates do, through autoescape.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tokentrail.store.ui_reads import utc_days
from tokentrail.web import formatting, svg
from tokentrail.web.api_models import FleetPage

WIDTH, HEIGHT = 1200, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 28
MAX_SERIES = 8          # named series per stacked chart; the rest is "other"
OTHER = "other"
MAX_DAY_LABELS = 10


@dataclass
class Bar:
    label: str
    x: float
    width: float
    total: float
    segments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StackedChart:
    id: str
    title: str
    unit: str                      # "usd" or "pct": how values read
    series: list[str]
    bars: list[Bar]
    yticks: list[dict[str, Any]]
    xlabels: list[dict[str, Any]]
    columns: list[str]             # the table's header: day, each series, total
    rows: list[list[Any]]          # the table: one row per day
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    empty: bool = False


@dataclass
class LineChart:
    id: str
    title: str
    path: str
    points: list[dict[str, Any]]
    yticks: list[dict[str, Any]]
    xlabels: list[dict[str, Any]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    empty: bool = False


@dataclass
class HBars:
    """Horizontal bars, one per category (causes, sources): label, value, bar length."""

    id: str
    title: str
    unit: str
    items: list[dict[str, Any]]
    width: int = 600          # half the page: the two bar charts sit side by side
    row_height: int = 26
    label_width: int = 160
    empty: bool = False

    @property
    def height(self) -> int:
        return max(1, len(self.items)) * self.row_height + 8


def _days(start: datetime, end: datetime) -> list[date]:
    """Every UTC day that ``[start, end)`` touches: the days the store's fleet read
    covers (:func:`tokentrail.store.ui_reads.utc_days`), one bar each."""
    first, last = utc_days(start, end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _x_labels(days: list[date], band: svg.BandScale) -> list[dict[str, Any]]:
    shown = svg.thinned(len(days), MAX_DAY_LABELS)
    return [{"x": round(band.center(i - 1), 2), "label": days[i - 1].strftime("%b %d")}
            for i in shown]


def _usd_ticks(high: float, scale_top: float, scale_bottom: float):
    y, ticks = svg.LinearScale.nice(high, scale_bottom, scale_top, count=4)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return y, [{"y": round(y(t), 2), "label": formatting.usd_tick(t, step)} for t in ticks]


def stacked_by_day(chart_id: str, title: str, rows: list[Any], key: str,
                   start: datetime, end: datetime) -> StackedChart:
    """Cost per day stacked by ``key`` (model, service_name)."""
    days = _days(start, end)
    per: dict[tuple[date, str], float] = defaultdict(float)
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        name = getattr(r, key) or "(none)"
        value = float(r.cost_usd or 0)
        per[(_as_date(r.day), name)] += value
        totals[name] += value
    ranked = sorted(totals, key=lambda n: (-totals[n], n))
    named = ranked if len(ranked) <= MAX_SERIES + 1 else ranked[:MAX_SERIES]
    series = named + ([OTHER] if len(ranked) > len(named) else [])
    index = {n: (i if i < len(named) else len(named)) for i, n in
             enumerate(ranked)}
    matrix = [[0.0] * len(series) for _ in days]
    day_index = {d: i for i, d in enumerate(days)}
    for (d, name), value in per.items():
        if d in day_index:
            matrix[day_index[d]][index[name]] += value
    high = max((sum(row) for row in matrix), default=0.0)
    band = svg.BandScale(len(days), LEFT, WIDTH - RIGHT, padding=0.25)
    y, yticks = _usd_ticks(high, TOP, HEIGHT - BOTTOM)
    bars = []
    for i, (d, row) in enumerate(zip(days, matrix, strict=True)):
        label = d.isoformat()
        segments = [{"series": s.series, "name": series[s.series], "x": s.x, "y": s.y,
                     "width": s.width, "height": s.height, "value": s.value}
                    for s in svg.stacked_bar(row, band, y, i, min_height=0.5)]
        bars.append(Bar(label, round(band.start(i), 2), round(band.width, 2), sum(row),
                        segments))
    table_rows = [[d.isoformat(), *row, sum(row)] for d, row in zip(days, matrix, strict=True)
                  if any(row)]
    return StackedChart(chart_id, title, "usd", series, bars, yticks, _x_labels(days, band),
                        ["Day", *series, "Total"], table_rows, empty=not table_rows)


def hit_rate_line(rows: list[Any], start: datetime, end: datetime) -> LineChart:
    """The fleet's cache hit rate per day (days without calls break the line)."""
    days = _days(start, end)
    by_day = {_as_date(r.day): r for r in rows}
    band = svg.BandScale(len(days), LEFT, WIDTH - RIGHT, padding=0.25)
    y = svg.LinearScale(0.0, 1.0, HEIGHT - BOTTOM, TOP)
    points, coords = [], []
    for i, d in enumerate(days):
        r = by_day.get(d)
        rate = r.hit_rate if r is not None else None
        cx = band.center(i)
        coords.append((cx, None if rate is None else y(rate)))
        if rate is not None:
            points.append({"x": round(cx, 2), "y": round(y(rate), 2), "day": d.isoformat(),
                           "hit_rate": rate, "read": r.cache_read_tokens,
                           "input_side": r.input_side_tokens})
    yticks = [{"y": round(y(t), 2), "label": formatting.percent(t)} for t in (0, .25, .5, .75, 1)]
    return LineChart("hit-rate", "Cache hit rate per day", svg.line_path(coords), points,
                     yticks, _x_labels(days, band), empty=not points)


def hbars(chart_id: str, title: str, items: list[tuple[str, float | None, int | None]],
          unit: str) -> HBars:
    """(label, value, an extra count or None) as horizontal bars, in the order given. A
    None value (money lost on a model without a price) draws no bar and reads as
    'unpriced'."""
    chart = HBars(chart_id, title, unit, [])
    high = max((v or 0.0 for _, v, _ in items), default=0.0)
    scale = svg.LinearScale(0.0, high or 1.0, 0.0, chart.width - chart.label_width - 130)
    for i, (label, value, extra) in enumerate(items):
        chart.items.append({"label": label, "value": value, "extra": extra,
                            "y": 4 + i * chart.row_height,
                            "length": round(max(scale.length(value or 0.0),
                                                1.0 if value else 0), 2)})
    chart.empty = not items
    return chart


def build(fleet: FleetPage) -> dict[str, Any]:
    """Every chart of the fleet page, keyed by name."""
    causes = sorted(fleet.lost_by_cause, key=lambda r: -(r.extra_cost_usd or 0))
    sources = sorted(fleet.calls_by_source, key=lambda r: -r.calls)
    return {
        "by_model": stacked_by_day("cost-by-model", "Cost per day by model",
                                   fleet.cost_by_day_model, "model", fleet.start, fleet.end),
        "by_service": stacked_by_day("cost-by-service", "Cost per day by service",
                                     fleet.cost_by_day_service, "service_name",
                                     fleet.start, fleet.end),
        "hit_rate": hit_rate_line(fleet.hit_rate_by_day, fleet.start, fleet.end),
        "lost": hbars("lost-by-cause", "Lost to cache events, by cause",
                      [(r.cause, r.extra_cost_usd, r.events) for r in causes], "usd"),
        "sources": hbars("calls-by-source", "Calls per source",
                         [(r.source, float(r.calls), None) for r in sources], "count"),
    }
