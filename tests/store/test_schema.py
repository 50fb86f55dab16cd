"""The schema: migrations are versioned and idempotent; the printed DDL is valid."""

from __future__ import annotations

import re

from click.testing import CliRunner

from tokentrail.cli import cli
from tokentrail.store import Store, migrations


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


def _split(script: str) -> list[str]:
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip()]


def test_printed_ddl_applies_to_an_empty_store(tmp_path):
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    statements = _split(result.output)
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
    statements = _split(result.output)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    local = [s for s in creates if re.match(r"CREATE TABLE IF NOT EXISTS \w+_local ON CLUSTER", s)]
    distributed = [s for s in creates if "ENGINE = Distributed(`prod`" in s]
    assert local and len(local) == len(distributed)
    assert all("ENGINE = Replicated" in s for s in local)
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    # Materialized views fire on the shard that stores the raw rows: local to local.
    raw_local = re.compile(r"FROM otel_(traces|logs|metrics_sum)_local\b")
    assert views and all(raw_local.search(s) for s in views)
    assert all(re.search(r"\nTO \w+_local\n", s) for s in views)
    assert all(" ON CLUSTER `prod`" in s for s in statements)


def test_cluster_name_cannot_inject_sql():
    result = CliRunner().invoke(cli, ["schema", "--cluster", "x` ; DROP TABLE y; --"])
    assert result.exit_code == 0
    assert "ON CLUSTER `x\\` ; DROP TABLE y; --`" in result.output


def test_schema_apply_is_idempotent(tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["schema", "--apply", "--data", str(tmp_path / "d")])
    assert first.exit_code == 0, first.output
    assert "applied [1]" in first.output
    second = runner.invoke(cli, ["schema", "--apply", "--data", str(tmp_path / "d")])
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output
