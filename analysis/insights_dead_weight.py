"""``context_dead_weight``: large blocks carried unchanged for many calls after they were
used (issue 13; README, "Insights", states the rule).

What the data shows, and what it does not. tokentrail's instrumentation reports, on
every call, the hash, position and estimated tokens of each message block of at least
4096 tokens anywhere in the prefix (``llm_calls.prefix_large_blocks``, migration 8;
instrumentation/large_blocks.py). So it is known which calls of a run sent a block and
which later calls sent it again unchanged (same hash). Whether a later turn still
*needed* it is not known: prompts and outputs stay in the agent's process. The rule
therefore counts a block as in use on the first :data:`KEEP_CALLS` calls that send it
(the model reads a tool result on the call that carries it first, and acts on it on
the next) and as carried on every later call that still sends it; it reports runs
that carried a block of at least :data:`MIN_BLOCK_TOKENS` on at least
:data:`MIN_CARRIED_CALLS` such calls. Only sources that send the attribute
(tokentrail's instrumentation) can have findings.

The savings re-price the same calls with each such block replaced by a summary of
:data:`SUMMARY_TOKENS` tokens once it has been used, at each call's own effective
per-token rates (the cost SQL of ``llm_calls``, every multiplier applied; the what-if
engine's convention for tokens that move between buckets, :mod:`.insights_sql`): every
carried call sends ``tokens - SUMMARY_TOKENS`` fewer tokens, taken from its cache reads
first (the block sat in the cached prefix), then 1h and 5m writes, then uncached input
(as ``alt_compaction``). The first carried call pays for the change: the summary as
:data:`SUMMARY_TOKENS` output tokens, and its whole remaining cached prefix written
again (5m) instead of read, because the prompt changed where the block was. That is
conservative (a cache entry ending before the block, e.g. on the system prompt, would
still be read), so the savings are a lower bound of clearing the block, ``estimated``.

Judged on read from the reports that carry such a block (``llm_call_reports``, skipping
every other call by the size of its empty array), priced by llm_calls' cost SQL;
plugged into ``insights`` as one of :data:`~.insights.EXTRA_FINDINGS`, and into
``tokentrail whatif dead_weight`` by :func:`whatif_select`, from the same per-call SQL.
"""

from __future__ import annotations

import re

from .pricing_sql import priced_select

KIND = "context_dead_weight"

# --- thresholds (README, "Insights") ---
MIN_BLOCK_TOKENS = 10_000  # a block this large (estimated tokens) ...
KEEP_CALLS = 2             # ... is in use on the call that first sends it and the next one
MIN_CARRIED_CALLS = 5      # ... and is dead weight when carried on this many calls after
SUMMARY_TOKENS = 1_000     # the alternative replaces it with a summary this long
WHATIF_SCENARIO = "dead_weight"


def _joined(sql: str) -> str:
    """ClickHouse does not join adjacent string literals."""
    return re.sub(r"'\n\s+'", "", sql)


# What the rule reads of llm_call_reports: the price inputs (analysis/pricing_sql.py),
# the call's identity and its large blocks.
_COLUMNS = (
    "timestamp", "call_id", "run_id", "service_name", "turn", "model", "is_batch", "speed",
    "inference_geo", "betas", "input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "output_tokens", "web_search_requests", "web_fetch_requests",
    "prefix_large_blocks",
)


def _calls(start: str, end: str) -> str:
    """The calls of ``[start, end)`` that sent a block of at least
    :data:`MIN_BLOCK_TOKENS`, priced by llm_calls' cost SQL. Read from
    ``llm_call_reports`` directly, not through ``llm_calls``: only tokentrail's reports
    carry the blocks (so no Claude Code family to choose), the empty array of every other
    call is skipped by its size alone, and the richest report of a call wins as in
    ``llm_calls`` (window, not FINAL: FINAL would merge the whole range first)."""
    columns = ", ".join(_COLUMNS)
    reports = f"""
SELECT * EXCEPT (report_rank) FROM (
    SELECT {columns},
        row_number() OVER (PARTITION BY call_id ORDER BY source_rank DESC) AS report_rank
    FROM llm_call_reports
    WHERE notEmpty(prefix_large_blocks) AND timestamp >= {start} AND timestamp < {end}
      AND arrayExists(b -> b.tokens >= {MIN_BLOCK_TOKENS}, prefix_large_blocks)
)
WHERE report_rank = 1"""  # noqa: S608
    return f"""
SELECT run_id, service_name, model, call_id, timestamp, turn,
    assumeNotNull(cost_usd) AS cost,
    assumeNotNull(rate_input_usd) AS r_in,
    assumeNotNull(rate_cache_read_usd) AS r_read,
    assumeNotNull(rate_cache_write_5m_usd) AS r_w5,
    assumeNotNull(rate_cache_write_1h_usd) AS r_w1,
    assumeNotNull(rate_output_usd) AS r_out,
    input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
        AS total_in,
    arrayFilter(b -> b.tokens >= {MIN_BLOCK_TOKENS}, prefix_large_blocks) AS large
FROM ({priced_select(reports)})
WHERE cost_usd IS NOT NULL"""  # noqa: S608


def _carried(start: str, end: str) -> str:
    """One row per call and dead block carried on it: the calls that send a block after
    the first :data:`KEEP_CALLS` that sent it, where at least :data:`MIN_CARRIED_CALLS`
    calls did so."""
    blocks = f"""
SELECT * EXCEPT (large), b.hash AS block_hash, b.tokens AS block_tokens
FROM ({_calls(start, end)})
ARRAY JOIN large AS b"""  # noqa: S608
    return f"""
SELECT * FROM (
    SELECT *,
        row_number() OVER (PARTITION BY run_id, block_hash ORDER BY timestamp, call_id)
            AS nth,
        count() OVER (PARTITION BY run_id, block_hash) AS sending_calls,
        min(turn) OVER (PARTITION BY run_id, block_hash) AS first_turn
    FROM ({blocks})
)
WHERE nth > {KEEP_CALLS} AND sending_calls >= {KEEP_CALLS + MIN_CARRIED_CALLS}"""  # noqa: S608


def calls_select(start: str, end: str) -> str:
    """Per affected call: what it cost (``cost``), what it would cost with the dead
    blocks replaced by summaries (``alt_dead_weight``), and what that rests on."""
    per_call = f"""
SELECT run_id, service_name, model, call_id,
    any(timestamp) AS timestamp, any(cost) AS cost,
    any(r_in) AS r_in, any(r_read) AS r_read, any(r_w5) AS r_w5, any(r_w1) AS r_w1,
    any(r_out) AS r_out, any(input_tokens) AS input_tokens,
    any(cache_read_tokens) AS cache_read_tokens,
    any(cache_write_5m_tokens) AS cache_write_5m_tokens,
    any(cache_write_1h_tokens) AS cache_write_1h_tokens, any(total_in) AS total_in,
    groupArray(block_hash) AS dead_hashes,
    max(block_tokens) AS largest_tokens,
    argMax(first_turn, block_tokens) AS largest_first_turn,
    sum(block_tokens) AS carried_tokens,
    sum(block_tokens - least(block_tokens, {SUMMARY_TOKENS})) AS dropped,
    countIf(nth = {KEEP_CALLS + 1}) AS drops
FROM ({_carried(start, end)})
GROUP BY run_id, service_name, model, call_id"""  # noqa: S608
    return f"""
SELECT *,
    least(dropped, total_in) AS removed,
    least(removed, cache_read_tokens) AS removed_read,
    least(removed - removed_read, cache_write_1h_tokens) AS removed_w1,
    least(removed - removed_read - removed_w1, cache_write_5m_tokens) AS removed_w5,
    removed - removed_read - removed_w1 - removed_w5 AS removed_in,
    cost - removed_read * r_read - removed_w1 * r_w1 - removed_w5 * r_w5 - removed_in * r_in
      + if(drops > 0, (cache_read_tokens - removed_read) * (r_w5 - r_read)
                      + drops * {SUMMARY_TOKENS} * r_out, 0) AS alt_dead_weight
FROM ({per_call})"""  # noqa: S608


def findings_select(start: str, end: str) -> str:
    """The findings over ``[start, end)`` (SQL expressions) with the columns of
    :data:`~.insights.COLUMNS`: one per run and model."""
    return _joined(f"""
SELECT '{KIND}' AS kind, 'run' AS scope, service_name, model,
    [run_id] AS run_ids,
    toUInt64(count()) AS calls,
    sum(cost) AS cost_usd,
    sum(cost) - sum(alt_dead_weight) AS savings_usd,
    'estimated' AS confidence,
    format('{{}} block(s) of at least {MIN_BLOCK_TOKENS} tokens (the largest {{}} tokens, '
        'first sent on turn {{}} of the run) stayed in the prompt unchanged on {{}} calls '
        'after the {KEEP_CALLS} calls that first used them: {{}} tokens carried in all '
        '(tokens x calls); a {SUMMARY_TOKENS}-token summary from then on would carry {{}} '
        'fewer. Whether a later turn still needed them is not recorded',
        toString(length(arrayDistinct(arrayFlatten(groupArray(dead_hashes))))),
        toString(max(largest_tokens)),
        toString(argMax(largest_first_turn, largest_tokens)),
        toString(count()), toString(sum(carried_tokens)), toString(sum(removed))) AS detail,
    'Clear or summarise large tool results once the agent has used them (replace the '
        'block with a short summary or a placeholder, e.g. context editing that clears old '
        'tool results), and check against your evals that later turns do not need it.'
        AS fix,
    min(timestamp) AS first_seen,
    max(timestamp) AS last_seen
FROM ({calls_select(start, end)})
GROUP BY run_id, service_name, model
HAVING savings_usd > 0""")  # noqa: S608


def whatif_select() -> str:
    """``tokentrail whatif dead_weight``: the totals of the calls of ``[start, end)``
    that the parameters ``run`` and ``service`` select, with every dead block of the
    rule replaced by a summary (:func:`calls_select`, the insight's own SQL)."""
    start, end = "{start:DateTime64(9)}", "{end:DateTime64(9)}"
    scope = ("({run:String} = '' OR run_id = {run:String}) "
             "AND ({service:String} = '' OR service_name = {service:String})")
    return f"""
SELECT calls, runs, total AS cost_usd, total - saved AS whatif_cost_usd,
    saved AS savings_usd
FROM (
    SELECT toUInt64(count()) AS calls, toUInt64(uniqExact(run_id)) AS runs,
        sum(assumeNotNull(cost_usd)) AS total
    FROM llm_calls
    WHERE timestamp >= {start} AND timestamp < {end} AND cost_usd IS NOT NULL AND {scope}
) AS totals
CROSS JOIN (
    SELECT sum(cost - alt_dead_weight) AS saved
    FROM ({calls_select(start, end)})
    WHERE {scope}
) AS dead"""  # noqa: S608
