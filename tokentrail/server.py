"""``tokentrail serve``: the collector and the web UI in one process, or either alone.

chDB lets exactly one process own an embedded data directory (docs/facts.md §7), so the
process that writes spans must also be the one that serves the UI. Both run as
uvicorn servers on one event loop over one :class:`~tokentrail.store.Store`, and so does
the SQL interface (ClickHouse's HTTP interface for the embedded store, tokentrail.sql_http),
whose queries run on threads of their own.

Shutdown order matters for "nothing acknowledged is lost": on SIGINT/SIGTERM the
servers stop accepting connections and finish their in-flight requests (each of
which waits for its rows to commit), then the writer drains, then the store closes.

Split deployments (deploy/README.md) run the parts as processes of their own against
one ClickHouse server (``--clickhouse http(s)://…``): ``--no-ui`` runs only the OTLP
receivers and the writer (scale these out), ``--no-collector`` only the UI. Several
collectors writing one store need no coordination: a span or call that two of them both
insert collapses in the engine (ReplacingMergeTree on (…, TraceId, SpanId) and on
call_id, read FINAL; tokentrail/store/schema.py), not in any process's memory. With
both turned off, a serve on an embedded store is the store's host only: its SQL
interface in writable mode is the ClickHouse server the other processes use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import uvicorn

from tokentrail import first_run
from tokentrail.analysis.insights_refresh import AnalysisKeeper
from tokentrail.collector import otlp_grpc, otlp_http
from tokentrail.collector.encode import Encoder
from tokentrail.collector.ingest import Ingest
from tokentrail.collector.writer import BatchWriter
from tokentrail.settings import Settings
from tokentrail.sql_http import QueryRunner
from tokentrail.sql_http import build as build_sql_interface
from tokentrail.store import Store, redact_dsn
from tokentrail.store.database import ENGINE_QUERY_TAG
from tokentrail.store.run_rollup_keeper import RunRollupKeeper
from tokentrail.web.app import create_app as create_ui_app

log = logging.getLogger("tokentrail.serve")


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`run` (two servers share
    one process; uvicorn's own handling would re-raise the signal after the first one
    stopped, before the writer has drained)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app, settings: Settings, port: int, name: str) -> _Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    server = _Server(config)
    server.name = name  # type: ignore[attr-defined]
    return server


def serves_sql(settings: Settings) -> bool:
    """Whether ``serve`` answers ClickHouse's HTTP interface: only for an embedded store
    (a ClickHouse server answers SQL itself) and unless ``--sql-port 0``."""
    return bool(settings.sql_port) and not settings.clickhouse


async def run(settings: Settings, *, ui: bool = True, collector: bool = True) -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit code. ``ui`` / ``collector``
    False leave that part out (a split deployment runs it in another process)."""
    store = await asyncio.to_thread(Store.open, settings.dsn)
    empty = collector and not await asyncio.to_thread(first_run.has_calls, store)
    writer: BatchWriter | None = None
    encoder: Encoder | None = None
    ingest: Ingest | None = None
    servers: list[_Server] = []
    if collector:
        writer = BatchWriter(
            store,
            max_rows=settings.batch_max_rows,
            max_delay=settings.batch_max_delay,
            max_queued_rows=settings.queue_max_rows,
        )
        encoder = await asyncio.to_thread(Encoder.for_store, store, settings.decode_workers)
        ingest = Ingest(writer, encoder, max_body_bytes=settings.max_body_bytes,
                        token=settings.ingest_token, max_in_flight=settings.max_in_flight)
        servers.append(_server(otlp_http.create_app(ingest), settings,
                               settings.otlp_http_port, "OTLP/HTTP"))
    if ui:
        servers.append(_server(create_ui_app(store, token=settings.ui_token), settings,
                               settings.ui_port, "UI"))
    sql_runner: QueryRunner | None = None
    if serves_sql(settings):
        sql_app, sql_runner = await asyncio.to_thread(build_sql_interface, store, settings)
        sql_server = _server(sql_app, settings, settings.sql_port, "SQL")
        sql_server.config.h11_max_incomplete_event_size = 1 << 20  # URLs up to 1 MiB, as
        servers.append(sql_server)  # ClickHouse's http_max_uri_size; queries go in them
    elif settings.sql_port:
        log.info("no SQL interface with --clickhouse: the ClickHouse server answers SQL itself")
    stopping = asyncio.Event()
    failed = False
    # Keeps cache_events_stored and insight_facts current. Not in a collector-only
    # process: collectors scale out to many replicas, and N keepers would judge the same
    # runs N times. The UI process (or the store's host) keeps them; nothing depends on
    # it for correctness (the views judge what is not stored yet on read).
    # The UI's run rollup is kept by the same keeper, after its passes.
    keeper = RunRollupKeeper(AnalysisKeeper(store)) if ui or not collector else None

    def stop_all() -> None:
        stopping.set()
        for server in servers:
            server.should_exit = True
        if sql_runner is not None:  # running SQL queries must not hold up the shutdown
            sql_runner.kill(ENGINE_QUERY_TAG)

    def on_signal(signum: int) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        if stopping.is_set():  # a second signal: stop waiting for in-flight requests
            for server in servers:
                server.force_exit = True
        stop_all()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    async def serve_http(server: _Server) -> None:
        nonlocal failed
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits this way when it cannot bind
            log.error("%s server failed to start on %s:%s%s", server.name,
                      settings.host, server.config.port,
                      " (--sql-port 0 turns it off)" if server.name == "SQL" else "")
            failed = True
        finally:
            stop_all()  # one server down means the process is down

    async def serve_grpc() -> None:
        nonlocal failed
        if ingest is None:  # --no-collector
            return
        try:
            grpc_server, _ = otlp_grpc.create_server(ingest, settings.host,
                                                     settings.otlp_grpc_port)
        except RuntimeError as exc:
            log.error("OTLP/gRPC server failed to start on %s:%s: %s", settings.host,
                      settings.otlp_grpc_port, exc)
            failed = True
            stop_all()
            return
        await grpc_server.start()
        await stopping.wait()
        await grpc_server.stop(grace=30)  # in-flight exports finish (and commit)

    async def announce() -> None:
        while not all(s.started for s in servers):
            if stopping.is_set():
                return
            await asyncio.sleep(0.05)
        where = (f"embedded store {settings.data}" if store.is_embedded
                 else f"ClickHouse {redact_dsn(store.dsn)}")
        parts = []
        if collector:
            parts += [f"OTLP/HTTP on http://{settings.host}:{settings.otlp_http_port}",
                      f"OTLP/gRPC on {settings.host}:{settings.otlp_grpc_port}"]
        if ui:
            parts.append(f"UI on http://{settings.host}:{settings.ui_port}")
        if sql_runner is not None:
            mode = "writable" if settings.sql_writable else "read-only"
            parts.append(f"SQL (ClickHouse HTTP, {mode}) on "
                         f"http://{settings.host}:{settings.sql_port}")
        print(f"tokentrail serve: {', '.join([*parts, where])}", file=sys.stderr, flush=True)
        if empty:
            print(first_run.how_to_send(settings), file=sys.stderr, flush=True)

    try:
        keeping = [keeper.run(stopping)] if keeper is not None else []
        await asyncio.gather(announce(), serve_grpc(), *keeping,
                             *(serve_http(s) for s in servers))
    finally:
        if sql_runner is not None:
            await asyncio.to_thread(sql_runner.close)
        if writer is not None:
            await asyncio.to_thread(writer.close)
        if encoder is not None:
            await asyncio.to_thread(encoder.close)
        if keeper is not None:
            await asyncio.to_thread(keeper.finish)  # what arrived is judged and stored
        store.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("stopped")
    return 1 if failed else 0
