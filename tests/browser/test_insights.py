"""The insights page (/insights) as a person sees it: the agent that re-sent its prompt
with no cache breakpoint is a finding with its saving, a link to the run and the
what-if behind the number; the kind filter narrows the list."""

from __future__ import annotations

import json

import pytest

from tests.browser import agents, chromium
from tests.browser.looking import css, eventually, visible_text

pytestmark = pytest.mark.integration

KIND = "uncached_prefix"


def _finding(driver):
    """The uncached_prefix finding of the uncached agent (reloading until serve has it)."""
    def look():
        driver.refresh()
        for article in css(driver, f"article.insight[data-kind='{KIND}']"):
            links = [a.text for a in article.find_elements("css selector", "a.run-link")]
            if agents.UNCACHED in links:
                return article
        return None

    return eventually(look, timeout=30, message=f"an {KIND} finding names {agents.UNCACHED}")


def test_a_finding_links_to_its_run_and_its_what_if(page) -> None:
    driver = page("/insights")
    article = _finding(driver)
    saving = article.find_element("css selector", ".savings").text
    assert saving.startswith("save $") and saving != "save $0", saving
    assert "no cache_control breakpoint" in article.find_element("css selector", ".detail").text
    chromium.screenshot(driver, "insights")
    whatif = article.find_elements("css selector", "a.whatif-link")
    basis = article.find_element("css selector", ".whatif").text
    assert whatif or "How the number was computed" in basis, basis
    if whatif:
        href = whatif[0].get_attribute("href")
        driver.get(href)
        answer = json.loads(driver.find_element("tag name", "body").text)
        assert answer.get("savings_usd", 0) > 0, answer
        driver.back()
        article = _finding(driver)
    article.find_element("css selector", f"a.run-link[href='/runs/{agents.UNCACHED}']").click()
    eventually(lambda: driver.current_url, until=lambda u: u.endswith(f"/runs/{agents.UNCACHED}"),
               message="the finding's run link opens the run")
    assert visible_text(driver, "h1") == agents.RUNS[agents.UNCACHED][0]


def test_the_kind_filter(page) -> None:
    driver = page("/insights")
    _finding(driver)
    driver.find_element("css selector", "nav.kind-filter").find_element("link text", KIND).click()
    eventually(lambda: driver.current_url, until=lambda u: f"kind={KIND}" in u,
               message="the kind link filters the page")
    kinds = {a.get_attribute("data-kind") for a in css(driver, "article.insight")}
    assert kinds == {KIND}, kinds
