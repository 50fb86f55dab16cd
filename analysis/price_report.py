"""What ``tokentrail prices`` prints: the prices in force, the stored calls that got no
price and why, and the calls whose source reported a different cost. The numbers come
from :mod:`tokentrail.analysis.prices` (SQL); this module only lays them out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from tokentrail.analysis.price_file import BEGINNING
from tokentrail.analysis.pricing_sql import DISAGREEMENT_USD


def report(in_force: Sequence[dict[str, Any]], unpriced: Sequence[dict[str, Any]],
           disagreeing: int, worst: Sequence[dict[str, Any]], files: Sequence[Path]) -> str:
    """The whole report as text."""
    sources = ", ".join(str(f) for f in files) or "none"
    parts = [f"Prices in force (USD per million tokens; packaged prices, overrides: {sources})",
             "", _table(
                 ["family", "from", "tier", "input", "5m write", "1h write", "read", "output",
                  "batch", "fast", "geo us", "search/1k", "status"],
                 [[_family(r), _date(r["effective_from"]), _tier(r),
                   *(_num(r[f"{b}_usd_per_mtok"]) for b in
                     ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")),
                   _num(r["batch_multiplier"]) if not r["tier"] else "",
                   _multiplier(r["fast_multiplier"], r["tier"]),
                   _multiplier(r["inference_geo_us_multiplier"], r["tier"]),
                   _num(r["web_search_per_1k"]) if not r["tier"] else "", r["status"]]
                  for r in in_force]), ""]
    if unpriced:
        parts += ["Stored calls without a price (cost columns are NULL; add a row to a price "
                  "file):", "",
                  _table(["model", "why", "calls", "first", "last"],
                         [[r["model"] or "(none)", r["reason"], str(r["calls"]),
                           str(r["first_call"])[:19], str(r["last_call"])[:19]]
                          for r in unpriced]), ""]
    else:
        parts += ["Every stored call has a price.", ""]
    if disagreeing:
        parts += [f"Calls whose source reported a cost that differs by more than "
                  f"${DISAGREEMENT_USD:.6f}: {disagreeing} (view cost_disagreements)", "",
                  _table(["call", "model", "reported", "tokentrail", "difference"],
                         [[r["call_id"], r["model"], _usd(r["reported_cost_usd"]),
                           _usd(r["cost_usd"]), _usd(r["difference_usd"])] for r in worst]),
                  ""]
    else:
        parts += ["No reported cost disagrees with tokentrail's.", ""]
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines)


def _family(row: dict[str, Any]) -> str:
    aliases = [a for a in row["aliases"] if a]
    return row["family"] + (f" ({', '.join(aliases)})" if aliases and not row["tier"] else "")


def _date(value: date) -> str:
    return "" if value == BEGINNING else value.isoformat()


def _tier(row: dict[str, Any]) -> str:
    if not row["tier"]:
        return "base"
    beta = f" with {row['tier_beta']}" if row["tier_beta"] else ""
    return f"> {row['tier_above_input_tokens']:,} input{beta}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _multiplier(value: float | None, tier: int) -> str:
    if tier:
        return ""
    return "-" if value is None else f"{value:g}x"


def _usd(value: float | None) -> str:
    return "NULL" if value is None else f"{value:.6f}"
