"""Agents for the insights tests: runs of calls with chosen timestamps and tokens, sent
through the real ingest path (OTLP/HTTP into the collector, ``llm_calls`` out) as the
anthropic SDK's native tracing reports them, with tokentrail's run and turn attributes;
and the independent re-pricing the tests compare with, from the published rates
(docs/facts.md §2), written here without the price table or any tokentrail code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from tests.otlp import NOW_NS
from tokentrail import semconv as sc

# docs/facts.md §2, USD per million tokens: input, 5m write, 1h write, read, output.
RATES = {
    "claude-opus-4-5": (5, 6.25, 10, 0.50, 25),
    "claude-sonnet-4-6": (3, 3.75, 6, 0.30, 15),
    "claude-haiku-4-5": (1, 1.25, 2, 0.10, 5),
}
BATCH = 0.5  # docs/facts.md §2: Message Batches halve input and output prices
SECOND = 1_000_000_000
START = datetime.fromtimestamp((NOW_NS - 30 * 86400 * SECOND) / 1e9, timezone.utc)
END = datetime.fromtimestamp((NOW_NS + 30 * 86400 * SECOND) / 1e9, timezone.utc)


@dataclass
class Call:
    run: str
    turn: int
    at: float                 # seconds after NOW_NS
    model: str = "claude-sonnet-4-6"
    uncached: int = 0
    read: int = 0
    w5: int = 0
    w1: int = 0
    output: int = 0
    service: str = "agent"
    stop: str = "end_turn"
    call_id: str = field(default="")

    @property
    def total_in(self) -> int:
        return self.uncached + self.read + self.w5 + self.w1


def price(model: str, uncached: float = 0, read: float = 0, w5: float = 0, w1: float = 0,
          output: float = 0, factor: float = 1.0) -> float:
    r_in, r_w5, r_w1, r_read, r_out = RATES[model]
    return factor * (uncached * r_in + w5 * r_w5 + w1 * r_w1 + read * r_read
                     + output * r_out) / 1e6


def cost(c: Call, *, model: str | None = None, factor: float = 1.0) -> float:
    return price(model or c.model, c.uncached, c.read, c.w5, c.w1, c.output, factor)


def send(otlp, calls: list[Call]) -> list[Call]:
    """Post each call as its own span (one OTLP request per call, like an exporter)."""
    from tests.otlp import anthropic_call_attrs, span, trace_request

    for i, c in enumerate(calls):
        c.call_id = c.call_id or f"msg_{c.run}_{c.turn}_{i}"
        attrs = anthropic_call_attrs(response_id=c.call_id, uncached=c.uncached,
                                     read=c.read, write=c.w5 + c.w1, write_1h=c.w1,
                                     output=c.output, model=c.model)
        attrs["gen_ai.response.finish_reasons"] = [c.stop]
        attrs[sc.RUN_ID] = c.run
        attrs[sc.TURN] = c.turn
        otlp.traces(trace_request([span(attrs, start_ns=NOW_NS + int(c.at * SECOND))],
                                  service=c.service))
    return calls


def findings(store, kind: str, **settings) -> list[dict]:
    return store.insights(START, END, kinds=[kind], **settings)


def only(rows: list[dict], **match) -> dict:
    """The one finding whose columns equal ``match``; fails naming what was there."""
    hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, f"expected one finding with {match}, got {rows}"
    return hits[0]
