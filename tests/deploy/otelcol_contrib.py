"""The OpenTelemetry Collector components deploy/otelcol uses, each with the Go module
that provides it in the contrib distribution.

Source: the distribution's build manifest, open-telemetry/opentelemetry-collector-releases
``distributions/otelcol-contrib/manifest.yaml`` at commit
008cde8ca78cc0286ee3f0de92fa95e1641a445a (modules at v0.136.0), the image
``otel/opentelemetry-collector-contrib`` that deploy/compose/.env pins. A component's
type (the name a config uses) is the one its module registers (its README's config
examples). Only components listed here may appear in deploy/otelcol; adding one means
checking the manifest again and adding it with its module.

The ClickHouse exporter's settings are those of its ``Config`` struct
(open-telemetry/opentelemetry-collector-contrib ``exporter/clickhouseexporter/config.go``:
its own fields plus the squashed ``TimeoutSettings`` (timeout), ``retry_on_failure`` and
``sending_queue``).
"""

from __future__ import annotations

DISTRIBUTION_VERSION = "0.136.0"

COMPONENTS: dict[str, dict[str, str]] = {
    "receivers": {
        "otlp": "go.opentelemetry.io/collector/receiver/otlpreceiver",
    },
    "processors": {
        "batch": "go.opentelemetry.io/collector/processor/batchprocessor",
        "memory_limiter": "go.opentelemetry.io/collector/processor/memorylimiterprocessor",
        "filter": "github.com/open-telemetry/opentelemetry-collector-contrib/processor/"
                  "filterprocessor",
    },
    "exporters": {
        "clickhouse": "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/"
                      "clickhouseexporter",
        "otlphttp": "go.opentelemetry.io/collector/exporter/otlphttpexporter",
        "debug": "go.opentelemetry.io/collector/exporter/debugexporter",
    },
    "extensions": {
        "health_check": "github.com/open-telemetry/opentelemetry-collector-contrib/extension/"
                        "healthcheckextension",
        "file_storage": "github.com/open-telemetry/opentelemetry-collector-contrib/extension/"
                        "storage/filestorage",
    },
}

CLICKHOUSE_EXPORTER_SETTINGS = frozenset({
    "endpoint", "username", "password", "database", "connection_params",
    "logs_table_name", "traces_table_name", "metrics_table_name", "metrics_tables", "ttl",
    "table_engine", "cluster_name", "create_schema", "async_insert",
    "timeout", "retry_on_failure", "sending_queue",
})
CLICKHOUSE_METRICS_TABLES = frozenset({
    "gauge", "sum", "summary", "histogram", "exponential_histogram",
})
