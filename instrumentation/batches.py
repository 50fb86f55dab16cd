"""Message Batches results: one span per succeeded item, as the application reads it.

A batch's items are LLM calls like any other (tokens, cache buckets, a response id),
made by the API in the background: their span is zero-length, at the time the result
is read, in the run of the reader's ``run()`` context, else in a run whose id is the
batch's, with the item's position in the results as its turn.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from . import attributes as at
from .attributes import sc
from .fields import get
from .response import message_attributes
from .runs import current_run
from .streams import tap, tappable


def observe_results(decoder: Any, tracer: Tracer) -> None:
    """Report every item that the application reads from ``decoder`` (a ``JSONLDecoder``)."""
    if not tappable(decoder):
        return
    url = str(getattr(getattr(decoder, "http_response", None), "url", ""))
    parts = url.split("?", 1)[0].rstrip("/").split("/")
    batch_id = parts[-2] if len(parts) >= 2 else ""
    index = itertools.count(1)
    tap(decoder, lambda item: item_span(tracer, item, batch_id, next(index)))


def item_span(tracer: Tracer, item: Any, batch_id: str, index: int) -> None:
    """The span of one batch result item (``index``: 1-based position in the results)."""
    result = get(item, "result")
    if get(result, "type") != "succeeded":
        return
    message = get(result, "message")
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic",
             sc.IS_BATCH: True, at.BATCH_ID: batch_id}
    custom_id = get(item, "custom_id")
    if isinstance(custom_id, str):
        attrs[at.BATCH_CUSTOM_ID] = custom_id
    run = current_run()
    attrs[sc.RUN_ID] = run.id if run is not None else batch_id
    attrs[sc.TURN] = index
    attrs.update(message_attributes(message))
    model = get(message, "model")
    if isinstance(model, str):
        attrs[sc.GEN_AI_REQUEST_MODEL] = model
    now = time.time_ns()
    span = tracer.start_span(f"chat {model}" if isinstance(model, str) else "chat",
                             kind=SpanKind.CLIENT, attributes=attrs, start_time=now)
    span.set_status(Status(StatusCode.OK))
    span.end(end_time=now)
