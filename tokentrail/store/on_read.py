"""What the runs ``serve`` has not kept yet compute to on read, remembered per run.

A page reads the stored rows of the runs ``serve`` rolled up and judged, and computes
the others on read: their cache events judged, their rollup rows priced. That costs a
query with the whole judging or pricing SQL (hundreds of milliseconds of planning for
one run), and one page asks for it several times (the fleet: its charts, its events by
cause, its costliest runs), as does every poll of a live page.

What a run computes to depends only on its rows and the prices, so it is remembered
under the run's last insert (``cache_run_inserts``: every insert of rows moves it) and
the latest price load: a run that receives rows, or new prices, is a new key. A key
whose last insert is younger than ``settle_seconds`` is kept only that long: rows can
become visible a moment after the insert that recorded their run (the keepers leave
the same margin), and what was computed before they did must not outlive that moment.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class RunVersion:
    """A run as of its last insert, at a price load: what it computes to is fixed."""

    run_id: str
    last_insert: dt.datetime
    price_load: int


def versions(rows: Iterable[dict[str, Any]]) -> list[RunVersion]:
    """RunVersions from rows with ``run_id``, ``last_insert`` and ``price_load``."""
    return [RunVersion(r["run_id"], r["last_insert"], int(r["price_load"])) for r in rows]


class OnReadMemo:
    """Per kind (what was computed) and RunVersion, the rows computed for that run.

    Thread-safe; bounded to ``max_entries`` runs and ``max_rows`` rows in all (a run
    can have hundreds of events), the least recently used forgotten first. Callers get
    copies: the rows they change are their own."""

    def __init__(self, *, max_entries: int = 4096, max_rows: int = 50_000,
                 settle_seconds: float = 2.0) -> None:
        self.max_entries = max_entries
        self.max_rows = max_rows
        self._rows = 0
        self.settle = dt.timedelta(seconds=settle_seconds)
        self._lock = threading.Lock()
        # key -> (rows, monotonic expiry or None for "while the key holds")
        self._entries: OrderedDict[tuple[str, RunVersion], tuple[Rows, float | None]] = (
            OrderedDict())

    def fetch(self, kind: str, runs: Sequence[RunVersion], now: dt.datetime,
              compute: Callable[[list[str]], Rows]) -> Rows:
        """The rows of ``kind`` for ``runs``: remembered ones, and ``compute(run_ids)``
        (rows with a ``run_id``) for the others, in one call. ``now`` is the store's
        clock (the clock of ``last_insert``)."""
        found: Rows = []
        missing: list[RunVersion] = []
        clock = time.monotonic()
        with self._lock:
            for run in runs:
                entry = self._entries.get((kind, run))
                if entry is None or (entry[1] is not None and entry[1] < clock):
                    missing.append(run)
                    continue
                self._entries.move_to_end((kind, run))
                found.extend(entry[0])
        if missing:
            computed = compute([run.run_id for run in missing])
            by_run: dict[str, Rows] = {run.run_id: [] for run in missing}
            for row in computed:
                by_run.setdefault(row["run_id"], []).append(row)
            with self._lock:
                for run in missing:
                    settled = run.last_insert <= now - self.settle
                    expiry = None if settled else clock + self.settle.total_seconds()
                    old = self._entries.pop((kind, run), None)
                    self._rows += len(by_run[run.run_id]) - (len(old[0]) if old else 0)
                    self._entries[(kind, run)] = (by_run[run.run_id], expiry)
                while len(self._entries) > 1 and (len(self._entries) > self.max_entries
                                                  or self._rows > self.max_rows):
                    _, (rows, _) = self._entries.popitem(last=False)
                    self._rows -= len(rows)
            found.extend(computed)
        return [dict(row) for row in found]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._rows = 0
