"""``serve`` keeps ``run_rollup`` current: after each pass of the analysis keeper
(cache events, and whatever it keeps besides), one rollup pass over the runs that got
rows since (:meth:`tokentrail.store.Store.refresh_run_rollup`).

The rollup only makes the UI's pages fast; runs it has not rolled up are computed on
read (tokentrail/store/run_rollup.py). So a pass that fails is logged and the next one
retries. It runs after the cache-events pass so that the events it adds up are read
from the stored table rather than judged again.
"""

from __future__ import annotations

import logging

from tokentrail.analysis.cache_events_refresh import CacheEventsKeeper

log = logging.getLogger("tokentrail.run_rollup")


class RunRollupKeeper(CacheEventsKeeper):
    """The passes of ``inner`` (a :class:`CacheEventsKeeper` or a subclass), each
    followed by a rollup pass with the same margin and batch size. A pass reports the
    larger count, so a backlog of either is worked off without waiting, and
    :meth:`finish` drains both."""

    def __init__(self, inner: CacheEventsKeeper) -> None:
        super().__init__(inner.store, interval=inner.interval, margin=inner.margin,
                         max_runs=inner.max_runs)
        self.inner = inner

    def pass_once(self, margin: float | None = None) -> int:
        return max(self.inner.pass_once(margin), self.rollup_pass(margin))

    def rollup_pass(self, margin: float | None = None) -> int:
        """One rollup pass; the runs it rolled up (0 on an error, which is logged)."""
        try:
            return self.store.refresh_run_rollup(
                margin_seconds=self.margin if margin is None else margin,
                max_runs=self.max_runs)
        except Exception:
            log.warning("a run-rollup pass failed; the next one retries (the UI computes "
                        "runs not rolled up on read meanwhile)", exc_info=True)
            return 0
