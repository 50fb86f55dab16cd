"""Reading fields of what the SDK hands over, whatever its shape.

Requests, responses, stream events and content blocks reach the instrumentation as
plain dicts (request bodies, decoded JSON), as SDK models (pydantic, with or without
extra fields) or as objects of some other generation of the SDK. :func:`get` reads a
field from any of them the same way and never raises for a missing one; :func:`given`
says whether a request field was set at all.
"""

from __future__ import annotations

from typing import Any

_MODEL_TYPES: dict[type, bool] = {}  # class -> whether it is a pydantic model


def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for a dict, ``obj.name`` for an SDK model; ``default`` otherwise.

    SDK models are pydantic: a missing name goes through ``BaseModel.__getattr__`` and
    an exception (microseconds each), so fields and extras are read from their dicts.
    """
    if isinstance(obj, dict):
        return obj.get(name, default)
    if obj is None:
        return default
    fields = getattr(obj, "__dict__", None)
    if fields is None:
        return getattr(obj, name, default)
    if name in fields:
        return fields[name]
    kind = type(obj)
    model = _MODEL_TYPES.get(kind)
    if model is None:  # once per class: hasattr on a pydantic class is ~0.3 us
        if len(_MODEL_TYPES) >= 1024:
            _MODEL_TYPES.clear()
        model = _MODEL_TYPES[kind] = hasattr(kind, "model_fields")
    if model:
        extra = getattr(obj, "__pydantic_extra__", None)
        return extra.get(name, default) if extra else default
    return getattr(obj, name, default)


def given(value: Any) -> bool:
    """Whether a request field is set: the SDK's ``omit``/``NOT_GIVEN`` are falsy."""
    return bool(value)
