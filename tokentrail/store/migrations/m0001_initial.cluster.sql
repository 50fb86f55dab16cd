-- Migration 1: raw OpenTelemetry tables and llm_calls.
-- Frozen: the DDL `tokentrail schema --cluster NAME` printed at commit 123602f (release 0.1.0),
-- which the stores in the field were created with. Never edit this file; change the
-- schema with a new migration (see tokentrail/store/migrations/__init__.py).
-- `__CLUSTER__` stands for the cluster's quoted name.

CREATE TABLE IF NOT EXISTS otel_traces_local ON CLUSTER `__CLUSTER__`
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
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
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/otel_traces_local', '{replica}')
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp, TraceId, SpanId)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_traces ON CLUSTER `__CLUSTER__` AS otel_traces_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), otel_traces_local, cityHash64(TraceId));

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts_local ON CLUSTER `__CLUSTER__`
(
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/otel_traces_trace_id_ts_local', '{replica}')
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts ON CLUSTER `__CLUSTER__` AS otel_traces_trace_id_ts_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), otel_traces_trace_id_ts_local, cityHash64(TraceId));

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv ON CLUSTER `__CLUSTER__`
TO otel_traces_trace_id_ts_local
AS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM otel_traces_local
WHERE TraceId != ''
GROUP BY TraceId;

CREATE TABLE IF NOT EXISTS otel_logs_local ON CLUSTER `__CLUSTER__`
(
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
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/otel_logs_local', '{replica}')
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_logs ON CLUSTER `__CLUSTER__` AS otel_logs_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), otel_logs_local, rand());

CREATE TABLE IF NOT EXISTS otel_metrics_gauge_local ON CLUSTER `__CLUSTER__`
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/otel_metrics_gauge_local', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_metrics_gauge ON CLUSTER `__CLUSTER__` AS otel_metrics_gauge_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), otel_metrics_gauge_local, rand());

CREATE TABLE IF NOT EXISTS otel_metrics_sum_local ON CLUSTER `__CLUSTER__`
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/otel_metrics_sum_local', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_metrics_sum ON CLUSTER `__CLUSTER__` AS otel_metrics_sum_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), otel_metrics_sum_local, rand());

CREATE TABLE IF NOT EXISTS otel_metrics_histogram_local ON CLUSTER `__CLUSTER__`
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/otel_metrics_histogram_local', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_metrics_histogram ON CLUSTER `__CLUSTER__` AS otel_metrics_histogram_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), otel_metrics_histogram_local, rand());

CREATE TABLE IF NOT EXISTS llm_call_reports_local ON CLUSTER `__CLUSTER__`
(
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
    batch_custom_id String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/llm_call_reports_local', '{replica}', source_rank)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (call_id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS llm_call_reports ON CLUSTER `__CLUSTER__` AS llm_call_reports_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), llm_call_reports_local, cityHash64(call_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_from_traces_mv ON CLUSTER `__CLUSTER__`
TO llm_call_reports_local
AS SELECT
    Timestamp AS timestamp,
    if(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.id'], '']) != '', arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.id'], '']), concat(TraceId, ':', SpanId)) AS call_id,
    TraceId AS trace_id,
    SpanId AS span_id,
    ServiceName AS service_name,
    multiIf(
        mapContains(SpanAttributes, 'tokentrail.run.id') OR ScopeName = 'tokentrail', 'tokentrail',
        SpanName = 'claude_code.llm_request', 'claude-code-trace',
        ScopeName = 'com.anthropic.sdk.python', 'anthropic-sdk',
        mapContains(SpanAttributes, 'llm.token_count.prompt'), 'openinference',
        startsWith(ScopeName, 'opentelemetry.instrumentation.genai.anthropic'), 'otel-contrib',
        startsWith(ScopeName, 'opentelemetry.instrumentation.anthropic')
            OR mapContains(SpanAttributes, 'gen_ai.usage.cache_read_input_tokens')
            OR mapContains(SpanAttributes, 'gen_ai.usage.prompt_tokens'), 'openllmetry',
        'genai-semconv') AS source,
    transform(source, ['tokentrail', 'anthropic-sdk', 'otel-contrib', 'openllmetry', 'openinference', 'claude-code-event', 'claude-code-trace', 'claude-code-transcript', 'claude-code-metric', 'genai-semconv'], [90, 80, 70, 60, 50, 40, 30, 20, 15, 10], 0) AS source_rank,
    transform(source, ['tokentrail', 'anthropic-sdk', 'otel-contrib', 'openllmetry', 'openinference', 'claude-code-event', 'claude-code-trace', 'claude-code-transcript', 'claude-code-metric', 'genai-semconv'], [0, 0, 0, 0, 0, 4, 3, 2, 1, 0], 0) AS family_rank,
    arrayFirst(x -> x != '', [arrayFirst(x -> x != '', [SpanAttributes['tokentrail.run.id'], SpanAttributes['gen_ai.conversation.id'], SpanAttributes['session.id'], '']), TraceId]) AS run_id,
    SpanAttributes['tokentrail.run.name'] AS run_name,
    SpanAttributes['tokentrail.run.parent_id'] AS parent_run_id,
    toUInt32OrZero(SpanAttributes['tokentrail.turn']) AS turn,
    arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model'], SpanAttributes['llm.model_name'], SpanAttributes['model'], '']) AS model,
    toUInt64(greatest(0, if(SpanName = 'claude_code.llm_request', if(SpanName = 'claude_code.llm_request', toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['input_tokens'], ''])), toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.input_tokens'], SpanAttributes['gen_ai.usage.prompt_tokens'], SpanAttributes['llm.token_count.prompt'], '']))),
        if(SpanName = 'claude_code.llm_request', toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['input_tokens'], ''])), toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.input_tokens'], SpanAttributes['gen_ai.usage.prompt_tokens'], SpanAttributes['llm.token_count.prompt'], '']))) - toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.cache_read.input_tokens'], SpanAttributes['gen_ai.usage.cache_read_input_tokens'], SpanAttributes['llm.token_count.prompt_details.cache_read'], SpanAttributes['cache_read_tokens'], ''])) - toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.cache_creation.input_tokens'], SpanAttributes['gen_ai.usage.cache_write.input_tokens'], SpanAttributes['gen_ai.usage.cache_creation_input_tokens'], SpanAttributes['llm.token_count.prompt_details.cache_write'], SpanAttributes['cache_creation_tokens'], '']))))) AS input_tokens,
    toUInt64(greatest(0, toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.cache_read.input_tokens'], SpanAttributes['gen_ai.usage.cache_read_input_tokens'], SpanAttributes['llm.token_count.prompt_details.cache_read'], SpanAttributes['cache_read_tokens'], ''])))) AS cache_read_tokens,
    toUInt64(greatest(0, toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.cache_creation.input_tokens'], SpanAttributes['gen_ai.usage.cache_write.input_tokens'], SpanAttributes['gen_ai.usage.cache_creation_input_tokens'], SpanAttributes['llm.token_count.prompt_details.cache_write'], SpanAttributes['cache_creation_tokens'], ''])))) AS cache_write_tokens,
    toUInt64(greatest(0, toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.cache_creation.input_tokens'], SpanAttributes['gen_ai.usage.cache_write.input_tokens'], SpanAttributes['gen_ai.usage.cache_creation_input_tokens'], SpanAttributes['llm.token_count.prompt_details.cache_write'], SpanAttributes['cache_creation_tokens'], ''])) - toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['anthropic.usage.cache_creation.ephemeral_1h_input_tokens'], SpanAttributes['cache_creation_1h_tokens'], ''])))) AS cache_write_5m_tokens,
    toUInt64(greatest(0, toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['anthropic.usage.cache_creation.ephemeral_1h_input_tokens'], SpanAttributes['cache_creation_1h_tokens'], ''])))) AS cache_write_1h_tokens,
    toUInt64(greatest(0, toInt64OrZero(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.output_tokens'], SpanAttributes['gen_ai.usage.completion_tokens'], SpanAttributes['llm.token_count.completion'], SpanAttributes['output_tokens'], ''])))) AS output_tokens,
    arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.id'], '']) AS response_id,
    transform(if(startsWith(arrayFirst(x -> x != '', [SpanAttributes['anthropic.message.stop_reason'], SpanAttributes['gen_ai.response.finish_reasons'], SpanAttributes['llm.finish_reason'], SpanAttributes['stop_reason'], '']), '['), JSONExtractString(arrayFirst(x -> x != '', [SpanAttributes['anthropic.message.stop_reason'], SpanAttributes['gen_ai.response.finish_reasons'], SpanAttributes['llm.finish_reason'], SpanAttributes['stop_reason'], '']), 1), arrayFirst(x -> x != '', [SpanAttributes['anthropic.message.stop_reason'], SpanAttributes['gen_ai.response.finish_reasons'], SpanAttributes['llm.finish_reason'], SpanAttributes['stop_reason'], ''])),
        ['tool_call', 'stop', 'length'], ['tool_use', 'end_turn', 'max_tokens'])
        AS stop_reason,
    Duration / 1e6 AS duration_ms,
    SpanAttributes['tokentrail.batch'] = 'true' OR SpanAttributes['anthropic.usage.service_tier'] = 'batch'
        AS is_batch,
    toFloat64OrNull(nullIf(arrayFirst(x -> x != '', [SpanAttributes['cost_usd'], '']), '')) AS reported_cost_usd,
    SpanAttributes['tokentrail.prefix.tools_hash'] AS prefix_tools_hash,
    SpanAttributes['tokentrail.prefix.system_hash'] AS prefix_system_hash,
    SpanAttributes['tokentrail.prefix.params_hash'] AS prefix_params_hash,
    multiIf(SpanAttributes['tokentrail.prefix.message_hashes'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.prefix.message_hashes'], '['), JSONExtract(SpanAttributes['tokentrail.prefix.message_hashes'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.prefix.message_hashes'])) AS prefix_message_hashes,
    multiIf(SpanAttributes['tokentrail.prefix.block_hashes'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.prefix.block_hashes'], '['), JSONExtract(SpanAttributes['tokentrail.prefix.block_hashes'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.prefix.block_hashes'])) AS prefix_block_hashes,
    multiIf(SpanAttributes['tokentrail.prefix.block_tokens'] = '', CAST([], 'Array(UInt32)'), startsWith(SpanAttributes['tokentrail.prefix.block_tokens'], '['), JSONExtract(SpanAttributes['tokentrail.prefix.block_tokens'], 'Array(UInt32)'), arrayMap(x -> toUInt32OrZero(x), splitByChar(',', SpanAttributes['tokentrail.prefix.block_tokens']))) AS prefix_block_tokens,
    multiIf(SpanAttributes['tokentrail.cache.breakpoints'] = '', CAST([], 'Array(UInt32)'), startsWith(SpanAttributes['tokentrail.cache.breakpoints'], '['), JSONExtract(SpanAttributes['tokentrail.cache.breakpoints'], 'Array(UInt32)'), arrayMap(x -> toUInt32OrZero(x), splitByChar(',', SpanAttributes['tokentrail.cache.breakpoints']))) AS cache_breakpoints,
    multiIf(SpanAttributes['tokentrail.cache.ttls'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.cache.ttls'], '['), JSONExtract(SpanAttributes['tokentrail.cache.ttls'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.cache.ttls'])) AS cache_ttls,
    SpanAttributes['tokentrail.cache.miss_reason'] AS cache_miss_reason,
    toUInt64OrZero(SpanAttributes['tokentrail.cache.missed_input_tokens']) AS cache_missed_input_tokens,
    toUInt32OrZero(SpanAttributes['tokentrail.prefix.message_count']) AS prefix_message_count,
    toUInt32OrZero(SpanAttributes['tokentrail.prefix.block_count']) AS prefix_block_count,
    toUInt64OrZero(SpanAttributes['tokentrail.prefix.tokens']) AS prefix_tokens,
    multiIf(SpanAttributes['tokentrail.cache.breakpoint_tokens'] = '', CAST([], 'Array(UInt64)'), startsWith(SpanAttributes['tokentrail.cache.breakpoint_tokens'], '['), JSONExtract(SpanAttributes['tokentrail.cache.breakpoint_tokens'], 'Array(UInt64)'), arrayMap(x -> toUInt64OrZero(x), splitByChar(',', SpanAttributes['tokentrail.cache.breakpoint_tokens']))) AS cache_breakpoint_tokens,
    SpanAttributes['tokentrail.cache.automatic'] = 'true' AS cache_automatic,
    SpanAttributes['tokentrail.prefix.change.level'] AS prefix_change_level,
    multiIf(SpanAttributes['tokentrail.prefix.change.params'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.prefix.change.params'], '['), JSONExtract(SpanAttributes['tokentrail.prefix.change.params'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.prefix.change.params'])) AS prefix_change_params,
    toUInt32OrNull(SpanAttributes['tokentrail.prefix.change.message']) AS prefix_change_message,
    toUInt32OrNull(SpanAttributes['tokentrail.prefix.change.block']) AS prefix_change_block,
    toUInt32OrNull(SpanAttributes['tokentrail.prefix.change.char']) AS prefix_change_char,
    SpanAttributes['tokentrail.run.automatic'] = 'true' AS run_automatic,
    SpanAttributes['tokentrail.batch.id'] AS batch_id,
    SpanAttributes['tokentrail.batch.custom_id'] AS batch_custom_id
FROM otel_traces_local
WHERE (SpanName = 'claude_code.llm_request'
       OR lower(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.provider.name'], SpanAttributes['gen_ai.system'], SpanAttributes['llm.provider'], SpanAttributes['llm.system'], ''])) = 'anthropic'
       OR ScopeName = 'com.anthropic.sdk.python'
       OR startsWith(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model'], SpanAttributes['llm.model_name'], SpanAttributes['model'], '']), 'claude'))
  AND arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.input_tokens'], SpanAttributes['gen_ai.usage.prompt_tokens'], SpanAttributes['llm.token_count.prompt'], SpanAttributes['input_tokens'], '']) != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_from_logs_mv ON CLUSTER `__CLUSTER__`
TO llm_call_reports_local
AS SELECT
    Timestamp - toIntervalMillisecond(toInt64OrZero(LogAttributes['duration_ms'])) AS timestamp,
    concat(source, ':', LogAttributes['session.id'], ':', if(ScopeName = 'com.anthropic.claude_code.events' AND LogAttributes['event.name'] = 'api_request', LogAttributes['event.sequence'], arrayFirst(x -> x != '', [LogAttributes['request.ref'], LogAttributes['message.id'], '']))) AS call_id,
    TraceId AS trace_id,
    SpanId AS span_id,
    ServiceName AS service_name,
    if(ScopeName = 'com.anthropic.claude_code.events' AND LogAttributes['event.name'] = 'api_request', 'claude-code-event', 'claude-code-transcript') AS source,
    transform(source, ['tokentrail', 'anthropic-sdk', 'otel-contrib', 'openllmetry', 'openinference', 'claude-code-event', 'claude-code-trace', 'claude-code-transcript', 'claude-code-metric', 'genai-semconv'], [90, 80, 70, 60, 50, 40, 30, 20, 15, 10], 0) AS source_rank,
    transform(source, ['tokentrail', 'anthropic-sdk', 'otel-contrib', 'openllmetry', 'openinference', 'claude-code-event', 'claude-code-trace', 'claude-code-transcript', 'claude-code-metric', 'genai-semconv'], [0, 0, 0, 0, 0, 4, 3, 2, 1, 0], 0) AS family_rank,
    LogAttributes['session.id'] AS run_id,
    LogAttributes['prompt.id'] AS prompt_id,
    toUInt32OrZero(LogAttributes['tokentrail.turn']) AS turn,
    LogAttributes['model'] AS model,
    toUInt64(greatest(0, toInt64OrZero(LogAttributes['input_tokens']))) AS input_tokens,
    toUInt64(greatest(0, toInt64OrZero(LogAttributes['cache_read_tokens']))) AS cache_read_tokens,
    toUInt64(greatest(0, toInt64OrZero(LogAttributes['cache_creation_tokens']))) AS cache_write_tokens,
    toUInt64(greatest(0, if(mapContains(LogAttributes, 'cache_creation_5m_tokens'),
        toInt64OrZero(LogAttributes['cache_creation_5m_tokens']), toInt64OrZero(LogAttributes['cache_creation_tokens']) - toInt64OrZero(LogAttributes['cache_creation_1h_tokens']))))
        AS cache_write_5m_tokens,
    toUInt64(greatest(0, toInt64OrZero(LogAttributes['cache_creation_1h_tokens']))) AS cache_write_1h_tokens,
    toUInt64(greatest(0, toInt64OrZero(LogAttributes['output_tokens']))) AS output_tokens,
    LogAttributes['message.id'] AS response_id,
    LogAttributes['stop_reason'] AS stop_reason,
    toFloat64OrZero(LogAttributes['duration_ms']) AS duration_ms,
    toFloat64OrNull(nullIf(LogAttributes['cost_usd'], '')) AS reported_cost_usd
FROM otel_logs_local
WHERE (ScopeName = 'com.anthropic.claude_code.events' AND LogAttributes['event.name'] = 'api_request') OR (ScopeName = 'tokentrail.import.claude_code' AND Body = 'claude_code.transcript.assistant');

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_from_metrics_mv ON CLUSTER `__CLUSTER__`
TO llm_call_reports_local
AS SELECT
    min(StartTimeUnix) AS timestamp,
    concat(source, ':', run_id, ':', model, ':', Attributes['query_source'], ':',
           toString(toUnixTimestamp64Nano(TimeUnix))) AS call_id,
    any(ServiceName) AS service_name,
    'claude-code-metric' AS source,
    transform(source, ['tokentrail', 'anthropic-sdk', 'otel-contrib', 'openllmetry', 'openinference', 'claude-code-event', 'claude-code-trace', 'claude-code-transcript', 'claude-code-metric', 'genai-semconv'], [90, 80, 70, 60, 50, 40, 30, 20, 15, 10], 0) AS source_rank,
    transform(source, ['tokentrail', 'anthropic-sdk', 'otel-contrib', 'openllmetry', 'openinference', 'claude-code-event', 'claude-code-trace', 'claude-code-transcript', 'claude-code-metric', 'genai-semconv'], [0, 0, 0, 0, 0, 4, 3, 2, 1, 0], 0) AS family_rank,
    Attributes['session.id'] AS run_id,
    Attributes['model'] AS model,
    toUInt64(sumIf(Value, MetricName = 'claude_code.token.usage' AND Attributes['type'] = 'input')) AS input_tokens,
    toUInt64(sumIf(Value, MetricName = 'claude_code.token.usage' AND Attributes['type'] = 'cacheRead')) AS cache_read_tokens,
    toUInt64(sumIf(Value, MetricName = 'claude_code.token.usage' AND Attributes['type'] = 'cacheCreation')) AS cache_write_tokens,
    toUInt64(sumIf(Value, MetricName = 'claude_code.token.usage' AND Attributes['type'] = 'cacheCreation')) AS cache_write_5m_tokens,
    toUInt64(sumIf(Value, MetricName = 'claude_code.token.usage' AND Attributes['type'] = 'output')) AS output_tokens,
    sumIf(Value, MetricName = 'claude_code.cost.usage') AS reported_cost_usd
FROM otel_metrics_sum_local
WHERE ScopeName = 'com.anthropic.claude_code'
  AND MetricName IN ('claude_code.token.usage', 'claude_code.cost.usage')
  AND AggregationTemporality = 1
GROUP BY run_id, model, Attributes['query_source'], TimeUnix;

CREATE VIEW IF NOT EXISTS llm_calls ON CLUSTER `__CLUSTER__`
AS SELECT * EXCEPT (source_rank, family_rank)
FROM llm_call_reports FINAL
WHERE family_rank = 0
   OR (run_id, family_rank) IN (
        SELECT run_id, max(family_rank) FROM llm_call_reports
        WHERE family_rank > 0 GROUP BY run_id);
