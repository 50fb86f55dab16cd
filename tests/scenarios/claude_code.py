"""Claude Code-shaped telemetry with chosen timestamps and token counts.

The shape is the real one: the ``claude_code.api_request`` log record of the shared
capture (tests/fixtures/claude-code-2.1.328/logs-0.otlp.json, OTLP/JSON as Claude Code
2.1.328 sent it), with its session id, sequence number, time and token counts replaced.
Claude Code reports no prefix fingerprints, so these runs exercise the rules that work
from timing and token counts alone.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from tests.conftest import CLAUDE_CODE_FIXTURES

EPOCH_NS = 1_795_501_687_693_000_000  # the capture's first api_request (2026-11-24)


@dataclass(frozen=True)
class ApiRequest:
    """One API call as Claude Code reports it (Anthropic's disjoint buckets)."""

    at: float  # seconds after EPOCH_NS when the response ended (the record's time)
    input: int
    read: int
    write_5m: int
    output: int = 55
    duration_ms: int = 900
    model: str = "claude-sonnet-4-5"


def _template() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    document = json.loads((CLAUDE_CODE_FIXTURES / "logs-0.otlp.json").read_text())
    resource_logs = document["resourceLogs"][0]
    for scope_logs in resource_logs["scopeLogs"]:
        for record in scope_logs["logRecords"]:
            names = {a["key"]: a["value"] for a in record["attributes"]}
            if names.get("event.name", {}).get("stringValue") == "api_request":
                return resource_logs, scope_logs, record
    raise AssertionError("the capture has no api_request record")


def _set(record: dict[str, Any], key: str, value: Any) -> None:
    kind = ("intValue" if isinstance(value, int) else
            "doubleValue" if isinstance(value, float) else "stringValue")
    encoded = str(value) if kind == "intValue" else value
    for attribute in record["attributes"]:
        if attribute["key"] == key:
            attribute["value"] = {kind: encoded}
            return
    record["attributes"].append({"key": key, "value": {kind: encoded}})


def logs_request(session: str, calls: list[ApiRequest]) -> bytes:
    """An OTLP/JSON ``/v1/logs`` body with one api_request record per call."""
    resource_logs, scope_logs, template = _template()
    records = []
    for sequence, call in enumerate(calls, 1):
        record = copy.deepcopy(template)
        when = str(EPOCH_NS + int(call.at * 1e9))
        record["timeUnixNano"] = record["observedTimeUnixNano"] = when
        for key, value in (("session.id", session), ("event.sequence", sequence),
                           ("model", call.model), ("input_tokens", call.input),
                           ("output_tokens", call.output), ("cache_read_tokens", call.read),
                           ("cache_creation_tokens", call.write_5m),
                           ("cache_creation_5m_tokens", call.write_5m),
                           ("cache_creation_1h_tokens", 0),
                           ("duration_ms", call.duration_ms)):
            _set(record, key, value)
        records.append(record)
    scope = {**copy.deepcopy(scope_logs), "logRecords": records}
    resource = {**copy.deepcopy(resource_logs), "scopeLogs": [scope]}
    return json.dumps({"resourceLogs": [resource]}).encode()
