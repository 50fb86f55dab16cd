"""The runs page and its JSON twin, in-process through the ASGI client over a real
embedded store fed through the collector: costs against a re-pricing from the published
rates, filters, sort, paging, escaping, the UI token."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.analysis.insights_agents import Call
from tests.otlp import NOW_NS
from tests.web.ui_agents import (
    DAY,
    HAIKU,
    IMG,
    SCRIPT,
    SONNET,
    assert_escaped,
    expired,
    hit_rate,
    ingest,
    loop,
    run_cost,
    single,
    ui,
)
from tokentrail.store import Store
from tokentrail.web.formatting import percent, usd

REL = 1e-9
NOW = datetime.fromtimestamp(NOW_NS / 1e9, timezone.utc)

CALLS: list[Call] = [
    *loop("loop-a", at=-2 * DAY),
    *expired("expired-b", at=-1 * DAY),
    *single("haiku-c", at=0.0),
    *single(IMG, at=-3 * DAY, service=SCRIPT, model=SONNET, uncached=100),
]
NEWEST_FIRST = ["haiku-c", "expired-b", "loop-a", IMG]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[dict]:
    """One store for the module (a store costs seconds): the empty page is read
    before the agents are sent."""
    store = Store.open(f"chdb://{tmp_path_factory.mktemp('runs') / 'data'}")
    try:
        with ui(store) as client:
            empty = client.get("/")
            ingest(store, list(CALLS))
            yield {"store": store, "client": client, "empty": empty}
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(seeded):
    return seeded["client"]


def ids(data: dict) -> list[str]:
    return [r["run_id"] for r in data["runs"]]


def rows(page: str) -> dict[str, str]:
    """run id -> the markup of its row in <table id="runs">."""
    table = re.search(r'<table id="runs".*?</table>', page, re.S)
    assert table, "no runs table"
    return {htmllib.unescape(rid): body for rid, body in
            re.findall(r'<tr data-run-id="([^"]*)">(.*?)</tr>', table.group(0), re.S)}


def cell(row: str, css: str) -> str:
    match = re.search(rf'<td class="{css}"[^>]*>(.*?)</td>', row, re.S)
    assert match, f"no {css} cell"
    return htmllib.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_empty_store_says_how_to_send_data(seeded):
    response = seeded["empty"]
    assert response.status_code == 200
    assert "No LLM calls yet" in response.text
    assert "import tokentrail.auto" in response.text
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in response.text
    assert "http://127.0.0.1:4318" in response.text


def test_runs_with_cost_hit_rate_and_events(client):
    data = client.get("/api/runs").json()
    assert data["total"] == 4 and data["pages"] == 1
    assert ids(data) == NEWEST_FIRST
    by_id = {r["run_id"]: r for r in data["runs"]}
    for run in NEWEST_FIRST:
        assert by_id[run]["cost_usd"] == pytest.approx(run_cost(CALLS, run), rel=REL), run
        assert by_id[run]["hit_rate"] == pytest.approx(hit_rate(CALLS, run), rel=REL), run
    loop_a = by_id["loop-a"]
    assert (loop_a["calls"], loop_a["input_tokens"], loop_a["cache_read_tokens"],
            loop_a["cache_write_5m_tokens"], loop_a["output_tokens"]) == (3, 30, 6200, 3400, 300)
    assert loop_a["models"] == [SONNET] and loop_a["service_name"] == "alpha"
    # The cache entry of expired-b's turn 1 expired before turn 2: one event, and the
    # re-written 3,000 tokens cost (write - read rate) more than reading them.
    assert by_id["expired-b"]["events"] == 1
    assert by_id["expired-b"]["events_cost_usd"] == pytest.approx(3000 * (3.75 - 0.30) / 1e6)
    assert [by_id[r]["events"] for r in ("loop-a", "haiku-c", IMG)] == [0, 0, 0]


def test_html_shows_the_numbers_of_the_json(client):
    data = client.get("/api/runs").json()
    page = client.get("/").text
    table = rows(page)
    assert list(table) == ids(data)
    for run in data["runs"]:
        row = table[run["run_id"]]
        assert cell(row, "num cost") == usd(run["cost_usd"])
        assert cell(row, "num hit-rate") == percent(run["hit_rate"], 0)
        assert cell(row, "num events") == str(run["events"])
    # The costs of the seeded runs, independently: $0.0135 for loop-a, for example.
    assert cell(table["loop-a"], "num cost") == usd(run_cost(CALLS, "loop-a"))


def test_filters_change_the_rows(client):
    def runs(**params) -> list[str]:
        return ids(client.get("/api/runs", params=params).json())

    assert runs(service="alpha") == ["expired-b", "loop-a"]
    assert runs(service=SCRIPT) == [IMG]
    assert runs(model=HAIKU) == ["haiku-c"]
    assert runs(has_events="true") == ["expired-b"]
    assert runs(has_events="false") == ["haiku-c", "loop-a", IMG]
    day = (NOW - timedelta(days=2)).date().isoformat()
    assert runs(start=day, end=day) == ["loop-a"]          # a bare end date: that whole day
    assert runs(start=day) == ["haiku-c", "expired-b", "loop-a"]
    assert runs(end=(NOW - timedelta(days=2)).isoformat()) == [IMG]  # end is exclusive
    assert runs(end=(NOW - timedelta(days=2, seconds=-1)).isoformat()) == ["loop-a", IMG]
    assert runs(service="alpha", has_events="false") == ["loop-a"]
    assert runs(service="nobody") == []
    costliest = runs(sort="cost")
    assert costliest == sorted(NEWEST_FIRST, key=lambda r: -run_cost(CALLS, r))
    assert costliest != NEWEST_FIRST
    # The HTML page applies the same filters.
    page = client.get("/", params={"service": "alpha"}).text
    assert list(rows(page)) == ["expired-b", "loop-a"]
    assert '<option value="alpha" selected>' in page
    assert "No runs match these filters" in client.get("/", params={"service": "nobody"}).text


def test_filter_form_and_run_links(client):
    page = client.get("/").text
    form = re.search(r'<form id="run-filters".*?</form>', page, re.S).group(0)
    for name in ("service", "model", "start", "end", "has_events", "sort"):
        assert f'name="{name}"' in form, name
    assert 'method="get"' in form
    table = rows(page)
    assert 'href="/runs/loop-a"' in table["loop-a"]
    assert 'href="/runs/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"' in table[IMG]
    # The options of the selects are the services and models of the store.
    assert '<option value="beta">' in form and f'<option value="{HAIKU}">' in form


def form_values(page: str, **chosen: str) -> dict[str, str]:
    """What the filter form submits: every field's current value (a select's selected
    option, else its first), with ``chosen`` ones changed, as a browser would."""
    form = re.search(r'<form id="run-filters".*?</form>', page, re.S).group(0)
    values = {}
    for name, options in re.findall(r'<select name="([^"]+)">(.*?)</select>', form, re.S):
        picked = (re.search(r'<option value="([^"]*)" selected>', options)
                  or re.search(r'<option value="([^"]*)"', options))
        values[name] = htmllib.unescape(picked.group(1))
    for name, value in re.findall(r'<input name="([^"]+)" type="[^"]+" value="([^"]*)"', form):
        values[name] = htmllib.unescape(value)
    return {**values, **chosen}


def test_the_form_as_submitted_applies(client):
    """Apply with nothing changed sends every field, the empty ones included
    (has_events=, start=, end=): that is the unfiltered list."""
    params = form_values(client.get("/").text)
    assert params == {"service": "", "model": "", "start": "", "end": "", "has_events": "",
                      "sort": "recent"}
    assert list(rows(client.get("/", params=params).text)) == NEWEST_FIRST
    params = form_values(client.get("/", params=params).text, service="alpha",
                         has_events="false")
    response = client.get("/", params=params)
    assert response.status_code == 200, response.text
    assert list(rows(response.text)) == ["loop-a"]
    assert form_values(response.text)["has_events"] == "false"   # the form keeps its state
    assert client.get("/api/runs", params={"has_events": ""}).json()["total"] == 4


def test_paging_keeps_the_filters(client):
    page2 = client.get("/api/runs", params={"per_page": 1, "page": 2}).json()
    assert (page2["total"], page2["pages"], ids(page2)) == (4, 4, ["expired-b"])
    html = client.get("/", params={"service": "alpha", "per_page": 1, "page": 2}).text
    assert list(rows(html)) == ["loop-a"]
    assert "Page 2 of 2" in html
    prev = re.search(r'<a rel="prev" href="([^"]*)"', html).group(1)
    assert "service=alpha" in prev and "page=1" in prev and "per_page=1" in prev
    assert 'rel="next"' not in html
    past = client.get("/api/runs", params={"per_page": 1, "page": 9}).json()
    assert past["runs"] == [] and past["total"] == 4


@pytest.mark.parametrize("path", ["/", "/api/runs"])
@pytest.mark.parametrize(("params", "says"), [
    ({"start": "yesterday"}, "ISO 8601"),
    ({"end": "2026-13-45"}, "ISO 8601"),
    ({"start": "2026-11-24", "end": "2026-11-20"}, "start must be before end"),
    ({"sort": "cheapest"}, "recent"),
    ({"has_events": "maybe"}, "bool"),
    ({"page": "0"}, "greater than or equal to 1"),
])
def test_bad_parameters_are_422_with_a_reason(client, path, params, says):
    response = client.get(path, params=params)
    assert response.status_code == 422
    # A page answers with a page that says what was wrong, its twin with JSON.
    kind = "application/json" if path.startswith("/api/") else "text/html"
    assert response.headers["content-type"].startswith(kind)
    assert says in (response.text if kind == "text/html" else str(response.json()["detail"]))


def test_telemetry_is_escaped(client):
    page = client.get("/").text
    assert_escaped(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # A hostile filter value is shown back escaped too.
    assert_escaped(client.get("/", params={"service": SCRIPT, "model": IMG}).text)


def test_calls_of_a_run_are_in_its_json(client):
    """/api/runs/{id} lists a run's calls in order; no route shadows a run id that ends
    in /calls (run ids may contain slashes)."""
    calls = client.get("/api/runs/loop-a").json()["calls"]
    assert [c["turn"] for c in calls] == [1, 2, 3]
    assert [c["position"] for c in calls] == [1, 2, 3]
    response = client.get("/api/runs/loop-a/calls")
    assert response.status_code == 404 and "loop-a/calls" in response.json()["detail"]


def test_openapi_documents_the_runs_twin(client):
    schema = client.get("/api/openapi.json").json()
    assert "RunsPage" in schema["components"]["schemas"]
    row = schema["components"]["schemas"]["RunListRow"]["properties"]
    assert {"cost_usd", "hit_rate", "events", "run_id"} <= set(row)
    params = {p["name"] for p in schema["paths"]["/api/runs"]["get"]["parameters"]}
    assert {"service", "model", "start", "end", "has_events", "sort", "page",
            "per_page"} <= params


def test_ui_token_covers_the_pages_and_their_twins(seeded):
    with ui(seeded["store"], token="t0k") as client:
        for path in ("/", "/api/runs", "/fleet", "/api/fleet", "/insights", "/api/insights",
                     "/api/whatif?scenario=batch", "/api/openapi.json"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code \
                == 401, path
        assert client.get("/api/runs", headers={"Authorization": "Bearer t0k"}).json()["total"] == 4
        response = client.get("/?token=t0k", follow_redirects=False)
        assert response.status_code == 303 and "token" not in response.headers["location"]
        assert client.get("/").status_code == 200  # the cookie now carries it


def test_healthz(client):
    assert client.get("/healthz").json()["status"] == "ok"
