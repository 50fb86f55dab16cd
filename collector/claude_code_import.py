"""``tokentrail import claude-code``: Claude Code transcripts into the store.

Claude Code keeps every session as JSON lines under
``~/.claude/projects/<cwd-slug>/<session-id>.jsonl`` (docs/facts.md §5); its assistant lines
carry ``message.usage`` in Anthropic's convention. Each API call becomes one OTLP
log record (scope ``tokentrail.import.claude_code``), so transcripts take the same
path as live telemetry: raw ``otel_logs`` rows, then the SQL normalisation into
``llm_calls``. The records can be written straight to a store, or sent to a running
``tokentrail serve`` over OTLP/HTTP (the embedded store has one owner).

A call is identified by its ``requestRef`` (Claude Code's id of the API request),
falling back to ``message.id``: parallel tool calls are several lines of one call
and count once, while two calls may share a message id (the fixture's both are
``msg_1``).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tokentrail.collector.rows import LOG_COLUMNS, log_rows
from tokentrail.store.normalize import TRANSCRIPT_BODY, TRANSCRIPT_SCOPE

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("~/.claude/projects")


@dataclass(frozen=True)
class TranscriptCall:
    """One API call found in a transcript."""

    session_id: str
    key: str  # requestRef, else message id
    timestamp_ns: int
    attributes: dict[str, Any]
    version: str


def transcript_files(path: Path) -> list[Path]:
    """``path`` itself if it is a file, else every ``*.jsonl`` below it, sorted."""
    path = path.expanduser()
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    return sorted(p for p in path.rglob("*.jsonl") if p.is_file())


def _timestamp_ns(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.timestamp() * 1_000_000) * 1000


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def calls_in_lines(lines: Iterable[str]) -> Iterator[TranscriptCall]:
    """The API calls of one transcript, once each (the last line of a call wins: it
    carries the final usage). Lines that are not JSON or not assistant lines with
    usage are skipped; a transcript is a log, not a contract."""
    found: dict[tuple[str, str], TranscriptCall] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            continue
        message = entry.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
            continue
        session_id = entry.get("sessionId")
        key = entry.get("requestRef") or message.get("id")
        if not isinstance(session_id, str) or not isinstance(key, str):
            continue
        usage = message["usage"]
        creation = usage.get("cache_creation") if isinstance(usage.get("cache_creation"),
                                                              dict) else {}
        write = _int(usage.get("cache_creation_input_tokens"))
        write_1h = _int(creation.get("ephemeral_1h_input_tokens"))
        attributes: dict[str, Any] = {
            "session.id": session_id,
            "request.ref": entry.get("requestRef") or "",
            "message.id": message.get("id") or "",
            "model": message.get("model") or "",
            "stop_reason": message.get("stop_reason") or "",
            "input_tokens": _int(usage.get("input_tokens")),
            "cache_read_tokens": _int(usage.get("cache_read_input_tokens")),
            "cache_creation_tokens": write,
            "cache_creation_5m_tokens": _int(creation.get("ephemeral_5m_input_tokens"))
            if creation else write - write_1h,
            "cache_creation_1h_tokens": write_1h,
            "output_tokens": _int(usage.get("output_tokens")),
            "service_tier": usage.get("service_tier") or "",
            "is_sidechain": bool(entry.get("isSidechain")),
        }
        found[(session_id, key)] = TranscriptCall(
            session_id=session_id,
            key=key,
            timestamp_ns=_timestamp_ns(entry.get("timestamp")),
            attributes=attributes,
            version=str(entry.get("version") or ""),
        )
    yield from found.values()


def _any(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    return AnyValue(string_value=str(value))


def to_request(calls: Iterable[TranscriptCall]) -> ExportLogsServiceRequest:
    """The calls as an OTLP logs request (one resource per Claude Code version)."""
    request = ExportLogsServiceRequest()
    scopes: dict[str, Any] = {}
    for call in calls:
        scope_logs = scopes.get(call.version)
        if scope_logs is None:
            resource_logs = request.resource_logs.add()
            resource_logs.resource.attributes.extend([
                KeyValue(key="service.name", value=_any("claude-code")),
                KeyValue(key="service.version", value=_any(call.version)),
            ])
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name = TRANSCRIPT_SCOPE
            scopes[call.version] = scope_logs
        scope_logs.log_records.append(LogRecord(
            time_unix_nano=call.timestamp_ns,
            observed_time_unix_nano=call.timestamp_ns,
            body=AnyValue(string_value=TRANSCRIPT_BODY),
            attributes=[KeyValue(key=k, value=_any(v)) for k, v in call.attributes.items()],
        ))
    return request


@dataclass
class ImportResult:
    files: int = 0
    calls_found: int = 0
    calls_written: int = 0


class StoreTarget:
    """Writes straight into a store, skipping calls already imported (idempotent)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def write(self, calls: list[TranscriptCall]) -> int:
        seen = self.store.imported_transcript_calls(sorted({c.session_id for c in calls}))
        fresh = [c for c in calls if (c.session_id, c.key) not in seen]
        if fresh:
            self.store.insert("otel_logs", log_rows(to_request(fresh)), LOG_COLUMNS)
        return len(fresh)


class OtlpTarget:
    """Sends to a running collector's OTLP/HTTP endpoint (retrying 429/503).

    The collector's llm_calls stay exact on re-import (reports are keyed by call);
    the raw otel_logs table then holds one more copy of each record.
    """

    def __init__(self, endpoint: str, token: str | None = None, attempts: int = 5) -> None:
        self.url = endpoint.rstrip("/") + "/v1/logs"
        self.token = token
        self.attempts = attempts

    def write(self, calls: list[TranscriptCall]) -> int:
        if not calls:
            return 0
        body = to_request(calls).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=60):
                    return len(calls)
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 502, 503, 504) or attempt == self.attempts:
                    raise RuntimeError(f"collector refused the import: HTTP {exc.code} "
                                       f"{exc.read()[:300]!r}") from None
                time.sleep(float(exc.headers.get("Retry-After") or attempt))
        raise AssertionError("unreachable")


def import_transcripts(
    files: list[Path],
    target: StoreTarget | OtlpTarget,
    on_progress: Callable[[int], None] = lambda _: None,
) -> ImportResult:
    """Import each file; ``on_progress`` gets the bytes of each finished file."""
    result = ImportResult()
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:
            calls = list(calls_in_lines(lines))
        result.files += 1
        result.calls_found += len(calls)
        result.calls_written += target.write(calls)
        on_progress(path.stat().st_size)
    return result
