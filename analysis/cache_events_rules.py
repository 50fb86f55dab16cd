"""The caching facts the cache-event rules are built from (docs/facts.md §1), as data.

Kept apart from the SQL so that each number is stated once, with its source, and the
rules in :mod:`.cache_events` read as rules. Nothing here imports the store.
"""

from __future__ import annotations

# Causes, in the order the rules try them for one call (docs/design.md, "cache_events").
MODEL_CHANGED = "model_changed"
PARAMS_CHANGED = "params_changed"
TOOLS_CHANGED = "tools_changed"
SYSTEM_CHANGED = "system_changed"
MESSAGES_CHANGED = "messages_changed"
TTL_EXPIRED = "ttl_expired"
LOOKBACK_EXCEEDED = "lookback_exceeded"
CONCURRENT_REQUESTS = "concurrent_requests"
BELOW_MINIMUM = "below_minimum"
NO_BREAKPOINT = "no_breakpoint"
UNEXPLAINED = "unexplained"
CAUSES = (MODEL_CHANGED, PARAMS_CHANGED, TOOLS_CHANGED, SYSTEM_CHANGED, MESSAGES_CHANGED,
          TTL_EXPIRED, LOOKBACK_EXCEEDED, CONCURRENT_REQUESTS, BELOW_MINIMUM, NO_BREAKPOINT,
          UNEXPLAINED)

# What a cause was read from.
PREFIX = "prefix"  # tokentrail's prefix fingerprints
API = "api"  # the API's own cache diagnostics
TIMING = "timing"  # gaps against the TTL, overlaps with the call that wrote the cache
TOKENS = "tokens"  # token counts alone
EVIDENCE = (PREFIX, API, TIMING, TOKENS)

# docs/facts.md §1 rule 4: a read walks back at most 20 blocks from each breakpoint,
# the marked block included.
LOOKBACK_BLOCKS = 20
# docs/facts.md §1 rule 5: the two TTLs, in seconds.
TTL_SECONDS = {"5m": 300, "1h": 3600}

# docs/facts.md §1, minimum cacheable prefix in tokens, by model family (dated ids such as
# claude-sonnet-4-5-20250929 share their alias's row). The list names no minimum for
# newer families; for them the rules that need one (below_minimum, no_breakpoint) stay
# silent rather than guess.
MIN_CACHEABLE_TOKENS = {
    "claude-opus-4-7": 4096,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-haiku-3-5": 2048,
    "claude-3-5-haiku": 2048,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4": 1024,
    "claude-sonnet-4-0": 1024,
    "claude-sonnet-3-7": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-opus-4-0": 1024,
}

# The API's cache_miss_reason values that name a changed level (docs/facts.md §1,
# "Cache diagnostics"); previous_message_not_found and unavailable say nothing.
API_CHANGE_REASONS = (MODEL_CHANGED, TOOLS_CHANGED, SYSTEM_CHANGED, MESSAGES_CHANGED)

# Sources whose rows are not single API calls in sequence: Claude Code's metrics are
# per export interval, and batch items run whenever the batch does.
NOT_SEQUENTIAL_SOURCES = ("claude-code-metric",)
