"""``count_tokens`` and batch creation: calls with a few attributes and no run state.

They are traced (what an agent counted, which batch it created) but never count as an
LLM call: their spans carry no ``gen_ai.usage.*``.
"""

from __future__ import annotations

from typing import Any

from . import attributes as at
from .call import NO_KEYS, CallSpan
from .endpoints import BATCH_CREATE, COUNT, SPAN_NAMES
from .fields import get


class SimpleCall(CallSpan):
    """A :class:`.call.Call` for the ``count_tokens`` and ``batches.create`` endpoints."""

    __slots__ = ("kind",)

    def __init__(self, kind: str, attrs: dict[str, Any]) -> None:
        super().__init__(attrs)
        self.kind = kind

    @property
    def span_name(self) -> str:
        return SPAN_NAMES[self.kind]

    def record_message(self, message: Any, sdk_keys: frozenset[str] = NO_KEYS) -> None:
        if self.done:
            return
        self.done = True
        if self.kind == COUNT:
            tokens = get(message, "input_tokens")
            if type(tokens) is int:
                self._set({at.ANTHROPIC_COUNT_TOKENS_INPUT: tokens})
        elif self.kind == BATCH_CREATE:
            batch_id = get(message, "id")
            if isinstance(batch_id, str):
                self._set({at.BATCH_ID: batch_id, at.ANTHROPIC_BATCH_ID: batch_id})
