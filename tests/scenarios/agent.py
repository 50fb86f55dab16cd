"""The agent of the cache-event scenarios: ``import tokentrail.auto`` and the real SDK.

Run as a subprocess (``python -m tests.scenarios.agent EMULATOR_URL SCENARIO RUN_ID``)
so that ``tokentrail.auto`` sets up the global provider and its OTLP exporter exactly as
in a user's process. Each scenario is a function of :mod:`tests.scenarios.scenarios`.

Time. A TTL gap must show both in the emulator's cache and in the spans' timestamps,
which the agent's OpenTelemetry SDK takes from its own clock. Sleeping 5 minutes per
scenario is not an option, so the scenario owns one virtual clock that both sides read:
:meth:`Agent.advance` moves the emulator's clock (``POST /_emulator/clock``) and the
clock the agent's OpenTelemetry SDK stamps spans with (its ``time_ns``) by the same
number of seconds. Nothing else is faked: the SDK, the HTTP, the exporter, the
collector and the cache rules are the real ones, and every timestamp the store sees
is what a real agent that waited would have produced.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import anthropic  # patched at class level: import order does not matter
import httpx
import opentelemetry.sdk.trace as otel_sdk_trace

import tokentrail.auto  # noqa: F401  (the one import under test)
from tests.scenarios import scenarios
from tests.waiting import wait_until
from tokentrail.instrumentation import run


class VirtualClock:
    """Wall time plus an offset that only grows: the agent's telemetry clock."""

    def __init__(self) -> None:
        self.offset_ns = 0
        self._real = time.time_ns

    def time_ns(self) -> int:
        return self._real() + self.offset_ns


class Agent:
    """What a scenario drives: the SDK client, the shared clock, the emulator's admin."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
        self.clock = VirtualClock()
        otel_sdk_trace.time_ns = self.clock.time_ns  # span start/end timestamps
        self.usages: list[dict] = []
        self._lock = threading.Lock()

    def create(self, **kwargs):
        """``client.messages.create``; records the usage the agent saw."""
        reply = self.client.messages.create(**kwargs)
        u = reply.usage
        with self._lock:
            self.usages.append({"id": reply.id, "input": u.input_tokens,
                                "read": u.cache_read_input_tokens or 0,
                                "write": u.cache_creation_input_tokens or 0})
        return reply

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the emulator and for the agent's telemetry alike."""
        response = httpx.post(f"{self.base_url}/_emulator/clock",
                              json={"advance": seconds}, timeout=10)
        response.raise_for_status()
        self.clock.offset_ns += int(seconds * 1e9)

    def evict(self) -> None:
        """The API drops the cache for reasons of its own (it guarantees no hits): the
        emulator forgets its entries."""
        httpx.post(f"{self.base_url}/_emulator/reset", timeout=10).raise_for_status()

    def wait_for_requests(self, count: int) -> None:
        """Until the emulator has received ``count`` Messages requests."""
        def seen() -> int:
            return len(httpx.get(f"{self.base_url}/_emulator/requests",
                                 params={"path": "/v1/messages", "bodies": "0"},
                                 timeout=10).json())

        wait_until(seen, until=lambda n: n >= count, timeout=30,
                   message=f"the emulator received {count} request(s)")


def main(base_url: str, name: str, run_id: str) -> None:
    agent = Agent(base_url, api_key=f"sk-ant-{run_id}")  # its own workspace, own cache
    with run(name, run_id=run_id):
        scenarios.SCENARIOS[name].drive(agent)
    print(json.dumps(agent.usages), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
