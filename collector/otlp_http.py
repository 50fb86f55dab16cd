"""The OTLP/HTTP receiver (port 4318): POST /v1/<signal>, protobuf or JSON, gzip.

Behaviour follows the OTLP specification (FACTS §6): the response is encoded like
the request; 400 with a ``google.rpc.Status`` reason for bad data (not retried by
exporters), 413 past the body limit (also after decompression), 415 for an unknown
media type, 429 with ``Retry-After`` when the writer's queue is full and 503 with
``Retry-After`` when the store fails (both retried). 200 is sent only after the rows
are committed to the store.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from fastapi import APIRouter, FastAPI, Request, Response
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from starlette.concurrency import run_in_threadpool

from tokentrail.collector.decode import (
    JSON,
    PROTOBUF,
    BodyTooLarge,
    DecodeError,
    UnsupportedMediaType,
    decompress,
    media_type,
    parse,
)
from tokentrail.collector.signals import SIGNALS, Decoded, Signal
from tokentrail.collector.writer import BatchWriter, Overloaded, WriterClosed

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024  # the spec's recommended limit


class ReceiverError(Exception):
    def __init__(self, status: int, code: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def _encode(message: Message, kind: str) -> bytes:
    if kind == JSON:
        return json_format.MessageToJson(message, indent=None).encode("utf-8")
    return message.SerializeToString()


def _status_response(err: ReceiverError, kind: str) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    body = _encode(status_pb2.Status(code=err.code, message=err.message), kind)
    return Response(body, status_code=err.status, media_type=kind, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ReceiverError(413, code_pb2.RESOURCE_EXHAUSTED,
                            f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ReceiverError(413, code_pb2.RESOURCE_EXHAUSTED,
                                f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(signal: Signal, body: bytes, kind: str, encoding: str | None,
            limit: int) -> Decoded:
    try:
        raw = decompress(body, encoding, limit)
        message = parse(raw, kind, signal.request_cls)
        return signal.to_rows(message)
    except BodyTooLarge as exc:
        raise ReceiverError(413, code_pb2.RESOURCE_EXHAUSTED, str(exc)) from None
    except DecodeError as exc:
        raise ReceiverError(400, code_pb2.INVALID_ARGUMENT, str(exc)) from None


class OtlpHttpReceiver:
    """Turns OTLP/HTTP requests into committed rows through a :class:`BatchWriter`."""

    def __init__(
        self,
        writer: BatchWriter,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        token: str | None = None,
    ) -> None:
        self.writer = writer
        self.max_body_bytes = max_body_bytes
        self.token = token

    def router(self) -> APIRouter:
        router = APIRouter()
        for signal in SIGNALS:
            router.add_api_route(
                signal.http_path,
                self._endpoint(signal),
                methods=["POST"],
                summary=f"OTLP/HTTP export of {signal.name}",
                response_class=Response,
            )
        return router

    def _endpoint(self, signal: Signal):
        async def export(request: Request) -> Response:
            try:
                kind = media_type(request.headers.get("content-type"))
            except UnsupportedMediaType as exc:
                return _status_response(
                    ReceiverError(415, code_pb2.INVALID_ARGUMENT, str(exc)), PROTOBUF
                )
            try:
                self._authorize(request)
                return await self._export(signal, request, kind)
            except ReceiverError as err:
                if err.status >= 500:
                    log.warning("OTLP %s request failed: %s", signal.name, err.message)
                return _status_response(err, kind)

        export.__name__ = f"export_{signal.name}"
        return export

    def _authorize(self, request: Request) -> None:
        if not self.token:
            return
        given = request.headers.get("authorization", "")
        scheme, _, credential = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            raise ReceiverError(401, code_pb2.UNAUTHENTICATED,
                                "missing or wrong bearer token (TOKENTRAIL_INGEST_TOKEN)")

    async def _export(self, signal: Signal, request: Request, kind: str) -> Response:
        body = await _read_body(request, self.max_body_bytes)
        decoded = await run_in_threadpool(
            _decode, signal, body, kind, request.headers.get("content-encoding"),
            self.max_body_bytes,
        )
        try:
            futures = self.writer.submit_many(
                [(t.table, t.columns, t.rows) for t in decoded.tables]
            )
        except Overloaded as exc:
            raise ReceiverError(429, code_pb2.RESOURCE_EXHAUSTED, str(exc),
                                retry_after=exc.retry_after) from None
        except WriterClosed as exc:
            raise ReceiverError(503, code_pb2.UNAVAILABLE, str(exc), retry_after=1) from None
        try:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except Exception as exc:
            raise ReceiverError(503, code_pb2.UNAVAILABLE, f"store write failed: {exc}",
                                retry_after=self.writer.retry_after) from None
        return Response(_encode(signal.response(decoded), kind), media_type=kind)


def create_app(receiver: OtlpHttpReceiver) -> FastAPI:
    """The ASGI app served on the OTLP/HTTP port."""
    app = FastAPI(title="tokentrail OTLP/HTTP receiver", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(receiver.router())
    return app
