"""The real anthropic SDK with tokentrail's instrumentation against the emulator, its
spans through the real ingest path: what a price depends on besides tokens (the betas
in use, ``speed``, ``inference_geo``) is recorded by the instrumentation and priced by
``llm_calls`` (docs/facts.md §2)."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.analysis.conftest import call
from tests.emulator.helpers import text_of
from tests.instrumentation.conftest import (  # noqa: F401  (fixtures used by name)
    client,
    emu,
    exporter,
    instrumentor,
    provider,
)

BETA_1M = "context-1m-2025-08-07"


def _priced(usage, rates, factor: float = 1.0) -> float:
    r_in, r_5m, r_read, r_out = rates
    return factor * (usage.input_tokens * r_in + usage.cache_creation_input_tokens * r_5m
                     + usage.cache_read_input_tokens * r_read + usage.output_tokens * r_out) / 1e6


def test_what_the_sdk_sent_is_what_the_call_is_priced_by(store, otlp, client, exporter):  # noqa: F811
    system = [{"type": "text", "text": text_of(3000, "handbook"),
               "cache_control": {"type": "ephemeral"}}]
    question = [{"role": "user", "content": "What does the handbook say?"}]
    # Sonnet 4.5 with the 1M beta, far below 200k input: the standard rates.
    long_ok = client.beta.messages.create(model="claude-sonnet-4-5", max_tokens=16,
                                          betas=[BETA_1M], system=system, messages=question)
    # Opus 4.6 in fast mode, US-only: 6x (fast-mode page) and 1.1x (data residency).
    fast_us = client.messages.create(model="claude-opus-4-6", max_tokens=16,
                                     messages=question,
                                     extra_body={"speed": "fast", "inference_geo": "us"})
    assert long_ok.usage.cache_creation_input_tokens > 0
    otlp.traces(encode_spans(exporter.get_finished_spans()))

    row = call(store, long_ok.id)
    assert BETA_1M in row["betas"]
    assert row["cost_usd"] == pytest.approx(_priced(long_ok.usage, (3, 3.75, 0.30, 15)),
                                            abs=1e-9)
    row = call(store, fast_us.id)
    assert (row["speed"], row["inference_geo"]) == ("fast", "us")
    assert row["cost_usd"] == pytest.approx(
        _priced(fast_us.usage, (5, 6.25, 0.50, 25), 6 * 1.1), abs=1e-9)
