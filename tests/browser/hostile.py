"""A run whose telemetry is hostile: markup and SQL in every field the UI shows.

Telemetry is input from whoever can reach the collector. The run below is posted as
OTLP (protobuf, the anthropic SDK's native span attributes plus tokentrail's run
attributes) with a script tag, an attribute-breaking image tag and an SQL-looking
string in its service name, run id, run name, models, stop reason and run
attributes; its third call switches between two such models, so the cache event's
``detail`` ("the model changed from ... to ...") carries them too, and carries captured
contents (the GenAI content attributes an agent sends when it opts in) and an API
diagnostic made of them. The pages must show each string as text and run none of it
(``window.__xss`` stays undefined).
"""

from __future__ import annotations

import json
import time

import httpx

from tests.otlp import anthropic_call_attrs, span, trace_request
from tokentrail import semconv as sc

SCRIPT = "<script>window.__xss=1</script>"
IMAGE = '"><img src=x onerror="window.__xss=1">'
SQL = "'; DROP TABLE llm_calls; --"
STRINGS = (SCRIPT, IMAGE, SQL)

SERVICE = f"svc {SCRIPT} {IMAGE} {SQL}"
RUN_ID = f"browser-xss{SQL}"  # no '/', '?' or '#': it is a path segment of the UI
RUN_NAME = f"run {SCRIPT} {IMAGE} {SQL}"
MODEL_A = f"claude-a {SCRIPT}{SQL}"
MODEL_B = f"claude-b {IMAGE}"
STOP_REASON = f"{IMAGE}{SCRIPT}"

# (model, uncached, cache read, cache write, output) per turn: turn 2 reads what turn 1
# wrote; turn 3 is on another model and reads nothing (a model_changed event)
CALLS = ((MODEL_A, 40, 0, 3000, 20), (MODEL_A, 40, 3000, 60, 20), (MODEL_B, 40, 0, 3100, 20))


# What the third call's span carries when contents are captured, and the API's reason.
CONTENTS = {
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": SCRIPT}]),
    "gen_ai.input.messages": json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": f"{IMAGE} {SQL}"}]}]),
    "gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": SCRIPT + IMAGE}]}]),
}
MISS_REASON = f"reason {SCRIPT}{IMAGE}"

AGE_NS = 3 * 86_400 * 1_000_000_000  # three days old: a fleet range can leave it out


def request(now_ns: int | None = None) -> bytes:
    """The run's three calls, one second apart, three days before ``now_ns``."""
    start = (now_ns or time.time_ns()) - AGE_NS
    spans = []
    for turn, (model, uncached, read, write, output) in enumerate(CALLS, start=1):
        attrs = anthropic_call_attrs(response_id=f"msg_browser_xss_{turn}", uncached=uncached,
                                     read=read, write=write, output=output, model=model)
        attrs.update({
            "gen_ai.response.finish_reasons": [STOP_REASON],
            sc.RUN_ID: RUN_ID, sc.RUN_NAME: RUN_NAME, sc.TURN: turn,
            "tokentrail.run.attributes.ticket": f"{SCRIPT}{IMAGE}{SQL}",
        })
        if turn == len(CALLS):
            attrs.update({**CONTENTS, sc.CACHE_MISS_REASON: MISS_REASON})
        spans.append(span(attrs, start_ns=start + turn * 1_000_000_000,
                          duration_ns=500_000_000))
    return trace_request(spans, service=SERVICE).SerializeToString()


def post(otlp: str) -> int:
    """Post the run to a collector's OTLP/HTTP endpoint; returns its number of calls."""
    response = httpx.post(f"{otlp}/v1/traces", content=request(), timeout=30,
                          headers={"content-type": "application/x-protobuf"})
    assert response.status_code == 200, response.text
    return len(CALLS)
