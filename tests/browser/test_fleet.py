"""The fleet page (/fleet) as a person sees it: totals of what the agents sent, every
chart drawn, the costliest runs linking to their timelines, the range presets.

The agents ran just now; the hostile run is three days old (tests/browser/hostile.py),
so a range from yesterday on holds the agents' runs alone."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser import agents, chromium, hostile
from tests.browser.looking import box, css, eventually, visible_text

pytestmark = pytest.mark.integration

SINCE_YESTERDAY = f"/fleet?start={dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)}"


def _kpis(driver) -> dict[str, str]:
    return {kpi.find_element("css selector", ".kpi-label").text.lower():
            kpi.find_element("css selector", ".kpi-value").text
            for kpi in css(driver, "#fleet-totals .kpi")}


def _drawn(driver, selector: str) -> list[dict]:
    return [b for b in (box(driver, e) for e in css(driver, selector))
            if b["width"] > 0 and b["height"] > 0]


def test_totals_charts_and_top_runs(page, site) -> None:
    recent = {run: calls for run, calls in site.calls.items() if run != hostile.RUN_ID}
    driver = page(SINCE_YESTERDAY)
    kpis = _kpis(driver)
    assert kpis["runs"] == str(len(recent)), kpis
    assert kpis["calls"] == str(sum(recent.values())), kpis
    assert kpis["cost"].startswith("$") and kpis["lost to cache events"].startswith("$"), kpis
    for chart in ("cost-by-model", "cost-by-service"):
        assert _drawn(driver, f"figure#{chart} svg rect.seg"), f"no bar drawn in {chart}"
    legend = visible_text(driver, "figure#cost-by-model .legend")
    for model in ("claude-sonnet-4-5", "claude-opus-4-1"):
        assert model in legend, legend
    assert agents.SERVICE in visible_text(driver, "figure#cost-by-service .legend")
    assert _drawn(driver, "figure#hit-rate svg circle.rate-point"), "no hit-rate point drawn"
    causes = [g.get_attribute("data-label") for g in css(driver, "figure#lost-by-cause g.hbar")]
    assert "system_changed" in causes, causes
    assert _drawn(driver, "figure#lost-by-cause rect.hbar-bar")
    sources = [g.get_attribute("data-label") for g in css(driver, "figure#calls-by-source g.hbar")]
    assert "tokentrail" in sources, sources
    top = [row.get_attribute("data-run-id") for row in css(driver, "#top-runs-table tbody tr")]
    assert set(top) == set(recent) and top[0] == agents.CHILD, top  # Opus: costliest
    chromium.screenshot(driver, "fleet")
    driver.find_element("css selector", "#top-runs-table tbody tr td.run-id a").click()
    eventually(lambda: driver.current_url, until=lambda u: u.endswith(f"/runs/{agents.CHILD}"),
               message="the top run's link opens its timeline")
    assert css(driver, "svg.timeline-chart rect.seg")


def test_the_default_range_with_an_unpriced_event_and_the_presets(page, site) -> None:
    driver = page("/fleet")  # the last 30 days: the hostile run is in
    kpis = _kpis(driver)
    assert kpis["runs"] == str(len(site.calls)), kpis
    text = visible_text(driver)
    for raw in hostile.STRINGS:  # in the top runs, the by-model and by-service data
        assert raw in text, f"{raw!r} is not shown as text on the fleet page"
    chromium.screenshot(driver, "fleet-hostile")
    driver.find_element("link text", "Last 7 days").click()
    eventually(lambda: driver.current_url, until=lambda u: "range=7d" in u,
               message="the 7-day preset reloads the page")
    active = driver.find_element("css selector", "#range-picker a.preset.active").text
    assert active == "Last 7 days", active
    assert _kpis(driver)["calls"] == str(sum(site.calls.values()))
