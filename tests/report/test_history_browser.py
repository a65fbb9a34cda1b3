"""The history page as a person sees it: opened from disk in headless Chromium, with no
network (`headless_chromium`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from headless_chromium import BROWSER_TESTS, open_browser
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_history_page import MACHINE_A, MACHINE_B, SLOW_CASE, XSS_COMMIT, history_input, sha

from harness.report.history_page import write_history_report
from tests.fake_runs import XSS

#: Pixel position, within its figure div, of point `index` of a timeline's centre line.
POINT_POSITION = """
const [id, index] = arguments;
const gd = document.getElementById(id);
const layout = gd._fullLayout;
const line = gd.data[gd.data.length - 1];
return [layout._size.l + layout.xaxis.l2p(line.x[index]),
        layout._size.t + layout.yaxis.l2p(line.y[index])];
"""
#: How many timeline figures are drawn (each is drawn when it first comes near the viewport).
DRAWN = "return document.querySelectorAll('.timeline svg.main-svg').length > 0 && " \
        "[...document.querySelectorAll('.timeline .plotly-graph-div')]" \
        ".filter(div => div.querySelector('svg.main-svg')).length"
#: What each timeline block shows: [machine, backend, suite, displayed].
BLOCKS = """
return [...document.querySelectorAll('.timeline')].map(block => [
  block.dataset.machine, block.dataset.backend, block.dataset.suite,
  block.offsetParent !== null]);
"""

pytestmark = BROWSER_TESTS


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    yield from open_browser(tmp_path / "chromium-profile")


def shown(browser: webdriver.Chrome) -> list[tuple[str, str, str]]:
    return [tuple(block[:3]) for block in browser.execute_script(BLOCKS) if block[3]]


def draw_every_figure(browser: webdriver.Chrome) -> list:
    """Scroll to each timeline in turn and wait until it is drawn; its figure divs."""
    figures = browser.find_elements(By.CSS_SELECTOR, ".timeline .plotly-graph-div")
    for figure in figures:
        browser.execute_script("arguments[0].scrollIntoView()", figure)
        WebDriverWait(browser, 30).until(
            lambda driver, figure=figure: figure.find_elements(By.CSS_SELECTOR, "svg.main-svg"))
    return figures


def choose(browser: webdriver.Chrome, filter_name: str, value: str) -> None:
    Select(browser.find_element(By.ID, f"filter-{filter_name}")).select_by_value(value)


def test_history_page_renders_filters_and_hovers(tmp_path, browser):
    page = write_history_report(*history_input(), tmp_path / "history")
    browser.get(page.as_uri())
    WebDriverWait(browser, 60).until(lambda driver: driver.execute_script(DRAWN))

    # every timeline draws, nothing was fetched, and no run text became an element
    figures = draw_every_figure(browser)
    assert len(figures) == 5
    for figure in figures:
        assert figure.find_elements(By.CSS_SELECTOR, "svg.main-svg")
        assert figure.size["height"] >= 300 and figure.size["width"] > 1000
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('script').length") == 7
    every = shown(browser)
    assert len(every) == 5
    assert browser.find_element(By.ID, "filter-count").text == "showing 5 of 5 timelines"

    # machine filter: only B's two timelines, and A's whole block goes
    choose(browser, "machine", MACHINE_B)
    assert {block[0] for block in shown(browser)} == {MACHINE_B} and len(shown(browser)) == 2
    machine_a = browser.find_element(By.CSS_SELECTOR, f'.machine[data-machine="{MACHINE_A}"]')
    assert not machine_a.is_displayed()
    assert browser.find_element(By.ID, "filter-count").text == "showing 2 of 5 timelines"
    # backend filter on top: B never ran ort-cpu, so nothing is left
    choose(browser, "backend", "ort-cpu")
    assert shown(browser) == []
    assert browser.find_element(By.ID, "filter-count").text == "showing 0 of 5 timelines"
    choose(browser, "machine", "")
    assert shown(browser) == [(MACHINE_A, "ort-cpu", "cnn")]
    choose(browser, "backend", "")
    choose(browser, "suite", "transformer")
    assert sorted(shown(browser)) == [(MACHINE_A, "cpu-eager", "transformer"),
                                      (MACHINE_B, "cpu-eager", "transformer")]
    choose(browser, "suite", "")
    assert shown(browser) == every
    for figure in figures:  # shown again at full width
        assert figure.size["width"] > 1000

    # hovering the commit whose subject is markup shows hash and subject as text
    block = next(block for block in browser.find_elements(By.CSS_SELECTOR, ".timeline")
                 if block.get_attribute("data-machine") == MACHINE_A
                 and block.find_element(By.CSS_SELECTOR, ".case-name").text == SLOW_CASE)
    figure = block.find_element(By.CSS_SELECTOR, ".plotly-graph-div")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", figure)
    x, y = browser.execute_script(POINT_POSITION, figure.get_attribute("id"), XSS_COMMIT)
    ActionChains(browser).move_to_element_with_offset(
        figure, int(x - figure.size["width"] / 2), int(y - figure.size["height"] / 2)).perform()
    WebDriverWait(browser, 10).until(lambda driver: figure.find_elements(
        By.CSS_SELECTOR, ".hoverlayer .hovertext"))
    hover = figure.find_element(By.CSS_SELECTOR, ".hoverlayer")
    text = " ".join(line.get_attribute("textContent")
                    for line in hover.find_elements(By.CSS_SELECTOR, "tspan.line"))
    assert sha(XSS_COMMIT)[:10] in text and XSS in text
    assert "branch main" in text and "2 runs, 6 processes" in text
    assert not hover.find_elements(By.CSS_SELECTOR, "script, img")

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, height)
    assert browser.save_screenshot(str(tmp_path / "history.png"))


def test_timelines_are_drawn_as_they_come_into_view(tmp_path, browser):
    points, steps, machines = history_input()
    many = pd.concat([points.assign(case=points["case"] + f" #{copy}") for copy in range(10)])
    page = write_history_report(many, steps, machines, tmp_path / "history")
    browser.get(page.as_uri())
    WebDriverWait(browser, 60).until(lambda driver: driver.execute_script(DRAWN))
    first = browser.execute_script(DRAWN)
    assert 0 < first < 10  # the ones near the top, not all 50
    # B's timelines are at the end, not drawn yet; filtered to, the first of them draws
    choose(browser, "machine", MACHINE_B)
    figure = browser.find_element(
        By.CSS_SELECTOR, f'.timeline[data-machine="{MACHINE_B}"] .plotly-graph-div')
    WebDriverWait(browser, 30).until(
        lambda driver: figure.find_elements(By.CSS_SELECTOR, "svg.main-svg"))
    assert figure.size["width"] > 1000
    choose(browser, "machine", "")
    assert len(draw_every_figure(browser)) == 50
    assert browser.execute_script(DRAWN) == 50
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
