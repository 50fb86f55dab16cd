"""Applying migrations to a store, and recording them in ``tokentrail_schema_migrations``.

A migration is recorded only after all of its steps ran, and every step is idempotent,
so a migration interrupted half-way (a crash, a lost connection, a failing statement)
is simply run again, whole, by the next :func:`migrate` and completes.

Each recorded row carries the checksum of the frozen SQL that ran; a store whose
recorded checksum differs from the code's was migrated by a different text of a
released migration (someone edited one instead of adding a new one), which is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from tokentrail.store.migrations.model import CLUSTER_TOKEN, Migration, PythonCall, quote_ident
from tokentrail.store.migrations.registry import all_migrations

log = logging.getLogger(__name__)

TABLE = "tokentrail_schema_migrations"

# The bookkeeping table as release 0.1.0 created it (frozen like a migration), then the
# checksum column added since; both idempotent.
_BOOTSTRAP_SINGLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE}\n(\n    version UInt32,\n    name String,\n"
    "    applied_at DateTime64(3) DEFAULT now64(3)\n)\nENGINE = ReplacingMergeTree()\n"
    "ORDER BY (version)",
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS checksum String",
)
_BOOTSTRAP_CLUSTER = (
    f"CREATE TABLE IF NOT EXISTS {TABLE}_local ON CLUSTER {CLUSTER_TOKEN}\n(\n"
    "    version UInt32,\n    name String,\n    applied_at DateTime64(3) DEFAULT now64(3)\n)\n"
    "ENGINE = ReplicatedReplacingMergeTree("
    f"'/clickhouse/tables/{{shard}}/{{database}}/{TABLE}_local', '{{replica}}')\n"
    "ORDER BY (version)",
    f"CREATE TABLE IF NOT EXISTS {TABLE} ON CLUSTER {CLUSTER_TOKEN} AS {TABLE}_local\n"
    f"ENGINE = Distributed({CLUSTER_TOKEN}, currentDatabase(), {TABLE}_local, rand())",
    f"ALTER TABLE {TABLE}_local ON CLUSTER {CLUSTER_TOKEN} "
    "ADD COLUMN IF NOT EXISTS checksum String",
    f"ALTER TABLE {TABLE} ON CLUSTER {CLUSTER_TOKEN} ADD COLUMN IF NOT EXISTS checksum String",
)

# Inserts through a Distributed table return only once the shards have the rows.
_SYNC_DISTRIBUTED = {"insert_distributed_sync": 1}


def bootstrap_statements(cluster: str | None = None) -> list[str]:
    """DDL of the bookkeeping table, run before any migration."""
    if cluster is None:
        return list(_BOOTSTRAP_SINGLE)
    return [s.replace(CLUSTER_TOKEN, quote_ident(cluster)) for s in _BOOTSTRAP_CLUSTER]


@dataclass
class Context:
    """What a Python step gets: the client and where the schema lives.

    On a cluster, tables have a ``<name>_local`` part on every shard and a Distributed
    table ``<name>`` over them; :meth:`insert` and :meth:`query` use the Distributed
    table, so a step is written once for both.
    """

    client: Client
    cluster: str | None = None

    @property
    def on_cluster(self) -> str:
        """`` ON CLUSTER `name``` on a cluster, else empty: for DDL a step writes."""
        return f" ON CLUSTER {quote_ident(self.cluster)}" if self.cluster else ""

    def local(self, table: str) -> str:
        """The name of the table that stores the rows (``<table>_local`` on a cluster)."""
        return f"{table}_local" if self.cluster else table

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return self.client.command(sql, parameters=parameters)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.client.query(sql, parameters=parameters or {})
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]
               ) -> None:
        """Insert and return once committed (synchronously through a Distributed table)."""
        if rows:
            self.client.insert(table, rows, column_names=list(column_names),
                               settings=_SYNC_DISTRIBUTED if self.cluster else None)


def detect_cluster(client: Client) -> str | None:
    """The cluster a store's schema was applied to (``schema --apply --cluster``), read
    from the Distributed engine of the bookkeeping table; None for a single server."""
    rows = client.query(
        "SELECT engine, engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND name = {name:String}",
        parameters={"name": TABLE}).result_rows
    if not rows or rows[0][0] != "Distributed":
        return None
    match = re.match(r"Distributed\('((?:[^'\\]|\\.)*)'", rows[0][1])
    if not match:
        raise RuntimeError(f"cannot read the cluster of {TABLE} from {rows[0][1]!r}")
    return re.sub(r"\\(.)", r"\1", match.group(1))


def _bootstrapped(client: Client) -> bool:
    """Whether the bookkeeping table exists with its current columns."""
    rows = client.query(
        "SELECT count() FROM system.columns WHERE database = currentDatabase() "
        "AND table = {name:String} AND name = 'checksum'", parameters={"name": TABLE}
    ).result_rows
    return bool(rows[0][0])


def recorded(client: Client) -> dict[int, str]:
    """Recorded versions and their checksums ('' when recorded before checksums)."""
    rows = client.query(
        f"SELECT version, argMax(checksum, applied_at) FROM {TABLE} GROUP BY version"  # noqa: S608
    ).result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(client: Client, cluster: str | None = None,
            migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply every migration the store has not recorded, in version order; returns the
    versions applied. ``cluster`` renders for a cluster (see :func:`detect_cluster`)."""
    migrations = all_migrations() if migrations is None else migrations
    if not _bootstrapped(client):  # on a cluster, spare every start its ON CLUSTER DDL
        for statement in bootstrap_statements(cluster):
            client.command(statement)
    done = recorded(client)
    known = {m.version: m for m in migrations}
    for version, recorded_sum in sorted(done.items()):
        migration = known.get(version)
        if migration is None:
            log.warning("the store has schema version %d, which this tokentrail does not "
                        "know: a newer tokentrail upgraded it", version)
        elif recorded_sum and recorded_sum != migration.checksum:
            log.warning(
                "schema migration %d was applied to this store with different SQL "
                "(checksum %s, this tokentrail has %s): a released migration was edited. "
                "The store keeps what it was given; fix the schema with a new migration.",
                version, recorded_sum[:12], migration.checksum[:12])
    applied = []
    context = Context(client, cluster)
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        log.info("applying schema migration %d: %s", migration.version, migration.name)
        apply(migration, context)
        context.insert(TABLE, [[migration.version, migration.name, migration.checksum]],
                       ["version", "name", "checksum"])
        applied.append(migration.version)
    return applied


def apply(migration: Migration, context: Context) -> None:
    """Run the steps of one migration (without recording it)."""
    for step in migration.steps(context.cluster):
        if isinstance(step, PythonCall):
            migration.python_function(step)(context)
        else:
            context.client.command(step)
