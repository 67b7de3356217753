"""osi-layers' TCP around the student's request: the lab's own handshake from h1 to
h2's web server (through r1, so every frame goes to r1's MAC), the reading of the
server's answer, and the lab's close. h1's kernel is kept quiet by an nft rule: these
segments are none of its sockets'."""
from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.errors import ScenarioError
from lab.wire import payload

WAIT = 0.5  # seconds: h2 answers across r1 within a millisecond


@dataclass(frozen=True)
class Connection:
    """The connection's two ends as h1's frames address them."""

    my_mac: str
    gateway_mac: str
    my_ip: str
    server_ip: str
    my_port: int
    server_port: int


def segment(path: Connection, flags: str, seq: int, ack: int = 0, data: bytes = b"") -> bytes:
    frame = Ether(src=path.my_mac, dst=path.gateway_mac) / IP(src=path.my_ip, dst=path.server_ip) / \
        TCP(sport=path.my_port, dport=path.server_port, flags=flags, seq=seq, ack=ack, window=65535)
    return bytes(frame / data if data else frame)


def from_server(path: Connection, flags: str | None = None, starts: bytes | None = None):
    """A test on raw frames reaching h1: a segment of this connection from the server."""
    def wanted(data: bytes) -> bool:
        packet = Ether(data)
        return TCP in packet and packet[TCP].sport == path.server_port and packet[TCP].dport == path.my_port \
            and (flags is None or str(packet[TCP].flags) == flags) \
            and (starts is None or payload(packet).startswith(starts))
    return wanted


def handshake(port, path: Connection, isn: int) -> tuple[int, int]:
    """SYN, SYN-ACK, ACK; returns (h1's next sequence number, the number it acknowledges)."""
    port.drain()
    port.send(segment(path, "S", isn))
    got = port.expect(from_server(path, "SA"), WAIT)
    if got is None:
        raise ScenarioError(f"h2's web server did not answer the lab's SYN to port {path.server_port}")
    ack = (Ether(got)[TCP].seq + 1) % 2**32
    seq = (isn + 1) % 2**32
    port.send(segment(path, "A", seq, ack))
    return seq, ack


def read_and_close(port, path: Connection, seq: int, first) -> bytes:
    """The server's answer from its first segment (already caught) to its FIN; h1
    acknowledges it all and closes too. Returns the answer's bytes in order."""
    segments = [first]
    while "F" not in str(segments[-1][TCP].flags):
        got = port.expect(from_server(path), WAIT)
        if got is None:
            break
        segments.append(Ether(got))
    pieces = {s[TCP].seq: payload(s) for s in segments}
    last = segments[-1][TCP]
    end = (last.seq + len(payload(last)) + ("F" in str(last.flags))) % 2**32
    port.send(segment(path, "FA", seq, end))
    port.expect(from_server(path, "A"), WAIT)
    start = first[TCP].seq
    return b"".join(pieces[key] for key in sorted(pieces, key=lambda number: (number - start) % 2**32))
