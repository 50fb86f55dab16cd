-- Migration 7: web UI reads: run_rollup kept by serve, UI columns in calls_by_run, llm_calls GLOBAL IN.
-- Frozen by `python -m tokentrail.store.migrations freeze m0007_run_rollup` from the live
-- definitions. Never edit: change the schema with a new migration.
-- `__CLUSTER__` stands for the cluster's quoted name.

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__` DROP PROJECTION IF EXISTS calls_by_run SETTINGS mutations_sync = 2;

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__` ADD PROJECTION IF NOT EXISTS calls_by_run (SELECT run_id, timestamp, call_id, source_rank, family_rank, service_name, source, turn, model, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, duration_ms, is_batch, reported_cost_usd, prefix_tools_hash, prefix_system_hash, prefix_params_hash, prefix_message_hashes, prefix_message_count, prefix_block_count, prefix_block_tokens, prefix_tokens, cache_breakpoints, cache_ttls, cache_automatic, prefix_change_level, prefix_change_params, prefix_change_message, prefix_change_block, prefix_change_char, prefix_change_hint, cache_miss_reason, cache_missed_input_tokens, betas, speed, inference_geo, web_search_requests, web_fetch_requests, stop_reason, run_name, parent_run_id ORDER BY run_id, timestamp);

ALTER TABLE llm_call_reports_local ON CLUSTER `__CLUSTER__` MATERIALIZE PROJECTION calls_by_run SETTINGS mutations_sync = 2;

CREATE OR REPLACE VIEW llm_calls ON CLUSTER `__CLUSTER__`
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

CREATE TABLE IF NOT EXISTS run_rollup_local ON CLUSTER `__CLUSTER__`
(
    run_id String,
    day Date,
    service_name LowCardinality(String),
    model LowCardinality(String),
    source LowCardinality(String),
    run_name String,
    parent_run_id String,
    calls UInt64,
    input_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_5m_tokens UInt64,
    cache_write_1h_tokens UInt64,
    output_tokens UInt64,
    cost_usd Float64,
    unpriced_calls UInt64,
    cost_uncached_usd Float64,
    events UInt64,
    events_cost_usd Float64,
    unpriced_events UInt64,
    first_at DateTime64(9),
    last_at DateTime64(9),
    version UInt64,
    is_deleted UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/run_rollup_local', '{replica}', version, is_deleted)
PARTITION BY toYYYYMM(day)
ORDER BY (run_id, day, service_name, model, source);

CREATE TABLE IF NOT EXISTS run_rollup ON CLUSTER `__CLUSTER__` AS run_rollup_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), run_rollup_local, cityHash64(run_id));

CREATE TABLE IF NOT EXISTS run_rollup_runs_local ON CLUSTER `__CLUSTER__`
(
    run_id String,
    rolled_through DateTime64(3),
    price_load UInt64,
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/run_rollup_runs_local', '{replica}', version)
ORDER BY (run_id);

CREATE TABLE IF NOT EXISTS run_rollup_runs ON CLUSTER `__CLUSTER__` AS run_rollup_runs_local
ENGINE = Distributed(`__CLUSTER__`, currentDatabase(), run_rollup_runs_local, cityHash64(run_id));
