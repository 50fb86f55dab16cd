"""The demo's agents, each named for what it teaches.

Every agent is a plain function of an :class:`AgentContext` (the real ``anthropic``
client pointed at the emulator, and the virtual clock); :mod:`.agent_process` runs one
in a process of its own with ``import tokentrail.auto``, inside ``tokentrail.run(...)``.
Service names are the agents' names, so that the service-wide insights (batching, model
routing, TTL) point at the agent that shows them.

What each one should show follows from the prompt-cache rules (docs/facts.md §1) and
the rules of ``cache_events`` and the insights (README, "Why the cache missed" and
"Insights"); tests/demo/test_demo.py checks it run by run.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from tokentrail.instrumentation import run

SONNET = "claude-sonnet-4-5"  # minimum cacheable prefix 1,024 tokens (docs/facts.md §1)
OPUS = "claude-opus-4-1"  # the expensive model: $15 / $75 per million (docs/facts.md §2)
EPHEMERAL = {"type": "ephemeral"}
CLASSIFY = "Classify this support ticket"  # the emulator answers these with a label

_PROSE = ("The build step compiles each module, runs the unit tests and packages the "
          "result; a failing step stops the pipeline and reports the first error. ")


class AgentContext(Protocol):
    """What an agent function gets (:class:`tokentrail.demo.agent_process.Agent`)."""

    client: Any  # anthropic.Anthropic

    def work(self, seconds: float) -> None:
        """Time the agent spends between calls (running a tool): the telemetry clock
        moves, the API sees nothing."""

    def pause(self, seconds: float) -> None:
        """The agent is idle: time passes for the emulator's cache too."""

    def now(self) -> float:
        """Seconds since the epoch on the agent's clock."""


def text_of(tokens: int, tag: str) -> str:
    """English-looking ASCII text of exactly ``tokens`` tokens by the emulator's
    estimate (4 bytes a token), distinct per ``tag``."""
    base = f"[{tag}] {_PROSE}"
    return (base * (tokens * 4 // len(base) + 1))[: tokens * 4]


def tool(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "description": description,
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}


CODING_TOOLS = [tool("read_file", "Read a file of the repository."),
                tool("edit_file", "Replace a range of lines in a file."),
                tool("run_tests", "Run the test suite and return its output."),
                tool("search_code", "Search the repository for a pattern.")]


class Session:
    """One agent loop, cached the way the docs recommend: a breakpoint on the system
    prompt and one on the newest user message, moved forward every call. A task is a
    prompt followed by tool calls until the model answers without one.

    ``cache=False`` sends no breakpoint at all; ``cache_messages=False`` keeps the one on
    the system prompt only, so the conversation after it is never cached."""

    def __init__(self, agent: AgentContext, tag: str, *, model: str = SONNET,
                 system: str | Callable[[], str] | None = None, system_tokens: int = 3000,
                 tools: list[dict] | Callable[[], list[dict]] | None = None,
                 cache: bool = True, cache_messages: bool = True,
                 result_tokens: int = 300) -> None:
        self.agent, self.tag, self.model = agent, tag, model
        self.system = system if system is not None else text_of(system_tokens, tag)
        self.tools = tools
        self.cache = cache
        self.cache_messages = cache and cache_messages
        self.result_tokens = result_tokens
        self.messages: list[dict[str, Any]] = []
        self.calls = 0

    def task(self, prompt: str, *, results: dict[str, int] | None = None,
             work: float = 6.0) -> None:
        """``prompt``, then the tool loop; ``results`` gives a tool's result size in
        tokens (others get ``result_tokens``), ``work`` the seconds each tool runs."""
        self._user([{"type": "text", "text": prompt}])
        while True:
            reply = self.call()
            uses = [b for b in reply.content if getattr(b, "type", None) == "tool_use"]
            if not uses:
                return
            self.agent.work(work)
            self._user([{"type": "tool_result", "tool_use_id": b.id,
                         "content": text_of((results or {}).get(b.name, self.result_tokens),
                                            f"{self.tag} {b.name} {self.calls}")}
                        for b in uses])

    def _user(self, content: list[dict[str, Any]]) -> None:
        self.messages.append({"role": "user", "content": content})

    def call(self) -> Any:
        for message in self.messages:  # the breakpoint moves to the newest message
            if message["role"] == "user":
                for block in message["content"]:
                    block.pop("cache_control", None)
        if self.cache_messages:
            self.messages[-1]["content"][-1]["cache_control"] = EPHEMERAL
        system = self.system() if callable(self.system) else self.system
        block: dict[str, Any] = {"type": "text", "text": system}
        if self.cache:
            block["cache_control"] = EPHEMERAL
        request: dict[str, Any] = {"model": self.model, "max_tokens": 1024,
                                   "system": [block], "messages": self.messages}
        tools = self.tools() if callable(self.tools) else self.tools
        if tools:
            request["tools"] = tools
        reply = self.agent.client.messages.create(**request)
        self.calls += 1
        self.messages.append({"role": "assistant", "content": reply.content})
        self.agent.work(2.0)  # reading the answer
        return reply


CODING_TASKS = ("Why does test_parse_dates fail on the CI machine?",
                "Add a --dry-run flag to the deploy script.",
                "Rename the Settings class to Config everywhere.",
                "The release notes generator skips merged PRs; fix it.",
                "Make the cache directory configurable.")


# --- the agents ------------------------------------------------------------------------

def well_cached_coding_agent(agent: AgentContext) -> None:
    """The baseline: tools, a cached system prompt and a breakpoint that follows the
    conversation. Every call reads what the previous one cached: no event."""
    session = Session(agent, "coding", tools=CODING_TOOLS)
    for prompt in CODING_TASKS:
        session.task(prompt)


def timestamp_in_system_prompt(agent: AgentContext) -> None:
    """The same agent with the current time at the top of its system prompt: every
    call writes the whole prompt again (system_changed, "looks like a timestamp"), in
    every run of the agent (recurring_invalidation)."""
    body = text_of(3000, "coding")

    def system() -> str:
        now = datetime.fromtimestamp(agent.now(), timezone.utc)
        return f"Current time: {now:%Y-%m-%dT%H:%M:%SZ}. {body}"

    session = Session(agent, "coding", system=system, tools=CODING_TOOLS)
    for prompt in CODING_TASKS[:2]:
        session.task(prompt)


def tools_reordered_every_turn(agent: AgentContext) -> None:
    """Tools built from a set or a dict of plugins come in another order on each call;
    the order is part of the cached prefix (tools_changed, "reordered")."""
    orders = list(itertools.permutations(CODING_TOOLS))
    calls = itertools.count()
    session = Session(agent, "reorder", tools=lambda: list(orders[(next(calls) * 7) % 24]))
    for prompt in CODING_TASKS[:3]:
        session.task(prompt)


def no_cache_breakpoint(agent: AgentContext) -> None:
    """A documentation Q&A agent with a 12,000-token system prompt and no cache_control
    anywhere: the whole prompt is paid in full on every call (no_breakpoint;
    uncached_prefix)."""
    session = Session(agent, "docs", system_tokens=12_000, cache=False)
    for question in ("How do I rotate the API keys?", "Which regions do you support?",
                     "Can I export my data as CSV?", "What does error E1042 mean?",
                     "How are seats billed?"):
        session.task(question)


def long_pauses_between_turns(agent: AgentContext) -> None:
    """A well-cached agent whose user comes back after 9 and then 14 minutes: the
    5-minute cache entries have expired and are written again (ttl_expired;
    ttl_too_short). The virtual clock makes the pauses instant."""
    session = Session(agent, "pauses", system_tokens=6000, tools=CODING_TOOLS)
    session.task(CODING_TASKS[0])
    agent.pause(9 * 60)
    session.task(CODING_TASKS[1])
    agent.pause(14 * 60)
    session.task(CODING_TASKS[2])


SOURCES = 12


def orchestrator_fan_out(agent: AgentContext) -> None:
    """An orchestrator plans, fans out to 12 sub-agents that each summarise one source
    in a single call (independent: nobody waits on one to start another), then writes
    the report. Single-call runs like these can go through Message Batches at half the
    price (batch_candidate)."""
    lead = Session(agent, "orchestrator", system_tokens=1500)
    lead.task("Plan a market report on vector databases from these 12 sources.")

    def sub_agent(i: int) -> None:
        with run("summarize-source", source=i):
            agent.client.messages.create(
                model=SONNET, max_tokens=512,
                system="You summarise one source for a market report in five bullet points.",
                messages=[{"role": "user", "content": text_of(1500, f"source {i}")}])

    with ThreadPoolExecutor(4) as pool:  # each runs in the orchestrator's context
        done = [pool.submit(contextvars.copy_context().run, sub_agent, i)
                for i in range(SOURCES)]
        for future in done:
            future.result()
    agent.work(30)
    lead.task("Write the report from the 12 summaries.")


TICKETS = 24


def classification_on_opus(agent: AgentContext) -> None:
    """24 support tickets labelled one by one on the most expensive model: short,
    mechanical answers that a smaller model may do as well (model_routing_candidate;
    try it against your evals)."""
    instructions = text_of(1500, "triage rules")
    for i in range(TICKETS):
        agent.client.messages.create(
            model=OPUS, max_tokens=16,
            system=[{"type": "text", "text": instructions, "cache_control": EPHEMERAL}],
            messages=[{"role": "user",
                       "content": f"{CLASSIFY} as billing, bug, account or other: "
                                  f"{text_of(150, f'ticket {i}')}"}])
        agent.work(4)


def huge_tool_result_dragged_along(agent: AgentContext) -> None:
    """A 30,000-token CI log fetched on the first call stays in the conversation for
    every later call, long after the agent used it: cached, but read (and paid) again
    on each call (context_dead_weight)."""
    session = Session(agent, "ci-log", tools=CODING_TOOLS)
    session.task("The nightly build failed; find out why.", results={"read_file": 30_000})
    for prompt in CODING_TASKS[1:5]:
        session.task(prompt)


def breakpoint_only_on_system_prompt(agent: AgentContext) -> None:
    """The coding agent with its one breakpoint on the system prompt and none on the
    conversation: tools and system are read from the cache, but every call sends the
    whole conversation so far again as uncached input, a little more each time
    (growing_uncached_input)."""
    session = Session(agent, "system-only", tools=CODING_TOOLS, cache_messages=False,
                      result_tokens=1500)
    for prompt in CODING_TASKS[:4]:
        session.task(prompt)


# Below context_dead_weight's 10,000-token blocks (analysis/insights_dead_weight.py):
# what this agent shows is the sum of many results, not one large one.
COMPACT_RESULT_TOKENS = 9_000
# Tasks before the compaction: the input passes context_growth's 100,000 tokens
# (analysis/insights.py) on the 11th and reaches nearly 150,000 on the 15th.
COMPACT_TASKS = 15


def compacts_its_context(agent: AgentContext) -> None:
    """An agent that compacts late: it asks for a summary and starts over from it (as
    Claude Code's compaction does), but only once 15 tasks have read a 9,000-token file
    each; its input passes 100,000 tokens on the 11th and reaches nearly 150,000. The
    conversation's cache is written anew once
    (messages_changed, "replaced from its first message") and the calls after it are
    small; the calls it made over 100,000 tokens first are what compacting there would
    have saved (context_growth)."""
    session = Session(agent, "compact", tools=CODING_TOOLS,
                      result_tokens=COMPACT_RESULT_TOKENS)
    for i in range(COMPACT_TASKS):
        session.task(f"Port module {i + 1} of {COMPACT_TASKS} to the new storage API.")
    session.task("Summarise the work so far for a fresh context.")
    summary = text_of(400, "summary")
    session.messages[:] = [
        {"role": "user", "content": [{"type": "text",
                                      "text": f"Summary of the work so far: {summary}"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Understood."}]}]
    session.task(CODING_TASKS[4])


@dataclass(frozen=True)
class DemoAgent:
    name: str
    teaches: str  # one line, printed by the demo
    drive: Callable[[AgentContext], None]
    runs: int = 1  # how many runs (tasks) of it the demo starts
    alone: bool = False  # moves the emulator's clock: runs when the others are done


AGENTS: dict[str, DemoAgent] = {a.name: a for a in (
    DemoAgent("well-cached-coding-agent", "the baseline: every call reads the cache",
              well_cached_coding_agent),
    DemoAgent("timestamp-in-system-prompt",
              "a timestamp in the system prompt re-writes the cache on every call",
              timestamp_in_system_prompt, runs=3),
    DemoAgent("tools-reordered-every-turn",
              "tools sent in another order on each call: nothing is read",
              tools_reordered_every_turn),
    DemoAgent("no-cache-breakpoint", "a 12k-token system prompt paid in full every call",
              no_cache_breakpoint),
    DemoAgent("long-pauses-between-turns", "pauses past the 5-minute TTL: written again",
              long_pauses_between_turns, alone=True),
    DemoAgent("orchestrator-fan-out",
              "12 independent sub-agents: Message Batches would halve their cost",
              orchestrator_fan_out),
    DemoAgent("classification-on-opus",
              "mechanical labels on the most expensive model: a routing candidate",
              classification_on_opus),
    DemoAgent("huge-tool-result-dragged-along",
              "a 30k-token log carried (and paid) on every later call",
              huge_tool_result_dragged_along),
    DemoAgent("breakpoint-only-on-system-prompt",
              "the conversation after the system prompt is never cached: paid again "
              "every call",
              breakpoint_only_on_system_prompt),
    DemoAgent("compacts-its-context",
              "compacts only near 150k tokens: one re-write, after 11 calls over 100k",
              compacts_its_context),
)}
