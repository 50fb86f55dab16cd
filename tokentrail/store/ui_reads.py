"""The reads of the web UI: the runs list, one run's timeline, one call, the fleet.

Every page reads *run rollup rows*: per run, UTC day, service, model and source, the
calls, token buckets, cost (priced by llm_calls' SQL, tokentrail/analysis/
pricing_sql.py) and cache events (those of ``cache_events``). They come from
``run_rollup`` (tokentrail/store/run_rollup.py), kept by ``serve``, for runs that
received no rows since it rolled them up at the current prices, and are computed on
read from the run-ordered projection for every other run, so a page is always
complete and exact whatever wrote the store.

One run's calls are read through the run-ordered projection of ``llm_call_reports``
(a range read) and one call by its ``call_id`` (the table's key), never through the
``llm_calls`` view, whose FINAL and Claude Code family rule cost a pass over every
call. They apply the same rules: one report per call (the highest ``source_rank``) and,
per run, one Claude Code family.

SQL is built from constants; every value comes in as a query parameter. Datetimes go
in and come out as timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tokentrail.analysis import cache_events_store as ces
from tokentrail.analysis.cache_events_reports import summarize
from tokentrail.analysis.cache_events_store import (
    PROJECTION_EXTRA_COLUMNS,
    priced,
    run_calls_select,
)
from tokentrail.analysis.pricing_sql import priced_select
from tokentrail.store import on_read, run_rollup

if TYPE_CHECKING:
    from tokentrail.store.database import Store

SORTS = ("recent", "cost")
UTC = dt.timezone.utc

# The columns of a run_detail call row, in order (llm_calls' names).
CALL_COLUMNS = (
    "call_id", "position", "turn", "timestamp", "model", "source", "input_tokens",
    "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "output_tokens", "cost_input_usd", "cost_cache_read_usd", "cost_cache_write_5m_usd",
    "cost_cache_write_1h_usd", "cost_output_usd", "cost_server_tools_usd", "cost_usd",
    "cost_uncached_usd", "duration_ms", "stop_reason",
)

# --- run rows: the runs page, a run's header, its children, the fleet's top runs ------

_RUN_ROW = """
SELECT
    r.run_id AS run_id,
    anyIf(r.run_name, r.run_name != '') AS run_name,
    argMin(r.service_name, r.first_at) AS service_name,
    arraySort(groupUniqArrayIf(r.model, r.model != '')) AS models,
    groupUniqArray(r.service_name) AS services,
    anyIf(r.parent_run_id, r.parent_run_id != '') AS parent_run_id,
    argMin(r.source, r.first_at) AS source,
    sum(r.calls) AS calls,
    sum(r.input_tokens) AS input_tokens,
    sum(r.cache_read_tokens) AS cache_read_tokens,
    sum(r.cache_write_5m_tokens) AS cache_write_5m_tokens,
    sum(r.cache_write_1h_tokens) AS cache_write_1h_tokens,
    sum(r.output_tokens) AS output_tokens,
    if(sum(r.unpriced_calls) > 0, NULL, sum(r.cost_usd)) AS cost_usd,
    if(sum(r.unpriced_calls) > 0, NULL, sum(r.cost_uncached_usd)) AS cost_uncached_usd,
    cache_read_tokens / nullIf(input_tokens + cache_read_tokens + cache_write_5m_tokens
                               + cache_write_1h_tokens, 0) AS hit_rate,
    sum(r.events) AS events,
    if(sum(r.events) > 0 AND sum(r.unpriced_events) = sum(r.events), NULL,
       sum(r.events_cost_usd)) AS events_cost_usd,
    min(r.first_at) AS started_at,
    max(r.last_at) AS ended_at
FROM ({rows}) AS r
GROUP BY run_id"""

# Filters of the runs page over run rows; every parameter always given (NULL / '' /
# -1 for "any"), so the SQL text is the same whatever is filtered.
_RUN_FILTER = """
WHERE ({start:Nullable(DateTime64(9))} IS NULL OR started_at >= {start:Nullable(DateTime64(9))})
  AND ({end:Nullable(DateTime64(9))} IS NULL OR started_at < {end:Nullable(DateTime64(9))})
  AND ({service:String} = '' OR has(services, {service:String}))
  AND ({model:String} = '' OR has(models, {model:String}))
  AND ({has_events:Int8} < 0 OR (events > 0) = {has_events:Int8})
  AND ({parent:String} = '' OR parent_run_id = {parent:String})"""

_ORDER = {
    "recent": "ORDER BY started_at DESC, run_id",
    "cost": "ORDER BY cost_usd DESC NULLS LAST, started_at DESC, run_id",
}


def _runs_sql(rows: str, sort: str, *, count: bool) -> str:
    """The page of run rows (each with ``_total``: how many pass the filters), or with
    ``count`` only that number (for a page past the last row)."""
    runs = _RUN_ROW.format(rows=rows)
    if count:
        return f"SELECT count() AS total FROM ({runs}) {_RUN_FILTER}"  # noqa: S608
    return (f"SELECT * EXCEPT (services), count() OVER () AS _total\n"
            f"FROM ({runs}) {_RUN_FILTER}\n"
            f"{_ORDER[sort]}\nLIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}")


def run_list(store: Store, *, start: dt.datetime | None = None,
             end: dt.datetime | None = None, service: str | None = None,
             model: str | None = None, has_events: bool | None = None,
             sort: str = "recent", limit: int = 50, offset: int = 0,
             ) -> tuple[list[dict[str, Any]], int]:
    """Runs that started in [start, end) (either end open when None), that used
    ``service`` / ``model`` if given and had cache events or none (``has_events``),
    newest first (``sort="recent"``) or costliest first (``"cost"``; unpriced runs
    last); a page of ``limit`` from ``offset``, and how many runs match in all."""
    if sort not in SORTS:
        raise ValueError(f"sort runs by one of {SORTS}, not {sort!r}")
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    return _runs(store, None, {
        "start": _param_time(start), "end": _param_time(end), "service": service or "",
        "model": model or "", "has_events": -1 if has_events is None else int(has_events),
        "parent": "", "limit": limit, "offset": offset}, sort)


def _any_run(**overrides: Any) -> dict[str, Any]:
    """run_list's filter parameters, all "any", with ``overrides``."""
    return {"start": None, "end": None, "service": "", "model": "", "has_events": -1,
            "parent": "", "limit": 1000, "offset": 0, **overrides}


def _runs(store: Store, run_filter: str | None, params: dict[str, Any],
          sort: str = "recent") -> tuple[list[dict[str, Any]], int]:
    """Run rows of the runs ``run_filter`` selects (None: all) that pass the filters in
    ``params``, one page of them and how many pass."""
    rows_sql, rows_params = run_rollup.rows_select(store, run_filter)
    params = {**params, **rows_params}
    rows = _utc(store.query(_runs_sql(rows_sql, sort, count=False), params))
    if rows:
        total = int(rows[0]["_total"])
        for row in rows:
            del row["_total"]
    else:
        total = int(store.query(_runs_sql(rows_sql, sort, count=True), params)[0]["total"])
    return rows, total


_OPTIONS = """
SELECT arraySort(groupUniqArrayIf(r.service_name, r.service_name != '')) AS services,
       arraySort(groupUniqArrayIf(r.model, r.model != '')) AS models
FROM ({rows}) AS r"""


def filter_options(store: Store) -> dict[str, list[str]]:
    """The services and models that the runs page can filter by, sorted."""
    rows_sql, params = run_rollup.rows_select(store, None)
    row = store.query(_OPTIONS.replace("{rows}", rows_sql), params)[0]
    return {"services": list(row["services"]), "models": list(row["models"])}


# --- one run ------------------------------------------------------------------------

def run_calls(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The calls of one run in order, priced, each with its 1-based ``position``."""
    sql = "SELECT * FROM " + priced(  # noqa: S608
        run_calls_select("run_id = {run:String}", PROJECTION_EXTRA_COLUMNS))
    rows = sorted(store.query(sql, {"run": run_id}),
                  key=lambda r: (r["timestamp"], r["call_id"]))
    for position, row in enumerate(rows, 1):
        row["position"] = position
    return _utc(rows)


def run_detail(store: Store, run_id: str) -> dict[str, Any] | None:
    """One run's timeline: its run row, its calls in order, its cache events and cache
    summary, its parent run (id and name) and its children (sub-runs); None for an
    unknown run.

    The run row and the summary are added up here from the calls and events just read
    (the same sums as the rollup's and ``Store.cache_summary``'s SQL), rather than
    read again: a 500-turn run costs one range read of its calls and its events."""
    calls = run_calls(store, run_id)
    if not calls:
        return None
    events = _utc(store.cache_events(run_id))
    run = _run_row(run_id, calls, events)
    totals = {"calls": run["calls"], "sum_input": run["input_tokens"],
              "sum_read": run["cache_read_tokens"], "sum_write_5m": run["cache_write_5m_tokens"],
              "sum_write_1h": run["cache_write_1h_tokens"], "sum_output": run["output_tokens"],
              "hit_rate": run["hit_rate"], "unpriced_calls": run["cost_usd"] is None,
              "sum_cost": run["cost_usd"]}
    written = {c["call_id"]: c["cache_write_5m_tokens"] + c["cache_write_1h_tokens"]
               for c in calls}
    summary = summarize(run_id, totals, events, written)
    return {
        "run": run,
        "calls": [{name: call[name] for name in CALL_COLUMNS} for call in calls],
        "events": events,
        "summary": dict(summary.__dict__),
        "parent": run["parent_run_id"] or None,
        "parent_name": _run_name(store, run["parent_run_id"]),
        "children": _children(store, run_id),
    }


_RUN_NAME = """
SELECT run_name FROM llm_call_reports
WHERE run_id = {run:String} AND run_name != ''
LIMIT 1"""


def _run_name(store: Store, run_id: str) -> str:
    """The name a run was given ('' for none, or no run id): a range read of the
    run-ordered projection."""
    if not run_id:
        return ""
    rows = store.query(_RUN_NAME, {"run": run_id})
    return str(rows[0]["run_name"]) if rows else ""


_CHILDREN = """
SELECT DISTINCT run_id FROM llm_call_reports
WHERE parent_run_id = {run:String} AND run_id != {run:String}"""


def _children(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Run rows of the runs whose parent is ``run_id``, newest first. Their ids come
    from one column of the reports (almost all empty strings: a fast scan), so
    sub-runs that ``serve`` has not rolled up yet are found too."""
    ids = [r["run_id"] for r in store.query(_CHILDREN, {"run": run_id})]
    if not ids:
        return []
    rows, _ = _runs(store, "run_id IN {children:Array(String)}",
                    _any_run(children=ids, limit=len(ids)))
    return rows


def _run_row(run_id: str, calls: list[dict[str, Any]],
             events: list[dict[str, Any]]) -> dict[str, Any]:
    """The run_list row of one run from its calls (in order) and events: the sums of
    the rollup's SQL (tokentrail/store/run_rollup.py and _RUN_ROW above)."""
    def total(name: str) -> int:
        return sum(int(c[name]) for c in calls)

    row: dict[str, Any] = {
        "run_id": run_id,
        "run_name": next((c["run_name"] for c in calls if c["run_name"]), ""),
        "service_name": calls[0]["service_name"],
        "models": sorted({c["model"] for c in calls if c["model"]}),
        "parent_run_id": next((c["parent_run_id"] for c in calls if c["parent_run_id"]), ""),
        "source": calls[0]["source"],
        "calls": len(calls),
    }
    for name in ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                 "cache_write_1h_tokens", "output_tokens"):
        row[name] = total(name)
    for name in ("cost_usd", "cost_uncached_usd"):
        costs = [c[name] for c in calls]
        row[name] = None if any(v is None for v in costs) else sum(costs)
    row["hit_rate"] = _ratio(row["cache_read_tokens"], row["input_tokens"]
                             + row["cache_read_tokens"] + row["cache_write_5m_tokens"]
                             + row["cache_write_1h_tokens"])
    priced_events = [e["extra_cost_usd"] for e in events if e["extra_cost_usd"] is not None]
    row["events"] = len(events)
    row["events_cost_usd"] = (None if events and not priced_events
                              else float(sum(priced_events)))
    row["started_at"] = calls[0]["timestamp"]
    row["ended_at"] = max(c["timestamp"] for c in calls)
    return row


# --- one call -----------------------------------------------------------------------

# The report FINAL would keep (the highest source_rank; reports of one rank are the
# same call from the same source), picked from the key's few rows: FINAL merges every
# part's granule for the key, 4-5x slower at 10M calls (bench/queries.py).
_CALLS = priced_select("""
SELECT * EXCEPT (source_rank, family_rank)
FROM llm_call_reports
WHERE call_id IN {calls:Array(String)}
ORDER BY call_id, source_rank DESC
LIMIT 1 BY call_id""")

_CALL_RUN = """
SELECT run_id FROM llm_call_reports WHERE call_id = {call:String}
ORDER BY source_rank DESC LIMIT 1"""

_RUN_ORDER = ("SELECT call_id, timestamp FROM "  # noqa: S608
              + run_calls_select("run_id = {run:String}"))


def call_detail(store: Store, call_id: str) -> dict[str, Any] | None:
    """One call: its full llm_calls row (every prefix_* and cache_* column) with its
    ``position`` in the run, the same for the run's previous call (None for the
    first), and the cache events of this call; None for an unknown call.

    Read by key, not through llm_calls (whose FINAL and family rule read every call):
    the report FINAL keeps for the call id, the run's call order through the
    run-ordered projection (with llm_calls' family rule: a call of a Claude Code
    family the run does not keep is not there, and has no page), then both rows."""
    reports = store.query(_CALL_RUN, {"call": call_id})
    if not reports:
        return None
    run_id = reports[0]["run_id"]
    order = [r["call_id"] for r in sorted(store.query(_RUN_ORDER, {"run": run_id}),
                                          key=lambda r: (r["timestamp"], r["call_id"]))]
    if call_id not in order:
        return None
    position = order.index(call_id) + 1
    previous_id = order[position - 2] if position > 1 else None
    wanted = [call_id] + ([previous_id] if previous_id else [])
    rows = {r["call_id"]: r for r in _utc(store.query(_CALLS, {"calls": wanted}))}
    call = rows[call_id]
    call["position"] = position
    previous = rows.get(previous_id) if previous_id else None
    if previous is not None:
        previous["position"] = position - 1
    events = [e for e in _utc(store.cache_events(run_id)) if e["call_id"] == call_id]
    return {"call": call, "previous": previous, "events": events}


# --- the fleet ----------------------------------------------------------------------

_FLEET = """
SELECT
    r.day AS day, r.model AS model, r.service_name AS service_name, r.source AS source,
    grouping(r.day, r.model, r.service_name, r.source) AS level,
    sum(r.calls) AS calls,
    sum(r.cost_usd) AS cost_usd,
    sum(r.unpriced_calls) AS unpriced_calls,
    sum(r.cost_uncached_usd) AS cost_uncached_usd,
    sum(r.cache_read_tokens) AS cache_read_tokens,
    sum(r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens
        + r.cache_write_1h_tokens) AS input_side_tokens,
    uniqExact(r.run_id) AS runs
FROM ({rows}) AS r
WHERE r.day >= {first_day:Date} AND r.day <= {last_day:Date}
GROUP BY GROUPING SETS ((r.day, r.model), (r.day, r.service_name), (r.day), (r.source), ())"""


def fleet(store: Store, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The fleet over the UTC days that [start, end) touches (whole days: the charts
    are per day): cost per day by model and by service, the cache hit rate per day,
    money lost to cache events by cause (exactly [start, end)), the ten costliest runs
    that started in [start, end), calls per source and the totals. Costs of models
    without a price count as 0 in sums (``totals`` says how many calls were unpriced)."""
    first_day, last_day = utc_days(start, end)
    rows_sql, params = run_rollup.rows_select(store, None)
    params.update({"first_day": first_day, "last_day": last_day})
    grouped = store.query(_FLEET.replace("{rows}", rows_sql), params)
    # grouping() has a bit per argument, 1 where the column is aggregated away.
    by_level: dict[int, list[dict[str, Any]]] = {}
    for row in grouped:
        by_level.setdefault(int(row["level"]), []).append(row)
    by_model = sorted(by_level.get(0b0011, []), key=lambda r: (r["day"], r["model"]))
    by_service = sorted(by_level.get(0b0101, []), key=lambda r: (r["day"], r["service_name"]))
    per_day = sorted(by_level.get(0b0111, []), key=lambda r: r["day"])
    per_source = sorted(by_level.get(0b1110, []), key=lambda r: (-r["calls"], r["source"]))
    total = (by_level.get(0b1111) or [{}])[0]
    lost = _lost_by_cause(store, _param_time(start), _param_time(end))
    top, _ = run_list(store, start=start, end=end, sort="cost", limit=10)
    return {
        "cost_by_day_model": [{"day": r["day"], "model": r["model"], "calls": r["calls"],
                               "cost_usd": r["cost_usd"]} for r in by_model],
        "cost_by_day_service": [{"day": r["day"], "service_name": r["service_name"],
                                 "calls": r["calls"], "cost_usd": r["cost_usd"]}
                                for r in by_service],
        "hit_rate_by_day": [{"day": r["day"], "hit_rate": _ratio(r["cache_read_tokens"],
                                                                 r["input_side_tokens"]),
                             "cache_read_tokens": r["cache_read_tokens"],
                             "input_side_tokens": r["input_side_tokens"]} for r in per_day],
        "lost_by_cause": [{"cause": r["cause"], "events": r["events"],
                           "extra_cost_usd": r["extra_cost_usd"]} for r in lost],
        "top_runs": top,
        "calls_by_source": [{"source": r["source"], "calls": r["calls"]} for r in per_source],
        "totals": {"calls": int(total.get("calls") or 0), "runs": int(total.get("runs") or 0),
                   "cost_usd": float(total.get("cost_usd") or 0.0),
                   "cost_uncached_usd": float(total.get("cost_uncached_usd") or 0.0),
                   "unpriced_calls": int(total.get("unpriced_calls") or 0)},
    }


_JUDGED_ON_READ = (f"SELECT run_id, last_insert,{run_rollup.VERSION_COLUMNS}\n"
                   f"FROM ({ces.dirty_runs_select()})")

_LOST_STORED = f"""
SELECT cause, count() AS events, sum(missed_tokens) AS missed_tokens,
       sum(extra_cost_usd) AS extra_cost_usd
FROM {ces.STORED} FINAL
WHERE timestamp >= {{start:DateTime64(9)}} AND timestamp < {{end:DateTime64(9)}}
  AND run_id NOT IN {{runs:Array(String)}}
GROUP BY cause"""  # noqa: S608


def _lost_by_cause(store: Store, start: dt.datetime | None,
                   end: dt.datetime | None) -> list[dict[str, Any]]:
    """Cache events in [start, end) by cause, the costliest first: what
    ``Store.cache_events_by(start, end, "cause")`` says, without planning the
    judging SQL of the ``cache_events`` view when only a few runs (those with rows
    since serve judged them) need judging: they are judged on their own."""
    dirty = store.query(_JUDGED_ON_READ)
    if len(dirty) > run_rollup.FEW_RUNS:
        return store.cache_events_by(start, end, "cause")
    params = {"start": start, "end": end, "runs": [r["run_id"] for r in dirty]}
    by_cause = {r["cause"]: r for r in store.query(_LOST_STORED, params)}
    if dirty:
        judged = run_rollup.judged_events(store, on_read.versions(dirty), dirty[0]["now"])
        lo, hi = as_utc(start), as_utc(end)  # naive UTC parameters, aware to compare
        for event in judged:
            if not lo <= as_utc(event["timestamp"]) < hi:
                continue
            row = by_cause.setdefault(event["cause"], {
                "cause": event["cause"], "events": 0, "missed_tokens": 0,
                "extra_cost_usd": None})
            row["events"] += 1
            row["missed_tokens"] += event["missed_tokens"]
            if event["extra_cost_usd"] is not None:
                row["extra_cost_usd"] = (row["extra_cost_usd"] or 0.0) + event["extra_cost_usd"]
    return sorted(by_cause.values(), key=lambda r: (
        r["extra_cost_usd"] is None, -(r["extra_cost_usd"] or 0.0), -r["missed_tokens"],
        r["cause"]))


# --- helpers ------------------------------------------------------------------------

def utc_days(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and last UTC day that [start, end) touches (the fleet's whole days;
    the fleet page's charts draw one bar per day of the same range)."""
    first, after = _param_time(start), _param_time(end)
    if first is None or after is None or after <= first:
        raise ValueError("the fleet needs start < end")
    last = (after - dt.timedelta(microseconds=1)).date()
    return first.date(), last


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _param_time(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime as the store's parameters take it: naive UTC (aware ones converted;
    naive ones are taken as UTC already)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, not {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def as_utc(value: dt.datetime) -> dt.datetime:
    """A datetime from the store as an aware UTC datetime."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _utc(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their datetimes in UTC: naive ones (the store's, UTC) made aware, aware
    ones (the client gives those when the engine's zone is not UTC) converted."""
    out = []
    for row in rows:
        for key, value in row.items():
            if isinstance(value, dt.datetime):
                row[key] = as_utc(value)
        out.append(row)
    return out
