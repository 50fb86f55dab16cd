"""Every kind of call starts, fails and ends its own span the same way
(instrumentation/call.py), with the real SDK against the emulator.

Our own span is made where the SDK does not trace: on 0.x always, on 2.x for a client
with ``open_telemetry=False``.
"""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from tests.emulator.helpers import API_KEY, text_of
from tokentrail import semconv as sc
from tokentrail.instrumentation import attributes as at

from .conftest import NATIVE

pytestmark = pytest.mark.sdk

MODEL = "claude-haiku-4-5"
RATE_LIMITED = {"x-emulator-fault": "429"}


@pytest.fixture
def own_span_client(emu, instrumentor):
    anthropic = pytest.importorskip("anthropic")
    kwargs = {"open_telemetry": False} if NATIVE else {}
    with anthropic.Anthropic(base_url=emu.base_url, api_key=API_KEY, max_retries=0,
                             **kwargs) as client:
        yield client


def messages() -> list[dict]:
    return [{"role": "user", "content": text_of(5, "x")}]


@pytest.mark.parametrize("method", ["create", "count_tokens"])
def test_a_failed_call_ends_our_span_with_the_api_error_type(own_span_client, exporter,
                                                             method) -> None:
    import anthropic

    call = getattr(own_span_client.messages, method)
    extra = {"max_tokens": 5} if method == "create" else {}
    with pytest.raises(anthropic.RateLimitError):
        call(model=MODEL, messages=messages(), extra_headers=RATE_LIMITED, **extra)
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == sc.TOKENTRAIL_SCOPE
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "RateLimitError"
    assert span.attributes[at.ERROR_TYPE] == "rate_limit_error"  # as the SDK's own spans


@pytest.mark.parametrize("method", ["create", "count_tokens"])
def test_a_successful_call_ends_our_span_once_and_ok(own_span_client, exporter,
                                                     method) -> None:
    call = getattr(own_span_client.messages, method)
    extra = {"max_tokens": 5} if method == "create" else {}
    call(model=MODEL, messages=messages(), **extra)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.OK
    assert span.name == (f"chat {MODEL}" if method == "create"
                         else "anthropic.messages.count_tokens")
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
