"""deploy/retention.sql runs on a store tokentrail created, sets a TTL on every table
that grows with traffic, and leaves the store working: migrations still apply (none is
pending, and a later migration's idempotent steps do not trip over the TTL), data still
flows into llm_calls, and rows past their TTL go when parts merge."""

from __future__ import annotations

from tests.deploy.configs import DEPLOY
from tests.store.stores import ingest_sample, split_script
from tokentrail.store.migrations import runner

RETENTION = DEPLOY / "retention.sql"
# Kept by serve (cache events, the pages' run rollup, the insights' facts); a store
# whose migrations predate them has no such tables yet.
NOT_YET_EVERYWHERE = {"cache_events_stored", "run_rollup", "insight_facts", "insight_reads"}


def _table(statement: str) -> str:
    return statement.split()[2]


def _tables(store) -> dict[str, str]:
    """name -> partition key of the store's MergeTree-family tables."""
    return {row["name"]: row["partition_key"] for row in store.query(
        "SELECT name, partition_key FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree'")}


def _apply(store) -> set[str]:
    """Run the script's statements (its SET passed along as a setting: one client is no
    session); returns the tables it altered."""
    statements = split_script(RETENTION.read_text())
    (setting,) = [s for s in statements if s.startswith("SET ")]
    name, _, value = setting.removeprefix("SET ").partition(" = ")
    present, altered = _tables(store), set()
    for statement in statements:
        if statement is setting:
            continue
        table = _table(statement)
        if table not in present and table in NOT_YET_EVERYWHERE:
            continue
        store.client.command(statement, settings={name: value})
        altered.add(table)
    return altered


def test_retention_covers_every_table_that_grows_and_the_store_keeps_working(store):
    """Every partitioned table (they grow with traffic; the others hold one row per run,
    price or migration) gets a TTL and drops whole parts."""
    altered = _apply(store)
    growing = {name for name, key in _tables(store).items() if key}
    assert altered == growing
    definitions = {row["name"]: row["q"] for row in store.query(
        "SELECT name, create_table_query AS q FROM system.tables "
        "WHERE database = currentDatabase()")}
    for table in growing:
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
