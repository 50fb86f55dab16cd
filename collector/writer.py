"""The batching writer between the receivers and the store.

ClickHouse wants few large inserts (FACTS §7: batches of 10k-100k rows, about one
insert per second per table), while OTLP clients send many small requests and must
get their 200 only once their data is durable. So requests hand their rows to one
writer thread, which inserts per table when a batch is full or its oldest row has
waited ``max_delay`` seconds, whichever comes first, and only then resolves each
request's future. Memory is bounded: past ``max_queued_rows`` new work is refused
with :class:`Overloaded` and the receiver answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """The queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"collector queue is full; retry after {retry_after}s")
        self.retry_after = retry_after


class WriterClosed(RuntimeError):
    """The writer is shutting down and accepts no new work."""


class RowSink(Protocol):
    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        ...


@dataclass
class _Pending:
    rows: list[Sequence[Any]]
    future: Future[None]


@dataclass
class _TableQueue:
    columns: Sequence[str]
    items: list[_Pending] = field(default_factory=list)
    rows: int = 0
    since: float = 0.0


class BatchWriter:
    """Collects rows from many requests and commits them in batches on one thread."""

    def __init__(
        self,
        sink: RowSink,
        *,
        max_rows: int = 10_000,
        max_delay: float = 0.2,
        max_queued_rows: int = 500_000,
        retry_after: int = 1,
    ) -> None:
        self._sink = sink
        self.max_rows = max_rows
        self.max_delay = max_delay
        self.max_queued_rows = max_queued_rows
        self.retry_after = retry_after
        self._queues: dict[str, _TableQueue] = {}
        self._queued_rows = 0
        self._in_flight_rows = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="tokentrail-writer", daemon=True)
        self._thread.start()

    @property
    def queued_rows(self) -> int:
        """Rows accepted but not yet committed (queued or being inserted)."""
        with self._cond:
            return self._queued_rows + self._in_flight_rows

    def submit(
        self, table: str, columns: Sequence[str], rows: list[Sequence[Any]]
    ) -> Future[None]:
        """Queue rows for ``table``; the future resolves once they are committed."""
        return self.submit_many([(table, columns, rows)])[0]

    def submit_many(
        self, parts: Sequence[tuple[str, Sequence[str], list[Sequence[Any]]]]
    ) -> list[Future[None]]:
        """Queue rows for several tables at once, all or nothing: one request whose
        rows span tables is either wholly accepted or wholly refused, so a refusal
        never leaves half a request queued (its retry would duplicate that half)."""
        futures: list[Future[None]] = [Future() for _ in parts]
        incoming = sum(len(rows) for _, _, rows in parts)
        with self._cond:
            if self._closing:
                raise WriterClosed("collector is shutting down")
            pending = self._queued_rows + self._in_flight_rows
            if pending and pending + incoming > self.max_queued_rows:
                raise Overloaded(self.retry_after)
            for future, (table, columns, rows) in zip(futures, parts, strict=True):
                if not rows:
                    future.set_result(None)
                    continue
                queue = self._queues.get(table)
                if queue is None:
                    queue = self._queues[table] = _TableQueue(columns=columns)
                if not queue.items:
                    queue.since = time.monotonic()
                queue.items.append(_Pending(rows, future))
                queue.rows += len(rows)
                self._queued_rows += len(rows)
            self._cond.notify()
        return futures

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop accepting work, commit everything queued, and stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("writer did not drain within %.0fs; %d rows uncommitted",
                      timeout, self.queued_rows)

    # --- the writer thread --------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._take_due_batch()
                while batch is None:
                    if self._closing and not self._queued_rows:
                        return
                    self._cond.wait(self._wait_time())
                    batch = self._take_due_batch()
                table, columns, items = batch
                rows = sum(len(p.rows) for p in items)
                self._queued_rows -= rows
                self._in_flight_rows += rows
            try:
                self._commit(table, columns, items)
            finally:
                with self._cond:
                    self._in_flight_rows -= rows

    def _wait_time(self) -> float | None:
        oldest = [q.since for q in self._queues.values() if q.items]
        if not oldest:
            return None
        return max(0.0, min(oldest) + self.max_delay - time.monotonic())

    def _take_due_batch(self) -> tuple[str, Sequence[str], list[_Pending]] | None:
        now = time.monotonic()
        for table, queue in self._queues.items():
            if not queue.items:
                continue
            if self._closing or queue.rows >= self.max_rows or now - queue.since >= self.max_delay:
                items, queue.items, queue.rows = queue.items, [], 0
                return table, queue.columns, items
        return None

    def _commit(self, table: str, columns: Sequence[str], items: list[_Pending]) -> None:
        rows = [row for pending in items for row in pending.rows]
        try:
            self._sink.insert(table, rows, columns)
        except Exception as exc:
            if len(items) == 1:
                log.warning("insert of %d rows into %s failed: %s", len(rows), table, exc)
                items[0].future.set_exception(exc)
                return
            # One bad request must not fail the others batched with it: retry each
            # request alone so that only the offending one gets the error.
            log.warning("batch insert into %s failed (%s); retrying per request", table, exc)
            for pending in items:
                try:
                    self._sink.insert(table, pending.rows, columns)
                except Exception as single_exc:
                    pending.future.set_exception(single_exc)
                else:
                    pending.future.set_result(None)
            return
        for pending in items:
            pending.future.set_result(None)
