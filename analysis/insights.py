"""``insights``: what to change, and what it would save (docs/design.md, "insights").

One row per finding: ``kind``, ``scope`` (``run`` / ``service`` / ``fleet``),
``service_name``, ``model``, ``run_ids`` (a sample, the costliest first), ``calls``,
``cost_usd`` (what the affected calls cost), ``savings_usd`` (those calls re-priced
under the fix, :mod:`.insights_sql`), ``confidence`` (``measured`` / ``estimated`` /
``needs_eval``), ``detail`` (what was seen, with numbers), ``fix``, and the first and
last call concerned.

All SQL. Layer 3 of :mod:`.insights_sql` (each call priced as it was and under each
fix) is summed per run, model and UTC day into *facts* (:func:`facts_select`);
``serve`` stores them as runs get calls (:mod:`.insights_store`), and a range reads the
stored facts plus those of the runs not stored yet, judged on read. The facts of each
run are merged over its days in the range, each run row yields one candidate row per
kind (ARRAY JOIN), and one GROUP BY makes the findings: run-scoped kinds per run,
service-scoped kinds per service and model, each kept by its rule (HAVING).
``recurring_invalidation`` reads ``cache_events`` (issue 12) and is appended, as is
every kind of :data:`EXTRA_FINDINGS`.

The rules (README, "Insights", states each in one paragraph) use the thresholds below.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import insights_dead_weight as dead_weight
from .cache_events_rules import (
    MESSAGES_CHANGED,
    MODEL_CHANGED,
    PARAMS_CHANGED,
    SYSTEM_CHANGED,
    TOOLS_CHANGED,
)
from .insights_sql import PARAMETERS, calls_select, range_calls

UNCACHED_PREFIX = "uncached_prefix"
GROWING_UNCACHED_INPUT = "growing_uncached_input"
RECURRING_INVALIDATION = "recurring_invalidation"
TTL_TOO_SHORT = "ttl_too_short"
UNREAD_CACHE_WRITES = "unread_cache_writes"
BATCH_CANDIDATE = "batch_candidate"
MODEL_ROUTING_CANDIDATE = "model_routing_candidate"
CONTEXT_DEAD_WEIGHT = dead_weight.KIND  # its own module: insights_dead_weight.py
CONTEXT_GROWTH = "context_growth"

KINDS = (UNCACHED_PREFIX, GROWING_UNCACHED_INPUT, RECURRING_INVALIDATION, TTL_TOO_SHORT,
         UNREAD_CACHE_WRITES, BATCH_CANDIDATE, MODEL_ROUTING_CANDIDATE, CONTEXT_GROWTH,
         CONTEXT_DEAD_WEIGHT)

# --- thresholds (each rule's numbers; README "Insights") ---
MIN_REPEATED_TURNS = 2        # uncached_prefix: calls re-sending the previous prompt
GROWTH_MIN_CALLS = 3          # growing_uncached_input: calls in the run
GROWTH_FACTOR = 2             # ... last call's uncached input >= this x the first's
GROWTH_MIN_TOKENS = 1024      # ... and at least this many tokens
BATCH_MIN_CALLS = 10          # batch_candidate: single-call runs of a service and model
ROUTING_MIN_CALLS = 20        # model_routing_candidate: mechanical calls ...
ROUTING_MIN_SHARE = 0.8       # ... making up this share of the service's calls on the model
ROUTING_MODEL = "claude-haiku-4-5"
MECHANICAL_OUTPUT_TOKENS = 256
TTL_MIN_REWRITES = 2          # ttl_too_short: re-writes after a 5-60 minute gap
UNREAD_MIN_WRITES = 3         # unread_cache_writes: writes nobody read ...
UNREAD_MIN_SHARE = 0.5        # ... holding this share of the written tokens
COMPACT_ABOVE_TOKENS = 100_000  # context_growth: compaction once input exceeds this ...
COMPACT_TO_TOKENS = 10_000      # ... leaving a summary this long
COMPACT_MIN_LATER_CALLS = 2     # ... with at least this many calls after it
RECURRING_MIN_RUNS = 3        # recurring_invalidation: runs with the same cause and place
RUN_SAMPLE = 5                # run ids per finding

DEFAULTS = {
    "routing_model": ROUTING_MODEL,
    "compact_above": COMPACT_ABOVE_TOKENS,
    "compact_to": COMPACT_TO_TOKENS,
    "mechanical_output": MECHANICAL_OUTPUT_TOKENS,
}

COLUMNS = ("kind", "scope", "service_name", "model", "run_ids", "calls", "cost_usd",
           "savings_usd", "confidence", "detail", "fix", "first_seen", "last_seen")

_CHANGE_CAUSES = (MODEL_CHANGED, PARAMS_CHANGED, TOOLS_CHANGED, SYSTEM_CHANGED,
                  MESSAGES_CHANGED)


# The facts of one run on one UTC day and model (:func:`facts_select`), and how the
# facts of several days of a run merge (:func:`_per_run`): name -> (the aggregate over
# the day's calls, the aggregate over the days). Every fact is a sum, a count or an
# extreme over the calls, or a fact of the whole run (windows over all its calls), so
# the days of a run merge exactly.
FACTS: dict[str, tuple[str, str]] = {
    "n": ("count()", "sum(n)"),
    "run_cost": ("sum(cost)", "sum(run_cost)"),
    "first_ts": ("min(timestamp)", "min(first_ts)"),
    "last_ts": ("max(timestamp)", "max(last_ts)"),
    "run_size": ("any(run_calls)", "max(run_size)"),
    "run_caches": ("max(run_cached)", "max(run_caches)"),
    "shared_calls": ("countIf(prefix_tokens_shared > 0)", "sum(shared_calls)"),
    "shared_tokens": ("sum(prefix_tokens_shared)", "sum(shared_tokens)"),
    "alt_prefix": ("sum(alt_cache_prefix)", "sum(alt_prefix)"),
    "first_input": ("argMin(input_tokens, (timestamp, call_id))",
                    "argMin(first_input, first_ts)"),
    "last_input": ("argMax(input_tokens, (timestamp, call_id))",
                   "argMax(last_input, last_ts)"),
    "input_rises": ("countIf(pos > 1 AND input_tokens > prev_input)", "sum(input_rises)"),
    "carried_tokens": ("sum(carried)", "sum(carried_tokens)"),
    "alt_messages": ("sum(alt_cache_messages)", "sum(alt_messages)"),
    "alt_batch": ("sum(cost_batch)", "sum(alt_batch)"),
    "batchable_calls": ("countIf(batchable)", "sum(batchable_calls)"),
    "batchable_cost": ("sumIf(cost, batchable)", "sum(batchable_cost)"),
    "batchable_alt": ("sumIf(cost_batch, batchable)", "sum(batchable_alt)"),
    "mechanical_calls": ("countIf(mechanical)", "sum(mechanical_calls)"),
    "mechanical_cost": ("sumIf(cost, mechanical)", "sum(mechanical_cost)"),
    "mechanical_alt": ("sumIf(cost_routed, mechanical)", "sum(mechanical_alt)"),
    "mechanical_output": ("sumIf(output_tokens, mechanical)", "sum(mechanical_output)"),
    "rewrites": ("countIf(rewritten > 0)", "sum(rewrites)"),
    "rewritten_tokens": ("sum(rewritten)", "sum(rewritten_tokens)"),
    "alt_ttl": ("sum(alt_ttl_1h)", "sum(alt_ttl)"),
    "writing_cost": ("sumIf(cost, cache_write_5m_tokens > 0)", "sum(writing_cost)"),
    "writing_calls": ("countIf(cache_write_5m_tokens > 0)", "sum(writing_calls)"),
    "written": ("sum(cache_write_5m_tokens + cache_write_1h_tokens)", "sum(written)"),
    "unread_writes": ("countIf(unread)", "sum(unread_writes)"),
    "unread_tokens": ("sumIf(cache_write_5m_tokens + cache_write_1h_tokens, unread)",
                      "sum(unread_tokens)"),
    "unread_1h_tokens": ("sumIf(cache_write_1h_tokens, unread)", "sum(unread_1h_tokens)"),
    "unread_cost": ("sumIf(cost, unread)", "sum(unread_cost)"),
    "unread_alt": ("sumIf(alt_unread, unread)", "sum(unread_alt)"),
    "max_input": ("max(total_in)", "max(max_input)"),
    "compact_at_tokens": ("any(compact_total)", "max(compact_at_tokens)"),
    "compacted_calls": ("countIf(removed > 0)", "sum(compacted_calls)"),
    "removed_tokens": ("sum(removed)", "sum(removed_tokens)"),
    "alt_compact": ("sum(alt_compaction)", "sum(alt_compact)"),
    # When this day's reads and unread writes happened: which stored days a later read
    # can turn from unread to read (tokentrail/analysis/insights_store.py).
    "first_read_ts": ("minIf(timestamp, cache_read_tokens > 0)", "min(first_read_ts)"),
    "last_read_ts": ("maxIf(timestamp, cache_read_tokens > 0)", "max(last_read_ts)"),
    "first_unread_ts": ("minIf(timestamp, unread)", "min(first_unread_ts)"),
    "last_unread_ts": ("maxIf(timestamp, unread)", "max(last_unread_ts)"),
}
FACT_KEY = ("run_id", "service_name", "model", "day")
FACT_TYPES = {
    "run_id": "String", "service_name": "LowCardinality(String)",
    "model": "LowCardinality(String)", "day": "Date",
    **{name: "UInt64" for name in FACTS},
    **{name: "Float64" for name in FACTS
       if name.startswith(("alt_", "run_cost")) or name.endswith(("_cost", "_alt"))},
    **{name: "DateTime64(9)" for name in FACTS if name.endswith("_ts")},
}
FACT_COLUMNS = (*FACT_KEY, *FACTS)


def facts_select(calls: str) -> str:
    """Layer 3 (``calls``: :func:`~.insights_sql.calls_select`) summed per run, service,
    model and UTC day: :data:`FACT_COLUMNS`. What ``serve`` stores per run
    (:mod:`.insights_store`) and what the runs not stored yet are judged to on read.

    A kind module plugs in here when its rule is a sum over a run's calls: add its
    per-call columns to layer 3 (or compute them in its own subquery joined on
    ``call_id``), its facts to :data:`FACTS` (the day's aggregate and the merge over
    days), and a candidate to :data:`_CANDIDATES`; a migration then adds the columns to
    the stored table and re-judges the runs. A kind with a source of its own (as
    ``recurring_invalidation`` reads ``cache_events``) adds a findings SELECT with
    :data:`COLUMNS` to :data:`EXTRA_FINDINGS` instead."""
    aggregates = ",\n    ".join(f"CAST({day} AS {FACT_TYPES[name]}) AS {name}"
                                 for name, (day, _) in FACTS.items())
    return f"""
SELECT run_id, service_name, model, toDate(timestamp) AS day,
    {aggregates}
FROM ({calls})
GROUP BY run_id, service_name, model, day"""  # noqa: S608


def _per_run(facts: str) -> str:
    """The facts of each run and model (its days merged): one row per run as the
    candidates below read it."""
    # The days' columns renamed (d_*): ClickHouse resolves a name to the SELECT's alias
    # of the same name first, and argMin(first_input, first_ts) must read the days'.
    days = re.compile(r"\b(" + "|".join(FACTS) + r")\b")
    merged = ",\n    ".join(days.sub(r"d_\1", merge) + f" AS {name}"
                             for name, (_, merge) in FACTS.items())
    renamed = ", ".join(f"{name} AS d_{name}" for name in FACTS)
    return f"""
SELECT run_id, service_name, model,
    {merged}
FROM (SELECT run_id, service_name, model, {renamed} FROM ({facts}))
GROUP BY run_id, service_name, model"""  # noqa: S608


# Each candidate: kind, scope, confidence, whether this run row counts, calls, cost,
# cost under the fix, and three numbers for the detail (a, b, c).
_CANDIDATES = f"""[
    ('{UNCACHED_PREFIX}', 'run', 'estimated',
     run_caches = 0 AND shared_calls >= {MIN_REPEATED_TURNS},
     n, run_cost, alt_prefix, toFloat64(shared_calls), toFloat64(shared_tokens), 0.),
    ('{GROWING_UNCACHED_INPUT}', 'run', 'estimated',
     run_caches > 0 AND n >= {GROWTH_MIN_CALLS}
       AND last_input >= {GROWTH_FACTOR} * first_input AND last_input >= {GROWTH_MIN_TOKENS}
       AND input_rises * 3 >= (n - 1) * 2,
     n, run_cost, alt_messages, toFloat64(first_input), toFloat64(last_input),
     toFloat64(carried_tokens)),
    ('{CONTEXT_GROWTH}', 'run', 'estimated',
     compacted_calls >= {COMPACT_MIN_LATER_CALLS},
     n, run_cost, alt_compact, toFloat64(max_input), toFloat64(compact_at_tokens),
     toFloat64(removed_tokens)),
    ('{BATCH_CANDIDATE}', 'service', 'estimated',
     run_size = 1 AND batchable_calls > 0,
     batchable_calls, batchable_cost, batchable_alt, 0., 0., 0.),
    ('{MODEL_ROUTING_CANDIDATE}', 'service', 'needs_eval',
     true,
     mechanical_calls, mechanical_cost, mechanical_alt, toFloat64(n), toFloat64(mechanical_output),
     0.),
    ('{TTL_TOO_SHORT}', 'service', 'estimated',
     writing_calls > 0,
     writing_calls, writing_cost, writing_cost - (run_cost - alt_ttl), toFloat64(rewrites),
     toFloat64(rewritten_tokens), 0.),
    ('{UNREAD_CACHE_WRITES}', 'service', 'estimated',
     written > 0,
     unread_writes, unread_cost, unread_alt, toFloat64(unread_tokens), toFloat64(written),
     toFloat64(unread_1h_tokens))
]"""

# The rule each kind's group must meet (HAVING), beyond saving money.
_KEEP = f"""multiIf(
    scope = 'run', true,
    kind = '{BATCH_CANDIDATE}', calls >= {BATCH_MIN_CALLS},
    kind = '{MODEL_ROUTING_CANDIDATE}',
        calls >= {ROUTING_MIN_CALLS} AND calls >= {ROUTING_MIN_SHARE} * sum(a),
    kind = '{TTL_TOO_SHORT}', sum(a) >= {TTL_MIN_REWRITES},
    kind = '{UNREAD_CACHE_WRITES}',
        calls >= {UNREAD_MIN_WRITES} AND sum(a) >= {UNREAD_MIN_SHARE} * sum(b),
    false)"""

_DETAIL = f"""multiIf(
    kind = '{UNCACHED_PREFIX}', format(
        '{{}} of {{}} calls re-sent the previous call''s whole prompt ({{}} tokens in all, '
        '{{}} per call on average) and nothing was cached: no cache_control breakpoint '
        'and no automatic caching',
        toString(sum(a)), toString(calls), toString(toUInt64(sum(b))),
        toString(toUInt64(sum(b) / greatest(sum(a), 1)))),
    kind = '{GROWING_UNCACHED_INPUT}', format(
        'a cached prefix is read, but the uncached input grew from {{}} to {{}} tokens per '
        'call over {{}} calls; {{}} of those tokens had been sent uncached by the '
        'previous call',
        toString(toUInt64(sum(a))), toString(toUInt64(sum(b))), toString(calls),
        toString(toUInt64(sum(c_)))),
    kind = '{CONTEXT_GROWTH}', format(
        'input reached {{}} tokens per call; compacting to {{}} tokens once it passed {{}} '
        'would carry {{}} fewer tokens over the later calls',
        toString(toUInt64(sum(a))), toString({{compact_to:UInt64}}),
        toString({{compact_above:UInt64}}), toString(toUInt64(sum(c_)))),
    kind = '{BATCH_CANDIDATE}', format(
        '{{}} single-call runs (independent: no conversation to continue) were sent one '
        'by one; as Message Batches they would cost {{}} instead of {{}} USD, answered '
        'asynchronously instead of within seconds (tokentrail does not record whether '
        'someone waited on the answer)',
        toString(calls), toString(round(sum(alt), 4)), toString(round(sum(cost), 4))),
    kind = '{MODEL_ROUTING_CANDIDATE}', format(
        '{{}} of {{}} calls look mechanical (at most {{}} output tokens, {{}} on average, '
        'no tool use); on {{}} they would cost {{}} instead of {{}} USD',
        toString(calls), toString(toUInt64(sum(a))), toString({{mechanical_output:UInt64}}),
        toString(toUInt64(sum(b) / greatest(calls, 1))), {{routing_model:String}},
        toString(round(sum(alt), 4)), toString(round(sum(cost), 4))),
    kind = '{TTL_TOO_SHORT}', format(
        '{{}} times a 5-minute cache entry expired in a gap of 5 to 60 minutes and {{}} '
        'tokens were written again; with 1h writes every write costs more, and the '
        'calls that write would cost {{}} instead of {{}} USD',
        toString(toUInt64(sum(a))), toString(toUInt64(sum(b))),
        toString(round(sum(alt), 4)), toString(round(sum(cost), 4))),
    kind = '{UNREAD_CACHE_WRITES}', format(
        '{{}} cache writes ({{}} of {{}} written tokens, {{}} of them 1h) were never read '
        'before they expired (no call of this service and model read the cache within '
        'the TTL)',
        toString(calls), toString(toUInt64(sum(a))), toString(toUInt64(sum(b))),
        toString(toUInt64(sum(c_)))),
    '')"""

_FIX = f"""multiIf(
    kind = '{UNCACHED_PREFIX}',
        'Put a cache_control breakpoint at the end of the static prefix (the last system '
        'block) and let each turn cache up to its last message (a breakpoint there, or '
        'top-level automatic caching): each call then reads what the previous one sent.',
    kind = '{GROWING_UNCACHED_INPUT}',
        'Add a breakpoint on the last message of each request (or top-level automatic '
        'caching) so the conversation, not only tools/system, is read from the cache.',
    kind = '{CONTEXT_GROWTH}',
        'Compact or summarise the conversation once it passes the threshold (or clear '
        'old tool results); check the summary keeps what later turns need.',
    kind = '{BATCH_CANDIDATE}',
        'Send these independent calls through the Message Batches API (50% of the token '
        'price) where nobody waits on the answer.',
    kind = '{MODEL_ROUTING_CANDIDATE}',
        concat('Try these calls on ', {{routing_model:String}}, ' against your evals; '
               'route them there only if the evals hold.'),
    kind = '{TTL_TOO_SHORT}',
        'Use {{"type": "ephemeral", "ttl": "1h"}} on the breakpoints these runs read back '
        'after pauses of 5 to 60 minutes.',
    kind = '{UNREAD_CACHE_WRITES}',
        'Move or drop these breakpoints (or use the 5-minute TTL instead of 1h): what they '
        'write is not read again in time, so the write premium buys nothing.',
    '')"""


def _joined(sql: str) -> str:
    """ClickHouse does not join adjacent string literals: join the ones written over
    several lines above."""
    return re.sub(r"'\n\s+'", "", sql)


def _findings(per_run: str) -> str:
    """The candidates of each run row, grouped into findings. A run-scoped finding is
    one run row, so those that save nothing are dropped before the grouping (measured:
    half the time of a 7-day range with 640k runs in it)."""
    sample = (f"arrayMap(x -> x.2, arraySlice(arrayReverseSort(groupArray((cost, run_id))), "
              f"1, {RUN_SAMPLE}))")
    return _joined(f"""
SELECT kind, scope, service_name, model,
    {sample} AS run_ids,
    sum(calls_) AS calls,
    sum(cost) AS cost_usd,
    sum(cost) - sum(alt) AS savings_usd,
    any(confidence_) AS confidence,
    {_DETAIL} AS detail,
    {_FIX} AS fix,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen
FROM (
    SELECT run_id, service_name, model, first_ts, last_ts,
        c.1 AS kind, c.2 AS scope, c.3 AS confidence_,
        c.5 AS calls_, c.6 AS cost, c.7 AS alt, c.8 AS a, c.9 AS b, c.10 AS c_
    FROM ({per_run})
    ARRAY JOIN {_CANDIDATES} AS c
    WHERE c.4 AND (c.2 != 'run' OR c.6 > c.7)
)
GROUP BY kind, scope, service_name, model, if(scope = 'run', run_id, '') AS run_key
HAVING savings_usd > 0 AND {_KEEP}""")  # noqa: S608


# Where a recurring change is, in the words of cache_events' own details: only
# messages_changed has a message (changed_message is NULL by design for the others,
# analysis/cache_events.py); a tools change has the tool, a system change its prefix
# block, a parameter change the parameters.
_PLACE = f"""multiIf(
    cause = '{MODEL_CHANGED}', 'the model changed',
    cause = '{PARAMS_CHANGED}', if(empty(changed_params), 'a parameter that keys the cache',
                                  concat('parameters ', arrayStringConcat(changed_params, ', '))),
    cause = '{TOOLS_CHANGED}', if(changed_block IS NULL, 'the tool definitions',
                                 concat('at tool ', toString(changed_block))),
    cause = '{SYSTEM_CHANGED}', if(changed_block IS NULL, 'the system prompt',
                                  concat('at prefix block ', toString(changed_block))),
    concat(if(changed_message IS NULL, 'an earlier message',
              concat('at message ', toString(changed_message))),
           if(changed_block IS NULL, '', concat(', prefix block ', toString(changed_block)))))"""


def _recurring(start: str, end: str) -> str:
    """``recurring_invalidation``: cache events (issue 12) with the same cause and the
    same place (message, block, character; changed parameters) in at least
    :data:`RECURRING_MIN_RUNS` runs of a service. The savings are the events' own
    ``extra_cost_usd`` (their missed tokens re-priced as reads); measured, because the
    fingerprints located the change."""
    causes = ", ".join(f"'{c}'" for c in _CHANGE_CAUSES)
    sample = (f"arrayMap(x -> x.2, arraySlice(arrayReverseSort(groupArray((cost, run_id))), "
              f"1, {RUN_SAMPLE}))")
    return _joined(f"""
SELECT '{RECURRING_INVALIDATION}' AS kind, 'service' AS scope, service_name,
    anyHeavy(model) AS model,
    {sample} AS run_ids,
    sum(events) AS calls,
    sum(cost) AS cost_usd,
    sum(cost) AS savings_usd,
    'measured' AS confidence,
    format('{{}} in {{}} runs: {{}}; {{}} cached tokens missed',
        cause, toString(uniqExact(run_id)), {_PLACE},
        toString(sum(missed))) AS detail,
    concat('The same ', cause, ' breaks the cache run after run (e.g. ', any(example),
           '). Keep what changes (timestamps, ids, counters, reordered items) out of the '
           'cached prefix: move it after the last breakpoint or make it stable.') AS fix,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen
FROM (
    SELECT run_id, service_name, any(model) AS model, cause, changed_message, changed_block,
        changed_params, count() AS events, sum(ifNull(extra_cost_usd, 0)) AS cost,
        sum(missed_tokens) AS missed, any(detail) AS example,
        min(timestamp) AS first_ts, max(timestamp) AS last_ts
    FROM cache_events
    WHERE timestamp >= {start} AND timestamp < {end} AND cause IN ({causes})
    GROUP BY run_id, service_name, cause, changed_message, changed_block, changed_params
)
GROUP BY service_name, cause, changed_message, changed_block, changed_params
HAVING uniqExact(run_id) >= {RECURRING_MIN_RUNS} AND savings_usd > 0""")  # noqa: S608


EXTRA_FINDINGS: list[Callable[[str, str], str]] = [dead_weight.findings_select]
"""Kinds with a source of their own: each a function of ``(start, end)`` (SQL
expressions) returning a SELECT of :data:`COLUMNS`, appended to the findings. Listed
here, in this module, so the ``insights`` view built from it always has them (adding
one changes the view's SQL: re-freeze the last migration that replaces the view while
it is unreleased, else add one). These are judged on read on every query
(``recurring_invalidation`` reads ``cache_events``, which ``serve`` keeps itself); a kind
whose rule is a sum over a run's calls is stored with the others when it is given
facts instead (:func:`facts_select`)."""


def insights_select(start: str | None = None, end: str | None = None, *,
                    recurring: bool = True, stored: bool = True,
                    on_read: bool = True) -> str:
    """The findings over ``[start, end)`` (SQL expressions; default the parameters
    ``start``/``end``). Other parameters: :data:`DEFAULTS`. ``recurring``: include
    ``recurring_invalidation`` (needs the ``cache_events`` relation, migration 3).

    ``stored`` (the default): from the facts ``serve`` keeps per run and day, the runs
    not judged since their last rows judged on read (:mod:`.insights_store`): each
    run's calls are judged as a whole, and a day of a run counts in the range when its
    first call does. Those facts are judged with :data:`DEFAULTS`; other thresholds
    need ``stored=False``: every call of the range judged on read, windows over the
    calls in the range (the same findings where no run crosses the range's ends).
    ``on_read=False``: the stored facts only (the caller found no run to judge on read:
    :func:`.insights_store.any_dirty_select`), which spares planning the judging."""
    start = start or "{start:DateTime64(9)}"
    end = end or "{end:DateTime64(9)}"
    columns = ", ".join(COLUMNS)
    if stored:
        from .insights_store import facts_in_range

        facts = facts_in_range(start, end, on_read=on_read)
    else:
        facts = facts_select(calls_select(range_calls(start, end)))
    sql = f"SELECT {columns} FROM ({_findings(_per_run(facts))})"  # noqa: S608
    if recurring:
        sql += f"\nUNION ALL\nSELECT {columns} FROM ({_recurring(start, end)})"
    for findings in EXTRA_FINDINGS:
        sql += f"\nUNION ALL\nSELECT {columns} FROM ({findings(start, end)})"
    return sql


def bind_constants(sql: str, values: dict[str, object] | None = None) -> str:
    """``sql`` with the parameters of :data:`DEFAULTS` (or ``values``) written in as
    literals: a view cannot take parameters. The values are tokentrail's own constants."""
    values = {**DEFAULTS, **(values or {})}
    for name, value in values.items():
        literal = (str(int(value)) if isinstance(value, int)  # type: ignore[arg-type]
                   else "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'")
        sql = sql.replace(f"{{{name}:{PARAMETERS[name]}}}", literal)
    return sql


VIEW = "insights"
VIEW_DAYS = 30


def view_select() -> str:
    """``insights``: the findings of the last :data:`VIEW_DAYS` days, from the facts
    ``serve`` stores and the runs not stored yet judged on read (with the settings
    that keep planning that short, which a view keeps)."""
    from .cache_events import settings_clause

    findings = bind_constants(insights_select(
        f"now64(9) - INTERVAL {VIEW_DAYS} DAY", "now64(9) + INTERVAL 1 DAY"))
    return f"SELECT * FROM ({findings})\n{settings_clause()}"  # noqa: S608
