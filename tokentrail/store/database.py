"""The one class that talks to ClickHouse.

``chdb://DIR`` (embedded, in-process) and ``http(s)://host:8123`` (a server) are the
same ``clickhouse-connect`` client, so nothing above this module knows which it has.
Views, the collector and the CLI go through :class:`Store`; none of them import the
driver. Every query takes parameters; nothing user-supplied is formatted into SQL.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from tokentrail.store import migrations
from tokentrail.store.migrations.runner import TABLE as MIGRATIONS_TABLE
from tokentrail.store.normalize import TRANSCRIPT_SCOPE

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The store could not be opened or used; the message says why."""


def connect(dsn: str) -> Client:
    """A clickhouse-connect client for ``chdb://DIR`` or ``http(s)://...`` DSNs."""
    scheme = urlsplit(dsn).scheme.lower()
    if scheme == "chdb":
        path = dsn[len("chdb://") :]
        if not path:
            raise StoreError("chdb:// DSN needs a data directory, e.g. chdb:///var/lib/tokentrail")
        path = os.path.abspath(os.path.expanduser(path))
        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            return clickhouse_connect.get_client(interface="chdb", path=path)
        except Exception as exc:  # chDB's errors don't say which path or why
            raise StoreError(
                f"cannot open the embedded store at {path}: {exc}. Only one process can own "
                "an embedded data directory; is another `tokentrail serve` running on it?"
            ) from exc
    if scheme in ("http", "https", "clickhouse", "clickhouses"):
        try:
            return clickhouse_connect.get_client(dsn=dsn)
        except Exception as exc:
            raise StoreError(f"cannot connect to ClickHouse at {redact_dsn(dsn)}: {exc}") from exc
    raise StoreError(
        f"unsupported store DSN {redact_dsn(dsn)!r}: use chdb://DIR or http(s)://HOST:8123"
    )


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ***, for messages and logs."""
    parts = urlsplit(dsn)
    if parts.password:
        return dsn.replace(f":{parts.password}@", ":***@")
    return dsn


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs page."""

    run_id: str
    run_name: str
    service_name: str
    models: list[str]
    turns: int
    input_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    started_at: Any  # datetime
    ended_at: Any

    @property
    def total_input_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
        )


class Store:
    """Schema, inserts and the read queries of the UI, over one client."""

    def __init__(self, client: Client, dsn: str = "") -> None:
        self.client = client
        self.dsn = dsn

    @classmethod
    def open(cls, dsn: str, *, migrate: bool = True) -> Store:
        store = cls(connect(dsn), dsn)
        if migrate:
            store.migrate()
        return store

    @property
    def is_embedded(self) -> bool:
        return self.dsn.startswith("chdb://")

    # --- schema -------------------------------------------------------------

    def migrate(self, cluster: str | None = None) -> list[int]:
        """Apply every migration not yet recorded (see :mod:`tokentrail.store.migrations`);
        returns the versions applied. A store whose schema was applied to a cluster
        (``schema --apply --cluster``) is migrated ``ON CLUSTER`` again."""
        if cluster is None:
            cluster = migrations.detect_cluster(self.client)
        return migrations.migrate(self.client, cluster)

    def schema_version(self) -> int:
        result = self.client.query(
            f"SELECT max(version) FROM {MIGRATIONS_TABLE}"  # noqa: S608
        )
        return int(result.result_rows[0][0] or 0)

    # --- writes -------------------------------------------------------------

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        """Insert rows synchronously; returns once ClickHouse has committed them."""
        if rows:
            self.client.insert(table, rows, column_names=list(columns))

    def column_types(self, table: str, columns: Sequence[str]) -> list[str]:
        """ClickHouse type names of ``columns`` of ``table``, as inserts need them."""
        context = self.client.create_insert_context(table, column_names=list(columns))
        return [t.name for t in context.column_types]

    def insert_blocks(self, table: str, columns: Sequence[str], blocks: Sequence[bytes]) -> None:
        """Insert ClickHouse Native-format blocks (see collector.encode) as one insert;
        returns once committed."""
        self.client.raw_insert(table, list(columns), insert_block=b"".join(blocks),
                               fmt="Native")

    # --- reads --------------------------------------------------------------

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a parameterised query; rows as dicts keyed by column name."""
        result = self.client.query(sql, parameters=parameters or {})
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def count_runs(self) -> int:
        rows = self.query("SELECT uniqExact(run_id) AS n FROM llm_calls")
        return int(rows[0]["n"])

    def runs(self, *, limit: int = 50, offset: int = 0) -> list[RunSummary]:
        """Runs, newest first (by their first call)."""
        rows = self.query(
            """
            SELECT
                run_id,
                anyIf(run_name, run_name != '') AS run_name,
                any(service_name) AS service_name,
                groupUniqArray(model) AS models,
                count() AS turns,
                sum(input_tokens) AS input_tokens,
                sum(cache_read_tokens) AS cache_read_tokens,
                sum(cache_write_5m_tokens) AS cache_write_5m_tokens,
                sum(cache_write_1h_tokens) AS cache_write_1h_tokens,
                sum(output_tokens) AS output_tokens,
                min(timestamp) AS started_at,
                max(timestamp) AS ended_at
            FROM llm_calls
            GROUP BY run_id
            ORDER BY started_at DESC, run_id
            LIMIT {limit:UInt32} OFFSET {offset:UInt32}
            """,
            {"limit": limit, "offset": offset},
        )
        for row in rows:
            row["models"] = sorted(m for m in row["models"] if m)
        return [RunSummary(**row) for row in rows]

    def calls(self, run_id: str) -> list[dict[str, Any]]:
        """The calls of one run in order, with turn numbers filled in where the
        source did not report them."""
        return self.query(
            """
            SELECT *, row_number() OVER (ORDER BY timestamp, call_id) AS position
            FROM llm_calls
            WHERE run_id = {run_id:String}
            ORDER BY timestamp, call_id
            """,
            {"run_id": run_id},
        )

    def imported_transcript_calls(self, sessions: list[str]) -> set[tuple[str, str]]:
        """(session id, request key) of transcript calls already imported."""
        if not sessions:
            return set()
        rows = self.query(
            """
            SELECT DISTINCT LogAttributes['session.id'] AS session,
                   if(LogAttributes['request.ref'] != '', LogAttributes['request.ref'],
                      LogAttributes['message.id']) AS key
            FROM otel_logs
            WHERE ScopeName = {scope:String}
              AND LogAttributes['session.id'] IN {sessions:Array(String)}
            """,
            {"scope": TRANSCRIPT_SCOPE, "sessions": sessions},
        )
        return {(r["session"], r["key"]) for r in rows}

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing must never mask the reason we are shutting down
            log.debug("error closing the store client", exc_info=True)
