"""The batching writer: batches by size or time, acks after commit, bounded memory.

The sinks here are small in-memory recorders standing in for the store, so that a
test can hold an insert open or make it fail on demand; the real store is used by
the receiver and integration tests.
"""

from __future__ import annotations

import threading

import pytest

from tokentrail.collector.writer import BatchWriter, Overloaded, Part, WriterClosed

COLS = ("a",)


class RecordingSink:
    def __init__(self, fail_on: set[int] | None = None, gate: threading.Event | None = None):
        self.batches: list[tuple[str, list]] = []
        self.fail_on = fail_on or set()
        self.gate = gate
        self.entered = threading.Event()  # an insert has started (and may be held)

    def insert_blocks(self, table, columns, blocks):
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        rows = [row for block in blocks for row in block]
        if any(row[0] in self.fail_on for row in rows):
            raise ValueError("bad row")
        self.batches.append((table, rows))


def part(table, rows):
    return Part(table, COLS, rows, len(rows))


def test_batches_by_size():
    sink = RecordingSink()
    writer = BatchWriter(sink, max_rows=10, max_delay=60)
    futures = [writer.submit(part("t", [[i], [i]])) for i in range(5)]
    for f in futures:
        f.result(timeout=5)
    assert [len(rows) for _, rows in sink.batches] == [10]
    writer.close()


def test_batches_by_time():
    sink = RecordingSink()
    writer = BatchWriter(sink, max_rows=1000, max_delay=0.05)
    writer.submit(part("t", [[1]])).result(timeout=5)
    writer.submit(part("t", [[2]])).result(timeout=5)
    assert [rows for _, rows in sink.batches] == [[[1]], [[2]]]
    writer.close()


def test_ack_only_after_commit():
    gate = threading.Event()
    sink = RecordingSink(gate=gate)
    writer = BatchWriter(sink, max_rows=1, max_delay=0.01)
    future = writer.submit(part("t", [[1]]))
    assert sink.entered.wait(10), "the writer never started the insert"
    assert not future.done()  # the insert is running and held open: no ack yet
    gate.set()
    future.result(timeout=5)
    assert sink.batches == [("t", [[1]])]
    writer.close()


def test_a_bad_request_fails_alone():
    sink = RecordingSink(fail_on={13})
    writer = BatchWriter(sink, max_rows=3, max_delay=60)
    good1 = writer.submit(part("t", [[1]]))
    bad = writer.submit(part("t", [[13]]))
    good2 = writer.submit(part("t", [[2]]))
    good1.result(timeout=5)
    good2.result(timeout=5)
    with pytest.raises(ValueError, match="bad row"):
        bad.result(timeout=5)
    assert sorted(r[0] for _, rows in sink.batches for r in rows) == [1, 2]
    writer.close()


def test_full_queue_is_refused_not_buffered():
    gate = threading.Event()
    sink = RecordingSink(gate=gate)
    writer = BatchWriter(sink, max_rows=1, max_delay=0.01, max_queued_rows=3, retry_after=2)
    accepted = [writer.submit(part("t", [[i]])) for i in range(3)]
    with pytest.raises(Overloaded) as info:
        writer.submit(part("t", [[99]]))
    assert info.value.retry_after == 2
    gate.set()
    for f in accepted:
        f.result(timeout=5)
    writer.submit(part("t", [[4]])).result(timeout=5)  # room again once committed
    writer.close()


def test_close_drains_everything_accepted_then_refuses():
    sink = RecordingSink()
    writer = BatchWriter(sink, max_rows=10_000, max_delay=60)
    futures = [writer.submit(part(f"t{i % 2}", [[i]])) for i in range(10)]
    writer.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert sorted(r[0] for _, rows in sink.batches for r in rows) == list(range(10))
    with pytest.raises(WriterClosed):
        writer.submit(part("t", [[1]]))
