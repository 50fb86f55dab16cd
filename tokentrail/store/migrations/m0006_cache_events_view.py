"""Migration 6: ``cache_events`` decides once per query which runs it judges on read.

The view (tokentrail/analysis/cache_events_store.py) unions the events ``serve`` stored
for runs it judged since their last rows with the events of the other runs, judged on
read. It used to pick the two sets of runs with two subqueries, evaluated separately: a
pass of ``serve`` that marked a run judged between them made the run's events vanish
from both halves of that one read. Now one scalar subquery picks them, evaluated once.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0006_cache_events_view`` into its SQL
files, which are what runs. Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "cache_events picks the runs it judges on read once per query"
CHECKSUM = "22b99ebe5ef6945dfd5391b4bf4d8c5f9ff6a5d3638d9ec4c087d8a81c2418cc"  # written by freeze


def build() -> list[b.Piece]:
    return [b.replace_view(schema.CACHE_EVENTS)]
