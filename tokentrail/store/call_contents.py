"""A call's captured prompt and response text, when the agent opted in.

Contents leave the agent only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
=true`` (docs/design.md, "Prefix fingerprints"), as the GenAI semantic conventions'
content attributes on the call's span. ``llm_calls`` keeps no text, so the call page
reads them from the span itself; without them it shows hashes and sizes only. The read
lives here, in the store layer, so that no view runs SQL (``Store.call_contents``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentrail.store.database import Store

log = logging.getLogger(__name__)

# (span attribute, heading), in reading order (instrumentation/attributes.py)
CONTENT_ATTRIBUTES = (
    ("gen_ai.system_instructions", "System"),
    ("gen_ai.input.messages", "Input messages"),
    ("gen_ai.output.messages", "Output"),
)

# How far from the call's timestamp its span is looked for: the window lets ClickHouse
# skip other partitions and granules (otel_traces is sorted by service, span name and
# time; TraceId has a bloom filter).
SPAN_WINDOW = dt.timedelta(minutes=10)

# The columns follow CONTENT_ATTRIBUTES (c0, c1, c2), spelt out: no SQL is formatted.
_SQL = """
SELECT SpanAttributes['gen_ai.system_instructions'] AS c0,
       SpanAttributes['gen_ai.input.messages'] AS c1,
       SpanAttributes['gen_ai.output.messages'] AS c2
FROM otel_traces
WHERE TraceId = {trace:String} AND SpanId = {span:String}
  AND Timestamp >= {start:DateTime64(9)} AND Timestamp <= {end:DateTime64(9)}
LIMIT 1"""


def captured_contents(store: Store, call: dict[str, Any]) -> list[tuple[str, str]]:
    """(heading, text) of each content attribute the call's span carries; [] when none
    was captured, the call came from logs or a transcript, or the read fails (the page
    then shows hashes and sizes, never an error)."""
    trace, span, at = call.get("trace_id"), call.get("span_id"), call.get("timestamp")
    if not trace or not span or not isinstance(at, dt.datetime):
        return []
    try:
        rows = store.query(_SQL, {"trace": trace, "span": span,
                                  "start": at - SPAN_WINDOW, "end": at + SPAN_WINDOW})
    except Exception:  # a store without the raw tables (e.g. a trimmed deployment)
        log.warning("reading the captured contents of call %s failed", call.get("call_id"),
                    exc_info=True)
        return []
    if not rows:
        return []
    row = rows[0]
    return [(heading, row[f"c{i}"]) for i, (_, heading) in enumerate(CONTENT_ATTRIBUTES)
            if row[f"c{i}"]]
