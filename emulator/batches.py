"""Message Batches: create, retrieve, list, cancel, delete, results as JSONL.

Items are processed asynchronously (a background thread, after ``delay`` seconds of
real time) through the same pipeline as ``POST /v1/messages``, so they read and write
the prompt cache like any request; their usage says ``service_tier: "batch"``. With
``mode="manual"`` nothing runs until ``BatchStore.process_pending()`` is called, which
lets tests observe ``in_progress`` batches and cancel them deterministically.

Item parameters are validated when the item is processed: an invalid item becomes an
``errored`` result (as on the API), it does not fail the whole batch.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .errors import APIError, invalid

if TYPE_CHECKING:
    from .emulator import Emulator

MAX_REQUESTS = 100_000
EXPIRY_SECONDS = 24 * 3600


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Batch:
    id: str
    workspace: str
    created_at: float
    requests: list[dict[str, Any]]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended_at: float | None = None
    cancel_initiated_at: float | None = None
    results_base: str = ""

    @property
    def status(self) -> str:
        if self.ended_at is not None:
            return "ended"
        return "canceling" if self.cancel_initiated_at is not None else "in_progress"

    def counts(self) -> dict[str, int]:
        kinds = [r["type"] for r in self.results.values()]
        return {
            "processing": len(self.requests) - len(kinds),
            "succeeded": kinds.count("succeeded"),
            "errored": kinds.count("errored"),
            "canceled": kinds.count("canceled"),
            "expired": kinds.count("expired"),
        }

    def as_dict(self) -> dict[str, Any]:
        ended = self.ended_at is not None
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.counts(),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.created_at + EXPIRY_SECONDS),
            "ended_at": rfc3339(self.ended_at),
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at),
            "archived_at": None,
            "results_url": f"{self.results_base}/v1/messages/batches/{self.id}/results"
            if ended else None,
        }


class BatchStore:
    """All batches of one emulator."""

    def __init__(self, emulator: Emulator, *, mode: str = "auto", delay: float = 0.0) -> None:
        if mode not in ("auto", "manual"):
            raise ValueError("batch mode is 'auto' or 'manual'")
        self.emulator = emulator
        self.mode = mode
        self.delay = delay
        self._batches: dict[str, Batch] = {}
        self._lock = threading.RLock()

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()

    def create(self, body: Any, workspace: str, results_base: str) -> dict[str, Any]:
        from .emulator import new_id

        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            raise invalid("requests: Field required")
        requests = body["requests"]
        if not requests:
            raise invalid("requests: List should have at least 1 item")
        if len(requests) > MAX_REQUESTS:
            raise invalid(f"requests: at most {MAX_REQUESTS} requests per batch")
        seen: set[str] = set()
        for i, item in enumerate(requests):
            if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
                raise invalid(f"requests.{i}.custom_id: Field required")
            if not isinstance(item.get("params"), dict):
                raise invalid(f"requests.{i}.params: Field required")
            if item["custom_id"] in seen:
                raise invalid(f"requests.{i}.custom_id: custom_id must be unique within a batch")
            seen.add(item["custom_id"])
        batch = Batch(new_id("msgbatch"), workspace, self.emulator.clock.now(), requests,
                      results_base=results_base.rstrip("/"))
        with self._lock:
            self._batches[batch.id] = batch
        if self.mode == "auto":
            timer = threading.Timer(self.delay, self._process, args=(batch,))
            timer.daemon = True
            timer.start()
        return batch.as_dict()

    def _get(self, batch_id: str, workspace: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.workspace != workspace:
            raise APIError(f"message_batch {batch_id} not found", "not_found_error")
        return batch

    def retrieve(self, batch_id: str, workspace: str) -> dict[str, Any]:
        with self._lock:
            return self._get(batch_id, workspace).as_dict()

    def list(self, workspace: str) -> list[dict[str, Any]]:
        """The workspace's batches, newest first (as the API lists them)."""
        with self._lock:
            mine = [b for b in self._batches.values() if b.workspace == workspace]
            return [b.as_dict() for b in reversed(mine)]

    def cancel(self, batch_id: str, workspace: str) -> dict[str, Any]:
        with self._lock:
            batch = self._get(batch_id, workspace)
            if batch.ended_at is None and batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = self.emulator.clock.now()
            return batch.as_dict()

    def delete(self, batch_id: str, workspace: str) -> dict[str, Any]:
        with self._lock:
            batch = self._get(batch_id, workspace)
            if batch.ended_at is None:
                raise invalid("Batches cannot be deleted while processing; cancel it first")
            del self._batches[batch_id]
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results_jsonl(self, batch_id: str, workspace: str) -> str:
        with self._lock:
            batch = self._get(batch_id, workspace)
            if batch.ended_at is None:
                raise invalid(f"message_batch {batch_id} has not finished processing")
            lines = [json.dumps({"custom_id": item["custom_id"],
                                 "result": batch.results[item["custom_id"]]})
                     for item in batch.requests]
        return "\n".join(lines) + "\n"

    def process_pending(self) -> None:
        """Process every unfinished batch now (the ``manual`` mode's trigger)."""
        with self._lock:
            pending = [b for b in self._batches.values() if b.ended_at is None]
        for batch in pending:
            self._process(batch)

    def _process(self, batch: Batch) -> None:
        for item in batch.requests:
            with self._lock:
                if batch.ended_at is not None or item["custom_id"] in batch.results:
                    continue
                canceled = batch.cancel_initiated_at is not None
            result = {"type": "canceled"} if canceled else self._run(item["params"],
                                                                      batch.workspace)
            with self._lock:
                batch.results[item["custom_id"]] = result
        with self._lock:
            if batch.ended_at is None:
                batch.ended_at = self.emulator.clock.now()

    def _run(self, params: dict[str, Any], workspace: str) -> dict[str, Any]:
        if params.get("stream"):
            err = invalid("stream: streaming is not supported in batch requests")
            return {"type": "errored", "error": err.body()}
        try:
            message = self.emulator.create_message(params, workspace, service_tier="batch")
        except APIError as err:
            return {"type": "errored", "error": err.body()}
        return {"type": "succeeded", "message": message}
