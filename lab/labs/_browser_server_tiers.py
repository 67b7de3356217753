"""browser-server's live side: the three tiers as real servers inside Mininet hosts.

redis-server in db, haproxy in lb (round robin over the two web servers) and a small
Python HTTP app in web1 and web2 that asks redis for each request. Each is started by
the lab with its files in the run's own temporary folder, and waited for by polling
until it answers.

They run in the foreground as children of the lab, each with a parent-death signal:
`Tiers.stop` kills and reaps them, Network.stop kills whatever is left in the hosts'
namespaces, and if the lab is killed with SIGKILL the kernel kills them too. (Started
with `--daemonize yes`, redis-server and haproxy were reparented to init and outlived
a SIGKILLed run, holding its namespaces.) A SIGKILLed run's folder is removed by the
next run of this lab.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError, ScenarioError, SetupError
from lab.exchange import poll
from lab.registry import start_time

REDIS = "redis-server"
HAPROXY = "haproxy"
PREFIX = "netlab-tiers-"
START = 2.0  # seconds a server may take to answer after it was started

# The web tier: one HTTP/1.1 answer per connection, the body from redis, fetched over
# a fresh connection per request (so every hop has its own connection on the wire).
WEB_APP = r'''
import socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
me, port, db, db_port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]

def redis_get(name):
    command = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(name), name)
    with socket.create_connection((db, db_port), timeout=2) as conn:
        conn.sendall(command)
        reply = b""
        while not reply.endswith(b"\r\n") or reply.startswith(b"$") and reply.count(b"\r\n") < 2 \
                and not reply.startswith(b"$-1"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    if reply.startswith(b"$-1"):
        return b""
    return reply.split(b"\r\n")[1] if reply.startswith(b"$") else reply.strip()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        value = redis_get(key.encode())
        body = b"%s, served by %s\n" % (value, me.encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", me)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
    def log_message(self, *args):
        pass

HTTPServer((me, port), Handler).serve_forever()
'''

HAPROXY_CONFIG = """\
global
    maxconn 64
defaults
    mode http
    option httpclose
    timeout connect 1s
    timeout client 3s
    timeout http-request 1s
    timeout server 3s
frontend browsers
    bind {lb}:{port}
    default_backend web
backend web
    balance roundrobin
{servers}
"""


class MissingServer(SetupError):
    """A server program the lab needs is not installed (exit 3, with the set-up command)."""



@dataclass(frozen=True)
class Ports:
    """The ports of one run, drawn from its generator."""

    lb: int
    web: int
    db: int


def missing() -> list[str]:
    """The server programs this lab needs that the machine lacks."""
    return [name for name in (REDIS, HAPROXY) if shutil.which(name) is None]


def require() -> None:
    if gone := missing():
        raise MissingServer(f"browser-server needs {' and '.join(gone)}: run `sudo sh scripts/setup.sh`")


def answers(host, ip: str, port: int, ask: bytes = b"", want: bytes = b"") -> bool:
    """Whether a server in host answers on ip:port (from host's own namespace, over
    its loopback path, so nothing reaches the capture)."""
    sock = host.socket()
    try:
        sock.settimeout(0.2)
        sock.connect((ip, port))
        if not ask:
            return True
        sock.sendall(ask)
        return sock.recv(64).startswith(want)
    except OSError:
        return False
    finally:
        sock.close()


def redis_set(host, ip: str, port: int, key: bytes, value: bytes) -> None:
    """Store key = value in the run's redis, from the db host itself."""
    parts = [b"SET", key, value]
    command = b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    sock = host.socket()
    try:
        sock.settimeout(1.0)
        sock.connect((ip, port))
        sock.sendall(command)
        if not sock.recv(64).startswith(b"+OK"):
            raise ScenarioError("the run's redis-server refused SET")
    finally:
        sock.close()


def launch(host, argv: list[str], log: Path) -> subprocess.Popen:
    """Start argv in host's network namespace, in the foreground, as a child of the lab
    that the kernel kills if the lab dies, even by SIGKILL (PR_SET_PDEATHSIG). A
    daemon would be reparented to init and escape both that and the run's record."""
    with open(log, "wb") as errors:
        return subprocess.Popen(["nsenter", f"--net={host.netns}", "setpriv", "--pdeathsig", "KILL", *argv],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)


def sweep(directory: Path) -> None:
    """Remove the folders of this lab's runs that died without removing theirs."""
    for folder in directory.glob(f"{PREFIX}*-*"):
        owner = folder.name[len(PREFIX):].split("-", 1)[0]
        if owner.isdigit() and start_time(int(owner)) is None:  # gone, or a zombie
            shutil.rmtree(folder, ignore_errors=True)


class Tiers:
    """The run's servers; use as a context manager so they stop however the run ends."""

    def __init__(self, lb, webs, db, ports: Ports, key: bytes, value: bytes):
        self.lb, self.webs, self.db, self.ports = lb, webs, db, ports
        self.key, self.value = key, value
        sweep(Path(tempfile.gettempdir()))
        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        self.servers: list[subprocess.Popen] = []
        self.started: dict[str, float] = {}  # seconds from start to first answer

    def __enter__(self) -> Tiers:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        require()
        for host in (self.lb, *self.webs, self.db):  # the lab's probes reach each server over lo
            host.kernel.set_link("lo", up=True)
        self.start_redis()
        redis_set(self.db, self.db.ip, self.ports.db, self.key, self.value)
        began = time.perf_counter()
        for web in self.webs:  # both at once: each Python start-up takes about 40 ms
            self.servers.append(launch(web, [sys.executable, "-c", WEB_APP, web.ip, str(self.ports.web),
                                             self.db.ip, str(self.ports.db), self.key.decode()],
                                       self.folder / f"{web.name}.log"))
        for web in self.webs:
            self.timed(f"web app in {web.name}", began, web, web.ip, self.ports.web)
        self.start_haproxy()

    def timed(self, name: str, began: float, host, ip: str, port: int, ask: bytes = b"",
              want: bytes = b"") -> None:
        """Wait until the server answers; record the time from its start command on."""
        if not poll(lambda: answers(host, ip, port, ask, want), START):
            raise ScenarioError(f"{name} in {host.name} did not answer on {ip}:{port} within {START} s")
        self.started[name] = time.perf_counter() - began

    def start_redis(self) -> None:
        began = time.perf_counter()
        self.servers.append(launch(self.db, [
            REDIS, "--bind", self.db.ip, "--port", str(self.ports.db), "--save", "", "--appendonly", "no",
            # bound to the emulated host's address only, in a namespace of its own: protected
            # mode would refuse the web servers, which are not loopback
            "--protected-mode", "no", "--daemonize", "no", "--pidfile", str(self.folder / "redis.pid"),
            "--dir", str(self.folder), "--logfile", ""], self.folder / "redis.log"))
        self.timed("redis-server", began, self.db, self.db.ip, self.ports.db, b"PING\r\n", b"+PONG")

    def start_haproxy(self) -> None:
        servers = "\n".join(f"    server {web.name} {web.ip}:{self.ports.web}" for web in self.webs)
        config = self.folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(lb=self.lb.ip, port=self.ports.lb, servers=servers))
        began = time.perf_counter()
        self.servers.append(launch(self.lb, [HAPROXY, "-q", "-db", "-f", str(config)],
                                   self.folder / "haproxy.log"))
        self.timed("haproxy", began, self.lb, self.lb.ip, self.ports.lb)

    def stop(self) -> None:
        for server in self.servers:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
        for server in self.servers:
            server.wait()  # reaped here: no zombie is left for init
        self.servers = []
        shutil.rmtree(self.folder, ignore_errors=True)
