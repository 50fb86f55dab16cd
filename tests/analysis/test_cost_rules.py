"""Each pricing rule of docs/facts.md §2, one call per case through the real ingest path
(OTLP/HTTP in, ``llm_calls`` out): dated and platform ids, unknown models, Message
Batches, 5m vs 1h writes, whole-request tiers on both sides of each boundary, fast mode,
US-only inference, server tools, price changes by date, and the source's own cost."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.analysis.conftest import call
from tokentrail import semconv as sc
from tokentrail.analysis import prices

EXACT = 1e-9
COST_COLUMNS = ("rate_input_usd", "rate_cache_read_usd", "rate_cache_write_5m_usd",
                "rate_cache_write_1h_usd", "rate_output_usd", "cost_input_usd",
                "cost_cache_read_usd", "cost_cache_write_5m_usd", "cost_cache_write_1h_usd",
                "cost_output_usd", "cost_server_tools_usd", "cost_usd", "cost_uncached_usd")
# Sonnet 4.5 (docs/facts.md §2), USD per million: input, 5m, 1h, read, output; and the
# long-context rates with the 1M beta above 200k total input.
SONNET_45 = (3, 3.75, 6, 0.30, 15)
SONNET_45_LONG = (6, 7.5, 12, 0.60, 22.5)
BETA_1M = "context-1m-2025-08-07"
TOKENS = {"uncached": 1200, "write_5m": 3400, "write_1h": 560, "read": 78000, "output": 910}


def priced(rates, tokens=TOKENS, factor: float = 1.0) -> float:
    r_in, r_5m, r_1h, r_read, r_out = rates
    return factor * (tokens["uncached"] * r_in + tokens["write_5m"] * r_5m
                     + tokens["write_1h"] * r_1h + tokens["read"] * r_read
                     + tokens["output"] * r_out) / 1e6


def ns(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() * 1e9)


@pytest.mark.parametrize("model", [
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",                                  # dated
    "anthropic.claude-sonnet-4-5-20250929-v1:0",                   # Bedrock
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",                # Bedrock inference profile
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",            # Bedrock ARN
    "claude-sonnet-4-5@20250929",                                  # Vertex
    "claude-sonnet-4-5[1m]",                                       # Claude Code's tag
    "Claude-Sonnet-4.5",                                           # dotted, any case
])
def test_dated_and_platform_ids_price_as_their_family(shared_otlp, shared_store, model):
    shared_otlp.call(f"msg_id_{model}", model=model, **TOKENS)
    row = call(shared_store, f"msg_id_{model}")
    assert row["price_model"] == "claude-sonnet-4-5"
    assert row["cost_usd"] == pytest.approx(priced(SONNET_45), abs=EXACT)


def test_aliases_price_as_their_family(shared_otlp, shared_store):
    shared_otlp.call("msg_alias", model="claude-opus-4-0", uncached=1000, output=100)
    row = call(shared_store, "msg_alias")
    assert row["price_model"] == "claude-opus-4"
    assert row["cost_usd"] == pytest.approx((1000 * 15 + 100 * 75) / 1e6, abs=EXACT)


@pytest.mark.parametrize("model", ["claude-haiku-5", "claude-unknown-9", "gpt-4o"])
def test_an_unknown_model_gets_null_never_a_guess(shared_otlp, shared_store, model):
    shared_otlp.call(f"msg_unknown_{model}", model=model, **TOKENS)
    row = call(shared_store, f"msg_unknown_{model}")
    assert row["price_model"] == ""
    assert {c: row[c] for c in COST_COLUMNS} == dict.fromkeys(COST_COLUMNS)
    unpriced = {(r["model"], r["reason"]) for r in prices.unpriced_models(shared_store.client)}
    assert (model, "no price for this model") in unpriced


@pytest.mark.parametrize("batch", [
    {sc.ANTHROPIC_USAGE_SERVICE_TIER: "batch"},  # the response's usage.service_tier
    {sc.IS_BATCH: True},                         # tokentrail's Message Batches results
])
def test_batch_halves_every_bucket_stacking_with_the_cache_multipliers(
        shared_otlp, shared_store, batch):
    key = f"msg_batch_{next(iter(batch))}"
    shared_otlp.call(key, model="claude-sonnet-4-5", **TOKENS, **batch)
    row = call(shared_store, key)
    assert row["is_batch"]
    assert row["cost_usd"] == pytest.approx(priced(SONNET_45, factor=0.5), abs=EXACT)
    assert row["rate_cache_read_usd"] == pytest.approx(0.30 / 2 / 1e6, abs=1e-15)
    assert row["rate_cache_write_1h_usd"] == pytest.approx(6 / 2 / 1e6, abs=1e-15)


def test_batch_stacks_with_long_context(shared_otlp, shared_store):
    tokens = dict(TOKENS, read=250_000)
    shared_otlp.call("msg_batch_long", model="claude-sonnet-4-5-20250929", **tokens,
                     **{sc.IS_BATCH: True, sc.REQUEST_BETAS: [BETA_1M]})
    row = call(shared_store, "msg_batch_long")
    assert row["cost_usd"] == pytest.approx(priced(SONNET_45_LONG, tokens, 0.5), abs=EXACT)


def test_1h_writes_cost_twice_the_input_and_5m_writes_a_quarter_more(shared_otlp, shared_store):
    shared_otlp.call("msg_1h", model="claude-sonnet-4-5", write_1h=10_000)
    shared_otlp.call("msg_5m", model="claude-sonnet-4-5", write_5m=10_000)
    assert call(shared_store, "msg_1h")["cost_usd"] == pytest.approx(10_000 * 6 / 1e6, abs=EXACT)
    assert call(shared_store, "msg_5m")["cost_usd"] == pytest.approx(
        10_000 * 3.75 / 1e6, abs=EXACT)
    assert call(shared_store, "msg_1h")["cost_cache_write_1h_usd"] == pytest.approx(
        0.06, abs=EXACT)


HAIKU_55 = (0.10, 0.125, 0.20, 0.01, 0.50)
HAIKU_55_UPPER = (0.50, 0.625, 1.00, 0.05, 2.50)


@pytest.mark.parametrize(("name", "tokens", "rates"), [
    # Total input = uncached + reads + writes; the threshold is 100,000 (docs/facts.md §2).
    ("at", {"uncached": 40_000, "read": 50_000, "write_5m": 9_000, "write_1h": 1_000,
            "output": 500}, HAIKU_55),
    ("above", {"uncached": 40_001, "read": 50_000, "write_5m": 9_000, "write_1h": 1_000,
               "output": 500}, HAIKU_55_UPPER),
])
def test_haiku_5_5_tier_boundary(shared_otlp, shared_store, name, tokens, rates):
    shared_otlp.call(f"msg_haiku_{name}", model="claude-haiku-5-5", **tokens)
    assert call(shared_store, f"msg_haiku_{name}")["cost_usd"] == pytest.approx(
        priced(rates, tokens), abs=EXACT)


@pytest.mark.parametrize(("name", "model", "read", "betas", "rates"), [
    ("at", "claude-sonnet-4-5", 200_000 - 1200 - 3400 - 560, [BETA_1M], SONNET_45),
    ("above", "claude-sonnet-4-5", 200_001 - 1200 - 3400 - 560, [BETA_1M], SONNET_45_LONG),
    # The beta as a comma-separated string (how tokentrail's instrumentation sends it).
    ("above-string", "claude-sonnet-4-5", 250_000, f"other-beta,{BETA_1M}", SONNET_45_LONG),
    ("sonnet-4", "claude-sonnet-4-20250514", 250_000, [BETA_1M], SONNET_45_LONG),
    # Without the beta a 215k request is billed at the standard rates (measured).
    ("no-beta", "claude-sonnet-4-5", 215_000 - 1200 - 3400 - 560, None, SONNET_45),
    # Sonnet 4.6 has a 1M window at its standard price.
    ("sonnet-4-6", "claude-sonnet-4-6", 300_000, [BETA_1M], SONNET_45),
])
def test_long_context_boundary(shared_otlp, shared_store, name, model, read, betas, rates):
    tokens = dict(TOKENS, read=read)
    extra = {sc.REQUEST_BETAS: betas} if betas is not None else {}
    shared_otlp.call(f"msg_long_{name}", model=model, **tokens, **extra)
    assert call(shared_store, f"msg_long_{name}")["cost_usd"] == pytest.approx(
        priced(rates, tokens), abs=EXACT)


@pytest.mark.parametrize(("model", "speed", "factor"), [
    ("claude-opus-4-6", "fast", 6),       # fast-mode page: $30 / $150
    ("claude-opus-4-7", "fast", 6),
    ("claude-opus-4-8", "fast", 2),       # $10 / $50
    ("claude-opus-4-6", "standard", 1),
    ("claude-opus-4-5", "fast", None),    # no known fast price: no price at all
    ("claude-opus-4-6", "turbo", None),   # a speed nobody priced
])
def test_fast_mode(shared_otlp, shared_store, model, speed, factor):
    key = f"msg_speed_{model}_{speed}"
    shared_otlp.call(key, model=model, **TOKENS, **{sc.REQUEST_SPEED: speed})
    row = call(shared_store, key)
    assert row["speed"] == speed
    assert row["price_model"] == model
    opus = (5, 6.25, 10, 0.50, 25)
    if factor is None:
        assert row["cost_usd"] is None and row["rate_input_usd"] is None
        reasons = {(r["model"], r["reason"])
                   for r in prices.unpriced_models(shared_store.client)}
        assert (model, f"no price for speed {speed}") in reasons
    else:
        assert row["cost_usd"] == pytest.approx(priced(opus, factor=factor), abs=EXACT)


@pytest.mark.parametrize(("model", "geo", "factor"), [
    ("claude-opus-4-6", "us", 1.1),
    ("claude-sonnet-5-5", "us", 1.1),
    ("claude-opus-4-6", "global", 1),
    ("claude-sonnet-4-5", "us", None),  # before Opus 4.6: refused by the API, so unknown
])
def test_us_only_inference(shared_otlp, shared_store, model, geo, factor):
    key = f"msg_geo_{model}_{geo}"
    shared_otlp.call(key, model=model, uncached=1000, output=100,
                     **{sc.REQUEST_INFERENCE_GEO: geo})
    row = call(shared_store, key)
    if factor is None:
        assert row["cost_usd"] is None
    else:
        base = {"claude-opus-4-6": (5, 25), "claude-sonnet-5-5": (2, 10)}[model]
        assert row["cost_usd"] == pytest.approx(
            factor * (1000 * base[0] + 100 * base[1]) / 1e6, abs=EXACT)


def test_fast_and_us_only_and_batch_multiply(shared_otlp, shared_store):
    shared_otlp.call("msg_all", model="claude-opus-4-6", **TOKENS,
                     **{sc.REQUEST_SPEED: "fast", sc.REQUEST_INFERENCE_GEO: "us",
                        sc.IS_BATCH: True})
    assert call(shared_store, "msg_all")["cost_usd"] == pytest.approx(
        priced((5, 6.25, 10, 0.50, 25), factor=6 * 1.1 * 0.5), abs=EXACT)


def test_web_search_is_billed_per_search_and_web_fetch_is_free(shared_otlp, shared_store):
    shared_otlp.call("msg_search", model="claude-sonnet-4-5", **TOKENS,
                     **{sc.USAGE_WEB_SEARCH_REQUESTS: 3, sc.USAGE_WEB_FETCH_REQUESTS: 2,
                        sc.IS_BATCH: True})
    row = call(shared_store, "msg_search")
    assert row["cost_server_tools_usd"] == pytest.approx(0.03, abs=EXACT)  # $10 / 1,000
    assert row["cost_usd"] == pytest.approx(priced(SONNET_45, factor=0.5) + 0.03, abs=EXACT)
    assert row["cost_uncached_usd"] - row["cost_usd"] == pytest.approx(
        0.5 * (sum(TOKENS[k] for k in ("write_5m", "write_1h", "read")) * 3
               - TOKENS["write_5m"] * 3.75 - TOKENS["write_1h"] * 6
               - TOKENS["read"] * 0.30) / 1e6, abs=EXACT)


@pytest.mark.parametrize(("day", "read_price"), [
    ("2026-10-06T23:59:59", 0.20),  # before Sonnet 5.5's read price cut
    ("2026-10-07T00:00:00", 0.10),  # from the day of the cut
])
def test_a_price_change_applies_from_its_date(shared_otlp, shared_store, day, read_price):
    shared_otlp.call(f"msg_date_{day}", model="claude-sonnet-5-5", read=1_000_000,
                     start_ns=ns(day))
    assert call(shared_store, f"msg_date_{day}")["cost_usd"] == pytest.approx(
        read_price, abs=EXACT)


def test_disagreements_with_the_reported_cost_are_listed_with_both_numbers(
        shared_otlp, shared_store):
    right = (1000 * 3 + 100 * 15) / 1e6
    shared_otlp.call("msg_agrees", model="claude-sonnet-4-5", uncached=1000, output=100,
                     cost_usd=right)
    shared_otlp.call("msg_differs", model="claude-sonnet-4-5", uncached=1000, output=100,
                     cost_usd=right + 0.0000011)
    shared_otlp.call("msg_unpriced", model="claude-haiku-5", uncached=1000, output=100,
                     cost_usd=0.002)
    listed = {r["call_id"]: r for r in shared_store.query(
        "SELECT * FROM cost_disagreements WHERE call_id LIKE 'msg\\_%'")}
    assert "msg_agrees" not in listed
    differs = listed["msg_differs"]
    assert differs["reported_cost_usd"] == pytest.approx(right + 0.0000011, abs=1e-12)
    assert differs["cost_usd"] == pytest.approx(right, abs=EXACT)
    assert differs["difference_usd"] == pytest.approx(-0.0000011, abs=1e-12)
    assert listed["msg_unpriced"]["cost_usd"] is None
    total, rows = prices.disagreements(shared_store.client)
    assert total >= 2
    assert {"msg_differs", "msg_unpriced"} <= {r["call_id"] for r in rows}
