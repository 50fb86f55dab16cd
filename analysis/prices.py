"""Prices in the store: keeping ``model_prices`` equal to the price files, and the
questions ``tokentrail prices`` answers (what is in force, what has no price, where the
source's own cost disagrees).

:func:`sync` runs whenever a store's schema is checked (``Store.migrate``: every
``tokentrail serve`` start, ``tokentrail schema --apply``, ``tokentrail prices``), so a
release with new prices, or an edited override file, takes effect at the next start
without a reinstall. Prices are data, not schema: no migration loads them.

A sync writes the whole resolved table under a new ``load_id`` in one insert and the
lookup reads only the latest load, so a query never sees half a price table.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from tokentrail.analysis import price_file
from tokentrail.analysis.pricing_sql import LOOKUP_TABLE, PRICES_TABLE, lookup_select

log = logging.getLogger(__name__)

ENV_PRICES = "TOKENTRAIL_PRICES"
DATA_DIR_FILE = "prices.csv"

COLUMNS = (
    "load_id", "digest", "family", "aliases", "effective_from", "tier",
    "tier_above_input_tokens", "tier_beta",
    "input_usd_per_mtok", "cache_write_5m_usd_per_mtok", "cache_write_1h_usd_per_mtok",
    "cache_read_usd_per_mtok", "output_usd_per_mtok",
    "batch_multiplier", "fast_multiplier", "inference_geo_us_multiplier",
    "web_search_per_1k", "web_fetch_per_1k", "status", "source", "origin",
)


def override_files(dsn: str = "", prices: str | os.PathLike[str] | None = None) -> list[Path]:
    """The user's price files, in the order they apply: ``prices.csv`` in the embedded
    store's data directory if it exists, then ``prices`` (default: the file named by
    ``TOKENTRAIL_PRICES``), which must exist."""
    files = []
    if dsn.startswith("chdb://"):
        candidate = Path(dsn[len("chdb://"):]).expanduser() / DATA_DIR_FILE
        if candidate.is_file():
            files.append(candidate)
    named = prices if prices is not None else os.environ.get(ENV_PRICES) or None
    if named is not None:
        path = Path(named).expanduser()
        if not path.is_file():
            raise price_file.PriceFileError(
                f"{ENV_PRICES}={named}: no such price file (see README, 'Cost')")
        files.append(path)
    return files


@dataclass(frozen=True)
class SyncResult:
    loaded: bool  # False: the store had these prices already
    rows: int
    files: tuple[Path, ...]


def sync(client: Client, files: Sequence[Path] = (), *, cluster: str | None = None
         ) -> SyncResult:
    """Make ``model_prices`` hold the packaged prices with ``files`` applied, and
    ``model_price_slots`` the lookup of that load (each if the store has it yet: a
    migration may call this half-way). Raises
    :class:`~tokentrail.analysis.price_file.PriceFileError` for a bad file."""
    rows = price_file.in_force(files)
    digest = price_file.digest(rows)
    if not _table_exists(client, PRICES_TABLE):
        return SyncResult(False, 0, tuple(files))
    latest = client.query(
        f"SELECT load_id, any(digest) FROM {PRICES_TABLE} "  # noqa: S608
        f"WHERE load_id = (SELECT max(load_id) FROM {PRICES_TABLE}) GROUP BY load_id"
    ).result_rows
    settings = {"insert_distributed_sync": 1} if cluster else None
    loaded = not (latest and latest[0][1] == digest)
    if loaded:
        load_id = (latest[0][0] + 1) if latest else 1
        client.insert(PRICES_TABLE, [_values(load_id, digest, row) for row in rows],
                      column_names=list(COLUMNS), settings=settings)
        log.info("loaded %d price rows (%s)", len(rows),
                 ", ".join(str(f) for f in files) or "packaged prices only")
    else:
        load_id = latest[0][0]
    # The lookup of this load (also after an interrupted sync that wrote the load).
    if _table_exists(client, LOOKUP_TABLE):
        lookup_loaded = client.query(
            f"SELECT max(load_id) FROM {LOOKUP_TABLE}").result_rows[0][0]  # noqa: S608
        if lookup_loaded != load_id:
            # Computed by SQL from model_price_versions, inserted as a row.
            result = client.query(lookup_select(), parameters={"load_id": load_id})
            client.insert(LOOKUP_TABLE, result.result_rows,
                          column_names=result.column_names, settings=settings)
    _forget_older_loads(client, load_id, cluster)
    return SyncResult(loaded, len(rows), tuple(files))


def _values(load_id: int, digest: str, row: price_file.PriceRow) -> list[Any]:
    return [load_id, digest, row.family, list(row.aliases), row.effective_from, row.tier,
            row.tier_above_input_tokens, row.tier_beta, row.input, row.cache_write_5m,
            row.cache_write_1h, row.cache_read, row.output, row.batch_multiplier,
            row.fast_multiplier, row.inference_geo_us_multiplier, row.web_search_per_1k,
            row.web_fetch_per_1k, row.status, row.source, row.origin]


def _table_exists(client: Client, table: str) -> bool:
    return bool(client.query(
        "SELECT 1 FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table}).result_rows)


def _forget_older_loads(client: Client, load_id: int, cluster: str | None) -> None:
    """Drop superseded loads (the lookup already ignores them; this keeps the tables
    small and readable). Best effort: a failure leaves rows nobody reads."""
    on_cluster = f" ON CLUSTER `{cluster.replace('`', '')}`" if cluster else ""
    for name in (PRICES_TABLE, LOOKUP_TABLE):
        if not _table_exists(client, name):
            continue
        older = client.query(f"SELECT count() FROM {name} WHERE load_id < {{id:UInt64}}",  # noqa: S608
                             parameters={"id": load_id}).result_rows[0][0]
        if not older:
            continue
        table = f"{name}_local" if cluster else name
        try:
            client.command(f"ALTER TABLE {table}{on_cluster} DELETE WHERE load_id < "
                           "{id:UInt64}", parameters={"id": load_id})
        except Exception:  # the rows are harmless; never fail a start over them
            log.warning("could not delete superseded rows of %s", name, exc_info=True)


# --- what `tokentrail prices` shows --------------------------------------------------

def prices_in_force(client: Client) -> list[dict[str, Any]]:
    """Every price version of the latest load, families in name order."""
    return _query(client, f"""
        SELECT family, aliases, effective_from, tier, tier_above_input_tokens, tier_beta,
               input_usd_per_mtok, cache_write_5m_usd_per_mtok, cache_write_1h_usd_per_mtok,
               cache_read_usd_per_mtok, output_usd_per_mtok, batch_multiplier,
               fast_multiplier, inference_geo_us_multiplier, web_search_per_1k,
               web_fetch_per_1k, status, source, origin
        FROM {PRICES_TABLE}
        WHERE load_id = (SELECT max(load_id) FROM {PRICES_TABLE})
        ORDER BY family, effective_from, tier""")  # noqa: S608


def unpriced_models(client: Client) -> list[dict[str, Any]]:
    """Models (and modes) of stored calls that got no price, with why."""
    return _query(client, """
        SELECT model,
               multiIf(price_model = '', 'no price for this model',
                       speed NOT IN ('', 'standard'), concat('no price for speed ', speed),
                       inference_geo NOT IN ('', 'global'),
                       concat('no price for inference_geo ', inference_geo),
                       'no price version on the day of the call') AS reason,
               count() AS calls,
               min(timestamp) AS first_call,
               max(timestamp) AS last_call
        FROM llm_calls
        WHERE cost_usd IS NULL
        GROUP BY model, reason
        ORDER BY calls DESC, model""")


def disagreements(client: Client, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """How many calls the source priced differently, and the largest differences."""
    total = _query(client, "SELECT count() AS n FROM cost_disagreements")[0]["n"]
    rows = _query(client, """
        SELECT timestamp, call_id, model, price_model, reported_cost_usd, cost_usd,
               difference_usd
        FROM cost_disagreements
        ORDER BY isNull(cost_usd) DESC, abs(difference_usd) DESC, timestamp
        LIMIT {limit:UInt32}""", {"limit": limit})
    return int(total), rows


def _query(client: Client, sql: str, parameters: dict[str, Any] | None = None
           ) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters or {})
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
