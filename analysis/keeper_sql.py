"""The SQL of a keeper's pass, written once for every table ``serve`` keeps per run
(``cache_events_stored``, ``insight_facts``, ``run_rollup``; docs/design.md, "The
analysis layer").

Each such table has a *state table* (``run_id``, a time column saying how far the run
was done, ``price_load``, ``version``; a ReplacingMergeTree on ``version``). A run's
stored rows are **current** when the run received no rows after that time
(``cache_run_inserts``, filled at insert time by every ingest path) and they were
computed at the latest price load (``model_price_slots``: a sync of the prices writes a
new ``load_id``, and every cost SQL prices with the latest one). Readers take the
stored rows of current runs and compute the others on read; a pass of ``serve`` takes
runs that are not current, rewrites their rows with a new version plus tombstones for
the rows not written again, and records them in the state table: done up to the
earlier of their last insert and the *horizon* (the pass's start minus a margin: rows
become visible a moment after the insert that recorded their run), at the price load
the pass started with. A load that arrives during the pass leaves the run not current,
and a later pass does it again.

No JOIN anywhere: both sides are grouped by run, so each query reads the same on a
cluster. Every statement is built from constants; values are query parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

RUN_INSERTS = "cache_run_inserts"
"""When each run last received rows (migration 3)."""
PRICE_LOADS = "model_price_slots"
"""The price loads' lookups; costs are priced with the latest."""
LATEST_PRICE_LOAD = f"(SELECT ifNull(max(load_id), 0) FROM {PRICE_LOADS})"  # noqa: S608

# Over the rows of _runs_and_state, grouped by run (or of one run): its last insert
# against how far it was done, and the price load of its latest state row.
_STALE = (f"maxIf(at, kind = 0) > maxIf(at, kind = 1)\n"
          f"    OR argMaxIf(load, version, kind = 1) != {LATEST_PRICE_LOAD}")
_CURRENT = (f"maxIf(at, kind = 0) <= maxIf(at, kind = 1) AND countIf(kind = 1) > 0\n"
            f"    AND argMaxIf(load, version, kind = 1) = {LATEST_PRICE_LOAD}")


def _runs_and_state(state: str, done_through: str, run_filter: str = "") -> str:
    """The inserts of runs (kind 0) and their state rows (kind 1) as one relation."""
    where = f"\n    WHERE {run_filter}" if run_filter else ""
    return f"""(
    SELECT run_id, last_insert AS at, 0 AS kind, toUInt64(0) AS load, toUInt64(0) AS version
    FROM {RUN_INSERTS}{where}
    UNION ALL
    SELECT run_id, {done_through}, 1, price_load, version FROM {state}{where}
)"""  # noqa: S608


def dirty_runs_select(state: str, done_through: str) -> str:
    """Runs that are not current for the keeper of ``state`` (whose column
    ``done_through`` says how far a run was done): ``run_id`` and ``last_insert``."""
    return f"""
SELECT run_id, maxIf(at, kind = 0) AS last_insert
FROM {_runs_and_state(state, done_through)}
GROUP BY run_id
HAVING {_STALE}"""  # noqa: S608


def run_is_current_select(state: str, done_through: str) -> str:
    """Params: ``run``. One row (``current``): whether the run's stored rows are current
    (false for a run never done)."""
    rows = _runs_and_state(state, done_through, "run_id = {run:String}")
    return f"SELECT {_CURRENT} AS current\nFROM {rows}"


def runs_current_select(state: str, done_through: str) -> str:
    """Params: ``runs`` (Array(String)). ``run_id`` and ``current`` of those of ``runs``
    that received rows."""
    rows = _runs_and_state(state, done_through, "run_id IN {runs:Array(String)}")
    return f"SELECT run_id, {_CURRENT} AS current\nFROM {rows}\nGROUP BY run_id"


def refresh_dirty_select(dirty: str) -> str:
    """Params: ``limit``, ``margin_ms``. Of the runs ``dirty`` selects (``run_id``,
    ``last_insert``), those of one pass, oldest first; with the horizon (as text, for
    :func:`refresh_mark_runs`) and the price load the pass computes at."""
    return f"""
SELECT run_id,
       toString(now64(3) - toIntervalMillisecond({{margin_ms:UInt64}})) AS horizon,
       {LATEST_PRICE_LOAD} AS price_load
FROM ({dirty})
ORDER BY last_insert, run_id
LIMIT {{limit:UInt32}}"""  # noqa: S608


def refresh_insert_rows(table: str, columns: Sequence[str], computed: str) -> str:
    """Params: ``runs``, ``version``, and those of ``computed`` (a SELECT of ``columns``
    for the runs ``run_id IN {runs:Array(String)}``): the rows of the pass."""
    names = ", ".join(columns)
    return f"""
INSERT INTO {table} ({names}, version, is_deleted)
SELECT {names}, {{version:UInt64}}, 0
FROM ({computed})"""  # noqa: S608


def refresh_insert_tombstones(table: str, columns: Sequence[str]) -> str:
    """Params: ``runs``, ``version``. A tombstone for every row of these runs stored by
    an earlier pass that this one did not write again."""
    names = ", ".join(columns)
    return f"""
INSERT INTO {table} ({names}, version, is_deleted)
SELECT {names}, {{version:UInt64}}, 1
FROM {table} FINAL
WHERE run_id IN {{runs:Array(String)}} AND version < {{version:UInt64}}"""  # noqa: S608


def last_inserts_select() -> str:
    """Every run that received rows: ``run_id`` and ``last_insert``."""
    return f"SELECT run_id, max(last_insert) AS last_insert FROM {RUN_INSERTS} GROUP BY run_id"  # noqa: S608


def refresh_mark_runs(state: str, done_through: str, marked: str) -> str:
    """Params: ``runs``, ``horizon`` and ``price_load`` (from
    :func:`refresh_dirty_select`), ``version``. Those of ``runs`` that ``marked`` (a
    SELECT of ``run_id`` and ``last_insert``) has, recorded as done up to the earlier
    of their last insert and the horizon, at the pass's price load.

    ``marked`` is the keeper's dirty select (the cache events', the insights': a run
    no longer dirty when the pass ends is left as it is) or
    :func:`last_inserts_select` (the run rollup's: every run of the pass is recorded,
    if it received rows)."""
    return f"""
INSERT INTO {state} (run_id, {done_through}, price_load, version)
SELECT run_id, least(last_insert, toDateTime64({{horizon:String}}, 3)),
       {{price_load:UInt64}}, {{version:UInt64}}
FROM ({marked})
WHERE run_id IN {{runs:Array(String)}}"""  # noqa: S608
