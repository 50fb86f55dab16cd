"""The schema: migrations are frozen, versioned and idempotent; they build exactly the
live definitions; the printed DDL is valid on one server and parses for a cluster."""

from __future__ import annotations

import logging
import re
import sys
import textwrap

import pytest
from click.testing import CliRunner

from tests.store.stores import (
    RELEASE_0_1_0,
    RELEASE_0_1_0_CLUSTER,
    RELEASE_CLUSTER_NAME,
    LocalCluster,
    cluster_client,
    is_ddl,
    schema_snapshot,
    split_script,
)
from tokentrail.cli import cli
from tokentrail.store import Store, StoreError, migrations, schema
from tokentrail.store.migrations import freeze, model, runner

# The checksum of every released migration. A released migration never changes (stores
# in the field ran it); change the schema with a new one. When a version is released,
# add its checksum here (`python -m tokentrail.store.migrations check` prints none if the
# files match their modules' CHECKSUM; the module has it).
RELEASED_CHECKSUMS = {
    1: "07a373848c9b6da9e82cde23137a8f53f94bc33a03e47f104240a7d64e12d075",  # 0.1.0
}


def test_released_migrations_are_unchanged():
    current = {m.version: m.checksum for m in migrations.all_migrations()}
    for version, expected in RELEASED_CHECKSUMS.items():
        assert current.get(version) == expected, (
            f"released migration {version} changed: add a new migration instead")


def test_every_migration_matches_its_declared_checksum():
    assert freeze.check() == []


def test_migration_1_is_exactly_the_release_schema():
    """Release 0.1.0's printed DDL, minus the bookkeeping table, is migration 1, on one
    server and on a cluster (the fixtures are that release's own output)."""
    first = migrations.all_migrations()[0]
    release = split_script(RELEASE_0_1_0.read_text())
    assert release[0].startswith("CREATE TABLE IF NOT EXISTS tokentrail_schema_migrations\n")
    assert first.statements() == release[1:]
    release_cluster = split_script(RELEASE_0_1_0_CLUSTER.read_text())
    assert first.statements(RELEASE_CLUSTER_NAME) == release_cluster[2:]
    assert runner.bootstrap_statements()[0] == release[0]
    assert runner.bootstrap_statements(RELEASE_CLUSTER_NAME)[:2] == release_cluster[:2]


def test_versions_are_ordered_and_unique():
    versions = [m.version for m in migrations.all_migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_migrations_apply_once_and_survive_reopen(tmp_path):
    dsn = f"chdb://{tmp_path / 'data'}"
    store = Store.open(dsn, migrate=False)
    assert store.migrate() == [m.version for m in migrations.all_migrations()]
    assert store.migrate() == []
    store.close()
    store = Store.open(dsn)  # migrate=True on an up-to-date store is a no-op
    try:
        assert store.schema_version() == migrations.all_migrations()[-1].version
        assert store.migrate() == []
    finally:
        store.close()


def test_printed_ddl_applies_to_an_empty_store(tmp_path):
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    statements = split_script(result.output)
    store = Store.open(f"chdb://{tmp_path / 'data'}", migrate=False)
    try:
        for statement in statements:
            store.client.command(statement)
        tables = {row["name"] for row in store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()")}
    finally:
        store.close()
    assert {
        "otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv", "otel_logs",
        "otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram",
        "llm_call_reports", "llm_calls", "llm_calls_from_traces_mv",
    } <= tables


def test_exporter_compatible_columns(store):
    """Column names and types of the raw tables match the OpenTelemetry Collector
    ClickHouse exporter's (docs/facts.md §7), so a stock Collector can insert into them."""
    columns = {
        row["name"]: row["type"]
        for row in store.query(
            "SELECT name, type FROM system.columns WHERE table = 'otel_traces' "
            "AND database = currentDatabase()")
    }
    assert columns["Timestamp"] == "DateTime64(9)"
    assert columns["SpanAttributes"] == "Map(LowCardinality(String), String)"
    assert columns["ResourceAttributes"] == "Map(LowCardinality(String), String)"
    assert columns["Duration"] == "UInt64"
    assert columns["Events.Timestamp"] == "Array(DateTime64(9))"
    assert columns["Links.TraceId"] == "Array(String)"
    for name in ("TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
                 "ServiceName", "ScopeName", "ScopeVersion", "StatusCode", "StatusMessage"):
        assert name in columns


def test_cluster_variant_is_replicated_and_distributed():
    result = CliRunner().invoke(cli, ["schema", "--cluster", "prod"])
    assert result.exit_code == 0, result.output
    statements = split_script(result.output)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    local = [s for s in creates if re.match(r"CREATE TABLE IF NOT EXISTS \w+_local ON CLUSTER", s)]
    distributed = [s for s in creates if "ENGINE = Distributed(`prod`" in s]
    assert local and len(local) == len(distributed)
    assert all("ENGINE = Replicated" in s for s in local)
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    # Materialized views fire on the shard that stores the raw rows: local to local.
    raw_local = re.compile(r"FROM \w+_local\b")
    assert views and all(raw_local.search(s) for s in views)
    assert all(re.search(r"\nTO \w+_local\n", s) for s in views)
    assert all(" ON CLUSTER `prod`" in s for s in statements if is_ddl(s))


def test_cluster_name_cannot_inject_sql():
    result = CliRunner().invoke(cli, ["schema", "--cluster", "x` ; DROP TABLE y; --"])
    assert result.exit_code == 0
    assert "ON CLUSTER `x\\` ; DROP TABLE y; --`" in result.output


def test_schema_apply_is_idempotent(tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["schema", "--apply", "--data", str(tmp_path / "d")])
    assert first.exit_code == 0, first.output
    assert f"applied {[m.version for m in migrations.all_migrations()]}" in first.output
    second = runner.invoke(cli, ["schema", "--apply", "--data", str(tmp_path / "d")])
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output


def _live_schema(client) -> None:
    for sql in runner.bootstrap_statements():
        client.command(sql)
    for sql in schema.live_statements():
        client.command(sql)


def test_migrations_build_the_live_schema(tmp_path):
    """A store built by the migrations equals one created from the live definitions
    (schema.LIVE_OBJECTS, normalize.py): a change of those without a migration fails here,
    because stores would never get it (see tokentrail/store/migrations/__init__.py)."""
    migrated = Store.open(f"chdb://{tmp_path / 'migrated'}")
    try:
        by_migrations = schema_snapshot(migrated.client)
    finally:
        migrated.close()
    live = Store.open(f"chdb://{tmp_path / 'live'}", migrate=False)
    try:
        _live_schema(live.client)
        by_live = schema_snapshot(live.client)
    finally:
        live.close()
    assert set(by_migrations["objects"]) == set(by_live["objects"])
    for name, definition in by_live["objects"].items():
        assert by_migrations["objects"][name] == definition, (
            f"{name} differs from its live definition: add a migration "
            "(python -m tokentrail.store.migrations new ...)")
    assert by_migrations == by_live


def test_cluster_migrations_build_the_live_cluster_schema(tmp_path):
    """The same on a cluster (chDB as a one-shard cluster; see tests/store/stores.py)."""
    migrated = Store(LocalCluster(cluster_client(tmp_path / "migrated", "prod")))
    try:
        migrated.migrate("prod")
        by_migrations = schema_snapshot(migrated.client)
    finally:
        migrated.close()
    live = Store(LocalCluster(cluster_client(tmp_path / "live", "prod")))
    try:
        for sql in runner.bootstrap_statements("prod") + schema.live_statements("prod"):
            live.client.command(sql)
        by_live = schema_snapshot(live.client)
    finally:
        live.close()
    assert by_migrations == by_live
    engines = by_live["objects"]
    assert "ENGINE = Distributed('prod'" in engines["llm_call_reports"]
    assert "TO default.llm_call_reports_local" in engines["llm_calls_from_traces_mv"]
    assert "FROM default.otel_traces_local" in engines["llm_calls_from_traces_mv"]


def test_cluster_rendering_is_parsed_by_the_engine(store):
    """Every statement of `tokentrail schema --cluster` (ON CLUSTER, Replicated engines
    with their ZooKeeper paths and macros) goes through ClickHouse's own parser, and the
    parsed statement still says ON CLUSTER and Replicated: what chDB cannot execute is at
    least valid SQL for a server."""
    result = CliRunner().invoke(cli, ["schema", "--cluster", "prod"])
    assert result.exit_code == 0, result.output
    statements = split_script(result.output)
    assert len(statements) == len(migrations.statements("prod"))
    for statement in statements:
        (row,) = store.query("SELECT formatQuery({q:String}) AS f", {"q": statement})
        assert is_ddl(statement) == ("ON CLUSTER prod" in row["f"]), statement[:80]
        if "_local ON CLUSTER" in statement and statement.startswith("CREATE TABLE"):
            assert "ENGINE = Replicated" in row["f"]
    with pytest.raises(Exception, match="Syntax error"):
        store.query("SELECT formatQuery({q:String})", {"q": "CREATE TABLE x ON CLUSTER"})


def test_every_view_reads_on_a_cluster_of_two_shards(tmp_path):
    """On a cluster of two shards every view must read through the Distributed tables.
    0.1.0's llm_calls used `IN (SELECT … FROM llm_call_reports)`, a Distributed table
    inside a query on one, which ClickHouse refuses on more than one shard
    (distributed_product_mode = 'deny'); migration 7 re-created it with GLOBAL IN.
    (Both shards are this chDB, so rows read double: only whether a view reads counts.)"""
    store = Store(LocalCluster(cluster_client(tmp_path, "prod", shards=2)))
    try:
        store.migrate("prod")
        views = [r["name"] for r in store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND engine = 'View'")]
        assert "llm_calls" in views
        failing = {}
        for view in views:
            try:
                store.query(f"SELECT * FROM {view} LIMIT 1")
            except Exception as exc:
                failing[view] = str(exc).split("\n")[0][:200]
    finally:
        store.close()
    assert not failing, failing


def test_a_changed_released_migration_is_logged(store, caplog):
    store.insert(runner.TABLE, [[1, "x", "0" * 64]], ["version", "name", "checksum"])
    with caplog.at_level(logging.WARNING, logger=runner.__name__):
        assert store.migrate() == []
    assert "schema migration 1 was applied to this store with different SQL" in caplog.text
    assert "checksum 000000000000" in caplog.text


def test_a_version_from_a_newer_tokentrail_is_logged(store, caplog):
    store.insert(runner.TABLE, [[999, "future", "ab"]], ["version", "name", "checksum"])
    with caplog.at_level(logging.WARNING, logger=runner.__name__):
        assert store.migrate() == []
    assert "schema version 999, which this tokentrail does not know" in caplog.text


def test_migrate_records_the_checksums(store):
    recorded = runner.recorded(store.client)
    assert recorded == {m.version: m.checksum for m in migrations.all_migrations()}


def test_failed_upgrade_is_a_store_error_naming_the_cluster(tmp_path):
    """chDB knows no cluster: `schema --apply --cluster` fails with ClickHouse's reason."""
    result = CliRunner().invoke(cli, ["schema", "--apply", "--cluster", "nope",
                                      "--data", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: upgrading the schema on cluster nope failed:")
    assert "Traceback" not in result.output
    store = Store.open(f"chdb://{tmp_path / 'e'}", migrate=False)
    try:
        with pytest.raises(StoreError, match="on cluster nope failed"):
            store.migrate("nope")
    finally:
        store.close()


# --- the frozen file format and the developer commands ------------------------------

def test_frozen_file_format_round_trips():
    steps = ("CREATE TABLE a\n(\n    x UInt8\n)\nENGINE = MergeTree ORDER BY x",
             model.PythonCall("load"), "SELECT 'a;b'")
    text = "-- header\n\n" + model.format_steps(steps)
    assert model.parse_steps(text) == steps
    with pytest.raises(model.MigrationFileError, match="does not end with ';'"):
        model.parse_steps("SELECT 1;\nSELECT 2")
    with pytest.raises(model.MigrationFileError, match="bad python step"):
        model.parse_steps("-- python: not a name\n")


def test_new_and_freeze_write_a_migration(tmp_path, monkeypatch):
    package = tmp_path / "demo_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = freeze.new(7, "demo_views", "demo", directory=package)
    assert path.name == "m0007_demo_views.py"
    with pytest.raises(SystemExit, match="taken"):
        freeze.new(7, "other", "demo", directory=package)
    path.write_text(path.read_text().replace("    return [\n", textwrap.dedent("""\
        def load(ctx):
            pass


        def build():
            return [
                b.add_columns(schema.LLM_CALL_REPORTS, "model", "turn"),
                b.python_step("load"),
                b.replace_view(schema.LLM_CALLS),
        """), 1).replace("def build() -> list[b.Piece]:\n", "", 1))
    digest = freeze.freeze("m0007_demo_views", package="demo_migrations")
    module = sys.modules["demo_migrations.m0007_demo_views"]
    migration = model.load_files(module, 7)
    assert migration.checksum == digest
    assert f'CHECKSUM = "{digest}"' in path.read_text()
    assert migration.steps()[1] == model.PythonCall("load")
    assert migration.steps()[0].startswith("ALTER TABLE llm_call_reports\n"
                                           "    ADD COLUMN IF NOT EXISTS model ")
    cluster = migration.statements("c1")
    assert cluster[0].startswith("ALTER TABLE llm_call_reports_local ON CLUSTER `c1`")
    assert cluster[1].startswith("ALTER TABLE llm_call_reports ON CLUSTER `c1`")
    assert cluster[2].startswith("CREATE OR REPLACE VIEW llm_calls ON CLUSTER `c1`")
    with pytest.raises(SystemExit, match="frozen already"):
        freeze.freeze("m0007_demo_views", package="demo_migrations")
