-- Migration 12: insights: a recurring invalidation says where it is in the words of its cause.
-- Frozen by `python -m tokentrail.store.migrations freeze m0012_recurring_place` from the live
-- definitions. Never edit: change the schema with a new migration.
-- `__CLUSTER__` stands for the cluster's quoted name.

CREATE OR REPLACE VIEW insights ON CLUSTER `__CLUSTER__`
AS SELECT * FROM (SELECT kind, scope, service_name, model, run_ids, calls, cost_usd, savings_usd, confidence, detail, fix, first_seen, last_seen FROM (
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
    sum(d_n) AS n,
    sum(d_run_cost) AS run_cost,
    min(d_first_ts) AS first_ts,
    max(d_last_ts) AS last_ts,
    max(d_run_size) AS run_size,
    max(d_run_caches) AS run_caches,
    sum(d_shared_calls) AS shared_calls,
    sum(d_shared_tokens) AS shared_tokens,
    sum(d_alt_prefix) AS alt_prefix,
    argMin(d_first_input, d_first_ts) AS first_input,
    argMax(d_last_input, d_last_ts) AS last_input,
    sum(d_input_rises) AS input_rises,
    sum(d_carried_tokens) AS carried_tokens,
    sum(d_alt_messages) AS alt_messages,
    sum(d_alt_batch) AS alt_batch,
    sum(d_batchable_calls) AS batchable_calls,
    sum(d_batchable_cost) AS batchable_cost,
    sum(d_batchable_alt) AS batchable_alt,
    sum(d_mechanical_calls) AS mechanical_calls,
    sum(d_mechanical_cost) AS mechanical_cost,
    sum(d_mechanical_alt) AS mechanical_alt,
    sum(d_mechanical_output) AS mechanical_output,
    sum(d_rewrites) AS rewrites,
    sum(d_rewritten_tokens) AS rewritten_tokens,
    sum(d_alt_ttl) AS alt_ttl,
    sum(d_writing_cost) AS writing_cost,
    sum(d_writing_calls) AS writing_calls,
    sum(d_written) AS written,
    sum(d_unread_writes) AS unread_writes,
    sum(d_unread_tokens) AS unread_tokens,
    sum(d_unread_1h_tokens) AS unread_1h_tokens,
    sum(d_unread_cost) AS unread_cost,
    sum(d_unread_alt) AS unread_alt,
    max(d_max_input) AS max_input,
    max(d_compact_at_tokens) AS compact_at_tokens,
    sum(d_compacted_calls) AS compacted_calls,
    sum(d_removed_tokens) AS removed_tokens,
    sum(d_alt_compact) AS alt_compact,
    min(d_first_read_ts) AS first_read_ts,
    max(d_last_read_ts) AS last_read_ts,
    min(d_first_unread_ts) AS first_unread_ts,
    max(d_last_unread_ts) AS last_unread_ts
FROM (SELECT run_id, service_name, model, n AS d_n, run_cost AS d_run_cost, first_ts AS d_first_ts, last_ts AS d_last_ts, run_size AS d_run_size, run_caches AS d_run_caches, shared_calls AS d_shared_calls, shared_tokens AS d_shared_tokens, alt_prefix AS d_alt_prefix, first_input AS d_first_input, last_input AS d_last_input, input_rises AS d_input_rises, carried_tokens AS d_carried_tokens, alt_messages AS d_alt_messages, alt_batch AS d_alt_batch, batchable_calls AS d_batchable_calls, batchable_cost AS d_batchable_cost, batchable_alt AS d_batchable_alt, mechanical_calls AS d_mechanical_calls, mechanical_cost AS d_mechanical_cost, mechanical_alt AS d_mechanical_alt, mechanical_output AS d_mechanical_output, rewrites AS d_rewrites, rewritten_tokens AS d_rewritten_tokens, alt_ttl AS d_alt_ttl, writing_cost AS d_writing_cost, writing_calls AS d_writing_calls, written AS d_written, unread_writes AS d_unread_writes, unread_tokens AS d_unread_tokens, unread_1h_tokens AS d_unread_1h_tokens, unread_cost AS d_unread_cost, unread_alt AS d_unread_alt, max_input AS d_max_input, compact_at_tokens AS d_compact_at_tokens, compacted_calls AS d_compacted_calls, removed_tokens AS d_removed_tokens, alt_compact AS d_alt_compact, first_read_ts AS d_first_read_ts, last_read_ts AS d_last_read_ts, first_unread_ts AS d_first_unread_ts, last_unread_ts AS d_last_unread_ts FROM (
WITH (SELECT groupArray(run_id) FROM (
SELECT run_id, maxIf(at, kind = 0) AS last_insert
FROM (
    SELECT run_id, last_insert AS at, 0 AS kind, toUInt64(0) AS load, toUInt64(0) AS version
    FROM cache_run_inserts
    UNION ALL
    SELECT run_id, analysed_through, 1, price_load, version FROM insight_runs
)
GROUP BY run_id
HAVING maxIf(at, kind = 0) > maxIf(at, kind = 1)
    OR argMaxIf(load, version, kind = 1) != (SELECT ifNull(max(load_id), 0) FROM model_price_slots))) AS judged_on_read
SELECT run_id, service_name, model, day, n, run_cost, first_ts, last_ts, run_size, run_caches, shared_calls, shared_tokens, alt_prefix, first_input, last_input, input_rises, carried_tokens, alt_messages, alt_batch, batchable_calls, batchable_cost, batchable_alt, mechanical_calls, mechanical_cost, mechanical_alt, mechanical_output, rewrites, rewritten_tokens, alt_ttl, writing_cost, writing_calls, written, unread_writes, unread_tokens, unread_1h_tokens, unread_cost, unread_alt, max_input, compact_at_tokens, compacted_calls, removed_tokens, alt_compact, first_read_ts, last_read_ts, first_unread_ts, last_unread_ts
FROM (
    SELECT run_id, service_name, model, day, n, run_cost, first_ts, last_ts, run_size, run_caches, shared_calls, shared_tokens, alt_prefix, first_input, last_input, input_rises, carried_tokens, alt_messages, alt_batch, batchable_calls, batchable_cost, batchable_alt, mechanical_calls, mechanical_cost, mechanical_alt, mechanical_output, rewrites, rewritten_tokens, alt_ttl, writing_cost, writing_calls, written, unread_writes, unread_tokens, unread_1h_tokens, unread_cost, unread_alt, max_input, compact_at_tokens, compacted_calls, removed_tokens, alt_compact, first_read_ts, last_read_ts, first_unread_ts, last_unread_ts
    FROM insight_facts FINAL
    WHERE first_ts >= now64(9) - INTERVAL 30 DAY AND first_ts < now64(9) + INTERVAL 1 DAY AND day >= toDate(now64(9) - INTERVAL 30 DAY) AND day <= toDate(now64(9) + INTERVAL 1 DAY) AND run_id NOT IN judged_on_read
    UNION ALL
    SELECT run_id, service_name, model, day, n, run_cost, first_ts, last_ts, run_size, run_caches, shared_calls, shared_tokens, alt_prefix, first_input, last_input, input_rises, carried_tokens, alt_messages, alt_batch, batchable_calls, batchable_cost, batchable_alt, mechanical_calls, mechanical_cost, mechanical_alt, mechanical_output, rewrites, rewritten_tokens, alt_ttl, writing_cost, writing_calls, written, unread_writes, unread_tokens, unread_1h_tokens, unread_cost, unread_alt, max_input, compact_at_tokens, compacted_calls, removed_tokens, alt_compact, first_read_ts, last_read_ts, first_unread_ts, last_unread_ts
    FROM (
SELECT run_id, service_name, model, toDate(timestamp) AS day,
    CAST(count() AS UInt64) AS n,
    CAST(sum(cost) AS Float64) AS run_cost,
    CAST(min(timestamp) AS DateTime64(9)) AS first_ts,
    CAST(max(timestamp) AS DateTime64(9)) AS last_ts,
    CAST(any(run_calls) AS UInt64) AS run_size,
    CAST(max(run_cached) AS UInt64) AS run_caches,
    CAST(countIf(prefix_tokens_shared > 0) AS UInt64) AS shared_calls,
    CAST(sum(prefix_tokens_shared) AS UInt64) AS shared_tokens,
    CAST(sum(alt_cache_prefix) AS Float64) AS alt_prefix,
    CAST(argMin(input_tokens, (timestamp, call_id)) AS UInt64) AS first_input,
    CAST(argMax(input_tokens, (timestamp, call_id)) AS UInt64) AS last_input,
    CAST(countIf(pos > 1 AND input_tokens > prev_input) AS UInt64) AS input_rises,
    CAST(sum(carried) AS UInt64) AS carried_tokens,
    CAST(sum(alt_cache_messages) AS Float64) AS alt_messages,
    CAST(sum(cost_batch) AS Float64) AS alt_batch,
    CAST(countIf(batchable) AS UInt64) AS batchable_calls,
    CAST(sumIf(cost, batchable) AS Float64) AS batchable_cost,
    CAST(sumIf(cost_batch, batchable) AS Float64) AS batchable_alt,
    CAST(countIf(mechanical) AS UInt64) AS mechanical_calls,
    CAST(sumIf(cost, mechanical) AS Float64) AS mechanical_cost,
    CAST(sumIf(cost_routed, mechanical) AS Float64) AS mechanical_alt,
    CAST(sumIf(output_tokens, mechanical) AS UInt64) AS mechanical_output,
    CAST(countIf(rewritten > 0) AS UInt64) AS rewrites,
    CAST(sum(rewritten) AS UInt64) AS rewritten_tokens,
    CAST(sum(alt_ttl_1h) AS Float64) AS alt_ttl,
    CAST(sumIf(cost, cache_write_5m_tokens > 0) AS Float64) AS writing_cost,
    CAST(countIf(cache_write_5m_tokens > 0) AS UInt64) AS writing_calls,
    CAST(sum(cache_write_5m_tokens + cache_write_1h_tokens) AS UInt64) AS written,
    CAST(countIf(unread) AS UInt64) AS unread_writes,
    CAST(sumIf(cache_write_5m_tokens + cache_write_1h_tokens, unread) AS UInt64) AS unread_tokens,
    CAST(sumIf(cache_write_1h_tokens, unread) AS UInt64) AS unread_1h_tokens,
    CAST(sumIf(cost, unread) AS Float64) AS unread_cost,
    CAST(sumIf(alt_unread, unread) AS Float64) AS unread_alt,
    CAST(max(total_in) AS UInt64) AS max_input,
    CAST(any(compact_total) AS UInt64) AS compact_at_tokens,
    CAST(countIf(removed > 0) AS UInt64) AS compacted_calls,
    CAST(sum(removed) AS UInt64) AS removed_tokens,
    CAST(sum(alt_compaction) AS Float64) AS alt_compact,
    CAST(minIf(timestamp, cache_read_tokens > 0) AS DateTime64(9)) AS first_read_ts,
    CAST(maxIf(timestamp, cache_read_tokens > 0) AS DateTime64(9)) AS last_read_ts,
    CAST(minIf(timestamp, unread) AS DateTime64(9)) AS first_unread_ts,
    CAST(maxIf(timestamp, unread) AS DateTime64(9)) AS last_unread_ts
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
WITH (SELECT argMax(tuple(model_key, effective_from, family, latest_keys, latest_index, tier_betas, tier_above, rate_input, rate_cache_write_5m, rate_cache_write_1h, rate_cache_read, rate_output, fee_web_search, fee_web_fetch), load_id) FROM model_price_slots) AS _price_all
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
                SELECT * EXCEPT (price_model, rate_input_usd, rate_cache_read_usd, rate_cache_write_5m_usd, rate_cache_write_1h_usd, rate_output_usd, cost_input_usd, cost_cache_read_usd, cost_cache_write_5m_usd, cost_cache_write_1h_usd, cost_output_usd, cost_server_tools_usd, cost_usd, cost_uncached_usd, is_batch, model),
                    ifNull(cost_usd, cost) AS cost_batch,
                    was_batch AS is_batch,
                    'claude-haiku-4-5' AS model
                FROM (
                WITH (SELECT argMax(tuple(model_key, effective_from, family, latest_keys, latest_index, tier_betas, tier_above, rate_input, rate_cache_write_5m, rate_cache_write_1h, rate_cache_read, rate_output, fee_web_search, fee_web_fetch), load_id) FROM model_price_slots) AS _price_all
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
                                SELECT * EXCEPT (no_service, r_service, r_model, r_ts),
                                    toUnixTimestamp64Nano(r_ts) AS next_read_ns
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
                                    0 AS no_service
                                FROM (SELECT timestamp, model, is_batch, speed, inference_geo, betas, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, web_search_requests, web_fetch_requests, call_id, run_id, parent_run_id, service_name, turn, stop_reason, source, price_model, cost_usd, rate_input_usd, rate_cache_read_usd, rate_cache_write_5m_usd, rate_cache_write_1h_usd, rate_output_usd FROM (
                                WITH (SELECT argMax(tuple(model_key, effective_from, family, latest_keys, latest_index, tier_betas, tier_above, rate_input, rate_cache_write_5m, rate_cache_write_1h, rate_cache_read, rate_output, fee_web_search, fee_web_fetch), load_id) FROM model_price_slots) AS _price_all
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
                                                SELECT * FROM (
                                                SELECT * EXCEPT (family_rank, top_family, report_rank)
                                                FROM (
                                                    SELECT *,
                                                        row_number() OVER (PARTITION BY run_id, call_id ORDER BY source_rank DESC)
                                                            AS report_rank,
                                                        max(family_rank) OVER (PARTITION BY run_id) AS top_family
                                                    FROM (SELECT run_id, timestamp, call_id, source_rank, family_rank, service_name, source, turn, model, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, duration_ms, is_batch, reported_cost_usd, prefix_tools_hash, prefix_system_hash, prefix_params_hash, prefix_message_hashes, prefix_message_count, prefix_block_count, prefix_block_tokens, prefix_tokens, cache_breakpoints, cache_ttls, cache_automatic, prefix_change_level, prefix_change_params, prefix_change_message, prefix_change_block, prefix_change_char, prefix_change_hint, cache_miss_reason, cache_missed_input_tokens, betas, speed, inference_geo, web_search_requests, web_fetch_requests, stop_reason, run_name, parent_run_id FROM llm_call_reports WHERE run_id IN judged_on_read)
                                                )
                                                WHERE report_rank = 1 AND (family_rank = 0 OR family_rank = top_family)
                                                )
                                            )
                                        )
                                    )
                                )) WHERE cost_usd IS NOT NULL)
                                WINDOW run_prev AS (PARTITION BY run_id ORDER BY timestamp, call_id
                                                    ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                                       run_all AS (PARTITION BY run_id ORDER BY timestamp, call_id
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS w
                                ASOF LEFT JOIN (SELECT service_name AS r_service, model AS r_model, timestamp AS r_ts
                                                FROM (
                                SELECT service_name, model, timestamp FROM insight_reads
                                WHERE (service_name, model) IN (SELECT service_name, model FROM (SELECT service_name, model, timestamp FROM llm_call_reports WHERE run_id IN judged_on_read))
                                  AND timestamp > (SELECT min(timestamp) FROM (SELECT service_name, model, timestamp FROM llm_call_reports WHERE run_id IN judged_on_read))
                                  AND timestamp <= (SELECT max(timestamp) FROM (SELECT service_name, model, timestamp FROM llm_call_reports WHERE run_id IN judged_on_read)) + INTERVAL 3600 SECOND
                                )) AS r
                                ON w.service_name = r.r_service AND w.model = r.r_model AND r.r_ts > w.timestamp))
                            )
                        )
                    )
                ))
            )
        )
    )
))))
GROUP BY run_id, service_name, model, day)
    WHERE first_ts >= now64(9) - INTERVAL 30 DAY AND first_ts < now64(9) + INTERVAL 1 DAY AND day >= toDate(now64(9) - INTERVAL 30 DAY) AND day <= toDate(now64(9) + INTERVAL 1 DAY)
)
SETTINGS optimize_and_compare_chain = 0, query_plan_merge_expressions = 0, distributed_product_mode = 'global'))
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
    WHERE c.4 AND (c.2 != 'run' OR c.6 > c.7)
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
    format('{} in {} runs: {}; {} cached tokens missed',
        cause, toString(uniqExact(run_id)), multiIf(
    cause = 'model_changed', 'the model changed',
    cause = 'params_changed', if(empty(changed_params), 'a parameter that keys the cache',
                                  concat('parameters ', arrayStringConcat(changed_params, ', '))),
    cause = 'tools_changed', if(changed_block IS NULL, 'the tool definitions',
                                 concat('at tool ', toString(changed_block))),
    cause = 'system_changed', if(changed_block IS NULL, 'the system prompt',
                                  concat('at prefix block ', toString(changed_block))),
    concat(if(changed_message IS NULL, 'an earlier message',
              concat('at message ', toString(changed_message))),
           if(changed_block IS NULL, '', concat(', prefix block ', toString(changed_block))))),
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
HAVING uniqExact(run_id) >= 3 AND savings_usd > 0)
UNION ALL
SELECT kind, scope, service_name, model, run_ids, calls, cost_usd, savings_usd, confidence, detail, fix, first_seen, last_seen FROM (
SELECT 'context_dead_weight' AS kind, 'run' AS scope, service_name, model,
    [run_id] AS run_ids,
    toUInt64(count()) AS calls,
    sum(cost) AS cost_usd,
    sum(cost) - sum(alt_dead_weight) AS savings_usd,
    'estimated' AS confidence,
    format('{} block(s) of at least 10000 tokens (the largest {} tokens, first sent on turn {} of the run) stayed in the prompt unchanged on {} calls after the 2 calls that first used them: {} tokens carried in all (tokens x calls); a 1000-token summary from then on would carry {} fewer. Whether a later turn still needed them is not recorded',
        toString(length(arrayDistinct(arrayFlatten(groupArray(dead_hashes))))),
        toString(max(largest_tokens)),
        toString(argMax(largest_first_turn, largest_tokens)),
        toString(count()), toString(sum(carried_tokens)), toString(sum(removed))) AS detail,
    'Clear or summarise large tool results once the agent has used them (replace the block with a short summary or a placeholder, e.g. context editing that clears old tool results), and check against your evals that later turns do not need it.'
        AS fix,
    min(timestamp) AS first_seen,
    max(timestamp) AS last_seen
FROM (
SELECT *,
    least(dropped, total_in) AS removed,
    least(removed, cache_read_tokens) AS removed_read,
    least(removed - removed_read, cache_write_1h_tokens) AS removed_w1,
    least(removed - removed_read - removed_w1, cache_write_5m_tokens) AS removed_w5,
    removed - removed_read - removed_w1 - removed_w5 AS removed_in,
    cost - removed_read * r_read - removed_w1 * r_w1 - removed_w5 * r_w5 - removed_in * r_in
      + if(drops > 0, (cache_read_tokens - removed_read) * (r_w5 - r_read)
                      + drops * 1000 * r_out, 0) AS alt_dead_weight
FROM (
SELECT run_id, service_name, model, call_id,
    any(timestamp) AS timestamp, any(cost) AS cost,
    any(r_in) AS r_in, any(r_read) AS r_read, any(r_w5) AS r_w5, any(r_w1) AS r_w1,
    any(r_out) AS r_out, any(input_tokens) AS input_tokens,
    any(cache_read_tokens) AS cache_read_tokens,
    any(cache_write_5m_tokens) AS cache_write_5m_tokens,
    any(cache_write_1h_tokens) AS cache_write_1h_tokens, any(total_in) AS total_in,
    groupArray(block_hash) AS dead_hashes,
    max(block_tokens) AS largest_tokens,
    argMax(first_turn, block_tokens) AS largest_first_turn,
    sum(block_tokens) AS carried_tokens,
    sum(block_tokens - least(block_tokens, 1000)) AS dropped,
    countIf(nth = 3) AS drops
FROM (
SELECT * FROM (
    SELECT *,
        row_number() OVER (PARTITION BY run_id, block_hash ORDER BY timestamp, call_id)
            AS nth,
        count() OVER (PARTITION BY run_id, block_hash) AS sending_calls,
        min(turn) OVER (PARTITION BY run_id, block_hash) AS first_turn
    FROM (
SELECT * EXCEPT (large), b.hash AS block_hash, b.tokens AS block_tokens
FROM (
SELECT run_id, service_name, model, call_id, timestamp, turn,
    assumeNotNull(cost_usd) AS cost,
    assumeNotNull(rate_input_usd) AS r_in,
    assumeNotNull(rate_cache_read_usd) AS r_read,
    assumeNotNull(rate_cache_write_5m_usd) AS r_w5,
    assumeNotNull(rate_cache_write_1h_usd) AS r_w1,
    assumeNotNull(rate_output_usd) AS r_out,
    input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
        AS total_in,
    arrayFilter(b -> b.tokens >= 10000, prefix_large_blocks) AS large
FROM (
WITH (SELECT argMax(tuple(model_key, effective_from, family, latest_keys, latest_index, tier_betas, tier_above, rate_input, rate_cache_write_5m, rate_cache_write_1h, rate_cache_read, rate_output, fee_web_search, fee_web_fetch), load_id) FROM model_price_slots) AS _price_all
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
                SELECT * EXCEPT (report_rank) FROM (
                    SELECT timestamp, call_id, run_id, service_name, turn, model, is_batch, speed, inference_geo, betas, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, web_search_requests, web_fetch_requests, prefix_large_blocks,
                        row_number() OVER (PARTITION BY call_id ORDER BY source_rank DESC) AS report_rank
                    FROM llm_call_reports
                    WHERE notEmpty(prefix_large_blocks) AND timestamp >= now64(9) - INTERVAL 30 DAY AND timestamp < now64(9) + INTERVAL 1 DAY
                      AND arrayExists(b -> b.tokens >= 10000, prefix_large_blocks)
                )
                WHERE report_rank = 1
            )
        )
    )
))
WHERE cost_usd IS NOT NULL)
ARRAY JOIN large AS b)
)
WHERE nth > 2 AND sending_calls >= 7)
GROUP BY run_id, service_name, model, call_id))
GROUP BY run_id, service_name, model
HAVING savings_usd > 0))
SETTINGS optimize_and_compare_chain = 0, query_plan_merge_expressions = 0, distributed_product_mode = 'global';
