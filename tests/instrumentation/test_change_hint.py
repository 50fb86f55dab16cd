"""The change hint: what the text that broke a cached prefix looks like."""

from __future__ import annotations

import pytest

from tokentrail.instrumentation.change_hint import classify_text_change, is_reordering
from tokentrail.instrumentation.fingerprint import first_difference


def hint(old: str, new: str) -> str:
    return classify_text_change(old, new, first_difference(old, new))


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("You are helpful. Current time: 2026-12-02T01:04:55Z. Be brief.",
     "You are helpful. Current time: 2026-12-02T01:05:12Z. Be brief.", "timestamp"),
    ("Today is 2026-12-02.", "Today is 2026-12-03.", "timestamp"),
    ("now 2026-12-02 09:59:59+01:00", "now 2026-12-02 10:00:00+01:00", "timestamp"),
    ("The clock reads 9:41 AM", "The clock reads 9:42 AM", "timestamp"),
    ("ts=1764637495 ok", "ts=1764637512 ok", "timestamp"),
    ("ts=1764637495123 ok", "ts=1764637512001 ok", "timestamp"),
    ("session 3f2b8c1e-9a4d-4c2e-8f11-0b7d2e9c6a15 started",
     "session 77aa01c2-1b3e-4f5a-9c8d-2e4f6a8b0c1d started", "uuid"),
    ("request 9f86d081884c7d659a2feaa0c55ad015 ok",
     "request 2c26b46b68ffc68ff99b453c1d304134 ok", "uuid"),
    ("This is turn 41 of the session.", "This is turn 42 of the session.", "counter"),
    ("retries: 9", "retries: 10", "counter"),
    ("You are a helpful assistant.", "You are a careful assistant.", "other"),
    ("Answer in English.", "Answer in French, please.", "other"),
    ("limit 12 items", "limit twelve items", "other"),  # a number that became a word
])
def test_text_change_shapes(old: str, new: str, expected: str) -> None:
    assert hint(old, new) == expected


def test_a_change_far_from_any_timestamp_is_not_one() -> None:
    prefix = "Generated at 2026-12-02T01:04:55Z. " + "x" * 500
    assert hint(prefix + "Use tools.", prefix + "Avoid tools.") == "other"


def test_the_window_bounds_the_work_on_long_texts() -> None:
    body = "word " * 50_000
    old = body + "time 2026-12-02T01:04:55Z"
    new = body + "time 2026-12-02T01:04:56Z"
    assert hint(old, new) == "timestamp"


def test_no_difference_is_other() -> None:
    assert classify_text_change("same", "same", -1) == "other"


def test_reordering() -> None:
    assert is_reordering(["a", "b", "c"], ["c", "a", "b"])
    assert not is_reordering(["a", "b"], ["a", "b"])  # unchanged
    assert not is_reordering(["a", "b"], ["a", "x"])  # edited
    assert not is_reordering(["a", "b"], ["b", "a", "c"])  # added


# --- on the span: the tracker classifies the change it finds, content stays in process ---

def _tracker_calls(bodies: list[dict]) -> list[dict]:
    from tokentrail.instrumentation import run
    from tokentrail.instrumentation.config import Settings
    from tokentrail.instrumentation.tracker import Tracker

    tracker = Tracker(Settings())
    with run("hints"):
        return [tracker.begin(b, None, False).attrs for b in bodies]


def _body(system: str = "s", tools: list | None = None, messages: list | None = None) -> dict:
    out = {"model": "claude-sonnet-4-5", "max_tokens": 10, "system": system,
           "messages": messages or [{"role": "user", "content": "q"}]}
    if tools:
        out["tools"] = tools
    return out


def test_the_hint_goes_on_the_call_with_the_change_and_no_text_with_it() -> None:
    from tokentrail import semconv as sc

    t1 = {"name": "a", "description": "x", "input_schema": {"type": "object"}}
    t2 = {"name": "b", "description": "y", "input_schema": {"type": "object"}}
    clock = "Now: 2026-12-02T01:04:55Z."
    attrs = _tracker_calls([
        _body(clock, [t1, t2]),
        _body(clock.replace("04:55", "05:40"), [t1, t2]),  # the clock ticked
        _body(clock.replace("04:55", "05:40"), [t2, t1]),  # the tools were reordered
        _body(clock.replace("04:55", "05:40"), [t2, t1],
              [{"role": "user", "content": "turn 7 of 9: go"}]),
        _body(clock.replace("04:55", "05:40"), [t2, t1],
              [{"role": "user", "content": "turn 8 of 9: go"}]),  # a counter in message 0
    ])
    assert sc.CHANGE_HINT not in attrs[0]
    assert [a.get(sc.CHANGE_HINT) for a in attrs[1:]] == [
        "timestamp", "reordered", "other", "counter"]
    for a in attrs:  # a label, never the text
        assert all("2026-12-02" not in str(v) and "turn 8" not in str(v) for v in a.values())
