"""deploy/retention.sql runs on a store tokentrail created, sets a TTL on every table
that grows with traffic, and leaves the store working: migrations still apply (none is
pending, and a later migration's idempotent steps do not trip over the TTL), data still
flows into llm_calls, and rows past their TTL go when parts merge."""

from __future__ import annotations

from tests.deploy.configs import DEPLOY
from tests.store.stores import ingest_sample, split_script
from tokentrail.store.migrations import runner

RETENTION = DEPLOY / "retention.sql"
GROWING = ("otel_traces", "otel_traces_trace_id_ts", "otel_logs", "otel_metrics_gauge",
           "otel_metrics_sum", "otel_metrics_histogram", "llm_call_reports",
           "cache_events_stored")


def _apply(store) -> None:
    statements = split_script(RETENTION.read_text())
    (setting,) = [s for s in statements if s.startswith("SET ")]
    name, _, value = setting.removeprefix("SET ").partition(" = ")
    for statement in statements:
        if statement is not setting:  # one client, one session: pass the SET along
            store.client.command(statement, settings={name: value})


def test_retention_applies_and_the_store_keeps_working(store):
    _apply(store)
    definitions = {row["name"]: row["q"] for row in store.query(
        "SELECT name, create_table_query AS q FROM system.tables "
        "WHERE database = currentDatabase()")}
    for table in GROWING:
        assert " TTL " in definitions[table], table
        assert "ttl_only_drop_parts = 1" in definitions[table], table
    assert store.migrate() == []
    assert runner.recorded(store.client)  # the bookkeeping is intact
    ingest_sample(store)
    assert store.query("SELECT count() AS n FROM llm_calls")[0]["n"] > 0


def test_expired_rows_go_at_the_next_merge(store):
    """The sample's spans are from 2026-11 (tests/otlp.NOW_NS); a TTL of one day from
    their timestamp has passed, so OPTIMIZE (a merge) drops them, while the calls
    derived from them stay."""
    ingest_sample(store)
    calls = store.query("SELECT count() AS n FROM llm_calls")[0]["n"]
    store.client.command("ALTER TABLE otel_traces MODIFY TTL toDateTime(Timestamp) + "
                         "INTERVAL 1 DAY", settings={"materialize_ttl_after_modify": 0})
    assert store.query("SELECT count() AS n FROM otel_traces")[0]["n"] > 0
    store.client.command("OPTIMIZE TABLE otel_traces FINAL")
    assert store.query("SELECT count() AS n FROM otel_traces")[0]["n"] == 0
    assert store.query("SELECT count() AS n FROM llm_calls")[0]["n"] == calls
