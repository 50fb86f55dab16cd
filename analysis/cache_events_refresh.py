"""``serve`` keeps ``cache_events_stored`` current: a pass every few seconds, one more
when it stops.

The table only makes the fleet queries fast; it is never what makes ``cache_events``
right: runs that received rows since their last pass are judged on read by the view
(tokentrail/analysis/cache_events_store.py). So a pass that fails is logged and the
next one tries again, and a store written by a stock OpenTelemetry Collector with no
``serve`` running is still read correctly, only more slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tokentrail.store import Store

log = logging.getLogger("tokentrail.cache_events")

INTERVAL_SECONDS = 2.0
"""Between passes. A pass with nothing to judge is one small query; one with runs to
judge costs about 0.2 s plus 4 ms per run (bench/cache_events.py), on an engine
session of its own, so the collector never waits for it."""
MARGIN_SECONDS = 3.0
"""Rows are judged for good only once they are this old: a row becomes visible a
moment after the insert that recorded its run (see cache_events_store)."""
MAX_RUNS = 500
"""Runs per pass; a backlog (an upgraded store, a burst) is worked off over passes."""


class CacheEventsKeeper:
    """Runs the passes of :meth:`Store.refresh_cache_events` for ``serve``."""

    def __init__(self, store: Store, *, interval: float = INTERVAL_SECONDS,
                 margin: float = MARGIN_SECONDS, max_runs: int = MAX_RUNS) -> None:
        self.store = store
        self.interval = interval
        self.margin = margin
        self.max_runs = max_runs

    def pass_once(self, margin: float | None = None) -> int:
        """One pass; the runs it judged (0 on an error, which is logged)."""
        try:
            return self.store.refresh_cache_events(
                margin_seconds=self.margin if margin is None else margin,
                max_runs=self.max_runs)
        except Exception:
            log.warning("a cache-events pass failed; the next one retries (the "
                        "cache_events view judges unprocessed runs on read meanwhile)",
                        exc_info=True)
            return 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Pass after pass until ``stopping`` is set; a full pass is followed at once
        by the next, an idle one by a wait."""
        while not stopping.is_set():
            judged = await asyncio.to_thread(self.pass_once)
            if judged >= self.max_runs:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.interval)

    def finish(self) -> None:
        """After the writer drained: judge everything that arrived, so the stored table
        is complete when ``serve`` stops cleanly."""
        while self.pass_once(margin=0.0) >= self.max_runs:
            pass
