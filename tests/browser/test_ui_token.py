"""The UI behind TOKENTRAIL_UI_TOKEN, in a browser: a ``tokentrail serve`` of its own
started with the token (web/security.py). Without the token a page is refused with a
page that says what is needed; opened once with ``?token=``, the browser keeps the token
in a cookie and the runs page, a run's timeline (its live poll included: a run in
progress keeps growing) and a call page work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import chromium
from tests.browser.looking import css, eventually, visible_text
from tests.integration.serve import Serve, serving
from tests.otlp import anthropic_call_attrs, span, trace_request
from tests.waiting import wait_until
from tokentrail import semconv as sc

pytestmark = pytest.mark.integration

TOKEN = "browser-t0ken"
LIVE = "guarded-live"
SERVICE = "guarded-agent"


@dataclass
class Guarded:
    serve: Serve

    def url(self, path: str) -> str:
        return f"{self.serve.ui}{path}"

    def api(self, path: str) -> httpx.Response:
        """A script's read: the token as a bearer header."""
        return httpx.get(self.url(path), headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=30)


def _call_id(turn: int) -> str:
    return f"msg_guarded_live_{turn}"


def _post_turns(serve: Serve, *turns: int) -> None:
    """Calls of a run going on now, as OTLP (the SDK's native span attributes; the
    collector needs no token here, only the UI does)."""
    spans = []
    for turn in turns:
        attrs = anthropic_call_attrs(response_id=_call_id(turn), uncached=30,
                                     read=0 if turn == 1 else 2000,
                                     write=2000 if turn == 1 else 40, output=15)
        attrs.update({sc.RUN_ID: LIVE, sc.RUN_NAME: "guarded live agent", sc.TURN: turn})
        spans.append(span(attrs, start_ns=time.time_ns(), duration_ns=300_000_000))
    response = httpx.post(f"{serve.otlp}/v1/traces", timeout=30,
                          content=trace_request(spans, service=SERVICE).SerializeToString(),
                          headers={"content-type": "application/x-protobuf"})
    assert response.status_code == 200, response.text


def _stored(site: Guarded, calls: int) -> None:
    def seen() -> int:
        response = site.api(f"/api/runs/{LIVE}")
        return len(response.json()["calls"]) if response.status_code == 200 else 0

    wait_until(seen, until=lambda n: n == calls, timeout=60, interval=0.2,
               message=f"{calls} calls of {LIVE} are stored behind the UI token")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[Guarded]:
    chromium.require()
    with serving(tmp_path_factory.mktemp("guarded") / "data", ui_token=TOKEN) as serve:
        site = Guarded(serve)
        _post_turns(serve, 1, 2)
        _stored(site, 2)
        yield site


@pytest.fixture
def browser(driver: WebDriver, guarded: Guarded) -> Iterator[WebDriver]:
    """The shared browser without the guarded site's cookie before and after (cookies
    are per host, not per port: the other tests' site is on 127.0.0.1 too)."""
    driver.get(guarded.url("/healthz"))  # any page of the host, to reach its cookies
    driver.delete_all_cookies()
    yield driver
    driver.delete_all_cookies()


def _poll_statuses(driver: WebDriver) -> list[int]:
    """The HTTP statuses of the live poll's requests (``?part=body``) so far, from the
    page's resource timing (chromium reports ``responseStatus``)."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('part=body')).map(e => e.responseStatus)")


def _turns(driver: WebDriver) -> list[int]:
    return sorted({int(r.get_attribute("data-turn"))
                   for r in css(driver, "svg.timeline-chart rect.seg")})


def test_without_the_token_a_page_is_refused_with_a_page_that_says_why(browser, guarded):
    for path in ("/", f"/runs/{LIVE}", f"/calls/{_call_id(1)}", f"/?token=wrong-{TOKEN}"):
        browser.get(guarded.url(path))
        heading = visible_text(browser, "h1")
        assert heading == "This tokentrail UI needs its token", (path, heading)
        text = visible_text(browser)
        assert "?token=" in text and "Authorization: Bearer" in text, text
        assert not css(browser, "table#runs") and not css(browser, "svg.timeline-chart")
        assert TOKEN not in browser.page_source
    chromium.screenshot(browser, "token-needed")
    # the same refusal as the browser saw, with its status (scripts get plain text)
    refused = httpx.get(guarded.url("/"), headers={"Accept": "text/html"}, timeout=30)
    assert refused.status_code == 401 and "needs its token" in refused.text
    script = httpx.get(guarded.url("/api/runs"), timeout=30)
    assert script.status_code == 401 and script.headers["content-type"].startswith("text/plain")


def test_with_the_token_the_runs_page_a_live_timeline_and_a_call_page_work(browser, guarded):
    browser.get(guarded.url(f"/?token={TOKEN}"))
    eventually(lambda: browser.current_url, until=lambda u: u == guarded.url("/"),
               message="the token is taken into a cookie and dropped from the address")
    rows = eventually(lambda: [r.get_attribute("data-run-id")
                               for r in css(browser, "table#runs tbody tr")],
                      until=lambda ids: ids == [LIVE], message="the runs page lists the run")
    assert rows == [LIVE]

    # the timeline, from the runs page's link: its script, stylesheet and live poll all
    # go through the token check with the cookie
    browser.find_element("css selector", "table#runs td.run-id a").click()
    eventually(lambda: browser.current_url, until=lambda u: u == guarded.url(f"/runs/{LIVE}"),
               message="the run's link opens its timeline")
    assert visible_text(browser, "h1") == "guarded live agent"
    assert browser.find_element("css selector", ".live-badge").is_displayed()
    eventually(lambda: _turns(browser), until=lambda t: t == [1, 2],
               message="the chart draws the 2 turns")
    assert not browser.find_element("css selector", "#live-stopped").is_displayed()
    browser.execute_script("window.__sameDocument = true")
    _post_turns(guarded.serve, 3)
    try:
        eventually(lambda: _turns(browser), until=lambda t: t == [1, 2, 3], timeout=60,
                   message="the third turn appears on the open page (the live poll, under "
                           "the token)")
    except AssertionError as failed:
        raise AssertionError(f"{failed}; the poll's statuses: {_poll_statuses(browser)}") \
            from None
    assert browser.execute_script("return window.__sameDocument") is True, "the page reloaded"
    statuses = _poll_statuses(browser)
    assert statuses and set(statuses) == {200}, f"the live poll was refused: {statuses}"
    chromium.screenshot(browser, "token-run-live")

    # a call page, from the turns table
    browser.find_element("css selector", "table#turns tbody tr a").click()
    eventually(lambda: browser.current_url,
               until=lambda u: u == guarded.url(f"/calls/{_call_id(1)}"),
               message="the turn's link opens its call")
    assert visible_text(browser, "h1").startswith("Turn 1")
    assert css(browser, "#prefix-diff")
    chromium.screenshot(browser, "token-call")


def test_a_live_page_that_loses_its_token_says_it_stopped_updating(browser, guarded):
    """The cookie gone (or the token changed) while a live timeline is open: the poll is
    refused, and the page says it no longer updates instead of showing 'live' forever."""
    _post_turns(guarded.serve, 4)  # the run is in progress now
    _stored(guarded, 4)
    browser.get(guarded.url(f"/runs/{LIVE}?token={TOKEN}"))
    eventually(lambda: _turns(browser), until=lambda t: t == [1, 2, 3, 4],
               message="the timeline opens with the token and draws 4 turns")
    assert browser.find_element("css selector", ".live-badge").is_displayed()
    browser.delete_all_cookies()
    note = eventually(lambda: browser.find_element("css selector", "#live-stopped"),
                      until=lambda n: n.is_displayed(), timeout=30,
                      message="the page says it stopped updating")
    assert "needs its token again" in note.text, note.text
    # the resource entry is recorded once the refused body is read, after the note
    eventually(lambda: _poll_statuses(browser), until=lambda seen: 401 in seen,
               message="the page's poll was refused with 401")
    assert not browser.find_element("css selector", ".live-badge").is_displayed()
    assert _turns(browser) == [1, 2, 3, 4]  # what was drawn stays
    chromium.screenshot(browser, "token-live-stopped", full_page=False)
