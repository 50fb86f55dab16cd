"""Migration 12: a recurring invalidation says where it is in the words of its cause.

``recurring_invalidation``'s detail read "at an unrecorded place, block 4" for a system
prompt change: it took a NULL ``changed_message`` as unrecorded, but only
``messages_changed`` has a message (analysis/cache_events.py); a tools change now says
its tool, a system change its prefix block, a parameter change its parameters
(analysis/insights.py ``_PLACE``). The ``insights`` view embeds that SQL: replaced.
Nothing stored changes (the finding is read from ``cache_events`` on every read).

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0012_recurring_place`` into
m0012_recurring_place.sql and m0012_recurring_place.cluster.sql, which are what runs.
Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "insights: a recurring invalidation says where it is in the words of its cause"
CHECKSUM = "d4c849201a0048a57257b8fa488112a569a406f552f89ae93c6d9579a755637d"  # written by freeze


def build() -> list[b.Piece]:
    return [b.replace_view(schema.INSIGHTS)]
