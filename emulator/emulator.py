"""The emulator's state and its request pipeline, independent of HTTP.

One ``Emulator`` owns the clock, the prompt cache, the scenario, the faults, the
diagnostics fingerprints, the batches and a log of every request. ``app.py`` maps HTTP
onto it; tests and tools use it directly to set time, inject faults and inspect what
clients sent and what the cache decided.

A message goes through two steps so that rule 6 of ``cache.py`` holds:
``prepare`` (validate, build the prefix, consult the cache, decide the reply) runs
when the request arrives; ``start`` commits the cache writes when the response
starts (after any injected first-byte delay).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from .cache import Lookup, PromptCache
from .clock import Clock
from .diagnostics import DiagnosticsStore, compare, fingerprint
from .errors import APIError
from .faults import FaultInjector
from .prefix import build_prefix
from .scenario import Generated, Scenario
from .validation import validate_count_tokens, validate_create

REDACTED_HEADERS = ("x-api-key", "authorization")
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")


def new_id(prefix: str) -> str:
    return f"{prefix}_emu{secrets.token_hex(12)}"


@dataclass
class RequestRecord:
    """One request as the emulator saw and answered it (for introspection)."""

    request_id: str
    time: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    status: int = 0
    stream: bool = False
    model: str | None = None
    workspace: str | None = None
    message_id: str | None = None
    usage: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None
    stop_reason: str | None = None
    content_types: list[str] = field(default_factory=list)
    fault: str | None = None
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Prepared:
    """A message decided at arrival, waiting for its response to start."""

    body: dict[str, Any]
    message: dict[str, Any]
    lookup: Lookup
    generated: Generated
    workspace: str


class Emulator:
    """All state of one emulated API (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        scenario: Scenario | None = None,
        min_cacheable_tokens: dict[str, int] | None = None,
        default_min_cacheable_tokens: int | None = None,
        require_api_key: bool = True,
        require_version: bool = True,
        batch_processing: str = "auto",
        batch_delay: float = 0.0,
        log_limit: int = 1_000,
    ) -> None:
        from .batches import BatchStore  # batches use the pipeline below

        self.clock = clock or Clock()
        self.scenario = scenario or Scenario()
        kwargs = {}
        if default_min_cacheable_tokens is not None:
            kwargs["default_min_tokens"] = default_min_cacheable_tokens
        self.cache = PromptCache(min_cacheable_tokens, **kwargs)
        self.faults = FaultInjector()
        self.diagnostics = DiagnosticsStore()
        self.require_api_key = require_api_key
        self.require_version = require_version
        self.log_limit = log_limit
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self.batches = BatchStore(self, mode=batch_processing, delay=batch_delay)

    # ----- request log -------------------------------------------------------------

    def record(self, rec: RequestRecord) -> RequestRecord:
        with self._log_lock:
            self._log.append(rec)
            if len(self._log) > self.log_limit:
                del self._log[: len(self._log) - self.log_limit]
        return rec

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far, oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    def calls(self, path: str = "/v1/messages", *, model: str | None = None,
              ok_only: bool = True) -> list[RequestRecord]:
        """Requests to ``path`` (default: message creations), optionally by model."""
        return [r for r in self.requests
                if r.path == path and (model is None or r.model == model)
                and (not ok_only or 200 <= r.status < 300)]

    def reset(self) -> None:
        """Forget cache entries, fingerprints, faults, batches and the request log."""
        self.cache.clear()
        self.diagnostics.clear()
        self.faults.clear()
        self.batches.clear()
        with self._log_lock:
            self._log.clear()

    # ----- identity ----------------------------------------------------------------

    def authenticate(self, headers: dict[str, str]) -> str:
        """The workspace of a request: its ``anthropic-workspace-id`` or its API key.

        Caches are isolated per workspace (docs/facts.md §1). Without an explicit workspace
        header every API key is its own workspace.
        """
        key = headers.get("x-api-key")
        auth = headers.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            if self.require_api_key:
                raise APIError("x-api-key header is required", "authentication_error")
            key = "anonymous"
        version = headers.get("anthropic-version")
        if self.require_version and not version:
            raise APIError("anthropic-version: header is required", "invalid_request_error")
        if version and not _VERSION.fullmatch(version):
            raise APIError(f"anthropic-version: invalid version {version!r}; expected a date "
                           "such as 2023-06-01", "invalid_request_error")
        explicit = headers.get("anthropic-workspace-id")
        if explicit:
            return explicit
        return "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @staticmethod
    def betas(headers: dict[str, str]) -> frozenset[str]:
        """The ``anthropic-beta`` header's comma-separated names (the SDK's ``betas``)."""
        return frozenset(b.strip() for b in headers.get("anthropic-beta", "").split(",")
                         if b.strip())

    @staticmethod
    def redact(headers: dict[str, str]) -> dict[str, str]:
        return {k: ("<redacted>" if k in REDACTED_HEADERS else v) for k, v in headers.items()}

    # ----- messages ----------------------------------------------------------------

    def count_tokens(self, body: Any, betas: frozenset[str] = frozenset()) -> dict[str, int]:
        """``POST /v1/messages/count_tokens``: total input tokens, no cache effects."""
        validate_count_tokens(body, betas)
        return {"input_tokens": build_prefix(body).total_tokens}

    def prepare(self, body: Any, workspace: str, *, service_tier: str = "standard",
                betas: frozenset[str] = frozenset()) -> Prepared:
        """Validate, consult the cache and decide the reply (at request arrival)."""
        validate_create(body, betas)
        prefix = build_prefix(body)
        model = body["model"]
        now = self.clock.now()
        lookup = self.cache.lookup(workspace, model, prefix, now)
        generated = self.scenario.decide(body)
        message_id = new_id("msg")
        usage: dict[str, Any] = {
            **lookup.usage(),
            "output_tokens": generated.output_tokens,
            "output_tokens_details": {"thinking_tokens": generated.thinking_tokens},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": service_tier,
        }
        if body.get("speed"):
            usage["speed"] = body["speed"]
        message: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": generated.content,
            "stop_reason": generated.stop_reason,
            "stop_sequence": generated.stop_sequence,
            "usage": usage,
        }
        if "diagnostics" in body:
            fp = fingerprint(body, prefix)
            previous = (body.get("diagnostics") or {}).get("previous_message_id")
            if previous:
                reason = compare(self.diagnostics.get(workspace, previous), fp)
                message["diagnostics"] = None if reason is None else {"cache_miss_reason": reason}
            else:
                message["diagnostics"] = None
            self.diagnostics.remember(workspace, message_id, fp)
        return Prepared(body, message, lookup, generated, workspace)

    def start(self, prepared: Prepared) -> None:
        """The response starts now: its cache writes become readable (cache rule 6)."""
        self.cache.commit(prepared.lookup, self.clock.now(), prepared.message["id"])

    def create_message(self, body: Any, workspace: str = "default", *,
                       service_tier: str = "standard") -> dict[str, Any]:
        """Prepare and start in one step (no HTTP): returns the response message."""
        prepared = self.prepare(body, workspace, service_tier=service_tier)
        self.start(prepared)
        return prepared.message
