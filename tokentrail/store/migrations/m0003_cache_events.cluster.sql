-- Migration 3: why the cache missed: cache_events, the run-ordered projection and the change hint.
-- Frozen by `python -m tokentrail.store.migrations freeze m0003_cache_events` from the live
-- definitions. Never edit: change the schema with a new migration.
-- `__CLUSTER__` stands for the cluster's quoted name.

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__`
    ADD COLUMN IF NOT EXISTS prefix_change_hint LowCardinality(String);

ALTER TABLE llm_call_reports ON CLUSTER `__CLUSTER__`
    ADD COLUMN IF NOT EXISTS prefix_change_hint LowCardinality(String);

ALTER TABLE llm_calls_from_traces_mv ON CLUSTER `__CLUSTER__`
MODIFY QUERY SELECT
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
    SpanAttributes['tokentrail.prefix.change.hint'] AS prefix_change_hint,
    SpanAttributes['tokentrail.run.automatic'] = 'true' AS run_automatic,
    SpanAttributes['tokentrail.batch.id'] AS batch_id,
    SpanAttributes['tokentrail.batch.custom_id'] AS batch_custom_id,
    arrayFilter(x -> x != '', arrayMap(x -> trimBoth(x), multiIf(SpanAttributes['tokentrail.request.betas'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.request.betas'], '['), JSONExtract(SpanAttributes['tokentrail.request.betas'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.request.betas']))))
        AS betas,
    lower(SpanAttributes['tokentrail.request.speed']) AS speed,
    lower(SpanAttributes['tokentrail.request.inference_geo']) AS inference_geo,
    toUInt32OrZero(SpanAttributes['tokentrail.usage.web_search_requests']) AS web_search_requests,
    toUInt32OrZero(SpanAttributes['tokentrail.usage.web_fetch_requests']) AS web_fetch_requests
FROM otel_traces_local
WHERE (SpanName = 'claude_code.llm_request'
       OR lower(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.provider.name'], SpanAttributes['gen_ai.system'], SpanAttributes['llm.provider'], SpanAttributes['llm.system'], ''])) = 'anthropic'
       OR ScopeName = 'com.anthropic.sdk.python'
       OR startsWith(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model'], SpanAttributes['llm.model_name'], SpanAttributes['model'], '']), 'claude'))
  AND arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.input_tokens'], SpanAttributes['gen_ai.usage.prompt_tokens'], SpanAttributes['llm.token_count.prompt'], SpanAttributes['input_tokens'], '']) != '';

CREATE OR REPLACE VIEW llm_calls ON CLUSTER `__CLUSTER__`
AS WITH (SELECT argMax(tuple(model_key, effective_from, family, input_usd, cache_write_5m_usd, cache_write_1h_usd, cache_read_usd, output_usd, tier_above, tier_beta, tier_input_usd, tier_cache_write_5m_usd, tier_cache_write_1h_usd, tier_cache_read_usd, tier_output_usd, batch, fast, geo_us, web_search, web_fetch, latest_keys, latest_index), load_id) FROM model_price_lookup) AS _price_all
SELECT * EXCEPT (_price_upper, _price_multiplier, _price_fees, _price_rate_input, _price_rate_cache_write_5m, _price_rate_cache_write_1h, _price_rate_cache_read, _price_rate_output),
    _price_rate_input + nullIf(isNaN(_price_rate_input), 1) AS rate_input_usd,
    _price_rate_cache_read + nullIf(isNaN(_price_rate_cache_read), 1) AS rate_cache_read_usd,
    _price_rate_cache_write_5m + nullIf(isNaN(_price_rate_cache_write_5m), 1) AS rate_cache_write_5m_usd,
    _price_rate_cache_write_1h + nullIf(isNaN(_price_rate_cache_write_1h), 1) AS rate_cache_write_1h_usd,
    _price_rate_output + nullIf(isNaN(_price_rate_output), 1) AS rate_output_usd,
    input_tokens * rate_input_usd AS cost_input_usd,
    cache_read_tokens * rate_cache_read_usd AS cost_cache_read_usd,
    cache_write_5m_tokens * rate_cache_write_5m_usd AS cost_cache_write_5m_usd,
    cache_write_1h_tokens * rate_cache_write_1h_usd AS cost_cache_write_1h_usd,
    output_tokens * rate_output_usd AS cost_output_usd,
    _price_fees + nullIf(isNaN(_price_fees), 1) AS cost_server_tools_usd,
    cost_input_usd + cost_cache_read_usd + cost_cache_write_5m_usd + cost_cache_write_1h_usd + cost_output_usd + cost_server_tools_usd AS cost_usd,
    (input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) * rate_input_usd + cost_output_usd + cost_server_tools_usd AS cost_uncached_usd
FROM (
    SELECT * EXCEPT (_price_latest, _price_index, _price_tier_above, _price_tier_beta, _price_batch, _price_fast, _price_geo_us, _price_web_search, _price_web_fetch, _price_input_usd, _price_cache_write_5m_usd, _price_cache_write_1h_usd, _price_cache_read_usd, _price_output_usd, _price_tier_input_usd, _price_tier_cache_write_5m_usd, _price_tier_cache_write_1h_usd, _price_tier_cache_read_usd, _price_tier_output_usd),
        (_price_upper * _price_tier_input_usd + (1 - _price_upper) * _price_input_usd) * _price_multiplier AS _price_rate_input,
        (_price_upper * _price_tier_cache_write_5m_usd + (1 - _price_upper) * _price_cache_write_5m_usd) * _price_multiplier AS _price_rate_cache_write_5m,
        (_price_upper * _price_tier_cache_write_1h_usd + (1 - _price_upper) * _price_cache_write_1h_usd) * _price_multiplier AS _price_rate_cache_write_1h,
        (_price_upper * _price_tier_cache_read_usd + (1 - _price_upper) * _price_cache_read_usd) * _price_multiplier AS _price_rate_cache_read,
        (_price_upper * _price_tier_output_usd + (1 - _price_upper) * _price_output_usd) * _price_multiplier AS _price_rate_output,
        (web_search_requests * _price_web_search + web_fetch_requests * _price_web_fetch) * (_price_multiplier / _price_multiplier) AS _price_fees
    FROM (
        SELECT *,
            (_price_tier_above > 0) * ((input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) > _price_tier_above) * ((_price_tier_beta = '') + has(betas, _price_tier_beta) > 0) AS _price_upper,
            ((_price_index > 0) / (_price_index > 0)) * (is_batch * _price_batch + (1 - is_batch)) * ((speed IN ('', 'standard')) + (speed = 'fast' AND _price_fast > 0) * _price_fast) / ((speed IN ('', 'standard')) + (speed = 'fast' AND _price_fast > 0)) * ((inference_geo IN ('', 'global')) + (inference_geo = 'us' AND _price_geo_us > 0) * _price_geo_us) / ((inference_geo IN ('', 'global')) + (inference_geo = 'us' AND _price_geo_us > 0)) AS _price_multiplier
        FROM (
            SELECT *,
                arrayElement(_price_all.3, _price_latest) AS price_model,
                arrayElement(_price_all.9, _price_index) AS _price_tier_above,
                arrayElement(_price_all.10, _price_index) AS _price_tier_beta,
                arrayElement(_price_all.16, _price_index) AS _price_batch,
                arrayElement(_price_all.17, _price_index) AS _price_fast,
                arrayElement(_price_all.18, _price_index) AS _price_geo_us,
                arrayElement(_price_all.19, _price_index) AS _price_web_search,
                arrayElement(_price_all.20, _price_index) AS _price_web_fetch,
                arrayElement(_price_all.4, _price_index) AS _price_input_usd,
                arrayElement(_price_all.5, _price_index) AS _price_cache_write_5m_usd,
                arrayElement(_price_all.6, _price_index) AS _price_cache_write_1h_usd,
                arrayElement(_price_all.7, _price_index) AS _price_cache_read_usd,
                arrayElement(_price_all.8, _price_index) AS _price_output_usd,
                arrayElement(_price_all.11, _price_index) AS _price_tier_input_usd,
                arrayElement(_price_all.12, _price_index) AS _price_tier_cache_write_5m_usd,
                arrayElement(_price_all.13, _price_index) AS _price_tier_cache_write_1h_usd,
                arrayElement(_price_all.14, _price_index) AS _price_tier_cache_read_usd,
                arrayElement(_price_all.15, _price_index) AS _price_tier_output_usd
            FROM (
                WITH cityHash64(replaceRegexpAll(replaceRegexpOne(replaceRegexpOne(lower(trimBoth(model)), '^(?:.*/)?(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\\.)?(?:anthropic\\.)?', ''), '(?:-(?:[0-9]{8}|latest))?(?:-v[0-9]+(?::[0-9]+)?)?(?:@[0-9a-z._-]+)?(?:\\[[^]]*\\])?$', ''), '([0-9])\\.([0-9])', '\\1-\\2')) AS _price_key,
                     toDate(timestamp) AS _price_day
                SELECT *,
                    transform(_price_key, _price_all.21, _price_all.22, toUInt32(0)) AS _price_latest,
                    toLowCardinality(if(_price_day >= arrayElement(_price_all.2, _price_latest),
                                    _price_latest,
                                    toUInt32(arrayLastIndex((k, f) -> k = _price_key AND f <= _price_day,
                                                            _price_all.1, _price_all.2)))) AS _price_index
                FROM (
                    SELECT * EXCEPT (source_rank, family_rank)
                    FROM llm_call_reports FINAL
                    WHERE family_rank = 0
                       OR (run_id, family_rank) IN (
                            SELECT run_id, max(family_rank) FROM llm_call_reports
                            WHERE family_rank > 0 GROUP BY run_id)
                )
            )
        )
    )
);

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__` MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__` ADD PROJECTION IF NOT EXISTS calls_by_run (SELECT run_id, timestamp, call_id, source_rank, family_rank, service_name, source, turn, model, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, duration_ms, is_batch, reported_cost_usd, prefix_tools_hash, prefix_system_hash, prefix_params_hash, prefix_message_hashes, prefix_message_count, prefix_block_count, prefix_block_tokens, prefix_tokens, cache_breakpoints, cache_ttls, cache_automatic, prefix_change_level, prefix_change_params, prefix_change_message, prefix_change_block, prefix_change_char, prefix_change_hint, cache_miss_reason, cache_missed_input_tokens, betas, speed, inference_geo, web_search_requests, web_fetch_requests ORDER BY run_id, timestamp);

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__` MATERIALIZE PROJECTION calls_by_run SETTINGS mutations_sync = 2;

CREATE TABLE IF NOT EXISTS cache_run_inserts_local ON CLUSTER `__CLUSTER__`
(
    run_id String,
    last_insert SimpleAggregateFunction(max, DateTime64(3))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/cache_run_inserts_local', '{replica}')
ORDER BY (run_id);

CREATE TABLE IF NOT EXISTS cache_run_inserts ON CLUSTER `__CLUSTER__` AS cache_run_inserts_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), cache_run_inserts_local, cityHash64(run_id));

CREATE TABLE IF NOT EXISTS cache_event_runs_local ON CLUSTER `__CLUSTER__`
(
    run_id String,
    analysed_through DateTime64(3),
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/cache_event_runs_local', '{replica}', version)
ORDER BY (run_id);

CREATE TABLE IF NOT EXISTS cache_event_runs ON CLUSTER `__CLUSTER__` AS cache_event_runs_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), cache_event_runs_local, cityHash64(run_id));

CREATE TABLE IF NOT EXISTS cache_events_stored_local ON CLUSTER `__CLUSTER__`
(
    run_id String,
    call_id String,
    turn UInt32,
    timestamp DateTime64(9),
    model LowCardinality(String),
    service_name LowCardinality(String),
    cause LowCardinality(String),
    evidence LowCardinality(String),
    changed_message Nullable(UInt32),
    changed_block Nullable(UInt32),
    changed_char Nullable(UInt32),
    changed_params Array(String),
    gap_seconds Nullable(Float64),
    missed_tokens UInt64,
    extra_cost_usd Nullable(Float64),
    detail String,
    version UInt64,
    is_deleted UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/cache_events_stored_local', '{replica}', version, is_deleted)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (run_id, call_id);

CREATE TABLE IF NOT EXISTS cache_events_stored ON CLUSTER `__CLUSTER__` AS cache_events_stored_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), cache_events_stored_local, cityHash64(run_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS cache_run_inserts_mv ON CLUSTER `__CLUSTER__`
TO cache_run_inserts_local
AS SELECT run_id, max(now64(3)) AS last_insert
FROM llm_call_reports_local
GROUP BY run_id;

INSERT INTO cache_run_inserts (run_id, last_insert)
SELECT run_id, last_insert
FROM (
SELECT run_id, now64(3) AS last_insert FROM llm_call_reports GROUP BY run_id
)
WHERE (run_id) GLOBAL NOT IN (SELECT run_id FROM cache_run_inserts);

CREATE VIEW IF NOT EXISTS cache_events ON CLUSTER `__CLUSTER__`
AS SELECT run_id, call_id, turn, timestamp, model, service_name, cause, evidence, changed_message, changed_block, changed_char, changed_params, gap_seconds, missed_tokens, extra_cost_usd, detail
FROM cache_events_stored FINAL
WHERE run_id GLOBAL NOT IN (SELECT run_id FROM (
SELECT run_id, maxIf(at, kind = 0) AS last_insert
FROM (
    SELECT run_id, last_insert AS at, 0 AS kind FROM cache_run_inserts
    UNION ALL
    SELECT run_id, analysed_through AS at, 1 AS kind FROM cache_event_runs
)
GROUP BY run_id
HAVING maxIf(at, kind = 0) > maxIf(at, kind = 1)))
UNION ALL
SELECT run_id, call_id, turn, timestamp, model, service_name, cause, evidence, changed_message, changed_block, changed_char, changed_params, gap_seconds, missed_tokens, extra_cost_usd, detail
FROM (SELECT run_id, call_id, turn, timestamp, model, service_name, cause, evidence, changed_message, changed_block, changed_char, changed_params, gap_seconds, missed_tokens, missed_1h * (rate_cache_write_1h_usd - rate_cache_read_usd) + missed_5m * (rate_cache_write_5m_usd - rate_cache_read_usd) + missed_input * (rate_input_usd - rate_cache_read_usd) AS extra_cost_usd, detail
FROM (

WITH (SELECT argMax(tuple(model_key, effective_from, family, input_usd, cache_write_5m_usd, cache_write_1h_usd, cache_read_usd, output_usd, tier_above, tier_beta, tier_input_usd, tier_cache_write_5m_usd, tier_cache_write_1h_usd, tier_cache_read_usd, tier_output_usd, batch, fast, geo_us, web_search, web_fetch, latest_keys, latest_index), load_id) FROM model_price_lookup) AS _price_all
SELECT * EXCEPT (_price_upper, _price_multiplier, _price_fees, _price_rate_input, _price_rate_cache_write_5m, _price_rate_cache_write_1h, _price_rate_cache_read, _price_rate_output),
    _price_rate_input + nullIf(isNaN(_price_rate_input), 1) AS rate_input_usd,
    _price_rate_cache_read + nullIf(isNaN(_price_rate_cache_read), 1) AS rate_cache_read_usd,
    _price_rate_cache_write_5m + nullIf(isNaN(_price_rate_cache_write_5m), 1) AS rate_cache_write_5m_usd,
    _price_rate_cache_write_1h + nullIf(isNaN(_price_rate_cache_write_1h), 1) AS rate_cache_write_1h_usd,
    _price_rate_output + nullIf(isNaN(_price_rate_output), 1) AS rate_output_usd,
    input_tokens * rate_input_usd AS cost_input_usd,
    cache_read_tokens * rate_cache_read_usd AS cost_cache_read_usd,
    cache_write_5m_tokens * rate_cache_write_5m_usd AS cost_cache_write_5m_usd,
    cache_write_1h_tokens * rate_cache_write_1h_usd AS cost_cache_write_1h_usd,
    output_tokens * rate_output_usd AS cost_output_usd,
    _price_fees + nullIf(isNaN(_price_fees), 1) AS cost_server_tools_usd,
    cost_input_usd + cost_cache_read_usd + cost_cache_write_5m_usd + cost_cache_write_1h_usd + cost_output_usd + cost_server_tools_usd AS cost_usd,
    (input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) * rate_input_usd + cost_output_usd + cost_server_tools_usd AS cost_uncached_usd
FROM (
    SELECT * EXCEPT (_price_latest, _price_index, _price_tier_above, _price_tier_beta, _price_batch, _price_fast, _price_geo_us, _price_web_search, _price_web_fetch, _price_input_usd, _price_cache_write_5m_usd, _price_cache_write_1h_usd, _price_cache_read_usd, _price_output_usd, _price_tier_input_usd, _price_tier_cache_write_5m_usd, _price_tier_cache_write_1h_usd, _price_tier_cache_read_usd, _price_tier_output_usd),
        (_price_upper * _price_tier_input_usd + (1 - _price_upper) * _price_input_usd) * _price_multiplier AS _price_rate_input,
        (_price_upper * _price_tier_cache_write_5m_usd + (1 - _price_upper) * _price_cache_write_5m_usd) * _price_multiplier AS _price_rate_cache_write_5m,
        (_price_upper * _price_tier_cache_write_1h_usd + (1 - _price_upper) * _price_cache_write_1h_usd) * _price_multiplier AS _price_rate_cache_write_1h,
        (_price_upper * _price_tier_cache_read_usd + (1 - _price_upper) * _price_cache_read_usd) * _price_multiplier AS _price_rate_cache_read,
        (_price_upper * _price_tier_output_usd + (1 - _price_upper) * _price_output_usd) * _price_multiplier AS _price_rate_output,
        (web_search_requests * _price_web_search + web_fetch_requests * _price_web_fetch) * (_price_multiplier / _price_multiplier) AS _price_fees
    FROM (
        SELECT *,
            (_price_tier_above > 0) * ((input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) > _price_tier_above) * ((_price_tier_beta = '') + has(betas, _price_tier_beta) > 0) AS _price_upper,
            ((_price_index > 0) / (_price_index > 0)) * (is_batch * _price_batch + (1 - is_batch)) * ((speed IN ('', 'standard')) + (speed = 'fast' AND _price_fast > 0) * _price_fast) / ((speed IN ('', 'standard')) + (speed = 'fast' AND _price_fast > 0)) * ((inference_geo IN ('', 'global')) + (inference_geo = 'us' AND _price_geo_us > 0) * _price_geo_us) / ((inference_geo IN ('', 'global')) + (inference_geo = 'us' AND _price_geo_us > 0)) AS _price_multiplier
        FROM (
            SELECT *,
                arrayElement(_price_all.3, _price_latest) AS price_model,
                arrayElement(_price_all.9, _price_index) AS _price_tier_above,
                arrayElement(_price_all.10, _price_index) AS _price_tier_beta,
                arrayElement(_price_all.16, _price_index) AS _price_batch,
                arrayElement(_price_all.17, _price_index) AS _price_fast,
                arrayElement(_price_all.18, _price_index) AS _price_geo_us,
                arrayElement(_price_all.19, _price_index) AS _price_web_search,
                arrayElement(_price_all.20, _price_index) AS _price_web_fetch,
                arrayElement(_price_all.4, _price_index) AS _price_input_usd,
                arrayElement(_price_all.5, _price_index) AS _price_cache_write_5m_usd,
                arrayElement(_price_all.6, _price_index) AS _price_cache_write_1h_usd,
                arrayElement(_price_all.7, _price_index) AS _price_cache_read_usd,
                arrayElement(_price_all.8, _price_index) AS _price_output_usd,
                arrayElement(_price_all.11, _price_index) AS _price_tier_input_usd,
                arrayElement(_price_all.12, _price_index) AS _price_tier_cache_write_5m_usd,
                arrayElement(_price_all.13, _price_index) AS _price_tier_cache_write_1h_usd,
                arrayElement(_price_all.14, _price_index) AS _price_tier_cache_read_usd,
                arrayElement(_price_all.15, _price_index) AS _price_tier_output_usd
            FROM (
                WITH cityHash64(replaceRegexpAll(replaceRegexpOne(replaceRegexpOne(lower(trimBoth(model)), '^(?:.*/)?(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\\.)?(?:anthropic\\.)?', ''), '(?:-(?:[0-9]{8}|latest))?(?:-v[0-9]+(?::[0-9]+)?)?(?:@[0-9a-z._-]+)?(?:\\[[^]]*\\])?$', ''), '([0-9])\\.([0-9])', '\\1-\\2')) AS _price_key,
                     toDate(timestamp) AS _price_day
                SELECT *,
                    transform(_price_key, _price_all.21, _price_all.22, toUInt32(0)) AS _price_latest,
                    toLowCardinality(if(_price_day >= arrayElement(_price_all.2, _price_latest),
                                    _price_latest,
                                    toUInt32(arrayLastIndex((k, f) -> k = _price_key AND f <= _price_day,
                                                            _price_all.1, _price_all.2)))) AS _price_index
                FROM (
                    SELECT
                        run_id,
                        call_id,
                        toUInt32(if(turn > 0, turn, position)) AS turn,
                        timestamp,
                        model,
                        service_name,
                        cause,
                        evidence,
                        if(cause IN ['tools_changed', 'system_changed', 'messages_changed', 'params_changed'], changed_message_, NULL) AS changed_message,
                        if(cause IN ['tools_changed', 'system_changed', 'messages_changed', 'params_changed'], changed_block_, NULL) AS changed_block,
                        if(cause IN ['tools_changed', 'system_changed', 'messages_changed'], changed_char_, NULL) AS changed_char,
                        if(cause = 'params_changed', changed_params_, CAST([], 'Array(String)'))
                            AS changed_params,
                        gap_seconds,
                        toUInt64(missed) AS missed_tokens,
                        concat(detail_main, detail_api) AS detail,
                        missed_1h,
                        missed_5m,
                        missed_input,
                        n_in AS input_tokens,
                        n_read AS cache_read_tokens,
                        n_w5 AS cache_write_5m_tokens,
                        n_w1h AS cache_write_1h_tokens,
                        false AS is_batch,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        turn,
                        model,
                        model_key,
                        n_in,
                        n_read,
                        n_w5,
                        n_w1h,
                        n_total,
                        t_start,
                        cache_miss_reason,
                        api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        position,
                        p_t,
                        p_model,
                        p_cached,
                        gap_seconds,
                        both_fp,
                        gap_p,
                        api_change,
                        changed_message_,
                        changed_block_,
                        changed_char_,
                        changed_params_,
                        hint,
                        conversation_replaced,
                        min_tokens,
                        lookback_distance,
                        lost,
                        ttl_used,
                        cause,
                        missed,
                        missed_1h,
                        missed_5m,
                        missed_input,
                        missed_text,
                        evidence,
                        multiIf(
                            cause = 'model_changed',
                            concat('the model changed from ', p_model, ' to ', model_key,
                                   ': caches are per model, so ', missed_text, ' cached tokens could not be read'),
                            cause = 'tools_changed',
                            concat('the tool definitions changed',
                                   if(changed_block_ IS NULL, '', concat(' at tool ', toString(changed_block_))),
                                   if(hint = 'reordered', ' (the same tools, reordered)', ''),
                                   '; ', missed_text, ' cached tokens not read'),
                            cause IN ('system_changed', 'messages_changed'),
                            concat(multiIf(cause = 'system_changed', 'the system prompt changed',
                                           conversation_replaced, concat('the conversation was replaced from ',
                                               'its first message (compaction, or a new conversation in the run)'),
                                           changed_message_ IS NULL, 'an earlier message changed',
                                           concat('message ', toString(changed_message_), ' changed')),
                                   if(changed_block_ IS NULL, '',
                                      concat(' at prefix block ', toString(changed_block_))),
                                   if(changed_char_ IS NULL, '', concat(', char ', reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(changed_char_))), '([0-9][0-9][0-9])', '\\1,'))))),
                                   multiIf(hint = 'timestamp', '; the text there looks like a timestamp', hint = 'uuid', '; the text there looks like a UUID', hint = 'counter', '; the text there looks like a counter', hint = 'reordered', '; the blocks look reordered', ''), '; ', missed_text, ' cached tokens not read'),
                            cause = 'params_changed',
                            concat(if(empty(changed_params_), 'a request parameter that keys the cache',
                                      arrayStringConcat(changed_params_, ', ')),
                                   ' changed, which invalidates the cache from its level on; ',
                                   missed_text, ' cached tokens not read'),
                            cause = 'ttl_expired',
                            concat(reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(round(gap_p)))), '([0-9][0-9][0-9])', '\\1,'))), ' s since the call that cached this prefix, longer than ',
                                   'the ', if(ttl_used >= 3600, '1h', '5m'),
                                   ' TTL of what it wrote; ', missed_text, ' cached tokens expired'),
                            cause = 'concurrent_requests',
                            concat('started ', toString(round(t_start - p_t, 3)), ' s after a call with the same ',
                                   'prefix, before that call had written the cache; ', missed_text,
                                   ' tokens not read'),
                            cause = 'lookback_exceeded',
                            concat('the prefix was unchanged but the nearest breakpoint sat ',
                                   toString(lookback_distance), ' blocks after the last cache entry, past the ',
                                   '20-block lookback; ', missed_text, ' cached tokens not read'),
                            cause = 'no_breakpoint' AND lost > 0,
                            concat('the prefix was unchanged but no breakpoint reached the end of what was ',
                                   'cached; ', missed_text, ' cached tokens not read'),
                            cause = 'no_breakpoint',
                            concat('a repeated prefix of ', missed_text, ' tokens had no cache breakpoint ',
                                   'covering it (', model_key, ' caches from ', reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(min_tokens))), '([0-9][0-9][0-9])', '\\1,'))), ' tokens)'),
                            cause = 'below_minimum',
                            concat('the repeated prefix of ', missed_text, ' tokens is under ', model_key,
                                   '''s minimum of ', reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(min_tokens))), '([0-9][0-9][0-9])', '\\1,'))), ' cacheable tokens, so nothing was cached'),
                            both_fp,
                            concat('the prefix was unchanged and the cache still missed ', missed_text,
                                   ' tokens; the API does not guarantee hits'),
                            concat('cache reads fell to ', reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(n_read))), '([0-9][0-9][0-9])', '\\1,'))), ' of ', reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(least(p_cached, n_total)))), '([0-9][0-9][0-9])', '\\1,'))),
                                   ' cached tokens within the TTL; token counts and timing alone cannot say why ',
                                   '(the API does not guarantee hits)')
                        ) AS detail_main,
                        multiIf(
                            NOT api_change, '',
                            cause = cache_miss_reason AND evidence = 'api',
                            concat(' (the API''s cache diagnostics, ', reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(api_missed))), '([0-9][0-9][0-9])', '\\1,'))), ' tokens)'),
                            cause = cache_miss_reason, '; the API''s cache diagnostics agree',
                            cause = 'params_changed' AND cache_miss_reason = 'model_changed'
                                AND has(changed_params_, 'speed'), '; the API''s cache diagnostics agree',
                            concat('; but the API''s cache diagnostics say ', cache_miss_reason, ' (',
                                   reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(api_missed))), '([0-9][0-9][0-9])', '\\1,'))), ' tokens)')) AS detail_api
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        turn,
                        model,
                        model_key,
                        n_in,
                        n_read,
                        n_w5,
                        n_w1h,
                        n_total,
                        t_start,
                        cache_miss_reason,
                        api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        position,
                        p_t,
                        p_model,
                        p_cached,
                        prev_total,
                        gap_seconds,
                        both_fp,
                        gap_p,
                        api_change,
                        changed_message_,
                        changed_block_,
                        changed_char_,
                        changed_params_,
                        hint,
                        conversation_replaced,
                        min_tokens,
                        lookback_distance,
                        lost,
                        lost_cause,
                        ttl_used,
                        uncached_cause,
                        if(lost > 0, lost_cause, uncached_cause) AS cause,
                        if(lost > 0, lost, if(uncached_cause = '', 0, prev_total)) AS missed,
                        least(missed, n_w1h) AS missed_1h,
                        least(missed - missed_1h, n_w5) AS missed_5m,
                        missed - missed_1h - missed_5m AS missed_input,
                        reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64(missed))), '([0-9][0-9][0-9])', '\\1,'))) AS missed_text,
                        multiIf(cause IN ('ttl_expired', 'concurrent_requests'), 'timing',
                                cause IN ('lookback_exceeded', 'no_breakpoint', 'below_minimum'),
                                    'prefix',
                                both_fp, 'prefix',
                                api_change AND cause = cache_miss_reason, 'api',
                                'tokens') AS evidence
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        turn,
                        model,
                        model_key,
                        n_in,
                        n_read,
                        n_w5,
                        n_w1h,
                        n_total,
                        t_start,
                        fp,
                        cache_breakpoints,
                        cache_automatic,
                        cache_miss_reason,
                        api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        position,
                        p_t,
                        p_te,
                        p_model,
                        p_cached,
                        p_read,
                        p_ttl,
                        p_ttl_max,
                        prev_fp,
                        prev_total,
                        prev_is_prefix,
                        gap_seconds,
                        has_p,
                        same_prefix,
                        reverted,
                        both_fp,
                        gap_p,
                        api_change,
                        change_level,
                        changed_message_,
                        changed_block_,
                        changed_char_,
                        changed_params_,
                        hint,
                        conversation_replaced,
                        head_tokens,
                        head_was_entry,
                        min_tokens,
                        lookback_distance,
                        breakpoints_short,
                        multiIf(NOT has_p OR reverted, 0,
                                same_prefix AND NOT both_fp AND n_read >= if(p_read > 0, p_read, p_cached), 0,
                                same_prefix, greatest(0, least(p_cached, n_total) - n_read),
                                change_level = '', 0,
                                conversation_replaced AND t_start < p_te,
                                    if(head_was_entry, greatest(0, least(p_cached, n_total, head_tokens) - n_read), 0),
                                greatest(0, least(p_cached, n_total) - n_read)) AS lost,
                        if(same_prefix,
                           multiIf(gap_p > p_ttl, 'ttl_expired',
                                   t_start < p_te, 'concurrent_requests',
                                   both_fp AND lookback_distance >= 20, 'lookback_exceeded',
                                   both_fp AND breakpoints_short, 'no_breakpoint',
                                   NOT both_fp AND api_change, cache_miss_reason,
                                   'unexplained'),
                           multiIf(gap_p > p_ttl_max, 'ttl_expired',
                                   change_level = 'messages' AND t_start < p_te, 'concurrent_requests',
                                   change_level = 'api', cache_miss_reason,
                                   concat(change_level, '_changed'))) AS lost_cause,
                        if(same_prefix, p_ttl, p_ttl_max) AS ttl_used,
                        prev_is_prefix AND n_read = 0 AND n_w5 + n_w1h = 0 AND fp AND prev_fp AND min_tokens > 0
                            AS repeated_uncached,
                        multiIf(NOT repeated_uncached, '',
                                prev_total >= min_tokens, 'no_breakpoint',
                                length(cache_breakpoints) > 0 OR cache_automatic, 'below_minimum',
                                '') AS uncached_cause
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        turn,
                        model,
                        model_key,
                        n_in,
                        n_read,
                        n_w5,
                        n_w1h,
                        n_total,
                        t_start,
                        fp,
                        prefix_tools_hash,
                        prefix_system_hash,
                        prefix_params_hash,
                        mh,
                        mc,
                        block_count,
                        prefix_block_tokens,
                        prefix_tokens,
                        cache_breakpoints,
                        cache_automatic,
                        prefix_change_level,
                        prefix_change_params,
                        prefix_change_message,
                        prefix_change_block,
                        prefix_change_char,
                        prefix_change_hint,
                        cache_miss_reason,
                        api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        position,
                        n_prior,
                        p_idx,
                        q_idx,
                        pr_t[p_idx] AS p_t,
                        pr_te[p_idx] AS p_te,
                        pr_model[p_idx] AS p_model,
                        pr_fp[p_idx] AS p_fp,
                        pr_mh[p_idx] AS p_mh,
                        pr_mc[p_idx] AS p_mc,
                        pr_cached[p_idx] AS p_cached,
                        pr_read[p_idx] AS p_read,
                        pr_ttl[p_idx] AS p_ttl,
                        pr_ttl_max[p_idx] AS p_ttl_max,
                        pr_bp_max[p_idx] AS p_bp_max,
                        pr_bp_min[p_idx] AS p_bp_min,
                        pr_tools[p_idx] AS p_tools,
                        pr_system[p_idx] AS p_system,
                        pr_params[p_idx] AS p_params,
                        pr_t[n_prior] AS prev_t,
                        pr_fp[n_prior] AS prev_fp,
                        pr_total[n_prior] AS prev_total,
                        pr_cached[q_idx] AS q_cached,
                        q_idx > 0 AND q_idx < p_idx AND NOT (pr_model[q_idx] = pr_model[q_idx + 1] AND if(pr_fp[q_idx] AND pr_fp[q_idx + 1], pr_tools[q_idx] = pr_tools[q_idx + 1] AND pr_system[q_idx] = pr_system[q_idx + 1] AND pr_params[q_idx] = pr_params[q_idx + 1] AND (pr_mc[q_idx] <= pr_mc[q_idx + 1] AND arrayAll(i -> pr_mh[q_idx][i - (pr_mc[q_idx] - toInt64(length(pr_mh[q_idx]))) + 1] = pr_mh[q_idx + 1][i - (pr_mc[q_idx + 1] - toInt64(length(pr_mh[q_idx + 1]))) + 1], range(greatest((pr_mc[q_idx] - toInt64(length(pr_mh[q_idx]))), (pr_mc[q_idx + 1] - toInt64(length(pr_mh[q_idx + 1]))), 0), greatest(pr_mc[q_idx], greatest((pr_mc[q_idx] - toInt64(length(pr_mh[q_idx]))), (pr_mc[q_idx + 1] - toInt64(length(pr_mh[q_idx + 1]))), 0))))), pr_total[q_idx + 1] >= pr_cached[q_idx])) AS q_then_changed,
                        n_prior > 0 AND (pr_model[n_prior] = model_key AND if(pr_fp[n_prior] AND fp, pr_tools[n_prior] = prefix_tools_hash AND pr_system[n_prior] = prefix_system_hash AND pr_params[n_prior] = prefix_params_hash AND (pr_mc[n_prior] <= mc AND arrayAll(i -> pr_mh[n_prior][i - (pr_mc[n_prior] - toInt64(length(pr_mh[n_prior]))) + 1] = mh[i - (mc - toInt64(length(mh))) + 1], range(greatest((pr_mc[n_prior] - toInt64(length(pr_mh[n_prior]))), (mc - toInt64(length(mh))), 0), greatest(pr_mc[n_prior], greatest((pr_mc[n_prior] - toInt64(length(pr_mh[n_prior]))), (mc - toInt64(length(mh))), 0))))), n_total >= pr_cached[n_prior])) AS prev_is_prefix,
                        if(n_prior > 0, t_start - prev_t, NULL) AS gap_seconds,
                        p_idx > 0 AS has_p,
                        p_idx = n_prior AS p_is_prev,
                        has_p AND q_idx = p_idx AS same_prefix,
                        q_then_changed AND n_read >= least(q_cached, n_total) AS reverted,
                        fp AND p_fp AS both_fp,
                        if(has_p, t_start - p_t, 0) AS gap_p,
                        cache_miss_reason IN ['model_changed', 'tools_changed', 'system_changed', 'messages_changed'] AS api_change,
                        multiIf(both_fp, multiIf(p_model != model_key, 'model', p_tools != prefix_tools_hash, 'tools', p_system != prefix_system_hash, 'system', p_params != prefix_params_hash, 'params', 'messages'),
                                p_model != model_key AND n_total >= p_cached, 'model',
                                api_change, 'api', '') AS change_level,
                        if(p_idx = n_prior AND prefix_change_level NOT IN ('', 'none'), prefix_change_message, NULL) AS changed_message_,
                        if(p_idx = n_prior AND prefix_change_level NOT IN ('', 'none'), prefix_change_block, NULL) AS changed_block_,
                        if(p_idx = n_prior AND prefix_change_level NOT IN ('', 'none'), prefix_change_char, NULL) AS changed_char_,
                        if(p_is_prev, prefix_change_params, CAST([], 'Array(String)')) AS changed_params_,
                        if(p_is_prev, prefix_change_hint, '') AS hint,
                        change_level = 'messages' AND if(p_idx = n_prior AND prefix_change_level NOT IN ('', 'none'), ifNull(prefix_change_message, 1) = 0,
                            length(mh) = mc AND length(p_mh) = p_mc AND mc > 0 AND p_mc > 0 AND p_mh[1] != mh[1])
                            AS conversation_replaced,
                        toInt64(ifNull(changed_block_, -1)) AS head_blocks,
                        greatest(0, prefix_tokens - toInt64(arraySum(arraySlice(prefix_block_tokens,
                            greatest(head_blocks - (block_count - toInt64(length(prefix_block_tokens))), 0) + 1))))
                            AS head_estimate,
                        if(prefix_tokens > 0, toInt64(round(head_estimate * n_total / greatest(prefix_tokens, 1))),
                           0) AS head_tokens,
                        p_bp_min >= 0 AND p_bp_min < head_blocks AS head_was_entry,
                        transform(model_key, ['claude-opus-4-7', 'claude-opus-4-6', 'claude-opus-4-5', 'claude-haiku-4-5', 'claude-sonnet-4-6', 'claude-haiku-3-5', 'claude-3-5-haiku', 'claude-sonnet-4-5', 'claude-sonnet-4', 'claude-sonnet-4-0', 'claude-sonnet-3-7', 'claude-3-7-sonnet', 'claude-opus-4-1', 'claude-opus-4', 'claude-opus-4-0'], [4096, 4096, 4096, 4096, 2048, 2048, 2048, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024], 0) AS min_tokens,
                        arrayFilter(b -> toInt64(b) >= p_bp_max, cache_breakpoints) AS bps_after,
                        if(p_bp_max >= 0 AND NOT empty(bps_after), toInt64(arrayMin(bps_after)) - p_bp_max, -1)
                            AS lookback_distance,
                        p_bp_max >= 0 AND empty(bps_after) AS breakpoints_short
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        turn,
                        model,
                        model_key,
                        n_in,
                        n_read,
                        n_w5,
                        n_w1h,
                        n_total,
                        t_start,
                        fp,
                        prefix_tools_hash,
                        prefix_system_hash,
                        prefix_params_hash,
                        mh,
                        mc,
                        block_count,
                        prefix_block_tokens,
                        prefix_tokens,
                        cache_breakpoints,
                        cache_automatic,
                        prefix_change_level,
                        prefix_change_params,
                        prefix_change_message,
                        prefix_change_block,
                        prefix_change_char,
                        prefix_change_hint,
                        cache_miss_reason,
                        api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        position,
                        pr_t,
                        pr_te,
                        pr_model,
                        pr_fp,
                        pr_tools,
                        pr_system,
                        pr_params,
                        pr_mh,
                        pr_mc,
                        pr_total,
                        pr_cached,
                        pr_read,
                        pr_ttl,
                        pr_ttl_max,
                        pr_bp_max,
                        pr_bp_min,
                        toInt64(length(pr_t)) AS n_prior,
                        toInt64(arrayLastIndex(x -> x > 0, pr_cached)) AS p_idx,
                        toInt64(arrayLastIndex((x_t, x_te, x_model, x_fp, x_tools, x_system, x_params, x_mh, x_mc, x_total, x_cached, x_read, x_ttl, x_ttl_max, x_bp_max, x_bp_min) -> x_cached > 0 AND (x_model = model_key AND if(x_fp AND fp, x_tools = prefix_tools_hash AND x_system = prefix_system_hash AND x_params = prefix_params_hash AND (x_mc <= mc AND arrayAll(i -> x_mh[i - (x_mc - toInt64(length(x_mh))) + 1] = mh[i - (mc - toInt64(length(mh))) + 1], range(greatest((x_mc - toInt64(length(x_mh))), (mc - toInt64(length(mh))), 0), greatest(x_mc, greatest((x_mc - toInt64(length(x_mh))), (mc - toInt64(length(mh))), 0))))), n_total >= x_cached)),
                                               pr_t, pr_te, pr_model, pr_fp, pr_tools, pr_system, pr_params, pr_mh, pr_mc, pr_total, pr_cached, pr_read, pr_ttl, pr_ttl_max, pr_bp_max, pr_bp_min)) AS q_idx
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        turn,
                        model,
                        model_key,
                        n_in,
                        n_read,
                        n_w5,
                        n_w1h,
                        n_total,
                        n_cached,
                        t_start,
                        t_end,
                        fp,
                        prefix_tools_hash,
                        prefix_system_hash,
                        prefix_params_hash,
                        mh,
                        mc,
                        block_count,
                        prefix_block_tokens,
                        prefix_tokens,
                        cache_breakpoints,
                        cache_automatic,
                        bp_max,
                        bp_min,
                        prefix_change_level,
                        prefix_change_params,
                        prefix_change_message,
                        prefix_change_block,
                        prefix_change_char,
                        prefix_change_hint,
                        cache_miss_reason,
                        api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        ttl_end,
                        ttl_max,
                        row_number() OVER (PARTITION BY run_id ORDER BY timestamp, call_id) AS position,
                        groupArray(t_start) OVER priors AS pr_t,
                        groupArray(t_end) OVER priors AS pr_te,
                        groupArray(model_key) OVER priors AS pr_model,
                        groupArray(fp) OVER priors AS pr_fp,
                        groupArray(prefix_tools_hash) OVER priors AS pr_tools,
                        groupArray(prefix_system_hash) OVER priors AS pr_system,
                        groupArray(prefix_params_hash) OVER priors AS pr_params,
                        groupArray(mh) OVER priors AS pr_mh,
                        groupArray(mc) OVER priors AS pr_mc,
                        groupArray(n_total) OVER priors AS pr_total,
                        groupArray(n_cached) OVER priors AS pr_cached,
                        groupArray(n_read) OVER priors AS pr_read,
                        groupArray(ttl_end) OVER priors AS pr_ttl,
                        groupArray(ttl_max) OVER priors AS pr_ttl_max,
                        groupArray(bp_max) OVER priors AS pr_bp_max,
                        groupArray(bp_min) OVER priors AS pr_bp_min
                    FROM (
                    SELECT
                        run_id,
                        call_id,
                        timestamp,
                        service_name,
                        source,
                        turn,
                        model,
                        replaceRegexpOne(model, '-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$', '') AS model_key,
                        toInt64(input_tokens) AS n_in,
                        toInt64(cache_read_tokens) AS n_read,
                        toInt64(cache_write_5m_tokens) AS n_w5,
                        toInt64(cache_write_1h_tokens) AS n_w1h,
                        n_in + n_read + n_w5 + n_w1h AS n_total,
                        n_read + n_w5 + n_w1h AS n_cached,
                        toUnixTimestamp64Nano(timestamp) / 1e9 AS t_start,
                        t_start + duration_ms / 1e3 AS t_end,
                        prefix_params_hash != '' AS fp,
                        prefix_tools_hash,
                        prefix_system_hash,
                        prefix_params_hash,
                        arrayMap(h -> cityHash64(h), prefix_message_hashes) AS mh,
                        toInt64(prefix_message_count) AS mc,
                        toInt64(prefix_block_count) AS block_count,
                        prefix_block_tokens,
                        toInt64(prefix_tokens) AS prefix_tokens,
                        cache_breakpoints,
                        cache_ttls,
                        cache_automatic,
                        if(empty(cache_breakpoints), -1, toInt64(arrayMax(cache_breakpoints))) AS bp_max,
                        if(empty(cache_breakpoints), -1, toInt64(arrayMin(cache_breakpoints))) AS bp_min,
                        multiIf(n_w5 > 0, 300, n_w1h > 0, 3600, 0)
                            AS ttl_written,
                        prefix_change_level,
                        prefix_change_params,
                        prefix_change_message,
                        prefix_change_block,
                        prefix_change_char,
                        prefix_change_hint,
                        cache_miss_reason,
                        toInt64(cache_missed_input_tokens) AS api_missed,
                        output_tokens,
                        betas,
                        speed,
                        inference_geo,
                        web_search_requests,
                        web_fetch_requests,
                        toInt64(if(ttl_written > 0, ttl_written,
                           coalesce(anyLast(nullIf(ttl_written, 0)) OVER (
                               PARTITION BY run_id ORDER BY timestamp, call_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
                               if(cache_ttls[-1] = '1h', 3600, 300)))) AS ttl_end,
                        toInt64(if(n_w1h > 0 OR has(cache_ttls, '1h'), 3600, ttl_end)) AS ttl_max
                    FROM (
                    SELECT * EXCEPT (family_rank, top_family)
                    FROM (
                        SELECT *, max(family_rank) OVER (PARTITION BY run_id) AS top_family
                        FROM (
                            SELECT *
                            FROM (SELECT run_id, timestamp, call_id, source_rank, family_rank, service_name, source, turn, model, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, duration_ms, is_batch, reported_cost_usd, prefix_tools_hash, prefix_system_hash, prefix_params_hash, prefix_message_hashes, prefix_message_count, prefix_block_count, prefix_block_tokens, prefix_tokens, cache_breakpoints, cache_ttls, cache_automatic, prefix_change_level, prefix_change_params, prefix_change_message, prefix_change_block, prefix_change_char, prefix_change_hint, cache_miss_reason, cache_missed_input_tokens, betas, speed, inference_geo, web_search_requests, web_fetch_requests FROM llm_call_reports WHERE run_id GLOBAL IN (SELECT run_id FROM (
                    SELECT run_id, maxIf(at, kind = 0) AS last_insert
                    FROM (
                        SELECT run_id, last_insert AS at, 0 AS kind FROM cache_run_inserts
                        UNION ALL
                        SELECT run_id, analysed_through AS at, 1 AS kind FROM cache_event_runs
                    )
                    GROUP BY run_id
                    HAVING maxIf(at, kind = 0) > maxIf(at, kind = 1))))
                            ORDER BY run_id, call_id, source_rank DESC
                            LIMIT 1 BY run_id, call_id
                        )
                    )
                    WHERE family_rank = 0 OR family_rank = top_family
                    )
                    WHERE (NOT is_batch AND source NOT IN ['claude-code-metric'])
                    )
                    WINDOW priors AS (PARTITION BY run_id ORDER BY timestamp, call_id
                                      ROWS BETWEEN 16 PRECEDING AND 1 PRECEDING)
                    )
                    )
                    )
                    )
                    WHERE cause != ''
                    )
                    )
                )
            )
        )
    )
)
)
ORDER BY run_id, timestamp, call_id)
SETTINGS optimize_and_compare_chain = 0, query_plan_merge_expressions = 0;
