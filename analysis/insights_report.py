"""What ``tokentrail insights`` and ``tokentrail whatif`` print: time ranges as the user
writes them, and the findings as text (the numbers come from the store, untouched)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class RangeError(ValueError):
    """A time range the user wrote that cannot be read."""


def time_range(since: str, start: str | None, end: str | None,
               now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC: ``--start``/``--end`` (ISO 8601) if given, else the last
    ``since`` (``30m``, ``24h``, ``7d``, ``2w``) up to now."""
    now = now or datetime.now(timezone.utc)
    stop = _parse_time(end, "--end") if end else now
    if start:
        begin = _parse_time(start, "--start")
    else:
        match = _SPAN.match(since)
        if not match:
            raise RangeError(f"--since {since!r}: write a number and m, h, d or w (e.g. 7d)")
        begin = stop - timedelta(**{_UNITS[match[2]]: int(match[1])})
    if begin >= stop:
        raise RangeError("the range is empty: start must be before end")
    return begin, stop


def _parse_time(value: str, flag: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RangeError(f"{flag} {value!r}: not an ISO 8601 time (e.g. 2026-11-24T10:00)") \
            from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def findings_text(rows: list[dict[str, Any]], begin: datetime, end: datetime) -> str:
    """The findings, largest savings first, each with the runs to look at."""
    head = f"Insights {begin:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    if not rows:
        return f"{head}: no findings.\n"
    # Findings overlap (one run or service under several kinds, re-pricing the same
    # calls): their savings do not add up, so the head names the largest, as the
    # insights page does (web/templates/insights.html).
    largest = max(float(r["savings_usd"]) for r in rows)
    lines = [f"{head}: {len(rows)} finding(s); the largest single finding would save "
             f"${largest:,.2f} (they overlap: do not add them up)", ""]
    for i, r in enumerate(rows, start=1):
        where = r["service_name"] or "(no service)"
        lines.append(f"{i}. {r['kind']} [{r['scope']}, {r['confidence']}] {where} / "
                     f"{r['model']}: save ${float(r['savings_usd']):,.4f} of "
                     f"${float(r['cost_usd']):,.4f} over {r['calls']} call(s)")
        lines.append(f"   seen: {r['detail']}")
        lines.append(f"   fix:  {r['fix']}")
        if r["run_ids"]:
            lines.append(f"   runs: {', '.join(r['run_ids'])}")
        lines.append("")
    return "\n".join(lines)


def whatif_text(result: dict[str, Any], description: str, begin: datetime,
                end: datetime, scope: str) -> str:
    cost = float(result["cost_usd"] or 0)
    alt = float(result["whatif_cost_usd"] or 0)
    return (f"What if: {result['scenario']} ({description})\n"
            f"Scope: {scope}, {begin:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
            f"{result['calls']} priced call(s) in {result['runs']} run(s)\n"
            f"  as they ran:  ${cost:,.4f}\n"
            f"  what-if:      ${alt:,.4f}\n"
            f"  difference:   ${cost - alt:,.4f}\n")
