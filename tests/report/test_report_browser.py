"""The report as a person sees it: opened from disk in headless Chromium, with no network
(`headless_chromium`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from headless_chromium import BROWSER_TESTS, open_browser
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from harness.report import write_report
from tests.fake_runs import XSS, case_id

FIGURE_SECTIONS = ["summary", "comparison", "throughput", "latency", "speedup", "memory",
                   "accuracy", "cold-start", "tradeoff", "failures"]
ALL_RENDERED = """
const divs = [...document.querySelectorAll('.plotly-graph-div')];
return divs.length > 0 && divs.every(div => div.querySelector('svg.main-svg'));
"""

#: Pixel position, within the figure div, of the centre of a summary heatmap cell.
CELL_POSITION = """
const [row, column] = arguments;
const gd = document.getElementById('fig-summary');
const layout = gd._fullLayout;
const trace = gd.data.find(t => t.visible === true && t.y.includes(row));
return [layout._size.l + layout.xaxis.l2p(trace.x.indexOf(column)),
        layout._size.t + layout.yaxis.l2p(trace.y.indexOf(row))];
"""

pytestmark = BROWSER_TESTS


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    yield from open_browser(tmp_path / "chromium-profile")


def test_report_renders_every_figure_without_errors(fake_run, tmp_path, browser):
    base = fake_run("run-a", seed=1)  # holds an error whose reason is an XSS payload
    new = fake_run("run-b", seed=2, slowdown={case_id("cnn", "small", "cpu-eager", "infer"): 1.5})
    page = write_report([base, new], tmp_path / "report")

    browser.get(page.as_uri())
    WebDriverWait(browser, 60).until(lambda driver: driver.execute_script(ALL_RENDERED))

    # an injected <script> or <img onerror> would have raised an alert; there is none, and the
    # page holds no element that the report did not write
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    scripts = browser.execute_script("return document.querySelectorAll('script').length")
    assert scripts == 1 + len(FIGURE_SECTIONS)  # plotly.js, then one per figure

    for section in FIGURE_SECTIONS:
        figure = browser.find_element(By.CSS_SELECTOR, f"section#{section} #fig-{section}")
        assert figure.find_elements(By.CSS_SELECTOR, "svg.main-svg"), section
        assert figure.size["height"] > 200, section

    # the phase/scenario/batch dropdown switches the summary to training
    summary = browser.find_element(By.ID, "fig-summary")
    ActionChains(browser).move_to_element(
        summary.find_element(By.CSS_SELECTOR, ".updatemenu-header")).click().perform()
    options = summary.find_elements(By.CSS_SELECTOR, ".updatemenu-dropdown-button")
    assert [option.text for option in options] == ["infer, latency, batch size 16",
                                                   "train, latency, batch size 16"]
    ActionChains(browser).move_to_element(options[1]).click().perform()
    WebDriverWait(browser, 10).until(lambda driver: driver.execute_script(
        "return document.getElementById('fig-summary').data.filter(t => t.visible === true)"
        ".every(t => t.name === 'train, latency, batch size 16' || t.name === 'did not finish')"))

    # hovering the failed cell shows the markup-laden reason as text, not as elements
    x, y = browser.execute_script(CELL_POSITION, "run-a · transformer · small", "cpu-compile")
    ActionChains(browser).move_to_element_with_offset(
        summary, x - summary.size["width"] // 2, y - summary.size["height"] // 2).perform()
    WebDriverWait(browser, 10).until(lambda driver: summary.find_elements(
        By.CSS_SELECTOR, ".hoverlayer .hovertext"))
    hover = summary.find_element(By.CSS_SELECTOR, ".hoverlayer")
    lines = [line.get_attribute("textContent")
             for line in hover.find_elements(By.CSS_SELECTOR, "tspan.line")]
    assert f"compile failed {XSS}" in " ".join(lines)
    assert not hover.find_elements(By.CSS_SELECTOR, "script, img")
    time.sleep(0.2)  # let the redraw settle before the screenshot

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []

    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, height)
    assert browser.save_screenshot(str(tmp_path / "report.png"))
