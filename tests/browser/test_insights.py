"""The insights page (/insights) as a person sees it: the agent that re-sent its prompt
with no cache breakpoint is a finding with its saving; the kind filter narrows the list
to it; it links to the run and to the what-if behind its number.

One test, few page loads: the insights page judges the range on read and is the
slowest page here (seconds on a busy machine)."""

from __future__ import annotations

import json

import pytest

from tests.browser import agents, chromium
from tests.browser.looking import css, eventually, visible_text
from tokentrail.web.formatting import usd

pytestmark = pytest.mark.integration

KIND = "uncached_prefix"


def _finding(driver):
    """The uncached_prefix finding of the uncached agent on the page shown (reloading
    while serve has not judged the agent's calls yet)."""
    tries = iter(range(1_000))

    def look():
        if next(tries):
            driver.refresh()
        for article in css(driver, f"article.insight[data-kind='{KIND}']"):
            links = [a.text for a in article.find_elements("css selector", "a.run-link")]
            if agents.UNCACHED in links:
                return article
        return None

    return eventually(look, timeout=60, message=f"an {KIND} finding names {agents.UNCACHED}")


def test_a_finding_its_kind_filter_run_and_what_if(page) -> None:
    driver = page("/insights")
    _finding(driver)
    driver.find_element("css selector", "nav.kind-filter").find_element("link text", KIND).click()
    eventually(lambda: driver.current_url, until=lambda u: f"kind={KIND}" in u,
               message="the kind link filters the page")
    article = _finding(driver)
    assert {a.get_attribute("data-kind") for a in css(driver, "article.insight")} == {KIND}
    saving = article.find_element("css selector", ".savings").text
    assert saving.startswith("save $") and saving != "save $0", saving
    assert "no cache_control breakpoint" in article.find_element("css selector", ".detail").text
    whatif = [a.get_attribute("href") for a in
              article.find_elements("css selector", "a.whatif-link")]
    basis = article.find_element("css selector", ".whatif").text
    assert whatif or "How the number was computed" in basis, basis
    chromium.screenshot(driver, "insights")

    article.find_element("css selector", f"a.run-link[href='/runs/{agents.UNCACHED}']").click()
    eventually(lambda: driver.current_url, until=lambda u: u.endswith(f"/runs/{agents.UNCACHED}"),
               message="the finding's run link opens the run")
    assert visible_text(driver, "h1") == agents.RUNS[agents.UNCACHED][0]
    if whatif:
        driver.get(whatif[0])
        answer = json.loads(driver.find_element("tag name", "body").text)
        assert answer.get("savings_usd", 0) > 0, answer
        # The what-if behind the number is the number (web/routers/insights.py).
        assert saving == f"save {usd(answer['savings_usd'])}", (saving, answer)
