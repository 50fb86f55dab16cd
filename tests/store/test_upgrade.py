"""A store of release 0.1.0 with data in it opens under the current tokentrail with its
rows intact and the current schema working on them (issue 10 §2).

The comparisons are generic, so every later migration is checked by the same tests:
the upgraded store must have the same objects, columns and *content* (every table,
read FINAL where rows collapse, and every view) as a store created now that ingested
the same data. A migration that adds a derived column but does not fill it for old
rows, or forgets a view, fails here.
"""

from __future__ import annotations

import pytest

from tests.store.stores import (
    MIGRATIONS_TABLE,
    LocalCluster,
    cluster_client,
    content_snapshot,
    create_release_store,
    ingest_sample,
    is_ddl,
    schema_snapshot,
)
from tokentrail.store import Store, migrations
from tokentrail.store.migrations import runner

RELEASED = 1  # the last migration release 0.1.0 had


def _later_versions() -> list[int]:
    return [m.version for m in migrations.all_migrations() if m.version > RELEASED]


def _fresh_reference(dsn: str) -> tuple[dict, dict]:
    """Schema and content of a store created by this tokentrail, given the sample."""
    store = Store.open(dsn)
    try:
        ingest_sample(store)
        return schema_snapshot(store.client), content_snapshot(store.client)
    finally:
        store.close()


def _release_store(dsn: str) -> dict:
    """A 0.1.0 store holding the sample; returns its raw tables' rows."""
    store = Store.open(dsn, migrate=False)
    try:
        create_release_store(store.client)
        ingest_sample(store)
        before = content_snapshot(store.client)
        assert before["llm_calls"], "the 0.1.0 views derived no calls from the sample"
        return before
    finally:
        store.close()


def test_release_store_upgrades_with_its_rows(tmp_path):
    schema_now, content_now = _fresh_reference(f"chdb://{tmp_path / 'fresh'}")
    before = _release_store(f"chdb://{tmp_path / 'old'}")

    store = Store.open(f"chdb://{tmp_path / 'old'}", migrate=False)
    try:
        assert store.migrate() == _later_versions()
        assert schema_snapshot(store.client) == schema_now
        after = content_snapshot(store.client)
        for table in ("otel_traces", "otel_logs", "otel_metrics_sum", "llm_call_reports"):
            assert before[table], f"the sample put nothing in {table}"
            assert len(after[table]) == len(before[table]), f"{table} lost or gained rows"
        assert after == content_now, (
            "the upgraded store does not read like a store created now with the same "
            "data: a migration changed a derived table or view without re-deriving old rows")
        versions = {m.version: m.checksum for m in migrations.all_migrations()}
        recorded = runner.recorded(store.client)
        assert set(recorded) == set(versions)
        assert recorded[RELEASED] == ""  # 0.1.0 recorded no checksum
        assert all(recorded[v] == versions[v] for v in _later_versions())
        assert store.schema_version() == max(versions)
        # What arrives after the upgrade is derived by the current views, beside the old.
        ingest_sample(store, first=50)
        ids = {r["call_id"] for r in store.query("SELECT call_id FROM llm_calls")}
        assert {"msg_1", "msg_2", "msg_3", "msg_50", "msg_51", "msg_52"} <= ids
    finally:
        store.close()


def test_upgrade_interrupted_at_every_step_completes(tmp_path):
    """Fail each statement of the upgrade once in turn (as a crash or a lost connection
    would), run the upgrade again each time: it completes and the store ends like a
    fresh one."""
    later = [m for m in migrations.all_migrations() if m.version > RELEASED]
    steps = sum(len(m.statements()) for m in later)  # SQL statements; python steps aside
    if not steps:
        pytest.skip("no migration after release 0.1.0 yet (test_upgrade_blocks.py "
                    "interrupts a demo migration at every step)")
    _, content_now = _fresh_reference(f"chdb://{tmp_path / 'fresh'}")
    _release_store(f"chdb://{tmp_path / 'old'}")
    store = Store.open(f"chdb://{tmp_path / 'old'}", migrate=False)
    try:
        done = 0  # statements of the migrations that completed (a rerun skips them)
        for fail_at in range(steps):
            flaky = FailOnce(store.client, fail_at - done)
            with pytest.raises(Interrupted):
                runner.migrate(flaky, None)
            assert flaky.failed
            recorded = runner.recorded(store.client)
            done = sum(len(m.statements()) for m in later if m.version in recorded)
        runner.migrate(store.client, None)
        assert set(_later_versions()) <= set(runner.recorded(store.client))
        assert content_snapshot(store.client) == content_now
    finally:
        store.close()


class Interrupted(RuntimeError):
    pass


class FailOnce:
    """A client whose ``fail_at``-th migration statement (the bookkeeping table's DDL
    not counted) fails, once."""

    def __init__(self, client, fail_at: int, cluster: str | None = None) -> None:
        self.client, self.fail_at, self.seen, self.failed = client, fail_at, 0, False
        self.bootstrap = set(runner.bootstrap_statements(cluster))

    def command(self, sql, *args, **kwargs):
        if sql not in self.bootstrap:
            self.seen += 1
            if self.seen - 1 == self.fail_at:
                self.failed = True
                raise Interrupted(f"interrupted before: {sql[:60]}")
        return self.client.command(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


# --- the same on a cluster (chDB as a one-shard cluster; see tests/store/stores.py) ---

def test_release_cluster_store_upgrades_with_its_rows(tmp_path):
    """0.1.0's ``schema --apply --cluster prod`` store, data ingested through its
    Distributed tables, opened by the current Store: it finds the cluster itself and
    migrates ON CLUSTER; rows and reads match a cluster store created now."""
    fresh = Store(LocalCluster(cluster_client(tmp_path / "fresh", "prod")))
    try:
        assert fresh.migrate("prod") == [m.version for m in migrations.all_migrations()]
        assert runner.detect_cluster(fresh.client) == "prod"
        ingest_sample(fresh)
        schema_now, content_now = schema_snapshot(fresh.client), content_snapshot(fresh.client)
    finally:
        fresh.close()
    assert "llm_call_reports_local" in schema_now["objects"]
    assert "Distributed('prod'" in schema_now["objects"]["llm_call_reports"]
    assert content_now["llm_calls"], "no calls read through the Distributed tables"
    assert content_now["llm_call_reports_local"] and content_now["otel_traces_local"]

    old = Store(LocalCluster(cluster_client(tmp_path / "old", "prod")))
    try:
        create_release_store(old.client, cluster=True)
        ingest_sample(old)
        before = content_snapshot(old.client)
        client = old.client
        assert old.migrate() == [m.version for m in migrations.all_migrations()]
        # 0.1.0 recorded nothing on a cluster: migration 1 ran again as a no-op, ON CLUSTER.
        ran = client.commands[-len(migrations.statements("prod")):]
        assert ran == migrations.statements("prod")
        assert all(" ON CLUSTER `prod`" in sql for sql in ran if is_ddl(sql))
        assert schema_snapshot(old.client) == schema_now
        after = content_snapshot(old.client)
        assert after["otel_traces_local"] == before["otel_traces_local"]
        assert after == content_now
        assert old.migrate() == []
        assert set(runner.recorded(old.client)) == {
            m.version for m in migrations.all_migrations()}
    finally:
        old.close()


def test_migrations_table_is_the_release_one_plus_a_checksum(tmp_path):
    """The bookkeeping table of a 0.1.0 store gains the checksum column; its row stays."""
    _release_store(f"chdb://{tmp_path / 'old'}")
    store = Store.open(f"chdb://{tmp_path / 'old'}")
    try:
        columns = [r["name"] for r in store.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = {t:String} ORDER BY position", {"t": MIGRATIONS_TABLE})]
        assert columns == ["version", "name", "applied_at", "checksum"]
        rows = store.query(f"SELECT version, name FROM {MIGRATIONS_TABLE} FINAL "
                           "WHERE version = 1")
        assert rows == [{"version": 1, "name": "raw OpenTelemetry tables and llm_calls"}]
    finally:
        store.close()
