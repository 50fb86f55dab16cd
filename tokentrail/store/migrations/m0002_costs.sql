-- Migration 2: cost of every call: price table and cost columns on llm_calls.
-- Frozen by `python -m tokentrail.store.migrations freeze m0002_costs` from the live
-- definitions. Never edit: change the schema with a new migration.
-- Extended by hand before release with the model_price_slots table (created here
-- so that the views of later migrations may read it).

ALTER TABLE llm_call_reports
    ADD COLUMN IF NOT EXISTS betas Array(LowCardinality(String)),
    ADD COLUMN IF NOT EXISTS speed LowCardinality(String),
    ADD COLUMN IF NOT EXISTS inference_geo LowCardinality(String),
    ADD COLUMN IF NOT EXISTS web_search_requests UInt32,
    ADD COLUMN IF NOT EXISTS web_fetch_requests UInt32;

ALTER TABLE llm_calls_from_traces_mv
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
    SpanAttributes['tokentrail.run.automatic'] = 'true' AS run_automatic,
    SpanAttributes['tokentrail.batch.id'] AS batch_id,
    SpanAttributes['tokentrail.batch.custom_id'] AS batch_custom_id,
    arrayFilter(x -> x != '', arrayMap(x -> trimBoth(x), multiIf(SpanAttributes['tokentrail.request.betas'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.request.betas'], '['), JSONExtract(SpanAttributes['tokentrail.request.betas'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.request.betas']))))
        AS betas,
    lower(SpanAttributes['tokentrail.request.speed']) AS speed,
    lower(SpanAttributes['tokentrail.request.inference_geo']) AS inference_geo,
    toUInt32OrZero(SpanAttributes['tokentrail.usage.web_search_requests']) AS web_search_requests,
    toUInt32OrZero(SpanAttributes['tokentrail.usage.web_fetch_requests']) AS web_fetch_requests
FROM otel_traces
WHERE (SpanName = 'claude_code.llm_request'
       OR lower(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.provider.name'], SpanAttributes['gen_ai.system'], SpanAttributes['llm.provider'], SpanAttributes['llm.system'], ''])) = 'anthropic'
       OR ScopeName = 'com.anthropic.sdk.python'
       OR startsWith(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model'], SpanAttributes['llm.model_name'], SpanAttributes['model'], '']), 'claude'))
  AND arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.input_tokens'], SpanAttributes['gen_ai.usage.prompt_tokens'], SpanAttributes['llm.token_count.prompt'], SpanAttributes['input_tokens'], '']) != '';

CREATE TABLE IF NOT EXISTS model_prices
(
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
    origin String
)
ENGINE = MergeTree()
ORDER BY (load_id, family, effective_from, tier);

CREATE OR REPLACE VIEW model_price_versions
AS SELECT
    model_id,
    cityHash64(model_id) AS model_key,
    family,
    effective_from,
    input_usd, cache_write_5m_usd, cache_write_1h_usd, cache_read_usd, output_usd,
    tier_above_input_tokens,
    tier_beta,
    tier_input_usd, tier_cache_write_5m_usd, tier_cache_write_1h_usd, tier_cache_read_usd, tier_output_usd,
    batch_multiplier,
    fast_multiplier,
    inference_geo_us_multiplier,
    web_search_usd,
    web_fetch_usd,
    status,
    source
FROM (
    SELECT
        family,
        effective_from,
        groupUniqArrayArray(aliases) AS aliases,
        anyIf(input_usd_per_mtok, tier = 0) / 1e6 AS input_usd,
        anyIf(cache_write_5m_usd_per_mtok, tier = 0) / 1e6 AS cache_write_5m_usd,
        anyIf(cache_write_1h_usd_per_mtok, tier = 0) / 1e6 AS cache_write_1h_usd,
        anyIf(cache_read_usd_per_mtok, tier = 0) / 1e6 AS cache_read_usd,
        anyIf(output_usd_per_mtok, tier = 0) / 1e6 AS output_usd,
        maxIf(tier_above_input_tokens, tier = 1) AS tier_above_input_tokens,
        anyIf(tier_beta, tier = 1) AS tier_beta,
        anyIf(input_usd_per_mtok, tier = 1) / 1e6 AS tier_input_usd,
        anyIf(cache_write_5m_usd_per_mtok, tier = 1) / 1e6 AS tier_cache_write_5m_usd,
        anyIf(cache_write_1h_usd_per_mtok, tier = 1) / 1e6 AS tier_cache_write_1h_usd,
        anyIf(cache_read_usd_per_mtok, tier = 1) / 1e6 AS tier_cache_read_usd,
        anyIf(output_usd_per_mtok, tier = 1) / 1e6 AS tier_output_usd,
        anyIf(batch_multiplier, tier = 0) AS batch_multiplier,
        anyIf(fast_multiplier, tier = 0) AS fast_multiplier,
        anyIf(inference_geo_us_multiplier, tier = 0) AS inference_geo_us_multiplier,
        anyIf(web_search_per_1k, tier = 0) / 1000 AS web_search_usd,
        anyIf(web_fetch_per_1k, tier = 0) / 1000 AS web_fetch_usd,
        arrayStringConcat(groupArray(status), ', ') AS status,
        arrayStringConcat(groupArray(source), ' | ') AS source
    FROM model_prices
    WHERE load_id = (SELECT max(load_id) FROM model_prices)
    GROUP BY family, effective_from
)
ARRAY JOIN arrayConcat([family], aliases) AS model_id;

CREATE TABLE IF NOT EXISTS model_price_lookup
(
    load_id UInt64,
        model_key Array(UInt64),
        effective_from Array(Date),
        family Array(String),
        input_usd Array(Float64),
        cache_write_5m_usd Array(Float64),
        cache_write_1h_usd Array(Float64),
        cache_read_usd Array(Float64),
        output_usd Array(Float64),
        tier_above Array(UInt64),
        tier_beta Array(String),
        tier_input_usd Array(Float64),
        tier_cache_write_5m_usd Array(Float64),
        tier_cache_write_1h_usd Array(Float64),
        tier_cache_read_usd Array(Float64),
        tier_output_usd Array(Float64),
        batch Array(Float64),
        fast Array(Float64),
        geo_us Array(Float64),
        web_search Array(Float64),
        web_fetch Array(Float64),
        latest_keys Array(UInt64),
        latest_index Array(UInt32)
)
ENGINE = MergeTree()
ORDER BY (load_id);

CREATE TABLE IF NOT EXISTS model_price_slots
(
    load_id UInt64,
        model_key Array(UInt64),
        effective_from Array(Date),
        family Array(String),
        latest_keys Array(UInt64),
        latest_index Array(UInt32),
        tier_betas Array(String),
        tier_above Array(UInt64),
        rate_input Array(Float64),
        rate_cache_write_5m Array(Float64),
        rate_cache_write_1h Array(Float64),
        rate_cache_read Array(Float64),
        rate_output Array(Float64),
        fee_web_search Array(Float64),
        fee_web_fetch Array(Float64)
)
ENGINE = MergeTree()
ORDER BY (load_id);

CREATE OR REPLACE VIEW llm_calls
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

CREATE OR REPLACE VIEW cost_disagreements
AS SELECT
    timestamp, call_id, run_id, service_name, source, model, price_model,
    input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    output_tokens, is_batch,
    reported_cost_usd,
    cost_usd,
    cost_usd - reported_cost_usd AS difference_usd
FROM llm_calls
WHERE reported_cost_usd IS NOT NULL
  AND (cost_usd IS NULL OR abs(cost_usd - reported_cost_usd) > 0.000001);

-- python: load_prices
