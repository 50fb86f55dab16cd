"""Attribute names that tokentrail reads and writes, in one place.

Stdlib only: the instrumentation (agent side) and the store's SQL normalisation
(server side) both import these, so a name is spelled once. Third-party names are
quoted from their sources (see ``docs/facts.md`` §3-§5); tokentrail's own
names live under the ``tokentrail.`` prefix.
"""

from __future__ import annotations

# --- OpenTelemetry GenAI semantic conventions (semantic-conventions, docs/gen-ai) ---
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"  # older name of gen_ai.provider.name
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
# In the conventions, input_tokens INCLUDES cache reads and writes.
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"  # semconv 1.40
GEN_AI_USAGE_CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"  # semconv 1.40

# --- anthropic SDK native tracing (scope com.anthropic.sdk.python), docs/facts.md §4 ---
ANTHROPIC_SDK_SCOPE = "com.anthropic.sdk.python"
ANTHROPIC_USAGE_CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"
ANTHROPIC_USAGE_WRITE_5M = "anthropic.usage.cache_creation.ephemeral_5m_input_tokens"
ANTHROPIC_USAGE_WRITE_1H = "anthropic.usage.cache_creation.ephemeral_1h_input_tokens"
ANTHROPIC_USAGE_SERVICE_TIER = "anthropic.usage.service_tier"

# --- tokentrail's own attributes ---
TOKENTRAIL_SCOPE = "tokentrail"
RUN_ID = "tokentrail.run.id"
RUN_NAME = "tokentrail.run.name"
RUN_PARENT_ID = "tokentrail.run.parent_id"
TURN = "tokentrail.turn"
IS_BATCH = "tokentrail.batch"
# Prefix fingerprints (docs/design.md, "Prefix fingerprints"): hashes and sizes only.
PREFIX_TOOLS_HASH = "tokentrail.prefix.tools_hash"
PREFIX_SYSTEM_HASH = "tokentrail.prefix.system_hash"
PREFIX_PARAMS_HASH = "tokentrail.prefix.params_hash"
PREFIX_MESSAGE_HASHES = "tokentrail.prefix.message_hashes"  # string array
PREFIX_BLOCK_HASHES = "tokentrail.prefix.block_hashes"  # string array
PREFIX_BLOCK_TOKENS = "tokentrail.prefix.block_tokens"  # int array, estimated
CACHE_BREAKPOINTS = "tokentrail.cache.breakpoints"  # int array: block indexes
CACHE_TTLS = "tokentrail.cache.ttls"  # string array, one per breakpoint
CACHE_MISS_REASON = "tokentrail.cache.miss_reason"  # diagnostics.cache_miss_reason.type
CACHE_MISSED_INPUT_TOKENS = "tokentrail.cache.missed_input_tokens"
# The hash/token arrays above hold a window: the last TOKENTRAIL_PREFIX_WINDOW entries
# (default 20, the API's lookback per breakpoint). The counts give its absolute start:
# first index = count - len(array).
PREFIX_MESSAGE_COUNT = "tokentrail.prefix.message_count"
PREFIX_BLOCK_COUNT = "tokentrail.prefix.block_count"
PREFIX_TOKENS = "tokentrail.prefix.tokens"  # estimated tokens of the whole prefix
CACHE_BREAKPOINT_TOKENS = "tokentrail.cache.breakpoint_tokens"  # int array, per breakpoint
CACHE_AUTOMATIC = "tokentrail.cache.automatic"  # bool: top-level cache_control
# Message blocks of >= 4096 estimated tokens anywhere in the prefix, the largest 16, as
# "hash:position:tokens" comma-joined (instrumentation/large_blocks.py): what the block
# window above cannot show of a big tool result sent many turns ago.
PREFIX_LARGE_BLOCKS = "tokentrail.prefix.large_blocks"
# What changed against the previous call of the same run, found in-process (where the
# contents are), so that only positions leave the process.
CHANGE_LEVEL = "tokentrail.prefix.change.level"  # model|tools|system|params|messages|none
CHANGE_PARAMS = "tokentrail.prefix.change.params"  # string array: which parameters
CHANGE_MESSAGE = "tokentrail.prefix.change.message"  # first message index that differs
CHANGE_BLOCK = "tokentrail.prefix.change.block"  # first block index (flattened) that differs
CHANGE_CHAR = "tokentrail.prefix.change.char"  # first differing character in that block
RUN_AUTOMATIC = "tokentrail.run.automatic"  # bool: grouped by continuity, not declared
BATCH_ID = "tokentrail.batch.id"
BATCH_CUSTOM_ID = "tokentrail.batch.custom_id"

# --- Claude Code native telemetry (docs/facts.md §5; tests/fixtures/claude-code-2.1.328) ---
CLAUDE_CODE_LLM_REQUEST_SPAN = "claude_code.llm_request"
CLAUDE_CODE_SESSION_ID = "session.id"

# --- What a call's price depends on beyond its tokens (docs/facts.md §2), recorded by
# tokentrail's instrumentation from the request and the response ---
REQUEST_BETAS = "tokentrail.request.betas"  # string array: beta flags in use
REQUEST_SPEED = "tokentrail.request.speed"  # "fast" when fast mode was asked for
REQUEST_INFERENCE_GEO = "tokentrail.request.inference_geo"  # e.g. "us"
USAGE_WEB_SEARCH_REQUESTS = "tokentrail.usage.web_search_requests"  # server tool uses
USAGE_WEB_FETCH_REQUESTS = "tokentrail.usage.web_fetch_requests"
# What the changed text looks like, classified in-process (contents never leave it):
# timestamp | uuid | counter | reordered | other
CHANGE_HINT = "tokentrail.prefix.change.hint"
