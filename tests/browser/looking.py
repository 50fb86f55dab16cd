"""What a person does with a page, in WebDriver terms: look (is it drawn, how big, where),
point, tab, click; each retried until it holds or failing with what was seen.

A run that ended less than two minutes ago is live: its page replaces its body every
few seconds (web/static/timeline.js), so an element found a moment ago can be gone.
Every look here finds its elements again on each try (:func:`eventually`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from selenium.common.exceptions import (
    ElementNotInteractableException,
    MoveTargetOutOfBoundsException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.waiting import wait_until

T = TypeVar("T")

# What a body replaced under our feet looks like to WebDriver.
REPLACED = (StaleElementReferenceException, NoSuchElementException,
            ElementNotInteractableException, MoveTargetOutOfBoundsException)


def eventually(look: Callable[[], T], *, until: Callable[[T], Any] = bool,
               message: str, timeout: float = 15) -> T:
    """``look()`` until ``until`` holds; an element replaced mid-look counts as not yet."""
    return wait_until(look, until=until, timeout=timeout, interval=0.1, message=message,
                      ignore=REPLACED)


def css(driver: WebDriver | WebElement, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def box(driver: WebDriver, element: WebElement) -> dict[str, float]:
    """Where the element is drawn, in CSS pixels of the page (getBoundingClientRect)."""
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,"
        "        width: r.width, height: r.height};", element)


def visible_text(driver: WebDriver, selector: str = "body") -> str:
    """The rendered text (what a person can read: hidden elements left out)."""
    return driver.find_element(By.CSS_SELECTOR, selector).text


def hover(driver: WebDriver, element: WebElement) -> None:
    ActionChains(driver).move_to_element(element).perform()


def move_away(driver: WebDriver) -> None:
    """Point at the page's heading, away from any chart."""
    ActionChains(driver).move_to_element(driver.find_element(By.TAG_NAME, "h1")).perform()


def tab_to(driver: WebDriver, selector: str, *, limit: int = 200) -> WebElement:
    """Press Tab until the focus is on an element matching ``selector`` (keyboard users
    reach it this way); fails if it never does. Call it on a freshly opened page, where
    the focus starts at the top."""
    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        if driver.execute_script("return arguments[0].matches(arguments[1])", active, selector):
            return active
    raise AssertionError(f"{limit} presses of Tab never reached {selector!r}")
