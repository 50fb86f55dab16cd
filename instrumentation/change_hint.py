"""What the text that broke a cached prefix looks like, classified where the text is.

When a call's prefix differs from the run's previous call, :mod:`.prefix` finds the
first differing character; the backend can then say *where* the cache broke, but not
*why* a team keeps breaking it. The usual culprits have a recognisable shape: a clock
in the system prompt ("Current time: 2026-12-02T01:04:55Z"), a request or session UUID,
a turn counter, or tools listed in a different order on every call. This module turns
the changed text into one of those labels, in the agent process, so that only the label
leaves it (``tokentrail.prefix.change.hint``), never the text.

Pure functions, no state: they run only on calls whose prefix changed (rare), and
they look at a bounded window around the change, so a 100 KB system prompt costs no
more than a short one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

TIMESTAMP = "timestamp"
UUID = "uuid"
COUNTER = "counter"
REORDERED = "reordered"
OTHER = "other"
HINTS = (TIMESTAMP, UUID, COUNTER, REORDERED, OTHER)

# How far around the first differing character the classifier looks (characters each
# side). A timestamp or UUID spans at most ~40 characters; 64 leaves room for the
# change to fall anywhere inside one.
WINDOW = 64

_TIMESTAMP_PATTERNS = (
    # ISO 8601 / RFC 3339 dates with optional time, fraction and zone; also "YYYY-MM-DD HH:MM".
    re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
               r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?)?"),
    # Times of day: 01:04, 01:04:55, 01:04:55.123, with an optional AM/PM.
    re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[AaPp][Mm])?"),
    # Slashed dates: 12/02/2026, 2026/12/02.
    re.compile(r"\d{1,4}/\d{1,2}/\d{1,4}"),
    # Unix epoch seconds or milliseconds of this century (1e9 .. 2e9, 1e12 .. 2e12).
    re.compile(r"(?<!\d)1\d{9}(?:\d{3})?(?:\.\d+)?(?!\d)"),
)
_UUID_PATTERNS = (
    re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    re.compile(r"(?<![0-9a-zA-Z])[0-9a-fA-F]{32}(?![0-9a-zA-Z])"),
)
_INTEGER = re.compile(r"\d+")


def _covers(patterns: Sequence[re.Pattern[str]], text: str, position: int) -> bool:
    """Whether a match of one of ``patterns`` covers ``position`` in ``text``
    (its end counts: the first difference may be the character right after it)."""
    start = max(0, position - WINDOW)
    window = text[start:position + WINDOW]
    at = position - start
    for pattern in patterns:
        for match in pattern.finditer(window):
            if match.start() <= at <= match.end() and match.end() > match.start():
                return True
            if match.start() > at:
                break
    return False


def _integer_at(text: str, position: int) -> str | None:
    start = max(0, position - WINDOW)
    window = text[start:position + WINDOW]
    at = position - start
    for match in _INTEGER.finditer(window):
        if match.start() <= at <= match.end():
            return match.group()
        if match.start() > at:
            break
    return None


def classify_text_change(old: str, new: str, position: int) -> str:
    """The shape of the text that differs at ``position`` (the first differing
    character of ``old`` and ``new``): ``timestamp``, ``uuid``, ``counter`` or ``other``.

    A label needs the same shape on both sides: a timestamp replaced by a timestamp is
    a clock in the prompt; a number that became a sentence is an edit (``other``).
    """
    if position < 0:
        return OTHER
    if _covers(_TIMESTAMP_PATTERNS, old, position) and _covers(_TIMESTAMP_PATTERNS, new,
                                                               position):
        return TIMESTAMP
    if _covers(_UUID_PATTERNS, old, position) and _covers(_UUID_PATTERNS, new, position):
        return UUID
    before, after = _integer_at(old, position), _integer_at(new, position)
    if before is not None and after is not None and before != after:
        return COUNTER
    return OTHER


def is_reordering(old: Sequence[str], new: Sequence[str]) -> bool:
    """Whether two lists of block hashes hold the same blocks in a different order
    (tools sorted differently on every call, a dict iterated in another order)."""
    return len(old) == len(new) and list(old) != list(new) and Counter(old) == Counter(new)
