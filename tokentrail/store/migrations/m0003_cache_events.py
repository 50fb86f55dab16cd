"""Migration 3: why the cache missed (issue 12; docs/facts.md §1).

* ``llm_call_reports`` gains ``prefix_change_hint`` (what the changed text looks like,
  classified in the agent process: timestamp, uuid, counter, reordered, other), and the
  traces view fills it; ``llm_calls`` shows it.
* ``llm_call_reports`` gets a projection ordered by run (``calls_by_run``, the columns the
  cache rules and the prices read), built for the rows already stored: the calls of one
  run become a range read instead of a scan of the whole table. ReplacingMergeTree
  accepts a projection only with ``deduplicate_merge_projection_mode`` set.
* ``cache_run_inserts`` (filled at insert time by ``cache_run_inserts_mv``, for every
  ingest path; backfilled with the runs already stored, which are thereby due for
  judging), ``cache_event_runs`` and ``cache_events_stored`` (kept by ``serve``), and
  the ``cache_events`` view over them (tokentrail/analysis/cache_events_store.py).

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0003_cache_events`` into
m0003_cache_events.sql and m0003_cache_events.cluster.sql, which are what runs. Once
released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.analysis import cache_events_store as ces
from tokentrail.store import schema
from tokentrail.store.migrations import build as b
from tokentrail.store.migrations.model import CLUSTER_TOKEN

NAME = "why the cache missed: cache_events, the run-ordered projection and the change hint"
CHECKSUM = "79e6264d50e2d4c0ab94f3962cf4bcf269c6d32dd69214c4a91b5e60c6cf33d5"  # written by freeze


def _on_reports(statement: str) -> b.Piece:
    """``ALTER TABLE llm_call_reports <statement>``; on a cluster on the local tables."""
    return b.sql(f"ALTER TABLE llm_call_reports {statement}",
                 f"ALTER TABLE llm_call_reports_local ON CLUSTER {CLUSTER_TOKEN} {statement}")


def build() -> list[b.Piece]:
    projection = ces.projection_definition()
    return [
        b.add_columns(schema.LLM_CALL_REPORTS, "prefix_change_hint"),
        b.replace_materialized_view(schema.LLM_CALLS_FROM_TRACES_MV),
        b.replace_view(schema.LLM_CALLS),
        _on_reports("MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'"),
        _on_reports("ADD " + projection.replace("PROJECTION", "PROJECTION IF NOT EXISTS", 1)),
        _on_reports(f"MATERIALIZE PROJECTION {ces.PROJECTION} SETTINGS mutations_sync = 2"),
        b.create(schema.CACHE_RUN_INSERTS, schema.CACHE_EVENT_RUNS,
                 schema.CACHE_EVENTS_STORED),
        b.create(schema.CACHE_RUN_INSERTS_MV),
        b.backfill(ces.RUN_INSERTS, ["run_id", "last_insert"],
                   "SELECT run_id, now64(3) AS last_insert FROM llm_call_reports "
                   "GROUP BY run_id", key="run_id"),
        b.create(schema.CACHE_EVENTS),
    ]
