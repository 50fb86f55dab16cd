"""Fixtures of the browser tests: one real ``tokentrail serve`` fed by real SDK agents,
and one headless chromium, for the whole tests/browser package.

``site``: a ``tokentrail emulator`` process and a ``tokentrail serve`` process
(tests/integration/serve.py) on a temporary store; the agents of
tests/browser/agents.py run in a subprocess with ``import tokentrail.auto`` against the
emulator, exporting to serve; the hostile run of tests/browser/hostile.py is posted as
OTLP. The fixture returns once every call is in ``llm_calls`` (read through serve's SQL
interface) and the turn-5 event of the timestamp agent is there.

Package scope: the agents and the browser start once for all the pages (the whole
package takes seconds, not a serve per test); serve stops when the package is done.

Without chromium the tests skip on a developer's machine and FAIL in CI (``CI`` set),
where scripts/test.sh must have installed it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import agents, chromium, hostile
from tests.conftest import REPO, free_port
from tests.integration.serve import Serve, serving
from tests.scenarios.scenarios import SCENARIOS
from tests.waiting import wait_until
from tokentrail.store import Store
from tokentrail.store.database import connect


@dataclass
class Site:
    """The running serve and what was sent to it."""

    serve: Serve
    calls: dict[str, int]  # run id -> calls sent
    seconds: dict[str, float] = field(default_factory=dict)  # what the set-up took

    @property
    def ui(self) -> str:
        return self.serve.ui

    def url(self, path: str) -> str:
        return f"{self.serve.ui}{path}"


@contextmanager
def _emulator() -> Iterator[str]:
    """``tokentrail emulator`` as its own process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tokentrail", "emulator", "--port", str(port),
                             "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the emulator exited early:\n{proc.stdout.read()}")
            return httpx.get(f"{base_url}/_emulator/requests", timeout=1).status_code == 200

        wait_until(up, timeout=60, interval=0.1, ignore=(httpx.TransportError,),
                   message=f"tokentrail emulator answers on {base_url}")
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_agents(serve: Serve, base_url: str) -> dict[str, int]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": serve.otlp,
           "OTEL_SERVICE_NAME": agents.SERVICE, "PYTHONPATH": str(REPO)}
    env.pop("OTEL_SDK_DISABLED", None)
    env.pop("TOKENTRAIL_DISABLED", None)
    done = subprocess.run([sys.executable, "-m", "tests.browser.agents", base_url], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    made = json.loads(done.stdout.strip().splitlines()[-1])
    assert made == {run_id: calls for run_id, (_, calls) in agents.RUNS.items()}, made
    return made


def _wait_for_data(serve: Serve, calls: dict[str, int]) -> None:
    store = Store(connect(serve.sql), serve.sql)
    try:
        def stored() -> dict[str, int]:
            rows = store.query("SELECT run_id, count() AS n FROM llm_calls "
                               "WHERE run_id IN {ids:Array(String)} GROUP BY run_id",
                               {"ids": list(calls)})
            return {row["run_id"]: row["n"] for row in rows}

        wait_until(stored, until=lambda seen: seen == calls, timeout=90, interval=0.2,
                   message=f"every call of the browser runs is in llm_calls ({calls})")
        expected = SCENARIOS[agents.TIMESTAMP_SCENARIO].expected
        wait_until(lambda: {(e["turn"], e["cause"]) for e in store.cache_events(
                       agents.TIMESTAMP)}, until=lambda seen: seen == expected, timeout=60,
                   message=f"the cache events of {agents.TIMESTAMP} are {set(expected)}")
    finally:
        store.close()


@pytest.fixture(scope="package")
def site(tmp_path_factory) -> Iterator[Site]:
    chromium.require()  # before minutes of set-up that could not be used
    began = time.monotonic()
    with serving(tmp_path_factory.mktemp("browser") / "data") as serve:
        started = time.monotonic()
        with _emulator() as base_url:
            calls = _run_agents(serve, base_url)
        calls[hostile.RUN_ID] = hostile.post(serve.otlp)
        sent = time.monotonic()
        _wait_for_data(serve, calls)
        yield Site(serve, calls, {"serve": started - began, "agents": sent - started,
                                  "stored": time.monotonic() - sent})


@pytest.fixture(scope="package")
def driver() -> Iterator[WebDriver]:
    chromium.require()
    with chromium.browser() as running:
        running.set_page_load_timeout(30)
        yield running


@pytest.fixture
def page(driver: WebDriver, site: Site):
    """Opens a path of the UI in the shared browser and checks what every page must
    hold: an answer, no script of the hostile run executed. Returns ``open(path)``."""
    def open_(path: str) -> WebDriver:
        driver.get(site.url(path))
        assert driver.execute_script("return document.readyState") == "complete"
        assert_no_injection(driver)
        return driver
    yield open_
    assert_no_injection(driver)  # nor after the test's hovers and clicks


def assert_no_injection(driver: WebDriver) -> None:
    """The hostile strings were never markup: no flag set, no element made of them."""
    flag = driver.execute_script("return typeof window.__xss === 'undefined' "
                                 "? null : String(window.__xss)")
    assert flag is None, f"an injected script ran on {driver.current_url}: window.__xss={flag}"
    injected = driver.execute_script(
        "return [...document.querySelectorAll('img[src=\"x\"], script')]"
        ".filter(e => (e.getAttribute('src') === 'x') || e.textContent.includes('__xss'))"
        ".map(e => e.outerHTML)")
    assert injected == [], f"elements made of telemetry on {driver.current_url}: {injected}"
