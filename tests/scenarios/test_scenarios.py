"""The labelled scenario suite: real agents, a real collector, the exact (turn, cause) set.

Each SDK scenario (tests/scenarios/scenarios.py) runs in a subprocess that does
``import tokentrail.auto`` and drives the anthropic SDK over HTTP against the emulator;
its spans go over OTLP to a real ``tokentrail serve``. Claude Code-shaped scenarios post
``api_request`` events with chosen timestamps (tests/scenarios/claude_code.py). Every run
is read back live through serve's SQL interface (``cache_events`` current within
seconds), and after serve stops cleanly from the store itself (the stored table
complete).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import CLAUDE_CODE_FIXTURES, REPO
from tests.integration.serve import Serve, serving
from tests.scenarios.claude_code import ApiRequest, logs_request
from tests.scenarios.scenarios import SCENARIOS
from tests.waiting import wait_until
from tokentrail.analysis.cache_events_rules import CAUSES, EVIDENCE
from tokentrail.analysis.cache_events_store import dirty_runs_select
from tokentrail.cli import cli
from tokentrail.emulator import Clock, running_emulator
from tokentrail.store import Store
from tokentrail.store.database import connect

pytestmark = pytest.mark.integration

# run id -> the events read live (checked again against the stored table at the end)
SEEN: dict[str, list[tuple]] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Serve]:
    with serving(tmp_path_factory.mktemp("scenarios") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def sql(server) -> Iterator[Store]:
    """The live store, through serve's SQL interface (ClickHouse's HTTP protocol)."""
    store = Store(connect(server.sql), server.sql)
    try:
        yield store
    finally:
        store.close()


def _calls(sql: Store, run_id: str) -> int:
    return sql.query("SELECT count() AS n FROM llm_calls WHERE run_id = {r:String}",
                     {"r": run_id})[0]["n"]


def _events(sql: Store, run_id: str, calls: int) -> list[dict]:
    """The run's events once all its calls are in; checked against the view."""
    wait_until(lambda: _calls(sql, run_id), until=lambda n: n == calls, timeout=60,
               message=f"the {calls} calls of {run_id} are in llm_calls")
    events = sql.cache_events(run_id)
    view = sql.query("SELECT * FROM cache_events WHERE run_id = {r:String} "
                     "ORDER BY timestamp, call_id", {"r": run_id})
    assert view == events, "the cache_events view and Store.cache_events differ"
    for event in events:
        assert event["cause"] in CAUSES and event["evidence"] in EVIDENCE
        assert event["missed_tokens"] > 0 and event["detail"]
    SEEN[run_id] = sorted((e["call_id"], e["cause"], e["missed_tokens"]) for e in events)
    return events


def _run_agent(server: Serve, base_url: str, name: str, run_id: str) -> list[dict]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": server.otlp,
           "OTEL_SERVICE_NAME": "scenario-agent", "PYTHONPATH": str(REPO),
           **SCENARIOS[name].env}
    env.pop("OTEL_SDK_DISABLED", None)
    env.pop("TOKENTRAIL_DISABLED", None)
    done = subprocess.run([sys.executable, "-m", "tests.scenarios.agent", base_url, name,
                           run_id], env=env, capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sdk_scenario(name: str, server: Serve, sql: Store) -> None:
    scenario = SCENARIOS[name]
    run_id = f"scenario-{name}"
    with running_emulator(clock=Clock(frozen=True)) as emu:
        usages = _run_agent(server, emu.base_url, name, run_id)
    events = _events(sql, run_id, len(usages))
    assert {(e["turn"], e["cause"]) for e in events} == scenario.expected
    assert len(events) == len(scenario.expected)
    by_turn = {e["turn"]: e for e in events}
    for turn, fragments in scenario.details.items():
        for fragment in fragments:
            assert fragment in by_turn[turn]["detail"], by_turn[turn]["detail"]
    for event in events:  # every model these scenarios use has a price
        assert event["extra_cost_usd"] is not None and event["extra_cost_usd"] > 0


def _post_logs(server: Serve, body: bytes) -> None:
    response = httpx.post(f"{server.otlp}/v1/logs", content=body,
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 200, response.text


CLAUDE_CODE_RUNS = {
    # reads stay with the conversation, then 400 s pass: everything is written again
    "cc-ttl": ([ApiRequest(0, 40, 0, 20_000), ApiRequest(20, 40, 20_000, 700),
                ApiRequest(420, 40, 0, 21_400), ApiRequest(430, 40, 21_400, 500)],
               {(3, "ttl_expired")}, {3: "timing"}),
    # reads fall within the TTL: token counts cannot say why
    "cc-tokens": ([ApiRequest(0, 40, 0, 20_000), ApiRequest(20, 40, 20_000, 700),
                   ApiRequest(50, 40, 3_000, 18_400)],
                  {(3, "unexplained")}, {3: "tokens"}),
    # a healthy session with a small title-generation call in between: nothing
    "cc-clean": ([ApiRequest(0, 40, 0, 20_000), ApiRequest(2, 380, 0, 0),
                  ApiRequest(20, 40, 20_000, 700), ApiRequest(40, 40, 20_700, 900)],
                 set(), {}),
}


@pytest.mark.parametrize("session", list(CLAUDE_CODE_RUNS))
def test_claude_code_shaped_events(session: str, server: Serve, sql: Store) -> None:
    calls, expected, evidence = CLAUDE_CODE_RUNS[session]
    _post_logs(server, logs_request(session, calls))
    events = _events(sql, session, len(calls))
    assert {(e["turn"], e["cause"]) for e in events} == expected
    assert {e["turn"]: e["evidence"] for e in events} == evidence


FIXTURE_SESSION = "5a60c6c7-a475-4746-afc7-4f62b26fa781"


def test_claude_code_capture_summary_and_explain(server: Serve, sql: Store) -> None:
    """The shared capture (two calls, 40 input / 2,100 5m-write / 24,500 read / 55 output
    each, claude-sonnet-4-5; docs/facts.md §5) sent as Claude Code sent it."""
    for name in ("logs-0.otlp.json", "logs-1.otlp.json"):
        _post_logs(server, (CLAUDE_CODE_FIXTURES / name).read_bytes())
    for name, path in (("traces-0.otlp.json", "traces"), ("metrics-0.otlp.json", "metrics")):
        response = httpx.post(f"{server.otlp}/v1/{path}", timeout=30,
                              content=(CLAUDE_CODE_FIXTURES / name).read_bytes(),
                              headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
    assert _events(sql, FIXTURE_SESSION, 2) == []  # flat reads: no evidence of a miss
    summary = sql.cache_summary(FIXTURE_SESSION)
    assert (summary.calls, summary.input_tokens, summary.cache_read_tokens,
            summary.cache_write_tokens, summary.output_tokens) == (2, 80, 49_000, 4_200, 110)
    assert summary.hit_rate == pytest.approx(49_000 / 53_280)
    assert (summary.events, summary.rewritten_tokens, summary.extra_cost_usd) == (0, 0, None)
    # Sonnet 4.5: $3 input, $3.75 5m write, $0.30 read, $15 output per million (§2):
    # 0.015105 + 40 * 3e-6 + 48 * 15e-6 per call = 0.01617, what Claude Code reported
    assert summary.cost_usd == pytest.approx(2 * 0.01617)

    result = CliRunner().invoke(cli, ["explain", FIXTURE_SESSION, "--clickhouse", server.sql])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"run {FIXTURE_SESSION} | service claude-code | 2 calls | "
                               "claude-sonnet-4-5 | ")
    assert lines[1] == ("cache: hit rate 92.0% | read 49,000 | written 4,200 | re-written 0 "
                        "| 0 event(s), lost $0 | run cost $0.0323")
    turns = [line.split() for line in lines[5:]]
    assert [t[0] for t in turns] == ["1", "2"]
    assert [t[-6:] for t in turns] == [
        ["claude-sonnet-4-5", "40", "24,500", "2,100", "55", "$0.0162"]] * 2
    assert turns[1][2].startswith("+")  # the gap since the first call
    assert not any("!" in line for line in lines)  # no event


def test_explain_shows_events_inline(server: Serve, sql: Store) -> None:
    run_id = "scenario-system_changed_and_reverted"
    if run_id not in SEEN:
        pytest.skip("needs the system_changed_and_reverted scenario's run")
    result = CliRunner().invoke(cli, ["explain", run_id, "--clickhouse", server.sql])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    marked = [i for i, line in enumerate(lines) if line.lstrip().startswith("!")]
    assert len(marked) == 1
    assert lines[marked[0] - 1].split()[0] == "5"  # right under turn 5
    assert "system_changed [prefix]" in lines[marked[0]]
    assert "1 event(s)" in lines[1] and "system_changed 1x $" in lines[1]


def test_stored_events_are_complete_after_a_clean_stop(server: Serve) -> None:
    """Stop serve (SIGTERM: it drains, judges what arrived and stores it): the stored
    table alone holds every event seen live, and nothing is left to judge on read."""
    if not SEEN:
        pytest.skip("no scenario ran in this session")
    code, output = server.stop()
    assert code == 0, output
    store = Store.open(f"chdb://{server.data}", migrate=False)
    try:
        assert store.query(dirty_runs_select()) == []
        for run_id, seen in SEEN.items():
            stored = store.query("SELECT call_id, cause, missed_tokens FROM "
                                 "cache_events_stored FINAL WHERE run_id = {r:String}",
                                 {"r": run_id})
            assert sorted((r["call_id"], r["cause"], r["missed_tokens"]) for r in stored) == (
                seen), run_id
    finally:
        store.close()
