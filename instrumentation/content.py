"""Message contents on the span, only when the user opts in.

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (:mod:`.config`): the GenAI
semantic conventions' content attributes, as compact JSON cut at
``TOKENTRAIL_MAX_CONTENT_BYTES``. Otherwise prompt contents never leave the process.
"""

from __future__ import annotations

from typing import Any

from . import attributes as at
from .fields import given
from .fingerprint import compact_json

TRUNCATED = "...[truncated]"


def capped(value: Any, limit: int) -> str:
    """``value`` as compact JSON, cut at ``limit`` characters and marked if cut."""
    text = compact_json(value)
    if len(text) > limit:
        text = text[:limit] + TRUNCATED
    return text


def input_attributes(body: dict[str, Any], messages: list[Any], limit: int) -> dict[str, Any]:
    """The request's messages and system prompt."""
    out = {at.GEN_AI_INPUT_MESSAGES: capped(messages, limit)}
    system = body.get("system")
    if given(system):
        out[at.GEN_AI_SYSTEM_INSTRUCTIONS] = capped(system, limit)
    return out


def output_attributes(content: Any, limit: int) -> dict[str, Any]:
    """The response's content, as one assistant message."""
    text = compact_json([{"role": "assistant", "content": content}])
    return {at.GEN_AI_OUTPUT_MESSAGES: text[:limit]}
