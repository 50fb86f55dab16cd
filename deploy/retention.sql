-- Retention for a tokentrail store on a ClickHouse server (deploy/README.md, "Retention").
-- tokentrail's schema sets no TTL: how long to keep data is the operator's decision.
-- Apply once with any ClickHouse client, e.g.
--   clickhouse-client --multiquery < deploy/retention.sql
-- and again with other intervals to change them. On a cluster, run each statement on
-- the *_local table with ON CLUSTER NAME (the Distributed tables hold no rows).
--
-- Raw OpenTelemetry rows (spans, logs, metrics) are what llm_calls was derived from at
-- insert time; once derived, dropping them loses the span detail, not the calls. Keep
-- them as long as you want to re-derive or debug; keep the calls for the reports.
-- ttl_only_drop_parts: every table here is partitioned by day, week or month, so
-- expired data goes as whole parts (cheap), never by rewriting parts row by row.
-- MODIFY TTL rewrites nothing: materialize_ttl_after_modify = 0 leaves existing parts to
-- expire at their next merge, instead of a mutation over the whole table now.

SET materialize_ttl_after_modify = 0;

ALTER TABLE otel_traces MODIFY TTL toDateTime(Timestamp) + INTERVAL 30 DAY;
ALTER TABLE otel_traces MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE otel_traces_trace_id_ts MODIFY TTL Start + INTERVAL 30 DAY;
ALTER TABLE otel_traces_trace_id_ts MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE otel_logs MODIFY TTL TimestampTime + INTERVAL 30 DAY;
ALTER TABLE otel_logs MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE otel_metrics_gauge MODIFY TTL toDateTime(TimeUnix) + INTERVAL 30 DAY;
ALTER TABLE otel_metrics_gauge MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE otel_metrics_sum MODIFY TTL toDateTime(TimeUnix) + INTERVAL 30 DAY;
ALTER TABLE otel_metrics_sum MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE otel_metrics_histogram MODIFY TTL toDateTime(TimeUnix) + INTERVAL 30 DAY;
ALTER TABLE otel_metrics_histogram MODIFY SETTING ttl_only_drop_parts = 1;

-- One row per API call and the cache events judged from them: 13 months.
ALTER TABLE llm_call_reports MODIFY TTL toDateTime(timestamp) + INTERVAL 13 MONTH;
ALTER TABLE llm_call_reports MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE cache_events_stored MODIFY TTL toDateTime(timestamp) + INTERVAL 13 MONTH;
ALTER TABLE cache_events_stored MODIFY SETTING ttl_only_drop_parts = 1;

-- What serve keeps from the calls for the pages and the insights (per run and day, and
-- every call that read the cache): as long as the calls they summarise.
ALTER TABLE run_rollup MODIFY TTL day + INTERVAL 13 MONTH;
ALTER TABLE run_rollup MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE insight_facts MODIFY TTL day + INTERVAL 13 MONTH;
ALTER TABLE insight_facts MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE insight_reads MODIFY TTL toDateTime(timestamp) + INTERVAL 13 MONTH;
ALTER TABLE insight_reads MODIFY SETTING ttl_only_drop_parts = 1;
