"""The waiting helper itself: it returns what it waited for, and fails with what it saw."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.waiting import wait_until, wait_until_async


def test_returns_the_first_value_that_satisfies_the_condition():
    counter = itertools.count()
    assert wait_until(lambda: next(counter), until=lambda n: n >= 3, interval=0,
                      message="three") == 3


def test_times_out_with_the_message_and_the_last_value():
    with pytest.raises(AssertionError, match=r"waiting until rows arrive \(last value \[1, 2\]\)"):
        wait_until(lambda: [1, 2], until=lambda rows: len(rows) >= 3, timeout=0.05,
                   interval=0.01, message="rows arrive")


def test_ignored_errors_are_retried_and_reported_others_are_not():
    calls = []

    def refused() -> None:
        calls.append(1)
        raise ConnectionError("refused")

    with pytest.raises(AssertionError, match="last error ConnectionError: refused"):
        wait_until(refused, timeout=0.05, interval=0.01, message="up", ignore=(ConnectionError,))
    assert len(calls) > 1
    with pytest.raises(KeyError):
        wait_until(lambda: {}["x"], timeout=5, message="never retried")


def test_async_form_waits_without_blocking_the_loop():
    async def main() -> int:
        state = {"n": 0}

        async def bump() -> None:
            for _ in range(3):
                await asyncio.sleep(0.01)
                state["n"] += 1

        task = asyncio.create_task(bump())

        async def probe() -> int:
            return state["n"]

        value = await wait_until_async(probe, until=lambda n: n == 3, timeout=5, interval=0.005,
                                       message="the task bumps three times")
        await task
        return value

    assert asyncio.run(main()) == 3
    with pytest.raises(AssertionError, match="never"):
        async def nothing() -> None:
            return None

        asyncio.run(wait_until_async(nothing, timeout=0.02, interval=0.01, message="never"))
