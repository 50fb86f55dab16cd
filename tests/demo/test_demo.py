"""``tokentrail demo --exit`` to completion, then every agent checked for what it was built
to show, through the JSON API of a real ``tokentrail serve`` on the demo's store.

The expectations follow from the prompt-cache rules (docs/facts.md §1), the causes of
``cache_events`` and the rules of the insights (README), applied to what each agent does
(tokentrail/demo/agents.py): a tool task is two calls (the emulator calls one tool, then
answers), a task without tools one call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.integration.serve import Serve, serving
from tokentrail.analysis.insights import COMPACT_ABOVE_TOKENS
from tokentrail.demo.agents import AGENTS, COMPACT_TASKS, SOURCES, TICKETS

pytestmark = pytest.mark.integration

TIMESTAMP = "timestamp-in-system-prompt"
SYSTEM_ONLY = "breakpoint-only-on-system-prompt"
COMPACTS = "compacts-its-context"
SYSTEM_CHANGED = [(turn, "system_changed") for turn in (2, 3, 4)]  # every call after the 1st

# agent -> the (turn, cause) of each cache event of its run(s), in order
EVENTS: dict[str, list[tuple[int, str]]] = {
    "well-cached-coding-agent": [],
    TIMESTAMP: SYSTEM_CHANGED,
    "tools-reordered-every-turn": [(turn, "tools_changed") for turn in range(2, 7)],
    "no-cache-breakpoint": [(turn, "no_breakpoint") for turn in range(2, 6)],
    # 9 and 14 minutes pass before the 2nd and the 3rd task (turns 3 and 5)
    "long-pauses-between-turns": [(3, "ttl_expired"), (5, "ttl_expired")],
    "orchestrator-fan-out": [],
    "classification-on-opus": [],
    "huge-tool-result-dragged-along": [],
    # the system prompt is read every time; nothing after it was ever cached to miss
    SYSTEM_ONLY: [],
    # the tasks and the summary request, then the conversation starts over
    COMPACTS: [(2 * COMPACT_TASKS + 3, "messages_changed")],
}
# words each event's detail must contain
DETAILS = {TIMESTAMP: "looks like a timestamp", "tools-reordered-every-turn": "reordered",
           "no-cache-breakpoint": "no cache breakpoint",
           "long-pauses-between-turns": "5m TTL",
           COMPACTS: "replaced from its first message"}
CALLS = {"well-cached-coding-agent": 10, TIMESTAMP: 4, "tools-reordered-every-turn": 6,
         "no-cache-breakpoint": 5, "long-pauses-between-turns": 6, "orchestrator-fan-out": 2,
         "classification-on-opus": TICKETS, "huge-tool-result-dragged-along": 10,
         SYSTEM_ONLY: 8, COMPACTS: 2 * COMPACT_TASKS + 4}

# insight kind -> the agents it must name (by service, and by run where it is run-scoped)
INSIGHTS: dict[str, set[str]] = {
    "uncached_prefix": {"no-cache-breakpoint"},
    "recurring_invalidation": {TIMESTAMP},
    # every call re-writes a prompt no later call reads
    "unread_cache_writes": {TIMESTAMP, "tools-reordered-every-turn"},
    "ttl_too_short": {"long-pauses-between-turns"},
    "batch_candidate": {"orchestrator-fan-out"},
    "model_routing_candidate": {"classification-on-opus"},
    "context_dead_weight": {"huge-tool-result-dragged-along"},
    "growing_uncached_input": {SYSTEM_ONLY},
    "context_growth": {COMPACTS},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[tuple[dict[str, Any], str, Serve]]:
    """The demo's JSON summary, its output, and a serve on the store it left behind."""
    data = tmp_path_factory.mktemp("demo") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    done = subprocess.run(
        [sys.executable, "-m", "tokentrail", "demo", "--exit", "--no-open", "--json",
         "--data", str(data), "--ui-port", "0", "--otlp-http-port", "0", "--sql-port", "0"],
        capture_output=True, text=True, timeout=280, cwd=REPO, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    with serving(data) as server:
        yield summary, done.stdout, server


def api(server: Serve, path: str, **params: str) -> Any:
    response = httpx.get(f"{server.ui}{path}", params=params, timeout=60)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


def test_the_demo_says_where_to_look(demo) -> None:
    summary, output, _ = demo
    assert set(summary["runs"]) == set(AGENTS)
    assert summary["calls"] == sum(CALLS[n] * AGENTS[n].runs for n in AGENTS) + SOURCES
    first = summary["runs"][TIMESTAMP][0]
    lines = output.splitlines()
    look = lines.index("Look first at:")
    assert lines[look + 1] == f"  1. {summary['ui']}/runs/{first}"
    assert lines[look + 4] == f"  2. {summary['ui']}/insights"
    for name in AGENTS:
        assert f"  {name}: {AGENTS[name].teaches}" in lines or name == TIMESTAMP


@pytest.mark.parametrize("name", list(AGENTS))
def test_each_agent_shows_what_it_was_built_to_show(name: str, demo) -> None:
    summary, _, server = demo
    run_ids = summary["runs"][name]
    assert len(run_ids) == AGENTS[name].runs
    for run_id in run_ids:
        page = api(server, f"/api/runs/{run_id}")
        assert page["run"]["run_name"] == name
        assert page["run"]["service_name"] == name
        assert len(page["calls"]) == CALLS[name]
        events = [(e["turn"], e["cause"]) for e in page["events"]]
        assert events == EVENTS[name], page["events"]
        for event in page["events"]:
            assert DETAILS[name] in event["detail"], event
            assert event["extra_cost_usd"] > 0
        if name == "orchestrator-fan-out":  # 12 sub-agents of one call each
            children = page["children"]
            assert len(children) == SOURCES
            assert {c["run_name"] for c in children} == {"summarize-source"}
            assert all(c["calls"] == 1 for c in children)
        if name == "well-cached-coding-agent":  # every call after the first reads
            assert all(c["cache_read_tokens"] > 0 for c in page["calls"][1:])
        if name == SYSTEM_ONLY:  # reads its system prompt, re-sends the rest uncached
            calls = page["calls"]
            assert all(c["cache_read_tokens"] == calls[1]["cache_read_tokens"] > 0
                       for c in calls[1:])
            uncached = [c["input_tokens"] for c in calls]
            assert uncached == sorted(set(uncached)), uncached  # rising on every call
        if name == COMPACTS:  # past the threshold of context_growth, then compacted
            sizes = [c["input_tokens"] + c["cache_read_tokens"] + c["cache_write_5m_tokens"]
                     for c in page["calls"]]
            over = [i for i, size in enumerate(sizes) if size > COMPACT_ABOVE_TOKENS]
            assert over and over[-1] == len(sizes) - 3, sizes  # the summary request's
            assert len(over) > 2 and max(sizes[-2:]) < COMPACT_ABOVE_TOKENS / 5, sizes


def test_insights_name_the_agents_that_show_them(demo) -> None:
    summary, _, server = demo
    now = datetime.now(timezone.utc)
    page = api(server, "/api/insights", start=(now - timedelta(days=1)).isoformat(),
               end=(now + timedelta(minutes=5)).isoformat())
    agent_of = {run_id: name for name, ids in summary["runs"].items() for run_id in ids}
    seen: dict[str, set[str]] = {}
    for finding in page["findings"]:
        service = finding["service_name"]
        assert service in AGENTS, finding  # every finding is one of the demo's agents'
        seen.setdefault(finding["kind"], set()).add(service)
        assert finding["savings_usd"] > 0, finding
        if finding["scope"] == "run":
            assert {agent_of[r] for r in finding["run_ids"]} == {service}, finding
    assert seen == INSIGHTS
    [recurring] = [f for f in page["findings"] if f["kind"] == "recurring_invalidation"]
    assert set(recurring["run_ids"]) == set(summary["runs"][TIMESTAMP])
    [batch] = [f for f in page["findings"] if f["kind"] == "batch_candidate"]
    assert batch["calls"] == SOURCES
    [growth] = [f for f in page["findings"] if f["kind"] == "context_growth"]
    assert growth["run_ids"] == summary["runs"][COMPACTS]
    assert growth["calls"] == CALLS[COMPACTS]
    [growing] = [f for f in page["findings"] if f["kind"] == "growing_uncached_input"]
    assert growing["run_ids"] == summary["runs"][SYSTEM_ONLY]
    assert growing["calls"] == CALLS[SYSTEM_ONLY]


SCREENSHOTS = REPO / "docs" / "screenshots"  # the README shows these


def test_readme_screenshots_from_the_demo(demo) -> None:
    """The README's screenshots, taken from the demo's pages in chromium (so they show
    what the UI draws today), after checking that each shows what the README says."""
    from selenium.webdriver.common.by import By

    from tests.browser import chromium

    reason = chromium.missing()
    if reason:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"the README screenshots need chromium in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    summary, _, server = demo
    run_id = summary["runs"][TIMESTAMP][0]
    second_call = api(server, f"/api/runs/{run_id}")["calls"][1]["call_id"]
    with chromium.browser(1360, 900) as driver:
        driver.get(f"{server.ui}/runs/{run_id}")
        markers = driver.find_elements(By.CSS_SELECTOR, "svg.timeline-chart .event-marker")
        assert [m.get_attribute("data-cause") for m in markers] == ["system_changed"] * 3
        chromium.screenshot(driver, str(SCREENSHOTS / "timeline.png"), full_page=False)

        driver.get(f"{server.ui}/calls/{second_call}")
        diff = driver.find_element(By.ID, "prefix-diff")
        assert "changed" in diff.text and "timestamp" in diff.text, diff.text
        driver.execute_script("arguments[0].scrollIntoView()", diff)
        chromium.screenshot(driver, str(SCREENSHOTS / "call-diff.png"), full_page=False)

        driver.get(f"{server.ui}/insights")
        kinds = {a.get_attribute("data-kind")
                 for a in driver.find_elements(By.CSS_SELECTOR, "article.insight")}
        assert kinds == set(INSIGHTS)
        chromium.screenshot(driver, str(SCREENSHOTS / "insights.png"), full_page=False)
    for name in ("timeline", "call-diff", "insights"):
        assert (SCREENSHOTS / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_keeps_serving_until_ctrl_c_then_deletes_its_store(tmp_path) -> None:
    """Without --exit and --data: the UI stays up after the guide, and Ctrl-C (SIGINT)
    stops serve and removes the temporary store."""
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    env["TMPDIR"] = str(tmp_path)  # where the demo's temporary directory goes
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "demo", "--no-open", "--ui-port", "0",
         "--otlp-http-port", "0", "--sql-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
    try:
        lines = []
        for line in proc.stdout:  # ends at EOF if the demo exits: the assert says why
            lines.append(line)
            if line.startswith("Serving until Ctrl-C"):
                break
        assert lines and lines[-1].startswith("Serving until Ctrl-C"), "".join(lines)
        ui = next(line.split()[1] for line in lines if line.startswith("UI: "))
        assert httpx.get(f"{ui}/api/runs", timeout=30).json()["total"] > 0
        assert [p.name.startswith("tokentrail-demo-") for p in tmp_path.iterdir()] == [True]
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "tokentrail demo: stopped" in rest
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{ui}/healthz", timeout=5)
