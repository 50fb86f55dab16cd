"""The OTLP/gRPC receiver (port 4317): the unary ``Export`` of the trace, logs and
metrics services, on grpc.aio in the same event loop as the HTTP servers.

Handlers take raw bytes (no generated deserializer) so that a malformed message
gets INVALID_ARGUMENT with the reason, like HTTP's 400. Overload and store failures
answer UNAVAILABLE with a ``google.rpc.RetryInfo`` detail, which exporters retry
(docs/facts.md §6). Size limits and gzip are gRPC's own (``grpc.max_receive_message_length``).
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from tokentrail.collector.decode import PROTOBUF
from tokentrail.collector.ingest import Failure, Ingest, IngestError
from tokentrail.collector.signals import SIGNALS, Signal

log = logging.getLogger(__name__)

_GRPC = {
    Failure.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Failure.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Failure.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Failure.OVERLOADED: grpc.StatusCode.UNAVAILABLE,
    Failure.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


def _details(code: grpc.StatusCode, message: str, retry_after: int | None) -> tuple:
    """Trailing metadata with a google.rpc.Status carrying RetryInfo, if any."""
    if retry_after is None:
        return ()
    detail = AnyMessage()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after)))
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _handler(ingest: Ingest, signal: Signal):
    async def export(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = dict(context.invocation_metadata() or ())
        try:
            ingest.authorize(metadata.get("authorization"))
            with ingest.admit():
                response = await ingest.export(signal, body, PROTOBUF)
        except IngestError as err:
            code = _GRPC[err.failure]
            if code is grpc.StatusCode.UNAVAILABLE:
                log.warning("OTLP/gRPC %s request failed: %s", signal.name, err.message)
            await context.abort(code, err.message,
                                trailing_metadata=_details(code, err.message, err.retry_after))
        return response.SerializeToString()

    return grpc.unary_unary_rpc_method_handler(export)


def create_server(ingest: Ingest, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server with the three OTLP services; returns it and its bound port."""
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", ingest.max_body_bytes),
        ("grpc.so_reuseport", 0),
    ])
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler(signal.grpc_service,
                                             {"Export": _handler(ingest, signal)})
        for signal in SIGNALS
    ])
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    return server, bound
