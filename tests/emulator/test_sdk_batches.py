"""Message Batches through the real SDK: create, retrieve, list, cancel, results."""

from __future__ import annotations

import anthropic
import pytest

from tests.waiting import wait_until
from tokentrail.emulator import Clock, Emulator, running_emulator
from tokentrail.emulator.scenario import DEFAULT_TEXT

from .helpers import API_KEY, text_of

pytestmark = pytest.mark.sdk

SONNET = "claude-sonnet-4-6"
SYSTEM = [{"type": "text", "text": text_of(3000, "shared"), "cache_control": {"type": "ephemeral"}}]


def item(custom_id: str, content: str, **params) -> dict:
    return {"custom_id": custom_id,
            "params": {"model": SONNET, "max_tokens": 100, "system": SYSTEM,
                       "messages": [{"role": "user", "content": content}], **params}}


def wait_ended(client, batch_id: str):
    # Processing runs in a background thread.
    return wait_until(lambda: client.messages.batches.retrieve(batch_id),
                      until=lambda batch: batch.processing_status == "ended", timeout=30,
                      interval=0.01, message=f"batch {batch_id} ends")


def test_batch_lifecycle_and_results(client) -> None:
    batch = client.messages.batches.create(requests=[
        item("first", "q-1"), item("second", "q-2"),
        item("broken", "q-3", max_tokens="many"),
    ])
    assert batch.type == "message_batch" and batch.id.startswith("msgbatch_")
    assert batch.request_counts.processing + batch.request_counts.succeeded \
        + batch.request_counts.errored == 3
    ended = wait_ended(client, batch.id)
    assert ended.request_counts.succeeded == 2 and ended.request_counts.errored == 1
    assert ended.ended_at is not None and ended.results_url.endswith(f"/{batch.id}/results")

    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert set(results) == {"first", "second", "broken"}
    first, second = results["first"].message, results["second"].message
    assert first.content[0].text == DEFAULT_TEXT
    assert first.usage.service_tier == second.usage.service_tier == "batch"
    # Items go through the same cache: the second item reads what the first wrote.
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) \
        == (3000, 0)
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) \
        == (0, 3000)
    assert results["broken"].type == "errored"
    assert results["broken"].error.error.type == "invalid_request_error"

    listed = [b.id for b in client.messages.batches.list(limit=10)]
    assert listed == [batch.id]
    deleted = client.messages.batches.delete(batch.id)
    assert deleted.id == batch.id
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_cancel_before_processing_cancels_every_item() -> None:
    emulator = Emulator(clock=Clock(frozen=True), batch_processing="manual")
    with running_emulator(emulator) as emu, anthropic.Anthropic(
            base_url=emu.base_url, api_key=API_KEY, max_retries=0) as client:
        batch = client.messages.batches.create(requests=[item("a", "x"), item("b", "y")])
        assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
        with pytest.raises(anthropic.AnthropicError, match="results_url"):
            client.messages.batches.results(batch.id)  # still processing: no results_url
        canceling = client.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling"
        assert canceling.cancel_initiated_at is not None
        emu.batches.process_pending()
        ended = client.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended"
        assert ended.request_counts.canceled == 2
        assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}


def test_batches_are_per_workspace(client, emu) -> None:
    batch = client.messages.batches.create(requests=[item("a", "x")])
    with anthropic.Anthropic(base_url=emu.base_url, api_key="sk-ant-other") as other:
        with pytest.raises(anthropic.NotFoundError):
            other.messages.batches.retrieve(batch.id)
        assert list(other.messages.batches.list()) == []


def test_invalid_batch_body_is_a_400(client) -> None:
    with pytest.raises(anthropic.BadRequestError, match="custom_id"):
        client.messages.batches.create(requests=[item("dup", "x"), item("dup", "y")])
