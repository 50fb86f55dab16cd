"""The one class that talks to ClickHouse.

``chdb://DIR`` (embedded, in-process) and ``http(s)://host:8123`` (a server) are the
same ``clickhouse-connect`` client, so nothing above this module knows which it has.
Views, the collector and the CLI go through :class:`Store`; none of them import the
driver. Every query takes parameters; nothing user-supplied is formatted into SQL.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from tokentrail.store import migrations
from tokentrail.store.migrations.runner import TABLE as MIGRATIONS_TABLE
from tokentrail.store.normalize import TRANSCRIPT_SCOPE
from tokentrail.store.on_read import OnReadMemo

if TYPE_CHECKING:
    from tokentrail.analysis.cache_events_reports import CacheSummary

log = logging.getLogger(__name__)


UTC_SESSION = {"session_timezone": "UTC"}
"""Settings of every embedded-store session: ``toDate``, day boundaries and naive
datetime parameters mean UTC even on a machine whose clock is in another zone."""


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
            # The embedded engine takes the process's timezone; tokentrail's days and
            # naive datetime parameters are UTC, whatever the machine's clock says.
            return clickhouse_connect.get_client(interface="chdb", path=path,
                                                 settings=UTC_SESSION)
        except Exception as exc:  # chDB's errors don't say which path or why
            raise StoreError(
                f"cannot open the embedded store at {path}: {exc}. Only one process can own "
                "an embedded data directory; is another `tokentrail serve` running on it?"
            ) from exc
    if scheme in ("http", "https", "clickhouse", "clickhouses"):
        try:
            # No HTTP session: the writer, the cache-events keeper and the UI's request
            # threads share this client, and clickhouse-connect refuses concurrent
            # queries in one session ("Attempt to execute concurrent queries within the
            # same session"). Nothing here relies on session state.
            return clickhouse_connect.get_client(dsn=dsn, autogenerate_session_id=False)
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
        # What runs serve has not kept yet compute to (tokentrail/store/on_read.py).
        self.on_read = OnReadMemo()

    @classmethod
    def open(cls, dsn: str, *, migrate: bool = True) -> Store:
        store = cls(connect(dsn), dsn)
        if migrate:
            try:
                store.migrate()
            except BaseException:
                # An embedded store stays locked to this process while its client is
                # open: a failed open must not keep it (nor block opening another).
                store.close()
                raise
        return store

    @property
    def is_embedded(self) -> bool:
        return self.dsn.startswith("chdb://")

    # --- schema -------------------------------------------------------------

    def migrate(self, cluster: str | None = None) -> list[int]:
        """Apply every migration not yet recorded (see :mod:`tokentrail.store.migrations`);
        returns the versions applied. A store whose schema was applied to a cluster
        (``schema --apply --cluster``) is migrated ``ON CLUSTER`` again."""
        try:
            if cluster is None:
                cluster = migrations.detect_cluster(self.client)
            applied = migrations.migrate(self.client, cluster)
        except Exception as exc:  # the driver's errors don't say what we were doing
            where = f" on cluster {cluster}" if cluster else ""
            raise StoreError(f"upgrading the schema{where} failed: {exc}. Every step is "
                             "idempotent: fix the cause and run it again.") from exc
        self.sync_prices(cluster)
        return applied

    def sync_prices(self, cluster: str | None = None) -> None:
        """Load the price table (packaged prices plus the user's price files) if it
        changed: prices are data, refreshed at every start (docs/facts.md §2)."""
        from tokentrail.analysis import price_file, prices

        try:
            prices.sync(self.client, prices.override_files(self.dsn), cluster=cluster)
        except price_file.PriceFileError as exc:
            raise StoreError(f"bad price file: {exc}") from None

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

    # --- cache events (tokentrail.analysis.cache_events*; SQL there) --------

    def cache_events(self, run_id: str) -> list[dict[str, Any]]:
        """The cache events of one run, in call order: the stored ones if the run got
        no rows since ``serve`` analysed it, else judged now (the same SQL)."""
        from tokentrail.analysis import cache_events_store as ces

        params = {"run": run_id}
        if self.query(ces.run_is_current_select(), params)[0]["current"]:
            return self.query(ces.stored_events_select(), params)
        return self._judge(ces.events_for("run_id = {run:String}"), params)

    def _judge(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """A query that judges calls, with the settings that keep its planning short."""
        from tokentrail.analysis.cache_events import QUERY_SETTINGS

        settings = getattr(self, "_judge_settings", QUERY_SETTINGS)
        try:
            result = self.client.query(sql, parameters=params, settings=settings)
        except Exception as exc:
            # A read-only server (serve's SQL interface) refuses setting changes: the
            # same query without them is only slower to plan.
            if not settings or "readonly" not in str(exc).lower():
                raise
            self._judge_settings: dict[str, Any] = {}
            result = self.client.query(sql, parameters=params)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def cache_run_calls(self, run_id: str) -> list[dict[str, Any]]:
        """The calls of one run in order, with their cost columns, read through the
        run-ordered projection (a run of ``llm_calls`` costs a scan of every call)."""
        from tokentrail.analysis.cache_events_reports import run_calls_priced_select

        rows = self.query(run_calls_priced_select(), {"run": run_id})
        return sorted(rows, key=lambda r: (r["timestamp"], r["call_id"]))

    def cache_summary(self, run_id: str) -> CacheSummary | None:
        """One run's cache summary (hit rate, tokens read/written/re-written, money lost
        to events by cause); None for a run with no calls."""
        from tokentrail.analysis import cache_events_reports as cer

        totals = self.query(cer.run_totals_select(), {"run": run_id})[0]
        if not totals["calls"]:
            return None
        written = {r["call_id"]: int(r["written"])
                   for r in self.query(cer.run_writes_select(), {"run": run_id})}
        return cer.summarize(run_id, totals, self.cache_events(run_id), written)

    def cache_events_by(self, start: Any, end: Any, by: str = "cause") -> list[dict[str, Any]]:
        """Cache events of the fleet in [start, end) grouped ``by`` cause, service or
        service_cause, the costliest first."""
        from tokentrail.analysis.cache_events_reports import fleet_select

        return self._judge(fleet_select(by), {"start": start, "end": end})

    def refresh_cache_events(self, *, margin_seconds: float = 5.0, max_runs: int = 200) -> int:
        """One pass of keeping ``cache_events_stored`` current (``serve`` runs it
        periodically, and once more when it stops): judge up to ``max_runs`` runs that
        received rows since they were last judged, or were judged at older prices.
        Returns how many it judged.

        On the embedded store the pass runs on an engine session of its own, so the
        collector's inserts (on the store's client, which serialises its calls) never
        wait for it."""
        from tokentrail.analysis import cache_events_store as ces
        from tokentrail.analysis.cache_events import QUERY_SETTINGS

        params: dict[str, Any] = {"limit": max_runs, "margin_ms": int(margin_seconds * 1000)}
        statements = [(ces.refresh_insert_events(), QUERY_SETTINGS),
                      (ces.refresh_insert_tombstones(), {}), (ces.refresh_mark_runs(), {})]
        return self.background_pass(ces.refresh_dirty_select(), params, statements,
                                    carried=("horizon", "price_load"))

    def insights(self, start: Any, end: Any, *, kinds: Sequence[str] = (),
                 limit: int = 0, **settings: Any) -> list[dict[str, Any]]:
        """Findings over calls in [start, end), the largest savings first; ``kinds``
        keeps only those kinds, ``settings`` override the thresholds that are query
        parameters (:data:`tokentrail.analysis.insights.DEFAULTS`)."""
        from tokentrail.analysis import insights as ins
        from tokentrail.analysis import insights_store

        unknown = set(settings) - set(ins.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown insight setting(s): {', '.join(sorted(unknown))}")
        recurring = bool(self.query(
            "SELECT 1 FROM system.tables WHERE database = currentDatabase() "
            "AND name = {name:String}", {"name": "cache_events"}))
        # The stored facts are judged with the default thresholds; others judge on read.
        stored = all(settings.get(k, v) == v for k, v in ins.DEFAULTS.items())
        findings = insights_store.findings_select(self, recurring=recurring, stored=stored)
        sql = (f"SELECT * FROM ({findings}) "  # noqa: S608
               "WHERE (empty({kinds:Array(String)}) OR has({kinds:Array(String)}, kind)) "
               "ORDER BY savings_usd DESC, kind, service_name, run_ids")
        if limit:
            sql += " LIMIT {limit:UInt32}"
        params = {**ins.DEFAULTS, **settings, "start": start, "end": end,
                  "kinds": list(kinds), "limit": limit}
        return self._judge(sql, params)

    def whatif(self, scenario: str, start: Any, end: Any, *, run: str = "",
               service: str = "", **settings: Any) -> dict[str, Any]:
        """Calls in [start, end) (of one run or service if given) priced as they were
        and under ``scenario`` (:data:`tokentrail.analysis.whatif.SCENARIOS`)."""
        from tokentrail.analysis import whatif as wi

        sql = wi.whatif_select(scenario)
        row = self.query(sql, wi.parameters(start, end, run=run, service=service, **settings))[0]
        return {"scenario": scenario, **row}

    # --- the web UI's reads (tokentrail.store.ui_reads; SQL there) ------------

    def run_list(self, *, start: Any = None, end: Any = None, service: str | None = None,
                 model: str | None = None, has_events: bool | None = None,
                 sort: str = "recent", limit: int = 50, offset: int = 0,
                 ) -> tuple[list[dict[str, Any]], int]:
        """A page of runs (started in [start, end), filtered, newest or costliest first)
        and how many runs match; see :func:`tokentrail.store.ui_reads.run_list`."""
        from tokentrail.store import ui_reads

        return ui_reads.run_list(self, start=start, end=end, service=service, model=model,
                                 has_events=has_events, sort=sort, limit=limit,
                                 offset=offset)

    def refresh_run_rollup(self, *, margin_seconds: float = 5.0, max_runs: int = 500) -> int:
        """One pass of keeping ``run_rollup`` current (``serve`` runs it after each
        cache-events pass): roll up to ``max_runs`` runs that received rows since they
        were rolled up, or were rolled up at older prices. Returns how many it rolled up."""
        from tokentrail.analysis.cache_events import QUERY_SETTINGS
        from tokentrail.store import run_rollup as rr

        return self.background_pass(
            rr.refresh_dirty_select(),
            {"limit": max_runs, "margin_ms": int(margin_seconds * 1000)},
            [(rr.refresh_insert_rows(), QUERY_SETTINGS), (rr.refresh_insert_tombstones(), {}),
             (rr.refresh_mark_runs(), {})],
            carried=("horizon", "price_load"))

    def background_pass(self, dirty_select: str, params: dict[str, Any],
                        statements: Sequence[tuple[str, dict[str, Any]]],
                        carried: Sequence[str]) -> int:
        """One pass of a keeper of a derived table: ``dirty_select`` (with ``params``)
        names the runs to redo (``run_id``) and values every row carries alike
        (``carried``); each of ``statements`` (SQL, settings) then runs with ``runs``,
        ``version`` and those values. Returns how many runs it redid.

        On the embedded store the pass runs on an engine session of its own, one
        thread at the lowest priority, so the collector's inserts (on the store's
        client, which serialises its calls) never wait for it and keep the cores."""
        if not self.is_embedded:
            dirty = self.query(dirty_select, params)
            if dirty:
                values = {"runs": [r["run_id"] for r in dirty], "version": time.time_ns(),
                          **{k: dirty[0][k] for k in carried}}
                for sql, settings in statements:
                    self.client.command(sql, parameters=values, settings=settings)
            return len(dirty)
        session = self.engine_session()
        try:
            session.set({"max_threads": "1", "os_threads_nice_value_query": "19"})
            text = {k: str(v) for k, v in params.items()}
            out, _ = session.query(dirty_select.encode(), "JSONEachRow", text)
            dirty = [json.loads(line) for line in out.splitlines() if line]
            if dirty:
                runs = ",".join("'" + escape_parameter(r["run_id"]).replace("'", "\\'") + "'"
                                for r in dirty)
                text = {"runs": f"[{runs}]", "version": str(time.time_ns()),
                        **{k: escape_parameter(str(dirty[0][k])) for k in carried}}
                for sql, settings in statements:
                    session.set({k: str(v) for k, v in settings.items()})
                    session.query(sql.encode(), "TabSeparated", text)
            return len(dirty)
        finally:
            session.close()

    def filter_options(self) -> dict[str, list[str]]:
        """The services and models the runs page filters by."""
        from tokentrail.store import ui_reads

        return ui_reads.filter_options(self)

    def run_detail(self, run_id: str) -> dict[str, Any] | None:
        """One run's timeline (run row, calls, events, summary, parent, children)."""
        from tokentrail.store import ui_reads

        return ui_reads.run_detail(self, run_id)

    def call_detail(self, call_id: str) -> dict[str, Any] | None:
        """One call's full row, the run's previous call and the call's cache events."""
        from tokentrail.store import ui_reads

        return ui_reads.call_detail(self, call_id)

    def call_contents(self, call: dict[str, Any]) -> list[tuple[str, str]]:
        """(heading, text) of the prompt and response text the call's span carries, when
        the agent opted in to content capture; [] otherwise or when the read fails."""
        from tokentrail.store import call_contents

        return call_contents.captured_contents(self, call)

    def fleet(self, start: Any, end: Any) -> dict[str, Any]:
        """The fleet page's aggregates over the days [start, end) touches."""
        from tokentrail.store import ui_reads

        return ui_reads.fleet(self, start, end)

    # --- the SQL interface (tokentrail.sql_http; the section at the end) -------

    def engine_session(self) -> EngineSession:
        """A new engine session of its own, for one SQL-interface query (embedded
        store only); the caller closes it."""
        return _engine_session(self)

    def engine_info(self) -> EngineInfo:
        """The engine's version, timezone and error names."""
        return _engine_info(self)

    def kill_engine_queries(self, tag: str) -> None:
        """Cancel the running engine queries whose ``log_comment`` starts with ``tag``."""
        _kill_engine_queries(self, tag)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing must never mask the reason we are shutting down
            log.debug("error closing the store client", exc_info=True)


# --- the SQL interface: engine sessions of their own ---------------------------------
#
# ``tokentrail serve`` answers ClickHouse's HTTP interface for the embedded store
# (tokentrail.sql_http). Each of those queries runs on an engine session of its own: a
# separate chDB connection handle to the one engine this process hosts, with its own
# settings (readonly, limits) and USE state, so that nothing a query sets can leak into
# the collector's or the UI's client, and so that queries on different handles run in
# parallel (the handle of the Store's client serialises its callers; chDB runs queries of
# different handles concurrently and releases the GIL while they run: measured, see
# tokentrail/sql_http/__init__.py). The session hands back the engine's own output bytes
# in the requested format: nothing here parses or reformats results.

ENGINE_QUERY_TAG = "tokentrail-sql:"
"""Prefix of the ``log_comment`` setting of every SQL-interface query, so that
:meth:`Store.kill_engine_queries` can find them in ``system.processes``."""

_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ERROR_CODE = re.compile(r"Code: (\d+)\.")


class EngineError(StoreError):
    """The engine refused or failed a query; ``code`` is ClickHouse's error code
    (0 when the engine's message carried none) and the message is the engine's own."""

    def __init__(self, message: str) -> None:
        start = message.rfind("Code: ")  # chDB nests the same exception several times
        self.raw = message
        message = message[start:] if start >= 0 else message
        match = _ERROR_CODE.match(message)
        self.code = int(match.group(1)) if match else 0
        super().__init__(message.strip())


def escape_parameter(value: str) -> str:
    """``value`` as the text of a ``{name:String}`` query parameter: query parameters
    are read in ClickHouse's escaped (TabSeparated) text format, where a backslash,
    tab, newline, carriage return or NUL must be escaped."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\0", "\\0"))


def _engine_path(dsn: str) -> str:
    """The data directory of a ``chdb://`` DSN, spelled as the engine was opened
    (clickhouse-connect resolves symlinks; chDB compares paths literally)."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(dsn[len("chdb://"):])))


@dataclass(frozen=True)
class StatementInfo:
    """What the engine's own parser says a request's SQL is (chDB ``classify_query``)."""

    kind: str  # READ_ONLY, MUTATING, MUTATING_GLOBAL, CONTROL or UNKNOWN (does not parse)
    statements: int


@dataclass(frozen=True)
class EngineStats:
    """The engine's statistics of one result (or one streamed part of it)."""

    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    elapsed_s: float = 0.0


class EngineStream:
    """The output of one streamed query, one engine block at a time.

    Each part is a self-contained encoding of one block in the requested format, so
    the parts concatenate into one valid output only for formats without a global
    header or footer (the caller decides). Not thread-safe: one consumer at a time.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def next_part(self) -> tuple[bytes, EngineStats] | None:
        """The next part and its statistics, or None at the end."""
        try:
            part = self._stream.fetch()
        except Exception as exc:
            raise EngineError(str(exc)) from None
        if part is None:
            return None
        return part.bytes(), _stats(part)

    def close(self) -> None:
        try:
            self._stream.close()
        except Exception:  # cancelling a finished or failed stream
            log.debug("error closing an engine stream", exc_info=True)


class EngineSession:
    """One connection handle to the embedded engine, for one SQL-interface query.

    Everything is parameterised: setting values, database names and the query's own
    ``{name:Type}`` parameters travel as query parameters; setting *names* are checked
    to be identifiers before they are spelled in a ``SET``.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def _run(self, sql: str | bytes, fmt: str = "TabSeparated",
             params: dict[str, str] | None = None) -> Any:
        try:
            return self._connection.query(sql, fmt, params=params or {})
        except Exception as exc:
            raise EngineError(str(exc)) from None

    def use_database(self, name: str) -> None:
        self._run("USE {db:Identifier}", params={"db": escape_parameter(name)})

    def set(self, settings: dict[str, str]) -> None:
        """Apply settings to this session; the engine validates names and values
        (and refuses them under ``readonly``) exactly as for a ``SET`` statement."""
        if not settings:
            return
        assignments, params = [], {}
        for i, (name, value) in enumerate(settings.items()):
            if not _SETTING_NAME.match(name):
                raise EngineError(f"Code: 115. DB::Exception: Unknown setting '{name}'. "
                                  "(UNKNOWN_SETTING)")
            assignments.append(f"{name} = {{v{i}:String}}")
            params[f"v{i}"] = escape_parameter(value)
        self._run("SET " + ", ".join(assignments), params=params)

    def settings(self, names: Sequence[str]) -> dict[str, str]:
        """Current values of settings, as the engine prints them."""
        result = self._run(
            "SELECT name, value FROM system.settings WHERE name IN {names:Array(String)}",
            "JSONEachRow", {"names": "[" + ",".join(
                "'" + escape_parameter(n).replace("'", "\\'") + "'" for n in names) + "]"})
        rows = [json.loads(line) for line in result.bytes().splitlines() if line]
        return {row["name"]: row["value"] for row in rows}

    def classify(self, sql: bytes) -> StatementInfo:
        """The engine parser's verdict on ``sql``, without running it."""
        verdict = self._connection._conn.classify_query(sql)
        return StatementInfo(kind=verdict["query_class"].name,
                             statements=int(verdict["statement_count"]))

    def canonical(self, sql: str) -> str:
        """``sql`` as the engine formats it (``formatQuerySingleLine``): comments gone,
        keywords upper case, the FORMAT clause in a fixed place."""
        result = self._run("SELECT formatQuerySingleLine({q:String})", "TabSeparatedRaw",
                           {"q": escape_parameter(sql)})
        return result.bytes().decode("utf-8", "replace").rstrip("\n")

    def query(self, sql: bytes, fmt: str,
              params: dict[str, str]) -> tuple[bytes, EngineStats]:
        """Run ``sql`` to the end; the whole output in ``fmt`` (a FORMAT clause in
        ``sql`` wins, as over HTTP) and the engine's statistics."""
        _check_format(fmt)
        result = self._run(sql, fmt, params)
        return result.bytes() or b"", _stats(result)

    def stream(self, sql: bytes, fmt: str, params: dict[str, str]) -> EngineStream:
        """Start ``sql`` and hand its output over block by block."""
        _check_format(fmt)
        try:
            return EngineStream(self._connection.send_query(sql, fmt, params=params))
        except Exception as exc:
            raise EngineError(str(exc)) from None

    def insert(self, statement: str, fmt: str, data: bytes) -> EngineStats:
        """``statement`` (an INSERT without FORMAT clause) with ``data`` in ``fmt``,
        streamed to the engine (inline data in the query text is cut short by chDB)."""
        try:
            with self._connection.send_insert(statement, fmt) as inserter:
                inserter.append(data)
                result = inserter.finish()
        except Exception as exc:
            raise EngineError(str(exc)) from None
        return EngineStats(written_rows=int(result.rows_written),
                           written_bytes=int(result.bytes_written),
                           elapsed_s=float(result.elapsed))

    def close(self) -> None:
        try:
            self._connection.close()
        except Exception:
            log.debug("error closing an engine session", exc_info=True)


def _check_format(fmt: str) -> None:
    """chDB's Python API turns a few format names into Python objects instead of
    bytes; they are no ClickHouse formats, so they are refused as unknown."""
    if fmt.lower() in ("dataframe", "arrowtable", "datastore"):
        raise EngineError(f"Code: 73. DB::Exception: Unknown format {fmt}. (UNKNOWN_FORMAT)")


def _stats(result: Any) -> EngineStats:
    return EngineStats(read_rows=int(result.rows_read()), read_bytes=int(result.bytes_read()),
                       written_rows=int(result.rows_written()),
                       written_bytes=int(result.bytes_written()),
                       elapsed_s=float(result.elapsed()))


@dataclass(frozen=True)
class EngineInfo:
    """What the SQL interface reports about the engine."""

    version: str
    timezone: str
    error_names: dict[int, str]  # ClickHouse's error codes and their names


def _engine_session(store: Store) -> EngineSession:
    if not store.is_embedded:
        raise StoreError("the SQL interface serves the embedded store only; a ClickHouse "
                         "server answers SQL itself")
    import chdb  # the server extra's engine; imported here, where it is first needed

    try:
        session = EngineSession(chdb.connect(_engine_path(store.dsn)))
        session.set(UTC_SESSION)  # as the client of connect(): days are UTC days
        return session
    except Exception as exc:
        raise StoreError(f"cannot open an engine session: {exc}") from exc


def _engine_info(store: Store) -> EngineInfo:
    session = _engine_session(store)
    try:
        version, timezone = session.query(b"SELECT version(), timezone()", "TabSeparated",
                                          {})[0].decode().rstrip("\n").split("\t")
        names = session.query(
            b"SELECT number, errorCodeToName(number) FROM numbers(2000) "
            b"WHERE errorCodeToName(number) != ''", "TabSeparated", {})[0].decode()
    finally:
        session.close()
    error_names = {int(code): name for code, name in
                   (line.split("\t") for line in names.splitlines() if line)}
    return EngineInfo(version=version, timezone=timezone, error_names=error_names)


def _kill_engine_queries(store: Store, tag: str) -> None:
    session = _engine_session(store)
    try:
        session.query(b"KILL QUERY WHERE startsWith(Settings['log_comment'], {tag:String}) "
                      b"ASYNC FORMAT Null", "TabSeparated", {"tag": escape_parameter(tag)})
    finally:
        session.close()


