"""The real kernels' side of a TCP lab: sockets opened in a host's namespace by the
lab itself (no process of their own), used without blocking so the scenario stays in
control, and their states as sock_diag reports them."""
from __future__ import annotations

import socket


def listen(host, port: int) -> socket.socket:
    """A listening socket of host's kernel on host.ip:port."""
    server = host.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host.ip, port))
    server.listen()
    server.setblocking(False)
    return server


def connect(host, server_host, port: int) -> socket.socket:
    """A client socket of host's kernel whose SYN is on its way to server_host:port."""
    client = host.socket()
    client.setblocking(False)
    client.connect_ex((server_host.ip, port))
    return client


def accept(server: socket.socket) -> socket.socket | None:
    """The next connection the kernel completed, if any."""
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return None
    connection.setblocking(False)
    return connection


def received(connection: socket.socket) -> bytes:
    """What the application can read now (b"" if nothing yet)."""
    try:
        return connection.recv(65535)
    except BlockingIOError:
        return b""


def states(host, port: int) -> str:
    """'listener LISTEN, connection SYN_RECV': host's TCP sockets with port at either
    end, the listening socket first, then each connection's own socket; 'listener
    LISTEN, no connection' once a connection's socket is gone."""
    found = host.tcp_states(port)
    parts = ["listener LISTEN"] * found.count("LISTEN")
    parts += [f"connection {state}" for state in found if state != "LISTEN"]
    if parts and len(parts) == found.count("LISTEN"):
        parts.append("no connection")
    return ", ".join(parts) or "no socket"
