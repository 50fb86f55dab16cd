"""What ``tokentrail serve`` prints on a store with no calls yet: how to send some.

A first run ends, more often than not, with a UI that says nothing because nothing was
sent; the way in is one import, or five environment variables for Claude Code. The
addresses printed are the ones this serve listens on.
"""

from __future__ import annotations

from tokentrail.settings import Settings

# Five variables turn on Claude Code's metrics and events, whose api_request events
# carry each call's tokens and cost (docs/facts.md §5).
CLAUDE_CODE_ENV = ("CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_METRICS_EXPORTER=otlp "
                   "OTEL_LOGS_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/json "
                   "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}")


def has_calls(store) -> bool:
    """Whether any Anthropic call was ever stored (one row of the reports table: cheap
    on any size of store, unlike counting the deduplicated view)."""
    return bool(store.query("SELECT 1 AS one FROM llm_call_reports LIMIT 1"))


def how_to_send(settings: Settings) -> str:
    """Lines telling how to send data to this serve's collector."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    endpoint = f"http://{host}:{settings.otlp_http_port}"
    lines = [
        "The store has no calls yet. To send some:",
        f"  your agent:   add `import tokentrail.auto` (pip install tokentrail) and run it with "
        f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}",
        f"  Claude Code:  {CLAUDE_CODE_ENV.format(endpoint=endpoint)} claude",
        f"  past Claude Code sessions:  tokentrail import claude-code --endpoint {endpoint}",
        "  sample agents, on a store of their own:  tokentrail demo",
    ]
    if settings.ingest_token:
        lines.append("  (this collector wants its token: "
                     "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)")
    return "\n".join(lines)
