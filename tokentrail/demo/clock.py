"""The demo agents' virtual clock: time that passes without waiting.

A pause of ten minutes between two turns must show in two places: in the emulator's
prompt cache (entries expire) and in the timestamps of the agent's spans, which the
OpenTelemetry SDK takes from its own clock. :class:`VirtualClock` replaces that clock
(``opentelemetry.sdk.trace.time_ns``) in the agent's process with wall time plus an
offset that only grows; the emulator's clock is moved by the same amount over its admin
API (``POST /_emulator/clock``). Nothing else is faked: the SDK, the HTTP, the exporter,
the collector and the cache rules are the real ones.

The clock starts in the past (``start`` seconds since the epoch), so that every demo
call, pauses included, lies before "now": the UI's and the insights' time ranges end at
the present and would leave future timestamps out.
"""

from __future__ import annotations

import time

import opentelemetry.sdk.trace as otel_sdk_trace


class VirtualClock:
    """Wall time shifted to ``start`` and moved forward by :meth:`advance`."""

    def __init__(self, start: float | None = None) -> None:
        self.offset_ns = 0 if start is None else int((start - time.time()) * 1e9)

    def time_ns(self) -> int:
        return time.time_ns() + self.offset_ns

    def now(self) -> float:
        """Seconds since the epoch on this clock."""
        return self.time_ns() / 1e9

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset_ns += int(seconds * 1e9)

    def install(self) -> None:
        """Stamp this process's spans with this clock (start and end times)."""
        otel_sdk_trace.time_ns = self.time_ns
