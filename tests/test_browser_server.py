"""browser-server on a real network: the reference passes and tshark reads the same
capture (four HTTP requests from h1 to the balancer, each answered 200, and every
hop's own connections); the untouched exercise is not done; typical mistakes (a
request without its empty line or without Host, a RESP length prefix off by one, an
inline command, a parser that reads to the end or splits on \\r\\n) fail with their
hint; a cheat that returns made-up bytes fails; and a run leaves no server, no
folder and no interface behind."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, graded, host_state, lab

pytestmark = pytest.mark.root

REFERENCE = ROOT / "solutions" / "browser_server.py"


def attempt(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "attempt.py"
    path.write_text(REFERENCE.read_text() + "\n\n" + code)
    return path


def servers() -> list[str]:
    """Live (not zombie) redis-server and haproxy processes on the machine."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name, state = stat.split("(", 1)[1].rsplit(")", 1)[0], stat.rsplit(")", 1)[1].split()[0]
            if name in ("redis-server", "haproxy") and state != "Z":
                found.append(f"{entry} {name}")
    return found


def folders() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("netlab-tiers-")}


def test_reference_passes_and_tshark_agrees(tmp_path):
    pcap = tmp_path / "ref.pcapng"
    code, document = graded("browser-server", REFERENCE, "--pcap", str(pcap))
    assert code == 0, document["stderr"]
    assert set(document["status_of"].values()) == {"pass"}
    hosts = {name: h["ip"] for name, h in document["hosts"].items()}
    rows = subprocess.run(["tshark", "-r", str(pcap), "-Y", "http.request", "-T", "fields",
                           "-e", "ip.src", "-e", "ip.dst", "-e", "http.request.uri", "-e", "http.host"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    browser = [r.split("\t") for r in rows if r.startswith(hosts["h1"] + "\t")]
    assert len(browser) == 4 and {r[1] for r in browser} == {hosts["lb"]}
    assert all(r[3] == hosts["lb"] for r in browser)
    to_webs = [r.split("\t")[1] for r in rows if r.startswith(hosts["lb"] + "\t")]
    assert sorted(to_webs) == sorted([hosts["web1"], hosts["web2"]] * 2)  # round robin, 2 each
    codes = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"http.response && ip.dst=={hosts['h1']}",
                            "-T", "fields", "-e", "http.response.code"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert codes == ["200"] * 4
    syns = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp.flags==0x002 && ip.dst=={hosts['db']}",
                           "-T", "fields", "-e", "ip.src"], capture_output=True, text=True, check=True).stdout.split()
    assert len(syns) == 5 and set(syns) <= {hosts["web1"], hosts["web2"]}  # 4 by the apps, 1 by redis_get


def test_untouched_exercise_is_not_done():
    code, document = graded("browser-server", ROOT / "exercises" / "browser_server.py")
    assert set(document["status_of"].values()) == {"not done"}, document["status_of"]


NO_BLANK = '''
def http_get(lb_ip, port, path):
    import socket
    with socket.create_connection((lb_ip, port)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {lb_ip}\\r\\n".encode())
        sock.settimeout(1.5)
        try:
            return sock.recv(4096)
        except OSError:
            return b""
'''
NO_HOST = '''
def http_get(lb_ip, port, path):
    import socket
    with socket.create_connection((lb_ip, port)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n".encode())
        return receive_all(sock)
'''
ONE_RECV = '''
def http_get(lb_ip, port, path):
    import socket
    with socket.create_connection((lb_ip, port)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {lb_ip}\\r\\n\\r\\n".encode())
        return sock.recv(20)
'''
LENGTH_OFF = '''
def redis_get(db_ip, port, key):
    import socket
    command = b"*2\\r\\n$3\\r\\nGET\\r\\n$%d\\r\\n%s\\r\\n" % (len(key) + 2, key.encode())
    with socket.create_connection((db_ip, port)) as sock:
        sock.sendall(command)
        sock.settimeout(0.5)
        try:
            return sock.recv(4096)
        except OSError:
            return b""
'''
LENGTH_OFF_WAITING = '''
def redis_get(db_ip, port, key):
    import socket
    command = b"*2\\r\\n$3\\r\\nGET\\r\\n$%d\\r\\n%s\\r\\n" % (len(key) + 1, key.encode())
    with socket.create_connection((db_ip, port)) as sock:
        sock.sendall(command)
        return sock.recv(4096)
'''
INLINE = '''
def redis_get(db_ip, port, key):
    import socket
    with socket.create_connection((db_ip, port)) as sock:
        sock.sendall(f"GET {key}\\r\\n".encode())
        return sock.recv(4096)
'''
TO_THE_END = '''
def parse_response(raw):
    head, _, body = raw.partition(b"\\r\\n\\r\\n")
    lines = head.decode().split("\\r\\n")
    headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    return int(lines[0].split()[1]), headers, body
'''
SPLIT_LINES = '''
def parse_reply(raw):
    lines = raw.split(b"\\r\\n")
    return None if lines[0] == b"$-1" else lines[1]
'''
MADE_UP = '''
def redis_get(db_ip, port, key):
    return b"$5\\r\\nhello\\r\\n"
'''


@pytest.mark.parametrize("code, check, hint", [
    (NO_BLANK, "http-request", "must end with an empty line"),
    (NO_HOST, "http-request", "requires a Host: header"),
    (ONE_RECV, "http-request", "read until recv() returns b''"),
    (LENGTH_OFF, "resp-command", "the length prefix"),
    (LENGTH_OFF_WAITING, "resp-command", "the length prefix"),
    (INLINE, "resp-command", "inline form"),
    (TO_THE_END, "http-parse", "exactly Content-Length bytes"),
    (SPLIT_LINES, "resp-parse", "as many bytes as the length prefix"),
    (MADE_UP, "resp-command", "nothing reached redis"),
], ids=["no-blank-line", "no-host", "one-recv", "length-off", "length-off-waiting", "inline", "body-to-end", "split-lines", "made-up"])
def test_typical_mistakes_fail_with_their_hint(tmp_path, code, check, hint):
    status, document = graded("browser-server", attempt(tmp_path, code))
    assert status == 1
    verdict = next(c for c in document["checks"] if c["id"] == check)
    assert verdict["status"] == "fail" and hint in verdict["hint"], verdict
    others = {k: v for k, v in document["status_of"].items() if k != check}
    assert set(others.values()) == {"pass"}, others


def test_run_leaves_nothing_behind(tmp_path):
    before, left = host_state(), folders()
    assert lab("run", "browser-server", "--solution", "--pcap", str(tmp_path / "c.pcapng")).returncode == 0
    assert host_state() == before
    assert servers() == [] and folders() == left


@pytest.mark.skipif(not Path("/usr/sbin/haproxy").exists() or Path("/usr/bin/haproxy").exists(),
                    reason="needs haproxy in /usr/sbin only, to hide it with PATH")
def test_a_missing_server_ends_with_exit_3_and_the_set_up_command():
    env = {**os.environ, "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "lab", "run", "browser-server", "--solution"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 3 and "needs haproxy" in result.stderr and "scripts/setup.sh" in result.stderr
    assert servers() == []


OTHER_STYLE = '''
import socket


def http_get(lb_ip, port, path):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((lb_ip, port))
    for line in (f"GET {path} HTTP/1.1", f"host: {lb_ip}", "accept: */*", ""):
        sock.send((line + "\\r\\n").encode())
    data = b""
    while True:
        chunk = sock.recv(7)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data


def parse_response(raw):
    end = raw.find(b"\\r\\n\\r\\n")
    head = raw[:end].decode().splitlines()
    fields = dict((n.strip().lower(), v.strip()) for n, v in (h.split(":", 1) for h in head[1:]))
    size = int(fields.get("content-length", 0))
    return int(head[0].split(" ", 2)[1]), fields, raw[end + 4:end + 4 + size]


def redis_get(db_ip, port, key):
    words = ["GET", key]
    command = f"*{len(words)}\\r\\n" + "".join(f"${len(w.encode())}\\r\\n{w}\\r\\n" for w in words)
    with socket.create_connection((db_ip, port), timeout=2) as sock:
        sock.sendall(command.encode())
        reply = sock.recv(1)
        while not reply.endswith(b"\\r\\n") or reply.count(b"\\r\\n") < 2:
            reply += sock.recv(1)
        return reply


def parse_reply(raw):
    size, _, rest = raw.partition(b"\\r\\n")
    return None if size == b"$-1" else rest[:int(size[1:])]
'''
MADE_UP_PAGE = '''
def http_get(lb_ip, port, path):
    return b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi"
'''


def test_other_styles_pass(tmp_path):
    path = tmp_path / "other.py"
    path.write_text(OTHER_STYLE)
    code, document = graded("browser-server", path)
    assert code == 0 and set(document["status_of"].values()) == {"pass"}, document["checks"]


def test_a_made_up_page_fails(tmp_path):
    code, document = graded("browser-server", attempt(tmp_path, MADE_UP_PAGE))
    verdict = next(c for c in document["checks"] if c["id"] == "http-request")
    assert code == 1 and verdict["status"] == "fail" and "connect((lb_ip, port))" in verdict["hint"]


def children(pid: int) -> set[str]:
    names = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                names.add(stat.split("(", 1)[1].rsplit(")", 1)[0])
    return names


def test_a_sigkilled_run_takes_its_servers_along(tmp_path):
    """The servers run as the lab's children with a parent-death signal: SIGKILL of the
    lab kills them; the next run removes the folder the killed one could not."""
    import signal
    import time
    run = subprocess.Popen([sys.executable, "-m", "lab", "run", "browser-server", "--solution", "--pcap",
                            str(tmp_path / "k.pcapng")], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while "haproxy" not in children(run.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {"redis-server", "haproxy"} <= children(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 3
    while servers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert servers() == []
    assert lab("run", "browser-server", "--solution", "--pcap", str(tmp_path / "c.pcapng")).returncode == 0
    assert not any(name.startswith(f"netlab-tiers-{run.pid}-") for name in folders())
