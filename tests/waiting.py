"""Waiting for a condition in tests: poll it, and fail loudly when it never holds.

A hand-written ``while time.monotonic() < deadline`` loop that just stops at the
deadline lets the test go on and fail later with a message about something else (an
empty list, a 404, a connection refused). :func:`wait_until` fails right there, with
what was awaited and the last value it saw, so the report says what
did not happen. :func:`wait_until_async` is the same for a coroutine probe, for
tests that run an event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = object()
_MAX_REPR = 500


def _failure(message: str, timeout: float, last: Any, error: BaseException | None) -> str:
    shown = repr(last)
    if len(shown) > _MAX_REPR:
        shown = shown[:_MAX_REPR] + "..."
    seen = f"last value {shown}" if last is not _MISSING else "no value"
    if error is not None:
        seen += f"; last error {type(error).__name__}: {error}"
    return f"timed out after {timeout:g}s waiting until {message} ({seen})"


def wait_until(probe: Callable[[], T], *, until: Callable[[T], Any] = bool,
               timeout: float = 30.0, interval: float = 0.05, message: str,
               ignore: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``probe`` until ``until(value)`` holds (by default: the value is truthy),
    and return that value.

    Exceptions of the types in ``ignore`` count as "not yet" (a server that is still
    starting refuses connections); any other exception fails at once. After
    ``timeout`` seconds, raises AssertionError naming ``message`` and the last value
    (or error) seen: ``wait_until(lambda: len(rows()), until=lambda n: n >= 3, ...)``
    reports how many rows there were.
    """
    deadline = time.monotonic() + timeout
    last: Any = _MISSING
    error: BaseException | None = None
    while True:
        try:
            last = probe()
            error = None
        except ignore as exc:
            error = exc
        else:
            if until(last):
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(message, timeout, last, error))
        time.sleep(interval)


async def wait_until_async(probe: Callable[[], Awaitable[T]], *,
                           until: Callable[[T], Any] = bool, timeout: float = 30.0,
                           interval: float = 0.05, message: str,
                           ignore: tuple[type[BaseException], ...] = ()) -> T:
    """:func:`wait_until` for a coroutine probe, sleeping without blocking the loop."""
    deadline = time.monotonic() + timeout
    last: Any = _MISSING
    error: BaseException | None = None
    while True:
        try:
            last = await probe()
            error = None
        except ignore as exc:
            error = exc
        else:
            if until(last):
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(message, timeout, last, error))
        await asyncio.sleep(interval)
