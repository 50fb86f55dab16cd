"""The run timeline chart as numbers: one stacked bar per turn, the cumulative cost
line on a second axis, a marker per cache event.

Built from the rows of ``Store.run_detail`` (calls in order, cache events); the
template ``_timeline.html`` draws it, so every value from telemetry goes through
Jinja2's autoescape. Geometry comes from :mod:`tokentrail.web.svg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tokentrail.analysis.cache_events_rules import CAUSES
from tokentrail.web import formatting, svg

# (css suffix, legend label, column): stacked bottom to top in this order, the bucket
# people pay most attention to (uncached input) on the baseline.
SERIES: tuple[tuple[str, str, str], ...] = (
    ("input", "Uncached input", "input_tokens"),
    ("cache-read", "Cache read", "cache_read_tokens"),
    ("write-5m", "Cache write 5m", "cache_write_5m_tokens"),
    ("write-1h", "Cache write 1h", "cache_write_1h_tokens"),
    ("output", "Output", "output_tokens"),
)

WIDTH, HEIGHT = 1200, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 78, 44, 46  # margins: axes labels, marker lane
MARKER_LANE = 20  # y of the event markers, above the plot
MAX_X_LABELS = 24
DOTS_UP_TO = 60  # cost points drawn as dots while bars are wide enough to see them


def cause_class(cause: str) -> str:
    """The CSS class of a cause's colour; causes outside the vocabulary share one."""
    return f"cause-{cause}" if cause in CAUSES else "cause-other"


@dataclass
class Bar:
    turn: int
    call_id: str
    segments: list[tuple[str, svg.Segment]]  # (css suffix, geometry)


@dataclass
class Marker:
    turn: int
    call_id: str
    cause: str
    css: str
    x: float
    y: float
    line_top: float
    line_bottom: float
    label: str  # the accessible name: turn, cause, detail, tokens, cost
    detail: str
    missed_tokens: int
    extra_cost_usd: float | None
    text_x: float | None = None  # where the cause is written beside the marker, if room
    text_anchor: str = "start"


@dataclass
class CauseKey:
    """A legend entry: a cause of this run, its colour, its events and what they cost."""

    cause: str
    css: str
    events: int
    extra_cost_usd: float | None


@dataclass
class Timeline:
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: float = LEFT
    plot_right: float = WIDTH - RIGHT
    plot_top: float = TOP
    plot_bottom: float = HEIGHT - BOTTOM
    turns: int = 0
    band: float = 0.0
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    cost_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    cost_path: str = ""
    cost_dots: list[tuple[float, float]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    causes: list[CauseKey] = field(default_factory=list)  # the causes in the run, in order
    unpriced_calls: int = 0
    priced: bool = False
    cumulative: list[float | None] = field(default_factory=list)  # per turn, for the table


def cumulative_costs(calls: Sequence[dict[str, Any]]) -> tuple[list[float | None], int]:
    """Running total of ``cost_usd`` per turn (calls without a price add nothing) and the
    number of unpriced calls; None up to the first priced call."""
    total: float | None = None
    out: list[float | None] = []
    unpriced = 0
    for call in calls:
        cost = call.get("cost_usd")
        if cost is None:
            unpriced += 1
        else:
            total = (total or 0.0) + float(cost)
        out.append(total)
    return out, unpriced


CHAR_WIDTH = 6.6  # of the 11px marker caption, for laying captions out without overlaps


def _place_texts(chart: Timeline) -> None:
    """Write each marker's cause beside it where it fits (right of the marker, else
    left of it) without running into another caption or marker; crowded charts keep
    the colour and the tooltip only."""
    taken: list[tuple[float, float]] = [(m.x - 9, m.x + 9) for m in chart.markers]
    for m in chart.markers:
        width = len(m.cause) * CHAR_WIDTH
        for anchor, lo, hi in (("start", m.x + 12, m.x + 12 + width),
                               ("end", m.x - 12 - width, m.x - 12)):
            if lo < chart.plot_left - 40 or hi > chart.plot_right + 40:
                continue
            if any(lo < b and a < hi for a, b in taken):
                continue
            m.text_x, m.text_anchor = (lo if anchor == "start" else hi), anchor
            taken.append((lo, hi))
            break


def build(calls: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]) -> Timeline:
    """The chart of a run's ``calls`` (in order) with its cache ``events``."""
    chart = Timeline()
    n = chart.turns = len(calls)
    x = svg.BandScale(max(n, 1), chart.plot_left, chart.plot_right,
                      padding=0.25 if n <= 120 else 0.15)
    chart.band = round(x.band, 3)
    totals = [sum(int(c.get(col) or 0) for _, _, col in SERIES) for c in calls]
    y, ticks = svg.LinearScale.nice(max(totals, default=0), chart.plot_bottom, chart.plot_top)
    chart.y_ticks = [(round(y(t), 2), formatting.compact(t)) for t in ticks]

    for i, call in enumerate(calls):
        values = [int(call.get(col) or 0) for _, _, col in SERIES]
        segments = svg.stacked_bar(values, x, y, i, min_height=0.75)
        chart.bars.append(Bar(turn=i + 1, call_id=str(call.get("call_id", "")),
                              segments=[(SERIES[s.series][0], s) for s in segments]))

    chart.x_labels = [(round(x.center(t - 1), 2), str(t)) for t in svg.thinned(n, MAX_X_LABELS)]

    chart.cumulative, chart.unpriced_calls = cumulative_costs(calls)
    final = max((c for c in chart.cumulative if c is not None), default=None)
    chart.priced = final is not None
    if chart.priced:
        cost_scale, cost_ticks = svg.LinearScale.nice(final or 0.0, chart.plot_bottom,
                                                      chart.plot_top)
        step = cost_ticks[1] - cost_ticks[0] if len(cost_ticks) > 1 else 1.0
        chart.cost_ticks = [(round(cost_scale(t), 2), formatting.usd_tick(t, step))
                            for t in cost_ticks]
        ys = [None if c is None else cost_scale(c) for c in chart.cumulative]
        xs = [x.center(i) for i in range(n)]
        points = (svg.step_points(xs, ys, x.band / 2) if n <= 2
                  else list(zip(xs, ys, strict=True)))
        chart.cost_path = svg.line_path(points)
        if n <= DOTS_UP_TO:
            chart.cost_dots = [(round(px, 2), round(py, 2))
                               for px, py in zip(xs, ys, strict=True) if py is not None]

    turn_of = {str(c.get("call_id", "")): i for i, c in enumerate(calls)}
    seen: list[str] = []
    for event in events:
        i = turn_of.get(str(event.get("call_id", "")))
        if i is None:
            continue  # an event of a call this page did not get (should not happen)
        cause = str(event.get("cause", ""))
        if cause not in seen:
            seen.append(cause)
        bar_top = min((s.y for _, s in chart.bars[i].segments), default=chart.plot_bottom)
        missed = int(event.get("missed_tokens") or 0)
        extra = event.get("extra_cost_usd")
        detail = str(event.get("detail") or "")
        # The detail says how many tokens were missed; without one, the label does.
        said = detail or f"{formatting.counted(missed, 'token')} missed"
        label = f"turn {i + 1}: {cause}: {said}; extra cost {formatting.usd(extra, '-')}"
        chart.markers.append(Marker(
            turn=i + 1, call_id=str(event["call_id"]), cause=cause, css=cause_class(cause),
            x=round(x.center(i), 2), y=MARKER_LANE + 8, line_top=MARKER_LANE + 16,
            line_bottom=round(bar_top, 2), label=label, detail=detail, missed_tokens=missed,
            extra_cost_usd=extra))
    _place_texts(chart)
    order = {c: k for k, c in enumerate(CAUSES)}
    for c in sorted(seen, key=lambda c: order.get(c, 99)):
        mine = [m for m in chart.markers if m.cause == c]
        costs = [m.extra_cost_usd for m in mine if m.extra_cost_usd is not None]
        chart.causes.append(CauseKey(c, cause_class(c), len(mine),
                                     sum(costs) if costs else None))
    return chart
