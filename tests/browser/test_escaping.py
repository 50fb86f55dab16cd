"""The hostile run (tests/browser/hostile.py) on every page that shows it: each string
is shown as text, none of it ran (the ``page`` fixture checks ``window.__xss`` and
looks for elements made of telemetry on every page it opens, after each test too)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.browser import chromium, hostile
from tests.browser.looking import css, eventually, hover, move_away, visible_text

pytestmark = pytest.mark.integration

RUN_PAGE = f"/runs/{quote(hostile.RUN_ID, safe='')}"


def _shows_all(text: str, where: str) -> None:
    for raw in hostile.STRINGS:
        assert raw in text, f"{raw!r} is not shown as text on {where}"


def test_runs_page(page) -> None:
    driver = page("/")
    _shows_all(visible_text(driver, "table#runs"), "the runs page")
    chromium.screenshot(driver, "runs-hostile")


def test_run_timeline(page) -> None:
    driver = page(RUN_PAGE)
    assert visible_text(driver, "h1") == hostile.RUN_NAME
    head = visible_text(driver, ".page-head")
    for value in (hostile.SERVICE, hostile.MODEL_A, hostile.MODEL_B):
        assert value in head, f"{value!r} not in the page head: {head!r}"
    turns = visible_text(driver, "table#turns")
    assert hostile.STOP_REASON in turns and hostile.MODEL_B in turns, turns

    def tip() -> str:
        move_away(driver)
        hover(driver, driver.find_element("css selector", "a.event-marker circle"))
        shown = driver.find_element("css selector", "#chart-tip")
        return shown.text if shown.is_displayed() else ""

    text = eventually(tip, until=lambda t: "model_changed" in t,
                      message="the model_changed marker's tooltip shows")
    assert hostile.MODEL_A in text and hostile.MODEL_B in text, text
    label = driver.find_element("css selector", "a.event-marker").get_attribute("aria-label")
    assert hostile.MODEL_B in label, label
    chromium.screenshot(driver, "run-timeline-hostile")


def test_call_page(page) -> None:
    driver = page(RUN_PAGE)
    eventually(lambda: driver.find_element("css selector", "table#turns tr#turn-3 a").click()
               or "/calls/" in driver.current_url, message="turn 3's link opens its call")
    text = visible_text(driver)
    for value in (hostile.RUN_NAME, hostile.SERVICE, hostile.MODEL_B, hostile.STOP_REASON):
        assert value in text, f"{value!r} not shown on the call page"
    assert hostile.MODEL_A in visible_text(driver, "section.event")  # the event's detail
    # no fingerprints were sent: only the model is known to have changed
    states = {row.get_attribute("data-part"): row.get_attribute("data-state")
              for row in css(driver, "#prefix-diff tr.part")}
    assert states == {"model": "changed", "params": "unknown", "tools": "unknown",
                      "system": "unknown"}, states
    # captured contents and the API's diagnostic: shown exactly as sent, as text
    shown = [element.text for element in css(driver, "#contents pre.content")]
    assert shown == list(hostile.CONTENTS.values()), shown
    assert visible_text(driver, ".miss-reason") == hostile.MISS_REASON
    chromium.screenshot(driver, "call-hostile")
