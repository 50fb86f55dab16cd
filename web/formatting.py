"""Jinja filters: numbers and times the way people read them."""

from __future__ import annotations

from datetime import datetime


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


def register(env) -> None:
    env.filters["tokens"] = tokens
    env.filters["timestamp"] = timestamp
