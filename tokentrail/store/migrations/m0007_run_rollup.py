"""Migration 7: the web UI's reads (issue 14): a run rollup kept by ``serve``, the UI's
columns in the run-ordered projection, and ``llm_calls`` readable on a cluster.

* ``run_rollup`` (per run, UTC day, service, model and source: calls, token buckets,
  cost, cache events) and ``run_rollup_runs`` (how far ``serve`` rolled up each run,
  and at which price load), kept by ``serve`` like ``cache_events_stored``; readers
  compute the runs that are not current on read (tokentrail/store/run_rollup.py). Both
  start empty: every run is computed on read until ``serve`` has worked through them.
* The projection ``calls_by_run`` of ``llm_call_reports`` also holds ``stop_reason``,
  ``run_name`` and ``parent_run_id``, so that a run's timeline is one range read
  (tokentrail/store/ui_reads.py); a projection cannot be altered, so it is dropped,
  added again and built for the rows already stored.
* ``llm_calls`` picks each run's Claude Code family with ``GLOBAL IN``: on a cluster of
  more than one shard, ClickHouse refuses a plain ``IN`` over a Distributed table
  inside a query on one (``distributed_product_mode = 'deny'``). On one server the two
  are the same.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze m0007_run_rollup`` into
m0007_run_rollup.sql and m0007_run_rollup.cluster.sql, which are what runs. Once
released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.analysis import cache_events_store as ces
from tokentrail.store import schema
from tokentrail.store.migrations import build as b
from tokentrail.store.migrations.model import CLUSTER_TOKEN

NAME = "web UI reads: run_rollup kept by serve, UI columns in calls_by_run, llm_calls GLOBAL IN"
CHECKSUM = "7a505541014c279f296965f9e07fd72c05d5b141cb2c5fac7be25feca257b814"  # written by freeze


def _on_reports(statement: str) -> b.Piece:
    """``ALTER TABLE llm_call_reports <statement>``; on a cluster on the local tables."""
    return b.sql(f"ALTER TABLE llm_call_reports {statement}",
                 f"ALTER TABLE llm_call_reports_local ON CLUSTER {CLUSTER_TOKEN} {statement}")


def build() -> list[b.Piece]:
    projection = ces.projection_definition()
    return [
        _on_reports(f"DROP PROJECTION IF EXISTS {ces.PROJECTION} "
                    "SETTINGS mutations_sync = 2"),
        _on_reports("ADD " + projection.replace("PROJECTION", "PROJECTION IF NOT EXISTS", 1)),
        _on_reports(f"MATERIALIZE PROJECTION {ces.PROJECTION} SETTINGS mutations_sync = 2"),
        b.replace_view(schema.LLM_CALLS),
        b.create(schema.RUN_ROLLUP, schema.RUN_ROLLUP_RUNS),
    ]
