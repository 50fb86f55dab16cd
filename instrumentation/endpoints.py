"""Which Messages endpoint a request goes to, from the SDK's request options.

Every request of every client passes the patch points (:mod:`.hooks`); those that are
not Messages endpoints must pass straight through, after one string check.
"""

from __future__ import annotations

from typing import Any

CREATE = "create"  # POST /v1/messages: messages.create, stream, beta.messages, parse, ...
COUNT = "count_tokens"  # POST /v1/messages/count_tokens
BATCH_CREATE = "batch_create"  # POST /v1/messages/batches
BATCH_RESULTS = "results"  # GET /v1/messages/batches/{id}/results: one call per item

SPAN_NAMES = {COUNT: "anthropic.messages.count_tokens",
              BATCH_CREATE: "anthropic.messages.batches.create",
              BATCH_RESULTS: "anthropic.messages.batches.results"}
"""Our span names where the SDK does not trace natively: the SDK's own names (2.x)."""


def classify(options: Any) -> str | None:
    """The endpoint kind of a request (``FinalRequestOptions``), or None for the rest."""
    url = getattr(options, "url", None)
    if not isinstance(url, str) or "/messages" not in url:
        return None
    path = url.split("?", 1)[0]
    method = str(getattr(options, "method", "")).lower()
    if path.endswith("/v1/messages"):
        return CREATE if method == "post" else None
    if path.endswith("/v1/messages/count_tokens"):
        return COUNT
    if path.endswith("/v1/messages/batches"):
        return BATCH_CREATE if method == "post" else None
    if path.endswith("/results") and "/messages/batches/" in path:
        return BATCH_RESULTS
    return None
