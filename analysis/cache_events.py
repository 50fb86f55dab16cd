"""``cache_events``: the calls whose cache behaviour cost money they need not have, and why.

One SQL query over the calls of whole runs (window functions over each run ordered by
start time), so that every store, whatever fills it, gets the same answer; the rules
are those of docs/facts.md §1 (see :mod:`.cache_events_rules`).

How a call is judged
--------------------
For each call ``c`` the query looks at the run's previous calls (the last
:data:`PRIORS` of them: a revert, or calls that cached nothing in between, are found
within that many):

* ``p``: the most recent earlier call that cached anything (read + written > 0) and is
  not another conversation than ``c``'s. What it cached is what the run had; ``c``
  should read it, up to ``c``'s own size. Another conversation inside the run is a call
  whose part before the messages differs (model, tools or system) and whose messages
  share nothing with ``c``'s (say a summariser or classifier with a prompt of its own
  that the agent calls mid-task): nothing either sent could be read by the other, so
  neither is judged against the other, and the main loop's next turn is judged against
  the main loop's last call. A call without a ``p`` can only be judged by rule 4.
* ``q``: the most recent earlier call that cached anything *and whose prompt is a
  prefix of c's*: same model, and with fingerprints on both sides the same tools,
  system and cache-relevant parameters and the same messages as far as both message
  windows reach; without fingerprints, the same model and a prompt at least as large
  as what ``q`` cached (reads can only be expected of a conversation that grew).

Then, in order:

1. ``q`` is ``p``: the prefix is unchanged. If ``c`` read less than ``p`` cached the
   missing tokens were lost: the gap since ``p`` exceeded the TTL of what it wrote
   (``ttl_expired``); ``c`` started before ``p`` had finished (``concurrent_requests``);
   every breakpoint of ``c`` at or after ``p``'s last one sits 20 or more blocks past it
   (``lookback_exceeded``); no breakpoint of ``c`` reaches that far (``no_breakpoint``);
   the API's diagnostics name a change (evidence ``api``); else ``unexplained``.
   Without fingerprints the prefix is only presumed unchanged, so a miss needs the
   reads to have *fallen* (below what ``p`` read, or below what it cached if it read
   nothing): token counts alone do not say whether reads that merely stayed flat
   missed anything.
2. ``q`` is older than ``p`` and the call right after ``q`` changed the prefix: a
   revert. If ``c`` read everything ``q`` cached it recovered and is not an event (the
   change was the event); otherwise it is judged as in 3.
3. Otherwise the prefix changed against ``p``: the first level that differs is the
   cause (model, tools, system, cache parameters, messages), unless everything ``p``
   cached had expired anyway (``ttl_expired``) or, for a changed conversation, ``c``
   started before ``p`` finished (``concurrent_requests``; then, if the conversation
   shares no message with ``p``'s, as in a fan-out, only the part before the messages
   could have been shared, and only if it was a cache entry). A conversation replaced
   from its first message is ``messages_changed`` (compaction; or, in an explicit
   ``run()``, a second conversation started sequentially in the same run, which reads
   as one too).
   Without fingerprints only a model change is a cause; the API's diagnostics are used
   where present; a prompt that shrank says nothing.
4. Nothing was cached at all (no reads, no writes) while the prompt repeated the whole
   previous prompt: ``no_breakpoint`` if that repeated prefix reached the model's
   minimum, ``below_minimum`` if it did not and the call asked for caching.

The first call of a run, and calls that read everything that was cached, are never
events. ``missed_tokens`` are the cached tokens not read (capped by the call's size);
``extra_cost_usd`` prices them at the rate of the bucket they went into (1h writes,
then 5m writes, then uncached input: the order they follow the read point in) minus
the cache-read rate.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import cache_events_rules as r

# Settings for every query that judges calls (measured, chdb 4.4 / ClickHouse 26.9: a
# one-run query spends most of its time planning, not reading). The analyzer pass that
# derives extra comparisons from chains of ANDs costs two thirds of the planning of
# these nested levels and finds nothing to derive; merging the expression steps of the
# levels into one costs another fifth and saves nothing on a few hundred rows.
# On a cluster, the runs to judge are picked from Distributed tables inside a query that
# reads Distributed tables; ClickHouse refuses that unless such IN subqueries are made
# GLOBAL (run once, shipped to the shards), which ``distributed_product_mode`` does.
QUERY_SETTINGS = {"optimize_and_compare_chain": 0, "query_plan_merge_expressions": 0,
                  "distributed_product_mode": "global"}


def settings_clause() -> str:
    """:data:`QUERY_SETTINGS` as a SETTINGS clause (for views, which keep it)."""
    return "SETTINGS " + ", ".join(
        f"{k} = '{v}'" if isinstance(v, str) else f"{k} = {v}" for k, v in QUERY_SETTINGS.items())


PRIORS = 16
"""Earlier calls each call is compared with. A revert (rule 2) or a call that cached
nothing between two that did is found within this many calls."""

# The columns the query needs from its input (llm_calls' names); the last ones only
# pass through to the pricing of the events. Anything else in the input is ignored.
INPUT_COLUMNS = (
    "run_id", "call_id", "timestamp", "service_name", "source", "turn", "model",
    "input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "duration_ms", "is_batch", "prefix_tools_hash", "prefix_system_hash",
    "prefix_params_hash", "prefix_message_hashes", "prefix_message_count",
    "prefix_block_count", "prefix_block_tokens", "prefix_tokens", "cache_breakpoints",
    "cache_ttls", "cache_automatic", "prefix_change_level", "prefix_change_params",
    "prefix_change_message", "prefix_change_block", "prefix_change_char",
    "prefix_change_hint", "cache_miss_reason", "cache_missed_input_tokens",
    *(PRICE_INPUTS := ("output_tokens", "betas", "speed", "inference_geo",
                       "web_search_requests", "web_fetch_requests")),
)
# The per-token rates that the ``price`` wrapper of :func:`events_select` must add
# (the cost columns of llm_calls, tokentrail/analysis/pricing_sql.py).
RATE_COLUMNS = ("rate_input_usd", "rate_cache_read_usd", "rate_cache_write_5m_usd",
                "rate_cache_write_1h_usd")

# The output columns of cache_events, in order.
OUTPUT_COLUMNS = (
    "run_id", "call_id", "turn", "timestamp", "model", "service_name", "cause", "evidence",
    "changed_message", "changed_block", "changed_char", "changed_params", "gap_seconds",
    "missed_tokens", "extra_cost_usd", "detail",
)
OUTPUT_TYPES = {
    "run_id": "String", "call_id": "String", "turn": "UInt32",
    "timestamp": "DateTime64(9)", "model": "LowCardinality(String)",
    "service_name": "LowCardinality(String)", "cause": "LowCardinality(String)",
    "evidence": "LowCardinality(String)", "changed_message": "Nullable(UInt32)",
    "changed_block": "Nullable(UInt32)", "changed_char": "Nullable(UInt32)",
    "changed_params": "Array(String)", "gap_seconds": "Nullable(Float64)",
    "missed_tokens": "UInt64", "extra_cost_usd": "Nullable(Float64)", "detail": "String",
}


def _strings(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
                           for v in values) + "]"


def _thousands(expr: str) -> str:
    """SQL: an integer with thousands separators (17400 -> '17,400')."""
    return (f"reverse(trim(TRAILING ',' FROM replaceRegexpAll(reverse(toString(toInt64({expr}))), "
            f"'([0-9][0-9][0-9])', '\\\\1,')))")


def _messages_agree(xh: str, xm: str, ch: str, cm: str) -> str:
    """SQL: the messages of an earlier call (window ``xh`` of its ``xm`` messages) are a
    prefix of a later call's (``ch``, ``cm``), as far as both windows reach."""
    xs = f"({xm} - toInt64(length({xh})))"
    cs = f"({cm} - toInt64(length({ch})))"
    return (f"({xm} <= {cm} AND arrayAll(i -> {xh}[i - {xs} + 1] = {ch}[i - {cs} + 1], "
            f"range(greatest({xs}, {cs}, 0), greatest({xm}, greatest({xs}, {cs}, 0)))))")


def _other_conversation(x: dict[str, str], c: dict[str, str]) -> str:
    """SQL: the earlier call ``x`` belongs to another conversation than ``c`` inside the
    same run (a helper call with a prompt of its own, such as a summariser or a
    classifier the agent calls mid-task): with fingerprints on both sides, the part
    before the messages differs (model, tools or system) and the messages show nothing
    in common, i.e. the two message windows share no index on which they agree (which
    includes different first messages). A change in the same conversation keeps its
    messages; a compaction keeps its tools and system. Such a call could read nothing
    the other had cached except through a head they happen to share, so neither is
    judged against the other (docs/facts.md §1 rule 1)."""
    xs = f"({x['mc']} - toInt64(length({x['mh']})))"
    cs = f"({c['mc']} - toInt64(length({c['mh']})))"
    low, high = f"greatest({xs}, {cs}, 0)", f"least({x['mc']}, {c['mc']})"
    shared = (f"({low} < {high} AND arrayAll(i -> {x['mh']}[i - {xs} + 1] = "
              f"{c['mh']}[i - {cs} + 1], range({low}, {high})))")
    head = (f"({x['model']} != {c['model']} OR {x['tools']} != {c['tools']} "
            f"OR {x['system']} != {c['system']})")
    return (f"({x['fp']} AND {c['fp']} AND {x['mc']} > 0 AND {c['mc']} > 0 AND {head} "
            f"AND NOT {shared})")


def _compatible(x: dict[str, str], c: dict[str, str]) -> str:
    """SQL: the earlier call ``x``'s cached prompt is a prefix of the later call ``c``'s
    (dicts of column expressions)."""
    fingerprints = (f"{x['tools']} = {c['tools']} AND {x['system']} = {c['system']} "
                    f"AND {x['params']} = {c['params']} AND "
                    + _messages_agree(x["mh"], x["mc"], c["mh"], c["mc"]))
    return (f"({x['model']} = {c['model']} AND if({x['fp']} AND {c['fp']}, {fingerprints}, "
            f"{c['total']} >= {x['cached']}))")


# Fields of the earlier calls that the rules read, kept per call as arrays over the
# window of :data:`PRIORS` earlier calls (``pr_<field>``), from these columns.
_PRIOR_FIELDS = {
    "t": "t_start", "te": "t_end", "model": "model_key", "fp": "fp",
    "tools": "prefix_tools_hash", "system": "prefix_system_hash",
    "params": "prefix_params_hash", "mh": "mh", "mc": "mc", "total": "n_total",
    "cached": "n_cached", "read": "n_read", "ttl": "ttl_end", "ttl_max": "ttl_max",
    "bp_max": "bp_max", "bp_min": "bp_min",
}
_CURRENT = {"model": "model_key", "fp": "fp", "tools": "prefix_tools_hash",
            "system": "prefix_system_hash", "params": "prefix_params_hash", "mh": "mh",
            "mc": "mc", "total": "n_total", "cached": "n_cached"}
# Which earlier calls become scalar columns (``p_<field>`` etc.) once their index is known.
_P_FIELDS = ("t", "te", "model", "fp", "mh", "mc", "cached", "read", "ttl", "ttl_max", "bp_max",
             "bp_min", "tools", "system", "params")
_PREV_FIELDS = ("t", "fp", "total")


def _select_items(stage: str) -> list[str]:
    """The top-level items of a stage's SELECT list (between SELECT and its FROM)."""
    body = stage[stage.index("SELECT") + len("SELECT"):stage.index("\nFROM {}")]
    items, depth, begin, quote = [], 0, 0, False
    for i, char in enumerate(body):
        if char == "'":
            quote = not quote
        elif not quote:
            depth += char in "(["
            depth -= char in ")]"
            if char == "," and depth == 0:
                items.append(body[begin:i].strip())
                begin = i + 1
    items.append(body[begin:].strip())
    return [item for item in items if item]


def _nest(stages: list[str], source: str, prune: bool = True) -> str:
    """Each stage is a ``SELECT … FROM {}`` over the previous one; the first reads
    ``source``. A stage's ``*`` becomes the list of the earlier columns that it or a
    later stage names, so levels stay narrow (the analyzer plans every column of every
    level). Subquery boundaries keep each stage's aliases small, as ClickHouse inlines
    an alias wherever it is used."""
    available: list[str] = []
    sql = source
    for k, stage in enumerate(stages):
        items = _select_items(stage)
        if items and items[0].startswith("*"):
            later = set(_WORD.findall("\n".join(stages[k:]))) if prune else set(available)
            dropped = set(_WORD.findall(items[0][1:]))
            items = [c for c in available if c in later and c not in dropped] + items[1:]
        tail = stage[stage.index("\nFROM {}") + len("\nFROM {}"):]
        available = [_name(item) for item in items]
        select = ",\n    ".join(items)
        inner = source if k == 0 else f"(\n{sql}\n)"
        sql = f"SELECT\n    {select}\nFROM {inner}{tail}"
    return sql


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _name(item: str) -> str:
    alias = re.search(r"\bAS\s+([A-Za-z_][A-Za-z0-9_]*)\s*$", item)
    return alias.group(1) if alias else item.strip()


def events_select(calls: str, price: Callable[[str], str] | None = None) -> str:
    """The SELECT of cache events over ``calls``: a table expression (a table name or a
    parenthesised subquery) with :data:`INPUT_COLUMNS` for every call of the runs to
    judge. Its columns are :data:`OUTPUT_COLUMNS`, one row per event.

    ``price`` turns a SELECT of the events (with the columns a call's price depends on,
    under llm_calls' names) into one with :data:`RATE_COLUMNS` added; without it
    ``extra_cost_usd`` is NULL. Events are priced after they are found, not calls
    before: the pricing's levels then carry a few columns of a few rows.

    Each stage is a subquery: a window's result or a large lambda must be computed
    once, not inlined (ClickHouse copies an alias's expression into every use)."""
    judged = _nest([_merge(_features(), _ttl()), _priors(), _indexes(),
                    _merge(_scalars(), _flags()), _judgement(), _cause(), _detail(),
                    _unpriced()], calls)
    if price is None:
        rates = ", ".join(f"CAST(NULL AS Nullable(Float64)) AS {name}"
                          for name in RATE_COLUMNS)
        priced = f"SELECT *, {rates} FROM (\n{judged}\n)"  # noqa: S608
    else:
        priced = price(judged)
    return _output(priced)


def _merge(*stages: str) -> str:
    """Stages that can share one SELECT: their items (the later stages' ``*`` dropped;
    an EXCEPT of the first stage kept) and their clauses after ``FROM {}``. The last
    stage's items come last, so an output stage keeps its column order."""
    items: list[str] = []
    tails: list[str] = []
    for k, stage in enumerate(stages):
        stage_items = _select_items(stage)
        if k > 0 and stage_items and stage_items[0].startswith("*"):
            stage_items = stage_items[1:]
        items.extend(stage_items)
        tail = stage[stage.index("\nFROM {}") + len("\nFROM {}"):].strip()
        if tail:
            tails.append(tail)
    where = [t[len("WHERE"):].strip() for t in tails if t.startswith("WHERE")]
    others = [t for t in tails if not t.startswith("WHERE")]
    clauses = ("\nWHERE " + " AND ".join(f"({w})" for w in where) if where else "") + "".join(
        "\n" + t for t in others)
    return "SELECT " + ",\n    ".join(items) + "\nFROM {}" + clauses


def _features() -> str:
    """Per call: tokens, times (seconds), fingerprints, breakpoint extremes, written TTL."""
    skipped = _strings(list(r.NOT_SEQUENTIAL_SOURCES))
    return f"""SELECT
    run_id, call_id, timestamp, service_name, source, turn, model,
    replaceRegexpOne(model, '-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$', '') AS model_key,
    toInt64(input_tokens) AS n_in, toInt64(cache_read_tokens) AS n_read,
    toInt64(cache_write_5m_tokens) AS n_w5, toInt64(cache_write_1h_tokens) AS n_w1h,
    n_in + n_read + n_w5 + n_w1h AS n_total,
    n_read + n_w5 + n_w1h AS n_cached,
    toUnixTimestamp64Nano(timestamp) / 1e9 AS t_start,
    t_start + duration_ms / 1e3 AS t_end,
    prefix_params_hash != '' AS fp,
    prefix_tools_hash, prefix_system_hash, prefix_params_hash,
    arrayMap(h -> cityHash64(h), prefix_message_hashes) AS mh,
    toInt64(prefix_message_count) AS mc,
    toInt64(prefix_block_count) AS block_count, prefix_block_tokens,
    toInt64(prefix_tokens) AS prefix_tokens, cache_breakpoints, cache_ttls, cache_automatic,
    if(empty(cache_breakpoints), -1, toInt64(arrayMax(cache_breakpoints))) AS bp_max,
    if(empty(cache_breakpoints), -1, toInt64(arrayMin(cache_breakpoints))) AS bp_min,
    multiIf(n_w5 > 0, {r.TTL_SECONDS['5m']}, n_w1h > 0, {r.TTL_SECONDS['1h']}, 0)
        AS ttl_written,
    prefix_change_level, prefix_change_params, prefix_change_message, prefix_change_block,
    prefix_change_char, prefix_change_hint, cache_miss_reason,
    toInt64(cache_missed_input_tokens) AS api_missed,
    {', '.join(PRICE_INPUTS)}
FROM {{}}
WHERE NOT is_batch AND source NOT IN {skipped}"""  # noqa: S608


def _ttl() -> str:
    """The TTL of what a call left cached at its end: what it wrote, else what the
    run last wrote (a read renews an entry for its own TTL), else its markers' TTL;
    and the longest TTL it holds (docs/facts.md §1 rule 5)."""
    return f"""SELECT *,
    toInt64(if(ttl_written > 0, ttl_written,
       coalesce(anyLast(nullIf(ttl_written, 0)) OVER (
           PARTITION BY run_id ORDER BY timestamp, call_id
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           if(cache_ttls[-1] = '1h', {r.TTL_SECONDS['1h']}, {r.TTL_SECONDS['5m']})))) AS ttl_end,
    toInt64(if(n_w1h > 0 OR has(cache_ttls, '1h'), {r.TTL_SECONDS['1h']}, ttl_end)) AS ttl_max
FROM {{}}"""  # noqa: S608


def _priors() -> str:
    """The earlier calls of the run, as one array per field (window functions)."""
    arrays = ",\n    ".join(f"groupArray({column}) OVER priors AS pr_{field}"
                            for field, column in _PRIOR_FIELDS.items())
    return f"""SELECT *,
    row_number() OVER (PARTITION BY run_id ORDER BY timestamp, call_id) AS position,
    {arrays}
FROM {{}}
WINDOW priors AS (PARTITION BY run_id ORDER BY timestamp, call_id
                  ROWS BETWEEN {PRIORS} PRECEDING AND 1 PRECEDING)"""  # noqa: S608


def _indexes() -> str:
    """``p_idx``: the last earlier call that cached anything; ``q_idx``: the last one that
    did and whose prompt is a prefix of this call's (see the module docstring)."""
    x = {f: f"x_{f}" for f in _PRIOR_FIELDS}
    args = ", ".join(f"x_{f}" for f in _PRIOR_FIELDS)
    arrays = ", ".join(f"pr_{f}" for f in _PRIOR_FIELDS)
    return f"""SELECT *,
    toInt64(length(pr_t)) AS n_prior,
    toInt64(arrayLastIndex(({args}) -> x_cached > 0 AND NOT {_other_conversation(x, _CURRENT)},
                           {arrays})) AS p_idx,
    toInt64(arrayLastIndex(({args}) -> x_cached > 0 AND {_compatible(x, _CURRENT)},
                           {arrays})) AS q_idx
FROM {{}}"""  # noqa: S608


def _scalars() -> str:
    """Those earlier calls' fields as plain columns; the arrays are dropped."""
    p = [f"pr_{f}[p_idx] AS p_{f}" for f in _P_FIELDS]
    prev = [f"pr_{f}[n_prior] AS prev_{f}" for f in _PREV_FIELDS]
    q = {f: f"pr_{f}[q_idx]" for f in _PRIOR_FIELDS}
    after_q = {f: f"pr_{f}[q_idx + 1]" for f in _PRIOR_FIELDS}
    prev_c = {f: f"pr_{f}[n_prior]" for f in _PRIOR_FIELDS}
    columns = ",\n    ".join(p + prev)
    return f"""SELECT * EXCEPT ({', '.join(f'pr_{f}' for f in _PRIOR_FIELDS)}),
    {columns},
    pr_cached[q_idx] AS q_cached,
    q_idx > 0 AND q_idx < p_idx AND NOT {_compatible(q, after_q)} AS q_then_changed,
    n_prior > 0 AND {_compatible(prev_c, _CURRENT)} AS prev_is_prefix
FROM {{}}"""  # noqa: S608


def _flags() -> str:
    """What kind of situation the call is in (rules 1-3 of the module docstring).

    The in-process positions (``prefix_change_*``) describe the change against the
    previous call, so they are used only when that call is ``p``. A conversation is
    *replaced* when it shares no message with ``p``'s: both message windows start at
    message 0 and the first messages differ, or the in-process comparison says message
    0 changed. ``head_tokens`` estimates the tools and system (the prompt before the
    changed block) from the call's block window, scaled from estimated to real tokens.
    SQL comments are avoided in stages: :func:`_nest` parses their select lists."""
    level = ("multiIf(p_model != model_key, 'model', p_tools != prefix_tools_hash, 'tools', "
             "p_system != prefix_system_hash, 'system', p_params != prefix_params_hash, "
             "'params', 'messages')")
    mins = r.MIN_CACHEABLE_TOKENS
    in_process = "p_idx = n_prior AND prefix_change_level NOT IN ('', 'none')"
    return f"""SELECT *,
    if(n_prior > 0, t_start - prev_t, NULL) AS gap_seconds,
    p_idx > 0 AS has_p,
    p_idx = n_prior AS p_is_prev,
    has_p AND q_idx = p_idx AS same_prefix,
    q_then_changed AND n_read >= least(q_cached, n_total) AS reverted,
    fp AND p_fp AS both_fp,
    if(has_p, t_start - p_t, 0) AS gap_p,
    cache_miss_reason IN {_strings(list(r.API_CHANGE_REASONS))} AS api_change,
    multiIf(both_fp, {level},
            p_model != model_key AND n_total >= p_cached, 'model',
            api_change, 'api', '') AS change_level,
    if({in_process}, prefix_change_message, NULL) AS changed_message_,
    if({in_process}, prefix_change_block, NULL) AS changed_block_,
    if({in_process}, prefix_change_char, NULL) AS changed_char_,
    if(p_is_prev, prefix_change_params, CAST([], 'Array(String)')) AS changed_params_,
    if(p_is_prev, prefix_change_hint, '') AS hint,
    change_level = 'messages' AND if({in_process}, ifNull(prefix_change_message, 1) = 0,
        length(mh) = mc AND length(p_mh) = p_mc AND mc > 0 AND p_mc > 0 AND p_mh[1] != mh[1])
        AS conversation_replaced,
    toInt64(ifNull(changed_block_, -1)) AS head_blocks,
    greatest(0, prefix_tokens - toInt64(arraySum(arraySlice(prefix_block_tokens,
        greatest(head_blocks - (block_count - toInt64(length(prefix_block_tokens))), 0) + 1))))
        AS head_estimate,
    if(prefix_tokens > 0, toInt64(round(head_estimate * n_total / greatest(prefix_tokens, 1))),
       0) AS head_tokens,
    p_bp_min >= 0 AND p_bp_min < head_blocks AS head_was_entry,
    transform(model_key, {_strings(list(mins))}, {list(mins.values())}, 0) AS min_tokens,
    arrayFilter(b -> toInt64(b) >= p_bp_max, cache_breakpoints) AS bps_after,
    if(p_bp_max >= 0 AND NOT empty(bps_after), toInt64(arrayMin(bps_after)) - p_bp_max, -1)
        AS lookback_distance,
    p_bp_max >= 0 AND empty(bps_after) AS breakpoints_short
FROM {{}}"""  # noqa: S608


def _judgement() -> str:
    """Rules 1-4: the tokens lost and the cause, for a lost cache (rules 1-3) or a whole
    previous prompt repeated with nothing cached (rule 4)."""
    lookback = r.LOOKBACK_BLOCKS
    return f"""SELECT *,
    multiIf(NOT has_p OR reverted, 0,
            same_prefix AND NOT both_fp AND n_read >= if(p_read > 0, p_read, p_cached), 0,
            same_prefix, greatest(0, least(p_cached, n_total) - n_read),
            change_level = '', 0,
            conversation_replaced AND t_start < p_te,
                if(head_was_entry, greatest(0, least(p_cached, n_total, head_tokens) - n_read), 0),
            greatest(0, least(p_cached, n_total) - n_read)) AS lost,
    if(same_prefix,
       multiIf(gap_p > p_ttl, '{r.TTL_EXPIRED}',
               t_start < p_te, '{r.CONCURRENT_REQUESTS}',
               both_fp AND lookback_distance >= {lookback}, '{r.LOOKBACK_EXCEEDED}',
               both_fp AND breakpoints_short, '{r.NO_BREAKPOINT}',
               NOT both_fp AND api_change, cache_miss_reason,
               '{r.UNEXPLAINED}'),
       multiIf(gap_p > p_ttl_max, '{r.TTL_EXPIRED}',
               change_level = 'messages' AND t_start < p_te, '{r.CONCURRENT_REQUESTS}',
               change_level = 'api', cache_miss_reason,
               concat(change_level, '_changed'))) AS lost_cause,
    if(same_prefix, p_ttl, p_ttl_max) AS ttl_used,
    prev_is_prefix AND n_read = 0 AND n_w5 + n_w1h = 0 AND fp AND prev_fp AND min_tokens > 0
        AS repeated_uncached,
    multiIf(NOT repeated_uncached, '',
            prev_total >= min_tokens, '{r.NO_BREAKPOINT}',
            length(cache_breakpoints) > 0 OR cache_automatic, '{r.BELOW_MINIMUM}',
            '') AS uncached_cause
FROM {{}}"""  # noqa: S608


def _cause() -> str:
    """One cause per call, its missed tokens, their split over buckets, and the evidence."""
    return f"""SELECT *,
    if(lost > 0, lost_cause, uncached_cause) AS cause,
    if(lost > 0, lost, if(uncached_cause = '', 0, prev_total)) AS missed,
    least(missed, n_w1h) AS missed_1h,
    least(missed - missed_1h, n_w5) AS missed_5m,
    missed - missed_1h - missed_5m AS missed_input,
    {_thousands('missed')} AS missed_text,
    multiIf(cause IN ('{r.TTL_EXPIRED}', '{r.CONCURRENT_REQUESTS}'), '{r.TIMING}',
            cause IN ('{r.LOOKBACK_EXCEEDED}', '{r.NO_BREAKPOINT}', '{r.BELOW_MINIMUM}'),
                '{r.PREFIX}',
            both_fp, '{r.PREFIX}',
            api_change AND cause = cache_miss_reason, '{r.API}',
            '{r.TOKENS}') AS evidence
FROM {{}}
WHERE cause != ''"""  # noqa: S608


def _detail() -> str:
    """One human sentence per event, plus the API's diagnostics when they were asked for
    (a disagreement with the fingerprints is a finding, so it is shown)."""
    n = _thousands
    change_hint = ("multiIf(hint = 'timestamp', '; the text there looks like a timestamp', "
                   "hint = 'uuid', '; the text there looks like a UUID', "
                   "hint = 'counter', '; the text there looks like a counter', "
                   "hint = 'reordered', '; the blocks look reordered', '')")
    return f"""SELECT *,
    multiIf(
        cause = '{r.MODEL_CHANGED}',
        concat('the model changed from ', p_model, ' to ', model_key,
               ': caches are per model, so ', missed_text, ' cached tokens could not be read'),
        cause = '{r.TOOLS_CHANGED}',
        concat('the tool definitions changed',
               if(changed_block_ IS NULL, '', concat(' at tool ', toString(changed_block_))),
               if(hint = 'reordered', ' (the same tools, reordered)', ''),
               '; ', missed_text, ' cached tokens not read'),
        cause IN ('{r.SYSTEM_CHANGED}', '{r.MESSAGES_CHANGED}'),
        concat(multiIf(cause = '{r.SYSTEM_CHANGED}', 'the system prompt changed',
                       conversation_replaced, concat('the conversation was replaced from ',
                           'its first message (compaction, or a new conversation in the run)'),
                       changed_message_ IS NULL, 'an earlier message changed',
                       concat('message ', toString(changed_message_), ' changed')),
               if(changed_block_ IS NULL, '',
                  concat(' at prefix block ', toString(changed_block_))),
               if(changed_char_ IS NULL, '', concat(', char ', {n('changed_char_')})),
               {change_hint}, '; ', missed_text, ' cached tokens not read'),
        cause = '{r.PARAMS_CHANGED}',
        concat(if(empty(changed_params_), 'a request parameter that keys the cache',
                  arrayStringConcat(changed_params_, ', ')),
               ' changed, which invalidates the cache from its level on; ',
               missed_text, ' cached tokens not read'),
        cause = '{r.TTL_EXPIRED}',
        concat({n('round(gap_p)')}, ' s since the call that cached this prefix, longer than ',
               'the ', if(ttl_used >= {r.TTL_SECONDS['1h']}, '1h', '5m'),
               ' TTL of what it wrote; ', missed_text, ' cached tokens expired'),
        cause = '{r.CONCURRENT_REQUESTS}',
        concat('started ', toString(round(t_start - p_t, 3)), ' s after a call with the same ',
               'prefix, before that call had written the cache; ', missed_text,
               ' tokens not read'),
        cause = '{r.LOOKBACK_EXCEEDED}',
        concat('the prefix was unchanged but the nearest breakpoint sat ',
               toString(lookback_distance), ' blocks after the last cache entry, past the ',
               '{r.LOOKBACK_BLOCKS}-block lookback; ', missed_text, ' cached tokens not read'),
        cause = '{r.NO_BREAKPOINT}' AND lost > 0,
        concat('the prefix was unchanged but no breakpoint reached the end of what was ',
               'cached; ', missed_text, ' cached tokens not read'),
        cause = '{r.NO_BREAKPOINT}',
        concat('a repeated prefix of ', missed_text, ' tokens had no cache breakpoint ',
               'covering it (', model_key, ' caches from ', {n('min_tokens')}, ' tokens)'),
        cause = '{r.BELOW_MINIMUM}',
        concat('the repeated prefix of ', missed_text, ' tokens is under ', model_key,
               '''s minimum of ', {n('min_tokens')}, ' cacheable tokens, so nothing was cached'),
        both_fp,
        concat('the prefix was unchanged and the cache still missed ', missed_text,
               ' tokens; the API does not guarantee hits'),
        concat('cache reads fell to ', {n('n_read')}, ' of ', {n('least(p_cached, n_total)')},
               ' cached tokens within the TTL; token counts and timing alone cannot say why ',
               '(the API does not guarantee hits)')
    ) AS detail_main,
    multiIf(
        NOT api_change, '',
        cause = cache_miss_reason AND evidence = '{r.API}',
        concat(' (the API''s cache diagnostics, ', {n('api_missed')}, ' tokens)'),
        cause = cache_miss_reason, '; the API''s cache diagnostics agree',
        cause = '{r.PARAMS_CHANGED}' AND cache_miss_reason = '{r.MODEL_CHANGED}'
            AND has(changed_params_, 'speed'), '; the API''s cache diagnostics agree',
        concat('; but the API''s cache diagnostics say ', cache_miss_reason, ' (',
               {n('api_missed')}, ' tokens)')) AS detail_api
FROM {{}}"""  # noqa: S608


def _unpriced() -> str:
    """The columns of ``cache_events`` but the price, and what the price needs: the
    event's missed tokens by the bucket they went into, and the call's price inputs
    under llm_calls' names."""
    positioned = _strings([r.TOOLS_CHANGED, r.SYSTEM_CHANGED, r.MESSAGES_CHANGED,
                           r.PARAMS_CHANGED])
    texts = _strings([r.TOOLS_CHANGED, r.SYSTEM_CHANGED, r.MESSAGES_CHANGED])
    return f"""SELECT
    run_id, call_id, toUInt32(if(turn > 0, turn, position)) AS turn, timestamp, model,
    service_name, cause, evidence,
    if(cause IN {positioned}, changed_message_, NULL) AS changed_message,
    if(cause IN {positioned}, changed_block_, NULL) AS changed_block,
    if(cause IN {texts}, changed_char_, NULL) AS changed_char,
    if(cause = '{r.PARAMS_CHANGED}', changed_params_, CAST([], 'Array(String)'))
        AS changed_params,
    gap_seconds,
    toUInt64(missed) AS missed_tokens,
    concat(detail_main, detail_api) AS detail,
    missed_1h, missed_5m, missed_input,
    n_in AS input_tokens, n_read AS cache_read_tokens, n_w5 AS cache_write_5m_tokens,
    n_w1h AS cache_write_1h_tokens, false AS is_batch,
    {', '.join(PRICE_INPUTS)}
FROM {{}}"""  # noqa: S608


def _output(priced: str) -> str:
    """The columns of ``cache_events``: the missed tokens priced at the rate of the
    bucket they went into minus the cache-read rate."""
    columns = ", ".join(c if c != "extra_cost_usd" else (
        "missed_1h * (rate_cache_write_1h_usd - rate_cache_read_usd)"
        " + missed_5m * (rate_cache_write_5m_usd - rate_cache_read_usd)"
        " + missed_input * (rate_input_usd - rate_cache_read_usd) AS extra_cost_usd")
        for c in OUTPUT_COLUMNS)
    return f"""SELECT {columns}
FROM (
{priced}
)
ORDER BY run_id, timestamp, call_id"""  # noqa: S608
