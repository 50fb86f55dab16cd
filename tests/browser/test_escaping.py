"""The hostile run (tests/browser/hostile.py) on every page: its strings are text."""

from __future__ import annotations

import pytest

from tests.browser import chromium, hostile

pytestmark = pytest.mark.integration


def test_runs_page_shows_hostile_strings_as_text(page, site) -> None:
    driver = page("/")
    text = driver.find_element("tag name", "body").text
    for raw in hostile.STRINGS:
        assert raw in text, f"{raw!r} is not shown as text on the runs page"
    chromium.screenshot(driver, "runs-hostile")
    print(site.seconds)
