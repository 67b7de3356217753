"""Each lab's web page in a real browser (headless Chromium), as a student opens it from
file://: it loads with no console error, it draws as many arrows as tshark reads frames
in the capture, an arrow clicked or given Enter shows the frame's headers with their
layers and marks the chosen header's bytes, Escape gives the focus back, Tab reaches
the arrows; the system's dark theme is followed, paper stays white; on a phone-sized
window no text runs off the side. One browser for the whole module; a screenshot of each
page is left in the test's folder. Each page opens in Firefox too (tests/firefox.py),
with the same checks of its arrows, their details and the keyboard."""
from __future__ import annotations

import subprocess

import pytest

from browser import chromium, console_errors
from conftest import lab
from firefox import firefox  # noqa: F401 (a fixture)
from lab.catalog import discover

LABS = sorted(discover().labs)


@pytest.fixture(scope="module")
def driver():
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()


def run_page(tmp_path, name: str):
    pcap, page = tmp_path / f"{name}.pcapng", tmp_path / f"{name}.html"
    done = lab("run", name, "--solution", "--pcap", str(pcap), "--html", str(page))
    assert done.returncode == 0, done.stderr
    return pcap, page


@pytest.fixture(scope="module")
def reference_page(tmp_path_factory):
    """Each lab's reference run, made once for both browsers: name -> (capture, page)."""
    made = {}

    def page_of(name: str):
        if name not in made:
            made[name] = run_page(tmp_path_factory.mktemp(name), name)
        return made[name]
    return page_of


def tshark_frames(pcap) -> int:
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.split())


def opened(driver) -> str:
    """The details panel's text, or '' while it is hidden."""
    return driver.execute_script("var p = document.getElementById('details'); return p.hidden ? '' : p.innerText;")


@pytest.mark.root
@pytest.mark.parametrize("name", LABS)
def test_each_labs_page_in_a_browser(driver, reference_page, tmp_path, name):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    pcap, page = reference_page(name)
    driver.get(page.as_uri())
    arrows = driver.find_elements(By.CSS_SELECTOR, "g.frame")
    assert len(arrows) == tshark_frames(pcap) > 0
    unfolded = ("return Array.from(document.querySelectorAll('g.frame'))"
                ".find(function (g) { return !g.closest('details:not([open])'); }) || null;")
    if driver.execute_script(unfolded) is None:  # every frame folded (concurrency counts its steps' frames)
        driver.find_element(By.CSS_SELECTOR, "details summary").click()
    first = driver.execute_script(unfolded)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
    first.click()
    text = opened(driver)
    assert "Ethernet: OSI layer 2, TCP/IP link layer" in text, text[:500]
    assert "OSI layer 3" in text or "OSI layer 2-3" in text
    assert "Switch ports it crossed: s" in text
    marked = "return document.querySelectorAll('#details .hex mark').length"
    assert driver.execute_script(marked) == 14  # the Ethernet header's bytes, chosen first
    second = driver.find_elements(By.CSS_SELECTOR, "#details .layer button")[1]
    first_byte, last_byte = map(int, second.text.split("bytes ")[1].split()[0].split("\u2013"))
    second.click()
    assert driver.execute_script(marked) == last_byte - first_byte + 1 > 0
    driver.save_screenshot(str(tmp_path / f"{name}.png"))
    assert (tmp_path / f"{name}.png").stat().st_size > 0
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert opened(driver) == ""
    assert driver.switch_to.active_element == first  # the focus is back
    # the last arrow in view (a folded section's arrows are reached once it is opened)
    last = driver.execute_script("var shown = Array.from(document.querySelectorAll('g.frame'))"
                                 ".filter(function (g) { return !g.closest('details:not([open])'); });"
                                 "return shown[shown.length - 1];")
    driver.execute_script("arguments[0].focus()", last)
    assert driver.switch_to.active_element == last
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    text = opened(driver)
    number = int(last.get_attribute("data-frame")) + 1
    assert f"Frame {number} at " in text and "Ethernet: OSI layer 2" in text
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert not console_errors(driver)


FIRST_SHOWN = ("Array.from(document.querySelectorAll('g.frame'))"
               ".find(function (g) { return !g.closest('details:not([open])'); })")
LAST_SHOWN = ("Array.from(document.querySelectorAll('g.frame'))"
              ".filter(function (g) { return !g.closest('details:not([open])'); }).pop()")
DETAILS = "document.getElementById('details').hidden ? '' : document.getElementById('details').innerText"


@pytest.mark.root
@pytest.mark.parametrize("name", LABS)
def test_each_labs_page_in_firefox(firefox, reference_page, tmp_path, name):
    """The same page in Firefox (the other engine a student may use): no error, every
    frame an arrow, a click and Enter each show a frame's layers, Escape closes."""
    pcap, page = reference_page(name)
    firefox.open(page.as_uri())
    assert firefox.evaluate("document.querySelectorAll('g.frame').length") == tshark_frames(pcap) > 0
    if firefox.evaluate(f"({FIRST_SHOWN}) === undefined"):  # every frame folded: open a section
        firefox.click("document.querySelector('details summary')")
    firefox.click(FIRST_SHOWN)
    text = firefox.evaluate(DETAILS)
    assert "Ethernet: OSI layer 2, TCP/IP link layer" in text and "Switch ports it crossed: s" in text, text[:500]
    assert firefox.evaluate("document.querySelectorAll('#details .hex mark').length") == 14
    firefox.press("Escape")
    assert firefox.evaluate(DETAILS) == ""
    assert firefox.evaluate(f"document.activeElement === {FIRST_SHOWN}")  # the focus is back
    firefox.evaluate(f"({LAST_SHOWN}).focus()")
    firefox.press("Enter")
    number = int(firefox.evaluate(f"({LAST_SHOWN}).getAttribute('data-frame')")) + 1
    assert f"Frame {number} at " in firefox.evaluate(DETAILS)
    firefox.press("Escape")
    firefox.screenshot(tmp_path / f"{name}.firefox.png")
    assert (tmp_path / f"{name}.firefox.png").stat().st_size > 0
    assert firefox.errors == []


@pytest.mark.root
def test_keyboard_themes_paper_and_a_phone_sized_window(driver, reference_page, tmp_path):
    from selenium.webdriver.common.keys import Keys
    _, page = reference_page("browser-server")  # five columns, the widest ladder
    driver.get(page.as_uri())
    for _ in range(6):  # the skip link, the capture's link, then the first arrow
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element.get_attribute("data-frame") is not None:
            break
    assert driver.switch_to.active_element.get_attribute("data-frame") == "0"
    driver.switch_to.active_element.send_keys(Keys.SPACE)
    assert "OSI layer 4, TCP/IP transport layer" in opened(driver)
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    # a folded section (frames the terminal only counts) opens with Enter on its summary
    driver.execute_script("document.querySelector('details > summary').focus()")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    inside = driver.execute_script("return document.querySelector('details[open] g.frame')")
    driver.execute_script("arguments[0].focus()", inside)
    assert driver.switch_to.active_element == inside
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert f"Frame {int(inside.get_attribute('data-frame')) + 1} at " in opened(driver)
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    background = "return getComputedStyle(document.body).backgroundColor"
    dark = {"name": "prefers-color-scheme", "value": "dark"}
    try:
        driver.execute_script("document.querySelectorAll('details').forEach(function (d) { d.open = false; })")
        folded = "return document.querySelector('details g.frame').checkVisibility()"
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "screen", "features": [dark]})
        assert driver.execute_script(background) not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
        assert driver.execute_script(folded) is False
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print", "features": [dark]})
        assert driver.execute_script(background) == "rgb(255, 255, 255)"  # paper stays white
        assert driver.execute_script(folded) is True  # and folded frames are printed
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": []})
    try:
        driver.set_window_size(390, 844)
        driver.get(page.as_uri())
        inner, scrolled = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        assert scrolled <= inner, (scrolled, inner)  # the ladders scroll inside their boxes
        box = driver.execute_script("return document.querySelector('.ladder').getBoundingClientRect().right")
        assert box <= inner
        driver.save_screenshot(str(tmp_path / "phone.png"))
    finally:
        driver.set_window_size(1280, 900)
    assert not console_errors(driver)
