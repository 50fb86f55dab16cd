"""Stores for the schema and upgrade tests: a store as release 0.1.0 left it, sample
data ingested through the real row builders, snapshots of schema and content, and a
chDB engine configured as a one- or two-shard ClickHouse cluster.

chDB (clickhouse-local) cannot run two things a real cluster needs, and
:class:`LocalCluster` stands in for exactly those, nothing else:

* ``ON CLUSTER`` DDL: it is executed by the DDL worker of every server, which
  clickhouse-local does not run ("Replicated DDL queries are disabled"). On a cluster
  of one server it would run that same statement on this server, so the statement is
  run here without the clause.
* ``Replicated*MergeTree``: with ClickHouse's in-process TestKeeper the tables can be
  created, but their replicas never become active in clickhouse-local (read-only
  forever), so the non-replicated engine with the same arguments is used.

Everything else is the real engine: the cluster definition (``remote_servers``,
``{shard}``/``{replica}`` macros), Distributed tables over it, inserts and reads
through them, materialized views on the local tables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import clickhouse_connect
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import CLAUDE_CODE_FIXTURES
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tokentrail.analysis import insights_store
from tokentrail.collector.decode import JSON, parse
from tokentrail.collector.rows import (
    GAUGE_COLUMNS,
    HISTOGRAM_COLUMNS,
    LOG_COLUMNS,
    SUM_COLUMNS,
    TRACE_COLUMNS,
    log_rows,
    metric_rows,
    trace_rows,
)
from tokentrail.store import Store

HERE = Path(__file__).parent
RELEASE_0_1_0 = HERE / "fixtures" / "schema_release_0_1_0.sql"
RELEASE_0_1_0_CLUSTER = HERE / "fixtures" / "schema_release_0_1_0.cluster.sql"
RELEASE_CLUSTER_NAME = "prod"  # the name the cluster fixture was rendered with
MIGRATIONS_TABLE = "tokentrail_schema_migrations"
# Bookkeeping of *when* rows arrived (cache_events' record of each run's last insert,
# tokentrail/analysis/cache_events_store.py): two stores fed the same data differ there
# by the clock, so content comparisons leave it out.
ARRIVAL_TIMES_TABLE = "cache_run_inserts"


def split_script(script: str) -> list[str]:
    """The statements of a script ``tokentrail schema`` printed (``;`` ends a line)."""
    body = "".join(line for line in script.splitlines(keepends=True)
                   if not line.startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip()]


def is_ddl(sql: str) -> bool:
    """DDL runs ON CLUSTER; DML (a backfill's INSERT … SELECT) goes through the
    Distributed tables instead."""
    return sql.lstrip().split(None, 1)[0].upper() in ("CREATE", "ALTER", "DROP", "RENAME")


# --- a store as release 0.1.0 left it -----------------------------------------------

def create_release_store(client: Any, *, cluster: bool = False) -> None:
    """Apply the 0.1.0 DDL as that release did: ``serve`` ran it and recorded version 1;
    ``schema --apply --cluster`` ran the cluster DDL and recorded nothing."""
    path = RELEASE_0_1_0_CLUSTER if cluster else RELEASE_0_1_0
    for statement in split_script(path.read_text()):
        client.command(statement)
    if not cluster:  # 0.1.0's Store.migrate() inserted exactly these two columns
        client.insert(MIGRATIONS_TABLE, [[1, "raw OpenTelemetry tables and llm_calls"]],
                      column_names=["version", "name"])


# --- sample data through the real ingest path ---------------------------------------

def _ids(n: int) -> tuple[bytes, bytes]:
    return bytes([n]) * 16, bytes([n]) * 8


def sample_trace_requests(first: int = 1) -> list[ExportTraceServiceRequest]:
    """Three SDK-reported calls of one conversation (fixed ids, so two stores given the
    same sample hold the same rows) and Claude Code's captured trace export."""
    spans = []
    for i in range(3):
        attrs = anthropic_call_attrs(response_id=f"msg_{first + i}", uncached=10 + i,
                                     read=1000 * i, write=200, write_1h=50 * i, output=7,
                                     conversation="conv-upgrade")
        trace_id, span_id = _ids(first + i)
        spans.append(span(attrs, start_ns=NOW_NS + i * 10**9, trace_id=trace_id,
                          span_id=span_id))
    requests = [trace_request(spans)]
    if first == 1:
        body = (CLAUDE_CODE_FIXTURES / "traces-0.otlp.json").read_bytes()
        requests.append(parse(body, JSON, ExportTraceServiceRequest))
    return requests


def ingest_sample(store: Store, first: int = 1) -> None:
    """Insert the sample into the raw tables, as the collector does (one insert per
    request and table), so the materialized views fill ``llm_call_reports``."""
    for request in sample_trace_requests(first):
        store.insert("otel_traces", trace_rows(request), TRACE_COLUMNS)
    if first != 1:
        return
    for name in ("logs-0.otlp.json", "logs-1.otlp.json"):
        body = (CLAUDE_CODE_FIXTURES / name).read_bytes()
        store.insert("otel_logs", log_rows(parse(body, JSON, ExportLogsServiceRequest)),
                     LOG_COLUMNS)
    body = (CLAUDE_CODE_FIXTURES / "metrics-0.otlp.json").read_bytes()
    metrics = metric_rows(parse(body, JSON, ExportMetricsServiceRequest))
    store.insert("otel_metrics_sum", metrics.sum, SUM_COLUMNS)
    store.insert("otel_metrics_gauge", metrics.gauge, GAUGE_COLUMNS)
    store.insert("otel_metrics_histogram", metrics.histogram, HISTOGRAM_COLUMNS)


# --- snapshots ----------------------------------------------------------------------

def objects(client: Any) -> dict[str, str]:
    """name -> engine of every table and view of the store's database."""
    rows = client.query("SELECT name, engine FROM system.tables "
                        "WHERE database = currentDatabase()").result_rows
    return dict(rows)


def schema_snapshot(client: Any) -> dict[str, Any]:
    """Every object's definition as ClickHouse stores it (so formatting does not count)
    and its columns with types, defaults and codecs, in order."""
    tables = {
        name: query for name, query in client.query(
            "SELECT name, create_table_query FROM system.tables "
            "WHERE database = currentDatabase()").result_rows
    }
    columns: dict[str, list[tuple]] = {}
    for row in client.query(
            "SELECT table, name, type, default_kind, default_expression, compression_codec "
            "FROM system.columns WHERE database = currentDatabase() "
            "ORDER BY table, position").result_rows:
        columns.setdefault(row[0], []).append(tuple(row[1:]))
    return {"objects": tables, "columns": columns}


_COLLAPSING = re.compile(r"(Replacing|Aggregating|Collapsing|Summing)MergeTree")


SETS = (insights_store.READS,)
"""Tables whose rows mean only "there was one": duplicates are expected and harmless."""


def content_snapshot(client: Any, *,
                     skip: tuple[str, ...] = (MIGRATIONS_TABLE, ARRIVAL_TIMES_TABLE)
                     ) -> dict[str, list[str]]:
    """The rows of every table and plain view, in a stable order. Tables whose engine
    collapses rows are read with FINAL: what readers see, merged or not. Sets kept as
    plain MergeTree (``insight_reads``: a report inserted again, as a re-derived or
    re-run migration step does, is a read twice, which means nothing more) are compared
    as sets."""
    snapshot = {}
    engines = objects(client)
    for name, engine in sorted(engines.items()):
        if name in skip or name.removesuffix("_local") in skip or engine == "MaterializedView":
            continue
        final = " FINAL" if _COLLAPSING.search(engine) or _distributes_collapsing(
            engines, name, engine) else ""
        distinct = " DISTINCT" if name.removesuffix("_local") in SETS else ""
        rows = client.query(f"SELECT{distinct} * FROM {name}{final}").result_rows
        snapshot[name] = sorted(repr(row) for row in rows)
    return snapshot


def _distributes_collapsing(engines: dict[str, str], name: str, engine: str) -> bool:
    return engine == "Distributed" and bool(_COLLAPSING.search(engines.get(f"{name}_local", "")))


# --- a cluster in chDB ------------------------------------------------------------

CLUSTER_CONFIG = """<clickhouse>
  <!-- The port a shard's replica must have to count as this server (is_local), so
       Distributed tables read and write the local tables in process. Nothing listens. -->
  <tcp_port>9000</tcp_port>
  <remote_servers><{name}>{shards}</{name}></remote_servers>
  <macros><shard>01</shard><replica>r1</replica></macros>
</clickhouse>
"""
_SHARD = "<shard><replica><host>{host}</host><port>9000</port></replica></shard>"


def cluster_client(tmp_path: Path, name: str, *, shards: int = 1) -> Any:
    """A chDB client whose engine knows cluster ``name``: ``shards`` shards, each a
    replica on this server (localhost, 127.0.0.1: both local)."""
    hosts = ["localhost", "127.0.0.1"][:shards]
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "cluster.xml"
    config.write_text(CLUSTER_CONFIG.format(
        name=name, shards="".join(_SHARD.format(host=h) for h in hosts)))
    data = tmp_path / "cluster-data"
    data.mkdir(exist_ok=True)
    return clickhouse_connect.get_client(interface="chdb", path=str(data),
                                         chdb_options={"config-file": str(config)})


_ON_CLUSTER = re.compile(r" ON CLUSTER `(?:[^`\\]|\\.)*`")
_REPLICATED = re.compile(r"\bReplicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?")


def local_statement(sql: str) -> str:
    """What a one-server cluster's DDL worker would run here (see the module docstring)."""
    return _REPLICATED.sub(r"\1(", _ON_CLUSTER.sub("", sql))


class LocalCluster:
    """A client for the real runner: DDL goes through :func:`local_statement`; queries
    and inserts go to chDB unchanged."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.commands: list[str] = []

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.commands.append(sql)
        return self.client.command(local_statement(sql), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
