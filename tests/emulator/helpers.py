"""Shared helpers: the documented token rule, restated independently of the emulator."""

from __future__ import annotations

import math

API_KEY = "sk-ant-emulator"


def toks(text: str) -> int:
    """The emulator's documented estimate (tokens.py): ceil(utf-8 bytes / 4)."""
    return math.ceil(len(text.encode("utf-8")) / 4)


def text_of(n: int, tag: str = "") -> str:
    """An ASCII text of exactly ``n`` tokens (4n bytes), distinct per ``tag``."""
    base = (f"[{tag}]" if tag else "") + "The quick brown fox jumps over the lazy dog. "
    out = (base * (n * 4 // len(base) + 1))[: n * 4]
    assert toks(out) == n
    return out
