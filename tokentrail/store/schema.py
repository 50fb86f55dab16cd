"""The store's schema as defined now: tables, materialized views and views.

These are the *live* definitions, which change as tokentrail grows. Stores are created
and upgraded only by the frozen migrations in :mod:`tokentrail.store.migrations`; a
change here reaches them through a new migration built from these objects (see that
package's docstring).

Raw tables are column-compatible with the OpenTelemetry Collector contrib
``clickhouseexporter`` (docs/facts.md §7; column names and types follow its
``internal/sqltemplates/*_table.sql``), so a stock Collector or Rotel fleet can write
into a schema created here. Everything tokentrail derives (``llm_call_reports``, the
``llm_calls`` view) is built from those tables by SQL.

Each table is described once (:class:`Table`) and rendered either for a single
server / chDB (``MergeTree`` family) or for a cluster (``Replicated*MergeTree``
local tables ``ON CLUSTER`` plus ``Distributed`` tables over them).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from tokentrail.analysis import cache_events_store, insights, insights_store
from tokentrail.analysis.pricing_sql import (
    disagreements_select,
    lookup_columns,
    priced_select,
    versions_select,
)
from tokentrail.store import run_rollup
from tokentrail.store.normalize import (
    logs_to_calls_select,
    metrics_to_calls_select,
    traces_to_calls_select,
)


@dataclass(frozen=True)
class Table:
    """A MergeTree-family table, renderable for one server or for a cluster."""

    name: str
    columns: str
    order_by: str
    engine: str = "MergeTree"
    engine_args: str = ""
    partition_by: str | None = None
    primary_key: str | None = None
    settings: str = "index_granularity = 8192"
    shard_key: str = "rand()"

    def ddl(self, cluster: str | None = None) -> list[str]:
        local = f"{self.name}_local" if cluster else self.name
        on_cluster = f" ON CLUSTER {quote_ident(cluster)}" if cluster else ""
        if cluster:
            zk_path = f"'/clickhouse/tables/{{shard}}/{{database}}/{local}', '{{replica}}'"
            args = f"{zk_path}, {self.engine_args}" if self.engine_args else zk_path
            engine = f"Replicated{self.engine}({args})"
        else:
            engine = f"{self.engine}({self.engine_args})"
        columns = textwrap.indent(textwrap.dedent(self.columns).strip(), "    ")
        parts = [f"CREATE TABLE IF NOT EXISTS {local}{on_cluster}\n(\n{columns}\n)"]
        parts.append(f"ENGINE = {engine}")
        if self.partition_by:
            parts.append(f"PARTITION BY {self.partition_by}")
        if self.primary_key:
            parts.append(f"PRIMARY KEY {self.primary_key}")
        parts.append(f"ORDER BY {self.order_by}")
        if self.settings:
            parts.append(f"SETTINGS {self.settings}")
        statements = ["\n".join(parts)]
        if cluster:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {self.name}{on_cluster} AS {local}\n"
                f"ENGINE = Distributed({quote_ident(cluster)}, currentDatabase(), "
                f"{local}, {self.shard_key})"
            )
        return statements

    def column_definitions(self, names: Sequence[str]) -> list[str]:
        """The definitions (``name Type [DEFAULT …] [CODEC(…)]``) of some columns."""
        definitions = {}
        for item in _split_top_level(textwrap.dedent(self.columns)):
            words = item.split(None, 1)
            if words and words[0].upper() not in ("INDEX", "PROJECTION", "CONSTRAINT"):
                definitions[words[0].strip("`")] = " ".join(item.split())
        missing = [n for n in names if n not in definitions]
        if missing:
            raise KeyError(f"{self.name} has no column(s) {missing}")
        return [definitions[n] for n in names]


def _split_top_level(text: str) -> list[str]:
    """Split a column list at the commas outside parentheses."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return [item for item in items if item]


@dataclass(frozen=True)
class MaterializedView:
    """A view that copies rows from ``source`` into ``target`` on every insert.

    On a cluster it is attached to the *local* tables, so it fires on the shard
    that stores the raw rows.
    """

    name: str
    target: str
    select: str  # may reference the source table as {source}
    source: str

    def query(self, cluster: str | None = None) -> str:
        """The SELECT, reading the local source table on a cluster."""
        suffix = "_local" if cluster else ""
        return self.select.replace("{" + self.source + "}", self.source + suffix).strip()

    def ddl(self, cluster: str | None = None) -> list[str]:
        suffix = "_local" if cluster else ""
        on_cluster = f" ON CLUSTER {quote_ident(cluster)}" if cluster else ""
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.name}{on_cluster}\n"
            f"TO {self.target}{suffix}\nAS {self.query(cluster)}"
        ]


@dataclass(frozen=True)
class View:
    """A plain view; on a cluster it reads the Distributed table of the same name."""

    name: str
    select: str

    def ddl(self, cluster: str | None = None) -> list[str]:
        on_cluster = f" ON CLUSTER {quote_ident(cluster)}" if cluster else ""
        return [f"CREATE VIEW IF NOT EXISTS {self.name}{on_cluster}\nAS {self.select.strip()}"]


def quote_ident(name: str) -> str:
    """Backquote an identifier (cluster names come from the command line)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


_ATTR_MAP = "Map(LowCardinality(String), String) CODEC(ZSTD(1))"

OTEL_TRACES = Table(
    name="otel_traces",
    columns=f"""
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {_ATTR_MAP},
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes {_ATTR_MAP},
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1""",
    # The exporter's key plus (TraceId, SpanId), under ReplacingMergeTree: a span that
    # arrives twice (an exporter retrying a request whose 200 was lost to a crash)
    # collapses on merge, and reads with FINAL are exact before that. The engine is
    # not part of column compatibility; the stock exporter inserts here unchanged.
    engine="ReplacingMergeTree",
    partition_by="toDate(Timestamp)",
    primary_key="(ServiceName, SpanName, toDateTime(Timestamp))",
    order_by="(ServiceName, SpanName, toDateTime(Timestamp), Timestamp, TraceId, SpanId)",
    shard_key="cityHash64(TraceId)",
)

OTEL_TRACES_TRACE_ID_TS = Table(
    name="otel_traces_trace_id_ts",
    columns="""
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))""",
    engine="AggregatingMergeTree",
    partition_by="toStartOfWeek(Start)",
    order_by="(TraceId)",
    shard_key="cityHash64(TraceId)",
)

OTEL_TRACES_TRACE_ID_TS_MV = MaterializedView(
    name="otel_traces_trace_id_ts_mv",
    target="otel_traces_trace_id_ts",
    source="otel_traces",
    select="""
SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM {otel_traces}
WHERE TraceId != ''
GROUP BY TraceId""",
)

OTEL_LOGS = Table(
    name="otel_logs",
    columns=f"""
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {_ATTR_MAP},
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes {_ATTR_MAP},
    LogAttributes {_ATTR_MAP},
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1""",
    partition_by="toDate(TimestampTime)",
    primary_key="(ServiceName, TimestampTime)",
    order_by="(ServiceName, TimestampTime, Timestamp)",
)

_METRIC_COMMON = f"""
    ResourceAttributes {_ATTR_MAP},
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {_ATTR_MAP},
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {_ATTR_MAP},
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),"""

_EXEMPLARS = """
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1))"""


def _metric_table(name: str, specific: str) -> Table:
    return Table(
        name=name,
        columns=_METRIC_COMMON + specific,
        partition_by="toDate(TimeUnix)",
        order_by="(ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))",
    )


OTEL_METRICS_GAUGE = _metric_table(
    "otel_metrics_gauge",
    f"""
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),{_EXEMPLARS}""",
)
OTEL_METRICS_SUM = _metric_table(
    "otel_metrics_sum",
    f"""
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),{_EXEMPLARS},
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1))""",
)
OTEL_METRICS_HISTOGRAM = _metric_table(
    "otel_metrics_histogram",
    f"""
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),{_EXEMPLARS},
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1))""",
)

# One row per *report* of an API call; several signals or instrumentations may
# report the same call. ReplacingMergeTree keyed by call_id keeps the report of the
# highest source_rank; the llm_calls view reads it with FINAL, so readers always
# see one row per call, merged or not.
LLM_CALL_REPORTS = Table(
    name="llm_call_reports",
    columns="""
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    call_id String,
    trace_id String,
    span_id String,
    service_name LowCardinality(String),
    source LowCardinality(String),
    source_rank UInt8,
    family_rank UInt8,
    run_id String,
    prompt_id String,
    run_name String,
    parent_run_id String,
    turn UInt32,
    model LowCardinality(String),
    input_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cache_write_5m_tokens UInt64,
    cache_write_1h_tokens UInt64,
    output_tokens UInt64,
    response_id String,
    stop_reason LowCardinality(String),
    duration_ms Float64,
    is_batch Bool,
    reported_cost_usd Nullable(Float64),
    prefix_tools_hash String,
    prefix_system_hash String,
    prefix_params_hash String,
    prefix_message_hashes Array(String),
    prefix_block_hashes Array(String),
    prefix_block_tokens Array(UInt32),
    cache_breakpoints Array(UInt32),
    cache_ttls Array(LowCardinality(String)),
    cache_miss_reason LowCardinality(String),
    cache_missed_input_tokens UInt64,
    prefix_message_count UInt32,
    prefix_block_count UInt32,
    prefix_tokens UInt64,
    cache_breakpoint_tokens Array(UInt64),
    cache_automatic Bool,
    prefix_change_level LowCardinality(String),
    prefix_change_params Array(String),
    prefix_change_message Nullable(UInt32),
    prefix_change_block Nullable(UInt32),
    prefix_change_char Nullable(UInt32),
    run_automatic Bool,
    batch_id String,
    batch_custom_id String,
    betas Array(LowCardinality(String)),
    speed LowCardinality(String),
    inference_geo LowCardinality(String),
    web_search_requests UInt32,
    web_fetch_requests UInt32,
    prefix_change_hint LowCardinality(String),
    prefix_large_blocks Array(Tuple(hash String, position UInt32, tokens UInt32)),
    """ + cache_events_store.projection_definition(),
    engine="ReplacingMergeTree",
    engine_args="source_rank",
    partition_by="toYYYYMM(timestamp)",
    order_by="(call_id)",
    # The projection is rebuilt when a merge collapses reports (ReplacingMergeTree
    # refuses projections otherwise); see analysis/cache_events_store.py.
    settings="index_granularity = 8192, deduplicate_merge_projection_mode = 'rebuild'",
    shard_key="cityHash64(call_id)",
)

LLM_CALLS_FROM_TRACES_MV = MaterializedView(
    name="llm_calls_from_traces_mv",
    target="llm_call_reports",
    source="otel_traces",
    select=traces_to_calls_select(),
)

LLM_CALLS_FROM_LOGS_MV = MaterializedView(
    name="llm_calls_from_logs_mv",
    target="llm_call_reports",
    source="otel_logs",
    select=logs_to_calls_select(),
)

LLM_CALLS_FROM_METRICS_MV = MaterializedView(
    name="llm_calls_from_metrics_mv",
    target="llm_call_reports",
    source="otel_metrics_sum",
    select=metrics_to_calls_select(),
)

# The price table (tokentrail/analysis/prices.csv plus the user's overrides, loaded by
# tokentrail.analysis.prices.sync): one row per family, tier and price version, USD per
# million tokens; each sync writes a new load_id and readers use the latest.
MODEL_PRICES = Table(
    name="model_prices",
    columns="""
    load_id UInt64,
    digest String,
    family LowCardinality(String),
    aliases Array(String),
    effective_from Date,
    tier UInt8,
    tier_above_input_tokens UInt64,
    tier_beta String,
    input_usd_per_mtok Float64,
    cache_write_5m_usd_per_mtok Float64,
    cache_write_1h_usd_per_mtok Float64,
    cache_read_usd_per_mtok Float64,
    output_usd_per_mtok Float64,
    batch_multiplier Float64,
    fast_multiplier Nullable(Float64),
    inference_geo_us_multiplier Nullable(Float64),
    web_search_per_1k Float64,
    web_fetch_per_1k Float64,
    status LowCardinality(String),
    source String,
    origin String""",
    order_by="(load_id, family, effective_from, tier)",
    settings="",
)

# One row per model id (family or alias) and price version, tiers side by side, USD
# per token (readable; the lookup below is built from it).
MODEL_PRICE_VERSIONS = View(name="model_price_versions", select=versions_select())

# The lookup the cost columns of llm_calls read, once per query: per load, the price
# versions as parallel arrays and the final rates of every (version, mode, tier) slot
# (written by the sync right after the load; tokentrail/analysis/pricing_sql.py).
MODEL_PRICE_SLOTS = Table(
    name="model_price_slots",
    columns=lookup_columns(),
    order_by="(load_id)",
    settings="",
)

# One row per call: FINAL collapses reports of the same call_id to the richest, and
# the family rule (see normalize.FAMILY_RANKS) keeps one Claude Code family per run.
# The cost columns price each call from model_price_versions (tokentrail/analysis/
# pricing_sql.py; docs/facts.md §2).
LLM_CALLS = View(
    name="llm_calls",
    select=priced_select("""
SELECT * EXCEPT (source_rank, family_rank)
FROM llm_call_reports FINAL
WHERE family_rank = 0
   OR (run_id, family_rank) GLOBAL IN (
        SELECT run_id, max(family_rank) FROM llm_call_reports
        WHERE family_rank > 0 GROUP BY run_id)"""),
)

# Calls whose source reported a cost (Claude Code) that tokentrail's differs from by
# more than $0.000001, with both numbers: how a stale price table is noticed.
COST_DISAGREEMENTS = View(name="cost_disagreements", select=disagreements_select())

# Cache events (tokentrail/analysis/cache_events*.py): when each run last received rows
# (filled by every ingest path), how far serve judged each run (and at which price
# load: migration 10), the events it stored,
# and the view that is complete whatever ran (stored events of runs judged since their
# last rows, the others judged on read).
CACHE_RUN_INSERTS = Table(
    name=cache_events_store.RUN_INSERTS,
    columns="""
    run_id String,
    last_insert SimpleAggregateFunction(max, DateTime64(3))""",
    engine="AggregatingMergeTree",
    order_by="(run_id)",
    settings="",
    shard_key="cityHash64(run_id)",
)

CACHE_RUN_INSERTS_MV = MaterializedView(
    name="cache_run_inserts_mv",
    target=cache_events_store.RUN_INSERTS,
    source="llm_call_reports",
    select=cache_events_store.run_inserts_select(),
)

CACHE_EVENT_RUNS = Table(
    name=cache_events_store.RUN_STATE,
    columns="""
    run_id String,
    analysed_through DateTime64(3),
    version UInt64,
    price_load UInt64""",
    engine="ReplacingMergeTree",
    engine_args="version",
    order_by="(run_id)",
    settings="",
    shard_key="cityHash64(run_id)",
)

CACHE_EVENTS_STORED = Table(
    name=cache_events_store.STORED,
    columns=cache_events_store.stored_columns_ddl(),
    engine="ReplacingMergeTree",
    engine_args="version, is_deleted",
    partition_by="toYYYYMM(timestamp)",
    order_by="(run_id, call_id)",
    settings="",
    shard_key="cityHash64(run_id)",
)

CACHE_EVENTS = View(name=cache_events_store.VIEW, select=cache_events_store.view_select())

# The web UI's run rollup (tokentrail/store/run_rollup.py): per run, day, service, model
# and source, the sums the runs and fleet pages read, kept by serve; and how far serve
# rolled up each run, at which prices. Readers compute the runs not current on read.
RUN_ROLLUP = Table(
    name=run_rollup.TABLE,
    columns=run_rollup.columns_ddl(),
    engine="ReplacingMergeTree",
    engine_args="version, is_deleted",
    partition_by="toYYYYMM(day)",
    order_by="(run_id, day, service_name, model, source)",
    settings="",
    shard_key="cityHash64(run_id)",
)

RUN_ROLLUP_RUNS = Table(
    name=run_rollup.RUN_STATE,
    columns=run_rollup.state_columns_ddl(),
    engine="ReplacingMergeTree",
    engine_args="version",
    order_by="(run_id)",
    settings="",
    shard_key="cityHash64(run_id)",
)

# Insights (tokentrail/analysis/insights*.py): every call that read the cache (filled by
# every ingest path), the facts serve judges per run and day, how far it judged each run,
# and the findings of the last 30 days from those facts, the runs not judged yet judged
# on read, so always current and complete (insights_store.py).
INSIGHT_READS = Table(
    name=insights_store.READS,
    columns="""
    service_name LowCardinality(String),
    model LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1))""",
    partition_by="toYYYYMM(timestamp)",
    order_by="(service_name, model, timestamp)",
    settings="",
    shard_key="cityHash64(service_name, model)",
)

INSIGHT_READS_MV = MaterializedView(
    name=insights_store.READS_MV,
    target=insights_store.READS,
    source="llm_call_reports",
    select=insights_store.reads_select(),
)

INSIGHT_RUNS = Table(
    name=insights_store.RUN_STATE,
    columns="""
    run_id String,
    analysed_through DateTime64(3),
    version UInt64,
    price_load UInt64""",
    engine="ReplacingMergeTree",
    engine_args="version",
    order_by="(run_id)",
    settings="",
    shard_key="cityHash64(run_id)",
)

INSIGHT_FACTS = Table(
    name=insights_store.STORED,
    columns=insights_store.stored_columns_ddl(),
    engine="ReplacingMergeTree",
    engine_args="version, is_deleted",
    partition_by="toYYYYMM(day)",
    order_by="(run_id, service_name, model, day)",
    settings="",
    shard_key="cityHash64(run_id)",
)

INSIGHTS = View(name=insights.VIEW, select=insights.view_select())

# The schema as it is defined now, in creation order. The migrations
# (tokentrail/store/migrations) must produce exactly this; tests/store/test_schema.py
# compares a migrated store with one created from these definitions, so a change here
# (or in normalize.py) without a new migration fails there. Add new objects here too.
LIVE_OBJECTS: tuple[Table | MaterializedView | View, ...] = (
    OTEL_TRACES,
    OTEL_TRACES_TRACE_ID_TS,
    OTEL_TRACES_TRACE_ID_TS_MV,
    OTEL_LOGS,
    OTEL_METRICS_GAUGE,
    OTEL_METRICS_SUM,
    OTEL_METRICS_HISTOGRAM,
    LLM_CALL_REPORTS,
    LLM_CALLS_FROM_TRACES_MV,
    LLM_CALLS_FROM_LOGS_MV,
    LLM_CALLS_FROM_METRICS_MV,
    MODEL_PRICES,
    MODEL_PRICE_VERSIONS,
    MODEL_PRICE_SLOTS,
    LLM_CALLS,
    COST_DISAGREEMENTS,
    CACHE_RUN_INSERTS,
    CACHE_RUN_INSERTS_MV,
    CACHE_EVENT_RUNS,
    CACHE_EVENTS_STORED,
    CACHE_EVENTS,
    RUN_ROLLUP,
    RUN_ROLLUP_RUNS,
    INSIGHT_READS,
    INSIGHT_READS_MV,
    INSIGHT_RUNS,
    INSIGHT_FACTS,
    INSIGHTS,
)


def live_statements(cluster: str | None = None) -> list[str]:
    """DDL creating :data:`LIVE_OBJECTS` from scratch (for tests and ``freeze``; stores
    are created and upgraded by the migrations, never by this)."""
    return [sql for obj in LIVE_OBJECTS for sql in obj.ddl(cluster)]
