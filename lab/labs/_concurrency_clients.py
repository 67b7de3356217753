"""concurrency's own clients, and what the lab reads while a server serves them.

The clients are the lab's code, not the student's: sockets opened in the client
hosts' kernels (each in its host's namespace), non-blocking, all driven by one
selector loop in the lab's process, so K of them start within a few milliseconds
and each has a deadline. A client connects, sends its request line in two parts (the
word comes `split` seconds after 'WORK ', so a server must read up to the newline),
reads the reply line, then waits for the server's FIN; if none comes within GRACE of the reply, it
closes first (the wire then shows who closed).

While they run, a `Watch` is ticked every few milliseconds: it counts the threads of
the student's server process in h2 (/proc/PID/task, the process found by the inode
of its listening socket) and keeps the fullest moment of the accept queue (the LISTEN
socket's queues in sock_diag, with the clients' socket states at that moment).
"""
from __future__ import annotations

import dataclasses
import errno
import os
import selectors
import socket
import time
from dataclasses import dataclass

GRACE = 0.3  # s after its reply that a client waits for the server's FIN
TICK = 0.005


@dataclass(frozen=True)
class Visit:
    """One client as the lab's client saw it (Unix times; None: never)."""

    host: str = ""
    port: int = 0            # the client's own port
    request: str = ""        # without its newline
    started: float = 0.0     # connect() called
    connected: float | None = None
    answered: float | None = None
    reply: str = ""          # the first line back, without its newline
    server_closed: float | None = None  # EOF: the server's FIN
    error: str = ""          # refused, reset, no answer before the deadline, ...


class _Client:
    def __init__(self, host, request: str):
        self.host, self.request = host.name, request
        self.sock = host.socket()
        self.sock.setblocking(False)
        self.port, self.started, self.connected, self.answered = 0, 0.0, None, None
        self.data, self.server_closed, self.error, self.done = b"", None, "", False
        self.rest_due: float | None = None  # when the rest of the request line goes

    def visit(self) -> Visit:
        reply = self.data.split(b"\n")[0].decode("ascii", "replace") if self.answered else ""
        return Visit(self.host, self.port, self.request, self.started, self.connected, self.answered,
                     reply, self.server_closed, self.error)


def visit_all(pairs, server_ip: str, port: int, deadline: float, split: float,
              tick=None) -> tuple[Visit, ...]:
    """Connect every (host, request) of pairs to server_ip:port at once and follow each
    until it is over or `deadline` seconds have passed; tick(now) runs every TICK s."""
    clients = [_Client(host, request) for host, request in pairs]
    selector = selectors.DefaultSelector()
    try:
        for client in clients:
            code = client.sock.connect_ex((server_ip, port))
            client.started = time.time()
            client.port = client.sock.getsockname()[1]
            if code not in (0, errno.EINPROGRESS):
                _end(selector, client, errno.errorcode.get(code, str(code)), registered=False)
                continue
            selector.register(client.sock, selectors.EVENT_WRITE, client)
        end = time.time() + deadline
        while any(not c.done for c in clients):
            now = time.time()
            if now >= end:
                for client in clients:
                    if not client.done:
                        _end(selector, client, f"nothing more within {deadline:g} s"
                             if client.answered else f"no answer within {deadline:g} s")
                break
            for key, _ in selector.select(min(TICK, end - now)):
                _event(selector, key.data, split)
            now = time.time()
            for client in clients:
                if not client.done and client.rest_due is not None and now >= client.rest_due:
                    client.rest_due = None
                    _send(selector, client, f"{client.request.partition(' ')[2]}\n")
            for client in clients:
                if not client.done and client.answered and now > client.answered + GRACE:
                    _end(selector, client, "")  # the server kept it open: the client closes first
            if tick is not None:
                tick(now)
    finally:
        for client in clients:
            client.sock.close()
        selector.close()
    return tuple(client.visit() for client in clients)


def _event(selector, client: _Client, split: float) -> None:
    now = time.time()
    if client.connected is None:
        code = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            _end(selector, client, os.strerror(code).lower())
            return
        client.connected, client.rest_due = now, now + split
        selector.modify(client.sock, selectors.EVENT_READ, client)
        _send(selector, client, f"{client.request.partition(' ')[0]} ")
        return
    try:
        chunk = client.sock.recv(4096)
    except OSError as exc:
        _end(selector, client, (exc.strerror or str(exc)).lower())
        return
    if not chunk:
        client.server_closed = now
        _end(selector, client, "" if client.answered else "closed without an answer")
        return
    client.data += chunk
    if client.answered is None and b"\n" in client.data:
        client.answered = now


def _send(selector, client: _Client, text: str) -> None:
    try:
        client.sock.send(text.encode())
    except OSError as exc:
        _end(selector, client, (exc.strerror or str(exc)).lower())


def _end(selector, client: _Client, error: str, registered: bool = True) -> None:
    client.error, client.done = error, True
    if registered:
        selector.unregister(client.sock)
    client.sock.close()


@dataclass(frozen=True)
class Queue:
    """The accept queue at its fullest: the LISTEN socket's queues, the clients' states."""

    waiting: int = 0         # rqueue: connections established, waiting for accept()
    backlog: int = 0         # wqueue: the backlog listen() was given
    at: float = 0.0
    established: int = 0     # client sockets ESTABLISHED at that moment
    syn_sent: int = 0        # and in SYN_SENT


class Watch:
    """Called every tick while the clients run: the server's threads, the accept queue."""

    def __init__(self, server_host, port: int, roots: tuple[int, ...], client_hosts=(), queue: bool = False):
        self.server, self.port, self.roots = server_host, port, roots
        self.client_hosts, self.queue = client_hosts, queue
        self.pid: int | None = None
        self.threads: list[int] = []
        self.fullest = Queue()
        self.next = 0.0

    def __call__(self, now: float) -> None:
        if now < self.next:
            return
        self.next = now + TICK
        listener = next((s for s in self.server.kernel.sockets("tcp")
                         if s.state == "LISTEN" and s.local[1] == self.port), None)
        if self.pid is None and listener is not None:
            self.pid = owner(listener.inode, self.roots)
        if self.pid is not None:
            try:
                self.threads.append(len(os.listdir(f"/proc/{self.pid}/task")))
            except OSError:
                self.pid = -1  # it has ended
        if self.queue and listener is not None and not self.fullest.backlog:
            self.fullest = dataclasses.replace(self.fullest, backlog=listener.queues[1])
        if self.queue and listener is not None and listener.queues[0] > self.fullest.waiting:
            states = [s.state for host in self.client_hosts for s in host.kernel.sockets("tcp")
                      if s.remote[1] == self.port]
            self.fullest = Queue(listener.queues[0], listener.queues[1], now,
                                 states.count("ESTABLISHED"), states.count("SYN_SENT"))


def owner(inode: int, roots: tuple[int, ...]) -> int | None:
    """The process, among roots and their descendants, holding the socket inode (or
    among every process, where /proc/PID/task/TID/children is missing)."""
    return _owner(inode, list(roots)) or _owner(inode, [int(p) for p in os.listdir("/proc") if p.isdigit()],
                                               follow=False)


def _owner(inode: int, todo: list[int], follow: bool = True) -> int | None:
    wanted, seen = f"socket:[{inode}]", set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            if wanted in _links(pid):
                return pid
            for task in os.listdir(f"/proc/{pid}/task") if follow else ():
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return None


def _links(pid: int) -> set[str]:
    """What each of the process's file descriptors points to (a closing one skipped)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return found


def netstat(netns: str) -> dict[str, int]:
    """TcpExt counters of the namespace netns (/proc/PID/ns/net) names."""
    lines = open(netns.replace("/ns/net", "/net/netstat")).read().splitlines()
    counters: dict[str, int] = {}
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            counters.update(zip(names.split()[1:], map(int, values.split()[1:])))
    return counters
