"""Running SQL-interface queries on the engine: off the event loop, within limits.

Each query gets an engine session of its own (:meth:`Store.engine_session`) on a thread
of a pool that serves only this interface, so neither the event loop (ingest, UI) nor
the threads the UI and the collector use ever wait for it; at most ``max_concurrent``
queries run at once and the next one is refused at once (``TOO_MANY_SIMULTANEOUS_QUERIES``).

What a query may do is the **engine's** business, set on its session before it runs:

* ``readonly = 1`` in read-only mode (the default): the engine refuses INSERT, DDL,
  ``SET``/``SETTINGS`` changes, table functions that reach files or the network, and a
  later ``readonly`` change (code 164, READONLY). The request's own URL settings are
  applied first, then the limits, then ``readonly``; a ``readonly`` URL setting comes
  last, so the engine itself refuses it.
* limits: ``max_execution_time``, ``max_memory_usage``, ``max_threads`` (a request may
  lower them, not raise them), ``os_threads_nice_value_query`` (query threads yield
  the CPU to ingest), and ``max_result_bytes`` for outputs that must be produced whole.
* the engine's own parser (chDB's ``classify_query`` and ``formatQuerySingleLine``)
  refuses what ``readonly`` does not cover in an embedded engine: several statements
  in one request (HTTP takes one, as ClickHouse's does), and control statements other
  than ``SET``: ``INTO OUTFILE`` (it would write a file on this machine), ``KILL``
  (it could kill the collector's inserts), ``SYSTEM``, ``USE``...

The engine's output bytes go to the client as they are: streamed block by block for
formats without a header or footer, else produced whole (bounded by
``max_result_bytes``). Nothing parses or reformats results.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import re
import tempfile
import threading
from dataclasses import dataclass
from typing import IO

from tokentrail.sql_http import protocol
from tokentrail.sql_http.encoding import Encoder
from tokentrail.sql_http.protocol import ClickHouseError, SqlRequest
from tokentrail.store import Store
from tokentrail.store.database import (
    ENGINE_QUERY_TAG,
    EngineError,
    EngineInfo,
    EngineSession,
    EngineStats,
    EngineStream,
)

log = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 16 * 1024 * 1024  # wait_end_of_query: beyond this, to a temp file
_INSERT_HEAD_TRIES = 16  # newlines tried as the end of an INSERT statement in a body
_INSERT_HEAD_MAX = 1 << 20
_INSERT_FORMAT = re.compile(r"(INSERT INTO .*) FORMAT `?([A-Za-z0-9_]+)`?\Z", re.S)


@dataclass(frozen=True)
class Limits:
    """Per-query limits the engine enforces (0: no limit from tokentrail)."""

    max_execution_time: float = 60.0
    max_memory_usage: int = 1 << 30
    max_threads: int = 1
    max_result_bytes: int = 128 << 20
    nice: int = 19


class QueryRunner:
    """The pool, the cap on concurrent queries and the engine facts of the interface."""

    def __init__(self, store: Store, info: EngineInfo, *, readonly: bool, limits: Limits,
                 max_concurrent: int) -> None:
        self.store = store
        self.info = info
        self.readonly = readonly
        self.limits = limits
        self.max_concurrent = max_concurrent
        # Two threads per slot: a query's close() may wait while its last fetch runs.
        self.executor = concurrent.futures.ThreadPoolExecutor(
            2 * max_concurrent, thread_name_prefix="tokentrail-sql")
        self._killer = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="tokentrail-sql-kill")
        self._lock = threading.Lock()
        self._running = 0

    def try_acquire(self) -> bool:
        """Take a query slot if one is free (never waits)."""
        with self._lock:
            if self._running >= self.max_concurrent:
                return False
            self._running += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._running -= 1

    @property
    def running(self) -> int:
        return self._running

    def later(self, func, *args) -> None:
        """Run ``func`` on the pool without waiting for it (cleanup from the event loop;
        inline once the pool has shut down)."""
        try:
            self.executor.submit(func, *args)
        except RuntimeError:
            func(*args)

    def kill(self, tag: str) -> None:
        """Cancel the engine query tagged ``tag`` (or all of them), without waiting."""
        with contextlib.suppress(RuntimeError):  # shut down: close() cancelled them all
            self._killer.submit(self._kill, tag)

    def _kill(self, tag: str) -> None:
        try:
            self.store.kill_engine_queries(tag)
        except Exception:
            log.debug("could not cancel SQL-interface queries", exc_info=True)

    def close(self) -> None:
        """Cancel what still runs and wait for the threads (before the store closes)."""
        self._kill(ENGINE_QUERY_TAG)
        self.executor.shutdown(wait=True)
        self._killer.shutdown(wait=True)

    def engine_error(self, exc: EngineError) -> ClickHouseError:
        return ClickHouseError.from_engine(exc.code, str(exc), self.info.error_names)


class RunningQuery:
    """One query, from its engine session to its last output byte.

    Its methods block and run on the runner's threads, one at a time (a lock keeps a
    close() from racing a fetch). It owns a query slot, given back by :meth:`close`.
    """

    def __init__(self, runner: QueryRunner, request: SqlRequest, encoder: Encoder,
                 query_id: str) -> None:
        self.runner = runner
        self.request = request
        self.encoder = encoder
        self.tag = f"{ENGINE_QUERY_TAG}{query_id}"
        self.output_format = request.default_format or "TabSeparated"
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._session: EngineSession | None = None
        self._stream: EngineStream | None = None
        self._pending: bytes | None = None
        self._finished = False  # the engine has no more output
        self._flushed = False  # the encoder's tail was handed out
        self._closed = False

    # --- start ----------------------------------------------------------------------

    def start(self) -> None:
        """Prepare the session and produce the first output (so that an error before
        any output gets its own HTTP status). Raises :class:`ClickHouseError`."""
        with self._lock:
            try:
                self._session = self.runner.store.engine_session()
                self._start(self._session)
            except EngineError as exc:
                raise self.runner.engine_error(exc) from None

    def _start(self, session: EngineSession) -> None:
        request, limits = self.request, self.runner.limits
        insert = None if self.runner.readonly else self._split_insert(session)
        statement = session.classify(request.query if insert is None else
                                     insert[0].encode())
        if statement.statements > 1:
            raise ClickHouseError.own(protocol.SYNTAX_ERROR, "Syntax error (Multi-statements "
                                      "are not allowed)")
        text = request.query.decode("utf-8", "replace")
        if statement.kind == "CONTROL":
            self._check_control(session.canonical(text))
        if statement.kind == "READ_ONLY":
            self.output_format = protocol.format_clause(session.canonical(text)) \
                or self.output_format
        streamed = (statement.kind == "READ_ONLY"
                    and self.output_format in protocol.STREAMABLE_FORMATS
                    and not any(name.startswith("output_format_") for name in request.settings))

        if request.database:
            session.use_database(request.database)
        settings = dict(request.settings)
        asked_readonly = settings.pop("readonly", None)
        session.set(settings)
        session.set(self._limit_settings(session, settings, streamed, limits))
        if self.runner.readonly:
            session.set({"readonly": "1"})
        elif request.method == "GET":  # as ClickHouse: GET requests are read-only
            session.set({"readonly": "2"})
        if asked_readonly is not None:  # under readonly, the engine refuses a change
            session.set({"readonly": asked_readonly})

        if insert is not None:
            self.stats = session.insert(*insert)
            self._pending = b""
            self._finished = True
            return
        if streamed:
            try:
                self._stream = session.stream(request.query, self.output_format,
                                              request.params)
                self._pending = self._next_part()
                return
            except EngineError as exc:  # chDB streams SELECTs only (not DESCRIBE, SHOW...)
                if "Streaming query is not supported" not in str(exc):
                    raise
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None
        data, self.stats = session.query(request.query, self.output_format, request.params)
        self._pending = data
        self._finished = True

    def _split_insert(self, session: EngineSession) -> tuple[str, str, bytes] | None:
        """(INSERT statement, format, data) when the request carries INSERT data.

        As over ClickHouse's HTTP interface, the data follows ``INSERT ... FORMAT X``
        after a newline: after the ``query`` parameter, or inside the body. The engine's
        parser finds where the statement ends (the first prefix ending at a newline that
        it formats as ``INSERT INTO ... FORMAT X``)."""
        request = self.request
        if request.url_query is not None:
            candidates = [(request.url_query, request.body)]
        else:
            query, candidates, start = request.query, [], 0
            while len(candidates) < _INSERT_HEAD_TRIES and 0 <= start < _INSERT_HEAD_MAX:
                end = query.find(b"\n", start)
                if end < 0:
                    break
                candidates.append((query[:end], query[end + 1:]))
                start = end + 1
        for head, data in candidates:
            if not data or not head.lstrip()[:6].upper().startswith(b"INSERT"):
                continue
            if session.classify(head).statements != 1:
                continue
            match = _INSERT_FORMAT.match(session.canonical(head.decode("utf-8", "replace")))
            if match:
                return match.group(1), match.group(2), data
        return None

    def _check_control(self, canonical: str) -> None:
        if " INTO OUTFILE " in f" {canonical} ":
            raise ClickHouseError.own(protocol.INTO_OUTFILE_NOT_ALLOWED,
                                      "INTO OUTFILE is not allowed")
        # SET (and INSERT/ALTER ... SETTINGS, which the classifier also calls CONTROL) are
        # the engine's: readonly refuses them. A migration runs ALTER ... SETTINGS
        # mutations_sync = 2 through the writable mode (tests/store/conftest.py).
        if not canonical.startswith(("SET ", "INSERT ", "ALTER ")):
            raise ClickHouseError.own(
                protocol.ACCESS_DENIED, "Not enough privileges: tokentrail's SQL interface "
                "refuses control statements (KILL, SYSTEM, USE, transactions...) other "
                "than SET")

    def _limit_settings(self, session: EngineSession, asked: dict[str, str], streamed: bool,
                        limits: Limits) -> dict[str, str]:
        caps: dict[str, float] = {
            "max_execution_time": limits.max_execution_time,
            "max_memory_usage": limits.max_memory_usage,
            "max_threads": limits.max_threads,
        }
        if not streamed:
            caps["max_result_bytes"] = limits.max_result_bytes
        wanted = [name for name in (*caps, "os_threads_nice_value_query") if name in asked]
        current = session.settings(wanted) if wanted else {}  # as the engine read them
        out: dict[str, str] = {}
        for name, cap in caps.items():
            value = cap
            try:
                mine = float(current.get(name, "0"))
            except ValueError:
                mine = 0.0
            if mine > 0 and (cap == 0 or mine < cap):
                value = mine
            if value:
                out[name] = f"{value:.17g}" if name == "max_execution_time" else str(int(value))
        if "max_result_bytes" in out:
            out["result_overflow_mode"] = "throw"
        nice = limits.nice
        with contextlib.suppress(ValueError):
            nice = max(nice, int(current.get("os_threads_nice_value_query", nice)))
        out["os_threads_nice_value_query"] = str(nice)
        out["log_comment"] = self.tag
        return out

    # --- output -----------------------------------------------------------------------

    def _next_part(self) -> bytes | None:
        assert self._stream is not None
        part = self._stream.next_part()
        if part is None:
            return None
        data, stats = part
        self.stats = EngineStats(self.stats.read_rows + stats.read_rows,
                                 self.stats.read_bytes + stats.read_bytes,
                                 self.stats.written_rows + stats.written_rows,
                                 self.stats.written_bytes + stats.written_bytes,
                                 self.stats.elapsed_s + stats.elapsed_s)
        return data

    def next_chunk(self) -> bytes | None:
        """The next piece of the (compressed) response body, or None after the last.
        Raises :class:`ClickHouseError` for an error the engine raised mid-way."""
        with self._lock:
            if self._closed or self._flushed:
                return None
            if self._pending is not None:
                data, self._pending = self._pending, None
                return self.encoder.compress(data)
            if self._stream is not None and not self._finished:
                try:
                    data = self._next_part()
                except EngineError as exc:
                    self._finished = True
                    raise self.runner.engine_error(exc) from None
                if data is not None:
                    return self.encoder.compress(data)
                self._finished = True
            self._flushed = True
            return self.encoder.flush()

    def error_tail(self, error: ClickHouseError, tag: str) -> bytes:
        """The end of a body whose query failed after the body started."""
        with self._lock:
            self._flushed = True
            text = error.body(self.runner.info.version).decode()
            return self.encoder.compress(protocol.tagged_exception(tag, text)) \
                + self.encoder.flush()

    def spool(self) -> IO[bytes]:
        """The whole (compressed) body in a file-like object, for wait_end_of_query:
        in memory up to SPOOL_IN_MEMORY, then on disk."""
        spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            while (chunk := self.next_chunk()) is not None:
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    def close(self) -> None:
        """End the query (cancelling nothing: call the runner's kill() first to stop a
        running one), close its session and give its slot back. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._stream is not None:
                self._stream.close()
            if self._session is not None:
                self._session.close()
        self.runner.release()
