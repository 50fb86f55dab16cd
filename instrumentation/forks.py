"""State that a forked child must start over with.

Only the forking thread survives ``fork``: a lock that another thread held (another
thread of the application, halfway through a call's analysis) stays held in the child
forever. Objects register a reset method here; the child runs each once, right after
the fork.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable

_resets: list[weakref.WeakMethod[Callable[[], None]]] = []


def reset_in_child(method: Callable[[], None]) -> None:
    """Call the bound ``method`` in every child forked from now on, while its object lives."""
    _resets[:] = [ref for ref in _resets if ref() is not None]
    _resets.append(weakref.WeakMethod(method))


def _after_fork_in_child() -> None:
    for ref in list(_resets):
        method = ref()
        if method is not None:
            method()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
