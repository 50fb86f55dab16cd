"""The OTLP/HTTP receiver (port 4318): POST /v1/{traces,logs,metrics}, protobuf or
JSON, gzip.

Behaviour follows the OTLP specification (docs/facts.md §6): the response is encoded like
the request; 400 with a ``google.rpc.Status`` reason for bad data (not retried by
exporters), 413 past the body limit (also after decompression), 415 for an unknown
media type, 429 with ``Retry-After`` when the writer's queue is full and 503 with
``Retry-After`` when the store fails (both retried). 200 is sent only after the rows
are committed to the store.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request, Response
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2

from tokentrail.collector.decode import JSON, PROTOBUF, UnsupportedMediaType, media_type
from tokentrail.collector.ingest import Failure, Ingest, IngestError
from tokentrail.collector.signals import SIGNALS, Signal

log = logging.getLogger(__name__)

# Failure -> (HTTP status, google.rpc code)
_HTTP = {
    Failure.INVALID: (400, code_pb2.INVALID_ARGUMENT),
    Failure.TOO_LARGE: (413, code_pb2.RESOURCE_EXHAUSTED),
    Failure.UNAUTHENTICATED: (401, code_pb2.UNAUTHENTICATED),
    Failure.OVERLOADED: (429, code_pb2.RESOURCE_EXHAUSTED),
    Failure.UNAVAILABLE: (503, code_pb2.UNAVAILABLE),
}


def _encode(message: Message, kind: str) -> bytes:
    if kind == JSON:
        return json_format.MessageToJson(message, indent=None).encode("utf-8")
    return message.SerializeToString()


def _error(status: int, code: int, message: str, kind: str,
           retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = _encode(status_pb2.Status(code=code, message=message), kind)
    return Response(body, status_code=status, media_type=kind, headers=headers)


async def _read_body(request: Request, ingest: Ingest) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        ingest.check_size(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        ingest.check_size(size)
        chunks.append(chunk)
    return b"".join(chunks)


def router(ingest: Ingest) -> APIRouter:
    """One POST route per signal."""
    api = APIRouter()
    for signal in SIGNALS:
        api.add_api_route(signal.http_path, _endpoint(ingest, signal), methods=["POST"],
                          summary=f"OTLP/HTTP export of {signal.name}",
                          response_class=Response)
    return api


def _endpoint(ingest: Ingest, signal: Signal):
    async def export(request: Request) -> Response:
        try:
            kind = media_type(request.headers.get("content-type"))
        except UnsupportedMediaType as exc:
            return _error(415, code_pb2.INVALID_ARGUMENT, str(exc), PROTOBUF)
        try:
            ingest.authorize(request.headers.get("authorization"))
            with ingest.admit():
                body = await _read_body(request, ingest)
                response = await ingest.export(signal, body, kind,
                                               request.headers.get("content-encoding"))
        except IngestError as err:
            status, code = _HTTP[err.failure]
            if status >= 500:
                log.warning("OTLP/HTTP %s request failed: %s", signal.name, err.message)
            return _error(status, code, err.message, kind, err.retry_after)
        return Response(_encode(response, kind), media_type=kind)

    export.__name__ = f"export_{signal.name}"
    return export


def create_app(ingest: Ingest) -> FastAPI:
    """The ASGI app served on the OTLP/HTTP port."""
    app = FastAPI(title="tokentrail OTLP/HTTP receiver", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(router(ingest))
    return app
