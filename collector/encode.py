"""OTLP request bodies -> ClickHouse Native blocks, ready to insert.

Decoding protobuf and building rows is pure Python, 8-10 µs per GenAI span (measured;
it was ~20 before attributes went through :mod:`.shadow`). Done on the thread that also
talks to ClickHouse, it held the GIL the writer needed and ingest stopped at ~22k
spans/s on two cores. So :func:`encode` runs in worker *processes*
(:class:`Encoder`): the body goes in, Native-format bytes of each table come out, and
the serving process only concatenates blocks and inserts them (chDB parses Native in
C++, off the GIL). A worker that crashes on a hostile body takes only its own
process down.

Native bytes are made by clickhouse-connect's own serializer, with the column types
read from the store once at start, so they are exactly what its ``insert`` would send.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform

from tokentrail.collector.decode import decompress
from tokentrail.collector.signals import SIGNALS, TABLE_COLUMNS

_SIGNALS = {signal.name: signal for signal in SIGNALS}
_TYPES: dict[str, list[Any]] = {}  # per worker: table -> clickhouse-connect types


@dataclass(frozen=True)
class EncodedTable:
    table: str
    columns: tuple[str, ...]
    rows: int
    native: bytes


@dataclass(frozen=True)
class Encoded:
    tables: list[EncodedTable]
    rejected: int = 0
    error_message: str = ""


def init_worker(type_names: Mapping[str, Sequence[str]], watch_parent: bool = False) -> None:
    """Per process: the ClickHouse types of each table's insert columns, by name."""
    _TYPES.clear()
    _TYPES.update({table: [get_from_name(n) for n in names]
                   for table, names in type_names.items()})
    if watch_parent:
        # Ctrl-C reaches the whole process group; the serving process decides when
        # workers stop (after the in-flight requests are decoded), not the terminal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                         name="tokentrail-parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a parent killed with SIGKILL (its task pipe never reports
    EOF), so it watches for the parent to go and then exits."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def native_block(table: str, columns: Sequence[str], rows: list[Sequence[Any]]) -> bytes:
    """``rows`` as one Native-format block (without the INSERT statement prefix)."""
    context = InsertContext(table, list(columns), _TYPES[table], data=rows)
    block = b"".join(NativeTransform.build_insert(context))
    if block.startswith(b"INSERT"):  # clickhouse-connect prepends the statement for HTTP
        block = block[block.index(b"\n") + 1:]
    return block


def encode(signal_name: str, body: bytes, kind: str, encoding: str | None,
           limit: int) -> Encoded:
    """Decompress, parse and convert one request. Raises DecodeError or BodyTooLarge."""
    signal = _SIGNALS[signal_name]
    decoded = signal.to_rows(signal.parse(decompress(body, encoding, limit), kind))
    return Encoded(
        [EncodedTable(t.table, tuple(t.columns), len(t.rows),
                      native_block(t.table, t.columns, t.rows))
         for t in decoded.tables if t.rows],
        decoded.rejected,
        decoded.error_message,
    )


class Encoder:
    """Runs :func:`encode` in ``workers`` processes, or in threads of this process
    when ``workers`` is 0 (tests, debugging)."""

    @classmethod
    def for_store(cls, store: Any, workers: int) -> Encoder:
        """An encoder for every table the signals write, typed as ``store`` has them."""
        return cls({table: store.column_types(table, columns)
                    for table, columns in TABLE_COLUMNS.items()}, workers)

    def __init__(self, type_names: Mapping[str, Sequence[str]], workers: int) -> None:
        self._type_names = {k: list(v) for k, v in type_names.items()}
        self.workers = workers
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.Executor:
        if self.workers <= 0:
            init_worker(self._type_names)
            return concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="tokentrail-encode")
        # spawn, not fork: the serving process runs chDB's threads, which fork can't copy.
        return concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker, initargs=(self._type_names, True))

    def submit(self, *args: Any) -> concurrent.futures.Future[Encoded]:
        try:
            return self._pool.submit(encode, *args)
        except concurrent.futures.BrokenExecutor:
            # A worker died (a crash on some body): start a fresh pool for what follows.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(encode, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
