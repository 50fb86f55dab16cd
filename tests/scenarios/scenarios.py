"""Labelled cache-event scenarios: what an agent does, and the exact (turn, cause) set
that ``cache_events`` must report for its run.

Each scenario drives the real anthropic SDK (see :mod:`tests.scenarios.agent`) against
the emulator, whose cache follows docs/facts.md §1; the labels follow from those rules,
not from tokentrail's implementation. One cause per scenario that an agent can produce
this way, clean loops of 50+ turns that must stay silent, and a revert that is one
event, not two.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.helpers import text_of

MODEL = "claude-sonnet-4-5"  # minimum cacheable prefix 1024 tokens (docs/facts.md §1)
OTHER_MODEL = "claude-opus-4-1"  # also 1024
HELPER_MODEL = "claude-haiku-4-5"  # 4096
EPH = {"type": "ephemeral"}
EPH_1H = {"type": "ephemeral", "ttl": "1h"}
CLOCK = "Current time: 2026-12-02T01:04:55Z."


def tool(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"The {name} tool.",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}


class Conversation:
    """One agent loop, the way the docs recommend caching it: a breakpoint on the system
    prompt and one on the newest user message, moved forward every turn. Tool calls are
    answered with tool results in the next user message."""

    def __init__(self, agent, tag: str, *, system_tokens: int = 3000, model: str = MODEL,
                 tools: list | None = None, system_cache: dict | None = EPH,
                 message_cache: dict | None = EPH, clock: str = CLOCK) -> None:
        self.agent, self.tag, self.model, self.tools = agent, tag, model, tools
        self.message_cache = message_cache
        self.system_text = f"{clock} {text_of(system_tokens, tag)}"
        self.system_cache = system_cache
        self.messages: list[dict] = []
        self.turns = 0

    def system(self, text: str | None = None) -> list[dict]:
        block: dict[str, Any] = {"type": "text", "text": text or self.system_text}
        if self.system_cache:
            block["cache_control"] = self.system_cache
        return [block]

    def turn(self, text: str | None = None, *, system: str | None = None,
             tools: list | None = None, model: str | None = None,
             blocks: int = 1, **kwargs: Any):
        """One call: a new user message (``blocks`` text blocks, the last one marked),
        preceded by tool results if the last reply called tools."""
        self.turns += 1
        for message in self.messages:  # the breakpoint moves forward, as agents do
            if message["role"] == "user" and isinstance(message["content"], list):
                for block in message["content"]:
                    block.pop("cache_control", None)
        content: list[dict] = []
        if self.messages and self.messages[-1]["role"] == "assistant":
            for block in self.messages[-1]["content"]:
                if getattr(block, "type", None) == "tool_use":
                    content.append({"type": "tool_result", "tool_use_id": block.id,
                                    "content": f"result for {block.name}"})
        words = text or f"{self.tag} question {self.turns}: {text_of(60, str(self.turns))}"
        for i in range(blocks):
            content.append({"type": "text", "text": f"{words} (part {i})" if blocks > 1
                            else words})
        if self.message_cache:
            content[-1]["cache_control"] = self.message_cache
        self.messages.append({"role": "user", "content": content})
        request: dict[str, Any] = {"model": model or self.model, "max_tokens": 64,
                                   "messages": self.messages, **kwargs}
        system_blocks = self.system(system)
        request["system"] = system_blocks
        if tools or self.tools:
            request["tools"] = tools or self.tools
        reply = self.agent.create(**request)
        self.messages.append({"role": "assistant", "content": reply.content})
        return reply


@dataclass(frozen=True)
class Scenario:
    """What the agent does, and what ``cache_events`` must say about its run."""

    drive: Callable[[Any], None]
    expected: frozenset[tuple[int, str]]
    details: dict[int, tuple[str, ...]] = field(default_factory=dict)  # turn -> substrings
    env: dict[str, str] = field(default_factory=dict)


# --- clean loops: no event over 50+ turns ----------------------------------------------

def clean_loop(agent) -> None:
    chat = Conversation(agent, "clean")
    for _ in range(60):
        chat.turn()


def clean_tool_loop(agent) -> None:
    """Tools offered: the emulator calls one after each prompt, the agent answers with
    the result; 52 calls."""
    chat = Conversation(agent, "tools-clean", tools=[tool("search"), tool("read")])
    for _ in range(52):
        chat.turn()


def clean_automatic(agent) -> None:
    """Automatic caching (top-level cache_control) and no marker of our own."""
    chat = Conversation(agent, "auto", system_cache=None, message_cache=None)
    for _ in range(55):
        chat.turn(cache_control=EPH)


def clean_loop_with_helper_calls(agent) -> None:
    """A clean tool loop of 40 turns that, every 5 turns, calls a small helper with a
    prompt of its own (no tools, its own system prompt and single message, nothing
    cached): a summariser on the same model, a classifier on Haiku. The helpers share
    no block with what the loop cached, so nothing they sent could have been read, and
    the loop's next turn reads everything: no event (48 calls in one run())."""
    chat = Conversation(agent, "helped", tools=[tool("search"), tool("read")])
    for turn in range(1, 41):
        if turn % 5 == 0:
            summariser = turn % 10 == 0
            agent.create(model=MODEL if summariser else HELPER_MODEL, max_tokens=32,
                         system=("You summarise an agent's progress in one line."
                                 if summariser else "You label a request: bug or feature."),
                         messages=[{"role": "user",
                                    "content": f"helper call {turn}: {text_of(80, str(turn))}"}])
        chat.turn()


# --- one cause each ----------------------------------------------------------------------

def system_changed_and_reverted(agent) -> None:
    """Turn 5 puts a fresh timestamp in the system prompt; turn 6 restores it and reads
    what turn 4 cached: one event."""
    chat = Conversation(agent, "revert")
    for _ in range(4):
        chat.turn()
    chat.turn(system=chat.system_text.replace("01:04:55", "01:09:12"))
    for _ in range(3):
        chat.turn()


def tools_reordered(agent) -> None:
    chat = Conversation(agent, "reorder", tools=[tool("alpha"), tool("beta")])
    for _ in range(2):
        chat.turn()
    chat.tools = [tool("beta"), tool("alpha")]
    for _ in range(2):
        chat.turn()


def tool_choice_changed(agent) -> None:
    chat = Conversation(agent, "choice", tools=[tool("alpha")])
    chat.turn(tool_choice={"type": "auto"})
    chat.turn(tool_choice={"type": "auto"})
    chat.turn(tool_choice={"type": "none"})


def model_switched_and_back(agent) -> None:
    """Turn 3 goes to another model (caches are per model); turn 4 comes back and reads
    the first model's cache, which turn 2 left alive."""
    chat = Conversation(agent, "model")
    chat.turn()
    chat.turn()
    chat.turn(model=OTHER_MODEL)
    chat.turn()


def message_edited(agent) -> None:
    """Turn 5 rewrites the second user message (message 2: a new message object, as
    an application that edits its history builds one); the conversation goes on from
    the edited version. (An edit made *in place* in an already-sent message object is
    not seen by the fingerprints, which hash each message once: README, "Why the cache
    missed".)"""
    chat = Conversation(agent, "edit")
    for _ in range(4):
        chat.turn()
    old = chat.messages[2]["content"][-1]["text"]
    chat.messages[2] = {"role": "user", "content": [{"type": "text", "text": old + " (edited)"}]}
    for _ in range(3):
        chat.turn()


def compacted(agent) -> None:
    """Turn 5 replaces the conversation with a summary (as Claude Code's compaction
    does): the system prompt is still read, the rest is written again."""
    chat = Conversation(agent, "compact")
    for _ in range(4):
        chat.turn()
    chat.messages[:] = [
        {"role": "user", "content": [{"type": "text", "text": "Summary of the work so far: "
                                      + text_of(300, "summary")}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Understood."}]}]
    chat.turn()
    chat.turn()


def ttl_expired(agent) -> None:
    chat = Conversation(agent, "ttl")
    for _ in range(3):
        chat.turn()
    agent.advance(301)  # past the 5-minute TTL of everything cached
    chat.turn()
    chat.turn()


def one_hour_ttl(agent) -> None:
    """1h breakpoints: half an hour later the cache is still there; an hour later not."""
    chat = Conversation(agent, "ttl1h", system_cache=EPH_1H, message_cache=EPH_1H)
    chat.turn()
    chat.turn()
    agent.advance(1800)
    chat.turn()
    agent.advance(3601)
    chat.turn()


def lookback_exceeded(agent) -> None:
    """Turn 3's user message has 25 text blocks and its breakpoint only on the last one,
    more than 20 blocks after what turn 2 cached (docs/facts.md §1 rule 4)."""
    chat = Conversation(agent, "lookback")
    chat.turn()
    chat.turn()
    chat.turn(blocks=25)


def concurrent_requests(agent) -> None:
    """Three identical first requests in flight together (the emulator holds their
    responses until all three arrived): only the first-started one should write."""
    chat = Conversation(agent, "parallel")
    content = [{"type": "text", "text": f"parallel task: {text_of(60, 'p')}",
                "cache_control": EPH}]
    threads = []
    for i in range(3):
        context = contextvars.copy_context()  # the run() context goes with the thread
        thread = threading.Thread(target=context.run, args=(agent.create,), kwargs={
            "model": MODEL, "max_tokens": 64, "system": chat.system(),
            "messages": [{"role": "user", "content": content}],
            "extra_headers": {"x-emulator-gate": f"{chat.tag}-{id(agent)}/3"}})
        thread.start()
        threads.append(thread)
        agent.wait_for_requests(i + 1)  # arrival order = start order
    for thread in threads:
        thread.join()


def below_minimum(agent) -> None:
    chat = Conversation(agent, "small", system_tokens=200)
    for _ in range(3):
        chat.turn()


def no_breakpoint(agent) -> None:
    chat = Conversation(agent, "nobp", system_cache=None, message_cache=None)
    for _ in range(3):
        chat.turn()


def evicted(agent) -> None:
    """The API does not guarantee hits: the emulator drops its cache between turns 3
    and 4, with nothing changed and no time passed."""
    chat = Conversation(agent, "evicted")
    for _ in range(3):
        chat.turn()
    agent.evict()
    chat.turn()
    chat.turn()


def diagnostics_agree(agent) -> None:
    """With the API's cache diagnostics asked for, a system change at turn 3."""
    chat = Conversation(agent, "diag")
    chat.turn()
    chat.turn()
    chat.turn(system=chat.system_text.replace("01:04:55", "01:05:30"))


SCENARIOS: dict[str, Scenario] = {
    "clean_loop": Scenario(clean_loop, frozenset()),
    "clean_tool_loop": Scenario(clean_tool_loop, frozenset()),
    "clean_automatic": Scenario(clean_automatic, frozenset()),
    "clean_loop_with_helper_calls": Scenario(clean_loop_with_helper_calls, frozenset()),
    "system_changed_and_reverted": Scenario(
        system_changed_and_reverted, frozenset({(5, "system_changed")}),
        {5: ("system prompt changed", "looks like a timestamp")}),
    "tools_reordered": Scenario(tools_reordered, frozenset({(3, "tools_changed")}),
                                {3: ("reordered",)}),
    "tool_choice_changed": Scenario(tool_choice_changed, frozenset({(3, "params_changed")}),
                                    {3: ("tool_choice",)}),
    "model_switched_and_back": Scenario(model_switched_and_back,
                                        frozenset({(3, "model_changed")}),
                                        {3: (f"{MODEL} to {OTHER_MODEL}",)}),
    "message_edited": Scenario(message_edited, frozenset({(5, "messages_changed")}),
                               {5: ("message 2 changed",)}),
    "compacted": Scenario(compacted, frozenset({(5, "messages_changed")}),
                          {5: ("replaced from its first message",)}),
    "ttl_expired": Scenario(ttl_expired, frozenset({(4, "ttl_expired")}), {4: ("5m TTL",)}),
    "one_hour_ttl": Scenario(one_hour_ttl, frozenset({(4, "ttl_expired")}), {4: ("1h TTL",)}),
    "lookback_exceeded": Scenario(lookback_exceeded, frozenset({(3, "lookback_exceeded")}),
                                  {3: ("20-block lookback",)}),
    "concurrent_requests": Scenario(concurrent_requests,
                                    frozenset({(2, "concurrent_requests"),
                                               (3, "concurrent_requests")})),
    "below_minimum": Scenario(below_minimum,
                              frozenset({(2, "below_minimum"), (3, "below_minimum")})),
    "no_breakpoint": Scenario(no_breakpoint,
                              frozenset({(2, "no_breakpoint"), (3, "no_breakpoint")})),
    "evicted": Scenario(evicted, frozenset({(4, "unexplained")}),
                        {4: ("does not guarantee hits",)}),
    "diagnostics_agree": Scenario(diagnostics_agree, frozenset({(3, "system_changed")}),
                                  {3: ("diagnostics agree",)},
                                  env={"TOKENTRAIL_CACHE_DIAGNOSTICS": "1"}),
}
