"""Fault injection: the failures a client must survive, on demand.

A fault spec is a comma-separated list of items:

==========================  ==========================================================
``429`` / ``429:2.5``       ``rate_limit_error`` with ``retry-after`` (seconds, default
                            1) and ``retry-after-ms``
``529``                     ``overloaded_error`` (status 529)
``500``                     ``api_error``
``503``                     ``api_error`` with status 503
``slow:1.5``                hold the first byte of the response for 1.5 s (real time)
``cut:5``                   drop the connection after 5 SSE events (streams) or after
                            half the body (JSON)
``sse-error:3``             after 3 SSE events send an ``event: error`` carrying
                            ``overloaded_error`` and end the stream (what the API does
                            when it overloads mid-stream)
==========================  ==========================================================

Per request: the header ``x-emulator-fault: <spec>``. For the whole emulator:
``FaultInjector.inject(spec, times=n)`` (``times=None`` for every request until
``clear()``), also reachable over HTTP at ``POST /_emulator/faults``. A request header
wins over emulator-wide faults; queued faults are consumed in order.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from .errors import APIError

HEADER = "x-emulator-fault"


@dataclass
class Fault:
    """A parsed fault spec."""

    error: APIError | None = None
    slow_seconds: float = 0.0
    cut_after: int | None = None
    sse_error_after: int | None = None
    spec: str = ""


def parse(spec: str) -> Fault:
    """Parse a fault spec (see the module docstring); ValueError when malformed."""
    fault = Fault(spec=spec)
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, arg = item.partition(":")
        name = name.strip().lower()
        if name == "429":
            seconds = float(arg) if arg else 1.0
            fault.error = APIError(
                "Number of request tokens has exceeded your per-minute rate limit "
                "(emulated)", "rate_limit_error",
                headers={"retry-after": str(max(0, math.ceil(seconds))),
                         "retry-after-ms": str(int(seconds * 1000))},
            )
        elif name in ("529", "overloaded"):
            fault.error = APIError("Overloaded", "overloaded_error", status=529)
        elif name == "500":
            fault.error = APIError("Internal server error (emulated)", "api_error")
        elif name == "503":
            fault.error = APIError("Service unavailable (emulated)", "api_error", status=503)
        elif name in ("slow", "slow-first-byte"):
            fault.slow_seconds = float(arg or 1.0)
        elif name == "cut":
            fault.cut_after = int(arg or 3)
        elif name == "sse-error":
            fault.sse_error_after = int(arg or 1)
        else:
            raise ValueError(f"unknown fault {item!r}")
    return fault


class FaultInjector:
    """Emulator-wide faults: a queue of (spec, remaining uses)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[list] = []

    def inject(self, spec: str, times: int | None = 1) -> None:
        """Apply ``spec`` to the next ``times`` requests (every request when None)."""
        parse(spec)  # fail early on a typo
        with self._lock:
            self._queue.append([spec, times])

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [{"spec": s, "times": t} for s, t in self._queue]

    def take(self, header: str | None) -> Fault | None:
        """The fault for one request: the header's, else the next queued one."""
        if header:
            return parse(header)
        with self._lock:
            if not self._queue:
                return None
            spec, times = self._queue[0]
            if times is not None:
                if times <= 1:
                    self._queue.pop(0)
                else:
                    self._queue[0][1] = times - 1
        return parse(spec)
