"""Request validation with the real API's 400 ``invalid_request_error`` answers.

Strict where a real request would be rejected (types of known fields, roles, tool
references, cache markers), lenient about unknown top-level fields: clients such as
Claude Code send beta parameters (``context_management``, ``betas``...) that the
emulator does not model but must not refuse.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .prefix import normalize_content, parse_cache_control

ROLES = ("user", "assistant")
MID_CONVERSATION_SYSTEM_BETA = "mid-conversation-system-2026-04-07"
"""With this beta (Claude Code 2.1 sends it) ``messages`` may hold ``system`` turns."""
TOOL_CHOICES = ("auto", "any", "tool", "none")
THINKING_TYPES = ("enabled", "disabled", "adaptive")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_text_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or block.get("type") != "text":
        raise invalid(f"{where}: Input should be a text block")
    if not isinstance(block.get("text"), str):
        raise invalid(f"{where}.text: Field required")
    parse_cache_control(block.get("cache_control"), where)


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, dict):
        raise invalid(f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise invalid(f"{where}.type: Field required")
    if kind == "text":
        _check_text_block(block, where)
    elif kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise invalid(f"{where}: tool_use blocks need an id and a name")
        if not isinstance(block.get("input"), dict):
            raise invalid(f"{where}.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise invalid(f"{where}.tool_use_id: Field required")
        content = block.get("content", "")
        if not isinstance(content, (str, list)):
            raise invalid(f"{where}.content: Input should be a valid string or list")
    elif kind == "image" and not isinstance(block.get("source"), dict):
        raise invalid(f"{where}.source: Field required")
    parse_cache_control(block.get("cache_control"), where)


def _check_messages(messages: Any, roles: tuple[str, ...] = ROLES) -> None:
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    pending_tool_ids: list[str] = []
    pending_at = -1
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise invalid(f"{where}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in roles:
            raise invalid(f"{where}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, (str, list)):
            raise invalid(f"{where}.content: Input should be a valid string or list")
        blocks = normalize_content(content)
        for j, block in enumerate(blocks):
            _check_block(block, f"{where}.content.{j}")
        if pending_tool_ids:
            results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            missing = [t for t in pending_tool_ids if t not in results]
            if role != "user" or missing:
                raise invalid(
                    f"messages.{pending_at}: `tool_use` ids were found without `tool_result` "
                    f"blocks immediately after: {', '.join(missing or pending_tool_ids)}. "
                    "Each `tool_use` block must have a corresponding `tool_result` block "
                    "in the next message."
                )
            pending_tool_ids = []
        if role == "assistant":
            pending_tool_ids = [b["id"] for b in blocks if b.get("type") == "tool_use"]
            pending_at = i


def _check_tools(tools: Any) -> set[str]:
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if not isinstance(tool, dict):
            raise invalid(f"{where}: Input should be a valid dictionary")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"{where}.name: Field required")
        if tool.get("type") in (None, "custom") and not isinstance(tool.get("input_schema"), dict):
            raise invalid(f"{where}.input_schema: Field required")
        if name in names:
            raise invalid("tools: Tool names must be unique.")
        names.add(name)
        parse_cache_control(tool.get("cache_control"), where)
    return names


def validate_count_tokens(body: Any, betas: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Validate the fields shared by ``/v1/messages`` and ``count_tokens``."""
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model: Field required")
    roles = (*ROLES, "system") if MID_CONVERSATION_SYSTEM_BETA in betas else ROLES
    _check_messages(body.get("messages"), roles)
    system = body.get("system")
    if system is not None:
        if isinstance(system, list):
            for i, block in enumerate(system):
                _check_text_block(block, f"system.{i}")
        elif not isinstance(system, str):
            raise invalid("system: Input should be a valid string or list of text blocks")
    names: set[str] = set()
    if body.get("tools") is not None:
        names = _check_tools(body["tools"])
    tool_choice = body.get("tool_choice")
    if tool_choice is not None:
        if not isinstance(tool_choice, dict) or tool_choice.get("type") not in TOOL_CHOICES:
            raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if tool_choice["type"] == "tool" and tool_choice.get("name") not in names:
            raise invalid(f"tool_choice.name: Tool '{tool_choice.get('name')}' not found in tools")
        if tool_choice["type"] in ("any", "tool") and not names:
            raise invalid("tool_choice: requires tools to be provided")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_TYPES:
            raise invalid("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
        if thinking["type"] == "enabled":
            budget = thinking.get("budget_tokens")
            if not _is_int(budget) or budget < 1024:
                raise invalid("thinking.enabled.budget_tokens: Input should be >= 1024")
    parse_cache_control(body.get("cache_control"), "body")
    if body.get("speed") not in (None, "standard", "fast"):
        raise invalid("speed: Input should be 'standard' or 'fast'")
    return body


def validate_create(body: Any, betas: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Validate a ``POST /v1/messages`` body; returns it unchanged or raises a 400."""
    validate_count_tokens(body, betas)
    max_tokens = body.get("max_tokens")
    if not _is_int(max_tokens):
        raise invalid("max_tokens: Field required")
    if max_tokens < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid("stream: Input should be a valid boolean")
    if max_tokens == 0 and (stream or (body.get("thinking") or {}).get("type") == "enabled"):
        raise invalid("max_tokens: 0 (cache pre-warming) is not supported with streaming "
                      "or extended thinking")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and thinking.get("budget_tokens", 0) >= max_tokens:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list)
                              or not all(isinstance(s, str) for s in stops)):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    temperature = body.get("temperature")
    if temperature is not None and (not isinstance(temperature, (int, float))
                                    or isinstance(temperature, bool)
                                    or not 0 <= temperature <= 1):
        raise invalid("temperature: Input should be between 0 and 1")
    diagnostics = body.get("diagnostics")
    if diagnostics is not None:
        prev = diagnostics.get("previous_message_id") if isinstance(diagnostics, dict) else 0
        if not isinstance(diagnostics, dict) or not (prev is None or isinstance(prev, str)):
            raise invalid("diagnostics.previous_message_id: Input should be a string or null")
    return body
