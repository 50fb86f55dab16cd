"""The run timeline page and its JSON twin, in-process through the ASGI test client over
a real chDB store: what the chart, the summary and the turns table say about a run."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.analysis.calls import insert, loop
from tests.analysis.conftest import collector
from tests.instrumentation.conftest import (  # noqa: F401  (fixtures used by name)
    client,
    emu,
    exporter,
    instrumentor,
    provider,
)
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tests.web.page_dom import parse
from tests.web.run_agents import hand_run, timestamp_agent, with_system_change
from tokentrail import semconv as sc
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows
from tokentrail.store import Store
from tokentrail.web import formatting
from tokentrail.web.app import create_app

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>']


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Store]:
    """One store for the module (a store costs seconds to open); every test uses run
    and call ids of its own. chDB holds one data path per process at a time, so this
    replaces the per-test store of tests/conftest.py here."""
    s = Store.open(f"chdb://{tmp_path_factory.mktemp('run-page') / 'data'}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def otlp(store):
    with collector(store) as poster:
        yield poster


@pytest.fixture(scope="module")
def web(store):
    return TestClient(create_app(store))


def _run_id(store, name: str) -> str:
    rows = store.query("SELECT DISTINCT run_id FROM llm_calls WHERE run_name = {n:String}",
                       {"n": name})
    assert len(rows) == 1, rows
    return rows[0]["run_id"]


def _numbers(node, attr: str) -> float:
    return float(node.attrs[attr])


def test_the_8_turn_agent_has_a_system_changed_marker_on_turn_5(
        store, web, client, exporter, otlp):  # noqa: F811
    agent = timestamp_agent(client, exporter, otlp)
    run_id = _run_id(store, "timestamp-agent")
    response = web.get(f"/runs/{quote(run_id)}")
    assert response.status_code == 200
    page = parse(response.text)
    assert page.find("h1").text.strip() == "timestamp-agent"

    chart = page.find("svg", "timeline-chart")
    assert "chart" in chart.classes and chart.attrs["role"] == "img"
    for ident in chart.attrs["aria-labelledby"].split():
        assert page.by_id(ident).text.strip(), f"the chart's label {ident} is empty"
    segments = chart.find_all("rect", "seg")
    assert {int(s.attrs["data-turn"]) for s in segments} == set(range(1, 9))
    kinds = {c for s in segments for c in s.classes if c.startswith("seg-")}
    # the agent's buckets: every turn writes, turns 2+ read, every turn outputs
    assert {"seg-cache-read", "seg-write-5m", "seg-output"} <= kinds
    assert kinds <= {"seg-input", "seg-cache-read", "seg-write-5m", "seg-write-1h",
                     "seg-output"}
    # bars in turn order, left to right
    lefts = [min(_numbers(s, "x") for s in segments if s.attrs["data-turn"] == str(t))
             for t in range(1, 9)]
    assert lefts == sorted(lefts) and len(set(lefts)) == 8
    # the cumulative cost: a line over 8 points, rising, on a $ axis
    path = chart.find("path", "cost-line").attrs["d"]
    points = [tuple(map(float, p[1:].split(","))) for p in path.split()]
    assert len(points) == 8
    assert [y for _, y in points] == sorted((y for _, y in points), reverse=True)
    assert any(t.text.startswith("$") for t in chart.find("g", "axis-cost").find_all("text"))
    assert "tokens per turn" in chart.text and "turn" in chart.text

    markers = chart.find_all("a", "event-marker")
    assert len(markers) == 1
    marker = markers[0]
    assert (marker.attrs["data-turn"], marker.attrs["data-cause"]) == ("5", "system_changed")
    assert marker.attrs["href"] == f"/calls/{agent['ids'][4]}"
    assert marker.attrs["tabindex"] == "0"
    label = marker.attrs["aria-label"]
    assert label.startswith("turn 5: system_changed:") and "timestamp" in label
    assert "$" in label and marker.find("title").text == label
    circle = marker.find("circle")
    bar5 = [s for s in segments if s.attrs["data-turn"] == "5"]
    left = min(_numbers(s, "x") for s in bar5)
    right = max(_numbers(s, "x") + _numbers(s, "width") for s in bar5)
    assert left <= _numbers(circle, "cx") <= right, "the marker is not over turn 5's bar"
    assert "cause-system_changed" in marker.classes

    table = page.find("table", "chart-table")
    assert [r.attrs["data-turn"] for r in table.find("tbody").find_all("tr")] == \
        [str(t) for t in range(1, 9)]
    turns = page.find("table", id="turns").find("tbody").find_all("tr")
    assert len(turns) == 8
    assert "system_changed" in turns[4].text and "has-event" in turns[4].classes
    assert all("system_changed" not in row.text for i, row in enumerate(turns) if i != 4)
    assert turns[0].find("a").attrs["href"] == f"/calls/{agent['ids'][0]}"

    summary = page.by_id("run-summary")
    data = web.get(f"/api/runs/{quote(run_id)}").json()
    run = data["run"]
    assert run["calls"] == 8 and run["events"] == 1
    assert [(e["turn"], e["cause"]) for e in data["events"]] == [(5, "system_changed")]
    assert [c["call_id"] for c in data["calls"]] == agent["ids"]
    assert data["cost_saved_usd"] == pytest.approx(run["cost_uncached_usd"] - run["cost_usd"])
    assert data["cost_saved_usd"] > 0  # 7 of 8 turns read most of their prompt
    # what the summary shows is what the JSON says
    text = " ".join(summary.text.split())
    assert f"Cost {formatting.usd(run['cost_usd'])}" in text
    assert f"Saved by caching {formatting.usd(data['cost_saved_usd'])}" in text
    assert "Cache events 1" in text
    assert f"Cache hit rate {formatting.percent(run['hit_rate'])}" in text
    # the legend names the cause and what its events cost
    legend = " ".join(page.find("div", "legend").text.split())
    assert f"system_changed {formatting.usd(data['events'][0]['extra_cost_usd'])}" in legend


def test_the_run_json_is_documented_in_the_openapi_schema(web):
    schema = web.get("/api/openapi.json").json()
    assert "/api/runs/{run_id}" in schema["paths"]
    assert "RunPage" in schema["components"]["schemas"]
    fields = schema["components"]["schemas"]["RunPage"]["properties"]
    assert {"run", "calls", "events", "summary", "children", "cost_saved_usd", "live"} <= \
        set(fields)


def test_a_500_turn_run_stays_small_and_legible(store, web):
    hand_run(store, "long", 500, system_tokens=2000, turn_tokens=150, gap=5)
    response = web.get("/runs/long")
    assert response.status_code == 200
    size = len(response.content)
    # measured 545 kB for this run (chart 160 kB, chart table 107 kB, turns 280 kB); a page
    # that drew per-turn labels or one element per token would be many times that
    assert size < 2_000_000, f"{size} bytes for a 500-turn run"
    page = parse(response.text)
    chart = page.find("svg", "timeline-chart")
    assert len({s.attrs["data-turn"] for s in chart.find_all("rect", "seg")}) == 500
    width = {float(s.attrs["width"]) for s in chart.find_all("rect", "seg")}
    assert max(width) < 3, "500 bars must be thin"
    labels = [t.text for t in chart.find("g", "axis-turns").find_all("text")
              if t.text.isdigit()]
    assert 5 <= len(labels) <= 25 and labels[0] == "1" and labels[-1] == "500"
    assert not chart.find_all("circle", "cost-dot"), "no dots on a 500-point line"
    assert len(page.find("table", id="turns").find("tbody").find_all("tr")) == 500
    assert len(web.get("/api/runs/long").json()["calls"]) == 500


def test_a_hand_written_change_lands_on_its_turn_with_its_cost(store, web):
    calls = with_system_change(loop(20), 12)
    insert(store, "twelve", calls)
    data = web.get("/api/runs/twelve").json()
    assert [(e["turn"], e["cause"]) for e in data["events"]] == [(12, "system_changed")]
    event = data["events"][0]
    page = parse(web.get("/runs/twelve").text)
    marker = page.find("a", "event-marker")
    assert marker.attrs["data-turn"] == "12"
    # the tooltip's data: the detail, the tokens not read and what they cost
    assert marker.attrs["data-detail"] == event["detail"]
    assert marker.attrs["data-extra"] == formatting.usd(event["extra_cost_usd"])
    assert marker.attrs["data-missed"] == formatting.counted(
        event["missed_tokens"], "token", short=True)
    assert event["missed_tokens"] > 0 and event["extra_cost_usd"] > 0
    summary = " ".join(page.by_id("run-summary").text.split())
    assert "Cache events 1" in summary


def _span(run_id: str, response_id: str, *, start_ns: int, model: str = "claude-sonnet-4-5",
          name: str = "", parent: str = "", service: str = "agent",
          duration_ns: int = 1_500_000_000):
    attrs = anthropic_call_attrs(response_id=response_id, uncached=100, read=0, write=0,
                                 output=10, model=model)
    attrs[sc.RUN_ID] = run_id
    if name:
        attrs[sc.RUN_NAME] = name
    if parent:
        attrs[sc.RUN_PARENT_ID] = parent
    return trace_rows(trace_request([span(attrs, start_ns=start_ns, duration_ns=duration_ns)],
                                    service=service))


def _post(store, rows) -> None:
    store.insert("otel_traces", rows, TRACE_COLUMNS)


def test_parent_and_child_runs_link_to_each_other(store, web):
    _post(store, _span("lead", "msg_lead", start_ns=NOW_NS, name="lead agent"))
    _post(store, _span("sub", "msg_sub", start_ns=NOW_NS + 10**9, name="researcher",
                       parent="lead"))
    lead = parse(web.get("/runs/lead").text)
    children = lead.find_all("a", "child-run")
    assert [(a.attrs["href"], a.text) for a in children] == [("/runs/sub", "researcher")]
    assert "(1 turn, " in " ".join(lead.find("p", "related").text.split()), \
        "a one-call child says 1 turn"
    sub = parse(web.get("/runs/sub").text)
    assert sub.find("h1").text.strip() == "researcher"
    assert {(a.attrs["href"], a.text) for a in sub.find_all("a", "parent-run")} == {
        ("/runs/lead", "lead agent")}, "the parent link names the parent run"
    data = web.get("/api/runs/sub").json()
    assert (data["parent"], data["parent_name"]) == ("lead", "lead agent")
    lead_json = web.get("/api/runs/lead").json()
    assert [c["run_id"] for c in lead_json["children"]] == ["sub"]
    # one run row shape: the run page's row and child rows are the runs list's rows
    listed = {r["run_id"]: r for r in web.get("/api/runs?per_page=500").json()["runs"]}
    assert lead_json["children"][0] == listed["sub"] == data["run"]
    assert lead_json["run"] == listed["lead"] and lead_json["run"]["parent_run_id"] == ""
    assert data["run"]["parent_run_id"] == "lead"


def test_telemetry_is_escaped_everywhere_on_the_page(store, web):
    for k, evil in enumerate(HOSTILE):
        run_id = f"run{k}{evil}"
        _post(store, _span(run_id, f"msg_evil_{k}", start_ns=NOW_NS + k, model=evil,
                           name=evil, service=evil))
        for url in (f"/runs/{quote(run_id)}", f"/calls/msg_evil_{k}"):
            response = web.get(url)
            assert response.status_code == 200, url
            assert evil not in response.text, f"{url} carries {evil!r} unescaped"
            assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;img" in response.text
            # no element or attribute was made of the telemetry
            page = parse(response.text)
            assert not page.find_all("img"), url
            assert all(not s.attrs.get("src", "").startswith("x")
                       for s in page.find_all("script")), url
        data = web.get(f"/api/runs/{quote(run_id)}").json()
        assert data["run"]["run_name"] == evil and data["calls"][0]["model"] == evil


def test_unknown_runs_are_404_in_html_and_json(web):
    response = web.get("/runs/no-such-run")
    assert response.status_code == 404
    assert "no-such-run" in response.text and "timeline-chart" not in response.text
    assert web.get("/api/runs/no-such-run").status_code == 404
    assert web.get("/api/runs/no-such-run").json()["detail"] == "no run 'no-such-run'"
    assert web.get("/runs/no-such-run", params={"part": "body"}).status_code == 404


def test_a_run_in_progress_updates_itself_and_an_old_one_does_not(store, web):
    now_ns = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1e9)
    _post(store, _span("going", "msg_going_1", start_ns=now_ns - 20 * 10**9))
    _post(store, _span("old", "msg_old_1", start_ns=NOW_NS))
    live = parse(web.get("/runs/going").text)
    box = live.by_id("run-live")
    assert box.attrs["data-live-url"] == "/runs/going?part=body"
    assert box.find(None, "live-state").attrs["data-live"] == "true"
    assert any(s.attrs.get("src") == "/static/timeline.js" for s in live.find_all("script"))
    assert web.get("/static/timeline.js").status_code == 200
    assert web.get("/api/runs/going").json()["live"] is True
    # the fragment the page refetches: the body alone, with the new call in it
    _post(store, _span("going", "msg_going_2", start_ns=now_ns - 5 * 10**9))
    body = web.get("/runs/going", params={"part": "body"})
    assert body.status_code == 200 and "<html" not in body.text
    fragment = parse(body.text)
    assert fragment.by_id("run-summary")
    assert len(fragment.find("table", id="turns").find("tbody").find_all("tr")) == 2
    assert fragment.find(None, "live-state").attrs["data-live"] == "true"
    # a long call (started 170 s ago, ended 50 s ago) keeps its run live
    _post(store, _span("slow", "msg_slow_1", start_ns=now_ns - 170 * 10**9,
                       duration_ns=120 * 10**9))
    assert web.get("/api/runs/slow").json()["live"] is True
    old = parse(web.get("/runs/old").text)
    assert old.find(None, "live-state").attrs["data-live"] == "false"
    assert web.get("/api/runs/old").json()["live"] is False


def test_the_ui_token_covers_the_run_pages(store):
    _post(store, _span("guarded", "msg_guarded", start_ns=NOW_NS))
    guarded = TestClient(create_app(store, token="t0k"))
    for url in ("/runs/guarded", "/api/runs/guarded", "/calls/msg_guarded",
                "/api/calls/msg_guarded"):
        assert guarded.get(url).status_code == 401, url
        assert guarded.get(url, headers={"Authorization": "Bearer t0k"}).status_code == 200
    # a browser is refused with a page that says what is needed; scripts get text
    page = guarded.get("/runs/guarded", headers={"Accept": "text/html,*/*"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "<h1>This tokentrail UI needs its token</h1>" in page.text
    assert guarded.get("/api/runs/guarded").headers["content-type"].startswith("text/plain")


def test_numbers_read_as_people_read_them(store, web):
    calls = loop(3)
    insert(store, "fmt", calls)
    text = web.get("/runs/fmt").text
    page = parse(text)
    ticks = [t.text for t in page.find("g", "axis-tokens").find_all("text")]
    assert all(re.fullmatch(r"\d+(\.\d)?[kMB]?", t) for t in ticks if t != "tokens per turn")
    assert any(t.endswith("k") for t in ticks)
    assert re.search(r"\$0\.0\d+", page.by_id("run-summary").text)


def test_a_single_call_of_a_model_without_a_price_still_draws(store, web):
    _post(store, _span("unpriced", "msg_unpriced", start_ns=NOW_NS, model="claude-future-9"))
    response = web.get("/runs/unpriced")
    assert response.status_code == 200
    page = parse(response.text)
    chart = page.find("svg", "timeline-chart")
    assert {s.attrs["data-turn"] for s in chart.find_all("rect", "seg")} == {"1"}
    assert not chart.find_all("path", "cost-line"), "no cost line without a price"
    assert "without a known price" in page.find("figure", "timeline").text
    summary = " ".join(page.by_id("run-summary").text.split())
    assert "Cost - a model without a known price" in summary
    data = web.get("/api/runs/unpriced").json()
    assert data["run"]["cost_usd"] is None and data["cost_saved_usd"] is None
    assert web.get("/calls/msg_unpriced").status_code == 200


def test_one_hour_writes_get_their_own_segment(store, web):
    calls = loop(3)
    for c in calls:
        c.write_1h, c.write_5m, c.ttls = c.write_5m, 0, ["1h", "1h"]
    insert(store, "hour", calls)
    chart = parse(web.get("/runs/hour").text).find("svg", "timeline-chart")
    kinds = {c for s in chart.find_all("rect", "seg") for c in s.classes}
    assert "seg-write-1h" in kinds and "seg-write-5m" not in kinds


def test_a_run_whose_writes_were_never_read_says_what_caching_cost(store, web):
    calls = loop(3)
    for c in calls:  # every turn writes its whole prompt again and reads nothing
        c.write_5m, c.read, c.system = c.write_5m + c.read, 0, f"S{c.turn}"
    insert(store, "unread", calls)
    data = web.get("/api/runs/unread").json()
    assert data["cost_saved_usd"] < 0  # 5m writes cost 1.25x input (docs/facts.md §2)
    summary = " ".join(parse(web.get("/runs/unread").text).by_id("run-summary").text.split())
    assert f"Caching cost extra {formatting.usd(-data['cost_saved_usd'])}" in summary
    assert "Saved by caching" not in summary
