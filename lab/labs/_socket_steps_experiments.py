"""socket-steps' experiments on the hosts' kernels, with sockets the lab opens itself:
a server that closes first and leaves its port in TIME_WAIT, binding that port again,
and shutdown() on UDP sockets. What each call gave comes back as words for a note."""
from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from lab.exchange import poll
from lab.peers import accept, connect


@dataclass(frozen=True)
class Rebind:
    """A new server socket bound to a port left in TIME_WAIT by a first server."""

    first_reuse: bool   # the first server had set SO_REUSEADDR
    reuse: bool         # the new socket set it
    port: int
    result: str         # 'bound', or the error's name (EADDRINUSE)


@dataclass(frozen=True)
class Shutdowns:
    """What shutdown() did on UDP sockets, each as 'succeeded' or 'failed with ...'."""

    unconnected: str = ""
    connected: str = ""
    frames: int = 0          # frames the connected socket's shutdown() put on the wire
    send_after: str = ""     # send() on the connected socket after shutdown(SHUT_WR)


def listening(host, kind: str, port: int) -> bool:
    """host has a socket ready for clients on port: a TCP listener, or a bound UDP socket."""
    found = host.kernel.sockets(kind)
    return any(s.local[1] == port and (kind == "udp" or s.state == "LISTEN") for s in found)


def close_first(h1, h2, port: int, reuse: bool) -> None:
    """A connection from h1 to a server in h2 on port that the server closes first, then
    its listener: h2's side waits in TIME_WAIT."""
    server = h2.socket()
    if reuse:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((h2.ip, port))
    server.listen()
    server.setblocking(False)
    client = connect(h1, h2, port)
    connection = poll(lambda: accept(server), 0.5)
    connection.close()
    poll(lambda: "FIN_WAIT2" in h2.tcp_states(port), 0.5)
    client.close()
    poll(lambda: "TIME_WAIT" in h2.tcp_states(port), 0.5)
    server.close()


def bind_again(host, port: int, reuse: bool) -> str:
    """'bound', or the error's name, for a new socket binding host.ip:port."""
    fresh = host.socket()
    if reuse:
        fresh.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        fresh.bind((host.ip, port))
        return "bound"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    finally:
        fresh.close()


def shutdowns(h1, h2, nobody: int, frames) -> Shutdowns:
    """shutdown() on an unconnected UDP socket of h1, then on one connected to a port of
    h2 where nobody listens, then send() on it; frames() counts the frames captured."""
    loose = h1.socket(socket.SOCK_DGRAM)
    loose.bind((h1.ip, 0))
    unconnected = attempt(lambda: loose.shutdown(socket.SHUT_RDWR))
    tied = h1.socket(socket.SOCK_DGRAM)
    tied.connect((h2.ip, nobody))
    before = frames()
    connected = attempt(lambda: tied.shutdown(socket.SHUT_WR))
    sent = frames() - before
    return Shutdowns(unconnected, connected, sent, attempt(lambda: tied.send(b"after shutdown")))


def attempt(action) -> str:
    try:
        action()
        return "succeeded"
    except OSError as exc:
        return f"failed with {errno.errorcode.get(exc.errno, exc.errno)} ({exc.strerror})"
