"""The call page (/calls/{call_id}), reached as a person would: from the turns table of
the run timeline. Turn 5 of the 8-turn agent changed its system prompt (a timestamp):
the prefix diff marks the system prompt changed and first, the rest of the prefix the
same, and says the text looks like a timestamp."""

from __future__ import annotations

import pytest

from tests.browser import agents, chromium
from tests.browser.looking import css, eventually, visible_text

pytestmark = pytest.mark.integration


def _open_turn(page, turn: int):
    driver = page(f"/runs/{agents.TIMESTAMP}")

    def click() -> str:
        driver.find_element("css selector", f"table#turns tr#turn-{turn} a").click()
        return driver.current_url

    eventually(click, until=lambda url: "/calls/" in url,
               message=f"the link of turn {turn} in the turns table opens its call")
    return driver


def _parts(driver) -> dict[str, str]:
    return {f"{row.get_attribute('data-part')} {row.get_attribute('data-index') or ''}".strip():
            row.get_attribute("data-state") for row in css(driver, "#prefix-diff tr.part")}


def test_the_prefix_diff_shows_the_changed_system_prompt(page) -> None:
    driver = _open_turn(page, 5)
    assert visible_text(driver, "h1").startswith("Turn 5")
    diff = driver.find_element("css selector", "#prefix-diff")
    assert diff.is_displayed()
    parts = _parts(driver)
    assert parts["system"] == "changed", parts
    assert parts["tools"] == "same" and parts["model"] == "same", parts
    messages = {k: v for k, v in parts.items() if k.startswith("message ")}
    assert messages and all(state in ("same", "new") for state in messages.values()), parts
    assert parts["block 0"] == "changed", parts  # the system prompt's text block
    assert all(state in ("same", "new") for k, state in parts.items()
               if k.startswith("block ") and k != "block 0"), parts
    first = css(driver, "#prefix-diff tr.part.first-difference")
    assert [(row.get_attribute("data-part"), row.get_attribute("data-index"))
            for row in first] == [("system", None), ("block", "0")]
    summary = visible_text(driver, "#prefix-diff .first-difference-summary")
    assert "First difference: system" in summary and "timestamp" in summary, summary
    assert css(driver, "#prefix-diff table.breakpoints tbody tr"), "no cache breakpoint shown"
    event = visible_text(driver, "section.event")
    assert "system_changed" in event and "system prompt changed" in event, event
    chromium.screenshot(driver, "call-prefix-diff")


def test_a_clean_turn_shows_no_change(page) -> None:
    driver = _open_turn(page, 3)
    parts = _parts(driver)
    assert parts["system"] == "same" and "changed" not in parts.values(), parts
    assert not css(driver, "section.event")
    assert "no change" in visible_text(driver, "#prefix-diff .first-difference-summary")
