"""The building blocks of migrations, on a store of release 0.1.0 holding data, on one
server and on a cluster: a demo migration that uses every block (add a column, give a
materialized view a new SELECT, re-create a view, re-derive old rows, create a table,
backfill it, a Python step) upgrades the old rows; interrupted at every step in turn
and run again it ends exactly like an uninterrupted run; applied twice it changes
nothing. The demo is rendered by the same code ``freeze`` uses and run by the real
runner; only its version (99) is never written to disk.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.store.stores import (
    LocalCluster,
    cluster_client,
    content_snapshot,
    create_release_store,
    ingest_sample,
)
from tests.store.test_upgrade import FailOnce, Interrupted
from tokentrail.store import Store, migrations, schema
from tokentrail.store.migrations import build as b
from tokentrail.store.migrations import model, runner

CLUSTER = "prod"  # the release cluster fixture's name

REPORTS = dataclasses.replace(
    schema.LLM_CALL_REPORTS,
    columns=schema.LLM_CALL_REPORTS.columns + ",\n    demo_trace_id_length UInt32 DEFAULT 0")
_FROM = "\nFROM {otel_traces}"
assert schema.LLM_CALLS_FROM_TRACES_MV.select.count(_FROM) == 1
TRACES_MV = dataclasses.replace(
    schema.LLM_CALLS_FROM_TRACES_MV,
    select=schema.LLM_CALLS_FROM_TRACES_MV.select.replace(
        _FROM, ",\n    toUInt32(length(TraceId)) AS demo_trace_id_length" + _FROM))
CALL_MODELS = schema.Table(name="demo_call_models", columns="""
    call_id String,
    model LowCardinality(String)""", order_by="(call_id)", shard_key="cityHash64(call_id)")
DEMO_PRICES = schema.Table(name="demo_prices", columns="""
    model String,
    usd_per_mtok Float64""", engine="ReplacingMergeTree", order_by="(model)")


class DemoSteps:
    """The demo's Python step: loads one price row, idempotently; fails its first call
    when ``flaky`` (an interruption SQL cannot cause)."""

    def __init__(self, flaky: bool = False) -> None:
        self.flaky, self.calls = flaky, 0

    def load_demo_prices(self, ctx: runner.Context) -> None:
        self.calls += 1
        if self.flaky and self.calls == 1:
            raise Interrupted("the python step died half-way")
        have = ctx.query("SELECT count() AS n FROM demo_prices WHERE model = {m:String}",
                         {"m": "claude-sonnet-4-5"})
        if not have[0]["n"]:
            ctx.insert("demo_prices", [["claude-sonnet-4-5", 3.0]], ["model", "usd_per_mtok"])


def demo_migration(steps: DemoSteps) -> model.Migration:
    single, cluster = b.render([
        b.add_columns(REPORTS, "demo_trace_id_length"),
        b.replace_materialized_view(TRACES_MV),
        b.replace_view(schema.LLM_CALLS),
        b.rederive(TRACES_MV),
        b.create(CALL_MODELS, DEMO_PRICES),
        b.backfill("demo_call_models", ["call_id", "model"], "SELECT call_id, model FROM llm_calls",
                   key="call_id"),
        b.python_step("load_demo_prices"),
    ])
    # Round trip through the frozen file format, as a real migration is loaded.
    single = model.parse_steps(model.format_steps(single))
    cluster = model.parse_steps(model.format_steps(cluster))
    return model.Migration(99, "demo", single, cluster, "", module=steps)


def _old_store(tmp_path, name: str, kind: str) -> Store:
    """A 0.1.0 store with the sample, upgraded by the real migrations."""
    if kind == "cluster":
        store = Store(LocalCluster(cluster_client(tmp_path / name, CLUSTER)))
    else:
        store = Store.open(f"chdb://{tmp_path / name}", migrate=False)
    create_release_store(store.client, cluster=kind == "cluster")
    ingest_sample(store)
    store.migrate()
    return store


def _cluster(kind: str) -> str | None:
    return CLUSTER if kind == "cluster" else None


@pytest.mark.parametrize("kind", ["server", "cluster"])
def test_demo_migration_upgrades_old_rows(tmp_path, kind):
    store = _old_store(tmp_path, "a", kind)
    try:
        calls_before = store.query("SELECT call_id, source FROM llm_calls")
        steps = DemoSteps()
        every = [*migrations.all_migrations(), demo_migration(steps)]
        assert runner.migrate(store.client, _cluster(kind), every) == [99]
        assert steps.calls == 1
        rows = store.query("SELECT call_id, source, demo_trace_id_length FROM llm_calls")
        assert {(r["call_id"], r["source"]) for r in rows} == {
            (r["call_id"], r["source"]) for r in calls_before}
        from_traces = {"anthropic-sdk", "claude-code-trace"}
        lengths = {r["source"] in from_traces: set() for r in rows}
        for r in rows:
            lengths[r["source"] in from_traces].add(r["demo_trace_id_length"])
        assert lengths == {True: {32}, False: {0}}  # re-derived old rows; logs: the default
        models = store.query("SELECT call_id, model FROM demo_call_models ORDER BY call_id")
        assert len(models) == len(rows) == len({m["call_id"] for m in models})
        assert store.query("SELECT * FROM demo_prices") == [
            {"model": "claude-sonnet-4-5", "usd_per_mtok": 3.0}]
        ingest_sample(store, first=50)  # new rows go through the new SELECT
        new = store.query("SELECT demo_trace_id_length FROM llm_calls WHERE call_id = 'msg_50'")
        assert new == [{"demo_trace_id_length": 32}]
        assert runner.migrate(store.client, _cluster(kind), every) == []
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["server", "cluster"])
def test_demo_migration_interrupted_at_every_step_ends_like_an_uninterrupted_run(
        tmp_path, kind):
    reference = _old_store(tmp_path, "reference", kind)
    try:
        every = [*migrations.all_migrations(), demo_migration(DemoSteps())]
        assert runner.migrate(reference.client, _cluster(kind), every) == [99]
        expected = content_snapshot(reference.client)
    finally:
        reference.close()

    store = _old_store(tmp_path, "interrupted", kind)
    try:
        steps = DemoSteps(flaky=True)
        demo = demo_migration(steps)
        every = [*migrations.all_migrations(), demo]
        for fail_at in range(len(demo.statements(_cluster(kind)))):
            flaky = FailOnce(store.client, fail_at, _cluster(kind))
            with pytest.raises(Interrupted):
                runner.migrate(flaky, _cluster(kind), every)
            assert flaky.failed and 99 not in runner.recorded(store.client)
        with pytest.raises(Interrupted, match="python step"):  # the step SQL can't fail
            runner.migrate(store.client, _cluster(kind), every)
        assert 99 not in runner.recorded(store.client)
        assert runner.migrate(store.client, _cluster(kind), every) == [99]
        assert content_snapshot(store.client) == expected

        # Applied twice: the steps run again on the finished store and change nothing.
        runner.apply(demo, runner.Context(store.client, _cluster(kind)))
        assert content_snapshot(store.client) == expected
    finally:
        store.close()
