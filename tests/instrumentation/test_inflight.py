"""Request analysis while the request is in flight: the queue itself, then the real SDK.

The queue tests use their own :class:`InFlight`; the SDK tests use the process's, as an
application does, and a slow emulator response (``slow:`` fault) as the network wait.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time

import pytest

from tests.emulator.helpers import text_of
from tokentrail import semconv as sc
from tokentrail.instrumentation import AnthropicInstrumentor, run
from tokentrail.instrumentation import attributes as at
from tokentrail.instrumentation import inflight as inflight_module
from tokentrail.instrumentation import tracker as tracker_module
from tokentrail.instrumentation.inflight import INFLIGHT, InFlight

from .conftest import client_kwargs, llm_spans

MODEL = "claude-haiku-4-5"
SLOW = {"x-emulator-fault": "slow:0.2"}  # the emulator holds its first byte for 200 ms


def wait_done(task, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not task.done and time.monotonic() < deadline:
        time.sleep(0.001)


def test_tasks_run_in_submission_order_whoever_runs_them() -> None:
    inflight = InFlight("test-order")
    seen: list[tuple[int, int]] = []
    tasks = []
    for i in range(200):
        tasks.append(inflight.submit(lambda i=i: seen.append((i, threading.get_ident()))))
        if i == 100:
            inflight.wake()  # the background thread takes what is queued so far ...
    assert inflight.join(tasks[-1])  # ... and the caller the rest, in order
    assert [i for i, _ in seen] == list(range(200))
    assert all(t.done for t in tasks) and inflight.pending() == 0


def test_join_runs_an_unwoken_task_in_the_caller() -> None:
    inflight = InFlight("test-inline")
    task = inflight.submit(threading.get_ident)
    assert inflight.join(task)
    assert task.result == threading.get_ident()


def test_a_woken_task_runs_on_the_background_thread() -> None:
    inflight = InFlight("test-background")
    task = inflight.submit(lambda: threading.current_thread().name)
    inflight.wake()
    wait_done(task)
    assert task.done and task.result == "test-background"
    assert inflight.join(task)


def test_a_failing_task_is_done_and_its_joiner_unharmed() -> None:
    inflight = InFlight("test-fail")
    task = inflight.submit(lambda: 1 / 0)
    after = inflight.submit(lambda: "next")
    assert inflight.join(task) and task.result is None
    assert inflight.join(after) and after.result == "next"


def test_join_from_inside_a_running_task_returns_without_waiting() -> None:
    """A finalizer can end a call (and join its analysis) in the middle of a task: the
    runner lock is not reentrant, so that join must give up, not deadlock."""
    inflight = InFlight("test-reentrant")
    later: list = []
    outer = inflight.submit(lambda: inflight.join(later[0]))
    later.append(inflight.submit(lambda: "later"))
    assert inflight.join(outer)
    assert outer.result is False
    assert inflight.join(later[0]) and later[0].result == "later"


def test_the_thread_is_paused_while_responses_outrun_it(monkeypatch) -> None:
    """No network wait: every call joins its analysis before the thread could start it.
    After MISSES_TO_PAUSE such calls the thread is no longer woken, except to probe once
    every PROBE_EVERY calls; one call that finds its analysis done resumes it."""
    inflight = InFlight("test-pause")
    monkeypatch.setattr(inflight, "_start", lambda: None)  # a thread that never gets the GIL

    def call() -> bool:
        """One call: queue, wake, join; whether the wake released the task."""
        task = inflight.submit(lambda: None)
        inflight.wake()
        released = task.seq <= inflight._released
        assert inflight.join(task)
        return released

    assert all(call() for _ in range(inflight_module.MISSES_TO_PAUSE))
    released = [call() for _ in range(3 * inflight_module.PROBE_EVERY)]
    assert sum(released) == 3  # the probes
    assert released.index(True) == inflight_module.PROBE_EVERY - 1
    # A probe that the thread wins (its task done before the join) resumes waking.
    task = inflight.submit(lambda: None)
    for _ in range(inflight_module.PROBE_EVERY):
        inflight.wake()
        if task.seq <= inflight._released:
            break
    task.run()  # as the thread would have
    assert inflight.join(task)
    assert all(call() for _ in range(inflight_module.MISSES_TO_PAUSE))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_runs_its_analyses_although_the_parent_was_mid_task() -> None:
    inflight = InFlight("test-fork")
    started, release = threading.Event(), threading.Event()

    def blocking() -> None:
        started.set()
        release.wait(10)

    inflight.submit(blocking)
    inflight.wake()
    assert started.wait(10)  # the background thread holds the runner lock now
    pid = os.fork()
    if pid == 0:  # child: only this thread exists; the lock it inherited is held
        signal.alarm(10)  # a deadlock ends the child with SIGALRM, not the test run
        task = inflight.submit(lambda: "child")
        ok = inflight.join(task) and task.result == "child"
        os._exit(0 if ok else 1)
    release.set()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_analyses_although_the_parent_held_the_tracker_lock() -> None:
    """The analysis thread holds the tracker's lock while it updates the conversation
    state; a fork at that moment must not leave the child's calls waiting forever."""
    from tokentrail.instrumentation.config import Settings

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
        signal.alarm(10)
        call = tracker.begin({"model": MODEL, "max_tokens": 5,
                              "messages": [{"role": "user", "content": "hi"}]}, None, False)
        call.ready()
        os._exit(0 if call.attrs.get(sc.TURN) == 1 else 1)
    release.set()
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- with the real SDK against the emulator ---

def ask(tag: str) -> dict:
    return {"role": "user", "content": text_of(30, tag)}


def conversation(client, extra_headers=None) -> None:
    """Two conversations, interleaved, one with a system prompt that changes."""
    headers = extra_headers or {}
    a, b = [ask("a1")], [ask("b1")]
    system = [{"type": "text", "text": text_of(300, "sys"), "cache_control": {"type": "ephemeral"}}]
    for i in range(3):
        for messages in (a, b):
            reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages,
                                           system=system if messages is a else "plain",
                                           extra_headers=headers)
            messages.append({"role": "assistant", "content": reply.content})
            messages.append(ask(f"{i}{'ab'[messages is b]}"))
        system = [{**system[0], "text": text_of(300, f"sys{i}")}]
    with run("explicit"):
        client.messages.create(model=MODEL, max_tokens=10, messages=a, extra_headers=headers)


def normalized(exporter) -> list[dict]:
    """Span attributes without what differs between two identical sessions (ids)."""
    runs: dict[str, int] = {}
    out = []
    for span in llm_spans(exporter):
        attrs = dict(span.attributes)
        attrs[sc.RUN_ID] = runs.setdefault(attrs[sc.RUN_ID], len(runs))
        for key in (sc.GEN_AI_RESPONSE_ID, "anthropic.request.id", at.CACHE_PREVIOUS_MESSAGE_ID):
            attrs.pop(key, None)
        out.append(attrs)
    return out


@pytest.mark.sdk
def test_background_and_inline_analysis_give_the_same_spans(emu, provider, exporter) -> None:
    anthropic = pytest.importorskip("anthropic")
    results = []
    for background in (True, False):
        exporter.clear()
        inst = AnthropicInstrumentor()
        inst.instrument(tracer_provider=provider, analysis_thread=background)
        try:
            with anthropic.Anthropic(**client_kwargs(emu, provider)) as client:
                conversation(client)
        finally:
            inst.uninstrument()
        results.append(normalized(exporter))
    background, inline = results
    assert len(background) == 7
    assert background == inline
    assert [s[sc.TURN] for s in background] == [1, 1, 2, 2, 3, 3, 1]
    assert background[2][at.CHANGE_LEVEL] == "system"  # the edited system prompt was seen


def analysed_on(monkeypatch) -> list[str]:
    """Record the thread each analysis runs on, from a thread that is not paused (earlier
    tests with fast responses may have paused it: the pause is per process)."""
    INFLIGHT.resume()
    names: list[str] = []
    analyze = tracker_module.Tracker.analyze

    def recording(self, *args):
        names.append(threading.current_thread().name)
        return analyze(self, *args)

    monkeypatch.setattr(tracker_module.Tracker, "analyze", recording)
    return names


@pytest.mark.sdk
def test_analysis_runs_while_the_request_is_in_flight(client, exporter, monkeypatch) -> None:
    names = analysed_on(monkeypatch)
    messages = [ask("q")]
    for i in range(3):
        reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages,
                                       extra_headers=SLOW)
        messages += [{"role": "assistant", "content": reply.content}, ask(f"q{i}")]
    assert names == ["tokentrail-analysis"] * 3
    spans = llm_spans(exporter)
    assert [s.attributes[sc.TURN] for s in spans] == [1, 2, 3]
    assert [s.attributes[at.PREFIX_MESSAGE_COUNT] for s in spans] == [1, 3, 5]
    assert spans[-1].attributes[at.CHANGE_LEVEL] == "none"  # a continuation, recognised


@pytest.mark.sdk
def test_async_analysis_runs_while_the_request_is_in_flight(async_client, exporter,
                                                             monkeypatch) -> None:
    names = analysed_on(monkeypatch)

    async def main() -> None:
        await asyncio.gather(*(
            async_client.messages.create(model=MODEL, max_tokens=10, messages=[ask(f"t{i}")],
                                         extra_headers=SLOW) for i in range(3)))

    asyncio.run(main())
    assert names == ["tokentrail-analysis"] * 3
    spans = llm_spans(exporter)
    assert len(spans) == 3 and all(s.attributes[at.PREFIX_MESSAGE_COUNT] == 1 for s in spans)


@pytest.mark.sdk
def test_analysis_thread_off_analyses_in_the_caller(emu, provider, exporter,
                                                    monkeypatch) -> None:
    anthropic = pytest.importorskip("anthropic")
    monkeypatch.setenv("TOKENTRAIL_ANALYSIS_THREAD", "0")
    names = analysed_on(monkeypatch)
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        with anthropic.Anthropic(**client_kwargs(emu, provider)) as client:
            client.messages.create(model=MODEL, max_tokens=10, messages=[ask("x")],
                                   extra_headers=SLOW)
    finally:
        inst.uninstrument()
    assert names == [threading.current_thread().name]
    assert llm_spans(exporter)[0].attributes[sc.TURN] == 1


@pytest.mark.sdk
def test_a_call_that_fails_before_sending_leaves_nothing_queued(client, exporter) -> None:
    """The SDK raises while building the request (an unserialisable body): the error
    reaches the caller unchanged, and the analysis queued for that call runs, in order,
    with the next call's instead of staying in the queue."""
    with pytest.raises(TypeError):
        client.messages.create(model=MODEL, max_tokens=10, messages=[ask("x")],
                               metadata={"user_id": object()})
    client.messages.create(model=MODEL, max_tokens=10, messages=[ask("y")], extra_headers=SLOW)
    assert INFLIGHT.pending() == 0
    (span,) = llm_spans(exporter)
    assert span.attributes[sc.TURN] == 1 and span.attributes[at.PREFIX_MESSAGE_COUNT] == 1


@pytest.mark.sdk
@pytest.mark.parametrize("background", [True, False], ids=["analysis-thread", "inline"])
def test_the_callers_work_does_not_grow_with_the_conversation(emu, provider, exporter,
                                                              background) -> None:
    """Counted, not timed (timings on late turns mostly measure cache state): the Python
    calls into tokentrail's code on the caller's thread are the same on turn 120 as on
    turn 6; with the analysis inline, that includes the whole analysis."""
    anthropic = pytest.importorskip("anthropic")
    package = os.path.dirname(tracker_module.__file__) + os.sep
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, analysis_thread=background)
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
                    INFLIGHT.resume()
                    sys.setprofile(profile)
                try:
                    reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages,
                                                   extra_headers=SLOW if profiled else None)
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
    """Four threads, each its own three-turn conversation, all in flight at once: the
    queue serves them in whatever order they come, and each keeps its run and turns."""
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
    assert INFLIGHT.pending() == 0
