"""The HTTP surface without an SDK: headers, error envelopes, admin controls, serve()."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.waiting import wait_until
from tokentrail.emulator import Clock, Emulator, create_app

from .helpers import API_KEY, text_of

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
BODY = {"model": "claude-sonnet-4-6", "max_tokens": 20,
        "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def http(emu):
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def envelope(response: httpx.Response) -> dict:
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["request_id"] == response.headers["request-id"]
    return body["error"]


def test_messages_with_beta_query_and_request_id(http) -> None:
    r = http.post("/v1/messages?beta=true", json=BODY,
                  headers={**HEADERS, "anthropic-beta": "prompt-caching-scope-2026-01-05"})
    assert r.status_code == 200
    assert r.headers["request-id"].startswith("req_")
    assert r.json()["usage"]["input_tokens"] == 1


@pytest.mark.parametrize(("headers", "status", "kind", "needle"), [
    ({"anthropic-version": "2023-06-01"}, 401, "authentication_error", "x-api-key"),
    ({"x-api-key": API_KEY}, 400, "invalid_request_error", "anthropic-version"),
    ({**HEADERS, "anthropic-version": "latest"}, 400, "invalid_request_error", "version"),
    ({"authorization": f"Bearer {API_KEY}", "anthropic-version": "2023-06-01"}, 200, None, None),
])
def test_authentication_and_version_headers(http, headers, status, kind, needle) -> None:
    r = http.post("/v1/messages", json=BODY, headers=headers)
    assert r.status_code == status
    if kind:
        err = envelope(r)
        assert err["type"] == kind and needle in err["message"]


@pytest.mark.parametrize(("body", "needle"), [
    (b"{not json", "parsing the body"),
    (b"[]", "JSON object"),
    (json.dumps({**BODY, "model": None}).encode(), "model"),
    (json.dumps({k: v for k, v in BODY.items() if k != "max_tokens"}).encode(), "max_tokens"),
    (json.dumps({**BODY, "messages": [{"role": "robot", "content": "x"}]}).encode(), "role"),
    (json.dumps({**BODY, "tool_choice": {"type": "tool", "name": "nope"}}).encode(),
     "tool_choice"),
    (json.dumps({**BODY, "thinking": {"type": "enabled", "budget_tokens": 100}}).encode(),
     "budget_tokens"),
    (json.dumps({**BODY, "max_tokens": 0, "stream": True}).encode(), "pre-warming"),
])
def test_bad_bodies(http, body: bytes, needle: str) -> None:
    r = http.post("/v1/messages", content=body,
                  headers={**HEADERS, "content-type": "application/json"})
    assert r.status_code == 400
    err = envelope(r)
    assert err["type"] == "invalid_request_error" and needle in err["message"]


def test_max_tokens_zero_prewarms_the_cache(http) -> None:
    system = [{"type": "text", "text": text_of(2500), "cache_control": {"type": "ephemeral"}}]
    warm = http.post("/v1/messages", headers=HEADERS,
                     json={**BODY, "max_tokens": 0, "system": system}).json()
    assert warm["content"] == [] and warm["stop_reason"] == "max_tokens"
    assert warm["usage"]["cache_creation_input_tokens"] == 2500
    assert warm["usage"]["output_tokens"] == 0
    hot = http.post("/v1/messages", headers=HEADERS, json={**BODY, "system": system}).json()
    assert hot["usage"]["cache_read_input_tokens"] == 2500


def test_unknown_paths_get_a_not_found_envelope(http) -> None:
    r = http.get("/v1/nothing-here", headers=HEADERS)
    assert r.status_code == 404 and envelope(r)["type"] == "not_found_error"


def test_admin_clock_faults_requests_and_cache(http, emu) -> None:
    system = [{"type": "text", "text": text_of(2500), "cache_control": {"type": "ephemeral"}}]
    body = {**BODY, "system": system}
    http.post("/v1/messages", headers=HEADERS, json=body)
    entries = http.get("/_emulator/cache").json()
    assert [(e["tokens"], e["ttl"]) for e in entries] == [(2500, "5m")]
    now = http.get("/_emulator/clock").json()["now"]
    assert http.post("/_emulator/clock", json={"advance": 301}).json()["now"] == now + 301
    assert http.get("/_emulator/cache").json() == []  # expired
    assert http.post("/v1/messages", headers=HEADERS,
                     json=body).json()["usage"]["cache_read_input_tokens"] == 0

    assert http.post("/_emulator/faults", json={"spec": "529", "times": 1}).json() == [
        {"spec": "529", "times": 1}]
    assert http.post("/v1/messages", headers=HEADERS, json=BODY).status_code == 529
    assert http.post("/v1/messages", headers=HEADERS, json=BODY).status_code == 200
    assert http.post("/_emulator/faults", json={"spec": "bogus"}).status_code == 400

    records = http.get("/_emulator/requests", params={"path": "/v1/messages"}).json()
    assert [r["status"] for r in records] == [200, 200, 529, 200]
    assert records[0]["cache"]["writes"][0]["prefix_tokens"] == 2500
    http.post("/_emulator/reset")
    assert emu.requests == []  # admin calls are not logged; reset cleared the rest


def test_admin_scenario_rules(http) -> None:
    scenario = {"rules": [
        {"when": {"contains": "weather"},
         "reply": {"tool": "get_weather", "input": {"city": "Paris"}}},
        {"when": {"model": "claude-haiku-*"}, "reply": {"text_tokens": 7, "times": 1}},
    ], "text": "plain"}
    assert http.post("/_emulator/scenario", json=scenario).status_code == 200
    weather = {"name": "get_weather", "description": "w",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    r = http.post("/v1/messages", headers=HEADERS, json={
        **BODY, "tools": [weather], "messages": [{"role": "user", "content": "weather?"}]})
    assert r.json()["content"][0]["input"] == {"city": "Paris"}
    haiku = {**BODY, "model": "claude-haiku-4-5"}
    assert http.post("/v1/messages", headers=HEADERS, json=haiku).json()["usage"][
        "output_tokens"] == 7
    # `times: 1` is used up: the default text answers now.
    assert http.post("/v1/messages", headers=HEADERS,
                     json=haiku).json()["content"][0]["text"] == "plain"


def test_batch_results_before_the_end_are_refused(http, emu) -> None:
    emu.emulator.batches.mode = "manual"
    batch = http.post("/v1/messages/batches", headers=HEADERS,
                      json={"requests": [{"custom_id": "a", "params": BODY}]}).json()
    r = http.get(f"/v1/messages/batches/{batch['id']}/results", headers=HEADERS)
    assert r.status_code == 400 and "not finished" in envelope(r)["message"]
    http.post("/_emulator/batches/process")
    r = http.get(f"/v1/messages/batches/{batch['id']}/results", headers=HEADERS)
    line = json.loads(r.text.strip())
    assert line["custom_id"] == "a" and line["result"]["type"] == "succeeded"


def test_create_app_works_in_process() -> None:
    from starlette.testclient import TestClient

    emulator = Emulator(clock=Clock(frozen=True))
    with TestClient(create_app(emulator)) as tc:
        r = tc.post("/v1/messages/count_tokens", headers=HEADERS,
                    json={"model": "m", "messages": [{"role": "user", "content": text_of(33)}]})
    assert r.json() == {"input_tokens": 33}
    assert emulator.requests[0].path == "/v1/messages/count_tokens"


def test_serve_runs_until_stopped(tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"text": "from a file"}))
    code = ("from tokentrail.emulator import serve; "
            f"serve('127.0.0.1', {port}, scenario={str(scenario)!r}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        r = wait_until(lambda: httpx.post(f"http://127.0.0.1:{port}/v1/messages",
                                          headers=HEADERS, json=BODY, timeout=5),
                       timeout=30, interval=0.02, ignore=(httpx.ConnectError,),
                       message=f"serve() answers on port {port}")
        assert r.json()["content"][0]["text"] == "from a file"
    finally:
        proc.terminate()
        proc.wait(10)


def test_mid_conversation_system_turns_need_their_beta(http) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}]
    r = http.post("/v1/messages", headers=HEADERS, json={**BODY, "messages": messages})
    assert r.status_code == 400 and "role" in envelope(r)["message"]
    beta = {**HEADERS, "anthropic-beta": "mid-conversation-system-2026-04-07"}
    r = http.post("/v1/messages", headers=beta, json={**BODY, "messages": messages})
    assert r.status_code == 200
    assert r.json()["usage"]["input_tokens"] == 1 + 2  # "hi" + "be brief"
