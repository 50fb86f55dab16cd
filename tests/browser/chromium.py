"""Debian's chromium, driven through Debian's chromedriver (Selenium), for the browser
tests and for screenshots of the UI.

Why Selenium with Debian's chromedriver rather than Playwright: the browser is the
distribution's ``chromium`` (no browser download: scripts/test.sh installs it with
apt-get), and Debian builds ``chromium-driver`` from the same source package, so the
driver matches the browser exactly, whatever version a security update brings (the
packaged chromium moved from 150 to 156 between two ``apt-get update`` s on this
machine). Playwright speaks the DevTools protocol of the Chromium build it pins and
supports other builds only as a best effort; WebDriver is a W3C standard that the
matching chromedriver implements for this very browser. The Python package is also
35 MB against Playwright's 165 MB (which carries a Node.js runtime). Both were tried
here: each starts the browser in about 0.5-0.8 s.

Use: ``with browser() as driver: driver.get(url); screenshot(driver, "runs")``, or from a
shell ``python -m tests.browser.chromium URL NAME`` (writes
tests/artifacts/screenshots/NAME.png, or NAME when it ends in .png: a path of your own).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "tests" / "artifacts" / "screenshots"  # git-ignored

CHROMIUM = Path(os.environ.get("TOKENTRAIL_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("TOKENTRAIL_CHROMEDRIVER", "/usr/bin/chromedriver"))

# A browser that talks to nothing but the pages it is sent to: no sandbox (tests run as
# root in CI), no GPU, no QUIC, no first-run, sync, component-update or background
# requests; a fresh profile per browser (the user data dir, made in browser()).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-color-profile=srgb")

INSTALL_HINT = ("scripts/test.sh installs Debian's chromium and chromium-driver with apt-get "
                "(as root); or: apt-get install chromium chromium-driver")


def missing() -> str | None:
    """Why no browser can be started here, or None when chromium and its driver exist."""
    gone = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if gone:
        return f"no {' and no '.join(gone)}: {INSTALL_HINT}"
    return None


def in_ci() -> bool:
    """CI sets ``CI`` (to ``true``); there a missing browser is a failure, not a skip."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(what: str = "the browser tests") -> None:
    """Skip the calling test when chromium is missing, or fail it in CI, where
    scripts/test.sh must have installed it."""
    import pytest  # only tests call this; the screenshot command does not need pytest

    reason = missing()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{what} need chromium in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def browser(width: int = 1360, height: int = 900) -> Iterator[WebDriver]:
    """A headless chromium with a fresh profile, quit (and its profile removed) on exit."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    profile = tempfile.mkdtemp(prefix="tokentrail-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager (which would look for, and could try
    # to download, a driver) is never run.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: WebDriver, name: str, *, full_page: bool = True) -> Path:
    """Save what the browser shows as PNG: ``name`` under tests/artifacts/screenshots/
    (``.png`` added), or at ``name`` itself when it is a path ending in ``.png``.
    ``full_page`` takes the whole document, not only the window."""
    path = Path(name) if name.endswith(".png") else SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if full_page:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                      {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
    else:
        driver.save_screenshot(str(path))
    return path


def open_and_screenshot(url: str, name: str, *, width: int = 1360, height: int = 900,
                        full_page: bool = True) -> Path:
    """Open ``url`` in a new browser and save its screenshot (see :func:`screenshot`)."""
    with browser(width, height) as driver:
        driver.get(url)
        return screenshot(driver, name, full_page=full_page)


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot a page with Debian's chromium.")
    parser.add_argument("url")
    parser.add_argument("name", help="name under tests/artifacts/screenshots/, or a .png path")
    parser.add_argument("--width", type=int, default=1360)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--viewport-only", action="store_true",
                        help="only the window, not the whole page")
    args = parser.parse_args()
    print(open_and_screenshot(args.url, args.name, width=args.width, height=args.height,
                              full_page=not args.viewport_only))


if __name__ == "__main__":
    main()
