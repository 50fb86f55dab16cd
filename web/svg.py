"""Geometry of the server-rendered SVG charts: scales, ticks, bars, lines, labels.

The charts are drawn by Jinja2 templates (so autoescape covers every value that came
from telemetry); this module only computes numbers: where a bar sits, how tall it is,
which ticks an axis shows and how a number reads on it. Nothing here emits markup, so
it is plain, testable arithmetic shared by every chart of the UI (run timeline, fleet).

Coordinates are SVG user units with y growing downwards, as in SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# --- numbers as people read them ---------------------------------------------------------


def compact(value: float | int | None) -> str:
    """12_345 -> '12.3k', 4_000_000 -> '4M', 950 -> '950'; None -> '-'.

    One decimal at most, and none when it would be '.0', so axis labels stay short."""
    if value is None:
        return "-"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        scaled = value / limit
        # 999_950 reads '1M', not '1000k'
        if abs(value) >= limit or (abs(value) >= 1000 and abs(round(scaled, 1)) >= 1):
            return _trim(f"{scaled:.1f}") + suffix
    if value != int(value) and abs(value) < 10:
        return _trim(f"{value:.2f}")
    return f"{value:.0f}"


def usd(value: float | None) -> str:
    """Dollars with the precision a cost needs: '$12.34', '$0.0123', '$0.000042'; None
    (a model without a price) -> '-'. Amounts below a cent keep three significant
    digits, because single calls cost fractions of a cent."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "$0"
    if value >= 1000:
        return f"{sign}${value:,.0f}"
    if value >= 0.995:
        return f"{sign}${value:,.2f}"
    digits = min(max(2, 2 - math.floor(math.log10(value))), 8)
    text = f"{value:.{digits}f}"
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")  # '0.500' -> '0.50', '0.0000420' -> ...42
    return f"{sign}${whole}.{decimals}"


def usd_tick(value: float, step: float) -> str:
    """A cost axis label: as many decimals as the tick step needs ($0.05, $0.10, ...)."""
    if value == 0:
        return "$0"
    if step >= 1 and float(step).is_integer():
        return f"${value:,.0f}"
    if step >= 1:  # 2.5: '$7.50'
        return f"${value:,.2f}"
    decimals = max(2, -math.floor(math.log10(step) + 1e-9))
    if abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-6 and decimals < 8:
        decimals += 1  # a step of 0.0025 needs its last digit
    return f"${value:,.{min(decimals, 8)}f}"


def percent(value: float | None) -> str:
    """0.873 -> '87.3%'; None -> '-'."""
    if value is None:
        return "-"
    return _trim(f"{value * 100:.1f}") + "%"


def _trim(text: str) -> str:
    return text[:-2] if text.endswith(".0") else text


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


def duration(seconds: float | None) -> str:
    """850 ms, 4.2 s, 2m 05s, 1h 02m; None -> '-' (axis and table labels of times)."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return _trim(f"{seconds:.1f}") + " s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
