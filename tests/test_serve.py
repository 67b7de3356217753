"""`lab serve`: a real server on a free port, asked over real HTTP. No root needed.

What a student relies on: the index lists the runs newest first, a page opens, a
capture downloads byte for byte; what nobody may get: any file outside the folder, by
`..` raw or encoded, an absolute path, or a symlink (to a file or a folder) leading out.
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from browser import browser, console_errors  # noqa: F401  (browser: the fixture)
from conftest import ROOT
from lab.errors import UsageError
from lab.serve import start, url

NOT_FOUND = b"404 not found\n"
PCAP_BYTES = bytes(range(256)) * 64 + b"\r\n\x00end"  # every byte value, CR LF, NUL


def page(title: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    """A captures/ folder with three runs made at known times, and traps around it."""
    folder = tmp_path / "captures"
    folder.mkdir()
    made = {"arp-basic": 1_700_000_000, "tcp-handshake": 1_700_000_300, "udp-basic": 1_700_000_100}
    for name, when in made.items():
        (folder / f"{name}.html").write_text(page(f"{name} report"))
        (folder / f"{name}.pcapng").write_bytes(PCAP_BYTES)
        for path in folder.glob(f"{name}.*"):
            os.utime(path, (when, when))
    (folder / "tcp-handshake.ports.pcapng").write_bytes(PCAP_BYTES[::-1])
    os.utime(folder / "tcp-handshake.ports.pcapng", (1_700_000_300, 1_700_000_300))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.html").write_text("SECRET-OUTSIDE")
    (folder / "hostname.html").symlink_to("/etc/hostname")
    (folder / "secret.pcapng").symlink_to(outside / "secret.html")
    (folder / "elsewhere").symlink_to(outside, target_is_directory=True)
    (folder / "notes.txt").write_text("not a report")
    (folder / "sub").mkdir()
    (folder / "folder.html").mkdir()
    return folder


@pytest.fixture
def server(captures: Path):
    """(host, port) of a server on a free port of 127.0.0.1, stopped after the test."""
    running = start(captures, 0, "127.0.0.1")
    thread = threading.Thread(target=running.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield running.server_address[:2]
    finally:
        running.shutdown()
        running.server_close()
        thread.join(5)


def get(address, path: str) -> tuple[int, dict, bytes]:
    """GET exactly this path (http.client sends it as written, unnormalised)."""
    connection = http.client.HTTPConnection(*address, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_index_lists_the_runs_newest_first(server):
    status, headers, body = get(server, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    text = body.decode()
    names = re.findall(r'<a href="/([\w-]+)\.html">', text)
    assert names == ["tcp-handshake", "udp-basic", "arp-basic"]
    assert "tcp-handshake report" in text  # the page's own title
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1_700_000_300)) in text
    for download in ("tcp-handshake.pcapng", "tcp-handshake.ports.pcapng", "arp-basic.pcapng"):
        assert f'href="/{download}" download' in text
    # What is not served is not listed either.
    assert "hostname" not in text and "secret" not in text and "notes.txt" not in text


def test_an_empty_or_missing_folder_has_an_index_saying_so(tmp_path):
    running = start(tmp_path / "captures", 0, "127.0.0.1")
    thread = threading.Thread(target=running.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        status, _, body = get(running.server_address[:2], "/")
    finally:
        running.shutdown()
        running.server_close()
    assert status == 200 and b"No runs yet" in body
    assert not (tmp_path / "captures").exists()  # nothing written, not even the folder


def test_a_page_is_served_as_html(server, captures):
    status, headers, body = get(server, "/arp-basic.html")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "content-disposition" not in headers  # opened in the browser, not downloaded
    assert body == (captures / "arp-basic.html").read_bytes()


@pytest.mark.parametrize("name", ["udp-basic.pcapng", "tcp-handshake.ports.pcapng"])
def test_a_capture_downloads_with_its_bytes_intact(server, captures, name):
    status, headers, body = get(server, f"/{name}")
    assert status == 200
    assert headers["content-type"] == "application/vnd.tcpdump.pcap"
    assert headers["content-disposition"] == f'attachment; filename="{name}"'
    assert int(headers["content-length"]) == len(body)
    assert body == (captures / name).read_bytes()


@pytest.mark.parametrize("path", [
    "/../outside/secret.html",
    "/%2e%2e/outside/secret.html",
    "/%2E%2E/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/hostname",
    "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fhostname",
    "/captures/../../outside/secret.html",
    "/sub/../arp-basic.html",         # `..` is refused even where it would stay inside
    "/sub/%2e%2e/arp-basic.html",
    "//etc/passwd",
    "//etc/hostname",
    "/%2fetc%2fhostname",
    "/hostname.html",                 # a symlink to /etc/hostname
    "/secret.pcapng",                 # a symlink to a file outside
    "/elsewhere/secret.html",         # a symlinked folder pointing outside
    "/elsewhere%2fsecret.html",
    "/notes.txt",                     # inside, but not a page or a capture
    "/sub", "/sub/", "/elsewhere/",   # folders: no listing but the index
    "/folder.html",                   # a folder named like a page
    "/missing.html",
    "/arp-basic.html%00.txt",
    "http://example.com/arp-basic.html",
])
def test_nothing_outside_the_folder_nor_beside_the_runs(server, path):
    status, headers, body = get(server, path)
    assert status == 404, path
    assert body == NOT_FOUND and headers["content-type"].startswith("text/plain")
    assert b"SECRET" not in body and b"root:" not in body


def test_a_symlink_that_stays_inside_is_served(server, captures):
    (captures / "latest.html").symlink_to(captures / "arp-basic.html")
    status, _, body = get(server, "/latest.html")
    assert status == 200 and body == (captures / "arp-basic.html").read_bytes()


def test_serving_writes_nothing(server, captures):
    before = sorted((p, p.lstat().st_mtime_ns) for p in captures.parent.rglob("*"))
    for path in ("/", "/arp-basic.html", "/arp-basic.pcapng", "/missing.html"):
        get(server, path)
    assert sorted((p, p.lstat().st_mtime_ns) for p in captures.parent.rglob("*")) == before


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "192.0.2.123", "8.8.8.8", "not-an-interface"])
def test_binding_to_every_address_or_to_another_machine_is_refused(tmp_path, bind):
    with pytest.raises(UsageError) as refused:
        start(tmp_path, 0, bind)
    assert "127.0.0.1 (lo)" in str(refused.value)  # it names what may be given


def test_binding_to_this_machines_other_address_or_interface(tmp_path):
    from lab.serve import local_addresses
    name, address = next(((name, found[0]) for name, found in local_addresses().items()
                          if name != "lo" and found and ":" not in found[0]), (None, None))
    if name is None:
        pytest.skip("this machine has only loopback")
    for bind in (address, name):
        running = start(tmp_path, 0, bind)
        try:
            assert running.server_address[0] == address
        finally:
            running.server_close()


def lab_serve(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab", "serve", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def assert_one_line_refusal(result: subprocess.CompletedProcess | subprocess.Popen, stderr: str, words: str):
    assert result.returncode == 2, stderr
    assert stderr.count("\n") == 1 and words in stderr and "Traceback" not in stderr, stderr


def test_the_command_refuses_every_address_in_one_line():
    process = lab_serve("--bind", "0.0.0.0", "--port", "0")
    out, err = process.communicate(timeout=20)
    assert_one_line_refusal(process, err, "every network")


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = lab_serve("--port", str(port))
        out, err = process.communicate(timeout=20)
    assert_one_line_refusal(process, err, f"port {port} on 127.0.0.1 is in use")


def started(process: subprocess.Popen) -> tuple[str, int]:
    """The address and port from the line the server prints when it listens."""
    line = process.stdout.readline()
    found = re.search(r"http://([\d.]+):(\d+)/", line)
    assert found, (line, process.stderr.read() if process.poll() is not None else "")
    return found.group(1), int(found.group(2))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_it_cleanly_and_frees_the_port(stop):
    process = lab_serve("--port", "0")
    try:
        address = started(process)
        assert get(address, "/")[0] == 200
        began = time.monotonic()
        process.send_signal(stop)
        out, err = process.communicate(timeout=5)
        took = time.monotonic() - began
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and took < 1.0, (process.returncode, took, err)
    assert out.strip() == "lab serve: stopped" and err == ""
    with socket.socket() as again:  # free for the next server, as lab serve binds
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(address)  # EADDRINUSE while anything still listens there
        again.listen()


@pytest.mark.skipif(os.geteuid() != 0, reason="drops to an unprivileged user, which needs root")
def test_it_needs_no_root(tmp_path):
    """The same server as uid 65534 (nobody): it starts and serves the index."""
    interpreter = Path(os.path.realpath(sys.executable))
    if not all(os.stat(p).st_mode & 0o005 == 0o005
               for p in (ROOT, *ROOT.parents, interpreter, *interpreter.parents)):
        pytest.skip(f"other users cannot reach the project or {interpreter} here")
    process = lab_serve("--port", "0", user=65534, group=65534, extra_groups=[],
                        env={**os.environ, "HOME": str(tmp_path)})
    try:
        address = started(process)
        assert get(address, "/")[0] == 200
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0


def test_in_a_browser_the_index_lists_the_runs_and_a_click_opens_one(server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    base = "http://%s:%d" % server
    browser.get(base + "/")
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "tbody tr td:first-child a")]
    assert links == ["tcp-handshake", "udp-basic", "arp-basic"]
    browser.find_element(By.LINK_TEXT, "udp-basic").click()
    deadline = time.monotonic() + 5
    while browser.current_url != base + "/udp-basic.html" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert browser.current_url == base + "/udp-basic.html"
    assert browser.find_element(By.TAG_NAME, "h1").text == "udp-basic report"
    assert not console_errors(browser)


def test_ci_installs_the_test_browser_then_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith(("#", "echo", "set ", "cd "))]
    assert ci == ["sh scripts/setup.sh --test", "sudo python -m pytest -q tests"]
    assert readme.split("\n## Tests\n")[1].startswith("\n`sudo python -m pytest -q tests` runs")
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    test_packages = re.search(r'PACKAGES="\$PACKAGES ([^"]*)"', setup).group(1).split()
    assert {"chromium", "chromium-driver", "python3-selenium", "firefox-esr", "python3-websocket",
            "ruby"} <= set(test_packages)
