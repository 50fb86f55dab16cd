"""Tapping the SDK's private ``_iterator`` (instrumentation/streams.py), without the SDK:
the application must get the same items and exceptions whatever the observer does.
The SDK's real streams are covered in test_messages.py and test_methods.py."""

from __future__ import annotations

import asyncio

import pytest

from tokentrail.instrumentation.streams import tap, tappable


class Holder:
    """Stands in for the SDK's ``Stream``: yields whatever its ``_iterator`` yields."""

    def __init__(self, iterator) -> None:
        self._iterator = iterator

    def __iter__(self):
        yield from self._iterator

    async def __aiter__(self):
        async for item in self._iterator:
            yield item


def failing(items, error):
    yield from items
    raise error


def test_items_pass_through_and_the_end_is_reported_once() -> None:
    seen, ends = [], []
    holder = Holder(iter([1, 2, 3]))
    tap(holder, seen.append, ends.append)
    assert list(holder) == [1, 2, 3]
    assert seen == [1, 2, 3] and ends == [None]


def test_an_observer_that_raises_changes_nothing_for_the_application() -> None:
    ends = []

    def broken(item):
        raise RuntimeError("observer bug")

    holder = Holder(iter("abc"))
    tap(holder, broken, lambda error: (ends.append(error), 1 / 0))
    assert list(holder) == ["a", "b", "c"]
    assert ends == [None]


def test_the_streams_own_error_reaches_the_application_and_the_observer() -> None:
    ends = []
    error = ConnectionError("cut")
    holder = Holder(failing([1], error))
    tap(holder, lambda item: None, ends.append)
    with pytest.raises(ConnectionError) as raised:
        list(holder)
    assert raised.value is error and ends == [error]


def test_a_stream_closed_early_reports_its_end() -> None:
    ends = []
    holder = Holder(iter(range(10)))
    tap(holder, lambda item: None, ends.append)
    iterator = holder._iterator
    assert next(iterator) == 0
    iterator.close()
    assert len(ends) == 1 and isinstance(ends[0], GeneratorExit)


def test_async_iterators_are_tapped_as_async() -> None:
    seen, ends = [], []

    async def items():
        for i in range(3):
            yield i

    holder = Holder(items())
    tap(holder, seen.append, ends.append)

    async def read():
        return [item async for item in holder]

    assert asyncio.run(read()) == [0, 1, 2]
    assert seen == [0, 1, 2] and ends == [None]


def test_only_holders_with_an_iterator_are_tappable() -> None:
    assert tappable(Holder(iter(())))
    assert not tappable(object())
