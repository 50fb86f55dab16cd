"""The caching insights against the emulator's own bill: an agent runs as written (real
SDK, tokentrail's instrumentation, spans through the real ingest path), then again with
the fix the finding names (a breakpoint on the last message); ``savings_usd`` must equal
the difference of the two runs' usage, each priced from the published rates
(docs/facts.md §2). The emulator implements the cache rules of docs/facts.md §1."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.analysis.insights_agents import findings, price
from tests.emulator.helpers import text_of
from tests.instrumentation.conftest import (  # noqa: F401  (fixtures used by name)
    client,
    emu,
    exporter,
    instrumentor,
    provider,
)
from tokentrail.instrumentation import run

MODEL = "claude-sonnet-4-6"
TURNS = 6


def _agent(api, run_id: str, *, cache_system: bool, cache_last: bool) -> float:
    """A growing conversation on a 3000-token system prompt; its cost from the usage."""
    system = [{"type": "text", "text": text_of(3000, "policy")}]
    if cache_system:
        system[0]["cache_control"] = {"type": "ephemeral"}
    messages: list = []
    total = 0.0
    with run("agent", run_id=run_id):
        for i in range(TURNS):
            messages.append({"role": "user", "content": [
                {"type": "text", "text": text_of(300, f"{run_id}-q{i}")}]})
            sent = [dict(m) for m in messages]
            if cache_last:
                last = dict(sent[-1]["content"][-1], cache_control={"type": "ephemeral"})
                sent[-1] = {"role": "user", "content": [*sent[-1]["content"][:-1], last]}
            reply = api.messages.create(model=MODEL, max_tokens=40, system=system,
                                        messages=sent)
            messages.append({"role": "assistant", "content": reply.content})
            u = reply.usage
            total += price(MODEL, uncached=u.input_tokens, read=u.cache_read_input_tokens,
                           w5=u.cache_creation_input_tokens, output=u.output_tokens)
    return total


def _measure(store, otlp, client, exporter, emu, kind, *, cache_system):  # noqa: F811
    actual = _agent(client, f"{kind}-as-is", cache_system=cache_system, cache_last=False)
    otlp.traces(encode_spans(exporter.get_finished_spans()))
    exporter.clear()
    emu.clock.advance(7200)  # nothing the first agent cached is alive for the second
    fixed = _agent(client, f"{kind}-fixed", cache_system=cache_system, cache_last=True)
    (finding,) = [f for f in findings(store, kind) if f["run_ids"] == [f"{kind}-as-is"]]
    assert finding["calls"] == TURNS
    assert finding["cost_usd"] == pytest.approx(actual, rel=1e-9)
    assert finding["savings_usd"] == pytest.approx(actual - fixed, rel=1e-9)
    return finding


def test_uncached_prefix_matches_the_emulators_bill(store, otlp, client, exporter, emu):  # noqa: F811
    _measure(store, otlp, client, exporter, emu, "uncached_prefix", cache_system=False)


def test_growing_uncached_input_matches_the_emulators_bill(
        store, otlp, client, exporter, emu):  # noqa: F811
    finding = _measure(store, otlp, client, exporter, emu, "growing_uncached_input",
                       cache_system=True)
    assert finding["confidence"] == "estimated"
    assert not findings(store, "uncached_prefix")  # the system prompt was cached
