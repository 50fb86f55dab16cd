-- Migration 8: llm_calls: the large blocks anywhere in each call's prefix.
-- Frozen by `python -m tokentrail.store.migrations freeze m0008_large_blocks` from the live
-- definitions. Never edit: change the schema with a new migration.

ALTER TABLE llm_call_reports
    ADD COLUMN IF NOT EXISTS prefix_large_blocks Array(Tuple(hash String, position UInt32, tokens UInt32));

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
    SpanAttributes['tokentrail.prefix.change.hint'] AS prefix_change_hint,
    SpanAttributes['tokentrail.run.automatic'] = 'true' AS run_automatic,
    SpanAttributes['tokentrail.batch.id'] AS batch_id,
    SpanAttributes['tokentrail.batch.custom_id'] AS batch_custom_id,
    arrayFilter(x -> x != '', arrayMap(x -> trimBoth(x), multiIf(SpanAttributes['tokentrail.request.betas'] = '', CAST([], 'Array(String)'), startsWith(SpanAttributes['tokentrail.request.betas'], '['), JSONExtract(SpanAttributes['tokentrail.request.betas'], 'Array(String)'), splitByChar(',', SpanAttributes['tokentrail.request.betas']))))
        AS betas,
    lower(SpanAttributes['tokentrail.request.speed']) AS speed,
    lower(SpanAttributes['tokentrail.request.inference_geo']) AS inference_geo,
    toUInt32OrZero(SpanAttributes['tokentrail.usage.web_search_requests']) AS web_search_requests,
    toUInt32OrZero(SpanAttributes['tokentrail.usage.web_fetch_requests']) AS web_fetch_requests,
    if(SpanAttributes['tokentrail.prefix.large_blocks'] = '', CAST([], 'Array(Tuple(hash String, position UInt32, tokens UInt32))'), CAST(arrayMap(p -> (p[1], toUInt32OrZero(p[2]), toUInt32OrZero(p[3])), arrayMap(x -> splitByChar(':', x), splitByChar(',', SpanAttributes['tokentrail.prefix.large_blocks']))), 'Array(Tuple(hash String, position UInt32, tokens UInt32))')) AS prefix_large_blocks
FROM otel_traces
WHERE (SpanName = 'claude_code.llm_request'
       OR lower(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.provider.name'], SpanAttributes['gen_ai.system'], SpanAttributes['llm.provider'], SpanAttributes['llm.system'], ''])) = 'anthropic'
       OR ScopeName = 'com.anthropic.sdk.python'
       OR startsWith(arrayFirst(x -> x != '', [SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model'], SpanAttributes['llm.model_name'], SpanAttributes['model'], '']), 'claude'))
  AND arrayFirst(x -> x != '', [SpanAttributes['gen_ai.usage.input_tokens'], SpanAttributes['gen_ai.usage.prompt_tokens'], SpanAttributes['llm.token_count.prompt'], SpanAttributes['input_tokens'], '']) != '';

CREATE OR REPLACE VIEW llm_calls
AS WITH (SELECT argMax(tuple(model_key, effective_from, family, latest_keys, latest_index, tier_betas, tier_above, rate_input, rate_cache_write_5m, rate_cache_write_1h, rate_cache_read, rate_output, fee_web_search, fee_web_fetch), load_id) FROM model_price_slots) AS _price_all
SELECT * EXCEPT (_price_rate_input, _price_rate_cache_write_5m, _price_rate_cache_write_1h, _price_rate_cache_read, _price_rate_output, _price_fees),
    (_price_rate_input) + nullIf(isNaN(_price_rate_input), 1) AS rate_input_usd,
    (_price_rate_cache_read) + nullIf(isNaN(_price_rate_cache_read), 1) AS rate_cache_read_usd,
    (_price_rate_cache_write_5m) + nullIf(isNaN(_price_rate_cache_write_5m), 1) AS rate_cache_write_5m_usd,
    (_price_rate_cache_write_1h) + nullIf(isNaN(_price_rate_cache_write_1h), 1) AS rate_cache_write_1h_usd,
    (_price_rate_output) + nullIf(isNaN(_price_rate_output), 1) AS rate_output_usd,
    (input_tokens * _price_rate_input) + nullIf(isNaN(input_tokens * _price_rate_input), 1) AS cost_input_usd,
    (cache_read_tokens * _price_rate_cache_read) + nullIf(isNaN(cache_read_tokens * _price_rate_cache_read), 1) AS cost_cache_read_usd,
    (cache_write_5m_tokens * _price_rate_cache_write_5m) + nullIf(isNaN(cache_write_5m_tokens * _price_rate_cache_write_5m), 1) AS cost_cache_write_5m_usd,
    (cache_write_1h_tokens * _price_rate_cache_write_1h) + nullIf(isNaN(cache_write_1h_tokens * _price_rate_cache_write_1h), 1) AS cost_cache_write_1h_usd,
    (output_tokens * _price_rate_output) + nullIf(isNaN(output_tokens * _price_rate_output), 1) AS cost_output_usd,
    (_price_fees) + nullIf(isNaN(_price_fees), 1) AS cost_server_tools_usd,
    (input_tokens * _price_rate_input + cache_write_5m_tokens * _price_rate_cache_write_5m + cache_write_1h_tokens * _price_rate_cache_write_1h + cache_read_tokens * _price_rate_cache_read + output_tokens * _price_rate_output + _price_fees) + nullIf(isNaN(input_tokens * _price_rate_input + cache_write_5m_tokens * _price_rate_cache_write_5m + cache_write_1h_tokens * _price_rate_cache_write_1h + cache_read_tokens * _price_rate_cache_read + output_tokens * _price_rate_output + _price_fees), 1) AS cost_usd,
    ((input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) * _price_rate_input + output_tokens * _price_rate_output + _price_fees) + nullIf(isNaN((input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) * _price_rate_input + output_tokens * _price_rate_output + _price_fees), 1) AS cost_uncached_usd
FROM (
    SELECT * EXCEPT (_price_slot),
        arrayElement(_price_all.8, _price_slot) AS _price_rate_input,
        arrayElement(_price_all.9, _price_slot) AS _price_rate_cache_write_5m,
        arrayElement(_price_all.10, _price_slot) AS _price_rate_cache_write_1h,
        arrayElement(_price_all.11, _price_slot) AS _price_rate_cache_read,
        arrayElement(_price_all.12, _price_slot) AS _price_rate_output,
        web_search_requests * arrayElement(_price_all.13, _price_slot) + web_fetch_requests * arrayElement(_price_all.14, _price_slot) AS _price_fees
    FROM (
        SELECT * EXCEPT (_price_latest, _price_index),
            arrayElement(_price_all.3, _price_latest) AS price_model,
            toLowCardinality(toUInt32(_price_index * 36 + (is_batch * 9 + transform(speed, ['', 'standard', 'fast'], [0, 0, 1], 2) * 3 + transform(inference_geo, ['', 'global', 'us'], [0, 0, 1], 2)) * 2 + ((input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens) > arrayElement(_price_all.7, _price_index * 4 + 1 * has(betas, _price_all.6[1]) + 2 * has(betas, _price_all.6[2]) + 1)) + 1)) AS _price_slot
        FROM (
            WITH cityHash64(replaceRegexpAll(replaceRegexpOne(replaceRegexpOne(lower(trimBoth(model)), '^(?:.*/)?(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\\.)?(?:anthropic\\.)?', ''), '(?:-(?:[0-9]{8}|latest))?(?:-v[0-9]+(?::[0-9]+)?)?(?:@[0-9a-z._-]+)?(?:\\[[^]]*\\])?$', ''), '([0-9])\\.([0-9])', '\\1-\\2')) AS _price_key,
                 toDate(timestamp) AS _price_day
            SELECT *,
                transform(_price_key, _price_all.4, _price_all.5, toUInt32(0)) AS _price_latest,
                if(_price_day >= arrayElement(_price_all.2, _price_latest), _price_latest,
               toUInt32(arrayLastIndex((k, f) -> k = _price_key AND f <= _price_day,
                                       _price_all.1, _price_all.2))) AS _price_index
            FROM (
                SELECT * EXCEPT (source_rank, family_rank)
                FROM llm_call_reports FINAL
                WHERE family_rank = 0
                   OR (run_id, family_rank) GLOBAL IN (
                        SELECT run_id, max(family_rank) FROM llm_call_reports
                        WHERE family_rank > 0 GROUP BY run_id)
            )
        )
    )
);
