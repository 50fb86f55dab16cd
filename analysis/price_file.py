"""Price files: reading, checking, overriding and resolving them into price versions.

The package ships ``prices.csv`` (one row per model family and tier, with the source of
each row; docs/facts.md §2). Users add or override rows with files of the same columns:
``<data dir>/prices.csv`` and the file named by ``TOKENTRAIL_PRICES``, applied in that
order. A row replaces the row of the same family, tier and ``effective_from``; any other
row is added. Nothing here touches the store (see :mod:`tokentrail.analysis.prices`).

Resolution: a family's price *versions* start at each distinct ``effective_from`` of
its rows; in each version, every tier takes its latest row on or before that date, and
a tier row takes its multipliers and fees from the base tier. So a row dated
2026-10-07 changes the price of calls from that day on and leaves earlier calls alone,
and a later base-tier row keeps the long-context tier that was already there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, replace
from datetime import date
from importlib import resources
from pathlib import Path

from tokentrail.analysis.pricing_sql import TIER_BETAS, normalize_model_id

PACKAGED = "prices.csv"
BEGINNING = date(1970, 1, 1)  # an empty effective_from: from the beginning
STATUSES = ("published", "measured", "unverified")
COLUMNS = (
    "family", "aliases", "effective_from", "tier_above_input_tokens", "tier_beta",
    "input", "cache_write_5m", "cache_write_1h", "cache_read", "output",
    "batch_multiplier", "fast_multiplier", "inference_geo_us_multiplier",
    "web_search_per_1k", "web_fetch_per_1k", "status", "source",
)
RATES = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")
# Base-tier columns a tier row leaves empty (it takes the base tier's).
INHERITED = ("batch_multiplier", "fast_multiplier", "inference_geo_us_multiplier",
             "web_search_per_1k", "web_fetch_per_1k")
REQUIRED_ON_BASE = ("batch_multiplier", "web_search_per_1k", "web_fetch_per_1k")


class PriceFileError(ValueError):
    """A price file is malformed; the message names the file, line and column."""


@dataclass(frozen=True)
class PriceRow:
    """One row of a price file: a family's prices in one tier from one date.

    Token prices are USD per million tokens, fees USD per 1,000 requests. ``None`` for
    a multiplier means "not offered" on a base row and "the base tier's" on a tier row.
    """

    family: str
    aliases: tuple[str, ...]
    effective_from: date
    tier_above_input_tokens: int
    tier_beta: str
    input: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    output: float
    batch_multiplier: float | None
    fast_multiplier: float | None
    inference_geo_us_multiplier: float | None
    web_search_per_1k: float | None
    web_fetch_per_1k: float | None
    status: str
    source: str
    origin: str  # file:line it came from

    @property
    def tier(self) -> int:
        """0 for the base tier, 1 for the tier above a total-input threshold."""
        return 1 if self.tier_above_input_tokens > 0 else 0

    @property
    def key(self) -> tuple[str, int, date]:
        """What an override replaces: family, tier and date."""
        return (self.family, self.tier, self.effective_from)


def packaged_text() -> str:
    """The price file shipped in the package."""
    return resources.files("tokentrail.analysis").joinpath(PACKAGED).read_text("utf-8")


def read_packaged() -> list[PriceRow]:
    return parse(packaged_text(), origin="tokentrail/analysis/prices.csv")


def read_file(path: Path) -> list[PriceRow]:
    """Rows of a price file on disk (an override); a missing or bad file is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceFileError(f"cannot read price file {path}: {exc.strerror or exc}") from None
    return parse(text, origin=str(path))


def parse(text: str, *, origin: str) -> list[PriceRow]:
    """Rows of price-file text (CSV with the header :data:`COLUMNS`; ``#`` comments)."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise PriceFileError(f"{origin}: no header line")
    header_line, header = lines[0][0], next(csv.reader([lines[0][1]]))
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        raise PriceFileError(
            f"{origin}:{header_line}: the header must have the columns {', '.join(COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    rows = []
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines[1:])))
    for (number, _), values in zip(lines[1:], reader, strict=True):
        if len(values) != len(header):
            raise PriceFileError(f"{origin}:{number}: {len(values)} values for "
                                 f"{len(header)} columns")
        rows.append(_row(dict(zip(header, (v.strip() for v in values), strict=True)),
                         f"{origin}:{number}"))
    return rows


def _row(values: dict[str, str], where: str) -> PriceRow:
    def fail(column: str, why: str) -> PriceFileError:
        return PriceFileError(f"{where}: {column} {values.get(column)!r}: {why}")

    def number(column: str, *, optional: bool = False, positive: bool = False
               ) -> float | None:
        text = values[column]
        if not text:
            if optional:
                return None
            raise fail(column, "a number is required")
        try:
            value = float(text)
        except ValueError:
            raise fail(column, "not a number") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise fail(column, "must be a finite number " + ("> 0" if positive else ">= 0"))
        return value

    family = values["family"].lower()
    if not family:
        raise fail("family", "a family is required")
    if normalize_model_id(family) != family:
        raise fail("family", f"write it as its family id, {normalize_model_id(family)!r} "
                             "(dates and platform prefixes are stripped from model ids)")
    aliases = tuple(a.lower() for a in values["aliases"].split())
    for alias in aliases:
        if normalize_model_id(alias) != alias:
            raise fail("aliases", f"{alias!r} can never match: write "
                                  f"{normalize_model_id(alias)!r}")
    try:
        effective = (date.fromisoformat(values["effective_from"])
                     if values["effective_from"] else BEGINNING)
    except ValueError:
        raise fail("effective_from", "use YYYY-MM-DD (or leave it empty)") from None
    try:
        above = int(values["tier_above_input_tokens"] or 0)
    except ValueError:
        raise fail("tier_above_input_tokens", "not a whole number") from None
    if above < 0:
        raise fail("tier_above_input_tokens", "must be >= 0")
    beta = values["tier_beta"]
    if beta and above == 0:
        raise fail("tier_beta", "only a tier row (tier_above_input_tokens > 0) needs a beta")
    status = values["status"].lower()
    if status not in STATUSES:
        raise fail("status", f"one of {', '.join(STATUSES)}")
    if not values["source"]:
        raise fail("source", "say where the numbers come from")
    rates = {c: number(c) for c in RATES}
    multipliers = {c: number(c, optional=True, positive=c.endswith("multiplier"))
                   for c in INHERITED}
    if above == 0:
        for column in REQUIRED_ON_BASE:
            if multipliers[column] is None:
                raise fail(column, "required on a base-tier row")
    else:
        for column in INHERITED:
            if multipliers[column] is not None:
                raise fail(column, "leave it empty on a tier row: the base tier's applies")
        if aliases:
            raise fail("aliases", "put aliases on the base-tier row")
    return PriceRow(family=family, aliases=aliases, effective_from=effective,
                    tier_above_input_tokens=above, tier_beta=beta, **rates, **multipliers,
                    status=status, source=values["source"], origin=where)


def merge(*layers: Sequence[PriceRow]) -> list[PriceRow]:
    """Rows of later layers replace rows of earlier ones with the same key."""
    merged: dict[tuple[str, int, date], PriceRow] = {}
    for layer in layers:
        seen: dict[tuple[str, int, date], PriceRow] = {}
        for row in layer:
            if row.key in seen:
                raise PriceFileError(f"{row.origin}: {row.family} (tier {row.tier}, from "
                                     f"{row.effective_from}) is also at {seen[row.key].origin}")
            seen[row.key] = row
        merged.update(seen)
    return list(merged.values())


def resolve(rows: Iterable[PriceRow]) -> list[PriceRow]:
    """The price versions (see the module docstring), sorted: for each family and each
    of its dates, its base row and, if it has one by then, its tier row, with the tier
    row's multipliers and fees taken from the base row and aliases on every row."""
    families: dict[str, list[PriceRow]] = {}
    for row in rows:
        families.setdefault(row.family, []).append(row)
    betas = sorted({row.tier_beta for rows_ in families.values() for row in rows_
                    if row.tier_beta})
    if len(betas) > TIER_BETAS:
        raise PriceFileError(f"at most {TIER_BETAS} different betas can gate a tier; the "
                             f"price files use {', '.join(betas)}")
    owners: dict[str, str] = {}
    resolved = []
    for family, group in sorted(families.items()):
        aliases = tuple(sorted({a for r in group for a in r.aliases} - {family}))
        for name in (family, *aliases):
            if name in owners and owners[name] != family:
                raise PriceFileError(f"{name!r} names both {owners[name]} and {family}")
            owners[name] = family
        for version in sorted({r.effective_from for r in group}):
            tiers = {}
            for tier in (0, 1):
                candidates = [r for r in group
                              if r.tier == tier and r.effective_from <= version]
                if candidates:
                    tiers[tier] = max(candidates, key=lambda r: r.effective_from)
            base = tiers.get(0)
            if base is None:
                first = min(group, key=lambda r: r.effective_from)
                raise PriceFileError(f"{first.origin}: {family} has a tier row from "
                                     f"{version} but no base-tier row by then")
            resolved.append(replace(base, aliases=aliases, effective_from=version))
            if 1 in tiers:
                upper = tiers[1]
                if upper.tier_above_input_tokens <= 0:  # pragma: no cover - parse checks
                    raise PriceFileError(f"{upper.origin}: bad tier")
                resolved.append(replace(
                    upper, aliases=aliases, effective_from=version,
                    **{c: getattr(base, c) for c in INHERITED}))
    return resolved


def in_force(override_files: Sequence[Path] = ()) -> list[PriceRow]:
    """The packaged prices with the override files applied, resolved."""
    layers = [read_packaged()] + [read_file(path) for path in override_files]
    return resolve(merge(*layers))


def digest(rows: Sequence[PriceRow]) -> str:
    """A fingerprint of resolved rows: a store whose prices have it needs no reload."""
    text = "\n".join(repr(astuple(row)) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()
