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
