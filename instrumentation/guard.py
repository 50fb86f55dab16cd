"""The "never raise into user code" rule, in one place.

Every hook that runs inside an application's call to the SDK goes through
:func:`safe` (or a ``try/except`` that calls :func:`swallowed`): a bug in tokentrail,
or a response shape it does not know, is logged at DEBUG and the call goes on with
exactly what the SDK returned.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("tokentrail.instrumentation")

F = TypeVar("F", bound=Callable[..., Any])


def swallowed(what: str) -> None:
    """Log the exception being handled; call only from an ``except`` block."""
    log.debug("tokentrail: %s failed; the SDK call is unaffected", what, exc_info=True)


def safe(fn: F) -> F:
    """Decorate a hook so that it returns ``None`` instead of raising."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            swallowed(fn.__qualname__)
            return None

    return wrapper  # type: ignore[return-value]
