"""Where a request's analysis runs (in the caller, before the request is sent) and the
conversation state it keeps, under threads, forks and failures, with the real SDK
against the emulator where a call is involved.

bench/README.md ("Where the analysis runs") gives the measurements behind the design.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from tests.emulator.helpers import text_of
from tokentrail import semconv as sc
from tokentrail.instrumentation import AnthropicInstrumentor
from tokentrail.instrumentation import attributes as at
from tokentrail.instrumentation import tracker as tracker_module
from tokentrail.instrumentation.config import Settings

from .conftest import client_kwargs, llm_spans

MODEL = "claude-haiku-4-5"


def ask(tag: str) -> dict:
    return {"role": "user", "content": text_of(30, tag)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_analyses_although_the_parent_held_the_tracker_lock() -> None:
    """Another thread holds the tracker's lock while it updates the conversation state;
    a fork at that moment must not leave the child's calls waiting forever."""
    tracker = tracker_module.Tracker(Settings())
    held, release = threading.Event(), threading.Event()

    def analysis_in_progress() -> None:
        with tracker.threads.lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=analysis_in_progress)
    thread.start()
    assert held.wait(10)
    pid = os.fork()
    if pid == 0:
        signal.alarm(10)  # a deadlock ends the child with SIGALRM, not the test run
        call = tracker.begin({"model": MODEL, "max_tokens": 5,
                              "messages": [{"role": "user", "content": "hi"}]}, None, False)
        os._exit(0 if call.attrs.get(sc.TURN) == 1 else 1)
    release.set()
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_failing_analysis_leaves_the_call_with_its_request_attributes(monkeypatch) -> None:
    def broken(self, *args):
        raise RuntimeError("analysis bug")

    monkeypatch.setattr(tracker_module.Tracker, "analyze", broken)
    call = tracker_module.Tracker(Settings()).begin(
        {"model": MODEL, "max_tokens": 5, "messages": [ask("x")]}, None, False)
    assert call.attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.RUN_ID not in call.attrs and call.run is None


@pytest.mark.sdk
def test_the_analysis_runs_in_the_caller_and_lands_on_the_span(client, exporter,
                                                               monkeypatch) -> None:
    names: list[str] = []
    analyze = tracker_module.Tracker.analyze

    def recording(self, *args):
        names.append(threading.current_thread().name)
        return analyze(self, *args)

    monkeypatch.setattr(tracker_module.Tracker, "analyze", recording)
    messages = [ask("q")]
    for i in range(3):
        reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages)
        messages += [{"role": "assistant", "content": reply.content}, ask(f"q{i}")]
    assert names == [threading.current_thread().name] * 3
    spans = llm_spans(exporter)
    assert [s.attributes[sc.TURN] for s in spans] == [1, 2, 3]
    assert [s.attributes[at.PREFIX_MESSAGE_COUNT] for s in spans] == [1, 3, 5]
    assert spans[-1].attributes[at.CHANGE_LEVEL] == "none"  # a continuation, recognised


@pytest.mark.sdk
def test_a_call_that_fails_before_sending_does_not_disturb_the_next(client, exporter) -> None:
    """The SDK raises while building the request (an unserialisable body): the error
    reaches the caller unchanged, and the next call is analysed as usual."""
    with pytest.raises(TypeError):
        client.messages.create(model=MODEL, max_tokens=10, messages=[ask("x")],
                               metadata={"user_id": object()})
    client.messages.create(model=MODEL, max_tokens=10, messages=[ask("y")])
    (span,) = llm_spans(exporter)
    assert span.attributes[sc.TURN] == 1 and span.attributes[at.PREFIX_MESSAGE_COUNT] == 1


@pytest.mark.sdk
def test_the_callers_work_does_not_grow_with_the_conversation(emu, provider, exporter) -> None:
    """Counted, not timed (timings on late turns mostly measure cache state): the Python
    calls into tokentrail's code, the whole analysis included, are the same on turn 120
    as on turn 6."""
    anthropic = pytest.importorskip("anthropic")
    package = os.path.dirname(tracker_module.__file__) + os.sep
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider)
    counts: dict[int, int] = {}
    try:
        with anthropic.Anthropic(**client_kwargs(emu, provider)) as client:
            messages: list = []
            for turn in range(1, 121):
                messages.append({"role": "user", "content": text_of(100, f"u{turn}")})
                profiled = turn in (6, 120)
                seen = 0

                def profile(frame, event, arg):
                    nonlocal seen
                    if event == "call" and frame.f_code.co_filename.startswith(package):
                        seen += 1

                if profiled:
                    sys.setprofile(profile)
                try:
                    reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages)
                finally:
                    sys.setprofile(None)
                if profiled:
                    counts[turn] = seen
                messages.append({"role": "assistant", "content": reply.content})
    finally:
        inst.uninstrument()
    assert counts[6] > 10
    assert counts[120] == counts[6]
    spans = llm_spans(exporter)
    assert len(spans) == 120 and spans[-1].attributes[at.PREFIX_MESSAGE_COUNT] == 239


@pytest.mark.sdk
def test_concurrent_threads_keep_their_conversations(client, exporter) -> None:
    """Four threads, each its own three-turn conversation, all in flight at once: each
    keeps its run and turns."""
    from concurrent.futures import ThreadPoolExecutor

    def agent(name: str) -> None:
        messages = [ask(f"{name}0")]
        for i in range(3):
            reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages,
                                           extra_headers={"x-emulator-fault": "slow:0.05"})
            messages += [{"role": "assistant", "content": reply.content}, ask(f"{name}{i + 1}")]

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(agent, ["a", "b", "c", "d"]))
    by_run: dict[str, list[tuple[int, int]]] = {}
    for span in llm_spans(exporter):
        a = span.attributes
        by_run.setdefault(a[sc.RUN_ID], []).append((a[sc.TURN], a[at.PREFIX_MESSAGE_COUNT]))
    assert len(by_run) == 4
    assert all(sorted(turns) == [(1, 1), (2, 3), (3, 5)] for turns in by_run.values())
