"""One demo agent in a process of its own, instrumented the way a user's agent is.

``python -m tokentrail.demo.agent_process EMULATOR_URL AGENT RUN_ID [RUN_ID ...]
--start EPOCH`` runs the agent of :data:`tokentrail.demo.agents.AGENTS` once per run id,
each inside ``tokentrail.run(AGENT, run_id=...)``, with the real ``anthropic`` SDK
against the emulator and ``import tokentrail.auto`` exporting to
``OTEL_EXPORTER_OTLP_ENDPOINT`` (the demo sets it, and ``OTEL_SERVICE_NAME`` to the
agent's name). A process per agent, because ``tokentrail.auto`` sets up the process's
global tracer provider with its service name, and each agent keeps its own virtual clock
(:mod:`.clock`). The spans are flushed when the process exits. With ``--wait-for-go``
the process is started early, imports everything, and waits for a line on stdin.
"""

from __future__ import annotations

import argparse
import sys
import time

import anthropic
import httpx

import tokentrail.auto  # noqa: F401  (the instrumentation a user adds: one import)
from tokentrail.demo.agents import AGENTS
from tokentrail.demo.clock import VirtualClock
from tokentrail.instrumentation import run

GAP_BETWEEN_RUNS = 90.0  # seconds (virtual) between two runs of the same agent


class Agent:
    """What an agent function gets (:class:`tokentrail.demo.agents.AgentContext`)."""

    def __init__(self, base_url: str, name: str, clock: VirtualClock) -> None:
        self.base_url = base_url
        # its own API key: its own workspace, so its own prompt cache (docs/facts.md §1)
        self.client = anthropic.Anthropic(base_url=base_url, api_key=f"sk-ant-demo-{name}",
                                          max_retries=0)
        self.clock = clock

    def work(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def pause(self, seconds: float) -> None:
        response = httpx.post(f"{self.base_url}/_emulator/clock",
                              json={"advance": seconds}, timeout=10)
        response.raise_for_status()
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock.now()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tokentrail.demo.agent_process")
    parser.add_argument("emulator")
    parser.add_argument("agent", choices=sorted(AGENTS))
    parser.add_argument("run_ids", nargs="+")
    parser.add_argument("--start", type=float, default=None,
                        help="Where the agent's clock starts, seconds since the epoch.")
    parser.add_argument("--wait-for-go", action="store_true",
                        help="Start only once a line arrives on stdin (imports are done "
                             "while serve starts); end quietly at EOF.")
    args = parser.parse_args(argv)
    if args.wait_for_go and not sys.stdin.readline():
        return  # the demo was stopped before this agent's turn
    clock = VirtualClock(args.start if args.start is not None else time.time())
    clock.install()
    demo = AGENTS[args.agent]
    agent = Agent(args.emulator, demo.name, clock)
    for i, run_id in enumerate(args.run_ids):
        if i:
            agent.work(GAP_BETWEEN_RUNS)
        with run(demo.name, run_id=run_id):
            demo.drive(agent)


if __name__ == "__main__":
    main()
