"""deploy/otelcol: the Collector configs parse, name only components the contrib
distribution has (tests/deploy/otelcol_contrib.py, with its source), wire every
pipeline to defined components with the settings that keep data safe, and write into
tables tokentrail's schema has. No Collector binary runs here: what its own config
validation would add (each component's full settings) is left to `otelcol-contrib
validate --config ...` where one is installed (deploy/README.md)."""

from __future__ import annotations

import pytest

from tests.deploy.configs import OTELCOL_DIR, yaml_documents
from tests.deploy.otelcol_contrib import (
    CLICKHOUSE_EXPORTER_SETTINGS,
    CLICKHOUSE_METRICS_TABLES,
    COMPONENTS,
)

CONFIGS = sorted(OTELCOL_DIR.glob("*.yaml"))
KINDS = ("receivers", "processors", "exporters", "extensions")


def _config(path):
    (config,) = yaml_documents(path)
    return config


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def test_both_topologies_are_there():
    assert [p.name for p in CONFIGS] == ["to-clickhouse.yaml", "to-tokentrail.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_only_contrib_components(path):
    config = _config(path)
    assert set(config) <= {*KINDS, "service", "connectors"}
    for kind in KINDS:
        unknown = {c for c in config.get(kind, {}) if _type(c) not in COMPONENTS[kind]}
        assert not unknown, f"{path.name}: {kind} {unknown} are not in the contrib list"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pipelines_use_defined_components_and_every_defined_one_is_used(path):
    config = _config(path)
    service = config["service"]
    used = {kind: set() for kind in KINDS}
    used["extensions"] = set(service.get("extensions", []))
    assert set(service["pipelines"]) == {"traces", "logs", "metrics"}
    for name, pipeline in service["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name} uses undefined {kind} {component}"
                used[kind].add(component)
    for kind in KINDS:
        assert used[kind] == set(config.get(kind, {})), f"{path.name}: unused {kind}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_memory_limiter_first_batch_last_and_exports_retry_from_a_disk_queue(path):
    """The Collector's documented order: memory_limiter first, batch last; every exporter
    retries without giving up and queues on disk (file_storage), so acknowledged data
    survives a restart of the Collector while its backend is down."""
    config = _config(path)
    for name, pipeline in config["service"]["pipelines"].items():
        processors = pipeline["processors"]
        assert _type(processors[0]) == "memory_limiter", name
        assert _type(processors[-1]) == "batch", name
    for exporter_id, exporter in config["exporters"].items():
        assert exporter["retry_on_failure"]["enabled"] is True, exporter_id
        assert exporter["retry_on_failure"]["max_elapsed_time"] == 0, exporter_id
        queue = exporter["sending_queue"]
        assert queue["enabled"] is True and _type(queue["storage"]) == "file_storage"
        assert queue["storage"] in config["service"]["extensions"]


def test_clickhouse_exporter_writes_tokentrail_tables(store):
    """create_schema: false and table names that tokentrail's schema has, with every
    metric kind it has no table for filtered out before the exporter."""
    config = _config(OTELCOL_DIR / "to-clickhouse.yaml")
    exporter = config["exporters"]["clickhouse"]
    assert set(exporter) <= CLICKHOUSE_EXPORTER_SETTINGS
    assert exporter["create_schema"] is False
    assert exporter["ttl"] == 0  # the exporter applies ttl only to tables it creates
    tables = {row["name"] for row in store.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree'")}
    written = {exporter["traces_table_name"], exporter["logs_table_name"],
               *exporter["metrics_tables"].values()}
    assert written <= tables
    assert set(exporter["metrics_tables"]) <= CLICKHOUSE_METRICS_TABLES
    tokentrail_metric_tables = {t.removeprefix("otel_metrics_") for t in tables
                                if t.startswith("otel_metrics_")}
    assert set(exporter["metrics_tables"]) == tokentrail_metric_tables
    missing = CLICKHOUSE_METRICS_TABLES - tokentrail_metric_tables
    filters = [p for p in config["service"]["pipelines"]["metrics"]["processors"]
               if _type(p) == "filter"]
    (dropped,) = [config["processors"][f]["metrics"]["metric"] for f in filters]
    by_kind = {"summary": "type == METRIC_DATA_TYPE_SUMMARY",
               "exponential_histogram": "type == METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM"}
    assert sorted(dropped) == sorted(by_kind[kind] for kind in missing)


def test_tokentrail_exporter_sends_the_ingest_token():
    config = _config(OTELCOL_DIR / "to-tokentrail.yaml")
    (exporter,) = config["exporters"].values()
    assert exporter["headers"]["Authorization"] == "Bearer ${env:TOKENTRAIL_INGEST_TOKEN}"
    assert exporter["compression"] == "gzip"  # collector/otlp_http.py accepts gzip
