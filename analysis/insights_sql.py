"""The one engine behind ``insights`` and ``tokentrail whatif``: every call of a time
range priced as it was and as it would have been under each alternative.

Savings are never a rule of thumb: each alternative is the same call re-priced.

* Where the alternative is another *price* (Message Batches, another model), the call is
  run through the cost SQL of ``llm_calls`` again (:func:`~.pricing_sql.priced_select`)
  with ``is_batch`` or ``model`` replaced, so the batch multiplier and the other
  model's rates come from the price table in force on the call's day (docs/facts.md §2).
* Where the alternative moves tokens between buckets of the same call (cache a prefix,
  a 1h TTL, compaction), the tokens are re-priced with the call's own effective
  per-token rates (``rate_*_usd`` of ``llm_calls``, every multiplier applied).

Layers, innermost first (each a subquery, so a per-call fact is computed once):

1. the calls of the range with their actual cost, re-priced as batch and on the
   routing model (two passes of the cost SQL);
2. window functions over each run (previous call, first call over a threshold) and over
   each service and model (the next cache read), in one SELECT;
3. per call, the alternative costs (``alt_*``) and what they rest on.

Insights aggregate layer 3 per run and per service (:mod:`.insights`); what-if sums one
``alt_*`` column over the calls a scope selects (:mod:`.whatif`). Everything is built
from constants of this module; times, run ids, models and thresholds are query
parameters.
"""

from __future__ import annotations

from .cache_events_rules import MIN_CACHEABLE_TOKENS, TTL_SECONDS
from .pricing_sql import priced_select

# The columns the cost SQL reads besides what it adds (analysis/pricing_sql.py).
_PRICE_INPUTS = (
    "timestamp", "model", "is_batch", "speed", "inference_geo", "betas",
    "input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "output_tokens", "web_search_requests", "web_fetch_requests",
)
_COST_COLUMNS = (
    "price_model", "rate_input_usd", "rate_cache_read_usd", "rate_cache_write_5m_usd",
    "rate_cache_write_1h_usd", "rate_output_usd", "cost_input_usd", "cost_cache_read_usd",
    "cost_cache_write_5m_usd", "cost_cache_write_1h_usd", "cost_output_usd",
    "cost_server_tools_usd", "cost_usd", "cost_uncached_usd",
)
# What the windows carry of llm_calls' cost columns (every column carried through a
# window's sort costs time).
_ACTUAL_COST = ("price_model", "cost_usd", "rate_input_usd", "rate_cache_read_usd",
                "rate_cache_write_5m_usd", "rate_cache_write_1h_usd", "rate_output_usd")
# Carried from llm_calls besides the price inputs.
_CARRIED = ("call_id", "run_id", "parent_run_id", "service_name", "turn", "stop_reason",
            "source")

# docs/facts.md §1 rule 5.
TTL_5M = TTL_SECONDS["5m"]
TTL_1H = TTL_SECONDS["1h"]

# Parameters every query built here takes, with their types (the caller binds them).
PARAMETERS = {
    "start": "DateTime64(9)",
    "end": "DateTime64(9)",
    "routing_model": "String",       # the cheaper model routing candidates are priced on
    "compact_above": "UInt64",       # compaction runs once a call's input exceeds this
    "compact_to": "UInt64",          # ... and leaves a summary of this many tokens
    "mechanical_output": "UInt64",   # output at most this many tokens looks mechanical
}


def _p(name: str) -> str:
    return f"{{{name}:{PARAMETERS[name]}}}"


def _strings(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
                           for v in values) + "]"


def _min_cacheable(column: str) -> str:
    """SQL: the model's minimum cacheable prefix (docs/facts.md §1), 0 when the list
    names none (the rules that need it stay silent)."""
    keys = list(MIN_CACHEABLE_TOKENS)
    values = ", ".join(str(MIN_CACHEABLE_TOKENS[k]) for k in keys)
    return f"transform(toString({column}), {_strings(keys)}, [{values}], 0)"


_WINDOW_COLUMNS = ("total_in", "cached", "pos", "prev_ts", "prev_total", "prev_input",
                   "prev_output", "prev_cached", "run_calls", "run_cached", "compact_ns",
                   "compact_total", "next_read_ns")


def _repriced(calls: str) -> str:
    """Layer 1. ``calls``: a SELECT with llm_calls' columns. Each call with its actual
    cost (``cost``) and rates (``r_*``), its cost as a Message Batches call
    (``cost_batch``) and on ``routing_model`` (``cost_routed``), both from the cost SQL."""
    price_inputs = ", ".join(c for c in _PRICE_INPUTS if c != "is_batch")
    carried = ", ".join((*_CARRIED, *_WINDOW_COLUMNS))
    # No alias in a SELECT may shadow a column that SELECT reads (ClickHouse resolves
    # the name to the alias): each renaming and its replacement are in separate layers.
    actual = f"""
SELECT *, toBool(1) AS is_batch FROM (
SELECT {price_inputs}, {carried},
    is_batch AS was_batch,
    model AS actual_model,
    price_model AS actual_price_model,
    assumeNotNull(cost_usd) AS cost,
    assumeNotNull(rate_input_usd) AS r_in,
    assumeNotNull(rate_cache_read_usd) AS r_read,
    assumeNotNull(rate_cache_write_5m_usd) AS r_w5,
    assumeNotNull(rate_cache_write_1h_usd) AS r_w1,
    assumeNotNull(rate_output_usd) AS r_out
FROM ({calls}))"""  # noqa: S608
    except_cost = ", ".join(_COST_COLUMNS)
    as_batch = f"""
SELECT * EXCEPT ({except_cost}, is_batch, model),
    ifNull(cost_usd, cost) AS cost_batch,
    was_batch AS is_batch,
    {_p('routing_model')} AS model
FROM ({priced_select(actual)})"""  # noqa: S608
    return f"""
SELECT * EXCEPT ({except_cost}, model, actual_model, actual_price_model),
    actual_model AS model,
    actual_price_model AS price_model,
    ifNull(cost_usd, cost) AS cost_routed
FROM ({priced_select(as_batch)})"""  # noqa: S608


def _windows(calls: str, service_window: bool = True) -> str:
    """Layer 1: what each call needs of its run and of its service's other calls. On the
    calls as read (before the re-pricing: a window over the re-priced rows measured
    ten times slower). Without ``service_window`` the next cache read of the service
    comes from a table of reads instead (:func:`_next_read_from`)."""
    columns = ", ".join((*_PRICE_INPUTS, *_CARRIED, *_ACTUAL_COST))
    service = """min(if(cache_read_tokens > 0, toUnixTimestamp64Nano(timestamp),
           toInt64(9223372036854775807)))
        OVER service_later AS read_from_here_ns""" if service_window else "0 AS no_service"
    service_frame = """,
       service_later AS (PARTITION BY service_name, model
                         ORDER BY timestamp DESC, call_id DESC
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)""" \
        if service_window else ""
    return f"""
SELECT *,
    input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens AS total_in,
    cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens AS cached,
    row_number() OVER run_prev AS pos,
    lagInFrame(timestamp) OVER run_prev AS prev_ts,
    lagInFrame(total_in) OVER run_prev AS prev_total,
    lagInFrame(input_tokens) OVER run_prev AS prev_input,
    lagInFrame(output_tokens) OVER run_prev AS prev_output,
    lagInFrame(cached) OVER run_prev AS prev_cached,
    count() OVER run_all AS run_calls,
    max(cached) OVER run_all AS run_cached,
    min(if(total_in > {_p('compact_above')}, toUnixTimestamp64Nano(timestamp),
           toInt64(9223372036854775807))) OVER run_all AS compact_ns,
    argMin(total_in, if(total_in > {_p('compact_above')}, toUnixTimestamp64Nano(timestamp),
           toInt64(9223372036854775807))) OVER run_all AS compact_total,
    {service}
FROM (SELECT {columns} FROM {calls} WHERE cost_usd IS NOT NULL)
WINDOW run_prev AS (PARTITION BY run_id ORDER BY timestamp, call_id
                    ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
       run_all AS (PARTITION BY run_id ORDER BY timestamp, call_id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING){service_frame}"""  # noqa: S608


def _next_read(windowed: str) -> str:
    """Layer 2b: the first cache read of the service and model after each call. A
    running minimum over the later calls, then the previous row's value: a frame that
    ends one row before the current one is recomputed row by row (measured: 5x the
    whole query), two running windows are not."""
    return f"""
SELECT * EXCEPT (read_from_here_ns),
    lagInFrame(read_from_here_ns) OVER service_later AS next_read_ns
FROM ({windowed})
WINDOW service_later AS (PARTITION BY service_name, model
                         ORDER BY timestamp DESC, call_id DESC
                         ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"""  # noqa: S608


def _next_read_from(windowed: str, reads: str) -> str:
    """Layer 2b from ``reads`` (a relation of ``service_name``, ``model``, ``timestamp``:
    every call that read the cache; :data:`.insights_store.READS`) instead of a window
    over every call of the service: the first read strictly after each call, found by
    an ASOF join. Unmatched rows get the join's default timestamp, 0 ns: no later read,
    as the window's default says. Reads at the very same nanosecond as the call are not
    counted (the window ordered ties by call id)."""
    return f"""
SELECT * EXCEPT (no_service, r_service, r_model, r_ts),
    toUnixTimestamp64Nano(r_ts) AS next_read_ns
FROM ({windowed}) AS w
ASOF LEFT JOIN (SELECT service_name AS r_service, model AS r_model, timestamp AS r_ts
                FROM {reads}) AS r
ON w.service_name = r.r_service AND w.model = r.r_model AND r.r_ts > w.timestamp"""  # noqa: S608


def _alternatives(windowed: str) -> str:
    """Layer 3: per call, each alternative's cost (``alt_*``) and its evidence.

    * ``alt_cache_prefix``: in a run that cached nothing, every call at or above the
      model's minimum writes its prompt (5m) and reads the part that repeats the
      previous call's whole prompt (``prefix_tokens_shared``), if that came within the
      TTL; the conversation grew, so the previous prompt is a prefix of this one.
    * ``alt_cache_messages``: in a run that caches a prefix (tools/system) while the
      conversation after it is sent uncached, a breakpoint on the last message: each
      call reads what the previous call sent uncached (``carried``; the previous answer
      came after that breakpoint) and writes the rest of its uncached input.
    * ``alt_ttl_1h``: 5m writes written as 1h writes, and a re-write after a gap between
      5 minutes and 1 hour (``rewritten``) read instead.
    * ``alt_unread``: a write that no call of the same service and model read within
      its TTL (``unread``) sent as uncached input.
    * ``alt_compaction``: once a call's input exceeds ``compact_above`` (at call
      ``compact_ns``), later calls carry ``compact_total - compact_to`` fewer tokens,
      taken from their prefix (reads, then 1h and 5m writes, then uncached input), and
      the summarising call reads that prompt and writes ``compact_to`` output tokens.
    """
    gap = ("if(pos > 1, (toUnixTimestamp64Nano(timestamp) - toUnixTimestamp64Nano(prev_ts))"
           " / 1e9, NULL)")
    removed = ("if(toUnixTimestamp64Nano(timestamp) > compact_ns, "
               f"least(compact_total - {_p('compact_to')}, total_in), 0)")
    return f"""
SELECT *,
    {gap} AS gap_seconds,
    {_min_cacheable('price_model')} AS min_cacheable,
    ifNull(gap_seconds <= {TTL_5M}, 0) AS within_5m,
    if(run_cached = 0 AND min_cacheable > 0 AND within_5m AND total_in >= prev_total
       AND prev_total >= min_cacheable, prev_total, 0) AS prefix_tokens_shared,
    if(run_cached = 0 AND min_cacheable > 0 AND total_in >= min_cacheable,
       cost - total_in * r_in + prefix_tokens_shared * r_read
            + (total_in - prefix_tokens_shared) * r_w5,
       cost) AS alt_cache_prefix,
    if(run_cached > 0 AND within_5m AND input_tokens >= prev_input, prev_input, 0)
      AS carried,
    if(run_cached > 0,
       cost - input_tokens * r_in + carried * r_read + (input_tokens - carried) * r_w5,
       cost) AS alt_cache_messages,
    if(cache_write_5m_tokens > 0 AND prev_cached > 0
       AND ifNull(gap_seconds > {TTL_5M} AND gap_seconds <= {TTL_1H}, 0),
       least(cache_write_5m_tokens, prev_cached), 0) AS rewritten,
    cost + cache_write_5m_tokens * (r_w1 - r_w5) - rewritten * (r_w1 - r_read) AS alt_ttl_1h,
    (cache_write_5m_tokens + cache_write_1h_tokens) > 0
      AND NOT (next_read_ns > 0
               AND (next_read_ns - toUnixTimestamp64Nano(timestamp)) / 1e9
                   <= if(cache_write_1h_tokens > 0, {TTL_1H}, {TTL_5M})) AS unread,
    if(unread, cost - cache_write_5m_tokens * (r_w5 - r_in)
                    - cache_write_1h_tokens * (r_w1 - r_in), cost) AS alt_unread,
    {removed} AS removed,
    least(removed, cache_read_tokens) AS removed_read,
    least(removed - removed_read, cache_write_1h_tokens) AS removed_w1,
    least(removed - removed_read - removed_w1, cache_write_5m_tokens) AS removed_w5,
    removed - removed_read - removed_w1 - removed_w5 AS removed_in,
    cost - removed_read * r_read - removed_w1 * r_w1 - removed_w5 * r_w5 - removed_in * r_in
      + if(toUnixTimestamp64Nano(timestamp) = compact_ns,
           total_in * r_read + {_p('compact_to')} * r_out, 0)
      AS alt_compaction,
    NOT was_batch AS batchable,
    output_tokens <= {_p('mechanical_output')} AND stop_reason != 'tool_use'
      AND price_model != '' AS mechanical
FROM ({windowed})"""  # noqa: S608


def calls_select(calls: str, reads: str | None = None) -> str:
    """Every priced call of ``calls`` with its alternatives (layers 1-3). ``calls`` is a
    parenthesised SELECT or a relation with llm_calls' columns. ``reads``: take each
    call's next cache read of its service and model from that relation (every read
    stored, :func:`_next_read_from`) rather than from the other calls of ``calls``: what
    the per-run facts need, which judge a few runs at a time."""
    if reads is None:
        return _alternatives(_repriced(_next_read(_windows(calls))))
    return _alternatives(_repriced(_next_read_from(_windows(calls, False), reads)))


def range_calls(start: str | None = None, end: str | None = None) -> str:
    """``llm_calls`` restricted to ``[start, end)`` (SQL expressions; the query
    parameters ``start`` and ``end`` when not given)."""
    start = start or _p("start")
    end = end or _p("end")
    return f"(SELECT * FROM llm_calls WHERE timestamp >= {start} AND timestamp < {end})"  # noqa: S608
