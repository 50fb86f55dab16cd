"""The run timeline (/runs/{run_id}) as a person sees it: the chart is drawn, the cache
event of the 8-turn agent sits on turn 5 and names its cause, pointing at it or tabbing
to it tells the detail, clicking it opens the call; sub-runs link both ways; a run in
progress grows on the open page."""

from __future__ import annotations

import time

import httpx
import pytest
from selenium.webdriver.common.keys import Keys

from tests.browser import agents, chromium
from tests.browser.looking import box, css, eventually, hover, move_away, tab_to, visible_text
from tests.otlp import anthropic_call_attrs, span, trace_request
from tests.waiting import wait_until
from tokentrail import semconv as sc

pytestmark = pytest.mark.integration

TIMELINE = f"/runs/{agents.TIMESTAMP}"


def _bars_by_turn(driver) -> dict[int, list[dict]]:
    bars: dict[int, list[dict]] = {}
    for rect in css(driver, "svg.timeline-chart rect.seg"):
        bars.setdefault(int(rect.get_attribute("data-turn")), []).append(box(driver, rect))
    return bars


def test_the_chart_is_drawn_with_a_bar_per_turn(page) -> None:
    driver = page(TIMELINE)
    chart = driver.find_element("css selector", "svg.timeline-chart")
    assert chart.is_displayed()
    assert box(driver, chart)["width"] > 400 and box(driver, chart)["height"] > 150
    bars = eventually(lambda: _bars_by_turn(driver), until=lambda b: len(b) == 8,
                      message="the chart has bars for the 8 turns")
    assert sorted(bars) == list(range(1, 9))
    for turn, rects in bars.items():
        assert any(r["width"] > 0 and r["height"] > 0 for r in rects), f"turn {turn}: {rects}"
    lefts = [min(r["left"] for r in bars[turn]) for turn in range(1, 9)]
    assert lefts == sorted(lefts) and len(set(lefts)) == 8, f"bars out of turn order: {lefts}"
    for kind in ("seg-cache-read", "seg-write-5m", "seg-output"):  # the buckets this run has
        assert css(driver, f"svg.timeline-chart rect.seg.{kind}"), f"no {kind} bar drawn"
    line = driver.find_element("css selector", "svg.timeline-chart path.cost-line")
    assert box(driver, line)["width"] > 100, "the cumulative cost line is not drawn"
    chromium.screenshot(driver, "run-timeline")
    # the chart can be read as a table too: one row per turn, behind its summary
    def open_table() -> list[str]:
        table = driver.find_element("css selector", "table.chart-table")
        if not table.is_displayed():
            driver.find_element("css selector", "details.chart-data summary").click()
        rows = css(driver, "table.chart-table tbody tr")
        return [r.get_attribute("data-turn") for r in rows if r.is_displayed()]

    turns = eventually(open_table, until=lambda t: len(t) == 8,
                       message="the chart's table opens with a row per turn")
    assert turns == [str(n) for n in range(1, 9)]
    row5 = driver.find_element("css selector", "table.chart-table tr[data-turn='5']").text
    assert "system_changed" in row5, row5


def test_the_turn_5_marker_names_the_cause_and_tells_the_detail(page, site) -> None:
    driver = page(TIMELINE)
    markers = eventually(lambda: css(driver, "a.event-marker"), message="a cache event marker")
    assert len(markers) == 1, [m.get_attribute("aria-label") for m in markers]

    def marker_and_bars():
        marker = driver.find_element("css selector", "a.event-marker")
        return (marker.get_attribute("data-turn"), marker.get_attribute("data-cause"),
                marker.get_attribute("aria-label"),
                box(driver, marker.find_element("css selector", "circle")),
                _bars_by_turn(driver).get(5, []))

    turn, cause, label, dot, bars5 = eventually(marker_and_bars, message="the marker is drawn")
    assert (turn, cause) == ("5", "system_changed")
    assert "system_changed" in label and "timestamp" in label, label
    centre = (dot["left"] + dot["right"]) / 2
    left, right = min(b["left"] for b in bars5), max(b["right"] for b in bars5)
    assert left <= centre <= right, f"marker at x={centre}, turn 5's bar spans {left}-{right}"
    assert dot["width"] > 4, f"the marker is too small to point at: {dot}"

    def tip_on_hover() -> str:
        move_away(driver)
        hover(driver, driver.find_element("css selector", "a.event-marker circle"))
        tip = driver.find_element("css selector", "#chart-tip")
        return tip.text if tip.is_displayed() else ""

    text = eventually(tip_on_hover, until=lambda t: "system_changed" in t,
                      message="pointing at the marker shows its tooltip")
    assert "Turn 5" in text and "system prompt changed" in text and "timestamp" in text, text
    assert "Extra cost $" in text, text
    assert text.count("not read") == 1, f"the missed tokens are said once: {text}"
    chromium.screenshot(driver, "run-timeline-marker-hover")
    move_away(driver)
    eventually(lambda: not driver.find_element("css selector", "#chart-tip").is_displayed(),
               message="the tooltip goes away when the pointer leaves the marker")

    # by keyboard: Tab reaches the marker, its tooltip shows, Enter opens the call (again
    # from a fresh load if the live update replaced the chart meanwhile)
    def by_keyboard() -> tuple[str, str, str]:
        driver.get(site.url(TIMELINE))
        focused = tab_to(driver, "a.event-marker")
        tip = driver.find_element("css selector", "#chart-tip")
        shown = (focused.get_attribute("data-turn"), tip.text if tip.is_displayed() else "")
        focused.send_keys(Keys.ENTER)
        return shown

    turn, text = eventually(by_keyboard, message="Tab reaches the marker, Enter pressed")
    assert turn == "5" and "system_changed" in text, (turn, text)
    eventually(lambda: driver.current_url, until=lambda u: "/calls/" in u,
               message="Enter on the focused marker opens its call")
    assert visible_text(driver, "h1").startswith("Turn 5")


def test_clicking_the_marker_opens_the_call(page, site) -> None:
    driver = page(TIMELINE)
    href = eventually(lambda: driver.find_element("css selector", "a.event-marker")
                      .get_dom_attribute("href"), message="the marker links somewhere")
    assert href.startswith("/calls/"), href

    def click() -> str:
        driver.find_element("css selector", "a.event-marker circle").click()
        return driver.current_url

    eventually(click, until=lambda url: "/calls/" in url, message="the click opens the call")
    assert driver.current_url == site.url(href)
    heading = visible_text(driver, "h1")
    assert heading.startswith("Turn 5"), heading
    assert "system_changed" in visible_text(driver)


def test_sub_runs_link_to_each_other(page) -> None:
    driver = page(f"/runs/{agents.PARENT}")
    children = css(driver, "a.child-run")
    assert [c.text for c in children] == [agents.RUNS[agents.CHILD][0]]
    children[0].click()
    eventually(lambda: driver.current_url, until=lambda u: u.endswith(f"/runs/{agents.CHILD}"),
               message="the sub-run link opens the child run")
    assert visible_text(driver, "h1") == agents.RUNS[agents.CHILD][0]
    parents = css(driver, "a.parent-run")
    assert parents and all(p.get_attribute("href").endswith(f"/runs/{agents.PARENT}")
                           for p in parents)
    chromium.screenshot(driver, "run-sub-agent")
    parents[-1].click()
    eventually(lambda: driver.current_url,
               until=lambda u: u.endswith(f"/runs/{agents.PARENT}"),
               message="the parent link opens the parent run")


def test_an_unknown_run_says_so(page) -> None:
    driver = page("/runs/no-such-run")
    assert "no-such-run" in visible_text(driver)
    assert not css(driver, "svg.timeline-chart")


LIVE = "browser-live"


def _post_live_turns(site, *turns: int) -> None:
    """Calls of a run going on now, as OTLP (the SDK's native span attributes)."""
    spans = []
    for turn in turns:
        attrs = anthropic_call_attrs(response_id=f"msg_browser_live_{turn}", uncached=30,
                                     read=0 if turn == 1 else 2000,
                                     write=2000 if turn == 1 else 40, output=15)
        attrs.update({sc.RUN_ID: LIVE, sc.RUN_NAME: "live agent", sc.TURN: turn})
        spans.append(span(attrs, start_ns=time.time_ns(), duration_ns=300_000_000))
    response = httpx.post(f"{site.serve.otlp}/v1/traces", timeout=30,
                          content=trace_request(spans, service="browser-live")
                          .SerializeToString(),
                          headers={"content-type": "application/x-protobuf"})
    assert response.status_code == 200, response.text


def _turns_drawn(driver) -> list[int]:
    return sorted(_bars_by_turn(driver))


def test_a_run_in_progress_grows_without_a_reload(page, site) -> None:
    site.calls[LIVE] = 3  # the other pages count it from now on
    _post_live_turns(site, 1, 2)

    def stored() -> int:
        response = httpx.get(f"{site.ui}/api/runs/{LIVE}", timeout=30)
        return len(response.json()["calls"]) if response.status_code == 200 else 0

    wait_until(stored, until=lambda n: n == 2, timeout=60, interval=0.2,
               message=f"the first two calls of {LIVE} are stored")
    driver = page(f"/runs/{LIVE}")
    assert _turns_drawn(driver) == [1, 2]
    assert driver.find_element("css selector", ".live-badge").is_displayed()
    driver.execute_script("window.__sameDocument = true")
    _post_live_turns(site, 3)
    eventually(lambda: _turns_drawn(driver), until=lambda turns: turns == [1, 2, 3],
               timeout=60, message="the third turn appears on the open page")
    assert driver.execute_script("return window.__sameDocument") is True, "the page reloaded"
    eventually(lambda: len(css(driver, "table#turns tbody tr")), until=lambda n: n == 3,
               message="the turns table grows too")
    chromium.screenshot(driver, "run-live")
