"""Watching what the application reads from a streamed response, item by item.

The SDK's ``Stream``/``AsyncStream`` (server-sent events) and ``JSONLDecoder`` (batch
results) yield from a private ``_iterator`` attribute. :func:`tap` replaces it with a
generator that hands each item to an observer before the application gets it, and says
when the stream ends, however it ends. The application sees the very same items and
exceptions: an observer that raises is logged and skipped (:mod:`.guard`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .guard import swallowed

OnItem = Callable[[Any], None]
OnEnd = Callable[[BaseException | None], None]


def tappable(holder: Any) -> bool:
    """Whether ``holder`` reads from a private ``_iterator`` that :func:`tap` can wrap."""
    return hasattr(holder, "_iterator")


def tap(holder: Any, on_item: OnItem, on_end: OnEnd | None = None) -> None:
    """Make ``holder._iterator`` call ``on_item(item)`` for each item, then ``on_end(error)``
    once it is exhausted, closed (``error`` None or ``GeneratorExit``) or raises."""
    iterator = holder._iterator
    if hasattr(iterator, "__anext__"):
        holder._iterator = _async_tapped(iterator, on_item, on_end)
    else:
        holder._iterator = _sync_tapped(iterator, on_item, on_end)


def _sync_tapped(iterator: Iterator[Any], on_item: OnItem, on_end: OnEnd | None) -> Any:
    error: BaseException | None = None
    try:
        for item in iterator:
            try:
                on_item(item)
            except Exception:
                swallowed("observe a stream item")
            yield item
    except BaseException as exc:
        error = exc
        raise
    finally:
        _ended(on_end, error)


async def _async_tapped(iterator: AsyncIterator[Any], on_item: OnItem,
                        on_end: OnEnd | None) -> Any:
    error: BaseException | None = None
    try:
        async for item in iterator:
            try:
                on_item(item)
            except Exception:
                swallowed("observe a stream item")
            yield item
    except BaseException as exc:
        error = exc
        raise
    finally:
        _ended(on_end, error)


def _ended(on_end: OnEnd | None, error: BaseException | None) -> None:
    if on_end is None:
        return
    try:
        on_end(error)
    except Exception:
        swallowed("end a stream")
