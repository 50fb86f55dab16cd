"""Geometry of the server-rendered SVG charts: scales, ticks, bars, lines, labels.

The charts are drawn by Jinja2 templates (so autoescape covers every value that came
from telemetry); this module only computes numbers: where a bar sits, how tall it is,
which ticks an axis shows. Nothing here emits markup, so it is plain, testable
arithmetic shared by every chart of the UI (run timeline, fleet); how a number reads
on an axis is web/formatting.py's, the same formatters the templates use.

Coordinates are SVG user units with y growing downwards, as in SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# --- ticks -------------------------------------------------------------------------------


def nice_step(span: float, count: int) -> float:
    """The 1/2/5 x 10^k step that cuts ``span`` into about ``count`` intervals."""
    if span <= 0 or count <= 0:
        return 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude * 1.0000001:
            return factor * magnitude
    return 10 * magnitude


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about ``count`` intervals, starting at a
    multiple of the step at or below ``low`` and ending at or above ``high``."""
    if high < low:
        low, high = high, low
    if high == low:
        high = low + 1
    step = nice_step(high - low, count)
    start = math.floor(low / step + 1e-9) * step
    ticks, value = [], start
    while value < high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high - step * 1e-9:
        ticks.append(round(value, 12))
    return ticks


def thinned(count: int, max_labels: int) -> list[int]:
    """Which of ``count`` consecutive items (1-based turns) get a label: every k-th,
    k a 1/2/5 x 10^n step, so at most about ``max_labels`` labels and round numbers.
    Turn 1 is labelled too unless the step is 2 (it would crowd turn 2)."""
    if count <= 0:
        return []
    step = 1
    factors = (1, 2, 5)
    k = 0
    while math.ceil(count / step) > max(max_labels, 1):
        k += 1
        step = factors[k % 3] * 10 ** (k // 3)
    labels = set(range(step, count + 1, step))
    if step == 1 or step >= 5:  # '1 2 4 6' reads oddly; '1 5 10' and '1 50 100' do not
        labels.add(1)
    return sorted(labels)


# --- scales ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearScale:
    """Maps a value in ``[d0, d1]`` to a coordinate in ``[r0, r1]`` (for a y axis,
    r0 is the bottom, the larger number)."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return self.r0
        return self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)

    def length(self, value: float) -> float:
        """The extent of ``value`` along the scale (a bar's height), never negative."""
        return abs(self(value) - self(0))

    @classmethod
    def nice(cls, high: float, r0: float, r1: float, count: int = 5,
             low: float = 0.0) -> tuple[LinearScale, list[float]]:
        """A scale whose domain ends on round ticks, with those ticks."""
        ticks = nice_ticks(low, high if high > low else low + 1, count)
        return cls(ticks[0], ticks[-1], r0, r1), ticks


@dataclass(frozen=True)
class BandScale:
    """``count`` equal bands along ``[r0, r1]``, each with a gap of ``padding`` (0..1,
    share of the band) split around the bar. Item ``i`` is 0-based."""

    count: int
    r0: float
    r1: float
    padding: float = 0.2

    @property
    def band(self) -> float:
        return (self.r1 - self.r0) / max(self.count, 1)

    @property
    def width(self) -> float:
        """The bar width: the band less its padding, at least a hairline."""
        return max(self.band * (1 - self.padding), 0.5)

    def start(self, i: int) -> float:
        return self.r0 + self.band * i + (self.band - self.width) / 2

    def center(self, i: int) -> float:
        return self.r0 + self.band * (i + 0.5)

    def index_at(self, coordinate: float) -> int:
        """The band under ``coordinate`` (clamped), for hit testing."""
        i = int((coordinate - self.r0) // self.band) if self.band else 0
        return min(max(i, 0), self.count - 1)


# --- shapes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One piece of a stacked bar: ``series`` is the index of its series."""

    series: int
    x: float
    y: float
    width: float
    height: float
    value: float


def stacked_bar(values: Sequence[float], x: BandScale, y: LinearScale, i: int,
                *, min_height: float = 0.0) -> list[Segment]:
    """The segments of bar ``i``, series stacked from the baseline up in the order
    given; series with a zero value get no segment (a 500-turn chart stays small)."""
    segments, total = [], 0.0
    left, width = x.start(i), x.width
    for series, value in enumerate(values):
        if not value:
            continue
        bottom, top = y(total), y(total + value)
        total += value
        height = max(abs(bottom - top), min_height)
        segments.append(Segment(series, round(left, 2), round(min(bottom, top), 2),
                                round(width, 2), round(height, 2), value))
    return segments


def line_path(points: Sequence[tuple[float, float | None]]) -> str:
    """An SVG path through ``points``; a None y breaks the line (no value there)."""
    parts: list[str] = []
    pen_up = True
    for px, py in points:
        if py is None:
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{px:.2f},{py:.2f}")
        pen_up = False
    return " ".join(parts)


def step_points(xs: Sequence[float], ys: Sequence[float | None],
                half_band: float) -> list[tuple[float, float | None]]:
    """Points of a line drawn across each band (from its left to its right edge), so a
    cumulative value reads as level over its bar; used for one- or two-bar charts where
    a line through centres would be a dot."""
    points: list[tuple[float, float | None]] = []
    for cx, cy in zip(xs, ys, strict=True):
        points.append((cx - half_band, cy))
        points.append((cx + half_band, cy))
    return points
