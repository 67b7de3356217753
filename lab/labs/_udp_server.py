"""udp-basic's live side: h2's echo server, what sock_diag says of its socket, and the
answer conditions the lab polls while h1 waits for h2's answer to a datagram (the
echo, or an ICMP error). Any other answer from h2 is a Refusal, which stops the wait
at once and names what h2 sent."""
from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, UDP, UDPerror
from scapy.packet import Packet

from lab.exchange import Refusal, arrival
from lab.labs._udp_cases import Drawn
from lab.labs._udp_fields import clean
from lab.wire import summary


@dataclass(frozen=True)
class Served:
    """What h2's server read with recvfrom(), and echoed back with sendto()."""

    data: bytes
    address: tuple[str, int]


def udp_state(host, port: int) -> str:
    """'UNCONNECTED 10.0.0.2:7000', as sock_diag reports host's UDP socket on port."""
    found = [s for s in host.kernel.sockets("udp") if s.local[1] == port]
    if not found:
        return f"no UDP socket on port {port}"
    sock = found[0]
    text = f"{sock.state} {sock.local[0]}:{sock.local[1]}"
    if sock.queues[0]:
        text += f", {sock.queues[0]} B waiting (data + kernel overhead)"
    return text


def from_h2(h1, h2, wanted: Callable[[Packet], bool]):
    """An answer condition: the next UDP datagram or ICMP destination unreachable from
    h2 reaching h1, as an IP packet if wanted(packet) holds, else a Refusal."""
    def answered(packet) -> bool:
        return IP in packet and packet[IP].src == h2.ip and (
            UDP in packet or (ICMP in packet and packet[ICMP].type == 3))
    arrived = arrival(h1, answered)

    def answer():
        frame = arrived()
        if frame is None:
            return None
        packet = clean(frame)
        return packet if wanted(packet) else Refusal(f"h2 answered: {summary(packet)}")
    return answer


def icmp_from(h1, h2, code: int, quoted_dport: int | None = None):
    """An answer condition: h2's ICMP destination unreachable with this code at h1."""
    def wanted(packet) -> bool:
        return (ICMP in packet and packet[ICMP].type == 3 and packet[ICMP].code == code
                and (quoted_dport is None or (UDPerror in packet and packet[UDPerror].dport == quoted_dport)))
    return from_h2(h1, h2, wanted)


def echo_answer(run, server: socket.socket, h1, h2, d: Drawn):
    """An answer condition for a datagram to h2's server: h2's application reads what
    waits on its socket with recvfrom() and sends it back with sendto(), as any echo
    server does; the answer is (the echo seen at h1's client port, Served). What was
    served belongs to one attempt: a Refusal forgets it, so the reference's datagram,
    if the lab sends it next, starts clean."""
    served: list[Served] = []
    reply = from_h2(h1, h2, lambda p: UDP in p and (p[UDP].sport, p[UDP].dport) == (d.echo, d.client))

    def serve() -> None:
        try:
            server.recvfrom(65535, socket.MSG_PEEK)
        except BlockingIOError:
            return
        run.state(h2, udp_state(h2, d.echo))
        data, address = server.recvfrom(65535)
        run.event(f"h2's server: recvfrom() -> {data!r}, {address}")
        run.event(f"h2's server: sendto({data!r}, {address})")
        served[:] = [Served(data, address)]
        try:
            server.sendto(data, address)
        except OSError as error:  # an address h2 has no route to: no echo, the wait runs out
            run.event(f"h2's server: sendto() failed: {error.strerror}")

    def answer():
        serve()
        got = reply()
        if isinstance(got, Refusal):
            served.clear()
            return got
        return (got, served[0]) if got is not None and served else None
    return answer
