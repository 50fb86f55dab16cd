"""Cache diagnostics (recorded; opt-in previous_message_id) and opt-in content capture."""

from __future__ import annotations

import json

import pytest

from tests.emulator.helpers import text_of
from tokentrail import semconv as sc
from tokentrail.instrumentation import AnthropicInstrumentor, run
from tokentrail.instrumentation import attributes as at

from .conftest import client_kwargs, llm_spans

pytestmark = pytest.mark.sdk

MODEL = "claude-sonnet-4-6"
EPH = {"type": "ephemeral"}
SYSTEM_TEXT = text_of(3000, "sys")


@pytest.fixture
def opted_in(emu, provider, monkeypatch):
    monkeypatch.setenv("TOKENTRAIL_CACHE_DIAGNOSTICS", "1")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("TOKENTRAIL_MAX_CONTENT_BYTES", "500")
    anthropic = pytest.importorskip("anthropic")
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        with anthropic.Anthropic(**client_kwargs(emu, provider)) as c:
            yield c
    finally:
        inst.uninstrument()


def test_previous_message_id_is_added_and_the_miss_reason_recorded(opted_in, emu, exporter):
    messages = [{"role": "user", "content": text_of(20, "q")}]
    with run("diag"):
        first = opted_in.messages.create(
            model=MODEL, max_tokens=20, messages=messages,
            system=[{"type": "text", "text": SYSTEM_TEXT, "cache_control": EPH}])
        messages += [{"role": "assistant", "content": first.content},
                     {"role": "user", "content": "next"}]
        opted_in.messages.create(
            model=MODEL, max_tokens=20, messages=messages,
            system=[{"type": "text", "text": "Now: 06:28:07\n" + SYSTEM_TEXT,
                     "cache_control": EPH}])
    sent = [c.body["diagnostics"] for c in emu.calls() if c.path.endswith("/v1/messages")]
    assert sent == [{"previous_message_id": None}, {"previous_message_id": first.id}]

    one, two = llm_spans(exporter)
    assert sc.CACHE_MISS_REASON not in one.attributes
    assert two.attributes[at.CACHE_PREVIOUS_MESSAGE_ID] == first.id
    assert two.attributes[sc.CACHE_MISS_REASON] == "system_changed"
    assert two.attributes[sc.CACHE_MISSED_INPUT_TOKENS] == 3000 + 20
    # tokentrail's own in-process diagnosis agrees, and says where.
    assert two.attributes[at.CHANGE_LEVEL] == "system"
    assert two.attributes[at.CHANGE_BLOCK] == 0 and two.attributes[at.CHANGE_CHAR] == 0


def test_an_application_diagnostics_request_is_left_alone(opted_in, emu):
    opted_in.messages.create(model=MODEL, max_tokens=20,
                             messages=[{"role": "user", "content": "x"}],
                             extra_body={"diagnostics": {"previous_message_id": "msg_mine"}})
    assert emu.calls()[-1].body["diagnostics"] == {"previous_message_id": "msg_mine"}


def test_content_is_not_captured_by_default(client, exporter):
    client.messages.create(model=MODEL, max_tokens=20, system="be brief",
                           messages=[{"role": "user", "content": "z" * 64}])
    (span,) = llm_spans(exporter)
    assert not any(k in span.attributes for k in (
        at.GEN_AI_INPUT_MESSAGES, at.GEN_AI_OUTPUT_MESSAGES, at.GEN_AI_SYSTEM_INSTRUCTIONS))
    assert all("zzzz" not in str(v) and "brief" not in str(v)
               for v in span.attributes.values())


def test_content_capture_is_opt_in_and_capped(opted_in, exporter):
    opted_in.messages.create(model=MODEL, max_tokens=20, system="be brief",
                             messages=[{"role": "user", "content": "y" * 2000}])
    span = llm_spans(exporter)[-1]
    captured = span.attributes[at.GEN_AI_INPUT_MESSAGES]
    assert captured.startswith('[{"content":"yyy') and captured.endswith("...[truncated]")
    assert len(captured) == 500 + len("...[truncated]")
    assert json.loads(span.attributes[at.GEN_AI_SYSTEM_INSTRUCTIONS]) == "be brief"
    assert json.loads(span.attributes[at.GEN_AI_OUTPUT_MESSAGES])[0]["role"] == "assistant"
