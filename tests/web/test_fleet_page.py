"""The fleet page and its JSON twin over a real embedded store fed through the
collector: each aggregate against a re-pricing from the published rates, the charts
drawn as SVG with their tables, the range picker, escaping."""

from __future__ import annotations

import html as htmllib
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.analysis.insights_agents import Call, cost
from tests.otlp import NOW_NS
from tests.web.ui_agents import (
    DAY,
    IMG,
    SCRIPT,
    assert_escaped,
    expired,
    ingest,
    loop,
    single,
    ui,
)
from tokentrail.store import Store
from tokentrail.web.formatting import usd

NOW = datetime.fromtimestamp(NOW_NS / 1e9, timezone.utc)
ODD_MODEL = "claude-<b>x</b>"  # no price: its cost is null, its name is telemetry

CALLS: list[Call] = [
    *loop("fl-a", at=-2 * DAY),
    *expired("fl-b", at=-1 * DAY),
    *single("fl-c", at=0.0),
    *single(IMG, at=-40 * DAY, service=SCRIPT),
]
OTHER_ODD_MODEL = "claude-<i>y</i>"
# A run on models without a price whose model changed: a cache event (model_changed)
# whose extra cost is unknown (null), as a hostile or unreleased model name gives.
ODD = [Call("fl-odd", 1, at=-1 * DAY + 60, model=ODD_MODEL, w5=3000, uncached=10, output=5,
            service=IMG),
       Call("fl-odd", 2, at=-1 * DAY + 70, model=OTHER_ODD_MODEL, w5=3000, uncached=10,
            output=5, service=IMG)]
IN_RANGE = [c for c in CALLS if c.at > -10 * DAY]
RANGE = {"start": (NOW - timedelta(days=10)).isoformat(),
         "end": (NOW + timedelta(days=1)).isoformat()}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator:
    store = Store.open(f"chdb://{tmp_path_factory.mktemp('fleet') / 'data'}")
    try:
        ingest(store, [*CALLS, *ODD])
        with ui(store) as c:
            yield c
    finally:
        store.close()


@pytest.fixture(scope="module")
def fleet(client) -> dict:
    return client.get("/api/fleet", params=RANGE).json()


@pytest.fixture(scope="module")
def page(client) -> str:
    response = client.get("/fleet", params=RANGE)
    assert response.status_code == 200
    return response.text


def day_of(c: Call) -> str:
    return (NOW + timedelta(seconds=c.at)).date().isoformat()


def test_cost_per_day_by_model_and_service(fleet):
    by_model: dict[tuple[str, str], float] = defaultdict(float)
    by_service: dict[tuple[str, str], float] = defaultdict(float)
    for c in IN_RANGE:
        by_model[(day_of(c), c.model)] += cost(c)
        by_service[(day_of(c), c.service)] += cost(c)
    got = {(r["day"], r["model"]): r["cost_usd"] for r in fleet["cost_by_day_model"]}
    for odd in ODD:  # unpriced
        assert got.pop((day_of(odd), odd.model)) in (None, 0)
    assert got == pytest.approx(dict(by_model), rel=1e-9)
    got = {(r["day"], r["service_name"]): r["cost_usd"] for r in fleet["cost_by_day_service"]}
    assert got.pop((day_of(ODD[0]), IMG)) in (None, 0)
    assert got == pytest.approx(dict(by_service), rel=1e-9)
    totals = fleet["totals"]
    assert totals["calls"] == len(IN_RANGE) + 2 and totals["runs"] == 4
    assert totals["unpriced_calls"] == 2
    assert totals["cost_usd"] == pytest.approx(sum(cost(c) for c in IN_RANGE), rel=1e-9)


def test_hit_rate_lost_money_sources_top_runs(fleet):
    rates = {r["day"]: r for r in fleet["hit_rate_by_day"]}
    loop_day = [c for c in IN_RANGE if c.run == "fl-a"]
    assert rates[day_of(loop_day[0])]["hit_rate"] == pytest.approx(
        sum(c.read for c in loop_day) / sum(c.total_in for c in loop_day))
    # fl-b's second call re-wrote the 3,000 tokens whose 5-minute entry had expired;
    # fl-odd's model changed between two models without a price: lost, but how much is
    # unknown.
    lost = {r["cause"]: (r["events"], r["extra_cost_usd"]) for r in fleet["lost_by_cause"]}
    assert lost == {"ttl_expired": (1, pytest.approx(3000 * 3.45 / 1e6)),
                    "model_changed": (1, None)}
    assert sum(r["calls"] for r in fleet["calls_by_source"]) == len(IN_RANGE) + 2
    top = [r["run_id"] for r in fleet["top_runs"]]
    priced = sorted({c.run for c in IN_RANGE},
                    key=lambda run: -sum(cost(c) for c in IN_RANGE if c.run == run))
    assert top == [*priced, "fl-odd"]  # the unpriced run last
    assert IMG not in top                # started 40 days before: outside the range


def test_the_html_shows_the_json_numbers(page, fleet):
    kpis = re.search(r'<section id="fleet-totals".*?</section>', page, re.S).group(0)
    assert usd(fleet["totals"]["cost_usd"]) in kpis
    # The total leaves out the calls on models without a price, and says so.
    assert fleet["totals"]["unpriced_calls"] == 2
    assert "(2 calls without a price not counted)" in re.sub(r"\s+", " ", kpis)
    table = re.search(r'<table class="chart-table data" id="cost-by-model-table">.*?</table>',
                      page, re.S).group(0)
    header = [htmllib.unescape(h) for h in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table)]
    assert header[0] == "Day" and header[-1] == "Total"
    assert set(header[1:-1]) == {c.model for c in IN_RANGE + ODD}
    body = {re.search(r'<th scope="row">(.*?)</th>', r).group(1):
            re.findall(r'<td class="num">(.*?)</td>', r)
            for r in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S)}
    for r in fleet["cost_by_day_model"]:
        if r["cost_usd"]:
            assert body[r["day"]][header.index(r["model"]) - 1] == usd(r["cost_usd"])
    top = re.search(r'<table id="top-runs-table".*?</table>', page, re.S).group(0)
    for run in fleet["top_runs"]:
        assert f'href="/runs/{run["run_id"]}"' in top
        assert usd(run["cost_usd"]) in top


def test_every_chart_is_svg_with_a_table(page, fleet):
    charts = re.findall(r'<svg class="chart fleet-chart ([a-z-]+)"', page)
    assert charts == ["stacked-chart", "stacked-chart", "line-chart", "hbar-chart",
                      "hbar-chart"]
    for chart_id in ("cost-by-model", "cost-by-service", "hit-rate", "lost-by-cause",
                     "calls-by-source"):
        assert f'<table class="chart-table data" id="{chart_id}-table">' in page, chart_id
    by_model = re.search(r'id="cost-by-model".*?</svg>', page, re.S).group(0)
    priced_cells = {(r["day"], r["model"]) for r in fleet["cost_by_day_model"] if r["cost_usd"]}
    assert len(re.findall(r'<rect class="seg ', by_model)) == len(priced_cells)
    assert 'data-series="claude-haiku-4-5"' in by_model
    line = re.search(r'<path class="rate-line" d="([^"]*)"', page).group(1)
    assert line.startswith("M") and len(re.findall(r"[ML]", line)) == len(fleet["hit_rate_by_day"])
    assert re.search(r'<g class="hbar" data-label="ttl_expired">', page)
    unpriced = re.search(r'<g class="hbar" data-label="model_changed">.*?</g>', page, re.S)
    assert 'width="0.0"' in unpriced.group(0) and "unpriced · 1 event<" in unpriced.group(0)
    assert "(1 event)" in unpriced.group(0) and "1 events" not in page
    kpis = re.search(r'<section id="fleet-totals".*?</section>', page, re.S).group(0)
    assert usd(3000 * 3.45 / 1e6) in kpis  # lost to cache events: the priced part


def test_range_picker_and_presets(client):
    page = client.get("/fleet", params=RANGE).text
    picker = re.search(r'<form id="range-picker".*?</form>', page, re.S).group(0)
    assert 'name="start"' in picker and 'name="end"' in picker
    for preset in ("7d", "30d", "90d"):
        assert f'href="?range={preset}"' in picker
    now = datetime.now(timezone.utc)
    for preset, days in (("7d", 7), ("90d", 90), (None, 30)):
        data = client.get("/api/fleet", params={"range": preset} if preset else {}).json()
        start, end = (datetime.fromisoformat(data[k].replace("Z", "+00:00"))
                      for k in ("start", "end"))
        assert end - start == timedelta(days=days)
        assert abs((end - now).total_seconds()) < 120
        assert data["range"] == (preset or "30d")
    wide = client.get("/api/fleet", params={
        "start": (NOW - timedelta(days=50)).date().isoformat(), "end": RANGE["end"]}).json()
    assert IMG in [r["run_id"] for r in wide["top_runs"]]
    assert wide["totals"]["runs"] == 5


@pytest.mark.parametrize(("params", "says"), [
    ({"range": "1y"}, "7d"),
    ({"start": "last tuesday"}, "ISO 8601"),
    ({"start": "2026-11-20", "end": "2026-11-10"}, "start must be before end"),
])
def test_bad_range_is_422(client, params, says):
    for path in ("/fleet", "/api/fleet"):
        response = client.get(path, params=params)
        assert response.status_code == 422 and says in response.text, path


def test_an_empty_range_says_so(client):
    response = client.get("/fleet", params={"start": "2020-01-01", "end": "2020-01-31"})
    assert response.status_code == 200
    assert "No calls between" in response.text and "<svg" not in response.text


def test_telemetry_is_escaped(client):
    page = client.get("/fleet", params={
        "start": (NOW - timedelta(days=50)).date().isoformat(), "end": RANGE["end"]}).text
    assert_escaped(page)
    assert "<b>x</b>" not in page and "claude-&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>y</i>" not in page and "claude-&lt;i&gt;y&lt;/i&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the service, in the legend


def test_openapi_documents_the_fleet_twin(client):
    schema = client.get("/api/openapi.json").json()
    fleet = schema["components"]["schemas"]["FleetPage"]["properties"]
    assert {"cost_by_day_model", "cost_by_day_service", "hit_rate_by_day", "lost_by_cause",
            "top_runs", "calls_by_source", "totals"} <= set(fleet)
    params = {p["name"] for p in schema["paths"]["/api/fleet"]["get"]["parameters"]}
    assert params == {"start", "end", "range"}



def test_chart_days_are_the_utc_days_the_store_reads():
    """The charts draw one bar per UTC day the range touches, the days the store's fleet
    read sums over: a range given in another offset counts in UTC days."""
    from tokentrail.web.fleet_charts import _days

    plus2 = timezone(timedelta(hours=2))
    start = datetime(2026, 1, 2, 1, 0, tzinfo=plus2)  # 2026-01-01 23:00 UTC
    end = datetime(2026, 1, 2, 3, 0, tzinfo=plus2)    # 2026-01-02 01:00 UTC
    assert [d.isoformat() for d in _days(start, end)] == ["2026-01-01", "2026-01-02"]
    utc = timezone.utc
    assert [d.isoformat() for d in _days(datetime(2026, 1, 1, tzinfo=utc),
                                         datetime(2026, 1, 3, tzinfo=utc))] == [
        "2026-01-01", "2026-01-02"]  # end is exclusive: midnight of the 3rd is not a day
