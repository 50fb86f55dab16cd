-- Migration 4: insights: the findings of the last 30 days, judged on read.
-- Frozen by `python -m tokentrail.store.migrations freeze m0004_insights` from the live
-- definitions. Never edit: change the schema with a new migration.
-- `__CLUSTER__` stands for the cluster's quoted name.

CREATE OR REPLACE VIEW insights ON CLUSTER `__CLUSTER__`
AS SELECT kind, scope, service_name, model, run_ids, calls, cost_usd, savings_usd, confidence, detail, fix, first_seen, last_seen FROM (
SELECT kind, scope, service_name, model,
    arrayMap(x -> x.2, arraySlice(arrayReverseSort(groupArray((cost, run_id))), 1, 5)) AS run_ids,
    sum(calls_) AS calls,
    sum(cost) AS cost_usd,
    sum(cost) - sum(alt) AS savings_usd,
    any(confidence_) AS confidence,
    multiIf(
    kind = 'uncached_prefix', format(
        '{} of {} calls re-sent the previous call''s whole prompt ({} tokens in all, {} per call on average) and nothing was cached: no cache_control breakpoint and no automatic caching',
        toString(sum(a)), toString(calls), toString(toUInt64(sum(b))),
        toString(toUInt64(sum(b) / greatest(sum(a), 1)))),
    kind = 'growing_uncached_input', format(
        'a cached prefix is read, but the uncached input grew from {} to {} tokens per call over {} calls; {} of those tokens had been sent uncached by the previous call',
        toString(toUInt64(sum(a))), toString(toUInt64(sum(b))), toString(calls),
        toString(toUInt64(sum(c_)))),
    kind = 'context_growth', format(
        'input reached {} tokens per call; compacting to {} tokens once it passed {} would carry {} fewer tokens over the later calls',
        toString(toUInt64(sum(a))), toString(10000),
        toString(100000), toString(toUInt64(sum(c_)))),
    kind = 'batch_candidate', format(
        '{} single-call runs (independent: no conversation to continue) were sent one by one; as Message Batches they would cost {} instead of {} USD, answered asynchronously instead of within seconds (tokentrail does not record whether someone waited on the answer)',
        toString(calls), toString(round(sum(alt), 4)), toString(round(sum(cost), 4))),
    kind = 'model_routing_candidate', format(
        '{} of {} calls look mechanical (at most {} output tokens, {} on average, no tool use); on {} they would cost {} instead of {} USD',
        toString(calls), toString(toUInt64(sum(a))), toString(256),
        toString(toUInt64(sum(b) / greatest(calls, 1))), 'claude-haiku-4-5',
        toString(round(sum(alt), 4)), toString(round(sum(cost), 4))),
    kind = 'ttl_too_short', format(
        '{} times a 5-minute cache entry expired in a gap of 5 to 60 minutes and {} tokens were written again; with 1h writes every write costs more, and the calls that write would cost {} instead of {} USD',
        toString(toUInt64(sum(a))), toString(toUInt64(sum(b))),
        toString(round(sum(alt), 4)), toString(round(sum(cost), 4))),
    kind = 'unread_cache_writes', format(
        '{} cache writes ({} of {} written tokens, {} of them 1h) were never read before they expired (no call of this service and model read the cache within the TTL)',
        toString(calls), toString(toUInt64(sum(a))), toString(toUInt64(sum(b))),
        toString(toUInt64(sum(c_)))),
    '') AS detail,
    multiIf(
    kind = 'uncached_prefix',
        'Put a cache_control breakpoint at the end of the static prefix (the last system block) and let each turn cache up to its last message (a breakpoint there, or top-level automatic caching): each call then reads what the previous one sent.',
    kind = 'growing_uncached_input',
        'Add a breakpoint on the last message of each request (or top-level automatic caching) so the conversation, not only tools/system, is read from the cache.',
    kind = 'context_growth',
        'Compact or summarise the conversation once it passes the threshold (or clear old tool results); check the summary keeps what later turns need.',
    kind = 'batch_candidate',
        'Send these independent calls through the Message Batches API (50% of the token price) where nobody waits on the answer.',
    kind = 'model_routing_candidate',
        concat('Try these calls on ', 'claude-haiku-4-5', ' against your evals; route them there only if the evals hold.'),
    kind = 'ttl_too_short',
        'Use {"type": "ephemeral", "ttl": "1h"} on the breakpoints these runs read back after pauses of 5 to 60 minutes.',
    kind = 'unread_cache_writes',
        'Move or drop these breakpoints (or use the 5-minute TTL instead of 1h): what they write is not read again in time, so the write premium buys nothing.',
    '') AS fix,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen
FROM (
    SELECT run_id, service_name, model, first_ts, last_ts,
        c.1 AS kind, c.2 AS scope, c.3 AS confidence_,
        c.5 AS calls_, c.6 AS cost, c.7 AS alt, c.8 AS a, c.9 AS b, c.10 AS c_
    FROM (
SELECT run_id, service_name, model,
    count() AS n,
    sum(cost) AS run_cost,
    min(timestamp) AS first_ts,
    max(timestamp) AS last_ts,
    any(run_calls) AS run_size,
    max(run_cached) AS run_caches,
    countIf(prefix_tokens_shared > 0) AS shared_calls,
    sum(prefix_tokens_shared) AS shared_tokens,
    sum(alt_cache_prefix) AS alt_prefix,
    argMin(input_tokens, (timestamp, call_id)) AS first_input,
    argMax(input_tokens, (timestamp, call_id)) AS last_input,
    countIf(pos > 1 AND input_tokens > prev_input) AS input_rises,
    sum(carried) AS carried_tokens,
    sum(alt_cache_messages) AS alt_messages,
    sum(cost_batch) AS alt_batch,
    countIf(batchable) AS batchable_calls,
    sumIf(cost, batchable) AS batchable_cost,
    sumIf(cost_batch, batchable) AS batchable_alt,
    countIf(mechanical) AS mechanical_calls,
    sumIf(cost, mechanical) AS mechanical_cost,
    sumIf(cost_routed, mechanical) AS mechanical_alt,
    sumIf(output_tokens, mechanical) AS mechanical_output,
    countIf(rewritten > 0) AS rewrites,
    sum(rewritten) AS rewritten_tokens,
    sum(alt_ttl_1h) AS alt_ttl,
    sumIf(cost, cache_write_5m_tokens > 0) AS writing_cost,
    countIf(cache_write_5m_tokens > 0) AS writing_calls,
    sum(cache_write_5m_tokens + cache_write_1h_tokens) AS written,
    countIf(unread) AS unread_writes,
    sumIf(cache_write_5m_tokens + cache_write_1h_tokens, unread) AS unread_tokens,
    sumIf(cache_write_1h_tokens, unread) AS unread_1h_tokens,
    sumIf(cost, unread) AS unread_cost,
    sumIf(alt_unread, unread) AS unread_alt,
    max(total_in) AS max_input,
    any(compact_total) AS compact_at_tokens,
    countIf(removed > 0) AS compacted_calls,
    sum(removed) AS removed_tokens,
    sum(alt_compaction) AS alt_compact
FROM (
SELECT *,
    if(pos > 1, (toUnixTimestamp64Nano(timestamp) - toUnixTimestamp64Nano(prev_ts)) / 1e9, NULL) AS gap_seconds,
    transform(toString(price_model), ['claude-opus-4-7', 'claude-opus-4-6', 'claude-opus-4-5', 'claude-haiku-4-5', 'claude-sonnet-4-6', 'claude-haiku-3-5', 'claude-3-5-haiku', 'claude-sonnet-4-5', 'claude-sonnet-4', 'claude-sonnet-4-0', 'claude-sonnet-3-7', 'claude-3-7-sonnet', 'claude-opus-4-1', 'claude-opus-4', 'claude-opus-4-0'], [4096, 4096, 4096, 4096, 2048, 2048, 2048, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024], 0) AS min_cacheable,
    ifNull(gap_seconds <= 300, 0) AS within_5m,
    if(run_cached = 0 AND min_cacheable > 0 AND within_5m AND total_in >= prev_total
       AND prev_total >= min_cacheable, prev_total, 0) AS prefix_tokens_shared,
    if(run_cached = 0 AND min_cacheable > 0 AND total_in >= min_cacheable,
       cost - total_in * r_in + prefix_tokens_shared * r_read
            + (total_in - prefix_tokens_shared) * r_w5,
       cost) AS alt_cache_prefix,
    if(run_cached > 0 AND within_5m AND input_tokens >= prev_input, prev_input, 0)
      AS carried,
    if(run_cached > 0,
       cost - input_tokens * r_in + carried * r_read + (input_tokens - carried) * r_w5,
       cost) AS alt_cache_messages,
    if(cache_write_5m_tokens > 0 AND prev_cached > 0
       AND ifNull(gap_seconds > 300 AND gap_seconds <= 3600, 0),
       least(cache_write_5m_tokens, prev_cached), 0) AS rewritten,
    cost + cache_write_5m_tokens * (r_w1 - r_w5) - rewritten * (r_w1 - r_read) AS alt_ttl_1h,
    (cache_write_5m_tokens + cache_write_1h_tokens) > 0
      AND NOT (next_read_ns > 0
               AND (next_read_ns - toUnixTimestamp64Nano(timestamp)) / 1e9
                   <= if(cache_write_1h_tokens > 0, 3600, 300)) AS unread,
    if(unread, cost - cache_write_5m_tokens * (r_w5 - r_in)
                    - cache_write_1h_tokens * (r_w1 - r_in), cost) AS alt_unread,
    if(toUnixTimestamp64Nano(timestamp) > compact_ns, least(compact_total - 10000, total_in), 0) AS removed,
    least(removed, cache_read_tokens) AS removed_read,
    least(removed - removed_read, cache_write_1h_tokens) AS removed_w1,
    least(removed - removed_read - removed_w1, cache_write_5m_tokens) AS removed_w5,
    removed - removed_read - removed_w1 - removed_w5 AS removed_in,
    cost - removed_read * r_read - removed_w1 * r_w1 - removed_w5 * r_w5 - removed_in * r_in
      + if(toUnixTimestamp64Nano(timestamp) = compact_ns,
           total_in * r_read + 10000 * r_out, 0)
      AS alt_compaction,
    NOT was_batch AS batchable,
    output_tokens <= 256 AND stop_reason != 'tool_use'
      AND price_model != '' AS mechanical
FROM (
SELECT * EXCEPT (price_model, rate_input_usd, rate_cache_read_usd, rate_cache_write_5m_usd, rate_cache_write_1h_usd, rate_output_usd, cost_input_usd, cost_cache_read_usd, cost_cache_write_5m_usd, cost_cache_write_1h_usd, cost_output_usd, cost_server_tools_usd, cost_usd, cost_uncached_usd, model, actual_model, actual_price_model),
    actual_model AS model,
    actual_price_model AS price_model,
    ifNull(cost_usd, cost) AS cost_routed
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
                    SELECT * EXCEPT (price_model, rate_input_usd, rate_cache_read_usd, rate_cache_write_5m_usd, rate_cache_write_1h_usd, rate_output_usd, cost_input_usd, cost_cache_read_usd, cost_cache_write_5m_usd, cost_cache_write_1h_usd, cost_output_usd, cost_server_tools_usd, cost_usd, cost_uncached_usd, is_batch, model),
                        ifNull(cost_usd, cost) AS cost_batch,
                        was_batch AS is_batch,
                        'claude-haiku-4-5' AS model
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
                                        SELECT *, toBool(1) AS is_batch FROM (
                                        SELECT timestamp, model, speed, inference_geo, betas, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, web_search_requests, web_fetch_requests, call_id, run_id, parent_run_id, service_name, turn, stop_reason, source, total_in, cached, pos, prev_ts, prev_total, prev_input, prev_output, prev_cached, run_calls, run_cached, compact_ns, compact_total, next_read_ns,
                                            is_batch AS was_batch,
                                            model AS actual_model,
                                            price_model AS actual_price_model,
                                            assumeNotNull(cost_usd) AS cost,
                                            assumeNotNull(rate_input_usd) AS r_in,
                                            assumeNotNull(rate_cache_read_usd) AS r_read,
                                            assumeNotNull(rate_cache_write_5m_usd) AS r_w5,
                                            assumeNotNull(rate_cache_write_1h_usd) AS r_w1,
                                            assumeNotNull(rate_output_usd) AS r_out
                                        FROM (
                                        SELECT * EXCEPT (read_from_here_ns),
                                            lagInFrame(read_from_here_ns) OVER service_later AS next_read_ns
                                        FROM (
                                        SELECT *,
                                            input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens AS total_in,
                                            cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens AS cached,
                                            row_number() OVER run_prev AS pos,
                                            lagInFrame(timestamp) OVER run_prev AS prev_ts,
                                            lagInFrame(total_in) OVER run_prev AS prev_total,
                                            lagInFrame(input_tokens) OVER run_prev AS prev_input,
                                            lagInFrame(output_tokens) OVER run_prev AS prev_output,
                                            lagInFrame(cached) OVER run_prev AS prev_cached,
                                            count() OVER run_all AS run_calls,
                                            max(cached) OVER run_all AS run_cached,
                                            min(if(total_in > 100000, toUnixTimestamp64Nano(timestamp),
                                                   toInt64(9223372036854775807))) OVER run_all AS compact_ns,
                                            argMin(total_in, if(total_in > 100000, toUnixTimestamp64Nano(timestamp),
                                                   toInt64(9223372036854775807))) OVER run_all AS compact_total,
                                            min(if(cache_read_tokens > 0, toUnixTimestamp64Nano(timestamp),
                                                   toInt64(9223372036854775807)))
                                                OVER service_later AS read_from_here_ns
                                        FROM (SELECT timestamp, model, is_batch, speed, inference_geo, betas, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, web_search_requests, web_fetch_requests, call_id, run_id, parent_run_id, service_name, turn, stop_reason, source, price_model, cost_usd, rate_input_usd, rate_cache_read_usd, rate_cache_write_5m_usd, rate_cache_write_1h_usd, rate_output_usd FROM (SELECT * FROM llm_calls WHERE timestamp >= now64(9) - INTERVAL 30 DAY AND timestamp < now64(9) + INTERVAL 1 DAY) WHERE cost_usd IS NOT NULL)
                                        WINDOW run_prev AS (PARTITION BY run_id ORDER BY timestamp, call_id
                                                            ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                                               run_all AS (PARTITION BY run_id ORDER BY timestamp, call_id
                                                           ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
                                               service_later AS (PARTITION BY service_name, model
                                                                 ORDER BY timestamp DESC, call_id DESC
                                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
                                        WINDOW service_later AS (PARTITION BY service_name, model
                                                                 ORDER BY timestamp DESC, call_id DESC
                                                                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)))
                                    )
                                )
                            )
                        )
                    ))
                )
            )
        )
    )
))))
GROUP BY run_id, service_name, model)
    ARRAY JOIN [
    ('uncached_prefix', 'run', 'estimated',
     run_caches = 0 AND shared_calls >= 2,
     n, run_cost, alt_prefix, toFloat64(shared_calls), toFloat64(shared_tokens), 0.),
    ('growing_uncached_input', 'run', 'estimated',
     run_caches > 0 AND n >= 3
       AND last_input >= 2 * first_input AND last_input >= 1024
       AND input_rises * 3 >= (n - 1) * 2,
     n, run_cost, alt_messages, toFloat64(first_input), toFloat64(last_input),
     toFloat64(carried_tokens)),
    ('context_growth', 'run', 'estimated',
     compacted_calls >= 2,
     n, run_cost, alt_compact, toFloat64(max_input), toFloat64(compact_at_tokens),
     toFloat64(removed_tokens)),
    ('batch_candidate', 'service', 'estimated',
     run_size = 1 AND batchable_calls > 0,
     batchable_calls, batchable_cost, batchable_alt, 0., 0., 0.),
    ('model_routing_candidate', 'service', 'needs_eval',
     true,
     mechanical_calls, mechanical_cost, mechanical_alt, toFloat64(n), toFloat64(mechanical_output),
     0.),
    ('ttl_too_short', 'service', 'estimated',
     writing_calls > 0,
     writing_calls, writing_cost, writing_cost - (run_cost - alt_ttl), toFloat64(rewrites),
     toFloat64(rewritten_tokens), 0.),
    ('unread_cache_writes', 'service', 'estimated',
     written > 0,
     unread_writes, unread_cost, unread_alt, toFloat64(unread_tokens), toFloat64(written),
     toFloat64(unread_1h_tokens))
] AS c
    WHERE c.4
)
GROUP BY kind, scope, service_name, model, if(scope = 'run', run_id, '') AS run_key
HAVING savings_usd > 0 AND multiIf(
    scope = 'run', true,
    kind = 'batch_candidate', calls >= 10,
    kind = 'model_routing_candidate',
        calls >= 20 AND calls >= 0.8 * sum(a),
    kind = 'ttl_too_short', sum(a) >= 2,
    kind = 'unread_cache_writes',
        calls >= 3 AND sum(a) >= 0.5 * sum(b),
    false))
UNION ALL
SELECT kind, scope, service_name, model, run_ids, calls, cost_usd, savings_usd, confidence, detail, fix, first_seen, last_seen FROM (
SELECT 'recurring_invalidation' AS kind, 'service' AS scope, service_name,
    anyHeavy(model) AS model,
    arrayMap(x -> x.2, arraySlice(arrayReverseSort(groupArray((cost, run_id))), 1, 5)) AS run_ids,
    sum(events) AS calls,
    sum(cost) AS cost_usd,
    sum(cost) AS savings_usd,
    'measured' AS confidence,
    format('{} in {} runs: {}{}{}; {} cached tokens missed',
        cause, toString(uniqExact(run_id)),
        if(changed_message IS NULL, 'at an unrecorded place',
           concat('message ', toString(changed_message))),
        if(changed_block IS NULL, '', concat(', block ', toString(changed_block))),
        if(empty(changed_params), '',
           concat(', parameters ', arrayStringConcat(changed_params, ', '))),
        toString(sum(missed))) AS detail,
    concat('The same ', cause, ' breaks the cache run after run (e.g. ', any(example),
           '). Keep what changes (timestamps, ids, counters, reordered items) out of the cached prefix: move it after the last breakpoint or make it stable.') AS fix,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen
FROM (
    SELECT run_id, service_name, any(model) AS model, cause, changed_message, changed_block,
        changed_params, count() AS events, sum(ifNull(extra_cost_usd, 0)) AS cost,
        sum(missed_tokens) AS missed, any(detail) AS example,
        min(timestamp) AS first_ts, max(timestamp) AS last_ts
    FROM cache_events
    WHERE timestamp >= now64(9) - INTERVAL 30 DAY AND timestamp < now64(9) + INTERVAL 1 DAY AND cause IN ('model_changed', 'params_changed', 'tools_changed', 'system_changed', 'messages_changed')
    GROUP BY run_id, service_name, cause, changed_message, changed_block, changed_params
)
GROUP BY service_name, cause, changed_message, changed_block, changed_params
HAVING uniqExact(run_id) >= 3 AND savings_usd > 0);
