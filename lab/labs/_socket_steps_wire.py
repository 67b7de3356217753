"""socket-steps' summaries of the captured wire, for one echo (`Echo`: its two sides,
addresses, port and message): the frames one host sent, the bytes each TCP connection
carried one way, the handshake's ends, and what crossed, written for a detail."""
from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.inet import IP, TCP

from lab.labs._socket_steps_trace import Role
from lab.wire import payload


@dataclass(frozen=True)
class Echo:
    """One echo, TCP or UDP: the server in h2, the client in h1, and what they were given."""

    server: Role = Role()
    client: Role = Role()
    client_ip: str = ""
    server_ip: str = ""
    port: int = 0
    message: bytes = b""


def sent_by(frames, src: str, dst: str | None = None) -> list:
    """The IP frames among frames that src sent (to dst, if given)."""
    return [f for f in frames if IP in f.packet and f.packet[IP].src == src
            and (dst is None or f.packet[IP].dst == dst)]


def tcp_bytes(wire, echo, to_server: bool) -> dict[int, bytes]:
    """What each connection on the echo's server port carried one way, keyed by the
    client's port: the payloads in sequence order, a retransmitted segment counted once."""
    src, dst = (echo.client_ip, echo.server_ip) if to_server else (echo.server_ip, echo.client_ip)
    first_seq: dict[int, int] = {}
    pieces: dict[int, dict[int, bytes]] = {}
    for frame in sent_by(wire.tcp(**{"dport" if to_server else "sport": echo.port}), src, dst):
        segment = frame.packet[TCP]
        client = segment.sport if to_server else segment.dport
        start = first_seq.setdefault(client, segment.seq)
        data = payload(frame.packet)
        if data:
            pieces.setdefault(client, {})[(segment.seq - start) % 2 ** 32] = data
    return {client: b"".join(data for _, data in sorted(parts.items())) for client, parts in pieces.items()}


def connection_of(wire, echo) -> tuple[int | None, str]:
    """(the client port of the TCP connection that carried the echo's message to the
    server, None if none did; what the connections to the server carried, for a detail)."""
    sent = tcp_bytes(wire, echo, to_server=True)
    return next((port for port, data in sent.items() if data == echo.message), None), said(sent.values())


def came_back(wire, echo, client: int) -> bytes:
    """What the echo's server sent back on the connection from the client's port."""
    return tcp_bytes(wire, echo, to_server=False).get(client, b"")


def handshake_ends(wire, echo, client: int, replies: list, missing):
    """(the server's SYN-ACK among its replies to the client's port, the client's first
    ACK to the server's port), missing standing in for either one not captured."""
    synack = next((f for f in replies if str(f.packet[TCP].flags) == "SA"), missing)
    return synack, next(iter(sent_by(wire.tcp(sport=client, dport=echo.port, flags="A"), echo.client_ip)), synack)


def said(pieces) -> str:
    """What crossed, for a detail: "b'abc'; b'de'" or 'nothing'."""
    return "; ".join(repr(piece) for piece in pieces if piece) or "nothing"
