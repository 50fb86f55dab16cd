"""ClickHouse's HTTP interface for the embedded store, served by ``tokentrail serve``.

chDB lets one process own a data directory (docs/facts.md §7), so while ``serve`` runs,
nothing else can open the store; this interface lets any ClickHouse client (curl,
clickhouse-connect and its SQLAlchemy dialect, Grafana's ClickHouse data source,
DBeaver, Superset...) query it live, on ``127.0.0.1:8123`` by default.

The engine does the work: the SQL, its ``{name:Type}`` parameters, the settings and
the output format go to chDB unchanged, and chDB's output bytes come back unchanged.
Measured here (chdb 4.4, ClickHouse 26.9.2, 2 cores): queries on separate chDB
connection handles run concurrently and release the GIL (two ``sleepEachRow`` queries
of 1 s each finish in 1.0 s together; a Python thread keeps ticking meanwhile), and an
insert on another handle takes 2-4 ms while a query runs; calls on *one* handle are
serialised (clickhouse-connect holds a lock per client). A new handle costs ~1 ms, so
each query gets its own (:meth:`tokentrail.store.Store.engine_session`).

* :mod:`.protocol`: the HTTP side of ClickHouse's interface (requests, errors, headers)
* :mod:`.encoding`: HTTP compression of responses and request bodies
* :mod:`.runner`: running queries off the event loop, read-only and within limits
* :mod:`.app`: the ASGI app
"""

from __future__ import annotations

from tokentrail.settings import Settings
from tokentrail.sql_http.app import create_app
from tokentrail.sql_http.runner import Limits, QueryRunner
from tokentrail.store import Store


def build(store: Store, settings: Settings):
    """The SQL interface's app and runner for ``serve`` (the caller closes the runner
    after the server stopped, before the store closes)."""
    runner = QueryRunner(
        store, store.engine_info(), readonly=not settings.sql_writable,
        limits=Limits(max_execution_time=settings.sql_max_execution_time,
                      max_memory_usage=settings.sql_max_memory_usage,
                      max_threads=settings.sql_max_threads,
                      max_result_bytes=settings.sql_max_result_bytes),
        max_concurrent=settings.sql_max_concurrent_queries)
    app = create_app(runner, token=settings.sql_token, max_body_bytes=settings.sql_max_body_bytes)
    return app, runner


__all__ = ["Limits", "QueryRunner", "build", "create_app"]
