"""A headless Chromium for the tests that look at the web page the way a student does.

Debian's packages (`sh scripts/setup.sh --test`): chromium, chromium-driver and
python3-selenium. Without them a browser test is skipped with the reason, except in CI
(CI=true), where a missing browser fails the test: CI must never pass by testing less.

    from browser import browser, chromium, console_errors

    def test_page(browser):              # the fixture: quit after the test
        browser.get(url)
        assert not console_errors(browser)

`module_browser` is one browser shared by a module's tests, `phone_browser` one at a
phone's size; `chromium(width, height)` is the same browser as a function, for a test
that needs its own lifetime (quit it in a finally). Chromium's own files (a profile,
its TMPDIR) are in a folder removed when it quits.
"""
from __future__ import annotations

import os
import shutil
import tempfile

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
    # Chromium leaves a folder in TMPDIR per session and its crash database in
    # ~/.config: give it a home and a TMPDIR of its own, removed when it quits.
    scratch = tempfile.mkdtemp(prefix="lab-browser-")
    env = {**os.environ, "TMPDIR": scratch, "HOME": scratch,
           "XDG_CONFIG_HOME": f"{scratch}/.config", "XDG_CACHE_HOME": f"{scratch}/.cache"}
    try:
        driver = webdriver.Chrome(options=options, service=Service(driver_path, env=env))
    except Exception as error:  # selenium's own errors; installed but broken is no skip
        shutil.rmtree(scratch, ignore_errors=True)
        first = (str(error).strip().splitlines() or [""])[0]
        pytest.fail(f"chromium did not start: {type(error).__name__}: {first}", pytrace=False)
    quit_browser = driver.quit

    def quit() -> None:
        try:
            quit_browser()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    driver.quit = quit
    return driver


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


@pytest.fixture(scope="module")
def module_browser():
    """One Chromium for all of a module's tests: starting one takes about 1.2 s and
    quitting up to 1 s. Each test opens its own page; get_log() hands each message
    out once, so a test sees only the console of what it opened."""
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
