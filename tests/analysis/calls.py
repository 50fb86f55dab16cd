"""Rows of ``llm_call_reports`` written by hand, for the rules of ``cache_events``.

The scenario suite (tests/scenarios) drives the real SDK against the emulator; these
rows pin one rule at a time, including what the SDK cannot produce on demand (an API
diagnostic that disagrees, a report replaced by a richer one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tokentrail.store import Store

START = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
SONNET = "claude-sonnet-4-5"  # minimum cacheable prefix 1024 (docs/facts.md §1)

COLUMNS = (
    "timestamp", "call_id", "trace_id", "span_id", "service_name", "source", "source_rank",
    "family_rank", "run_id", "turn", "model", "input_tokens", "cache_read_tokens",
    "cache_write_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
    "duration_ms", "prefix_tools_hash", "prefix_system_hash", "prefix_params_hash",
    "prefix_message_hashes", "prefix_message_count", "prefix_block_count",
    "prefix_block_tokens", "prefix_tokens", "cache_breakpoints", "cache_ttls",
    "prefix_change_level", "prefix_change_params", "prefix_change_message",
    "prefix_change_block", "prefix_change_char", "prefix_change_hint", "cache_miss_reason",
    "cache_missed_input_tokens",
)
SOURCE_RANKS = {"tokentrail": 90, "openllmetry": 60, "claude-code-event": 40}
FAMILY_RANKS = {"claude-code-event": 4}


@dataclass
class Call:
    """One call; ``at`` in seconds from :data:`START`. Token buckets are Anthropic's
    (disjoint). Fingerprint fields are left empty for sources without them."""

    turn: int
    at: float
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0
    uncached: int = 10
    model: str = SONNET
    duration: float = 1.0
    source: str = "tokentrail"
    tools: str = "T"
    system: str = "S"
    params: str = "P"
    messages: list[str] = field(default_factory=list)
    message_count: int | None = None
    block_count: int | None = None
    block_tokens: list[int] = field(default_factory=list)
    prefix_tokens: int = 0
    breakpoints: list[int] = field(default_factory=list)
    ttls: list[str] = field(default_factory=list)
    change: str = ""
    change_params: list[str] = field(default_factory=list)
    change_message: int | None = None
    change_block: int | None = None
    change_char: int | None = None
    hint: str = ""
    api_reason: str = ""
    api_missed: int = 0
    call_id: str = ""

    def row(self, run_id: str) -> list[Any]:
        fingerprints = self.source == "tokentrail"
        n = self.message_count if self.message_count is not None else len(self.messages)
        values = {
            "timestamp": START + dt.timedelta(seconds=self.at),
            "call_id": self.call_id or f"{run_id}-{self.turn}",
            "trace_id": run_id, "span_id": str(self.turn), "service_name": "agent",
            "source": self.source, "source_rank": SOURCE_RANKS[self.source],
            "family_rank": FAMILY_RANKS.get(self.source, 0), "run_id": run_id,
            "turn": self.turn if fingerprints else 0, "model": self.model,
            "input_tokens": self.uncached, "cache_read_tokens": self.read,
            "cache_write_tokens": self.write_5m + self.write_1h,
            "cache_write_5m_tokens": self.write_5m, "cache_write_1h_tokens": self.write_1h,
            "output_tokens": 20, "duration_ms": self.duration * 1000,
            "prefix_tools_hash": self.tools if fingerprints else "",
            "prefix_system_hash": self.system if fingerprints else "",
            "prefix_params_hash": self.params if fingerprints else "",
            "prefix_message_hashes": self.messages[-20:] if fingerprints else [],
            "prefix_message_count": n if fingerprints else 0,
            "prefix_block_count": (self.block_count if self.block_count is not None
                                   else 2 + n) if fingerprints else 0,
            "prefix_block_tokens": self.block_tokens, "prefix_tokens": self.prefix_tokens,
            "cache_breakpoints": self.breakpoints, "cache_ttls": self.ttls,
            "prefix_change_level": self.change, "prefix_change_params": self.change_params,
            "prefix_change_message": self.change_message,
            "prefix_change_block": self.change_block, "prefix_change_char": self.change_char,
            "prefix_change_hint": self.hint, "cache_miss_reason": self.api_reason,
            "cache_missed_input_tokens": self.api_missed,
        }
        return [values[c] for c in COLUMNS]


def insert(store: Store, run_id: str, calls: list[Call]) -> None:
    store.insert("llm_call_reports", [c.row(run_id) for c in calls], COLUMNS)


def loop(turns: int, *, system_tokens: int = 3000, turn_tokens: int = 200, gap: float = 10.0,
         start_turn: int = 1, at: float = 0.0) -> list[Call]:
    """A clean agent loop: a cached system prompt (one tool and one system block), a
    breakpoint on the last message, each turn re-reading everything the previous one
    cached and writing its two new messages (docs/facts.md §1 rules 3-4)."""
    calls, cached = [], 0
    for i in range(turns):
        turn = start_turn + i
        messages = [f"m{j}" for j in range(2 * turn - 1)]
        total = system_tokens + turn_tokens * (2 * turn - 1)
        calls.append(Call(turn, at + gap * i, read=cached, write_5m=total - cached, uncached=0,
                          messages=messages, breakpoints=[1, 1 + len(messages)],
                          ttls=["5m", "5m"], prefix_tokens=total,
                          change="none" if i else ""))
        cached = total
    return calls
