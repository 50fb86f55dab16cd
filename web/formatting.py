"""Jinja filters: numbers, money and times the way people read them.

Every filter returns plain text; Jinja2's autoescape escapes it like any other value,
so nothing here may return markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from tokentrail.web import svg


def tokens(value: int | float | None) -> str:
    """12345678 -> '12.3M'; small numbers stay exact."""
    if value is None:
        return "-"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


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


def usd(value: float | None) -> str:
    """Dollars with the precision small agent bills need ('$1,234', '$12.34',
    '$0.0423', '$0.00225': the chart axes' rules, :func:`tokentrail.web.svg.usd`);
    None (a model without a price) is 'unpriced'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unpriced"
    return svg.usd(float(value))


def pct(value: float | None, digits: int = 0) -> str:
    """A 0..1 ratio as a percentage; None (nothing to divide) is '-'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value) * 100:.{digits}f}%"


def count(value: int | float | None) -> str:
    """An exact count with thousands separators."""
    if value is None:
        return "-"
    return f"{int(value):,}"


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


def register(env) -> None:
    env.filters["tokens"] = tokens
    env.filters["timestamp"] = timestamp
    env.filters["day"] = day
    env.filters["short_time"] = short_time
    env.filters["usd"] = usd
    env.filters["pct"] = pct
    env.filters["count"] = count
    env.filters["segment"] = segment
    env.globals["query"] = query
