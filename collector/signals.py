"""The OTLP signals the collector accepts, each mapped to its tables.

A receiver (HTTP now, gRPC next) only needs a :class:`Signal`: which message to
parse, which response to send, and how a parsed request becomes rows for which
tables. Adding logs or metrics means adding an entry here, not a new receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows


@dataclass(frozen=True)
class TableRows:
    table: str
    columns: Sequence[str]
    rows: list[Sequence[Any]]


@dataclass(frozen=True)
class Signal:
    name: str
    http_path: str
    request_cls: type[Message]
    response_cls: type[Message]
    to_rows: Callable[[Any], list[TableRows]]


def _traces(request: ExportTraceServiceRequest) -> list[TableRows]:
    return [TableRows("otel_traces", TRACE_COLUMNS, trace_rows(request))]


TRACES = Signal(
    name="traces",
    http_path="/v1/traces",
    request_cls=ExportTraceServiceRequest,
    response_cls=ExportTraceServiceResponse,
    to_rows=_traces,
)

SIGNALS: tuple[Signal, ...] = (TRACES,)
