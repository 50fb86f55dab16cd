"""Cache events of agents that open no run: ``import tokentrail.auto`` and the SDK only.

The labelled suite (test_scenarios.py) wraps every agent in ``run(name, run_id=...)``.
An agent that does not gets automatic runs (docs/design.md "Runs and turns", rules 3-5):
its calls are grouped by conversation, and a conversation rewritten behind its first
message (message 2 edited, the history compacted behind the task) must stay one run, so
that ``cache_events`` can say ``messages_changed`` on the turn that paid for it; a clean
loop must stay one silent run, also when it rebuilds its message list for every call
with the breakpoints moved (as Anthropic's prompt-caching cookbook does).

Each agent runs in a subprocess (``python -m tests.scenarios.test_automatic_runs
EMULATOR_URL AGENT``: ``tokentrail.auto`` sets up the process-global provider and its
OTLP exporter as in a user's process) against the emulator, its spans go to a real
``tokentrail serve``, and its runs are found by its service name and read back through
serve's SQL interface.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import REPO
from tests.emulator.helpers import text_of
from tests.scenarios.scenarios import (
    EPH,
    MODEL,
    Conversation,
    clean_loop,
    clean_tool_loop,
    compacted,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def edited_on_turn_6(agent) -> None:
    """Five turns, then the second user message (message 2) rewritten as a new object;
    turn 6 sends the edited history and the conversation goes on from it."""
    chat = Conversation(agent, "auto-edit")
    for _ in range(5):
        chat.turn()
    old = chat.messages[2]["content"][-1]["text"]
    chat.messages[2] = {"role": "user", "content": [{"type": "text", "text": old + " (edited)"}]}
    for _ in range(3):
        chat.turn()


def compacted_behind_the_task(agent) -> None:
    """Four turns, then everything after the task (message 0) replaced by a summary:
    turn 5 reads the system prompt and the task, the rest is written again."""
    chat = Conversation(agent, "auto-compact")
    for _ in range(4):
        chat.turn()
    summary = {"role": "assistant", "content": [
        {"type": "text", "text": "Summary of the work so far: " + text_of(300, "summary")}]}
    chat.messages[:] = [chat.messages[0], summary]
    for _ in range(3):
        chat.turn()


def cookbook_loop(agent, turns: int = 30, edit_before: int | None = None) -> None:
    """Anthropic's prompt-caching cookbook: the history is stored without breakpoints and
    each call gets a fresh list with the last two user turns marked (new objects, the
    marks moved), the system prompt marked too. ``edit_before``: message 2 rewritten
    before that turn."""
    chat = Conversation(agent, "cookbook")  # its system prompt and text only
    history: list[dict] = []
    for turn in range(1, turns + 1):
        if turn == edit_before:
            history[2] = {"role": "user", "content": history[2]["content"] + " (edited)"}
        history.append({"role": "user", "content": f"cookbook question {turn}: "
                        + text_of(60, str(turn))})
        sent: list[dict] = []
        marked = 0
        for message in reversed(history):
            if message["role"] == "user" and marked < 2:
                message = {"role": "user", "content": [
                    {"type": "text", "text": message["content"], "cache_control": EPH}]}
                marked += 1
            sent.append(message)
        reply = agent.create(model=MODEL, max_tokens=64, system=chat.system(),
                             messages=sent[::-1])
        history.append({"role": "assistant", "content": reply.content})


def cookbook_edited_on_turn_6(agent) -> None:
    cookbook_loop(agent, 9, edit_before=6)


@dataclass(frozen=True)
class AutomaticAgent:
    drive: Callable[[Any], None]
    runs: int  # how many automatic runs its calls make
    expected: frozenset[tuple[int, str]] = frozenset()  # (turn, cause) over all its runs
    details: dict[int, tuple[str, ...]] = field(default_factory=dict)


AGENTS: dict[str, AutomaticAgent] = {
    "edited_on_turn_6": AutomaticAgent(edited_on_turn_6, 1,
                                       frozenset({(6, "messages_changed")}),
                                       {6: ("message 2 changed",)}),
    "compacted_behind_the_task": AutomaticAgent(compacted_behind_the_task, 1,
                                                frozenset({(5, "messages_changed")}),
                                                {5: ("message 1 changed",)}),
    "cookbook_edited_on_turn_6": AutomaticAgent(cookbook_edited_on_turn_6, 1,
                                                frozenset({(6, "messages_changed")}),
                                                {6: ("message 2 changed",)}),
    "clean_loop": AutomaticAgent(clean_loop, 1),
    "cookbook_loop": AutomaticAgent(cookbook_loop, 1),
    "clean_tool_loop": AutomaticAgent(clean_tool_loop, 1),
    # The documented limit (docs/design.md, rule 4): a compaction that replaces the first
    # message too shares nothing with the conversation, so it opens a new run, which
    # reports nothing (a run's first call is never an event); run() keeps it.
    "compacted_from_the_first_message": AutomaticAgent(compacted, 2),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Any]:
    from tests.integration.serve import serving

    with serving(tmp_path_factory.mktemp("automatic-runs") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def sql(server) -> Iterator[Any]:
    from tokentrail.store import Store
    from tokentrail.store.database import connect

    store = Store(connect(server.sql), server.sql)
    try:
        yield store
    finally:
        store.close()


def _run_agent(server, base_url: str, name: str, service: str) -> list[dict]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": server.otlp,
           "OTEL_SERVICE_NAME": service, "PYTHONPATH": str(REPO)}
    env.pop("OTEL_SDK_DISABLED", None)
    env.pop("TOKENTRAIL_DISABLED", None)
    done = subprocess.run([sys.executable, "-m", "tests.scenarios.test_automatic_runs",
                           base_url, name], env=env, capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _runs_of(sql, service: str, calls: int) -> list[dict]:
    """The runs of one service once all its calls are in: id, calls, automatic."""
    def count() -> int:
        return sql.query("SELECT count() AS n FROM llm_calls WHERE service_name = {s:String}",
                         {"s": service})[0]["n"]

    wait_until(count, until=lambda n: n == calls, timeout=60,
               message=f"the {calls} calls of {service} are in llm_calls")
    return sql.query("SELECT run_id, count() AS calls, min(timestamp) AS started "
                     "FROM llm_calls WHERE service_name = {s:String} "
                     "GROUP BY run_id ORDER BY started", {"s": service})


@pytest.mark.parametrize("name", list(AGENTS))
def test_agent_without_a_run(name: str, server, sql) -> None:
    from tokentrail.emulator import Clock, running_emulator

    agent = AGENTS[name]
    service = f"automatic-{name}"
    with running_emulator(clock=Clock(frozen=True)) as emu:
        usages = _run_agent(server, emu.base_url, name, service)
    runs = _runs_of(sql, service, len(usages))
    assert len(runs) == agent.runs, runs
    events: list[dict] = []
    for found in runs:
        run_events = sql.cache_events(found["run_id"])
        view = sql.query("SELECT * FROM cache_events WHERE run_id = {r:String} "
                         "ORDER BY timestamp, call_id", {"r": found["run_id"]})
        assert view == run_events, "the cache_events view and Store.cache_events differ"
        events += run_events
    assert {(e["turn"], e["cause"]) for e in events} == agent.expected, events
    assert len(events) == len(agent.expected)
    by_turn = {e["turn"]: e for e in events}
    for turn, fragments in agent.details.items():
        for fragment in fragments:
            assert fragment in by_turn[turn]["detail"], by_turn[turn]["detail"]
    for event in events:
        assert event["missed_tokens"] > 0
        assert event["extra_cost_usd"] is not None and event["extra_cost_usd"] > 0


def main(base_url: str, name: str) -> None:
    """The agent's process: ``tokentrail.auto`` (imported by the agent module), the SDK,
    one of :data:`AGENTS`, no ``run()``; prints the usages it saw as the last line."""
    from tests.scenarios.agent import Agent

    agent = Agent(base_url, api_key=f"sk-ant-automatic-{name}")
    AGENTS[name].drive(agent)
    print(json.dumps(agent.usages), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
