"""tokentrail: see where the tokens of your Claude agents go and why the prompt cache misses.

This package is imported by agent processes too (``tokentrail.instrumentation``,
``tokentrail.auto``), so it must stay light: nothing here may import chDB,
FastAPI or anything else from the ``server`` extra, and ``import tokentrail`` alone
imports no OpenTelemetry either. ``tokentrail.run`` (``with tokentrail.run("triage",
ticket=42) as r:``, docs/design.md "Runs and turns") is
:class:`tokentrail.instrumentation.runs.run`, imported on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentrail.instrumentation.runs import run

__version__ = "0.1.0"
__all__ = ["__version__", "run"]

_LAZY = {"run": "tokentrail.instrumentation.runs"}  # name -> module that defines it


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
