"""The transport-independent ingest path: bytes in, committed rows, response out.

Both receivers (OTLP/HTTP and OTLP/gRPC) call :meth:`Ingest.export`; they differ
only in how they carry bytes and how they spell the failures in
:class:`IngestError` (HTTP status codes vs gRPC status codes).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import secrets
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor

from google.protobuf.message import Message

from tokentrail.collector.decode import BodyTooLarge, DecodeError
from tokentrail.collector.encode import Encoder
from tokentrail.collector.signals import Signal
from tokentrail.collector.writer import BatchWriter, Overloaded, Part, WriterClosed

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024  # the OTLP spec's recommended limit
# Requests being read or decoded at once. The writer's queue bounds rows, but a body is
# held in memory before it becomes rows: this bounds those bytes too
# (at most max_in_flight x max_body_bytes).
DEFAULT_MAX_IN_FLIGHT = 64


class Failure(enum.Enum):
    INVALID = "invalid"  # bad data: not retried
    TOO_LARGE = "too_large"  # over the body limit: not retried
    UNAUTHENTICATED = "unauthenticated"
    OVERLOADED = "overloaded"  # queue full: retry after a while
    UNAVAILABLE = "unavailable"  # store failed or shutting down: retry


class IngestError(Exception):
    def __init__(self, failure: Failure, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.retry_after = retry_after


class Ingest:
    """Decodes OTLP requests (in the :class:`Encoder`'s workers) and commits their rows
    through a :class:`BatchWriter`."""

    def __init__(self, writer: BatchWriter, encoder: Encoder, *,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, token: str | None = None,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        self.writer = writer
        self.encoder = encoder
        self.max_body_bytes = max_body_bytes
        self.token = token
        self.max_in_flight = max_in_flight
        self._in_flight = 0  # touched only on the event loop thread

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one of the ``max_in_flight`` request slots, or refuse at once (429)."""
        if self._in_flight >= self.max_in_flight:
            raise IngestError(Failure.OVERLOADED,
                              f"{self._in_flight} requests already in progress",
                              self.writer.retry_after)
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    def authorize(self, authorization: str | None) -> None:
        """Check an ``Authorization: Bearer <token>`` value when a token is configured."""
        if not self.token:
            return
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            raise IngestError(Failure.UNAUTHENTICATED,
                              "missing or wrong bearer token (TOKENTRAIL_INGEST_TOKEN)")

    def check_size(self, size: int) -> None:
        if size > self.max_body_bytes:
            raise IngestError(Failure.TOO_LARGE,
                              f"body of {size} bytes exceeds the limit of "
                              f"{self.max_body_bytes} bytes")

    async def export(self, signal: Signal, body: bytes, kind: str,
                     encoding: str | None = None) -> Message:
        """Decode, commit, and return the Export*ServiceResponse to send back."""
        # A worker that dies breaks its whole pool, and the pool notices only a moment
        # later: requests submitted in between fail with BrokenExecutor although they
        # arrived after the death. Decoding has no side effects, so each request gets
        # one more try on the fresh pool the encoder starts; a body that kills that one
        # too is refused as retryable (nothing of it was acknowledged).
        for attempts_left in (1, 0):
            try:
                encoded = await asyncio.wrap_future(
                    self.encoder.submit(signal.name, body, kind, encoding, self.max_body_bytes))
                break
            except BodyTooLarge as exc:
                raise IngestError(Failure.TOO_LARGE, str(exc)) from None
            except DecodeError as exc:
                raise IngestError(Failure.INVALID, str(exc)) from None
            except BrokenExecutor:
                if not attempts_left:
                    raise IngestError(Failure.UNAVAILABLE, "a decode worker died; retry",
                                      1) from None
        try:
            futures = self.writer.submit_many(
                [Part(t.table, t.columns, t.native, t.rows) for t in encoded.tables])
        except Overloaded as exc:
            raise IngestError(Failure.OVERLOADED, str(exc), exc.retry_after) from None
        except WriterClosed as exc:
            raise IngestError(Failure.UNAVAILABLE, str(exc), 1) from None
        try:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except Exception as exc:
            raise IngestError(Failure.UNAVAILABLE, f"store write failed: {exc}",
                              self.writer.retry_after) from None
        return signal.response(encoded.rejected, encoded.error_message)
