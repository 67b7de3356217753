"""browser-server's reading of the capture: each hop's TCP connections, the bytes each
side sent on them, and what a request or a redis command looks like on the wire.

A connection is keyed by its client end and its server end; its bytes are the
payloads in capture order (the hosts share one segment, retransmissions are rare and
dropped by sequence number)."""
from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP

from lab.wire import header, payload


@dataclass
class Connection:
    """One TCP connection as the capture saw it."""

    client: tuple[str, int]
    server: tuple[str, int]
    opened: float = 0.0       # the SYN
    closed: float = 0.0       # the last frame
    asked: bytes = b""        # client to server
    answered: bytes = b""     # server to client
    first_answer: float = 0.0
    fins: set = field(default_factory=set)
    seen: set = field(default_factory=set)


def connections(wire, server_ip: str, server_port: int) -> list[Connection]:
    """Every connection to server_ip:server_port, in the order they opened."""
    found: dict[tuple, Connection] = {}
    for frame in wire.tcp():
        packet = frame.packet
        ip, tcp = packet[IP], packet[TCP]
        if (ip.dst, tcp.dport) == (server_ip, server_port):
            key, towards = ((ip.src, tcp.sport), (ip.dst, tcp.dport)), True
        elif (ip.src, tcp.sport) == (server_ip, server_port):
            key, towards = ((ip.dst, tcp.dport), (ip.src, tcp.sport)), False
        else:
            continue
        if key not in found:
            if str(tcp.flags) != "S":
                continue
            found[key] = Connection(*key, opened=frame.time)
        conn = found[key]
        conn.closed = frame.time
        if "F" in str(tcp.flags):
            conn.fins.add(towards)
        data = payload(packet)
        if data and (towards, tcp.seq) not in conn.seen:
            conn.seen.add((towards, tcp.seq))
            if towards:
                conn.asked += data
            else:
                conn.first_answer = conn.first_answer or frame.time
                conn.answered += data
    return sorted(found.values(), key=lambda c: c.opened)


def status(response: bytes) -> int | None:
    words = response.split(b"\r\n", 1)[0].split()
    return int(words[1]) if len(words) >= 2 and words[0].startswith(b"HTTP/") and words[1].isdigit() else None


def request_mistake(request: bytes, path: str, host: str) -> str | None:
    """What is wrong with the browser's request as it crossed the wire, or None.

    Judged against HTTP/1.1's grammar (RFC 9112), not against a reference request."""
    if not request:
        return "nothing reached the balancer: connect((lb_ip, port)) and sendall() the request"
    head, blank, _ = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if b"\r\n" not in request and b"\n" in request:
        return "HTTP lines end with \\r\\n (CR LF), not a bare \\n"
    if lines[0].split(b" ") != [b"GET", path.encode(), b"HTTP/1.1"]:
        return (f"the request line must be `GET {path} HTTP/1.1` (method, path, version, one space "
                f"each); it was {lines[0][:40]!r}")
    if header(request, "host") is None:
        return "HTTP/1.1 requires a Host: header (RFC 9112 section 3.2); add `Host: <lb_ip>`"
    if not blank:
        return ("the head must end with an empty line (\\r\\n\\r\\n): without it the server "
                "waits for more headers (haproxy gives up after a second with 408)")
    return None


def whole(response: bytes) -> bool:
    """A complete HTTP response: a status line, headers, and Content-Length bytes of body."""
    head, blank, body = response.partition(b"\r\n\r\n")
    if not blank or status(response) is None or any(b":" not in line for line in head.split(b"\r\n")[1:]):
        return False
    length = header(response, "content-length")
    return length is not None and length.isdigit() and len(body) >= int(length)


def read_response(response: bytes) -> tuple:
    """(status, {lower-case name: value}, body) of a whole response, read by HTTP's grammar."""
    head, _, body = response.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status(response), headers, body[:int(headers["content-length"])]
