"""Headless Chromium for the browser tests of the report pages, opened from disk with no
network: Debian's chromium through Debian's chromedriver, named by path, so Selenium never
downloads a driver of its own (``apt-get install -y chromium chromium-driver``; CI installs
both). Where either is absent the tests skip with that reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: A browser test module's `pytestmark`.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs /usr/bin/chromium and /usr/bin/chromedriver "
                              "(apt-get install -y chromium chromium-driver)"),
]


def open_browser(profile: Path) -> Iterator[webdriver.Chrome]:
    """A 1400 x 1000 headless Chromium keeping its console log, its profile in `profile`;
    quit when the generator closes (a fixture's body)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.set_window_size(1400, 1000)
    yield driver
    driver.quit()
