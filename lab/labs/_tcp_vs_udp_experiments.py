"""tcp-vs-udp's experiments: the numbered messages over TCP and over UDP through a
lossy door at h2, the datagrams the lab itself delivers late or twice, and what the
kernels and the capture say about them (queues, socket memory, retransmissions).

Each experiment returns a frozen record of what it measured; the lab turns those
into the table's rows and the report's notes.
"""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import time
from dataclasses import dataclass

from scapy.layers.inet import IP, TCP

from lab.errors import ScenarioError
from lab.exchange import poll
from lab.impair import random_loss
from lab.kernel import Sock
from lab.labs._tcp_vs_udp_cases import WIDTH, Plan, message
from lab.peers import accept, listen
from lab.port import HostPort
from lab.runner import with_checksums
from lab.wire import payload

SIOCOUTQNSD = 0x894B     # ioctl: bytes in a TCP socket not sent yet


@dataclass(frozen=True)
class TcpResult:
    """The numbered messages over TCP: what h2's application could read, and when."""

    complete: bool            # every byte reached h2's socket within the wait
    took: float               # seconds from the first send() to the last byte in h2's socket
    dropped: int | None       # nft's counter: data segments the rule dropped
    chunks: tuple[bytes, ...]  # h2's reads of the stream, a plan.chunk at most each
    after_send: Sock | None   # h1's socket right after its last send()


@dataclass(frozen=True)
class UdpResult:
    """The numbered datagrams: what h2's application read, in the order it came."""

    complete: bool            # every datagram arrived or was counted dropped within the wait
    took: float               # seconds from the first sendto() to the last datagram read
    dropped: int | None       # nft's counter: datagrams the rule dropped
    received: tuple[int, ...]  # the numbers h2 read, in order, copies included
    after_send: Sock | None   # h1's socket right after its last sendto()
    buffer_drops: int = 0     # datagrams h2's socket dropped, its receive buffer full


@dataclass(frozen=True)
class Boundaries:
    """The boundaries step: h2's reads, and the sockets' memory while it held them unread."""

    tcp_reads: tuple[bytes, ...]   # recv() on the connection, as much as each could take
    udp_reads: tuple[bytes, ...]   # recvfrom() on the UDP socket, one datagram each
    memory: dict[str, Sock | None]  # "tcp h1", "tcp h2", "udp h1", "udp h2"


def connected(h1, h2, server, port: int):
    """(h1's client, h2's accepted socket) of a connection whose sends each make a
    segment of their own (TCP_NODELAY), so the wire shows one segment per send()."""
    client = h1.socket()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.settimeout(1.0)
    client.connect((h2.ip, port))
    connection = poll(lambda: accept(server), 0.5)
    if connection is None:
        raise ScenarioError(f"h2 did not accept h1's connection to port {port}")
    return client, connection


def peek(connection: socket.socket) -> int:
    """Bytes waiting in a connected TCP socket's receive queue."""
    try:
        return len(connection.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return 0


def unsent(sock: socket.socket) -> int:
    """Bytes a TCP socket holds that have not been sent even once (SIOCOUTQNSD)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, b"\0" * 4))[0]


def drain(sock: socket.socket, into: list, times: list | None = None) -> int:
    """Read every datagram waiting in a UDP socket (one recvfrom each); how many."""
    reads = 0
    while True:
        try:
            data, _ = sock.recvfrom(65535, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return reads
        reads += 1
        into.append(data)
        if times is not None:
            times.append(time.monotonic())


def memory(host, protocol: str, port: int, local: bool = True) -> Sock | None:
    """host's socket with port as its local (or remote) port, with its SKMEMINFO."""
    for sock in host.kernel.sockets(protocol):
        if (sock.local[1] if local else sock.remote[1]) == port and sock.state != "LISTEN":
            return sock
    return None


def slab_sizes() -> dict[str, int]:
    """Bytes of the kernel's per-socket structure for TCP and UDP, from /proc/slabinfo."""
    sizes = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] in ("TCP", "UDP"):
                    sizes[fields[0]] = int(fields[3])
    except (OSError, ValueError, IndexError):
        pass
    return sizes


def boundary_experiment(run, plan: Plan, h1, h2, client, connection, receiver) -> Boundaries:
    """plan.texts sent on the connection (one send() each), then as datagrams; once
    h2's kernel holds them all, the sockets' memory, then h2 reads all it can."""
    n = len(plan.texts)
    sender = h1.socket(socket.SOCK_DGRAM)
    for text in plan.texts:
        client.send(text)
    for text in plan.texts:
        sender.sendto(text, (h2.ip, plan.boundary_udp))
    total = sum(map(len, plan.texts))
    if not poll(lambda: peek(connection) == total, 1.0) or not poll(
            lambda: sum(h2.switch_port in f.interfaces
                        for f in run.wire().udp(dport=plan.boundary_udp)) >= n, 1.0):
        raise ScenarioError(f"h2 did not get the {n} messages within 1 s")
    snapshot = {"tcp h1": memory(h1, "tcp", plan.boundary_tcp, local=False),
                "tcp h2": memory(h2, "tcp", plan.boundary_tcp),
                "udp h1": memory(h1, "udp", sender.getsockname()[1]),
                "udp h2": memory(h2, "udp", plan.boundary_udp)}
    run.event(f"h2's kernel holds {total} bytes on the TCP connection and {n} datagrams on UDP")
    tcp_reads = []
    while peek(connection) and len(tcp_reads) < 10:
        tcp_reads.append(connection.recv(65535))
    udp_reads: list[bytes] = []
    drain(receiver, udp_reads)
    return Boundaries(tuple(tcp_reads), tuple(udp_reads), snapshot)


def tcp_experiment(plan: Plan, h1, h2, keep: list, percent: int, wait: float) -> TcpResult:
    """The numbered messages over TCP through the lossy door. No step is open: the
    report would list every frame; the table and the capture show them instead."""
    server = listen(h2, plan.lossy_tcp)
    client, connection = connected(h1, h2, server, plan.lossy_tcp)
    keep.append(connection)
    h1.kernel.sysctl("net.ipv4.tcp_autocorking", 0)  # else it packs waiting sends into one segment
    port = client.getsockname()[1]
    total = plan.messages * WIDTH
    with random_loss(h2, "tcp-loss", f"ip saddr {h1.ip} tcp dport {plan.lossy_tcp}", percent,
                     first_only="tcp sequence") as loss:
        started = time.monotonic()
        for number in range(plan.messages):
            client.sendall(message(number))
            poll(lambda: unsent(client) == 0, max(0.0, started + wait - time.monotonic()))
        after_send = memory(h1, "tcp", port)
        complete = poll(lambda: peek(connection) >= total, wait)
        took = time.monotonic() - started
    chunks = []
    while (waiting := peek(connection)) and len(chunks) < total:
        chunks.append(connection.recv(min(plan.chunk, waiting)))
    return TcpResult(bool(complete), took, loss.final, tuple(chunks), after_send)


def udp_experiment(plan: Plan, h1, h2, percent: int, wait: float, settle: float = 0.0) -> UdpResult:
    """The numbered datagrams through the lossy door; h2 reads as they come.
    settle: how long netem's delayed copies may still be on their way (0 without it)."""
    receiver = h2.socket(socket.SOCK_DGRAM)
    receiver.bind((h2.ip, plan.lossy_udp))
    sender = h1.socket(socket.SOCK_DGRAM)
    arrivals: list[bytes] = []
    times: list[float] = []
    with random_loss(h2, "udp-loss", f"ip saddr {h1.ip} udp dport {plan.lossy_udp}", percent) as loss:
        started = time.monotonic()
        for number in range(plan.messages):
            sender.sendto(message(number), (h2.ip, plan.lossy_udp))
            drain(receiver, arrivals, times)
        after_send = memory(h1, "udp", sender.getsockname()[1])

        def finished() -> bool:
            drain(receiver, arrivals, times)
            return len(set(arrivals)) + loss.dropped() >= plan.messages
        complete = poll(finished, wait)
        if complete and settle:
            # Every number has come, but a copy netem made may still be in its delay
            # queue, and nothing the lab can read says when the last one has left: only
            # its delay bounds it. So keep reading until then (a condition never true).
            poll(lambda: drain(receiver, arrivals, times) < 0, settle)
    h2_socket = memory(h2, "udp", plan.lossy_udp)
    buffer_drops = h2_socket.memory.get("drops", 0) if h2_socket else 0
    return UdpResult(bool(complete), (times[-1] if times else time.monotonic()) - started, loss.final,
                     tuple(int(d) for d in arrivals), after_send, buffer_drops)


def late_experiment(run, plan: Plan, h1, h2) -> list[int]:
    """Datagrams 0 to plan.late - 1 from h1, the held two delivered after the last one
    and plan.twice delivered twice, each by the lab's hand; what h2 read, in order."""
    first, second = plan.held
    receiver = h2.socket(socket.SOCK_DGRAM)
    receiver.bind((h2.ip, plan.late_udp))
    sender = h1.socket(socket.SOCK_DGRAM)
    arrivals: list[bytes] = []
    for number in range(plan.late):
        if number == first:
            run.hold(h2, f"udp dport {plan.late_udp}", "hold-late")
        if number == second + 1:
            h2.firewall.remove("hold-late")
            run.event("the lab stops holding")
        sender.sendto(message(number), (h2.ip, plan.late_udp))
        if number in plan.held:
            poll(lambda: h2.firewall.dropped("hold-late") > plan.held.index(number), 0.5)
            run.event(f"datagram {number} dropped at h2's door; the capture keeps a copy")
        else:
            poll(lambda: drain(receiver, arrivals), 0.5)
        if number == plan.twice:
            deliver_again(run, h2, message(number), plan.late_udp)
            poll(lambda: drain(receiver, arrivals), 0.5)
    for number in plan.held:
        deliver_again(run, h2, message(number), plan.late_udp)
        poll(lambda: drain(receiver, arrivals), 0.5)
    return [int(d) for d in arrivals]


def deliver_again(run, receiver, data: bytes, port: int) -> None:
    """Send into receiver, from its switch port, a copy of the captured datagram carrying data."""
    def captured():
        return [f for f in run.wire().udp(dport=port) if payload(f.packet) == data]
    frames = poll(captured, 0.5)
    if not frames:
        raise ScenarioError(f"the datagram {data!r} is not in the capture")
    run.event(f"the lab delivers datagram {int(data)} to h2")
    with HostPort(f"/proc/{os.getpid()}/ns/net", receiver.switch_port) as port:
        port.send(with_checksums(frames[0].packet))


def resent(segments: list[tuple[int, int]]) -> int:
    """How many (relative seq, length) data segments carry bytes an earlier one had carried."""
    carried: list[tuple[int, int]] = []
    again = 0
    for seq, length in segments:
        if any(seq < end and start < seq + length for start, end in carried):
            again += 1
        carried.append((seq, seq + length))
    return again


def data_segments(wire, src: str, port: int) -> list[tuple[int, int]]:
    """(seq relative to the ISN, length) of each data segment src sent to port, in order."""
    found = []
    isns = wire.isns()
    for frame in wire.tcp(dport=port):
        packet = frame.packet
        length = len(payload(packet))
        if packet[IP].src == src and length:
            isn = isns.get((src, packet[TCP].sport), 0)
            found.append(((packet[TCP].seq - isn) % 2**32, length))
    return found
