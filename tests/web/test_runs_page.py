"""The runs page and its JSON twin, in-process through the ASGI test client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows
from tokentrail.web.app import create_app

MINUTE = 60 * 10**9


def _seed(store, runs: int, turns: int = 2) -> None:
    spans = []
    for r in range(runs):
        for t in range(turns):
            attrs = anthropic_call_attrs(
                response_id=f"msg_{r}_{t}", uncached=10, read=100 * t, write=50, output=5,
                conversation=f"run-{r:03d}",
                model="claude-haiku-4-5" if t else "claude-sonnet-4-5")
            spans.append(span(attrs, start_ns=NOW_NS + r * MINUTE + t * 1000))
    store.insert("otel_traces", trace_rows(trace_request(spans, service="svc")), TRACE_COLUMNS)


@pytest.fixture
def client(store):
    return TestClient(create_app(store))


def test_empty_state_explains_what_to_do(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No LLM calls yet" in response.text
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in response.text


def test_runs_newest_first_with_buckets(client, store):
    _seed(store, runs=3)
    data = client.get("/api/runs").json()
    assert data["total"] == 3
    assert [r["run_id"] for r in data["runs"]] == ["run-002", "run-001", "run-000"]
    run = data["runs"][0]
    assert run["turns"] == 2
    assert run["models"] == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    assert (run["input_tokens"], run["cache_read_tokens"], run["cache_write_5m_tokens"],
            run["output_tokens"]) == (20, 100, 100, 10)
    assert run["total_input_tokens"] == 220
    assert run["service_name"] == "svc"
    html = client.get("/").text
    assert html.index("run-002") < html.index("run-001") < html.index("run-000")
    assert "claude-haiku-4-5, claude-sonnet-4-5" in html


def test_pagination_html_and_json_agree(client, store):
    _seed(store, runs=5, turns=1)
    page2 = client.get("/api/runs", params={"page": 2, "per_page": 2}).json()
    assert page2["pages"] == 3
    assert [r["run_id"] for r in page2["runs"]] == ["run-002", "run-001"]
    html = client.get("/", params={"page": 2, "per_page": 2}).text
    assert "Page 2 of 3" in html
    assert "run-002" in html and "run-001" in html
    assert "run-004" not in html and "run-000" not in html
    assert 'rel="prev"' in html and 'rel="next"' in html
    assert client.get("/api/runs", params={"page": 0}).status_code == 422


def test_calls_of_a_run(client, store):
    _seed(store, runs=1, turns=3)
    calls = client.get("/api/runs/run-000/calls").json()["calls"]
    assert [c["response_id"] for c in calls] == ["msg_0_0", "msg_0_1", "msg_0_2"]
    assert [c["position"] for c in calls] == [1, 2, 3]
    assert client.get("/api/runs/nope/calls").status_code == 404


def test_run_ids_are_escaped(client, store):
    attrs = anthropic_call_attrs(response_id="m", uncached=1, read=0, write=0, output=1,
                                 conversation="<script>alert(1)</script>")
    store.insert("otel_traces", trace_rows(trace_request([span(attrs)])), TRACE_COLUMNS)
    html = client.get("/").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_ui_token(store):
    client = TestClient(create_app(store, token="t0k"), follow_redirects=False)
    assert client.get("/api/runs").status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Bearer t0k"}).status_code == 200
    response = client.get("/?token=t0k")
    assert response.status_code == 303
    assert "token" not in response.headers["location"]
    assert client.get("/").status_code == 200  # the cookie now carries it
    fresh = TestClient(create_app(store, token="t0k"))
    assert fresh.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert fresh.get("/?token=wrong").status_code == 401


def test_healthz(client):
    assert client.get("/healthz").json()["status"] == "ok"
