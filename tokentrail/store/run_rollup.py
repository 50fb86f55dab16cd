"""Run rollup rows: per run, UTC day, service, model and source, what the web UI's
runs and fleet pages add up (calls, token buckets, cost, cache events).

A row is computed from the run-ordered projection of ``llm_call_reports`` and the
``cache_events`` view, with llm_calls' rules (one report per call, one Claude Code
family per run) and prices (tokentrail/analysis/pricing_sql.py). Computing them for
every run on each page view means judging and pricing every call (seconds at 10M
calls), so ``serve`` keeps them in :data:`TABLE` with the same mechanism as
``cache_events_stored`` (tokentrail/analysis/cache_events_store.py): a pass every few
seconds takes the runs that received rows since they were rolled up
(``cache_run_inserts``, filled at insert time by every ingest path) or were rolled up
at older prices, rewrites their rows and records them in :data:`RUN_STATE`. Readers
(:func:`rows_select`) take the stored rows of the other runs and compute these runs'
rows on read, so a page is complete and exact whatever wrote the store and whether
or not ``serve`` kept up.

Every query here is built from constants; values are query parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokentrail.analysis import cache_events_store as ces
from tokentrail.analysis import keeper_sql
from tokentrail.analysis.cache_events_store import VIEW as EVENTS_VIEW
from tokentrail.analysis.cache_events_store import priced, run_calls_select
from tokentrail.store.on_read import RunVersion
from tokentrail.store.on_read import versions as on_read_versions

if TYPE_CHECKING:
    from tokentrail.store.database import Store

TABLE = "run_rollup"
RUN_STATE = "run_rollup_runs"
DONE_THROUGH = "rolled_through"  # the column of RUN_STATE: how far a run was rolled up
RUN_INSERTS = "cache_run_inserts"  # when each run last received rows (migration 3)

KEY_COLUMNS = ("run_id", "day", "service_name", "model", "source")
"""One rollup row per these."""

VALUE_COLUMNS = (
    "run_name", "parent_run_id", "calls", "input_tokens", "cache_read_tokens",
    "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens", "cost_usd",
    "unpriced_calls", "cost_uncached_usd", "events", "events_cost_usd", "unpriced_events",
    "first_at", "last_at",
)
"""The rest of a rollup row. Costs are sums over the priced calls (events) only;
``unpriced_*`` count the others, so a reader can say "no price" instead of a
partial sum."""

COLUMNS = (*KEY_COLUMNS, *VALUE_COLUMNS)


_SUMS = """
    c.run_id AS run_id, toDate(c.timestamp) AS day, c.service_name AS service_name,
    c.model AS model, c.source AS source,
    anyIf(c.run_name, c.run_name != '') AS run_name,
    anyIf(c.parent_run_id, c.parent_run_id != '') AS parent_run_id,
    count() AS calls,
    sum(c.input_tokens) AS input_tokens,
    sum(c.cache_read_tokens) AS cache_read_tokens,
    sum(c.cache_write_5m_tokens) AS cache_write_5m_tokens,
    sum(c.cache_write_1h_tokens) AS cache_write_1h_tokens,
    sum(c.output_tokens) AS output_tokens,
    sum(ifNull(c.cost_usd, 0)) AS cost_usd,
    countIf(c.cost_usd IS NULL) AS unpriced_calls,
    sum(ifNull(c.cost_uncached_usd, 0)) AS cost_uncached_usd,"""
_GROUP = "GROUP BY run_id, day, service_name, model, source"


def _calls(run_filter: str) -> str:
    return priced(run_calls_select(run_filter, ("run_name", "parent_run_id")))


def computed_select(run_filter: str) -> str:
    """Rollup rows of the runs ``run_filter`` (a condition on ``run_id``) selects,
    computed now, with their events from the ``cache_events`` view (what ``serve``'s
    passes write: they follow the cache-events passes, so the view reads them stored)."""
    # Built from constants and the caller's condition, never from input.
    return f"""
SELECT{_SUMS}
    sum(e.events) AS events,
    sum(e.events_cost_usd) AS events_cost_usd,
    sum(e.unpriced_events) AS unpriced_events,
    min(c.timestamp) AS first_at,
    max(c.timestamp) AS last_at
FROM {_calls(run_filter)} AS c
LEFT JOIN (
    SELECT run_id, call_id, count() AS events,
           sum(ifNull(extra_cost_usd, 0)) AS events_cost_usd,
           countIf(extra_cost_usd IS NULL) AS unpriced_events
    FROM {EVENTS_VIEW}
    WHERE {run_filter}
    GROUP BY run_id, call_id
) AS e ON c.run_id = e.run_id AND c.call_id = e.call_id
{_GROUP}"""  # noqa: S608


def computed_with_events_select(run_filter: str) -> str:
    """Rollup rows as :func:`computed_select`, with the events given as parameters
    ``event_calls`` (their call ids) and ``event_costs`` (``extra_cost_usd``, nan when
    unpriced): a page reads the events of the few runs not rolled up yet on their own
    (:func:`events_of`), so that its query does not carry the whole judging SQL."""
    is_event = "has({event_calls:Array(String)}, c.call_id)"
    cost = ("arrayElement({event_costs:Array(Float64)}, "
            "indexOf({event_calls:Array(String)}, c.call_id))")
    return f"""
SELECT{_SUMS}
    countIf({is_event}) AS events,
    sumIf({cost}, {is_event} AND NOT isNaN({cost})) AS events_cost_usd,
    countIf({is_event} AND isNaN({cost})) AS unpriced_events,
    min(c.timestamp) AS first_at,
    max(c.timestamp) AS last_at
FROM {_calls(run_filter)} AS c
{_GROUP}"""


# Whether each run's stored events are current (no rows since, the latest prices).
_EVENTS_CURRENT = ces.runs_current_select()

_STORED_EVENTS = f"""
SELECT run_id, call_id, extra_cost_usd FROM {ces.STORED} FINAL
WHERE run_id IN {{runs:Array(String)}}"""  # noqa: S608


def judged_events(store: Store, runs: Sequence[RunVersion], now: Any) -> list[dict[str, Any]]:
    """The cache events of ``runs`` judged now (the ``cache_events`` view's SQL for
    runs it judges on read), remembered per run version (tokentrail/store/on_read.py):
    one judging per run and version, however many reads of a page want it."""
    return store.on_read.fetch("events", runs, now, lambda ids: store._judge(
        ces.events_for("run_id IN {runs:Array(String)}"), {"runs": ids}))


def events_of(store: Store, runs: Sequence[RunVersion],
              now: Any) -> tuple[list[str], list[float]]:
    """The cache events of ``runs`` as (call ids, extra costs with nan for no price):
    stored for the runs ``serve`` judged since their last rows, judged now for the
    others (what the ``cache_events`` view does, without planning its judging SQL for
    runs that need none)."""
    ids = [run.run_id for run in runs]
    current = {r["run_id"] for r in store.query(_EVENTS_CURRENT, {"runs": ids})
               if r["current"]}
    rows = store.query(_STORED_EVENTS, {"runs": sorted(current)}) if current else []
    rows += judged_events(store, [run for run in runs if run.run_id not in current], now)
    return ([r["call_id"] for r in rows],
            [float("nan") if r["extra_cost_usd"] is None else float(r["extra_cost_usd"])
             for r in rows])


TYPES = {
    "run_id": "String", "day": "Date", "service_name": "LowCardinality(String)",
    "model": "LowCardinality(String)", "source": "LowCardinality(String)",
    "run_name": "String", "parent_run_id": "String", "calls": "UInt64",
    "input_tokens": "UInt64", "cache_read_tokens": "UInt64",
    "cache_write_5m_tokens": "UInt64", "cache_write_1h_tokens": "UInt64",
    "output_tokens": "UInt64", "cost_usd": "Float64", "unpriced_calls": "UInt64",
    "cost_uncached_usd": "Float64", "events": "UInt64", "events_cost_usd": "Float64",
    "unpriced_events": "UInt64", "first_at": "DateTime64(9)", "last_at": "DateTime64(9)",
}


def columns_ddl() -> str:
    """Column definitions of :data:`TABLE`: the rollup row, the pass's version and a
    tombstone flag (ReplacingMergeTree(version, is_deleted), read FINAL)."""
    return ",\n".join([f"{name} {TYPES[name]}" for name in COLUMNS]
                      + ["version UInt64", "is_deleted UInt8"])


def state_columns_ddl() -> str:
    """Column definitions of :data:`RUN_STATE`: how far each run was rolled up, and at
    which price load."""
    return "run_id String,\nrolled_through DateTime64(3),\nprice_load UInt64,\nversion UInt64"


def _dirty_select() -> str:
    """Runs whose stored rows are not current: rows arrived after they were rolled up
    (or they never were), or they were rolled up at other prices than the latest. No
    JOIN: both sides are grouped by run, so it reads the same on a cluster. The rule of
    every keeper (tokentrail/analysis/keeper_sql.py)."""
    return keeper_sql.dirty_runs_select(RUN_STATE, DONE_THROUGH)


_COLUMN_LIST = ", ".join(COLUMNS)
FEW_RUNS = 200
"""Up to this many runs not rolled up, a page computes their rows on their own and
passes them to its query as a parameter (remembered per run version, so the next page
or poll reuses them); more (a backlog: an upgraded store, a stock Collector with no
``serve``) are computed in the page's query, joined with the ``cache_events`` view."""

VERSION_COLUMNS = f"""
       {keeper_sql.LATEST_PRICE_LOAD} AS price_load,
       now64(3) AS now"""
"""Columns to add to a select of dirty runs (``run_id``, ``last_insert``) to make them
RunVersions: the latest price load and the store's clock."""
_DIRTY = f"SELECT run_id, last_insert,{VERSION_COLUMNS}\nFROM ({_dirty_select()})"

# The rows computed on read, as the query parameter that carries them: times as
# nanoseconds (a DateTime64(9) parameter would go through Python's microseconds).
_NANOS = ("first_at", "last_at")


def _param_type(name: str) -> str:
    kind = TYPES[name]
    if name in _NANOS:
        return "Int64"
    return kind[len("LowCardinality("):-1] if kind.startswith("LowCardinality(") else kind


_ON_READ_PARAM = ("{on_read_rows:Array(Tuple("
                  + ", ".join(_param_type(name) for name in COLUMNS) + "))}")
_ON_READ_ROWS = "SELECT " + ", ".join(  # noqa: S608
    (f"fromUnixTimestamp64Nano(t.{i}) AS {name}" if name in _NANOS else f"t.{i} AS {name}")
    for i, name in enumerate(COLUMNS, 1)) + f" FROM (SELECT arrayJoin({_ON_READ_PARAM}) AS t)"
_COMPUTED_FOR_PARAM = ", ".join(
    f"toUnixTimestamp64Nano({name}) AS {name}" if name in _NANOS else name for name in COLUMNS)


def on_read_rows(store: Store, runs: Sequence[RunVersion], now: Any) -> list[dict[str, Any]]:
    """Rollup rows of ``runs`` computed now, remembered per run version; times in
    nanoseconds (the form :func:`rows_select` passes them in)."""
    def compute(ids: list[str]) -> list[dict[str, Any]]:
        wanted = set(ids)
        versions = [run for run in runs if run.run_id in wanted]
        calls, costs = events_of(store, versions, now)
        sql = (f"SELECT {_COMPUTED_FOR_PARAM} FROM "  # noqa: S608
               f"({computed_with_events_select('run_id IN {runs:Array(String)}')})")
        return store.query(sql, {"runs": ids, "event_calls": calls, "event_costs": costs})
    return store.on_read.fetch("rollup", runs, now, compute)


def rows_select(store: Store, run_filter: str | None) -> tuple[str, dict[str, Any]]:
    """SQL of the rollup rows of the runs ``run_filter`` (a condition on ``run_id``;
    None: every run) selects, and the parameters it needs besides the caller's: the
    stored rows of runs that are current, the others' computed now.

    Which runs are not current is asked first, in a query of its own: computing rows
    (judging cache events, pricing) costs a query hundreds of milliseconds of planning
    even for no run, so it is left out when every run is current, as it mostly is
    under ``serve``, and done on its own for a few runs (:func:`on_read_rows`). A pass
    that completes after that question changes nothing (those runs are computed, from
    the same calls); rows that arrive after it are read at the next page view."""
    dirty = store.query(_DIRTY)
    rolled_on_read = [r["run_id"] for r in dirty]
    condition = f" AND ({run_filter})" if run_filter else ""
    # Built from constants and the caller's condition, never from input.
    sql = f"""
SELECT {_COLUMN_LIST}
FROM {TABLE} FINAL
WHERE run_id NOT IN {{rolled_on_read:Array(String)}}{condition}"""  # noqa: S608
    params: dict[str, Any] = {"rolled_on_read": rolled_on_read}
    on_read = "run_id IN {rolled_on_read:Array(String)}" + condition
    if len(rolled_on_read) > FEW_RUNS:  # a backlog: a join, not lookups in long arrays
        sql += f"\nUNION ALL\nSELECT {_COLUMN_LIST}\nFROM ({computed_select(on_read)})"
    elif dirty:
        rows = on_read_rows(store, on_read_versions(dirty), dirty[0]["now"])
        params["on_read_rows"] = [tuple(row[name] for name in COLUMNS) for row in rows]
        where = f" WHERE {run_filter}" if run_filter else ""
        sql += f"\nUNION ALL\nSELECT {_COLUMN_LIST}\nFROM ({_ON_READ_ROWS}){where}"
    return sql, params


# --- keeping the table current (run by ``serve``: Store.refresh_run_rollup) ----------
#
# One pass, as for cache_events_stored (tokentrail/analysis/keeper_sql.py writes the
# SQL of both): take up to {limit} runs that are not current (oldest first); write their
# rows with a new version, and a tombstone for every row of theirs stored before that
# this pass did not write again; record them as rolled up to the earlier of their last
# insert and the horizon (the pass's start minus a margin: rows become visible a moment
# after the insert that recorded their run), at the price load the pass started with.
# Until the last statement the runs are not current, and readers compute them on read.

def refresh_dirty_select() -> str:
    """Params: ``limit``, ``margin_ms``. The runs of one pass, the horizon (as text) and
    the price load it rolls up at."""
    return keeper_sql.refresh_dirty_select(_dirty_select())


def refresh_insert_rows() -> str:
    """Params: ``runs`` (Array(String)), ``version``."""
    return keeper_sql.refresh_insert_rows(
        TABLE, COLUMNS, computed_select("run_id IN {runs:Array(String)}"))


def refresh_insert_tombstones() -> str:
    """Params: ``runs``, ``version``: rows stored by an earlier pass that this one did
    not write again (a run's last call of a day on a model, replaced)."""
    return keeper_sql.refresh_insert_tombstones(TABLE, COLUMNS)


def refresh_mark_runs() -> str:
    """Params: ``runs``, ``horizon``, ``price_load``, ``version``. Every run of the
    pass that received rows is recorded (from its last insert, not from
    :func:`_dirty_select`)."""
    return keeper_sql.refresh_mark_runs(RUN_STATE, DONE_THROUGH,
                                        keeper_sql.last_inserts_select())
