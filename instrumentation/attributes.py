"""Attribute names that only the instrumentation writes (the rest are in ``tokentrail.semconv``).

``tokentrail.semconv`` spells every name the store reads; the names here are new and
are candidates for ``llm_calls`` columns (see the report of issue 4). Keeping them in
one module means a rename is one edit and tests import the same constants.
"""

from __future__ import annotations

from tokentrail import semconv as sc

# --- GenAI semantic conventions that tokentrail.semconv does not (yet) list ---
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_USAGE_REASONING_OUTPUT = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
ERROR_TYPE = "error.type"

# --- names the anthropic SDK 2.x uses on its own spans (anthropic/_tracing.py) ---
ANTHROPIC_STOP_REASON = "anthropic.message.stop_reason"
ANTHROPIC_COUNT_TOKENS_INPUT = "anthropic.message.count_tokens.input_tokens"
ANTHROPIC_BATCH_ID = "anthropic.message.batch.id"
ANTHROPIC_BATCH_REQUEST_COUNT = "anthropic.message.batch.request_count"

# --- tokentrail's own, new in issue 4 ---
RUN_ATTRIBUTE_PREFIX = "tokentrail.run.attributes."  # + key, from run(name, **attributes)
RUN_AUTOMATIC = "tokentrail.run.automatic"  # bool: grouped by continuity, not declared

# List attributes (message/block hashes, block tokens, breakpoints, TTLs, breakpoint
# tokens, changed params) are sent as ONE comma-joined string ("a1,b2", "" when empty),
# not as OTLP arrays: the OpenTelemetry SDK validates an array element by element
# (~0.15 us each, ~20 us per call), a string once. Elements never contain a comma (hex
# hashes, integers, "5m"/"1h", parameter names); the store reads both forms alike
# (tokentrail/store/normalize.py). :func:`split_list` is the inverse, for readers.
LIST_SEPARATOR = ","


def split_list(value: object, element: type = str) -> list:
    """A list attribute as a list: from its comma-joined form, or an array as it is."""
    if isinstance(value, str):
        return [element(part) for part in value.split(LIST_SEPARATOR)] if value else []
    return [element(part) for part in value] if isinstance(value, (list, tuple)) else []


# The hash/token arrays of tokentrail.semconv (message_hashes, block_hashes, block_tokens)
# hold a *window*: the last TOKENTRAIL_PREFIX_WINDOW entries (default 20, the API's lookback per
# breakpoint, docs/facts.md §1). Full arrays would cost O(conversation)
# per call (measured: ~0.15 us per element in the OTel SDK's attribute cleaning), which
# the issue forbids. The counts below give the absolute position of the window:
# first index = count - len(array).
PREFIX_MESSAGE_COUNT = "tokentrail.prefix.message_count"
PREFIX_BLOCK_COUNT = "tokentrail.prefix.block_count"
PREFIX_TOKENS = "tokentrail.prefix.tokens"  # estimated tokens of the whole prefix
CACHE_BREAKPOINT_TOKENS = "tokentrail.cache.breakpoint_tokens"  # ints, per breakpoint
CACHE_AUTOMATIC = "tokentrail.cache.automatic"  # bool: top-level cache_control
CACHE_PREVIOUS_MESSAGE_ID = "tokentrail.cache.previous_message_id"  # what diagnostics asked

# What changed against the previous call of the same run, found in-process (where the
# contents are) so that only positions leave the process.
CHANGE_LEVEL = "tokentrail.prefix.change.level"  # model|tools|system|params|messages|none
CHANGE_PARAMS = "tokentrail.prefix.change.params"  # list: which parameters
CHANGE_MESSAGE = "tokentrail.prefix.change.message"  # first message index that differs
CHANGE_BLOCK = "tokentrail.prefix.change.block"  # first block index (flattened) that differs
CHANGE_CHAR = "tokentrail.prefix.change.char"  # first differing character in that block

BATCH_ID = "tokentrail.batch.id"
BATCH_REQUEST_COUNT = "tokentrail.batch.request_count"
BATCH_CUSTOM_ID = "tokentrail.batch.custom_id"

__all__ = [name for name in dir() if name.isupper()] + ["sc", "split_list"]
