"""The runs page (/) as a person uses it: every run is a row linking to its timeline,
the filters narrow the rows, sorting by cost puts the costliest first."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.select import Select

from tests.browser import agents, chromium, hostile
from tests.browser.looking import css, eventually, visible_text

pytestmark = pytest.mark.integration


def _rows(driver) -> list[str]:
    return [row.get_attribute("data-run-id") for row in css(driver, "table#runs tbody tr")]


def _apply(driver, **choices: str) -> list[str]:
    """Choose in the filter form (by the visible option text) and press Apply."""
    form = driver.find_element("css selector", "form#run-filters")
    for name, text in choices.items():
        Select(form.find_element("css selector", f"select[name='{name}']")) \
            .select_by_visible_text(text)
    driver.execute_script("window.tokentrailOldPage = true")
    form.find_element("css selector", "button[type='submit']").click()
    eventually(lambda: _new_page_loaded(driver),
               message="the form's submit loads the filtered page")
    return _rows(driver)


def _new_page_loaded(driver) -> bool:
    """The page marked before the submit was left and its successor finished loading.

    A mark on ``window`` rather than a stale element: asking a node of a left page
    whether it is stale can fail in chromedriver with "Node with given id does not
    belong to the document" (seen in CI) instead of a StaleElementReferenceException.
    """
    try:
        return driver.execute_script(
            "return !window.tokentrailOldPage && document.readyState === 'complete'")
    except WebDriverException:  # asked mid-navigation: the context went away
        return False


def test_every_run_is_listed_and_links_to_its_timeline(page, site) -> None:
    driver = page("/")
    assert set(_rows(driver)) == set(site.calls)
    for row in css(driver, "table#runs tbody tr"):
        link = row.find_element("css selector", "td.run-id a")
        assert link.get_attribute("href") is not None
    sub = driver.find_element("css selector", f"tr[data-run-id='{agents.CHILD}']")
    assert "sub-run" in sub.text
    chromium.screenshot(driver, "runs")
    driver.find_element("css selector",
                        f"tr[data-run-id='{agents.TIMESTAMP}'] td.run-id a").click()
    eventually(lambda: driver.current_url, until=lambda u: u.endswith(f"/runs/{agents.TIMESTAMP}"),
               message="the run's link opens its timeline")
    assert visible_text(driver, "h1") == agents.RUNS[agents.TIMESTAMP][0]
    assert css(driver, "svg.timeline-chart")


def test_the_hostile_run_links_to_its_own_page(page) -> None:
    """Its id holds a quote, semicolons and spaces: the link still reaches the run."""
    driver = page("/")
    for row in css(driver, "table#runs tbody tr"):
        if row.get_attribute("data-run-id") == hostile.RUN_ID:
            row.find_element("css selector", "td.run-id a").click()
            break
    else:
        raise AssertionError(f"no row for {hostile.RUN_ID!r}")
    eventually(lambda: visible_text(driver, "h1"), until=lambda h: h == hostile.RUN_NAME,
               message="the hostile run's page shows its name")


def test_filters_narrow_the_rows(page, site) -> None:
    """The filters as links and bookmarks carry them (the form's own submit: below)."""
    def rows(query: str) -> set[str]:
        driver = page(f"/?{query}")
        return set(_rows(driver))

    with_events = {agents.TIMESTAMP, agents.UNCACHED, hostile.RUN_ID}
    assert rows(f"service={agents.SERVICE}") == set(agents.RUNS)
    assert rows("model=claude-opus-4-1") == {agents.CHILD}
    assert rows("has_events=true") == with_events
    chromium.screenshot(page("/?has_events=true"), "runs-with-events")
    assert rows("has_events=false") == set(site.calls) - with_events
    assert rows(f"service={quote(hostile.SERVICE)}") == {hostile.RUN_ID}
    options = [o.get_attribute("value") for o in
               css(page("/"), "form#run-filters select[name='service'] option")]
    assert hostile.SERVICE in options and agents.SERVICE in options, options


def test_the_filter_form_applies(page, site) -> None:
    driver = page("/")
    assert set(_apply(driver, service=agents.SERVICE)) == set(agents.RUNS)
    assert "service=browser-agent" in driver.current_url
    assert set(_apply(driver, model="claude-opus-4-1")) == {agents.CHILD}
    driver = page("/")
    assert _apply(driver, has_events="with events") == [
        r for r in _rows(page("/?has_events=true"))]
    driver = page("/")
    assert _apply(driver, service=hostile.SERVICE) == [hostile.RUN_ID]


def test_sorting_by_cost_puts_the_costliest_first(page, site) -> None:
    driver = page("/")
    driver.find_element("link text", "costliest first").click()
    eventually(lambda: driver.current_url, until=lambda u: "sort=cost" in u,
               message="the sort link reloads the page sorted by cost")
    costs = [cell.text for cell in css(driver, "table#runs tbody td.cost")]
    priced = [float(c.lstrip("$")) for c in costs if c.startswith("$")]
    assert priced == sorted(priced, reverse=True), costs
    assert _rows(driver)[0] == agents.CHILD, (_rows(driver), costs)  # Opus: the costliest
    assert set(_rows(driver)) == set(site.calls)


# Every cell's box against the table's visible box and the window; a cell whose text
# is longer than the cell must end in an ellipsis and say its full text in a title.
_CLIPPED_CELLS = """
const table = document.querySelector('table#runs');
const wrap = table.parentElement;
const view = document.documentElement.clientWidth;
const box = wrap.getBoundingClientRect();
const right = Math.min(box.right, view) + 0.5, left = Math.max(box.left, 0) - 0.5;
const found = [];
if (wrap.scrollWidth > wrap.clientWidth + 1) {
  found.push(`the table is ${wrap.scrollWidth}px wide in a ${wrap.clientWidth}px box`);
}
for (const cell of table.querySelectorAll('th, td')) {
  const r = cell.getBoundingClientRect();
  const name = `${cell.tagName} "${cell.textContent.trim().slice(0, 40)}"`;
  if (r.left < left || r.right > right) {
    found.push(`${name} spans ${Math.round(r.left)}..${Math.round(r.right)}px, ` +
               `outside ${Math.round(left)}..${Math.round(right)}px`);
  }
  if (cell.scrollWidth > cell.clientWidth + 1) {
    const titled = cell.title || [...cell.querySelectorAll('[title]')].some(e => e.title);
    if (getComputedStyle(cell).textOverflow !== 'ellipsis' || !titled) {
      found.push(`${name} is cut (${cell.scrollWidth}px of text in ${cell.clientWidth}px) ` +
                 'without an ellipsis and a title that says it all');
    }
  }
}
return {view: view, found: found};
"""


def test_no_cell_of_the_runs_table_is_clipped_at_1366x768(page, driver) -> None:
    """A common laptop window: every column (the Started column last) is on screen,
    without scrolling the table sideways; long names end in an ellipsis with a title."""
    size = driver.get_window_size()
    driver.set_window_size(1366, 768)
    try:
        page("/")
        seen = eventually(lambda: driver.execute_script(_CLIPPED_CELLS),
                          until=lambda s: s["view"] > 1300,
                          message="the window is about 1366 px wide")
        chromium.screenshot(driver, "runs-1366", full_page=False)
        assert seen["found"] == [], "\n".join(seen["found"])
        assert css(driver, "table#runs th")[-1].text.startswith("Started")
    finally:
        driver.set_window_size(size["width"], size["height"])
