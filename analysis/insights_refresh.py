"""``serve`` keeps the stored analysis current: one keeper, whose every pass judges the
runs that got calls for ``cache_events_stored`` and then for ``insight_facts``.

Both tables only make reads fast; neither is what makes its view right (runs not
judged since their last rows are judged on read: :mod:`.cache_events_store`,
:mod:`.insights_store`). So a pass that fails is logged and the next one retries.
"""

from __future__ import annotations

import logging

from tokentrail.store import Store

from . import insights_store
from .cache_events_refresh import CacheEventsKeeper

log = logging.getLogger("tokentrail.insights")


class AnalysisKeeper(CacheEventsKeeper):
    """The passes of :class:`CacheEventsKeeper`, each followed by one of the insights'
    facts (:func:`insights_store.refresh`) with the same margin and batch size. A pass
    reports the larger of the two counts, so a backlog of either is worked off pass
    after pass without waiting, and :meth:`finish` drains both."""

    def __init__(self, store: Store, **options: float) -> None:
        super().__init__(store, **options)  # type: ignore[arg-type]

    def pass_once(self, margin: float | None = None) -> int:
        judged = super().pass_once(margin)
        return max(judged, self.insights_pass(margin))

    def insights_pass(self, margin: float | None = None) -> int:
        """One pass over the insights' facts; the runs it judged (0 on an error)."""
        try:
            return insights_store.refresh(
                self.store, margin_seconds=self.margin if margin is None else margin,
                max_runs=self.max_runs)
        except Exception:
            log.warning("an insights pass failed; the next one retries (the insights "
                        "judge unprocessed runs on read meanwhile)", exc_info=True)
            return 0
