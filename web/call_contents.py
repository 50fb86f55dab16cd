"""A call's captured prompt and response text, when the agent opted in.

Contents leave the agent only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
=true`` (docs/design.md, "Prefix fingerprints"), as the GenAI semantic conventions'
content attributes on the call's span. ``llm_calls`` keeps no text, so the call page
reads them from the span itself; without them it shows hashes and sizes only.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from tokentrail.store import Store

log = logging.getLogger(__name__)

# (span attribute, heading), in reading order (instrumentation/attributes.py)
CONTENT_ATTRIBUTES = (
    ("gen_ai.system_instructions", "System"),
    ("gen_ai.input.messages", "Input messages"),
    ("gen_ai.output.messages", "Output"),
)

# The span by its ids; the time window lets ClickHouse skip other partitions and
# granules (otel_traces is sorted by service, span name and time; TraceId has a
# bloom filter).
_SQL = """
SELECT {columns}
FROM otel_traces
WHERE TraceId = {{trace:String}} AND SpanId = {{span:String}}
  AND Timestamp >= {{start:DateTime64(9)}} AND Timestamp <= {{end:DateTime64(9)}}
LIMIT 1"""


def _sql() -> str:
    columns = ", ".join(f"SpanAttributes['{name}'] AS c{i}"
                        for i, (name, _) in enumerate(CONTENT_ATTRIBUTES))
    return _SQL.format(columns=columns)


def captured_contents(store: Store, call: dict[str, Any]) -> list[tuple[str, str]]:
    """(heading, text) of each content attribute the call's span carries; [] when none
    was captured, the call came from logs or a transcript, or the read fails (the page
    then shows hashes and sizes, never an error)."""
    trace, span, at = call.get("trace_id"), call.get("span_id"), call.get("timestamp")
    if not trace or not span or not isinstance(at, dt.datetime):
        return []
    window = dt.timedelta(minutes=10)
    try:
        rows = store.query(_sql(), {"trace": trace, "span": span,
                                    "start": at - window, "end": at + window})
    except Exception:  # a store without the raw tables (e.g. a trimmed deployment)
        log.warning("reading the captured contents of call %s failed", call.get("call_id"),
                    exc_info=True)
        return []
    if not rows:
        return []
    row = rows[0]
    return [(heading, row[f"c{i}"]) for i, (_, heading) in enumerate(CONTENT_ATTRIBUTES)
            if row[f"c{i}"]]
