"""Scripted behaviour: what the emulated assistant answers.

A ``Scenario`` is a list of rules plus a default policy. The first rule whose
conditions all hold decides the reply; when none does, the default policy answers:

- while fewer than ``tool_turns`` assistant turns since the last human prompt have
  used a tool, and the request offers a client tool (and ``tool_choice`` allows it),
  call one: ``tool_choice``'s named tool, else the first of ``preferred_tools`` that is
  offered, else the first offered tool, with ``tool_inputs[name]`` or an input
  synthesised from the tool's ``input_schema``;
- otherwise answer ``text`` and stop with ``end_turn``.

That is enough for unmodified agents (Claude Code included) to run a full
tool-then-answer session. A scenario is plain data, so it can live in a JSON file::

    {"tool_turns": 1,
     "text": "All done.",
     "rules": [
       {"when": {"contains": "weather"},
        "reply": {"tool": "get_weather", "input": {"city": "Paris"}}},
       {"when": {"model": "claude-haiku-*"}, "reply": {"text": "short", "times": 2}},
       {"when": {"turn": 3}, "reply": {"text_tokens": 500, "stop_reason": "end_turn"}}
     ]}

Conditions: ``model`` (glob), ``contains`` (substring of the last user message's
text), ``turn`` (1-based assistant turn in the conversation), ``has_tools`` (bool).
Reply fields: ``text``, ``text_tokens`` (a text of exactly that many tokens),
``tool`` (``"*"`` = first offered), ``input``, ``thinking``, ``stop_reason``,
``times`` (use the rule at most that many times).

Whatever the reply, ``max_tokens`` and ``stop_sequences`` are honoured the way the
API does (truncation with ``max_tokens`` / ``stop_sequence`` stop reasons), and a
requested JSON-schema output format gets a JSON text that fits the schema.
"""

from __future__ import annotations

import fnmatch
import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .prefix import normalize_content
from .tokens import compact_json, count_text, output_tokens

DEFAULT_TEXT = "Done. This answer comes from the tokentrail emulator."
DEFAULT_THINKING = "The user asked for something; I will answer briefly."
FILLER = "lorem ipsum dolor sit amet "

_CLIENT_TOOL_PREFIXES = ("bash_", "text_editor_", "computer_", "memory_")


@dataclass
class Reply:
    """What to answer."""

    text: str | None = None
    text_tokens: int | None = None
    tool: str | None = None
    input: dict[str, Any] | None = None
    thinking: str | None = None
    stop_reason: str | None = None


@dataclass
class Rule:
    """A reply plus the conditions under which it is used."""

    reply: Reply
    model: str | None = None
    contains: str | None = None
    turn: int | None = None
    has_tools: bool | None = None
    times: int | None = None
    used: int = 0

    def matches(self, ctx: Context) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.model is not None and not fnmatch.fnmatch(ctx.model, self.model):
            return False
        if self.contains is not None and self.contains not in ctx.last_user_text:
            return False
        if self.turn is not None and self.turn != ctx.turn:
            return False
        return self.has_tools is None or self.has_tools == bool(ctx.tools)


@dataclass
class Context:
    """What the scenario may look at in a request."""

    model: str
    turn: int
    last_user_text: str
    tools: list[dict[str, Any]]
    tool_turns_since_prompt: int


@dataclass
class Generated:
    """The decided answer: content blocks and stop information."""

    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None = None

    @property
    def output_tokens(self) -> int:
        return output_tokens(self.content)

    @property
    def thinking_tokens(self) -> int:
        return sum(count_text(b.get("thinking", "")) for b in self.content
                   if b["type"] == "thinking")


def _new_tool_id() -> str:
    return "toolu_emu_" + secrets.token_hex(12)


def text_of_tokens(n: int) -> str:
    """A text of exactly ``n`` tokens under the emulator's counting rule."""
    return (FILLER * (n * 4 // len(FILLER) + 1))[: n * 4]


def sample_from_schema(schema: Any, depth: int = 0) -> Any:
    """A small value that fits a JSON schema (required properties only)."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf", "allOf"):
        if schema.get(combo):
            return sample_from_schema(schema[combo][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = schema.get("required") or []
        return {k: sample_from_schema(props.get(k, {}), depth + 1) for k in required}
    if kind == "array":
        n = schema.get("minItems", 0)
        return [sample_from_schema(schema.get("items", {}), depth + 1) for _ in range(n)]
    if kind == "string":
        return "example"
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return None


def callable_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Tools the client executes (server tools and deferred tools excluded)."""
    out = []
    for tool in body.get("tools") or []:
        kind = tool.get("type")
        client = kind in (None, "custom") or str(kind).startswith(_CLIENT_TOOL_PREFIXES)
        if client and not tool.get("defer_loading"):
            out.append(tool)
    return out


def _user_text(message: dict[str, Any]) -> str:
    return "\n".join(b.get("text", "") for b in normalize_content(message.get("content", []))
                     if b.get("type") == "text")


def context_of(body: dict[str, Any]) -> Context:
    messages = body.get("messages") or []
    last_prompt = 0
    for i, m in enumerate(messages):
        blocks = normalize_content(m.get("content", []))
        if m.get("role") == "user" and not any(b.get("type") == "tool_result" for b in blocks):
            last_prompt = i
    tool_turns = sum(
        1 for m in messages[last_prompt:]
        if m.get("role") == "assistant"
        and any(b.get("type") == "tool_use" for b in normalize_content(m.get("content", [])))
    )
    users = [m for m in messages if m.get("role") == "user"]
    return Context(
        model=str(body.get("model")),
        turn=sum(1 for m in messages if m.get("role") == "assistant") + 1,
        last_user_text=_user_text(users[-1]) if users else "",
        tools=callable_tools(body),
        tool_turns_since_prompt=tool_turns,
    )


def _output_schema(body: dict[str, Any]) -> Any:
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt.get("schema") or {}
    return None


def _truncate(text: str, tokens: int) -> str:
    return text.encode("utf-8")[: tokens * 4].decode("utf-8", errors="ignore")


@dataclass
class Scenario:
    """Rules plus the default policy (see the module docstring)."""

    rules: list[Rule] = field(default_factory=list)
    tool_turns: int = 1
    text: str = DEFAULT_TEXT
    thinking: str = DEFAULT_THINKING
    preferred_tools: tuple[str, ...] = ("Bash", "bash")
    tool_inputs: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "Bash": {"command": "echo hi", "description": "Print a greeting"},
        "bash": {"command": "echo hi"},
    })

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        """Build a scenario from its JSON form (see the module docstring)."""
        rules = []
        for raw in data.get("rules", []):
            reply = dict(raw.get("reply", {}))
            times = reply.pop("times", raw.get("times"))
            rules.append(Rule(reply=Reply(**reply), times=times, **raw.get("when", {})))
        kwargs: dict[str, Any] = {"rules": rules}
        for key in ("tool_turns", "text", "thinking", "tool_inputs"):
            if key in data:
                kwargs[key] = data[key]
        if "preferred_tools" in data:
            kwargs["preferred_tools"] = tuple(data["preferred_tools"])
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario from a JSON file."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def _pick_tool(self, body: dict[str, Any], ctx: Context, wanted: str | None) -> Any:
        choice = body.get("tool_choice") or {"type": "auto"}
        if choice.get("type") == "none" or not ctx.tools:
            return None
        by_name = {t["name"]: t for t in ctx.tools}
        if choice.get("type") == "tool":
            return by_name.get(choice["name"])
        if wanted and wanted != "*":
            return by_name.get(wanted)
        for name in self.preferred_tools:
            if name in by_name:
                return by_name[name]
        return ctx.tools[0]

    def _tool_block(self, tool: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
        name = tool["name"]
        tool_input = given if given is not None else self.tool_inputs.get(name)
        if tool_input is None:
            tool_input = sample_from_schema(tool.get("input_schema") or {}) or {}
        return {"type": "tool_use", "id": _new_tool_id(), "name": name, "input": tool_input}

    def decide(self, body: dict[str, Any]) -> Generated:
        """The reply to one (validated) request."""
        ctx = context_of(body)
        reply: Reply | None = None
        with self._lock:
            for rule in self.rules:
                if rule.matches(ctx):
                    rule.used += 1
                    reply = rule.reply
                    break
        choice_type = (body.get("tool_choice") or {}).get("type", "auto")
        content: list[dict[str, Any]] = []
        tool = None
        if reply is None:
            must = choice_type in ("any", "tool")
            if must or ctx.tool_turns_since_prompt < self.tool_turns:
                tool = self._pick_tool(body, ctx, None)
            reply = Reply()
        elif reply.tool is not None or choice_type in ("any", "tool"):
            tool = self._pick_tool(body, ctx, reply.tool)

        thinking = body.get("thinking") or {}
        if thinking.get("type") in ("enabled", "adaptive"):
            text = reply.thinking if reply.thinking is not None else self.thinking
            content.append({"type": "thinking", "thinking": text,
                            "signature": "emu_" + secrets.token_hex(16)})

        schema = _output_schema(body)
        if tool is not None:
            content.append(self._tool_block(tool, reply.input))
            stop = "tool_use"
        else:
            if reply.text_tokens is not None:
                text = text_of_tokens(reply.text_tokens)
            elif schema is not None:
                text = compact_json(sample_from_schema(schema))
            else:
                text = reply.text if reply.text is not None else self.text
            content.append({"type": "text", "text": text})
            stop = "end_turn"
        if reply.stop_reason:
            stop = reply.stop_reason
        return _apply_limits(body, Generated(content, stop))


def _apply_limits(body: dict[str, Any], gen: Generated) -> Generated:
    """Honour ``stop_sequences`` and ``max_tokens`` like the API does."""
    for block in gen.content:
        if block["type"] != "text":
            continue
        for seq in body.get("stop_sequences") or []:
            at = block["text"].find(seq)
            if seq and at >= 0:
                block["text"] = block["text"][:at]
                gen = Generated(gen.content, "stop_sequence", seq)
    budget = int(body.get("max_tokens", 0))
    if gen.output_tokens <= budget:
        return gen
    kept: list[dict[str, Any]] = []
    left = budget
    for block in gen.content:
        if block["type"] == "thinking":
            n = count_text(block["thinking"])
            block = {**block, "thinking": _truncate(block["thinking"], min(n, left))}
            left -= count_text(block["thinking"])
        elif block["type"] == "tool_use":
            # A tool call that does not fit is cut off; what remains is a text stub.
            block = {"type": "text", "text": _truncate(compact_json(block["input"]), left)}
            left -= count_text(block["text"])
        else:
            block = {**block, "text": _truncate(block["text"], left)}
            left -= count_text(block["text"])
        if left < 0:
            break
        kept.append(block)
        if left == 0:
            break
    if budget == 0:
        kept = []
    return Generated(kept, "max_tokens")
