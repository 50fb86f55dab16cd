"""Runs and turns: explicit contexts (sync/async, decorator, nesting), conversation ids,
and automatic grouping by continuity."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from tests.emulator.helpers import text_of
from tokentrail import semconv as sc
from tokentrail.instrumentation import attributes as at
from tokentrail.instrumentation import current_run, run

from .conftest import NATIVE, client_kwargs, llm_spans

MODEL = "claude-haiku-4-5"


def ask(tag: str) -> dict:
    return {"role": "user", "content": text_of(20, tag)}


def turn(client, messages):
    reply = client.messages.create(model=MODEL, max_tokens=10, messages=messages)
    messages.append({"role": "assistant", "content": reply.content})
    return reply


def attrs(exporter):
    return [s.attributes for s in llm_spans(exporter)]


def test_run_context_is_contextvar_based() -> None:
    assert current_run() is None
    with run("outer", team="a") as outer:
        assert current_run() is outer
        with run("inner") as inner:
            assert inner.parent_id == outer.id
        assert current_run() is outer
    assert current_run() is None


def test_decorator_makes_a_new_run_per_invocation_sync_and_async() -> None:
    seen = []

    @run("job")
    def job():
        seen.append(current_run())

    @run("ajob", kind="async")
    async def ajob():
        seen.append(current_run())

    job()
    job()
    asyncio.run(ajob())
    assert [r.name for r in seen] == ["job", "job", "ajob"]
    assert len({r.id for r in seen}) == 3
    assert seen[2].attributes == {"kind": "async"}


@pytest.mark.sdk
def test_interleaved_conversations_are_two_automatic_runs(client, exporter) -> None:
    a, b = [ask("a1")], [ask("b1")]
    turn(client, a)
    turn(client, b)
    a.append(ask("a2"))
    turn(client, a)
    b.append(ask("b2"))
    turn(client, b)
    a.append(ask("a3"))
    turn(client, a)
    spans = attrs(exporter)
    runs = [s[sc.RUN_ID] for s in spans]
    assert runs[0] == runs[2] == runs[4] != runs[1] == runs[3]
    assert [s[sc.TURN] for s in spans] == [1, 1, 2, 2, 3]
    assert all(s[at.RUN_AUTOMATIC] for s in spans)


SYSTEM = "You are a careful agent. " + text_of(40, "system")


def system_turn(client, messages, system=SYSTEM):
    reply = client.messages.create(model=MODEL, max_tokens=10, system=system,
                                   messages=messages)
    messages.append({"role": "assistant", "content": reply.content})
    return reply


@pytest.mark.sdk
def test_an_automatic_run_keeps_an_edit_a_system_change_and_a_compaction(client,
                                                                         exporter) -> None:
    """No run(), no conversation id: the conversation rewritten behind its first message
    (message 2 edited, the system prompt changed, everything after the task replaced by
    a summary) is still one run, and each call says what changed."""
    messages = [ask("task")]
    for i in range(4):
        system_turn(client, messages)
        messages.append(ask(f"q{i}"))
    messages[2] = {"role": "user", "content": text_of(20, "q0 edited")}
    system_turn(client, messages)  # turn 5: message 2 edited
    messages.append(ask("q5"))
    system_turn(client, messages, system=SYSTEM + " Now: 01:09.")  # turn 6: system
    messages.append(ask("q6"))
    messages[1:] = [{"role": "assistant", "content": "Summary of the work so far."},
                    ask("go on")]
    system_turn(client, messages, system=SYSTEM + " Now: 01:09.")  # turn 7: compacted
    messages.append(ask("q7"))
    system_turn(client, messages, system=SYSTEM + " Now: 01:09.")
    spans = attrs(exporter)
    assert len({s[sc.RUN_ID] for s in spans}) == 1
    assert [s[sc.TURN] for s in spans] == list(range(1, 9))
    changes = [(s.get(at.CHANGE_LEVEL), s.get(at.CHANGE_MESSAGE)) for s in spans]
    assert changes == [(None, None), ("none", None), ("none", None), ("none", None),
                       ("messages", 2), ("system", None), ("messages", 1), ("none", None)]


@pytest.mark.sdk
def test_tasks_that_share_a_template_stay_separate_runs(client, exporter) -> None:
    """The same few-shot examples opening each task, one after the other in one process:
    each task its own run, and no change reported against the task before."""
    examples = [ask("example question"), {"role": "assistant", "content": "example answer"}]
    for task in ("first", "second", "third"):
        messages = [*examples, ask(task)]
        for i in range(3):
            system_turn(client, messages)
            messages.append(ask(f"{task} {i}"))
    spans = attrs(exporter)
    runs = [s[sc.RUN_ID] for s in spans]
    assert len(set(runs)) == 3 and runs[0:3] == [runs[0]] * 3
    assert [s[sc.TURN] for s in spans] == [1, 2, 3] * 3
    assert {s.get(at.CHANGE_LEVEL) for s in spans} == {None, "none"}


def cookbook_turns(history: list) -> list:
    """A fresh message list with the last two user turns marked, as Anthropic's
    prompt-caching cookbook builds one for each call from its stored history."""
    out, marked = [], 0
    for message in reversed(history):
        if message["role"] == "user" and marked < 2:
            out.append({"role": "user", "content": [{
                "type": "text", "text": message["content"],
                "cache_control": {"type": "ephemeral"}}]})
            marked += 1
        else:
            out.append(message)
    return out[::-1]


@pytest.mark.sdk
def test_rebuilt_messages_with_moving_breakpoints_are_one_automatic_run(client,
                                                                        exporter) -> None:
    history: list = []
    for i in range(6):
        history.append(ask(f"cookbook {i}"))
        reply = client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM,
                                       messages=cookbook_turns(history))
        history.append({"role": "assistant", "content": reply.content})
    spans = attrs(exporter)
    assert len({s[sc.RUN_ID] for s in spans}) == 1
    assert [s[sc.TURN] for s in spans] == [1, 2, 3, 4, 5, 6]
    assert [s.get(at.CHANGE_LEVEL) for s in spans] == [None] + ["none"] * 5
    # the breakpoints are where this call put them: its last two user messages
    assert [s[sc.CACHE_BREAKPOINTS].count(",") + 1 for s in spans[1:]] == [2] * 5


@pytest.mark.sdk
def test_fan_out_from_the_same_prompt_is_separate_runs(client, exporter) -> None:
    first = [ask("same")]
    second = [ask("same")]
    turn(client, first)
    turn(client, second)
    one, two = attrs(exporter)
    assert one[sc.RUN_ID] != two[sc.RUN_ID]
    # ... but the second reused the first's fingerprints: identical hashes.
    assert one[sc.PREFIX_MESSAGE_HASHES]
    assert one[sc.PREFIX_MESSAGE_HASHES] == two[sc.PREFIX_MESSAGE_HASHES]


@pytest.mark.sdk
def test_explicit_run_with_sub_run(client, exporter) -> None:
    with run("agent", ticket="T-1", run_id="run-agent") as agent:
        turn(client, [ask("x")])
        with run("sub-agent") as sub:
            turn(client, [ask("y")])
            turn(client, [ask("z")])  # unrelated prompt: same declared run
        turn(client, [ask("w")])
    main1, sub1, sub2, main2 = attrs(exporter)
    assert main1[sc.RUN_ID] == main2[sc.RUN_ID] == agent.id == "run-agent"
    assert (main1[sc.TURN], main2[sc.TURN]) == (1, 2)
    assert main1[sc.RUN_NAME] == "agent"
    assert main1[at.RUN_ATTRIBUTE_PREFIX + "ticket"] == "T-1"
    assert sub1[sc.RUN_ID] == sub2[sc.RUN_ID] == sub.id
    assert sub1[sc.RUN_PARENT_ID] == agent.id
    assert (sub1[sc.TURN], sub2[sc.TURN]) == (1, 2)
    assert sc.RUN_PARENT_ID not in main1 and at.RUN_AUTOMATIC not in main1


@pytest.mark.sdk
def test_async_tasks_keep_their_runs(async_client, exporter) -> None:
    async def worker(name: str) -> None:
        async with run(name, run_id=name):
            for i in range(2):
                await async_client.messages.create(model=MODEL, max_tokens=10,
                                                   messages=[ask(f"{name}{i}")])

    async def main():
        await asyncio.gather(worker("w1"), worker("w2"))

    asyncio.run(main())
    by_run: dict[str, list[int]] = {}
    for s in attrs(exporter):
        by_run.setdefault(s[sc.RUN_ID], []).append(s[sc.TURN])
    assert {k: sorted(v) for k, v in by_run.items()} == {"w1": [1, 2], "w2": [1, 2]}


@pytest.mark.sdk
@pytest.mark.skipif(not NATIVE, reason="the client's conversation_id option is 2.x")
def test_sdk_conversation_id_is_the_run(emu, provider, instrumentor, exporter) -> None:
    import anthropic

    kwargs = client_kwargs(emu, provider, conversation_id="conv-42")
    with anthropic.Anthropic(**kwargs) as c:
        c.messages.create(model=MODEL, max_tokens=10, messages=[ask("c1")])
        c.messages.create(model=MODEL, max_tokens=10, messages=[ask("c2")])
    one, two = attrs(exporter)
    assert one[sc.RUN_ID] == two[sc.RUN_ID] == "conv-42"
    assert one[sc.GEN_AI_CONVERSATION_ID] == "conv-42"
    assert (one[sc.TURN], two[sc.TURN]) == (1, 2)


# What docs/design.md and the docstrings tell users to write: the top-level name, next to
# `import tokentrail.auto`. A fresh process: the auto import sets up process-global state.
TOP_LEVEL_RUN = """
import json, sys
import anthropic
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.emulator.helpers import API_KEY

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

import tokentrail.auto, tokentrail

client = anthropic.Anthropic(base_url=sys.argv[1], api_key=API_KEY, max_retries=0)
with tokentrail.run("x", run_id="r", ticket=42) as r:
    for text in ("first task", "an unrelated second prompt"):
        client.messages.create(model="claude-haiku-4-5", max_tokens=10,
                               messages=[{"role": "user", "content": text}])
client.messages.create(model="claude-haiku-4-5", max_tokens=10,
                       messages=[{"role": "user", "content": "after the run"}])
spans = [dict(s.attributes) for s in exporter.get_finished_spans()
         if "gen_ai.usage.input_tokens" in (s.attributes or {})]
print(json.dumps({"run": [r.id, r.name], "spans": [
    {k: v for k, v in a.items() if k.startswith("tokentrail.run") or k == "tokentrail.turn"}
    for a in spans]}))
"""


@pytest.mark.sdk
def test_tokentrail_run_at_the_top_level_with_the_auto_import(emu) -> None:
    from tests.instrumentation.test_launch import clean_env, run_python

    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    done = run_python([sys.executable, "-c", TOP_LEVEL_RUN, emu.base_url], env)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["run"] == ["r", "x"]
    first, second, after = report["spans"]
    assert first[sc.RUN_ID] == second[sc.RUN_ID] == "r"
    assert (first[sc.TURN], second[sc.TURN]) == (1, 2)
    assert first[sc.RUN_NAME] == "x" and first[at.RUN_ATTRIBUTE_PREFIX + "ticket"] == 42
    assert after[sc.RUN_ID] != "r" and after[at.RUN_AUTOMATIC] is True


LIGHT_IMPORT = """
import json, sys
import tokentrail
heavy = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "anthropic",
                                                       "tokentrail.instrumentation")))
listed = "run" in dir(tokentrail) and "run" in tokentrail.__all__
try:
    tokentrail.no_such_name
    missing = "no error"
except AttributeError as e:
    missing = str(e)
print(json.dumps({"heavy": heavy, "listed": listed, "missing": missing,
                  "run": tokentrail.run.__module__}))
"""


def test_import_tokentrail_stays_light_until_run_is_used() -> None:
    from tests.instrumentation.test_launch import clean_env, run_python

    done = run_python([sys.executable, "-c", LIGHT_IMPORT], clean_env())
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "listed": True,
                      "missing": "module 'tokentrail' has no attribute 'no_such_name'",
                      "run": "tokentrail.instrumentation.runs"}
