"""The agents whose runs the browser tests look at: the real anthropic SDK with
``import tokentrail.auto`` (through :mod:`tests.scenarios.agent`) against the emulator.

Run as one subprocess (``python -m tests.browser.agents EMULATOR_URL``) so that
``tokentrail.auto`` sets up the global provider and its OTLP exporter as in a user's
process; the run ids are fixed (:data:`RUNS`) so the tests can open their pages. Prints
``{run_id: calls}`` as JSON on its last line.

The runs: a clean multi-turn agent with tools, the 8-turn agent whose system prompt
gets a new timestamp on turn 5 (the labelled scenario ``system_changed_and_reverted``:
one ``system_changed`` event, on turn 5), a parent run with a sub-agent run inside it
on another model, and an agent that re-sends its prompt with no cache breakpoint (an
``uncached_prefix`` insight, and ``no_breakpoint`` events).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from tests.scenarios.scenarios import OTHER_MODEL, SCENARIOS, Conversation, tool
from tokentrail.instrumentation import run

if TYPE_CHECKING:  # the real import is in main(): it imports tokentrail.auto, which
    # instruments the process, and the test session imports this module for RUNS
    from tests.scenarios.agent import Agent

CLEAN = "browser-clean"
TIMESTAMP = "browser-timestamp"
PARENT = "browser-parent"
CHILD = "browser-child"
UNCACHED = "browser-uncached"
TIMESTAMP_SCENARIO = "system_changed_and_reverted"
SERVICE = "browser-agent"

# run id -> (run name, calls it makes)
RUNS = {CLEAN: ("support triage", 12), TIMESTAMP: ("nightly report", 8),
        PARENT: ("research lead", 5), CHILD: ("research sub-agent", 4),
        UNCACHED: ("docs helper", 4)}


def clean(agent: Agent) -> None:
    chat = Conversation(agent, "browser-clean", tools=[tool("search"), tool("read")])
    for _ in range(RUNS[CLEAN][1]):
        chat.turn()


def uncached(agent: Agent) -> None:
    chat = Conversation(agent, "browser-uncached", system_cache=None, message_cache=None)
    for _ in range(RUNS[UNCACHED][1]):
        chat.turn()


def parent_and_child(agent: Agent) -> None:
    """Three turns of the lead, a sub-agent (nested run: its parent is the lead) of four
    turns on another model, then two more turns of the lead."""
    lead = Conversation(agent, "browser-lead")
    for _ in range(3):
        lead.turn()
    with run(RUNS[CHILD][0], run_id=CHILD):
        helper = Conversation(agent, "browser-child", model=OTHER_MODEL)
        for _ in range(RUNS[CHILD][1]):
            helper.turn()
    for _ in range(2):
        lead.turn()


def main(base_url: str) -> None:
    from tests.scenarios.agent import Agent  # imports tokentrail.auto: the instrumentation

    made: dict[str, int] = {}
    drives = ((CLEAN, clean), (TIMESTAMP, SCENARIOS[TIMESTAMP_SCENARIO].drive),
              (PARENT, parent_and_child), (UNCACHED, uncached))
    for run_id, drive in drives:
        agent = Agent(base_url, api_key=f"sk-ant-{run_id}")  # its own workspace, own cache
        with run(RUNS[run_id][0], run_id=run_id):
            drive(agent)
        made[run_id] = len(agent.usages)
    made[PARENT] -= RUNS[CHILD][1]  # the child's calls were made by the same client
    made[CHILD] = RUNS[CHILD][1]
    print(json.dumps(made), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
