"""The OTLP signals the collector accepts, each mapped to its tables.

A receiver (HTTP or gRPC) only needs a :class:`Signal`: which message to parse and
how a parsed request becomes rows for which tables, and what response (including
a partial success) to send back. Receivers hold no signal-specific code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tokentrail.collector.decode import PROTOBUF, parse
from tokentrail.collector.rows import (
    GAUGE_COLUMNS,
    HISTOGRAM_COLUMNS,
    LOG_COLUMNS,
    SUM_COLUMNS,
    TRACE_COLUMNS,
    log_rows,
    metric_rows,
    trace_rows,
)
from tokentrail.collector.shadow import LogsRequestShadow, TraceRequestShadow


@dataclass(frozen=True)
class TableRows:
    table: str
    columns: Sequence[str]
    rows: list[Sequence[Any]]


@dataclass(frozen=True)
class Decoded:
    """What one request becomes: rows per table, and what was refused and why."""

    tables: list[TableRows]
    rejected: int = 0
    error_message: str = ""


@dataclass(frozen=True)
class Signal:
    name: str
    http_path: str
    request_cls: type[Message]
    response_cls: type[Message]
    to_rows: Callable[[Any], Decoded]
    rejected_field: str  # the partial_success counter of response_cls
    # What protobuf bodies are parsed into (to_rows accepts it and request_cls alike):
    # a shadow class with undecoded attributes (see .shadow), or request_cls.
    protobuf_cls: type[Message] | None = None

    def parse(self, body: bytes, kind: str) -> Message:
        """A decompressed body of media type ``kind``, parsed. Raises DecodeError."""
        if kind == PROTOBUF and self.protobuf_cls is not None:
            return parse(body, kind, self.protobuf_cls)
        return parse(body, kind, self.request_cls)

    @property
    def grpc_service(self) -> str:
        """Full gRPC service name, e.g. opentelemetry.proto.collector.trace.v1.TraceService."""
        file = self.request_cls.DESCRIPTOR.file
        (service,) = file.services_by_name.values()
        return service.full_name

    def response(self, rejected: int = 0, error_message: str = "") -> Message:
        """The Export*ServiceResponse, with partial_success set when anything was refused."""
        response = self.response_cls()
        if rejected:
            setattr(response.partial_success, self.rejected_field, rejected)
            response.partial_success.error_message = error_message
        return response


def _traces(request: ExportTraceServiceRequest) -> Decoded:
    return Decoded([TableRows("otel_traces", TRACE_COLUMNS, trace_rows(request))])


def _logs(request: ExportLogsServiceRequest) -> Decoded:
    return Decoded([TableRows("otel_logs", LOG_COLUMNS, log_rows(request))])


def _metrics(request: ExportMetricsServiceRequest) -> Decoded:
    rows = metric_rows(request)
    tables = [
        TableRows(table, columns, data)
        for table, columns, data in (
            ("otel_metrics_gauge", GAUGE_COLUMNS, rows.gauge),
            ("otel_metrics_sum", SUM_COLUMNS, rows.sum),
            ("otel_metrics_histogram", HISTOGRAM_COLUMNS, rows.histogram),
        )
        if data
    ]
    message = ""
    if rows.rejected_points:
        kinds = ", ".join(sorted(rows.rejected_kinds))
        message = f"metric types not stored by tokentrail yet: {kinds}"
    return Decoded(tables, rows.rejected_points, message)


TRACES = Signal("traces", "/v1/traces", ExportTraceServiceRequest, ExportTraceServiceResponse,
                _traces, "rejected_spans", TraceRequestShadow)
LOGS = Signal("logs", "/v1/logs", ExportLogsServiceRequest, ExportLogsServiceResponse,
              _logs, "rejected_log_records", LogsRequestShadow)
METRICS = Signal("metrics", "/v1/metrics", ExportMetricsServiceRequest,
                 ExportMetricsServiceResponse, _metrics, "rejected_data_points")

SIGNALS: tuple[Signal, ...] = (TRACES, LOGS, METRICS)

# Every table the signals write, with the columns they insert (in row order).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "otel_traces": TRACE_COLUMNS,
    "otel_logs": LOG_COLUMNS,
    "otel_metrics_gauge": GAUGE_COLUMNS,
    "otel_metrics_sum": SUM_COLUMNS,
    "otel_metrics_histogram": HISTOGRAM_COLUMNS,
}
