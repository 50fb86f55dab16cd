"""Migration 11: cache events judge a helper call with a prompt of its own as another
conversation, and every run is judged again.

The judging SQL (tokentrail/analysis/cache_events.py) no longer compares a call with an
earlier call of another conversation inside the same run: one whose model, tools or
system differ and whose messages share nothing (a summariser or classifier the agent
calls mid-task). Before, such a helper call was a ``tools_changed`` (or
``system_changed``, ``model_changed``) event with tokens "lost" that it could never
have read, and a main-loop turn after a helper that cached something was judged
against the helper.

* ``cache_events`` embeds the judging SQL (for the runs it judges on read): replaced.
* The events ``serve`` stored were judged under the old rules, and ``run_rollup`` counts
  and prices them per run: both state tables (``cache_event_runs``,
  ``run_rollup_runs``) are emptied, so that every run is not current, is judged on read
  at first and stored again by ``serve``'s passes as they work through the backlog
  (a pass writes tombstones for the stored events it does not find again).

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0011_helper_calls`` into
m0011_helper_calls.sql and m0011_helper_calls.cluster.sql, which are what runs. Once
released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b
from tokentrail.store.migrations.model import CLUSTER_TOKEN

NAME = "cache events: a helper call with a prompt of its own is another conversation"
CHECKSUM = "ca1c2cfe99abd269ad9be5dfee54ee6017421092f2a0e2f08728d187151c97fa"  # written by freeze

# The state tables whose runs must be done again (their names when this was written).
_STATES = ("cache_event_runs", "run_rollup_runs")


def _empty(table: str) -> b.Piece:
    """Empty a state table (a mutation, waited for; run again it deletes nothing); on a
    cluster its local tables on every node."""
    delete = "DELETE WHERE true SETTINGS mutations_sync = 2"
    return b.sql(f"ALTER TABLE {table} {delete}",
                 f"ALTER TABLE {table}_local ON CLUSTER {CLUSTER_TOKEN} {delete}")


def build() -> list[b.Piece]:
    return [
        b.replace_view(schema.CACHE_EVENTS),
        *(_empty(table) for table in _STATES),
    ]
