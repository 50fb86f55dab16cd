"""The model list served at ``GET /v1/models``.

Ids are those of the anthropic SDK 2.12 model list plus the older families docs/facts.md §1
and §2 name. The emulator answers requests for *any* model id (an unknown id gets
the default cache minimum); this list is only what ``models.list()`` returns.
"""

from __future__ import annotations

from typing import Any

# (id, display name, created_at as RFC 3339)
MODELS: list[tuple[str, str, str]] = [
    ("claude-opus-5-5", "Claude Opus 5.5", "2026-09-01T00:00:00Z"),
    ("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-01T00:00:00Z"),
    ("claude-haiku-5-5", "Claude Haiku 5.5", "2026-09-01T00:00:00Z"),
    ("claude-fable-5-2", "Claude Fable 5.2", "2026-08-01T00:00:00Z"),
    ("claude-mythos-5-2", "Claude Mythos 5.2", "2026-08-01T00:00:00Z"),
    ("claude-fable-5-1", "Claude Fable 5.1", "2026-07-01T00:00:00Z"),
    ("claude-mythos-5-1", "Claude Mythos 5.1", "2026-07-01T00:00:00Z"),
    ("claude-opus-5", "Claude Opus 5", "2026-06-01T00:00:00Z"),
    ("claude-sonnet-5", "Claude Sonnet 5", "2026-06-01T00:00:00Z"),
    ("claude-fable-5", "Claude Fable 5", "2026-06-01T00:00:00Z"),
    ("claude-mythos-5", "Claude Mythos 5", "2026-06-01T00:00:00Z"),
    ("claude-mythos-preview", "Claude Mythos Preview", "2026-04-01T00:00:00Z"),
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-05-01T00:00:00Z"),
    ("claude-opus-4-7", "Claude Opus 4.7", "2026-03-01T00:00:00Z"),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-01T00:00:00Z"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-01T00:00:00Z"),
    ("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-01T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-opus-4-20250514", "Claude Opus 4", "2025-05-14T00:00:00Z"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14T00:00:00Z"),
    ("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", "2025-02-19T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
    ("claude-3-haiku-20240307", "Claude Haiku 3", "2024-03-07T00:00:00Z"),
]


def model_info(model_id: str, display_name: str, created_at: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": display_name,
            "created_at": created_at}


def all_models() -> list[dict[str, Any]]:
    return [model_info(*m) for m in MODELS]


def find_model(model_id: str) -> dict[str, Any] | None:
    for m in MODELS:
        if model_id == m[0] or m[0].startswith(model_id + "-2"):
            return model_info(*m)
    return None


def paginate(items: list[dict[str, Any]], *, limit: int = 20, after_id: str | None = None,
             before_id: str | None = None) -> dict[str, Any]:
    """The API's list page: ``data``, ``has_more``, ``first_id``, ``last_id``."""
    ids = [i["id"] for i in items]
    start, end = 0, len(items)
    if after_id is not None and after_id in ids:
        start = ids.index(after_id) + 1
    if before_id is not None and before_id in ids:
        end = ids.index(before_id)
        start = max(start, end - limit)
    page = items[start:end][:limit]
    return {
        "data": page,
        "has_more": start + len(page) < end if before_id is None else start > 0,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }
