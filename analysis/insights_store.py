"""Where the facts behind ``insights`` come from: a table kept by ``serve``, and the runs
not stored yet judged on read, so a range is always complete (docs/design.md, "The
analysis layer"; issue 13: 10M stored calls, a 7-day range in at most 2 s).

Judging calls (layers 1-3 of :mod:`.insights_sql`: two more passes of the cost SQL, and
window functions over each run) costs 8-25 µs per call, a minute for 10M calls. But
every kind's rule is a sum over one run's calls, or a sum of such sums per service and
model; so ``serve`` judges a run once, when it got new calls, and stores its *facts*
per run, service, model and UTC day (:data:`FACTS`, ``insight_facts``), the same
machinery as ``cache_events_stored`` (:mod:`.cache_events_store`):

* which runs got rows since they were judged: ``cache_run_inserts`` (a materialized
  view on ``llm_call_reports``, which every ingest path fills) against
  :data:`RUN_STATE` (how far ``serve`` judged each run, and at which price load: facts
  judged at other prices than the latest load are not current either);
* a pass judges up to a few hundred such runs, reading their calls through the
  run-ordered projection, writes their facts with a new version and tombstones for
  facts of theirs that are gone, then marks them judged up to a horizon a few seconds
  back (rows still arriving keep a run dirty);
* a range reads the stored facts of runs judged since their last rows, plus the facts
  of every other run judged on read (one scalar subquery picks them, once per query).

A day of a run counts in a range when its first call does (a run is judged as a whole:
its windows span all its calls, whichever range is asked). ``unread_cache_writes``
needs more than the run: whether any call of the same service and model read the cache
within the TTL after a write. Those reads come from :data:`READS` (every call that
read, kept by a materialized view, so complete whatever ran), and a read arriving later
can only turn a write from unread to read: each pass also re-judges the stored days
whose unread writes the reads of the runs it just judged could have been read by
(:func:`refresh_affected_select`). Until that pass (seconds, with ``serve`` running), a
stored run keeps counting such a write as unread.

Every query here is built from constants; run ids and times are query parameters.
"""

from __future__ import annotations

from . import keeper_sql
from .cache_events import settings_clause
from .cache_events_store import PROJECTION_EXTRA_COLUMNS, priced, run_calls_select
from .insights import FACT_COLUMNS, FACT_TYPES, FACTS, bind_constants, facts_select
from .insights_sql import TTL_1H, calls_select

READS = "insight_reads"
READS_MV = "insight_reads_mv"
STORED = "insight_facts"
RUN_STATE = "insight_runs"
DONE_THROUGH = "analysed_through"
"""The column of :data:`RUN_STATE` that says how far a run was judged."""

STORED_COLUMNS = (*FACT_COLUMNS, "version", "is_deleted")

__all__ = ["FACTS", "READS", "RUN_STATE", "STORED", "facts_for", "facts_in_range"]


def stored_columns_ddl() -> str:
    """Column definitions of :data:`STORED`."""
    lines = [f"{name} {FACT_TYPES[name]}" for name in FACT_COLUMNS]
    lines += ["version UInt64", "is_deleted UInt8"]
    return ",\n".join(lines)


def reads_select() -> str:
    """The materialized view ``llm_call_reports`` -> :data:`READS`: every report of a
    call that read the cache (a call reported twice is a read twice, which changes
    nothing: only whether there was one in a window counts)."""
    return """
SELECT service_name, model, timestamp
FROM {llm_call_reports}
WHERE cache_read_tokens > 0"""


def _reads_near(run_filter: str) -> str:
    """The reads that can be the next read after a call of the runs ``run_filter``
    selects: of their services and models, from their first call to an hour after
    their last (the longest TTL). Found through the projection and :data:`READS`'s
    order, so a pass reads a sliver of both."""
    calls = f"(SELECT service_name, model, timestamp FROM llm_call_reports WHERE {run_filter})"  # noqa: S608
    return f"""(
SELECT service_name, model, timestamp FROM {READS}
WHERE (service_name, model) IN (SELECT service_name, model FROM {calls})
  AND timestamp > (SELECT min(timestamp) FROM {calls})
  AND timestamp <= (SELECT max(timestamp) FROM {calls}) + INTERVAL {TTL_1H} SECOND
)"""  # noqa: S608


def facts_for(run_filter: str) -> str:
    """The facts of the runs that ``run_filter`` (a condition on ``run_id``) selects,
    judged now over all their calls, with the thresholds of :data:`.insights.DEFAULTS`."""
    calls = priced(run_calls_select(run_filter, PROJECTION_EXTRA_COLUMNS))
    return bind_constants(facts_select(calls_select(calls, reads=_reads_near(run_filter))))


def dirty_runs_select() -> str:
    """Runs whose stored facts are not current: rows arrived after ``serve`` last judged
    them (or it never did), or it judged them at other prices than the latest load
    (the facts hold dollars: :mod:`.keeper_sql`): ``run_id`` and ``last_insert``."""
    return keeper_sql.dirty_runs_select(RUN_STATE, DONE_THROUGH)


def facts_in_range(start: str, end: str, *, on_read: bool = True) -> str:
    """The facts of the days whose first call lies in ``[start, end)`` (SQL
    expressions): stored ones of runs judged since their last rows, the others judged
    on read. Which runs are which is decided once per query (a scalar subquery), so a
    pass that marks runs judged meanwhile cannot make them vanish from both halves.

    ``on_read=False``: the stored facts only, for a caller that just found no run to
    judge (:func:`any_dirty_select`). Judging on read costs its planning even when it
    judges nothing (the cost SQL three times over, windows, joins: hundreds of ms),
    which is most of a read of the stored facts."""
    columns = ", ".join(FACT_COLUMNS)
    in_range = (f"first_ts >= {start} AND first_ts < {end} "
                f"AND day >= toDate({start}) AND day <= toDate({end})")
    if not on_read:
        return f"SELECT {columns} FROM {STORED} FINAL WHERE {in_range}"  # noqa: S608
    return f"""
WITH (SELECT groupArray(run_id) FROM ({dirty_runs_select()})) AS judged_on_read
SELECT {columns}
FROM (
    SELECT {columns}
    FROM {STORED} FINAL
    WHERE {in_range} AND run_id NOT IN judged_on_read
    UNION ALL
    SELECT {columns}
    FROM ({facts_for("run_id IN judged_on_read")})
    WHERE {in_range}
)
{settings_clause()}"""  # noqa: S608


def any_dirty_select() -> str:
    """One row (``dirty``): whether any run got rows since its facts were judged."""
    return f"SELECT count() > 0 AS dirty FROM ({dirty_runs_select()} LIMIT 1)"  # noqa: S608


def findings_select(store, *, recurring: bool, stored: bool = True) -> str:
    """The SQL of the findings over the parameters ``start``/``end`` for ``store`` (a
    :class:`tokentrail.store.Store`): from the stored facts alone when no run is left
    to judge on read (asked first: one small query), else with those runs judged on
    read. Run it with :data:`.cache_events.QUERY_SETTINGS` (``Store._judge``), which
    cut the planning of the judging SQL about five times."""
    from .insights import insights_select

    on_read = bool(store.query(any_dirty_select())[0]["dirty"]) if stored else True
    return insights_select(recurring=recurring, stored=stored, on_read=on_read)


# --- keeping insight_facts current (run by ``serve``; :func:`refresh`) -----------------
#
# The pass of cache_events_store (:mod:`.keeper_sql`), over RUN_STATE and STORED: take
# the dirty runs (oldest first, at most {limit}), write their facts with a new version
# and a tombstone for every stored day of theirs not written again, mark them judged up
# to the earlier of their last insert and the horizon, at the pass's price load. Then
# the stored days of other runs whose unread writes the reads just stored may have read
# are judged again (facts and tombstones).

def refresh_dirty_select() -> str:
    """Params: ``limit``, ``margin_ms``. The runs to judge in one pass, the horizon and
    the price load the pass judges at."""
    return keeper_sql.refresh_dirty_select(dirty_runs_select())


def refresh_insert_facts() -> str:
    """Params: ``runs`` (Array(String)), ``version`` (UInt64)."""
    return keeper_sql.refresh_insert_rows(
        STORED, FACT_COLUMNS, facts_for("run_id IN {runs:Array(String)}"))


def refresh_insert_tombstones() -> str:
    """Params: ``runs``, ``version``. Days of these runs stored by an earlier pass that
    this pass did not write again."""
    return keeper_sql.refresh_insert_tombstones(STORED, FACT_COLUMNS)


def refresh_mark_runs() -> str:
    """Params: ``runs``, ``horizon``, ``price_load``, ``version``."""
    return keeper_sql.refresh_mark_runs(RUN_STATE, DONE_THROUGH, dirty_runs_select())


def refresh_affected_select() -> str:
    """Params: ``runs``, ``limit``. Other runs with stored unread writes that a read of
    ``runs`` (just judged) may have read: same service and model, a read after the
    first such write and within the longest TTL after the last."""
    return f"""
SELECT DISTINCT w.run_id AS run_id
FROM (SELECT run_id, service_name, model, first_unread_ts, last_unread_ts
      FROM {STORED} FINAL
      WHERE unread_writes > 0 AND run_id NOT IN {{runs:Array(String)}}) AS w
INNER JOIN (SELECT service_name, model, min(first_read_ts) AS first_read,
                   max(last_read_ts) AS last_read
            FROM {STORED} FINAL
            WHERE run_id IN {{runs:Array(String)}} AND last_read_ts > toDateTime64(0, 9)
            GROUP BY service_name, model) AS r
  ON w.service_name = r.service_name AND w.model = r.model
WHERE r.last_read > w.first_unread_ts
  AND r.first_read <= w.last_unread_ts + INTERVAL {TTL_1H} SECOND
ORDER BY run_id
LIMIT {{limit:UInt32}}"""  # noqa: S608


def refresh(store, *, margin_seconds: float = 5.0, max_runs: int = 200,
            background: bool = True) -> int:
    """One pass of keeping :data:`STORED` current; the runs it judged (dirty ones; the
    re-judged neighbours come on top). ``store``: a :class:`tokentrail.store.Store`.
    On the embedded store the pass runs on an engine session of its own, one thread at
    the lowest priority, like the cache-events pass: the collector keeps the cores
    (``background=False``: the engine's defaults, for working off a backlog at once)."""
    import json
    import time

    from tokentrail.store.database import escape_parameter

    from .cache_events import QUERY_SETTINGS

    params: dict[str, object] = {"limit": max_runs, "margin_ms": int(margin_seconds * 1000)}
    judge = [(refresh_insert_facts(), QUERY_SETTINGS), (refresh_insert_tombstones(), {})]

    if not store.is_embedded:
        def query(sql: str, values: dict[str, object]) -> list[dict]:
            return store.query(sql, values)

        def command(sql: str, values: dict[str, object], settings: dict) -> None:
            store.client.command(sql, parameters=values, settings=settings)
        session = None
    else:
        session = store.engine_session()
        if background:
            session.set({"max_threads": "1", "os_threads_nice_value_query": "19"})

        def text(values: dict[str, object]) -> dict[str, str]:
            out = {}
            for key, value in values.items():
                if isinstance(value, list):
                    quoted = ",".join("'" + escape_parameter(v).replace("'", "\\'") + "'"
                                      for v in value)
                    out[key] = f"[{quoted}]"
                else:
                    out[key] = escape_parameter(str(value))
            return out

        def query(sql: str, values: dict[str, object]) -> list[dict]:
            session.set({k: str(v) for k, v in QUERY_SETTINGS.items()})
            out, _ = session.query(sql.encode(), "JSONEachRow", text(values))
            return [json.loads(line) for line in out.splitlines() if line]

        def command(sql: str, values: dict[str, object], settings: dict) -> None:
            session.set({k: str(v) for k, v in settings.items()})
            session.query(sql.encode(), "TabSeparated", text(values))
    try:
        dirty = query(refresh_dirty_select(), params)
        if not dirty:
            return 0
        runs = [r["run_id"] for r in dirty]
        values = {"runs": runs, "version": time.time_ns(), "horizon": dirty[0]["horizon"],
                  "price_load": dirty[0]["price_load"]}
        for sql, settings in [*judge, (refresh_mark_runs(), {})]:
            command(sql, values, settings)
        affected = [r["run_id"] for r in query(refresh_affected_select(),
                                               {"runs": runs, "limit": max_runs})]
        if affected:
            values = {"runs": affected, "version": time.time_ns()}
            for sql, settings in judge:
                command(sql, values, settings)
        return len(dirty)
    finally:
        if session is not None:
            session.close()
