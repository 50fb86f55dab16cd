"""The UI's one set of formatters: numbers, money, ratios, durations and times the way
people read them, for the templates (as Jinja filters) and for the chart code (axis
labels and tooltips computed in web/timeline.py and web/fleet_charts.py) alike, so a
number reads the same in a table, a KPI and on an axis.

Every formatter returns plain text; Jinja2's autoescape escapes it like any other
value, so nothing here may return markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _trim(text: str) -> str:
    return text[:-2] if text.endswith(".0") else text


def compact(value: float | int | None) -> str:
    """12_345 -> '12.3k', 4_000_000 -> '4M', 950 -> '950'; None -> '-'.

    One decimal at most, and none when it would be '.0', so labels stay short."""
    if _missing(value):
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


def usd(value: float | None, missing: str = "unpriced") -> str:
    """Dollars with the precision a cost needs: '$1,234', '$12.34', '$0.0123',
    '$0.000042' (amounts below a cent keep three significant digits, because single
    calls cost fractions of a cent). None (a model without a price) is ``missing``:
    'unpriced' in tables, '-' where the page says why beside it."""
    if _missing(value):
        return missing
    value = float(value)
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


def percent(value: float | None, digits: int = 1) -> str:
    """A 0..1 ratio as a percentage with at most ``digits`` decimals: 0.873 -> '87.3%',
    1.0 -> '100%' (a '.0' is dropped); None (nothing to divide) -> '-'."""
    if _missing(value):
        return "-"
    return _trim(f"{float(value) * 100:.{digits}f}") + "%"


def count(value: int | float | None) -> str:
    """An exact count with thousands separators."""
    if _missing(value):
        return "-"
    return f"{int(value):,}"


def counted(value: int | float | None, noun: str, plural: str = "", *,
            short: bool = False) -> str:
    """A count and its noun, singular for exactly one: '1 turn', '3 turns', '1,234
    tokens', or '12.3k tokens' with ``short`` (:func:`compact`). ``plural`` for nouns
    that do not take an 's' ('search', 'searches'); None -> '- turns'."""
    number = compact(value) if short else count(value)
    if _missing(value) or float(value) != 1:
        return f"{number} {plural or noun + 's'}"
    return f"{number} {noun}"


def duration(seconds: float | None) -> str:
    """850 ms, 4.2 s, 2m 05s, 1h 02m; None -> '-' (axis and table labels of times)."""
    if _missing(seconds):
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


def timestamp(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%S")


def short_time(value: datetime | None) -> str:
    """``MM-DD HH:MM`` for dense tables (the full timestamp goes in a title)."""
    if value is None:
        return "-"
    return value.strftime("%m-%d %H:%M")


def day(value: datetime | Any | None) -> str:
    """A day as ``YYYY-MM-DD`` (dates and datetimes alike)."""
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def query(params: Mapping[str, Any], **changes: Any) -> str:
    """``?a=1&b=2``: the current query ``params`` with ``changes`` applied (None or ''
    removes a parameter), for links that keep the page's filters (pager, sort)."""
    merged = {**params, **changes}
    items = [(k, v) for k, v in merged.items() if v is not None and v != ""]
    return "?" + urlencode(items) if items else "?"


def segment(value: Any) -> str:
    """``value`` as one URL path segment (a run id with ``/`` or ``?`` in it stays one
    segment: ``/runs/a%2Fb``)."""
    return quote(str(value), safe="")


FILTERS = {f.__name__: f for f in (compact, usd, percent, count, counted, duration,
                                   timestamp, short_time, day, segment)}


def register(env) -> None:
    env.filters.update(FILTERS)
    env.globals["query"] = query
