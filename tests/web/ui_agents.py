"""Agents for the runs, fleet and insights page tests: calls sent through the real
ingest path (OTLP/HTTP into the collector, in-process) as the anthropic SDK's native
tracing reports them (tests/analysis/insights_agents.py), with hostile names where a
page shows telemetry, and an ASGI client over the UI of the same store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from tests.analysis.conftest import collector
from tests.analysis.insights_agents import Call, cost, send
from tokentrail.store import Store
from tokentrail.web.app import create_app

DAY = 86400.0
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SQLISH = "x' OR '1'='1"
HOSTILE = (SCRIPT, IMG)
SONNET = "claude-sonnet-4-6"
HAIKU = "claude-haiku-4-5"


def loop(run: str, *, at: float, turns: int = 3, service: str = "alpha",
         model: str = SONNET) -> list[Call]:
    """A cache-friendly loop: turn 1 writes a 3,000-token prefix, later turns read
    everything before and write 200 new tokens (5m)."""
    calls, cached = [], 0
    for k in range(1, turns + 1):
        write = 3000 if k == 1 else 200
        calls.append(Call(run, k, at=at + 20.0 * (k - 1), model=model, read=cached, w5=write,
                          uncached=10, output=100, service=service))
        cached += write
    return calls


def expired(run: str, *, at: float, service: str = "alpha") -> list[Call]:
    """Two calls ten minutes apart: the 5-minute entry expired, so the second call
    writes the prompt again (a ttl_expired cache event for sources without
    fingerprints: cache reads fell while the prompt grew, gap > TTL)."""
    return [Call(run, 1, at=at, w5=3000, uncached=10, output=50, service=service),
            Call(run, 2, at=at + 600.0, w5=3100, uncached=10, output=50, service=service)]


def single(run: str, *, at: float, service: str = "beta", model: str = HAIKU,
           uncached: int = 2000) -> list[Call]:
    return [Call(run, 1, at=at, uncached=uncached, output=50, service=service, model=model)]


def run_cost(calls: list[Call], run: str) -> float:
    """The run's cost re-priced here from the published rates (docs/facts.md §2)."""
    return sum(cost(c) for c in calls if c.run == run)


def hit_rate(calls: list[Call], run: str) -> float:
    mine = [c for c in calls if c.run == run]
    return sum(c.read for c in mine) / sum(c.total_in for c in mine)


def ingest(store: Store, calls: list[Call]) -> list[Call]:
    with collector(store) as otlp:
        send(otlp, calls)
    return calls


@contextmanager
def ui(store: Store, **kwargs) -> Iterator[TestClient]:
    with TestClient(create_app(store, **kwargs)) as client:
        yield client


def assert_escaped(html: str) -> None:
    """No hostile string reached the page as markup; each shows as text."""
    for raw in HOSTILE:
        assert raw not in html, f"unescaped {raw!r} in the page"
    assert "<img src=x" not in html and "<script>alert" not in html
