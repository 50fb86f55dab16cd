"""Where ``cache_events`` come from: the calls of a run, fast; a table kept by ``serve``;
and the view that is always complete.

Speed (docs/design.md, "The analysis layer"; measured in ``bench/cache_events.py``):

* ``llm_call_reports`` is ordered by ``call_id`` (a random response id), so the calls of
  one run are scattered over the whole table and ``FINAL`` collapses all of it: reading
  a run through ``llm_calls`` costs seconds on millions of calls. A projection ordered by
  ``run_id`` (:data:`PROJECTION`, the columns the rules and the prices need) makes it a
  range read; duplicate reports of a call are collapsed per run by ``LIMIT 1 BY`` (the
  highest ``source_rank`` wins, as in ``llm_calls``), and the Claude Code family rule is
  applied per run with a window.
* Judging calls is window functions over whole runs, cheap per run but not something to
  redo over ten million calls for every fleet query. So ``serve`` keeps
  ``cache_events_stored`` current (:mod:`tokentrail.analysis.cache_events_refresh`).
  It must also be right for rows that a stock OpenTelemetry Collector inserted, with or
  without ``serve`` running, and current within seconds: a materialized view on
  ``llm_call_reports`` (which every ingest path fills) records when each run last
  received rows (``cache_run_inserts``); ``serve`` records how far it analysed each run,
  and at which price load (``cache_event_runs``). The ``cache_events`` view reads the
  stored events of runs that are up to date and judges the others on read, so it is
  complete whatever ran; a run analysed at other prices than the latest load is not up
  to date (``extra_cost_usd`` is priced: :mod:`.keeper_sql`).

Every query here is built from constants; run ids and times are query parameters.
"""

from __future__ import annotations

from . import keeper_sql
from .cache_events import OUTPUT_COLUMNS, OUTPUT_TYPES, events_select, settings_clause
from .pricing_sql import priced_select

PROJECTION = "calls_by_run"
"""The projection of ``llm_call_reports`` ordered by run (migration 3)."""

# The columns of llm_call_reports that judging and pricing a call read. A query that
# reads only these is answered from the projection.
PROJECTION_COLUMNS = (
    "run_id", "timestamp", "call_id", "source_rank", "family_rank", "service_name",
    "source", "turn", "model", "input_tokens", "cache_read_tokens", "cache_write_tokens",
    "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens", "duration_ms",
    "is_batch", "reported_cost_usd", "prefix_tools_hash", "prefix_system_hash",
    "prefix_params_hash", "prefix_message_hashes", "prefix_message_count",
    "prefix_block_count", "prefix_block_tokens", "prefix_tokens", "cache_breakpoints",
    "cache_ttls", "cache_automatic", "prefix_change_level", "prefix_change_params",
    "prefix_change_message", "prefix_change_block", "prefix_change_char",
    "prefix_change_hint", "cache_miss_reason", "cache_missed_input_tokens",
    # what a call's price depends on besides its tokens (analysis/pricing_sql.py)
    "betas", "speed", "inference_geo", "web_search_requests", "web_fetch_requests",
)

# Columns the projection also holds for the web UI's run pages (tokentrail/store/
# ui_reads.py, migration 7), which no cache rule reads.
PROJECTION_EXTRA_COLUMNS = ("stop_reason", "run_name", "parent_run_id")

STORED = "cache_events_stored"
RUN_INSERTS = keeper_sql.RUN_INSERTS
RUN_STATE = "cache_event_runs"
DONE_THROUGH = "analysed_through"
"""The column of :data:`RUN_STATE` that says how far a run was analysed."""
VIEW = "cache_events"

STORED_COLUMNS = (*OUTPUT_COLUMNS, "version", "is_deleted")


def projection_definition() -> str:
    """The ``PROJECTION`` clause of ``llm_call_reports``."""
    columns = ", ".join((*PROJECTION_COLUMNS, *PROJECTION_EXTRA_COLUMNS))
    return f"PROJECTION {PROJECTION} (SELECT {columns} ORDER BY run_id, timestamp)"


def stored_columns_ddl() -> str:
    """Column definitions of :data:`STORED`."""
    lines = [f"{name} {OUTPUT_TYPES[name]}" for name in OUTPUT_COLUMNS]
    lines += ["version UInt64", "is_deleted UInt8"]
    return ",\n".join(lines)


def run_calls_select(run_filter: str, extra: tuple[str, ...] = ()) -> str:
    """The calls of the runs that ``run_filter`` (a condition on ``run_id``) selects, one
    row per call as in ``llm_calls``, read from :data:`PROJECTION`. Window functions,
    not ORDER BY ... LIMIT BY: an ORDER BY makes ClickHouse try to read the table in
    its own order and pass over the projection (measured: a scan of every granule).
    ``extra``: more columns of ``llm_call_reports`` (the web UI's, tokentrail/store/
    ui_reads.py; the projection holds those of :data:`PROJECTION_EXTRA_COLUMNS`)."""
    columns = ", ".join((*PROJECTION_COLUMNS, *extra))
    return f"""(
SELECT * EXCEPT (family_rank, top_family, report_rank)
FROM (
    SELECT *,
        row_number() OVER (PARTITION BY run_id, call_id ORDER BY source_rank DESC)
            AS report_rank,
        max(family_rank) OVER (PARTITION BY run_id) AS top_family
    FROM (SELECT {columns} FROM llm_call_reports WHERE {run_filter})
)
WHERE report_rank = 1 AND (family_rank = 0 OR family_rank = top_family)
)"""  # noqa: S608  (constants and the caller's condition, never input)


def priced(calls: str) -> str:
    """``calls`` with the cost columns of ``llm_calls`` (the same SQL, docs/facts.md §2)."""
    return f"({priced_select('SELECT * FROM ' + calls)})"  # noqa: S608


def events_for(run_filter: str) -> str:
    """The events of the runs that ``run_filter`` selects, judged now and priced with
    llm_calls' cost SQL."""
    return events_select(run_calls_select(run_filter), price=priced_select)


def run_inserts_select() -> str:
    """The materialized view ``llm_call_reports`` -> :data:`RUN_INSERTS`: per insert,
    the runs it touched and when (the view runs at insert time, so ``now64`` is then)."""
    return """
SELECT run_id, max(now64(3)) AS last_insert
FROM {llm_call_reports}
GROUP BY run_id"""


def dirty_runs_select() -> str:
    """Runs whose stored events are not current: rows arrived after ``serve`` last
    analysed them (or it never did), or it analysed them at other prices than the
    latest load (:mod:`.keeper_sql`): ``run_id`` and ``last_insert``."""
    return keeper_sql.dirty_runs_select(RUN_STATE, DONE_THROUGH)


def view_select() -> str:
    """``cache_events``: stored events of runs analysed since their last rows arrived,
    at the latest prices, plus the events of every other run judged on read. Which runs
    are which is decided once per query (a scalar subquery, evaluated once and shared by
    both branches): a pass of ``serve`` that marks runs analysed while the query runs
    must not make them vanish from both branches."""
    columns = ", ".join(OUTPUT_COLUMNS)
    return f"""
WITH (SELECT groupArray(run_id) FROM ({dirty_runs_select()})) AS judged_on_read
SELECT {columns}
FROM (
    SELECT {columns}
    FROM {STORED} FINAL
    WHERE run_id NOT IN judged_on_read
    UNION ALL
    SELECT {columns}
    FROM ({events_for("run_id IN judged_on_read")})
)
{settings_clause()}"""  # noqa: S608


# --- keeping cache_events_stored current (run by ``serve``, Store.refresh_cache_events) ---
#
# One pass (:mod:`.keeper_sql`): take the runs that received rows since they were last
# analysed, or were analysed at older prices (oldest first, at most {limit}); judge
# them; write their events with a new version and a tombstone for every event of theirs
# stored before that is no longer one; record them as analysed up to the earlier of
# their last insert and the *horizon* (the pass's start minus a margin), at the price
# load the pass started with. Rows are visible a moment after they were inserted, so a run that
# received rows within the margin stays dirty and is judged again by a later pass.
# Readers never see a half-written pass: until the last statement, the runs are dirty
# and the view judges them on read.

def refresh_dirty_select() -> str:
    """Params: ``limit``, ``margin_ms``. The runs to judge in one pass, the horizon
    (the store's clock minus the margin, as text for :func:`refresh_mark_runs`) and
    the price load the pass judges at."""
    return keeper_sql.refresh_dirty_select(dirty_runs_select())


def refresh_insert_events() -> str:
    """Params: ``runs`` (Array(String)), ``version`` (UInt64)."""
    return keeper_sql.refresh_insert_rows(
        STORED, OUTPUT_COLUMNS, events_for("run_id IN {runs:Array(String)}"))


def refresh_insert_tombstones() -> str:
    """Params: ``runs``, ``version``. Events of these runs stored by an earlier pass that
    this pass did not write again."""
    return keeper_sql.refresh_insert_tombstones(STORED, OUTPUT_COLUMNS)


def refresh_mark_runs() -> str:
    """Params: ``runs``, ``horizon``, ``price_load`` (from :func:`refresh_dirty_select`),
    ``version``."""
    return keeper_sql.refresh_mark_runs(RUN_STATE, DONE_THROUGH, dirty_runs_select())


def run_is_current_select() -> str:
    """Params: ``run``. One row (``current``): whether the stored events of the run are
    current (it received no rows since it was analysed, at the latest prices)."""
    return keeper_sql.run_is_current_select(RUN_STATE, DONE_THROUGH)


def runs_current_select() -> str:
    """Params: ``runs`` (Array(String)). ``run_id`` and ``current`` of each of ``runs``
    that received rows, as :func:`run_is_current_select` judges one."""
    return keeper_sql.runs_current_select(RUN_STATE, DONE_THROUGH)


def stored_events_select() -> str:
    """Params: ``run``. The stored events of one run."""
    return f"""
SELECT {', '.join(OUTPUT_COLUMNS)}
FROM {STORED} FINAL
WHERE run_id = {{run:String}}
ORDER BY timestamp, call_id"""  # noqa: S608
