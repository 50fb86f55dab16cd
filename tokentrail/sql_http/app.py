"""The ASGI app of the SQL interface: routes, authentication, bodies and responses.

Everything slow (the engine, compression, spooling) runs on the runner's threads;
this module only moves bytes between them and the connection.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tokentrail.sql_http import encoding, protocol
from tokentrail.sql_http.protocol import ClickHouseError, SqlRequest
from tokentrail.sql_http.runner import QueryRunner, RunningQuery

log = logging.getLogger(__name__)

OK = b"Ok.\n"
DISPLAY_NAME = "tokentrail"
RETRY_AFTER_S = 1
SPOOL_READ = 1 << 20


class SqlInterface:
    """ClickHouse's HTTP interface over a :class:`QueryRunner`."""

    def __init__(self, runner: QueryRunner, *, token: str | None,
                 max_body_bytes: int) -> None:
        self.runner = runner
        self.token = token
        self.max_body_bytes = max_body_bytes

    # --- plumbing ---------------------------------------------------------------------

    async def _in_pool(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.runner.executor, func,
                                                                *args)

    def _error(self, error: ClickHouseError, query_id: str | None = None) -> Response:
        headers = {"X-ClickHouse-Exception-Code": str(error.code),
                   "X-ClickHouse-Server-Display-Name": DISPLAY_NAME}
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return Response(error.body(self.runner.info.version), status_code=error.status,
                        headers=headers, media_type="text/plain; charset=UTF-8")

    async def _body(self, request: Request) -> bytes:
        size, parts = 0, []
        async for part in request.stream():
            size += len(part)
            if size > self.max_body_bytes:
                raise ClickHouseError.own(protocol.QUERY_IS_TOO_LARGE, "The request body is "
                                          f"larger than {self.max_body_bytes} bytes")
            parts.append(part)
        body = b"".join(parts)
        content_encoding = request.headers.get("content-encoding", "")
        if content_encoding and content_encoding.lower() != "identity":
            try:
                body = await self._in_pool(encoding.decode_body, body, content_encoding,
                                           self.max_body_bytes)
            except OverflowError as exc:
                raise ClickHouseError.own(protocol.QUERY_IS_TOO_LARGE, str(exc)) from None
            except Exception as exc:
                raise ClickHouseError.own(protocol.NOT_IMPLEMENTED if isinstance(
                    exc, ValueError) and "unsupported" in str(exc) else protocol.SYNTAX_ERROR,
                    f"Cannot decode the request body: {exc}") from None
        return body

    def _authenticate(self, sql: SqlRequest) -> None:
        """Any user name, the password (key, bearer token) must be the SQL token."""
        if self.token is None:
            return
        given = sql.credentials.password.encode()
        if not hmac.compare_digest(given, self.token.encode()):
            raise ClickHouseError.own(protocol.AUTHENTICATION_FAILED, f"{sql.credentials.user}: "
                                      "Authentication failed: password is incorrect, or there "
                                      "is no user with such name")

    # --- routes -----------------------------------------------------------------------

    async def ping(self, request: Request) -> Response:
        return Response(OK, media_type="text/plain; charset=UTF-8")

    async def not_found(self, request: Request) -> Response:
        text = (f"There is no handle {request.url.path}\n\nUse / or /ping for health checks.\n"
                "Send queries from your program with POST method or GET /?query=...\n")
        return Response(text, status_code=404, media_type="text/plain; charset=UTF-8")

    async def query(self, request: Request) -> Response:
        params = request.query_params.multi_items()
        if request.method in ("GET", "HEAD") and not any(k == "query" for k, _ in params):
            return Response(OK, media_type="text/plain; charset=UTF-8")
        query_id: str | None = None
        try:
            body = await self._body(request)
            sql = protocol.parse_request(request.method, request.headers, params, body)
            query_id = sql.query_id or str(uuid.uuid4())
            self._authenticate(sql)
            if sql.native_compression:
                raise ClickHouseError.own(protocol.NOT_IMPLEMENTED, "ClickHouse's native "
                                          "compression (compress=1, decompress=1) is not "
                                          "supported: use HTTP compression "
                                          "(enable_http_compression=1 and Accept-Encoding)")
            if not sql.query.strip():
                raise ClickHouseError.own(protocol.SYNTAX_ERROR, "Empty query")
            if not self.runner.try_acquire():
                raise ClickHouseError.own(
                    protocol.TOO_MANY_SIMULTANEOUS_QUERIES, "Too many simultaneous queries. "
                    f"Maximum: {self.runner.max_concurrent}", retry_after=RETRY_AFTER_S)
        except ClickHouseError as error:
            return self._error(error, query_id)
        return await self._run(request, sql, query_id)

    async def _run(self, request: Request, sql: SqlRequest, query_id: str) -> Response:
        method = (encoding.choose(request.headers.get("accept-encoding", ""))
                  if sql.http_compression else None)
        run = RunningQuery(self.runner, sql, encoding.encoder(method, sql.compression_level),
                           query_id)
        try:
            await self._in_pool(run.start)
            spool = await self._in_pool(run.spool) if sql.wait_end_of_query else None
        except ClickHouseError as error:
            self.runner.later(run.close)
            return self._error(error, query_id)
        except Exception as exc:  # not the engine's: still answered in ClickHouse's shape
            log.exception("SQL query %s failed", query_id)
            self.runner.later(run.close)
            return self._error(_unexpected(exc), query_id)
        except BaseException:  # cancelled (client gone, shutdown)
            self.runner.kill(run.tag)
            self.runner.later(run.close)
            raise
        stats = run.stats
        headers = {
            "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": run.output_format,
            "X-ClickHouse-Timezone": sql.settings.get("session_timezone")
            or self.runner.info.timezone,
            "X-ClickHouse-Summary": protocol.summary(
                read_rows=stats.read_rows, read_bytes=stats.read_bytes,
                written_rows=stats.written_rows, written_bytes=stats.written_bytes,
                elapsed_ns=int(stats.elapsed_s * 1e9)),
        }
        if method:
            headers["Content-Encoding"] = method
        media_type = protocol.content_type(run.output_format)
        if spool is not None:
            self.runner.later(run.close)
            return StreamingResponse(self._read_spool(spool), headers=headers,
                                     media_type=media_type)
        tag = protocol.exception_tag()
        headers["X-ClickHouse-Exception-Tag"] = tag
        return StreamingResponse(self._stream(run, tag), headers=headers,
                                 media_type=media_type)

    async def _stream(self, run: RunningQuery, tag: str) -> AsyncIterator[bytes]:
        done = False
        try:
            while True:
                try:
                    chunk = await self._in_pool(run.next_chunk)
                except Exception as exc:
                    if not isinstance(exc, ClickHouseError):
                        log.exception("SQL query %s failed mid-way", run.tag)
                    error = exc if isinstance(exc, ClickHouseError) else _unexpected(exc)
                    yield await self._in_pool(run.error_tail, error, tag)
                    done = True
                    return
                if chunk is None:
                    done = True
                    return
                if chunk:
                    yield chunk
        finally:
            if not done:  # the client went away (or the server stops): cancel the query
                self.runner.kill(run.tag)
            self.runner.later(run.close)

    async def _read_spool(self, spool) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._in_pool(spool.read, SPOOL_READ):
                yield chunk
        finally:
            self.runner.later(spool.close)


def _unexpected(exc: Exception) -> ClickHouseError:
    return ClickHouseError.own(protocol.UNKNOWN_EXCEPTION, f"{type(exc).__name__}: {exc}")


def create_app(runner: QueryRunner, *, token: str | None, max_body_bytes: int) -> Starlette:
    """The SQL interface as an ASGI app (uvicorn serves it next to the receivers)."""
    interface = SqlInterface(runner, token=token, max_body_bytes=max_body_bytes)
    return Starlette(routes=[
        Route("/", interface.query, methods=["GET", "POST", "HEAD"]),
        Route("/ping", interface.ping, methods=["GET", "HEAD"]),
        Route("/replicas_status", interface.ping, methods=["GET", "HEAD"]),
        Route("/{path:path}", interface.not_found, methods=["GET", "POST", "HEAD"]),
    ])
