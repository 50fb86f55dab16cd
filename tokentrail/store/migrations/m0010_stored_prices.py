"""Migration 10: stored cache events and insight facts follow a new price load.

``cache_events_stored`` (``extra_cost_usd``) and ``insight_facts`` (their dollar
figures) are priced when ``serve`` judges a run. A sync of the prices (a release with a
new prices.csv, a user's override: tokentrail/analysis/prices.py) writes a new load,
and every cost SQL prices with the latest one, but these rows kept the prices they
were judged at, and the ``cache_events`` and ``insights`` views served them as current.

* ``cache_event_runs`` and ``insight_runs`` get ``price_load``: the load a pass judged
  a run at, as ``run_rollup_runs`` has since migration 7.
* ``cache_events`` and ``insights`` treat a run judged at another load than the latest
  as not current, and judge it on read until ``serve`` has judged it again
  (tokentrail/analysis/keeper_sql.py), as ``run_rollup``'s readers do.

State rows written before this migration read ``price_load`` 0, which is no load: after
the upgrade every run is judged once more, on read at first and by ``serve``'s passes
as they work through the backlog (their new rows carry the latest load).

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0010_stored_prices`` into
m0010_stored_prices.sql and m0010_stored_prices.cluster.sql, which are what runs. Once
released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "stored cache events and insight facts follow a new price load"
CHECKSUM = "9648209f1233a36753df004f365116ae9f5278b25cfbc6f8603b1c8358e3b4ed"  # written by freeze


def build() -> list[b.Piece]:
    return [
        b.add_columns(schema.CACHE_EVENT_RUNS, "price_load"),
        b.add_columns(schema.INSIGHT_RUNS, "price_load"),
        b.replace_view(schema.CACHE_EVENTS),
        b.replace_view(schema.INSIGHTS),
    ]
