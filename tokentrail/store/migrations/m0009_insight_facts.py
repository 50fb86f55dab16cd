"""Migration 9: insights from facts ``serve`` keeps per run and day (issue 13's speed).

* ``insight_reads`` and its materialized view on ``llm_call_reports``: every call that
  read the cache (service, model, time), so the rule of ``unread_cache_writes`` (a
  read of the same service and model within the TTL) can be checked for a few runs
  without reading every call; filled from the stored calls here.
* ``insight_runs`` (how far ``serve`` judged each run) and ``insight_facts`` (the facts
  of each run, service, model and UTC day: layer 3 of the insights summed;
  tokentrail/analysis/insights.py ``FACTS``), kept by ``serve`` beside the cache events.
* ``insights`` reads those facts, and judges on read the runs ``serve`` has not judged
  since their last rows (all of them right after this migration, until ``serve`` has
  worked through the backlog): tokentrail/analysis/insights_store.py.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0009_insight_facts`` into its SQL files,
which are what runs. Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "insights from facts serve keeps per run and day"
CHECKSUM = "a9439e4934fd2ee962fc0a673b0af655e0ec1ff6eeab879545276476c990f973"  # written by freeze


def build() -> list[b.Piece]:
    return [
        b.create(schema.INSIGHT_READS, schema.INSIGHT_READS_MV, schema.INSIGHT_RUNS,
                 schema.INSIGHT_FACTS),
        b.backfill("insight_reads", ["service_name", "model", "timestamp"],
                   "SELECT service_name, model, timestamp FROM llm_call_reports "
                   "WHERE cache_read_tokens > 0",
                   key="service_name, model, timestamp"),
        b.replace_view(schema.INSIGHTS),
    ]
