"""Every price of docs/facts.md §2, through the real ingest path: a span per model goes
in over OTLP/HTTP, ``llm_calls`` prices it, and the cost must be the one the facts'
table gives, to well within $0.000001. The expected rates are copied here from
docs/facts.md §2 by hand, not read from the price file, so a wrong row in the file
fails here."""

from __future__ import annotations

import pytest

from tests.analysis.conftest import call
from tests.conftest import CLAUDE_CODE_FIXTURES

# (model id as an SDK reports it, input, 5m write, 1h write, cache read, output), USD per
# million tokens, from docs/facts.md §2.
PUBLIC = [
    ("claude-opus-4-7", 5, 6.25, 10, 0.50, 25),
    ("claude-opus-4-6", 5, 6.25, 10, 0.50, 25),
    ("claude-opus-4-5-20251101", 5, 6.25, 10, 0.50, 25),
    ("claude-opus-4-1-20250805", 15, 18.75, 30, 1.50, 75),
    ("claude-opus-4-20250514", 15, 18.75, 30, 1.50, 75),
    ("claude-sonnet-4-6", 3, 3.75, 6, 0.30, 15),
    ("claude-sonnet-4-5-20250929", 3, 3.75, 6, 0.30, 15),
    ("claude-sonnet-4-20250514", 3, 3.75, 6, 0.30, 15),
    ("claude-3-7-sonnet-20250219", 3, 3.75, 6, 0.30, 15),
    ("claude-haiku-4-5-20251001", 1, 1.25, 2, 0.10, 5),
    ("claude-3-5-haiku-20241022", 0.80, 1, 1.6, 0.08, 4),
    ("claude-3-haiku-20240307", 0.25, 0.30, 0.50, 0.03, 1.25),
]
MEASURED = [
    ("claude-opus-4-8", 5, 6.25, 10, 0.50, 25),
    ("claude-opus-5", 5, 6.25, 10, 0.50, 25),
    ("claude-opus-5-5", 4, 5, 8, 0.20, 20),
    ("claude-mythos-preview", 4, 5, 8, 0.20, 20),
    ("claude-sonnet-5", 2, 2.5, 4, 0.20, 10),
    ("claude-sonnet-5-5", 2, 2.5, 4, 0.10, 10),
    ("claude-fable-5", 10, 12.5, 20, 1.00, 50),
    ("claude-mythos-5", 10, 12.5, 20, 1.00, 50),
    ("claude-fable-5-1", 10, 12.5, 20, 0.25, 50),
    ("claude-mythos-5-1", 10, 12.5, 20, 0.25, 50),
    ("claude-fable-5-2", 8, 10, 16, 0.20, 40),
    ("claude-mythos-5-2", 8, 10, 16, 0.20, 40),
    ("claude-haiku-5-5", 0.10, 0.125, 0.20, 0.01, 0.50),  # total input <= 100,000
]
HAIKU_5_5_UPPER = ("claude-haiku-5-5", 0.50, 0.625, 1.00, 0.05, 2.50)  # > 100,000

# Distinct counts per bucket, so a rate in the wrong column shows; total input 46,022.
TOKENS = {"uncached": 1009, "write_5m": 2003, "write_1h": 3001, "read": 40009, "output": 509}
EXACT = 1e-9  # far inside the $0.000001 the issue asks for


def expected(rates, tokens=TOKENS) -> float:
    _, r_in, r_5m, r_1h, r_read, r_out = rates
    return (tokens["uncached"] * r_in + tokens["write_5m"] * r_5m + tokens["write_1h"] * r_1h
            + tokens["read"] * r_read + tokens["output"] * r_out) / 1e6


@pytest.mark.parametrize("rates", PUBLIC + MEASURED, ids=lambda r: r[0])
def test_every_row_of_the_facts_prices_a_call(shared_otlp, shared_store, rates):
    model = rates[0]
    shared_otlp.call(f"msg_{model}", model=model, **TOKENS)
    row = call(shared_store, f"msg_{model}")
    assert row["price_model"] != ""
    assert row["cost_usd"] == pytest.approx(expected(rates), abs=EXACT)
    _, r_in, r_5m, r_1h, r_read, r_out = rates
    assert row["rate_input_usd"] == pytest.approx(r_in / 1e6, abs=1e-15)
    assert row["rate_cache_write_5m_usd"] == pytest.approx(r_5m / 1e6, abs=1e-15)
    assert row["rate_cache_write_1h_usd"] == pytest.approx(r_1h / 1e6, abs=1e-15)
    assert row["rate_cache_read_usd"] == pytest.approx(r_read / 1e6, abs=1e-15)
    assert row["rate_output_usd"] == pytest.approx(r_out / 1e6, abs=1e-15)
    buckets = (row["cost_input_usd"] + row["cost_cache_write_5m_usd"]
               + row["cost_cache_write_1h_usd"] + row["cost_cache_read_usd"]
               + row["cost_output_usd"])
    assert row["cost_usd"] == pytest.approx(buckets, abs=EXACT)
    assert row["cost_server_tools_usd"] == 0
    # Without caching every input token is at the input rate.
    total_input = sum(TOKENS[k] for k in ("uncached", "write_5m", "write_1h", "read"))
    assert row["cost_uncached_usd"] == pytest.approx(
        (total_input * r_in + TOKENS["output"] * r_out) / 1e6, abs=EXACT)


def test_haiku_5_5_upper_tier_bills_the_whole_request(shared_otlp, shared_store):
    """docs/facts.md §2, measured: 50k uncached + 60k reads is billed at the upper tier,
    every bucket, output included."""
    tokens = {"uncached": 50_000, "write_5m": 0, "write_1h": 0, "read": 60_000,
              "output": 700}
    shared_otlp.call("msg_h", model="claude-haiku-5-5", **tokens)
    assert call(shared_store, "msg_h")["cost_usd"] == pytest.approx(
        expected(HAIKU_5_5_UPPER, tokens), abs=EXACT)


def test_measured_check_of_claude_code(shared_otlp, shared_store):
    """docs/facts.md §2: Sonnet 4.5, 50 input, 3000 5m-write, 12000 read, 7 output: Claude
    Code 2.1.328 reported 0.015105, exactly the table."""
    shared_otlp.call("msg_check", model="claude-sonnet-4-5", uncached=50, write_5m=3000,
              read=12000, output=7)
    assert call(shared_store, "msg_check")["cost_usd"] == pytest.approx(0.015105, abs=EXACT)


def test_claude_code_fixture_cost_equals_the_reported_one(shared_otlp, shared_store):
    """The Claude Code capture (docs/facts.md §5), every signal as it was sent: two calls
    on claude-sonnet-4-5 of 40 input / 2100 5m-write / 24500 read / 55 output, and the
    cost_usd Claude Code reported for each equals tokentrail's."""
    for signal, name in [("traces", "traces-0.otlp.json"), ("logs", "logs-0.otlp.json"),
                         ("logs", "logs-1.otlp.json"), ("metrics", "metrics-0.otlp.json")]:
        shared_otlp.post(signal, (CLAUDE_CODE_FIXTURES / name).read_bytes(),
                  {"Content-Type": "application/json"})
    calls = shared_store.query("SELECT * FROM llm_calls WHERE run_id = {s:String}",
                        {"s": "5a60c6c7-a475-4746-afc7-4f62b26fa781"})
    assert len(calls) == 2
    table = (40 * 3 + 2100 * 3.75 + 24500 * 0.30 + 55 * 15) / 1e6  # docs/facts.md §2
    for row in calls:
        assert row["price_model"] == "claude-sonnet-4-5"
        assert row["reported_cost_usd"] == pytest.approx(table, abs=EXACT)
        assert abs(row["cost_usd"] - row["reported_cost_usd"]) <= 0.000001
        assert row["cost_usd"] == pytest.approx(table, abs=EXACT)
    assert shared_store.query(
        "SELECT count() AS n FROM cost_disagreements WHERE run_id = {s:String}",
        {"s": "5a60c6c7-a475-4746-afc7-4f62b26fa781"})[0]["n"] == 0
