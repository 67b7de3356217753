"""A headless Chromium for the tests that look at the web page the way a student does.

Debian's packages (`sh scripts/setup.sh --test`): chromium, chromium-driver and
python3-selenium. Without them a browser test is skipped with the reason, except in CI
(CI=true), where a missing browser fails the test: CI must never pass by testing less.

    from browser import browser, chromium, console_errors

    def test_page(browser):              # the fixture: quit after the test
        browser.get(url)
        assert not console_errors(browser)

`chromium(width, height)` is the same browser as a function, for a test that needs two
sizes or its own lifetime (quit it in a finally).
"""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "sh scripts/setup.sh --test"


def missing(what: str) -> None:
    """Skip the test for want of a browser, or fail it in CI."""
    message = f"{what}: install the test browser with `{INSTALL}`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so no skipping: {message}", pytrace=False)
    pytest.skip(message)


def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium under selenium, its console logged (driver.get_log("browser"))."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium is missing")
    binary = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    driver_path = CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else shutil.which("chromedriver")
    if not binary:
        missing("chromium is missing")
    if not driver_path:
        missing("chromedriver is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--disable-gpu", f"--window-size={width},{height}",
                     # Chromium refuses its sandbox to root, and tests run as root.
                     *(["--no-sandbox"] if os.geteuid() == 0 else []),
                     # /dev/shm is small in containers and VMs; a full one crashes tabs.
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(options=options, service=Service(driver_path))
    except Exception as error:  # selenium's own errors; installed but broken is no skip
        first = (str(error).strip().splitlines() or [""])[0]
        pytest.fail(f"chromium did not start: {type(error).__name__}: {first}", pytrace=False)


def console_errors(driver) -> list[str]:
    """The page's console messages at SEVERE level (errors, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture
def browser():
    """A headless Chromium for one test, always quit afterwards."""
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def phone_browser():
    """The same at a phone's window size (412 x 915, a common Android phone)."""
    driver = chromium(412, 915)
    try:
        yield driver
    finally:
        driver.quit()
