"""tcp-vs-udp: the same messages over TCP and over UDP, between two real kernels, on a
link that loses packets: what arrives, in which order, how many reads it takes, what
went on the wire twice, and what each socket costs the kernel.

    h1 10.0.0.1 ---s1--- h2 10.0.0.2     topologies/star.py, two hosts
    sender (kernel sockets)              receiver (kernel sockets)
    ports: 6000/6001 boundaries (TCP/UDP), 7000/7001 the lossy experiment, 7002 late datagrams

Loss is an nft rule at h2's door dropping a random LOSS_PERCENT % of the experiment's
packets (lab/impair.py); delay, reordering and duplication use netem where the kernel
has it and are reported as skipped where it has not.
"""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import textwrap
import time

from scapy.layers.inet import IP, TCP

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.errors import ScenarioError
from lab.impair import NO_NETEM, netem, netem_missing, random_loss
from lab.peers import accept, listen, states
from lab.port import HostPort
from lab.runner import with_checksums
from lab.segments import poll
from lab.wire import payload

# The experiment: change these and run again.
MESSAGES = 200          # numbered messages b"00000\n", b"00001\n", ... sent over each protocol
LOSS_PERCENT = 10       # share of the experiment's packets nft drops at h2's door
DELAY_MS = 10           # netem, where the kernel has it: delay of what h1 sends,
REORDER_PERCENT = 25    # the share sent at once, ahead of the delayed ones (reordering),
DUPLICATE_PERCENT = 2   # and the share sent twice
CHUNK = 500             # bytes the lab reads from the TCP stream at a time (cuts messages in two)
WAIT = 5.0              # seconds the lab waits at most for an experiment to finish

SIOCOUTQNSD = 0x894B     # ioctl: bytes in a TCP socket not sent yet
BOUNDARY_TCP, BOUNDARY_UDP = 6000, 6001
LOSSY_TCP, LOSSY_UDP, LATE_UDP = 7000, 7001, 7002
THREE = (b"alpha\n", b"bravo\n", b"charlie\n")
LATE_COUNT, HELD, TWICE = 10, (3, 4), 6   # the late-datagram step: 3 and 4 held back, 6 sent twice
MEMORY_ROWS = (("rcvbuf", "receive buffer limit"), ("sndbuf", "send buffer limit"),
               ("rmem_alloc", "received, not yet read"), ("wmem_queued", "sent, kept until acknowledged"),
               ("fwd_alloc", "reserved ahead"))

INTRO = """\
The study note: TCP is connection-oriented, a byte stream, reliable and ordered, and
costs more system resources; UDP is connectionless, sends datagrams, may lose them and
may deliver them out of order, and is lighter. Here each claim is measured between two
Linux kernels: the handshake TCP needs and UDP does not; three sends read back as
one read or as three; 200 numbered messages over a link that drops a random 10 % of
packets (an nft rule at h2's door), counted as they arrive; TCP's retransmissions
counted on the wire; and the kernel's memory for each socket, read with sock_diag."""


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


def message(number: int) -> bytes:
    return b"%05d\n" % number


def frame_messages(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The lab's own framing: messages without their b'\\n', and the incomplete rest."""
    *messages, rest = buffer.split(b"\n")
    return messages, rest


def count(sent: int, received: list[int]) -> dict:
    """The lab's own tally; see tally() in the exercise for the definitions."""
    seen: set[int] = set()
    largest = -1
    out_of_order = duplicated = 0
    for number in received:
        if number in seen:
            duplicated += 1
            continue
        seen.add(number)
        if number < largest:
            out_of_order += 1
        largest = max(largest, number)
    delivered = len(seen & set(range(sent)))
    return {"delivered": delivered, "lost": sent - delivered, "duplicated": duplicated,
            "out_of_order": out_of_order}


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


def numbers(messages) -> list[int]:
    return [int(m) for m in messages]


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


def memory(host, protocol: str, port: int, local: bool = True) -> dict:
    """SKMEMINFO of host's socket with port as its local (or remote) port."""
    for sock in host.kernel.sockets(protocol):
        if (sock.local[1] if local else sock.remote[1]) == port and sock.state != "LISTEN":
            return {**sock.memory, "queues": sock.queues}
    return {}


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


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    keep = []  # connections the kernel must not see closed before the end
    with run.step("Set-up: TCP opens a connection before any data; UDP does not",
                  "h2 listens on TCP port 6000 and binds UDP port 6001. A ping lets the two kernels\n"
                  "learn each other's MAC first (ARP). Then h1 connect()s: three segments, and\n"
                  "both sides hold state for the connection before a single byte of data moves.\n"
                  "The UDP socket has no peer and puts nothing on the wire until something is sent.",
                  ladder=("h1", "h2")):
        server = listen(h2, BOUNDARY_TCP)
        receiver = h2.socket(socket.SOCK_DGRAM)
        receiver.bind((h2.ip, BOUNDARY_UDP))
        h1.cmd("ping -c1 -W1", h2.ip)
        client, connection = connected(h1, h2, server, BOUNDARY_TCP)
        keep.append(connection)
        run.state(h1, states(h1, BOUNDARY_TCP))
        run.state(h2, states(h2, BOUNDARY_TCP))
        run.state(h2, "UDP 6001: " + ", ".join(s.state for s in h2.kernel.sockets("udp")
                                               if s.local[1] == BOUNDARY_UDP))
        handshake = run.wire().tcp(dport=BOUNDARY_TCP) + run.wire().tcp(sport=BOUNDARY_TCP)
        run.note(f"TCP: {len(handshake)} segments (SYN, SYN-ACK, ACK) before any data; UDP: none")

    boundaries(run, h1, h2, client, connection, receiver)
    problem = netem_missing(h1)
    options = "" if problem else (f"delay {DELAY_MS}ms reorder {REORDER_PERCENT}% "
                                  f"duplicate {DUPLICATE_PERCENT}%")
    text = (f"h1 sends {MESSAGES} numbered messages (b'00000\\n', b'00001\\n', ...) over a new TCP "
            f"connection to port {LOSSY_TCP}, one send() each as soon as the one before has left "
            "(TCP_NODELAY, autocorking off: one segment per message), then over UDP to port "
            f"{LOSSY_UDP}, one sendto() each, h2 reading as they come. An nft rule in h2's input "
            f"drops a random {LOSS_PERCENT} % of them (`numgen random mod 100 < {LOSS_PERCENT}`); on TCP "
            "only data segments sent for the first time (an nft set remembers their sequence numbers), "
            "so a retransmission is never lost again and the run stays short. Its counter says how many "
            "it really dropped. Delay, reordering and duplication need netem (tc qdisc), which the lab "
            "tries on h1-eth0 for real. The report does not list the experiment's frames (several "
            "hundred): the table sums them up, the capture has them all.")
    with run.step("The experiment, and the impaired link", textwrap.fill(text, 86)):
        impairments = {"loss": f"{LOSS_PERCENT} % at random, nft at h2's door"}
        for name, value in (("delay", f"{DELAY_MS} ms"), ("reordering", f"{REORDER_PERCENT} %"),
                            ("duplication", f"{DUPLICATE_PERCENT} %")):
            impairments[name] = f"{value}, netem on h1-eth0" if options else NO_NETEM
        for name, text in impairments.items():
            run.note(f"{name + ':':<13} {text}")
        if problem:
            run.note(f"(tc qdisc add dev h1-eth0 root netem delay 10ms said: {problem})")
        run.evidence["impairments"] = impairments

    with netem(h1, options):
        tcp = tcp_experiment(run, h1, h2, keep)
        udp = udp_experiment(run, h1, h2, delayed=bool(options))
    late = late_datagrams(run, h1, h2, bool(problem))
    table(run, tcp, udp, late)
    resources(run, tcp, udp)


def boundaries(run, h1, h2, client, connection, receiver) -> None:
    with run.step("Message boundaries: three send() calls, three sendto() calls (your split_messages)",
                  "h1 sends the same three messages twice: with three send() calls on the TCP connection\n"
                  "(three segments on the wire), then with three sendto() calls on UDP (three datagrams).\n"
                  "The lab waits until h2's kernel holds all of them, then reads as much as it can at once.",
                  ladder=("h1", "h2")):
        sender = h1.socket(socket.SOCK_DGRAM)
        for text in THREE:
            client.send(text)
        for text in THREE:
            sender.sendto(text, (h2.ip, BOUNDARY_UDP))
        total = sum(map(len, THREE))
        if not poll(lambda: peek(connection) == total, 1.0) or not poll(
                lambda: sum(h2.switch_port in f.interfaces
                            for f in run.wire().udp(dport=BOUNDARY_UDP)) >= len(THREE), 1.0):
            raise ScenarioError("h2 did not get the three messages within 1 s")
        snapshot = {"tcp h1": memory(h1, "tcp", BOUNDARY_TCP, local=False),
                    "tcp h2": memory(h2, "tcp", BOUNDARY_TCP),
                    "udp h1": memory(h1, "udp", sender.getsockname()[1]),
                    "udp h2": memory(h2, "udp", BOUNDARY_UDP)}
        run.event(f"h2's kernel holds {total} bytes on the TCP connection and 3 datagrams on UDP")
        tcp_reads = []
        while peek(connection) and len(tcp_reads) < 10:
            tcp_reads.append(connection.recv(65535))
        udp_reads: list[bytes] = []
        drain(receiver, udp_reads)
        run.note(f"TCP: 3 send() calls, {len(tcp_reads)} recv(): " + ", ".join(map(repr, tcp_reads)))
        run.note(f"UDP: 3 sendto() calls, {len(udp_reads)} recvfrom(): " + ", ".join(map(repr, udp_reads)))
        buffer = b"".join(tcp_reads)
        split = run.student("split_messages", h2, buffer)
        run.note(f"{whose(split)}({buffer!r}) gave {shown(split.value)}")
        run.evidence["boundaries"] = {"tcp_reads": len(tcp_reads), "udp_reads": len(udp_reads),
                                      "memory": snapshot}
        run.evidence["split"] = [{"where": "the one recv() of the three send() calls",
                                  "input": buffer, "output": split.value}]


def shown(value, limit: int = 90) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tcp_experiment(run, h1, h2, keep) -> dict:
    """MESSAGES numbered messages over TCP through the lossy door. No step is open: the
    report would list every frame; the table and the capture show them instead."""
    server = listen(h2, LOSSY_TCP)
    client, connection = connected(h1, h2, server, LOSSY_TCP)
    keep.append(connection)
    h1.cmd("sysctl -qw net.ipv4.tcp_autocorking=0")  # else it packs waiting sends into one segment
    port = client.getsockname()[1]
    total = MESSAGES * len(message(0))
    with random_loss(h2, "tcp-loss", f"ip saddr {h1.ip} tcp dport {LOSSY_TCP}", LOSS_PERCENT,
                     first_only="tcp sequence") as loss:
        started = time.monotonic()
        for number in range(MESSAGES):
            client.sendall(message(number))
            poll(lambda: unsent(client) == 0, max(0.0, started + WAIT - time.monotonic()))
        after_send = memory(h1, "tcp", port)
        complete = poll(lambda: peek(connection) >= total, WAIT)
        took = time.monotonic() - started
    chunks = []
    while (waiting := peek(connection)) and len(chunks) < total:
        chunks.append(connection.recv(min(CHUNK, waiting)))
    return {"complete": bool(complete), "took": took, "dropped": loss.final, "chunks": chunks,
            "after_send": after_send, "port": port}


def udp_experiment(run, h1, h2, delayed: bool) -> dict:
    """MESSAGES numbered datagrams through the lossy door; h2 reads as they come."""
    receiver = h2.socket(socket.SOCK_DGRAM)
    receiver.bind((h2.ip, LOSSY_UDP))
    sender = h1.socket(socket.SOCK_DGRAM)
    arrivals: list[bytes] = []
    times: list[float] = []
    with random_loss(h2, "udp-loss", f"ip saddr {h1.ip} udp dport {LOSSY_UDP}", LOSS_PERCENT) as loss:
        started = time.monotonic()
        for number in range(MESSAGES):
            sender.sendto(message(number), (h2.ip, LOSSY_UDP))
            drain(receiver, arrivals, times)
        after_send = memory(h1, "udp", sender.getsockname()[1])

        def finished() -> bool:
            drain(receiver, arrivals, times)
            return len(set(arrivals)) + loss.dropped() >= MESSAGES
        complete = poll(finished, WAIT)
        if complete and delayed:  # netem's delayed copies may still be on their way
            deadline = time.monotonic() + 3 * DELAY_MS / 1000
            while time.monotonic() < deadline:
                drain(receiver, arrivals, times)
                time.sleep(0.001)
    buffer_drops = memory(h2, "udp", LOSSY_UDP).get("drops", 0)
    return {"complete": bool(complete), "took": (times[-1] if times else time.monotonic()) - started,
            "dropped": loss.final, "received": [int(d) for d in arrivals], "after_send": after_send,
            "buffer_drops": buffer_drops}


def late_datagrams(run, h1, h2, no_netem: bool) -> list[int]:
    why = ("This kernel lacks netem, so the lab itself plays the network" if no_netem else
           "To show it the same way every run, the lab plays the network (netem does it at random)")
    text = (f"h1 sends datagrams 0 to {LATE_COUNT - 1}. {why}: it holds {HELD[0]} and {HELD[1]} at h2's door "
            f"(an nft rule) and delivers them after {LATE_COUNT - 1}, and it delivers {TWICE} a second time "
            "right after the first. Each is a real frame, sent again from the switch port into h2's kernel.")
    with run.step("UDP keeps no order and no count: two datagrams late, one twice (by the lab's hand)",
                  textwrap.fill(text, 86), ladder=("h1", "h2")):
        receiver = h2.socket(socket.SOCK_DGRAM)
        receiver.bind((h2.ip, LATE_UDP))
        sender = h1.socket(socket.SOCK_DGRAM)
        arrivals: list[bytes] = []
        for number in range(LATE_COUNT):
            if number == HELD[0]:
                run.hold(h2, f"udp dport {LATE_UDP}", "hold-late")
            if number == HELD[-1] + 1:
                h2.firewall.remove("hold-late")
                run.event("the lab stops holding")
            sender.sendto(message(number), (h2.ip, LATE_UDP))
            if number not in HELD:
                poll(lambda: drain(receiver, arrivals), 0.5)
            else:
                poll(lambda: h2.firewall.dropped("hold-late") > HELD.index(number), 0.5)
                run.event(f"datagram {number} dropped at h2's door; the capture keeps a copy")
            if number == TWICE:
                deliver_again(run, h2, message(TWICE))
                poll(lambda: drain(receiver, arrivals), 0.5)
        for number in HELD:
            deliver_again(run, h2, message(number))
            poll(lambda: drain(receiver, arrivals), 0.5)
        received = [int(d) for d in arrivals]
        run.note(f"h1 sent 0 to {LATE_COUNT - 1} in order; h2's recvfrom() calls returned, in this order: "
                 + " ".join(map(str, received)))
        run.evidence["late"] = received
        return received


def deliver_again(run, receiver, data: bytes) -> None:
    """Send into receiver, from its switch port, a copy of the captured datagram carrying data."""
    def captured():
        return [f for f in run.wire().udp(dport=LATE_UDP) if payload(f.packet) == data]
    frames = poll(captured, 0.5)
    if not frames:
        raise ScenarioError(f"the datagram {data!r} is not in the capture")
    run.event(f"the lab delivers datagram {int(data)} to h2")
    with HostPort(f"/proc/{os.getpid()}/ns/net", receiver.switch_port) as port:
        port.send(with_checksums(frames[0].packet))


def table(run, tcp: dict, udp: dict, late: list[int]) -> None:
    wire = run.wire()
    segments = data_segments(wire, "10.0.0.1", LOSSY_TCP)
    again = resent(segments)
    stream, rest = frame_messages(b"".join(tcp["chunks"]))
    tcp_received = numbers(stream)
    rows = [("TCP", MESSAGES, tcp_received, again, tcp["took"]),
            ("UDP", MESSAGES, udp["received"], 0, udp["took"]),
            ("UDP, late + twice", LATE_COUNT, late, 0, None)]
    with run.step("What arrived: the table (your tally)",
                  "The lab counts what h2's applications received, and calls your tally() on the same\n"
                  "numbers. Resent: TCP data segments from h1 whose bytes an earlier segment had already\n"
                  "carried, counted in the capture; UDP never sends anything twice by itself. Time: from\n"
                  "the first send to the last message in h2's socket."):
        run.note(f"{'':18} {'sent':>5} {'delivered':>9} {'lost':>5} {'duplicated':>10} "
                 f"{'out of order':>12} {'resent':>7} {'time':>8}")
        tallies = []
        for name, sent, received, resends, took in rows:
            truth = count(sent, received)
            guess = run.student("tally", run.host("h2"), sent, received)
            tallies.append({"where": name, "sent": sent, "received": received, "output": guess.value})
            seconds = f"{took * 1000:6.0f} ms" if took is not None else f"{'':>8}"
            run.note(f"{name:<18} {sent:>5} {truth['delivered']:>9} {truth['lost']:>5} "
                     f"{truth['duplicated']:>10} {truth['out_of_order']:>12} {resends:>7} {seconds}")
        skipped = [name for name in ("delay", "reordering", "duplication")
                   if run.evidence["impairments"][name] == NO_NETEM]
        if skipped:
            run.note(f"{', '.join(skipped)}: {NO_NETEM}")
        h1_segments = len(segments)
        first = h1_segments - again
        run.note(f"nft at h2's door dropped {tcp['dropped']} of the {first} TCP data segments h1 sent for the "
                 f"first time ({percent(tcp['dropped'], first)}) and {udp['dropped']} of the {MESSAGES} "
                 f"datagrams ({percent(udp['dropped'], MESSAGES)})")
        udp_lost = count(MESSAGES, udp["received"])["lost"]
        run.note(f"UDP: {udp_lost} lost, the rule dropped {udp['dropped']}"
                 + (", each loss is one of the rule's drops" if udp_lost == udp["dropped"] else
                    f"; h2's socket itself dropped {udp['buffer_drops']} (receive buffer full)"))
        run.note(f"TCP: the rule dropped {tcp['dropped']} segments, h1 sent {again} again, and h2's "
                 f"application got {len(set(tcp_received))} messages, in order"
                 + ("" if tcp["complete"] else f" (NOT complete after {WAIT:g} s)"))
        if tcp["dropped"] is not None and again > tcp["dropped"]:
            run.note(f"({again - tcp['dropped']} resent without a loss: a tail loss probe, or a segment "
                     "h1 judged lost when it was only late)")
        if not tcp["complete"] or not udp["complete"]:
            run.note(f"the lab stopped waiting after {WAIT:g} s")
        mine = split_stream(run, tcp["chunks"])
        run.evidence["table"] = {name: {**count(sent, received), "resent": resends, "took": took}
                                 for name, sent, received, resends, took in rows}
        run.evidence["table"]["nft"] = {"tcp": tcp["dropped"], "udp": udp["dropped"],
                                        "tcp_segments": h1_segments}
        run.evidence["tally"] = tallies
        run.evidence["split"] += mine
        if rest:
            run.note(f"({len(rest)} bytes after the last newline)")


def split_stream(run, chunks: list[bytes]) -> list[dict]:
    """Feed the TCP stream, as read CHUNK bytes at a time, to the student's split_messages."""
    calls, rest, got = [], b"", []
    for chunk in chunks:
        buffer = rest + chunk
        outcome = run.student("split_messages", run.host("h2"), buffer)
        calls.append({"where": f"the experiment's stream, read {CHUNK} bytes at a time",
                      "input": buffer, "output": outcome.value})
        if well_formed(outcome.value):
            got += outcome.value[0]
            rest = outcome.value[1]
        else:
            rest = frame_messages(buffer)[1]
    run.note(f"{whose(outcome) if chunks else 'split_messages'}, fed the TCP stream in {len(chunks)} reads of up to {CHUNK} bytes "
             f"(each after the rest of the one before): {len(got)} messages"
             + (f", {got[0]!r} to {got[-1]!r}" if got else ""))
    return calls


def whose(outcome) -> str:
    """'your split_messages', or 'the reference's split_messages' when it stood in."""
    return f"your {outcome.todo}" if outcome.by_student else f"the reference's {outcome.todo}"


def well_formed(value) -> bool:
    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (list, tuple))
            and all(isinstance(m, bytes) for m in value[0]) and isinstance(value[1], bytes))


def percent(part, whole) -> str:
    return f"{100 * part / whole:.1f} %" if part is not None and whole else "?"


def resources(run, tcp: dict, udp: dict) -> None:
    with run.step("What each socket costs the kernel: sock_diag's memory figures",
                  "Read with sock_diag (SKMEMINFO) while h2 held the three messages unread, in bytes.\n"
                  "For a TCP connection each kernel keeps a send buffer whose bytes stay queued until\n"
                  "acknowledged (the retransmission queue), a receive buffer that puts segments back in\n"
                  "order, and per-connection state: sequence numbers, windows, RTT estimate, congestion\n"
                  "window and timers (retransmission, delayed ACK, keepalive). For a UDP socket it keeps\n"
                  "a queue of received datagrams and nothing for what it sent: no peer, no timer."):
        snapshot = run.evidence["boundaries"]["memory"]
        run.note(f"{'':12} {'TCP h1':>8} {'TCP h2':>8} {'UDP h1':>8} {'UDP h2':>8}")
        for key, meaning in MEMORY_ROWS:
            run.note(f"{key:<12} " + " ".join(f"{snapshot[side].get(key, '?'):>8}" for side in snapshot)
                     + f"   {meaning}")
        slab = slab_sizes()
        if slab:
            run.note(f"the socket structure itself (/proc/slabinfo): {slab.get('TCP', '?')} bytes for TCP, "
                     f"{slab.get('UDP', '?')} for UDP, per socket")
        sent = tcp["after_send"]
        if sent:
            run.note(f"right after h1's last send() of the lossy experiment, its TCP socket still held "
                     f"{sent['queues'][1]} bytes unacknowledged, kept in case they must be sent again "
                     f"(with their buffers: wmem_queued {sent.get('wmem_queued', '?')})")
        if udp["after_send"]:
            run.note(f"right after h1's last sendto(), its UDP socket held wmem_queued "
                     f"{udp['after_send'].get('wmem_queued', '?')}: a datagram sent is forgotten")
        run.note("rcvbuf and sndbuf are limits, not memory in use; Linux grows TCP's as a connection "
                 "needs them (tcp_rmem, tcp_wmem)")


# --- grading: the student's answers against the lab's own framing and count ---

def grade(evidence: dict, wire) -> list[Verdict]:
    return [grade_split(evidence["split"]), grade_tally(evidence["tally"])]


def describe_split(buffer: bytes, value) -> str:
    """'split_messages(500 bytes, b'00000\\n'...b'00082\\n00') gave 83 messages, ..., rest b'00''"""
    given = repr(buffer) if len(buffer) <= 40 else f"{len(buffer)} bytes, {buffer[:6]!r}...{buffer[-9:]!r}"
    if not well_formed(value):
        return f"split_messages({given}) gave {shown(value, 60)}"
    messages, rest = list(value[0]), value[1]
    if len(messages) <= 4:
        listed = repr(messages)
    else:
        listed = f"{len(messages)} messages, {messages[0]!r} to {messages[-1]!r}"
    return f"split_messages({given}) gave {listed}, rest {rest!r}"


SPLIT_SHAPE = "return (messages, rest): a list of bytes and the bytes after the last b'\\n'"


def grade_split(calls: list[dict]) -> Verdict:
    for call in calls:
        buffer, value = call["input"], call["output"]
        expected, expected_rest = frame_messages(buffer)
        detail = f"{call['where']}: {describe_split(buffer, value)}"
        if not well_formed(value):
            return Verdict("split", FAIL, detail, SPLIT_SHAPE)
        messages, rest = list(value[0]), value[1]
        if (messages, rest) == (expected, expected_rest):
            continue
        whole = b"".join(messages) + rest
        mistakes = [
            (len(messages) == 1 and messages[0] in (buffer, buffer.rstrip(b"\n")) and len(expected) > 1,
             "one recv() is not one message: TCP is a byte stream and kept no trace of the three "
             "send() calls. Cut the buffer at every b'\\n'"),
            (any(m.endswith(b"\n") for m in messages) and [m.rstrip(b"\n") for m in messages] == expected,
             "leave the b'\\n' out of each message: it marks where a message ends, it is not part of it"),
            (messages == expected + [expected_rest] and bool(expected_rest),
             f"the bytes after the last b'\\n' ({expected_rest!r}) are not a message yet: the rest of it "
             "comes with the next recv(). Return them as rest"),
            (messages == expected + [b""] and not expected_rest,
             "a buffer that ends with b'\\n' leaves rest b'': the empty piece after it is not a message"),
            (messages == expected and rest == b"" and bool(expected_rest),
             f"you dropped the incomplete rest {expected_rest!r}: the lab reads {CHUNK} bytes at a time, "
             "so a message is often cut in two; return the piece after the last b'\\n' as rest, and the "
             "lab puts it in front of the next recv()"),
            (messages == expected, f"rest is the bytes after the last b'\\n': {expected_rest!r}"),
            (whole != buffer.replace(b"\n", b""), "every byte of the buffer, newlines aside, must come back "
                                                  "in messages or rest, in order"),
        ]
        for wrong, hint in mistakes:
            if wrong:
                return Verdict("split", FAIL, detail, hint)
        return Verdict("split", FAIL, detail, "messages in order, without their b'\\n'; rest: what follows "
                                              "the last b'\\n'")
    stream = len(calls) - 1
    return Verdict("split", PASS, f"the one recv() of three send() calls gave 3 messages; the stream, read "
                                  f"in {stream} pieces that cut messages in two, came back whole")


TALLY_KEYS = ("delivered", "lost", "duplicated", "out_of_order")


def adjacent_inversions(received: list[int]) -> int:
    """Arrivals smaller than the one just before: a common, wrong, count of disorder."""
    return sum(b < a for a, b in zip(received, received[1:]))


def grade_tally(calls: list[dict]) -> Verdict:
    for call in calls:
        sent, received, got = call["sent"], call["received"], call["output"]
        truth = count(sent, received)
        detail = f"{call['where']}: you said {shown(got, 100)}; the lab counted {truth}"
        if not isinstance(got, dict) or set(TALLY_KEYS) - set(got):
            return Verdict("tally", FAIL, detail, f"return a dict with the keys {', '.join(TALLY_KEYS)}")
        if all(got[k] == truth[k] for k in TALLY_KEYS):
            continue
        late = [n for n in received if n < max(received[:received.index(n)] or [-1])]
        mistakes = [
            (got["delivered"] == len(received) != truth["delivered"],
             "a number that arrived twice was delivered once: delivered counts distinct numbers, and "
             "each extra copy counts as duplicated"),
            (got["lost"] == sent - len(received) != truth["lost"],
             "lost is what never arrived: sent minus the distinct numbers delivered, not minus the "
             "arrivals (a duplicate would hide a loss)"),
            (got["duplicated"] != truth["duplicated"],
             "duplicated counts extra arrivals: a number received k times adds k - 1"),
            (got["out_of_order"] == 0 and truth["out_of_order"] > 0,
             f"you counted nothing out of order, yet {', '.join(map(str, late[:3]))} arrived after a "
             "larger number: UDP keeps no order. Count each first arrival smaller than the largest "
             "number received before it"),
            (got["out_of_order"] == adjacent_inversions(received) != truth["out_of_order"],
             "compare with the largest number received so far, not with the one just before: after "
             "... 9, 3, 4, the 4 is late too, although it follows 3"),
            (got["out_of_order"] != truth["out_of_order"],
             "out of order: first arrivals smaller than the largest number received before them "
             "(a duplicate counts as duplicated only)"),
            (got["delivered"] != truth["delivered"], "delivered: how many of the numbers 0 to sent-1 "
                                                     "arrived at least once"),
        ]
        for wrong, hint in mistakes:
            if wrong:
                return Verdict("tally", FAIL, detail, hint)
        return Verdict("tally", FAIL, detail, "lost = sent - delivered")
    return Verdict("tally", PASS, "your counts match the lab's in every row of the table, duplicates "
                                  "and late arrivals included")


LAB = Lab(
    name="tcp-vs-udp",
    title="TCP vs UDP: stream and datagrams, loss and order, retransmissions and memory, measured",
    topology="star",
    topology_args=(2,),
    exercise="tcp_vs_udp",
    todos=("split_messages", "tally"),
    returns={"split_messages": tuple[list[bytes], bytes], "tally": dict[str, int]},
    checks=(
        CheckSpec("split", "split_messages", "a TCP byte stream framed back into its messages"),
        CheckSpec("tally", "tally", "delivered, lost, duplicated and out of order, as the lab counts them"),
    ),
    intro=INTRO,
    scenario=scenario,
    grade=grade,
)
