"""A headless Firefox for the tests that open the web page in a second engine.

Debian packages Firefox (`firefox-esr`) but not geckodriver, so selenium cannot drive
it. Firefox speaks WebDriver BiDi itself, on a websocket (`--remote-debugging-port`):
this is a small client of it, on `python3-websocket`. Both come with
`sh scripts/setup.sh --test`; without them a test is skipped, or fails with CI=true
(browser.missing).

    from firefox import firefox          # a module-scoped fixture

    def test_page(firefox):
        firefox.open(url)                # waits for the load; forgets earlier errors
        assert firefox.evaluate("document.title") == "..."
        assert not firefox.errors        # console errors and uncaught exceptions
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from browser import missing

KEYS = {"Enter": "\ue007", "Escape": "\ue00c", "Tab": "\ue004", " ": " "}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Firefox:
    """One headless Firefox, its profile and TMPDIR in a folder removed by quit()."""

    def __init__(self, width: int = 1280, height: int = 900):
        binary = shutil.which("firefox-esr") or shutil.which("firefox")
        if not binary:
            missing("firefox-esr is missing")
        try:
            import websocket
        except ImportError:
            missing("python3-websocket is missing")
        self.scratch = tempfile.mkdtemp(prefix="lab-firefox-")
        port = free_port()
        env = {**os.environ, "HOME": self.scratch, "TMPDIR": self.scratch, "MOZ_HEADLESS": "1"}
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-remote", "--profile", self.scratch, f"--remote-debugging-port={port}",
             f"--width={width}", f"--height={height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        self.errors: list[str] = []
        self._next = 0
        deadline = time.monotonic() + 30
        while True:
            try:  # Firefox refuses a websocket that names an Origin: send none
                self.socket = websocket.create_connection(f"ws://127.0.0.1:{port}/session", timeout=30,
                                                          suppress_origin=True)
                break
            except OSError as error:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.quit()
                    pytest.fail(f"firefox did not start: {error}", pytrace=False)
                time.sleep(0.1)
        self.call("session.new", {"capabilities": {}})
        self.call("session.subscribe", {"events": ["log.entryAdded"]})
        self.context = self.call("browsingContext.getTree", {})["contexts"][0]["context"]

    def call(self, method: str, params: dict) -> dict:
        """Send one command and return its result; errors logged meanwhile are kept."""
        self._next += 1
        self.socket.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("method") == "log.entryAdded" and message["params"].get("level") == "error":
                self.errors.append(message["params"].get("text", ""))
            if message.get("id") == self._next:
                if message.get("type") == "error":
                    raise AssertionError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]

    def open(self, url: str) -> None:
        self.errors.clear()
        self.call("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (strings, numbers, booleans, null)."""
        result = self.call("script.evaluate", {"expression": expression, "target": {"context": self.context},
                                               "awaitPromise": True})
        if result["type"] == "exception":
            raise AssertionError(f"{expression}: {result['exceptionDetails']['text']}")
        return result["result"].get("value")

    def click(self, expression: str) -> None:
        """A mouse click in the middle of the element the expression gives, as a user makes
        it: whatever lies on top of the element there gets it."""
        result = self.call("script.evaluate", {"expression": expression, "target": {"context": self.context},
                                               "awaitPromise": False})
        node = result.get("result", {})
        if node.get("type") != "node":
            raise AssertionError(f"{expression}: gave {node.get('type')}, not an element")
        self.evaluate(f"({expression}).scrollIntoView({{block: 'center'}})")
        at = {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element",
                                                                "element": {"sharedId": node["sharedId"]}}}
        self.call("input.performActions", {"context": self.context, "actions": [
            {"type": "pointer", "id": "mouse", "actions": [at, {"type": "pointerDown", "button": 0},
                                                           {"type": "pointerUp", "button": 0}]}]})

    def press(self, *keys: str) -> None:
        """Type keys into whatever has the focus ('Enter', 'Escape', 'Tab', ' ')."""
        actions = []
        for key in keys:
            actions += [{"type": "keyDown", "value": KEYS[key]}, {"type": "keyUp", "value": KEYS[key]}]
        self.call("input.performActions", {"context": self.context,
                                           "actions": [{"type": "key", "id": "keyboard", "actions": actions}]})

    def screenshot(self, path: Path) -> None:
        data = self.call("browsingContext.captureScreenshot", {"context": self.context})["data"]
        path.write_bytes(base64.b64decode(data))

    def quit(self) -> None:
        sock = getattr(self, "socket", None)
        if sock is not None:
            try:
                self.call("session.end", {})
            except Exception:  # it may be gone already; it is killed below in any case
                pass
            sock.close()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def firefox():
    """One Firefox for a module's tests (it takes about a second to start)."""
    browser = Firefox()
    try:
        yield browser
    finally:
        browser.quit()
