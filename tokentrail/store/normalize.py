"""Normalisation of raw OpenTelemetry spans into one row per Anthropic API call.

Every ingest path (tokentrail's collector, the stock OpenTelemetry Collector, Rotel)
writes the exporter-compatible raw tables; the materialized views rendered here turn
those rows into ``llm_call_reports``. Doing it in SQL, once, means every path agrees.

Two conventions exist for input tokens (docs/facts.md §3-§4), and mixing them is the most
common bug in this field:

* **inclusive** (GenAI semantic conventions, anthropic SDK native tracing,
  OpenLLMetry, OpenInference, the contrib instrumentation): the reported input
  count already contains cache reads and cache writes;
* **disjoint** (Anthropic's raw ``usage``, Claude Code): ``input_tokens`` is only
  the uncached part.

``llm_calls.input_tokens`` is always the disjoint (Anthropic) number.
"""

from __future__ import annotations

from tokentrail import semconv as sc

# Each bucket: attribute names in order of preference (first non-empty wins).
# Sources: docs/facts.md §3 (semconv), §4 (per instrumentation), §5 (Claude Code).
INCLUSIVE_INPUT_ATTRS = (
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens",  # OpenLLMetry (older)
    "llm.token_count.prompt",  # OpenInference
)
DISJOINT_INPUT_ATTRS = ("input_tokens",)  # Claude Code span / event
CACHE_READ_ATTRS = (
    sc.GEN_AI_USAGE_CACHE_READ,
    "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry
    "llm.token_count.prompt_details.cache_read",  # OpenInference
    "cache_read_tokens",  # Claude Code
)
CACHE_WRITE_ATTRS = (
    sc.GEN_AI_USAGE_CACHE_CREATION,
    sc.ANTHROPIC_USAGE_CACHE_WRITE,  # anthropic SDK 2.x
    "gen_ai.usage.cache_creation_input_tokens",  # OpenLLMetry
    "llm.token_count.prompt_details.cache_write",  # OpenInference
    "cache_creation_tokens",  # Claude Code
)
CACHE_WRITE_1H_ATTRS = (sc.ANTHROPIC_USAGE_WRITE_1H, "cache_creation_1h_tokens")
OUTPUT_ATTRS = (
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",  # OpenLLMetry (older)
    "llm.token_count.completion",  # OpenInference
    "output_tokens",  # Claude Code
)
PROVIDER_ATTRS = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, "llm.provider", "llm.system")
MODEL_ATTRS = (
    sc.GEN_AI_RESPONSE_MODEL,
    sc.GEN_AI_REQUEST_MODEL,
    "llm.model_name",  # OpenInference
    "model",  # Claude Code
)
RUN_ATTRS = (sc.RUN_ID, sc.GEN_AI_CONVERSATION_ID, sc.CLAUDE_CODE_SESSION_ID)
RESPONSE_ID_ATTRS = (sc.GEN_AI_RESPONSE_ID,)
STOP_REASON_ATTRS = (
    "anthropic.message.stop_reason",  # anthropic SDK native tracing (2.12)
    sc.GEN_AI_RESPONSE_FINISH_REASONS,  # semconv; OpenLLMetry and contrib normalise values
    "llm.finish_reason",  # OpenInference
    "stop_reason",  # Claude Code
)
# OpenLLMetry 0.62 and the contrib instrumentation report semconv finish reasons
# (measured against the emulator); llm_calls keeps Anthropic's stop_reason values.
SEMCONV_FINISH_TO_STOP_REASON = {"tool_call": "tool_use", "stop": "end_turn",
                                 "length": "max_tokens"}
COST_ATTRS = ("cost_usd",)

# Which source reported a call decides which report wins when several describe the
# same call (ReplacingMergeTree version column): the richest report ranks highest.
SOURCE_RANKS = {
    "tokentrail": 90,
    "anthropic-sdk": 80,
    "otel-contrib": 70,
    "openllmetry": 60,
    "openinference": 50,
    "claude-code-event": 40,
    "claude-code-trace": 30,
    "claude-code-transcript": 20,
    "claude-code-metric": 15,
    "genai-semconv": 10,
}

# Claude Code reports each API call up to three times (span, event, transcript line;
# docs/facts.md §5) and the reports share no id: the event has no message id, the span no
# request id, and transcript message ids repeat (the fixture's two calls are both
# "msg_1"). So instead of guessing pairs by timestamp, llm_calls keeps, per run, only
# the richest family that reported it: events (cost, 5m/1h split) over spans over
# transcripts over metrics (which are per export interval, not per call). Reports of
# other sources have family 0 and are always kept.
FAMILY_RANKS = {"claude-code-event": 4, "claude-code-trace": 3, "claude-code-transcript": 2,
                "claude-code-metric": 1}
CLAUDE_CODE_METRICS_SCOPE = "com.anthropic.claude_code"

CLAUDE_CODE_EVENTS_SCOPE = "com.anthropic.claude_code.events"
TRANSCRIPT_SCOPE = "tokentrail.import.claude_code"  # log records written by the importer
TRANSCRIPT_BODY = "claude_code.transcript.assistant"


def _ranks() -> str:
    """SQL: source_rank and family_rank of the row's ``source``."""
    sources, ranks = list(SOURCE_RANKS), list(SOURCE_RANKS.values())
    families = [FAMILY_RANKS.get(name, 0) for name in sources]
    return (f"transform(source, {sources}, {ranks}, 0) AS source_rank,\n"
            f"    transform(source, {sources}, {families}, 0) AS family_rank")


def _first(attrs: str, names: tuple[str, ...]) -> str:
    """SQL: the first non-empty value among ``names`` in the map column ``attrs``."""
    items = ", ".join(f"{attrs}['{name}']" for name in names)
    return f"arrayFirst(x -> x != '', [{items}, ''])"


def _array(attrs: str, name: str, element: str) -> str:
    """SQL: a list attribute as Array(element). OTLP array values arrive as JSON
    (``["a","b"]``); tokentrail's instrumentation may send long lists as one
    comma-separated string instead, which the OpenTelemetry SDK validates in O(1)
    rather than per element."""
    value = f"{attrs}['{name}']"
    parts = f"splitByChar(',', {value})"
    if element != "String":
        parts = f"arrayMap(x -> to{element}OrZero(x), {parts})"
    return (f"multiIf({value} = '', CAST([], 'Array({element})'), startsWith({value}, '['), "
            f"JSONExtract({value}, 'Array({element})'), {parts})")


LARGE_BLOCKS_TYPE = "Array(Tuple(hash String, position UInt32, tokens UInt32))"


def _large_blocks(attrs: str) -> str:
    """SQL: ``tokentrail.prefix.large_blocks`` ("hash:position:tokens", comma-joined;
    instrumentation/large_blocks.py) as an array of named tuples."""
    value = f"{attrs}['{sc.PREFIX_LARGE_BLOCKS}']"
    parts = (f"arrayMap(p -> (p[1], toUInt32OrZero(p[2]), toUInt32OrZero(p[3])), "
             f"arrayMap(x -> splitByChar(':', x), splitByChar(',', {value})))")
    typed = f"'{LARGE_BLOCKS_TYPE}'"
    return f"if({value} = '', CAST([], {typed}), CAST({parts}, {typed}))"


def _uint(attrs: str, names: tuple[str, ...]) -> str:
    return f"toInt64OrZero({_first(attrs, names)})"


def traces_to_calls_select() -> str:
    """The SELECT of the materialized view ``otel_traces`` -> ``llm_call_reports``."""
    a = "SpanAttributes"
    source = f"""multiIf(
        mapContains({a}, '{sc.RUN_ID}') OR ScopeName = '{sc.TOKENTRAIL_SCOPE}', 'tokentrail',
        SpanName = '{sc.CLAUDE_CODE_LLM_REQUEST_SPAN}', 'claude-code-trace',
        ScopeName = '{sc.ANTHROPIC_SDK_SCOPE}', 'anthropic-sdk',
        mapContains({a}, 'llm.token_count.prompt'), 'openinference',
        startsWith(ScopeName, 'opentelemetry.instrumentation.genai.anthropic'), 'otel-contrib',
        startsWith(ScopeName, 'opentelemetry.instrumentation.anthropic')
            OR mapContains({a}, 'gen_ai.usage.cache_read_input_tokens')
            OR mapContains({a}, 'gen_ai.usage.prompt_tokens'), 'openllmetry',
        'genai-semconv')"""
    disjoint = f"SpanName = '{sc.CLAUDE_CODE_LLM_REQUEST_SPAN}'"
    reported_input = (
        f"if({disjoint}, {_uint(a, DISJOINT_INPUT_ATTRS)}, {_uint(a, INCLUSIVE_INPUT_ATTRS)})"
    )
    read = _uint(a, CACHE_READ_ATTRS)
    write = _uint(a, CACHE_WRITE_ATTRS)
    write_1h = _uint(a, CACHE_WRITE_1H_ATTRS)
    stop = _first(a, STOP_REASON_ATTRS)
    response_id = _first(a, RESPONSE_ID_ATTRS)
    run_id = f"arrayFirst(x -> x != '', [{_first(a, RUN_ATTRS)}, TraceId])"
    # Built only from the constants above, never from input: not an injection vector.
    return f"""
SELECT
    Timestamp AS timestamp,
    if({response_id} != '', {response_id}, concat(TraceId, ':', SpanId)) AS call_id,
    TraceId AS trace_id,
    SpanId AS span_id,
    ServiceName AS service_name,
    {source} AS source,
    {_ranks()},
    {run_id} AS run_id,
    {a}['{sc.RUN_NAME}'] AS run_name,
    {a}['{sc.RUN_PARENT_ID}'] AS parent_run_id,
    toUInt32OrZero({a}['{sc.TURN}']) AS turn,
    {_first(a, MODEL_ATTRS)} AS model,
    toUInt64(greatest(0, if({disjoint}, {reported_input},
        {reported_input} - {read} - {write}))) AS input_tokens,
    toUInt64(greatest(0, {read})) AS cache_read_tokens,
    toUInt64(greatest(0, {write})) AS cache_write_tokens,
    toUInt64(greatest(0, {write} - {write_1h})) AS cache_write_5m_tokens,
    toUInt64(greatest(0, {write_1h})) AS cache_write_1h_tokens,
    toUInt64(greatest(0, {_uint(a, OUTPUT_ATTRS)})) AS output_tokens,
    {response_id} AS response_id,
    transform(if(startsWith({stop}, '['), JSONExtractString({stop}, 1), {stop}),
        {list(SEMCONV_FINISH_TO_STOP_REASON)}, {list(SEMCONV_FINISH_TO_STOP_REASON.values())})
        AS stop_reason,
    Duration / 1e6 AS duration_ms,
    {a}['{sc.IS_BATCH}'] = 'true' OR {a}['{sc.ANTHROPIC_USAGE_SERVICE_TIER}'] = 'batch'
        AS is_batch,
    toFloat64OrNull(nullIf({_first(a, COST_ATTRS)}, '')) AS reported_cost_usd,
    {a}['{sc.PREFIX_TOOLS_HASH}'] AS prefix_tools_hash,
    {a}['{sc.PREFIX_SYSTEM_HASH}'] AS prefix_system_hash,
    {a}['{sc.PREFIX_PARAMS_HASH}'] AS prefix_params_hash,
    {_array(a, sc.PREFIX_MESSAGE_HASHES, 'String')} AS prefix_message_hashes,
    {_array(a, sc.PREFIX_BLOCK_HASHES, 'String')} AS prefix_block_hashes,
    {_array(a, sc.PREFIX_BLOCK_TOKENS, 'UInt32')} AS prefix_block_tokens,
    {_array(a, sc.CACHE_BREAKPOINTS, 'UInt32')} AS cache_breakpoints,
    {_array(a, sc.CACHE_TTLS, 'String')} AS cache_ttls,
    {a}['{sc.CACHE_MISS_REASON}'] AS cache_miss_reason,
    toUInt64OrZero({a}['{sc.CACHE_MISSED_INPUT_TOKENS}']) AS cache_missed_input_tokens,
    toUInt32OrZero({a}['{sc.PREFIX_MESSAGE_COUNT}']) AS prefix_message_count,
    toUInt32OrZero({a}['{sc.PREFIX_BLOCK_COUNT}']) AS prefix_block_count,
    toUInt64OrZero({a}['{sc.PREFIX_TOKENS}']) AS prefix_tokens,
    {_array(a, sc.CACHE_BREAKPOINT_TOKENS, 'UInt64')} AS cache_breakpoint_tokens,
    {a}['{sc.CACHE_AUTOMATIC}'] = 'true' AS cache_automatic,
    {a}['{sc.CHANGE_LEVEL}'] AS prefix_change_level,
    {_array(a, sc.CHANGE_PARAMS, 'String')} AS prefix_change_params,
    toUInt32OrNull({a}['{sc.CHANGE_MESSAGE}']) AS prefix_change_message,
    toUInt32OrNull({a}['{sc.CHANGE_BLOCK}']) AS prefix_change_block,
    toUInt32OrNull({a}['{sc.CHANGE_CHAR}']) AS prefix_change_char,
    {a}['{sc.CHANGE_HINT}'] AS prefix_change_hint,
    {a}['{sc.RUN_AUTOMATIC}'] = 'true' AS run_automatic,
    {a}['{sc.BATCH_ID}'] AS batch_id,
    {a}['{sc.BATCH_CUSTOM_ID}'] AS batch_custom_id,
    arrayFilter(x -> x != '', arrayMap(x -> trimBoth(x), {_array(a, sc.REQUEST_BETAS, 'String')}))
        AS betas,
    lower({a}['{sc.REQUEST_SPEED}']) AS speed,
    lower({a}['{sc.REQUEST_INFERENCE_GEO}']) AS inference_geo,
    toUInt32OrZero({a}['{sc.USAGE_WEB_SEARCH_REQUESTS}']) AS web_search_requests,
    toUInt32OrZero({a}['{sc.USAGE_WEB_FETCH_REQUESTS}']) AS web_fetch_requests,
    {_large_blocks(a)} AS prefix_large_blocks
FROM {{otel_traces}}
WHERE ({disjoint}
       OR lower({_first(a, PROVIDER_ATTRS)}) = 'anthropic'
       OR ScopeName = '{sc.ANTHROPIC_SDK_SCOPE}'
       OR startsWith({_first(a, MODEL_ATTRS)}, 'claude'))
  AND {_first(a, INCLUSIVE_INPUT_ATTRS + DISJOINT_INPUT_ATTRS)} != ''
"""  # noqa: S608


def logs_to_calls_select() -> str:
    """The SELECT of the materialized view ``otel_logs`` -> ``llm_call_reports``.

    Two kinds of log records describe API calls: Claude Code's ``api_request``
    events (docs/facts.md §5) and the transcript lines that ``tokentrail import claude-code``
    writes as log records. Both use Anthropic's disjoint buckets.
    """
    a = "LogAttributes"
    is_event = (f"ScopeName = '{CLAUDE_CODE_EVENTS_SCOPE}' "
                f"AND {a}['event.name'] = 'api_request'")
    is_transcript = f"ScopeName = '{TRANSCRIPT_SCOPE}' AND Body = '{TRANSCRIPT_BODY}'"
    write = f"toInt64OrZero({a}['cache_creation_tokens'])"
    write_1h = f"toInt64OrZero({a}['cache_creation_1h_tokens'])"
    session = f"{a}['{sc.CLAUDE_CODE_SESSION_ID}']"
    key = (f"if({is_event}, {a}['event.sequence'], "
           f"arrayFirst(x -> x != '', [{a}['request.ref'], {a}['message.id'], '']))")
    return f"""
SELECT
    Timestamp - toIntervalMillisecond(toInt64OrZero({a}['duration_ms'])) AS timestamp,
    concat(source, ':', {session}, ':', {key}) AS call_id,
    TraceId AS trace_id,
    SpanId AS span_id,
    ServiceName AS service_name,
    if({is_event}, 'claude-code-event', 'claude-code-transcript') AS source,
    {_ranks()},
    {session} AS run_id,
    {a}['prompt.id'] AS prompt_id,
    toUInt32OrZero({a}['{sc.TURN}']) AS turn,
    {a}['model'] AS model,
    toUInt64(greatest(0, toInt64OrZero({a}['input_tokens']))) AS input_tokens,
    toUInt64(greatest(0, toInt64OrZero({a}['cache_read_tokens']))) AS cache_read_tokens,
    toUInt64(greatest(0, {write})) AS cache_write_tokens,
    toUInt64(greatest(0, if(mapContains({a}, 'cache_creation_5m_tokens'),
        toInt64OrZero({a}['cache_creation_5m_tokens']), {write} - {write_1h})))
        AS cache_write_5m_tokens,
    toUInt64(greatest(0, {write_1h})) AS cache_write_1h_tokens,
    toUInt64(greatest(0, toInt64OrZero({a}['output_tokens']))) AS output_tokens,
    {a}['message.id'] AS response_id,
    {a}['stop_reason'] AS stop_reason,
    toFloat64OrZero({a}['duration_ms']) AS duration_ms,
    toFloat64OrNull(nullIf({a}['cost_usd'], '')) AS reported_cost_usd
FROM {{otel_logs}}
WHERE ({is_event}) OR ({is_transcript})
"""  # noqa: S608


def metrics_to_calls_select() -> str:
    """The SELECT of the materialized view ``otel_metrics_sum`` -> ``llm_call_reports``.

    Claude Code's ``claude_code.token.usage`` (one point per token type) and
    ``claude_code.cost.usage`` are delta sums per session, model and query source
    (docs/facts.md §5). A view's GROUP BY runs per insert, and one export is one insert, so
    each export interval becomes one row. Only delta temporality is read: cumulative
    points would count the same tokens again in every interval. These rows stand for
    an interval's usage, not for single calls, and count only for sessions that
    nothing else reported.
    """
    a = "Attributes"
    tokens = "MetricName = 'claude_code.token.usage'"

    def bucket(kind: str) -> str:
        return f"toUInt64(sumIf(Value, {tokens} AND {a}['type'] = '{kind}'))"

    return f"""
SELECT
    min(StartTimeUnix) AS timestamp,
    concat(source, ':', run_id, ':', model, ':', {a}['query_source'], ':',
           toString(toUnixTimestamp64Nano(TimeUnix))) AS call_id,
    any(ServiceName) AS service_name,
    'claude-code-metric' AS source,
    {_ranks()},
    {a}['{sc.CLAUDE_CODE_SESSION_ID}'] AS run_id,
    {a}['model'] AS model,
    {bucket('input')} AS input_tokens,
    {bucket('cacheRead')} AS cache_read_tokens,
    {bucket('cacheCreation')} AS cache_write_tokens,
    {bucket('cacheCreation')} AS cache_write_5m_tokens,
    {bucket('output')} AS output_tokens,
    sumIf(Value, MetricName = 'claude_code.cost.usage') AS reported_cost_usd
FROM {{otel_metrics_sum}}
WHERE ScopeName = '{CLAUDE_CODE_METRICS_SCOPE}'
  AND MetricName IN ('claude_code.token.usage', 'claude_code.cost.usage')
  AND AggregationTemporality = 1
GROUP BY run_id, model, {a}['query_source'], TimeUnix
"""  # noqa: S608
