"""Query parameters shared by the runs, fleet and insights pages: times and time ranges.

People type dates (``2026-11-24``) and scripts send datetimes (``2026-11-24T10:00Z``);
both are read here, once, as timezone-aware UTC. A date-only ``end`` means the end of
that day, so ``start=2026-11-24&end=2026-11-24`` is that whole day. A value that is
neither is refused with 422 and a message that says what to write (pydantic carries the
``ValueError`` text into FastAPI's validation error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import HTTPException, Query

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

RANGES = {"7d": 7, "30d": 30, "90d": 90}
"""The range picker's presets (days back from now)."""

RangeName = Literal["7d", "30d", "90d"]


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 date or datetime as an aware UTC datetime (UTC if no zone given);
    a bare date is its midnight. Empty means not given."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 date or datetime "
                             "(write e.g. 2026-11-24 or 2026-11-24T10:00:00Z)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def is_date_only(value: str | None) -> bool:
    return bool(value) and bool(_DATE_ONLY.match(str(value).strip()))


StartQuery = Annotated[str | None, Query(
    description="Range start: an ISO 8601 date or datetime (UTC if no zone).",
    examples=["2026-11-01"])]
EndQuery = Annotated[str | None, Query(
    description="Range end (exclusive): ISO 8601; a bare date means the end of that day.",
    examples=["2026-11-30"])]
RangeQuery = Annotated[RangeName | None, Query(
    alias="range", description="A preset range back from now (start/end win over it).")]


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in UTC, and how the user asked for it (to refill the form)."""

    start: datetime | None
    end: datetime | None
    range: str = ""          # the preset (7d/30d/90d) when that is what was asked
    start_text: str = ""     # what the user typed, for the form
    end_text: str = ""

    @property
    def days(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return max(1, round((self.end - self.start).total_seconds() / 86400))


def _bad(name: str, exc: ValueError) -> HTTPException:
    return HTTPException(status_code=422, detail=[{
        "loc": ["query", name], "msg": str(exc), "type": "value_error"}])


def time_range(start: str | None, end: str | None, range_: str | None = None, *,
               default: str | None = None, now: datetime | None = None) -> TimeRange:
    """Read start/end (they win) or a preset ``range_`` (else ``default``; None: no
    bound). Raises 422 for a value that is not a time, or an empty range."""
    now = now or datetime.now(timezone.utc)
    try:
        begin = parse_time(start)
    except ValueError as exc:
        raise _bad("start", exc) from None
    try:
        stop = parse_time(end)
    except ValueError as exc:
        raise _bad("end", exc) from None
    if stop is not None and is_date_only(end):
        stop += timedelta(days=1)
    preset = ""
    if begin is None and stop is None:
        preset = range_ or default or ""
        if preset:
            if preset not in RANGES:
                raise _bad("range", ValueError(
                    f"{preset!r}: one of {', '.join(RANGES)}"))
            stop = now
            begin = now - timedelta(days=RANGES[preset])
    elif begin is not None and stop is None and default is not None:
        stop = now
    elif begin is None and stop is not None and default is not None:
        begin = stop - timedelta(days=RANGES[default])
    if begin is not None and stop is not None and begin >= stop:
        raise _bad("start", ValueError("the range is empty: start must be before end"))
    return TimeRange(begin, stop, preset, start or "", end or "")


def to_date_text(value: datetime | None) -> str:
    """A datetime as the ``YYYY-MM-DD`` an ``<input type="date">`` shows."""
    return value.strftime("%Y-%m-%d") if value else ""
