"""tcp-vs-udp: the same messages over TCP and over UDP, between two real kernels, on a
link that loses packets: what arrives, in which order, how many reads it takes, what
went on the wire twice, and what each socket costs the kernel.

    h1 ---s1--- h2                       topologies/star.py, two hosts
    sender (kernel sockets)              receiver (kernel sockets)

Every run draws its subnet, its five ports, the messages of the boundaries step (how
many, their words, so their lengths), the experiment's size and read size, and which
datagrams of the late step come late or twice. Loss is an nft rule at h2's door
dropping a random LOSS_PERCENT % of the experiment's packets (lab/impair.py); delay,
reordering and duplication use netem where the kernel has it and are reported as
skipped where it has not.

Grading holds no split and no tally of its own. Each right answer is known from how
the lab made the case (the messages h1 sent and the offsets h2 read them at, the
datagrams held back or delivered twice, lists made up from the seed), or measured
(UDP's losses: nft's counter plus h2's socket drops).
"""
from __future__ import annotations

import fcntl
import operator
import os
import socket
import struct
import textwrap
import time
from dataclasses import dataclass

from scapy.layers.inet import IP, TCP

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.errors import ScenarioError
from lab.grading import CONSTANT_HINT, Cases, score
from lab.impair import NO_NETEM, netem, netem_missing, random_loss
from lab.peers import accept, listen, states
from lab.port import HostPort
from lab.runner import with_checksums
from lab.sandbox import DONE
from lab.segments import poll
from lab.wire import payload

# The experiment: change these and run again.
LOSS_PERCENT = 10       # share of the experiment's packets nft drops at h2's door
MESSAGES = (150, 250)   # how many numbered messages each run sends over each protocol (drawn)
DELAY_MS = 10           # netem, where the kernel has it: delay of what h1 sends,
REORDER_PERCENT = 25    # the share sent at once, ahead of the delayed ones (reordering),
DUPLICATE_PERCENT = 2   # and the share sent twice
WAIT = 5.0              # seconds the lab waits at most for an experiment to finish

SIOCOUTQNSD = 0x894B     # ioctl: bytes in a TCP socket not sent yet
WORDS = (b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel",
         b"india", b"juliett", b"kilo", b"lima", b"mike", b"november", b"oscar", b"papa")
NOT_NEWLINE = bytes(b for b in range(256) if b != ord("\n"))
TALLY_KEYS = ("delivered", "lost", "duplicated", "out_of_order")
MEMORY_ROWS = (("rcvbuf", "receive buffer limit"), ("sndbuf", "send buffer limit"),
               ("rmem_alloc", "received, not yet read"), ("wmem_queued", "sent, kept until acknowledged"),
               ("fwd_alloc", "reserved ahead"))

INTRO = """\
The study note: TCP is connection-oriented, a byte stream, reliable and ordered, and
costs more system resources; UDP is connectionless, sends datagrams, may lose them and
may deliver them out of order, and is lighter. Here each claim is measured between two
Linux kernels: the handshake TCP needs and UDP does not; a few sends read back as one
read or as many; a couple of hundred numbered messages over a link that drops a random
10 % of packets (an nft rule at h2's door), counted as they arrive; TCP's
retransmissions counted on the wire; and the kernel's memory for each socket, read
with sock_diag."""


def message(number: int) -> bytes:
    return b"%05d\n" % number


WIDTH = len(message(0))  # every numbered message has this many bytes


@dataclass(frozen=True)
class Plan:
    """What one run chose, all drawn from run.rng, so --seed replays it."""

    boundary_tcp: int
    boundary_udp: int
    lossy_tcp: int
    lossy_udp: int
    late_udp: int
    texts: tuple[bytes, ...]  # the boundaries step's messages, each with its b"\n"
    messages: int             # numbered messages of the experiment, over each protocol
    chunk: int                # bytes read from the experiment's TCP stream at a time
    late: int                 # datagrams of the late step, 0 to late - 1
    held: tuple[int, int]     # held back at h2's door, delivered after the last one
    twice: int                # delivered a second time, right after the first


def draw(rng) -> Plan:
    """Ports below Linux's ephemeral range (where the clients' ports come from); a read
    size that is no multiple of a message's, so reads cut messages in two; two held
    datagrams with larger ones after them, so they really come late."""
    ports = rng.sample(range(2000, 32000), 5)
    texts = tuple(b" ".join(rng.sample(WORDS, rng.randint(1, 3))) + b"\n" for _ in range(rng.randint(3, 5)))
    late = rng.randint(8, 12)
    first = rng.randint(1, late - 4)
    twice = rng.choice([n for n in range(late) if n not in (first, first + 1)])
    return Plan(*ports, texts, rng.randint(*MESSAGES), WIDTH * rng.randint(50, 115) + rng.randint(1, WIDTH - 1),
                late, (first, first + 1), twice)


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


def say(run, text: str) -> None:
    """A note, wrapped so that no report line runs wider than the ladder."""
    for line in textwrap.wrap(text, 86, subsequent_indent="  "):
        run.note(line)


def shown(value, limit: int = 90) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def whose(outcome) -> str:
    """'your split_messages', or 'the reference's split_messages' when it stood in."""
    return f"your {outcome.todo}" if outcome.by_student else f"the reference's {outcome.todo}"


def answered(cases: list[dict], outcome) -> list[dict]:
    """The cases, each with what the call gave for it: status, and value or detail."""
    live = (outcome.status, outcome.value if outcome.by_student else outcome.detail)
    return [{**case, "status": status, "output": value}
            for case, (status, value) in zip(cases, [live, *outcome.cases])]


# --- the run ---

def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    plan = draw(run.rng)
    keep = []  # connections the kernel must not see closed before the end
    text = (f"h2 listens on TCP port {plan.boundary_tcp} and binds UDP port {plan.boundary_udp}. A ping "
            "lets the two kernels learn each other's MAC first (ARP). Then h1 connect()s: three segments, and "
            "both sides hold state for the connection before a single byte of data moves. The UDP socket has "
            "no peer and puts nothing on the wire until something is sent.")
    with run.step("Set-up: TCP opens a connection before any data; UDP does not", textwrap.fill(text, 86),
                  ladder=("h1", "h2")):
        say(run, f"this run's ports: TCP {plan.boundary_tcp} and UDP {plan.boundary_udp} here; TCP "
                 f"{plan.lossy_tcp} and UDP {plan.lossy_udp} for the experiment; UDP {plan.late_udp} for "
                 "late datagrams")
        server = listen(h2, plan.boundary_tcp)
        receiver = h2.socket(socket.SOCK_DGRAM)
        receiver.bind((h2.ip, plan.boundary_udp))
        h1.cmd("ping -c1 -W1", h2.ip)
        client, connection = connected(h1, h2, server, plan.boundary_tcp)
        keep.append(connection)
        run.state(h1, states(h1, plan.boundary_tcp))
        run.state(h2, states(h2, plan.boundary_tcp))
        run.state(h2, f"UDP {plan.boundary_udp}: " + ", ".join(
            s.state for s in h2.kernel.sockets("udp") if s.local[1] == plan.boundary_udp))
        handshake = run.wire().tcp(dport=plan.boundary_tcp) + run.wire().tcp(sport=plan.boundary_tcp)
        run.note(f"TCP: {len(handshake)} segments (SYN, SYN-ACK, ACK) before any data; UDP: none")

    boundaries(run, plan, h1, h2, client, connection, receiver)
    problem = netem_missing(h1)
    options = "" if problem else (f"delay {DELAY_MS}ms reorder {REORDER_PERCENT}% "
                                  f"duplicate {DUPLICATE_PERCENT}%")
    text = (f"h1 sends {plan.messages} numbered messages (b'00000\\n', b'00001\\n', ...) over a new TCP "
            f"connection to port {plan.lossy_tcp}, one send() each as soon as the one before has left "
            "(TCP_NODELAY, autocorking off: one segment per message), then over UDP to port "
            f"{plan.lossy_udp}, one sendto() each, h2 reading as they come. An nft rule in h2's input "
            f"drops a random {LOSS_PERCENT} % of them (`numgen random mod 100 < {LOSS_PERCENT}`); on TCP "
            "only data segments sent for the first time (an nft set remembers their sequence numbers), "
            "so a retransmission is never lost again and the run stays short. Its counter says how many "
            "it really dropped. Delay, reordering and duplication need netem (tc qdisc), which the lab "
            f"tries on {h1.interface} for real. The report does not list the experiment's frames (several "
            "hundred): the table sums them up, the capture has them all.")
    with run.step("The experiment, and the impaired link", textwrap.fill(text, 86)):
        impairments = {"loss": f"{LOSS_PERCENT} % at random, nft at h2's door"}
        for name, value in (("delay", f"{DELAY_MS} ms"), ("reordering", f"{REORDER_PERCENT} %"),
                            ("duplication", f"{DUPLICATE_PERCENT} %")):
            impairments[name] = f"{value}, netem on {h1.interface}" if options else NO_NETEM
        for name, value in impairments.items():
            run.note(f"{name + ':':<13} {value}")
        if problem:
            say(run, f"(tc qdisc add dev {h1.interface} root netem delay 10ms said: {problem})")

    with netem(h1, options):
        tcp = tcp_experiment(plan, h1, h2, keep)
        udp = udp_experiment(plan, h1, h2, delayed=bool(options))
    late = late_datagrams(run, plan, h1, h2, bool(problem))
    table(run, plan, tcp, udp, late, skipped=bool(problem))
    resources(run, tcp, udp)


def boundaries(run, plan: Plan, h1, h2, client, connection, receiver) -> None:
    n = len(plan.texts)
    with run.step(f"Message boundaries: {n} send() calls, {n} sendto() calls (your split_messages)",
                  f"h1 sends the same {n} messages twice: with {n} send() calls on the TCP connection\n"
                  f"({n} segments on the wire), then with {n} sendto() calls on UDP ({n} datagrams).\n"
                  "The lab waits until h2's kernel holds all of them, then reads as much as it can at once.",
                  ladder=("h1", "h2")):
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
        say(run, f"TCP: {n} send() calls, {len(tcp_reads)} recv(): " + ", ".join(map(repr, tcp_reads)))
        say(run, f"UDP: {n} sendto() calls, {len(udp_reads)} recvfrom(): " + ", ".join(map(repr, udp_reads)))
        buffer = b"".join(tcp_reads)
        if buffer != b"".join(plan.texts):
            raise ScenarioError("h2's TCP stream is not the messages h1 sent")
        cases = [{"kind": "live", "where": f"the one recv() of {n} send() calls", "input": buffer,
                  "truth": ([text[:-1] for text in plan.texts], b"")}] + made_up_buffers(run.rng)
        split = run.student("split_messages", h2, buffer, extra=[(case["input"],) for case in cases[1:]])
        say(run, f"{whose(split)}({buffer!r}) gave {shown(split.value, 200)}")
        run.note(f"(and {len(cases) - 1} buffers the lab made up, graded too)")
        run.evidence["memory"] = snapshot
        run.evidence["split"] = answered(cases, split)


def some_bytes(rng, low: int, high: int) -> bytes:
    """low to high random bytes, any but b'\\n'."""
    return bytes(rng.choice(NOT_NEWLINE) for _ in range(rng.randint(low, high)))


def any_bytes(rng) -> bytes:
    """A message of any bytes but b'\\n', with a space somewhere inside."""
    return some_bytes(rng, 0, 5) + b" " + some_bytes(rng, 1, 6)


def awkward(rng) -> bytes:
    """A message that strip(), split(), splitlines() or decode() would spoil: white
    space at both ends, b'\\r' or b'\\t' last, a NUL and a byte that is no UTF-8."""
    return (rng.choice([b" ", b"\t"]) + some_bytes(rng, 1, 4) + b"\x00" + bytes([rng.randint(0x80, 0xFF)])
            + some_bytes(rng, 0, 3) + rng.choice([b"\r", b" ", b"\t"]))


def made_up_buffers(rng) -> list[dict]:
    """Buffers for split_messages, each built from the messages and rest it must give back."""
    def several() -> list[bytes]:
        messages = [any_bytes(rng) for _ in range(rng.randint(1, 3))]
        messages.insert(rng.randint(0, len(messages)), awkward(rng))
        return messages
    made = [("an empty buffer", [], b""),
            ("one whole message", [any_bytes(rng)], b""),
            ("whole messages only", several(), b""),
            ("messages and the start of one more", several(), b" " + any_bytes(rng)),
            ("only the start of a message", [], any_bytes(rng))]
    return [{"kind": "made up", "where": f"a buffer the lab made up ({what})",
             "input": b"".join(m + b"\n" for m in messages) + rest, "truth": (messages, rest)}
            for what, messages, rest in made]


def stream_pieces(plan: Plan, chunks: list[bytes]) -> list[dict]:
    """The experiment's TCP stream as h2 read it, each read after the rest of the one
    before. Every message h1 sent is WIDTH bytes, so the offsets say what each holds."""
    stream = b"".join(chunks)
    if not b"".join(message(n) for n in range(plan.messages)).startswith(stream):
        raise ScenarioError("h2's TCP stream is not the messages h1 sent, in order")
    pieces, end = [], 0
    for chunk in chunks:
        start, end = end - end % WIDTH, end + len(chunk)
        whole = end - end % WIDTH
        pieces.append({"kind": "stream", "where": f"the experiment's stream, read {plan.chunk} bytes at a time",
                       "input": stream[start:end],
                       "truth": ([message(n)[:-1] for n in range(start // WIDTH, whole // WIDTH)],
                                 stream[whole:end])})
    return pieces


def tcp_experiment(plan: Plan, h1, h2, keep) -> dict:
    """The numbered messages over TCP through the lossy door. No step is open: the
    report would list every frame; the table and the capture show them instead."""
    server = listen(h2, plan.lossy_tcp)
    client, connection = connected(h1, h2, server, plan.lossy_tcp)
    keep.append(connection)
    h1.cmd("sysctl -qw net.ipv4.tcp_autocorking=0")  # else it packs waiting sends into one segment
    port = client.getsockname()[1]
    total = plan.messages * WIDTH
    with random_loss(h2, "tcp-loss", f"ip saddr {h1.ip} tcp dport {plan.lossy_tcp}", LOSS_PERCENT,
                     first_only="tcp sequence") as loss:
        started = time.monotonic()
        for number in range(plan.messages):
            client.sendall(message(number))
            poll(lambda: unsent(client) == 0, max(0.0, started + WAIT - time.monotonic()))
        after_send = memory(h1, "tcp", port)
        complete = poll(lambda: peek(connection) >= total, WAIT)
        took = time.monotonic() - started
    chunks = []
    while (waiting := peek(connection)) and len(chunks) < total:
        chunks.append(connection.recv(min(plan.chunk, waiting)))
    return {"complete": bool(complete), "took": took, "dropped": loss.final, "chunks": chunks,
            "after_send": after_send}


def udp_experiment(plan: Plan, h1, h2, delayed: bool) -> dict:
    """The numbered datagrams through the lossy door; h2 reads as they come."""
    receiver = h2.socket(socket.SOCK_DGRAM)
    receiver.bind((h2.ip, plan.lossy_udp))
    sender = h1.socket(socket.SOCK_DGRAM)
    arrivals: list[bytes] = []
    times: list[float] = []
    with random_loss(h2, "udp-loss", f"ip saddr {h1.ip} udp dport {plan.lossy_udp}", LOSS_PERCENT) as loss:
        started = time.monotonic()
        for number in range(plan.messages):
            sender.sendto(message(number), (h2.ip, plan.lossy_udp))
            drain(receiver, arrivals, times)
        after_send = memory(h1, "udp", sender.getsockname()[1])

        def finished() -> bool:
            drain(receiver, arrivals, times)
            return len(set(arrivals)) + loss.dropped() >= plan.messages
        complete = poll(finished, WAIT)
        if complete and delayed:  # netem's delayed copies may still be on their way
            deadline = time.monotonic() + 3 * DELAY_MS / 1000
            while time.monotonic() < deadline:
                drain(receiver, arrivals, times)
                time.sleep(0.001)
    buffer_drops = memory(h2, "udp", plan.lossy_udp).get("drops", 0)
    return {"complete": bool(complete), "took": (times[-1] if times else time.monotonic()) - started,
            "dropped": loss.final, "received": [int(d) for d in arrivals], "after_send": after_send,
            "buffer_drops": buffer_drops}


def late_datagrams(run, plan: Plan, h1, h2, no_netem: bool) -> list[int]:
    last, (first, second) = plan.late - 1, plan.held
    why = ("This kernel lacks netem, so the lab itself plays the network" if no_netem else
           "To show it the same way every run, the lab plays the network (netem does it at random)")
    text = (f"h1 sends datagrams 0 to {last} to port {plan.late_udp}. {why}: it holds {first} and {second} "
            f"at h2's door (an nft rule) and delivers them after {last}, and it delivers {plan.twice} a "
            "second time right after the first. Each is a real frame, sent again from the switch port into "
            "h2's kernel.")
    with run.step("UDP keeps no order and no count: two datagrams late, one twice (by the lab's hand)",
                  textwrap.fill(text, 86), ladder=("h1", "h2")):
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
        received = [int(d) for d in arrivals]
        run.note(f"h1 sent 0 to {last} in order; h2 received, in this order: " + " ".join(map(str, received)))
        if received != late_order(plan):
            raise ScenarioError(f"h2 did not receive the datagrams in the order the lab made: {received}")
        return received


def late_order(plan: Plan) -> list[int]:
    """The order the lab makes h2 receive the late step's datagrams in."""
    order = []
    for number in range(plan.late):
        if number not in plan.held:
            order += [number, number] if number == plan.twice else [number]
    return order + list(plan.held)


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


# --- the table: each row's counts as the lab knows them, and the student's tally ---

def counted(delivered: int, lost: int, duplicated: int = 0, out_of_order: int = 0) -> dict:
    return {"delivered": delivered, "lost": lost, "duplicated": duplicated, "out_of_order": out_of_order}


def tcp_row(plan: Plan, tcp: dict) -> dict:
    """TCP hands h2 the bytes h1 sent, in order, or nothing yet (stream_pieces checks
    it): every whole message in the stream was delivered once, in order."""
    arrived = sum(map(len, tcp["chunks"])) // WIDTH
    return {"where": "the TCP row", "sent": plan.messages, "received": list(range(arrived)), "late": [],
            "truth": counted(arrived, plan.messages - arrived)}


def udp_row(plan: Plan, udp: dict) -> dict:
    """Without netem, one datagram crosses the link once, in order; each lost one was
    dropped by nft (its counter) or by h2's full socket (sock_diag's drops). The truth
    stands only if h2 received exactly what those counters leave (None otherwise)."""
    received, lost = udp["received"], (udp["dropped"] or 0) + udp["buffer_drops"]
    fits = udp["complete"] and received == sorted(set(received)) and len(received) == plan.messages - lost
    return {"where": "the UDP row", "sent": plan.messages, "received": received, "late": [],
            "truth": counted(plan.messages - lost, lost) if fits else None}


def late_row(plan: Plan, received: list[int]) -> dict:
    """By the lab's hand: all delivered, one twice, the held two late."""
    return {"where": "the late + twice row", "sent": plan.late, "received": received, "late": list(plan.held),
            "truth": counted(plan.late, 0, 1, len(plan.held))}


def received_list(rng, sent: int, lost: int = 0, late: int = 0, copies: int = 0,
                  together: bool = False) -> dict:
    """A received list made so that its counts are known as it is built.

    Start from the numbers that arrive, in order. Move `late` of them (never the
    largest) each right after a larger number that stays in place: each moved one
    is then a first arrival after a larger number, and no other is (what comes before
    a number that stays is smaller). together: all right after the largest, in
    ascending order (... 9, 3, 4). Then insert `copies` copies, each after its number's
    first arrival: a copy changes no first arrival's count.
    """
    arrived = sorted(rng.sample(range(sent), sent - lost))
    moved = rng.sample(arrived[:-1], late)
    stay = [n for n in arrived if n not in moved]
    order = list(stay)
    for number in sorted(moved, reverse=True) if together else moved:
        anchor = stay[-1] if together else rng.choice([n for n in stay if n > number])
        order.insert(order.index(anchor) + 1, number)
    for _ in range(copies):
        number = rng.choice(arrived)
        order.insert(rng.randint(order.index(number) + 1, len(order)), number)
    return {"sent": sent, "received": order, "late": sorted(moved),
            "truth": counted(len(arrived), lost, copies, late)}


def made_up_tallies(rng) -> list[dict]:
    made = [("some lost", received_list(rng, rng.randint(8, 20), lost=rng.randint(1, 4))),
            ("some twice or more", received_list(rng, rng.randint(8, 20), copies=rng.randint(2, 4))),
            ("late ones after the largest", received_list(rng, rng.randint(8, 20), late=rng.randint(2, 3),
                                                          together=True)),
            ("lost, late and twice", received_list(rng, rng.randint(8, 20), lost=rng.randint(1, 3),
                                                   late=rng.randint(1, 3), copies=rng.randint(1, 3))),
            ("nothing arrived", received_list(rng, (sent := rng.randint(1, 6)), lost=sent))]
    return [{"where": f"a list the lab made up ({what})", **case} for what, case in made]


def table(run, plan: Plan, tcp: dict, udp: dict, late: list[int], skipped: bool) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    pieces = stream_pieces(plan, tcp["chunks"])  # first: it checks the stream tcp_row counts on
    segments = data_segments(run.wire(), h1.ip, plan.lossy_tcp)
    again = resent(segments)
    rows = {"TCP": tcp_row(plan, tcp), "UDP": udp_row(plan, udp), "UDP, late + twice": late_row(plan, late)}
    with run.step("What arrived: the table (your tally)",
                  "What h2's applications received, as the lab knows it: TCP's stream checked against the\n"
                  "messages h1 sent; UDP's losses from nft's counter and h2's socket drops; the late\n"
                  "datagrams from the lab's own hand. Your tally() gets each row's numbers, and lists the\n"
                  "lab made up. Resent: TCP data segments from h1 whose bytes an earlier segment had\n"
                  "already carried, counted in the capture; UDP never sends anything twice by itself.\n"
                  "Time: from the first send to the last message in h2's socket."):
        figures, remarks = ask_tally(run, rows)
        run.note(f"{'':18} {'sent':>5} {'delivered':>9} {'lost':>5} {'duplicated':>10} "
                 f"{'out of order':>12} {'resent':>7} {'time':>8}")
        for name, resends, took in (("TCP", again, tcp["took"]), ("UDP", 0, udp["took"]),
                                    ("UDP, late + twice", 0, None)):
            seconds = f"{took * 1000:6.0f} ms" if took is not None else ""
            row = [figures[name].get(key, "?") for key in TALLY_KEYS]
            run.note(f"{name:<18} {rows[name]['sent']:>5} {row[0]:>9} {row[1]:>5} {row[2]:>10} {row[3]:>12} "
                     f"{resends:>7} {seconds:>8}".rstrip())
        if skipped:
            run.note(f"delay, reordering, duplication: {NO_NETEM}")
        for remark in remarks:
            say(run, remark)
        losses(run, plan, tcp, udp, rows, again, len(segments))
        if pieces:
            split = run.student("split_messages", h2, pieces[0]["input"],
                                extra=[(piece["input"],) for piece in pieces[1:]])
            run.evidence["split"] += answered(pieces, split)
            stream_note(run, plan, split, run.evidence["split"][-len(pieces):])


def ask_tally(run, rows: dict) -> tuple[dict[str, dict], list[str]]:
    """The student's tally on every row the lab can count (the late one is the live
    case), on the made-up lists, and last, ungraded, on a row the lab cannot count.
    Returns the figures the table shows for each row, and what to say about them."""
    known = [name for name in ("UDP, late + twice", "TCP", "UDP") if rows[name]["truth"]]
    unknown = [name for name in rows if not rows[name]["truth"]]
    cases = [rows[name] for name in known] + made_up_tallies(run.rng) + [rows[name] for name in unknown]
    outcome = run.student("tally", run.host("h2"), cases[0]["sent"], cases[0]["received"],
                          extra=[(case["sent"], case["received"]) for case in cases[1:]])
    given = answered(cases, outcome)
    run.evidence["tally"] = given[:len(given) - len(unknown)]
    figures = {name: rows[name]["truth"] for name in known}
    remarks = agreement(outcome, given[:len(known)])
    for name, row in zip(unknown, given[len(given) - len(unknown):]):
        figures[name] = by_tally(run, outcome, row)
        remarks.append(f"the {name} row is {whose(outcome)}'s count: netem reordered and duplicated at random "
                       "(or h2 missed datagrams the counters do not explain), so the lab has no count of its own")
    return figures, remarks


def by_tally(run, outcome, row: dict) -> dict:
    """A row the lab cannot count itself, as the student's tally (or the reference's) counted it."""
    if outcome.by_student and row["status"] == DONE:
        return row["output"]
    return run.exercise.reference_value("tally", run.host("h2").netns, (row["sent"], row["received"]))


def agreement(outcome, rows: list[dict]) -> list[str]:
    """Whether the student's tally agrees with the lab on the rows it counted."""
    if not outcome.by_student:
        return []
    wrong = [row["where"] for row in rows if row["status"] != DONE or not same_counts(row["output"], row["truth"])]
    return [f"your tally disagrees with {', '.join(wrong)} (see the check)" if wrong
            else "your tally gives the same counts for every row"]


def losses(run, plan: Plan, tcp: dict, udp: dict, rows: dict, again: int, h1_segments: int) -> None:
    first = h1_segments - again
    say(run, f"nft at h2's door dropped {tcp['dropped']} of the {first} TCP data segments h1 sent for the "
             f"first time ({percent(tcp['dropped'], first)}) and {udp['dropped']} of the {plan.messages} "
             f"datagrams ({percent(udp['dropped'], plan.messages)})")
    if rows["UDP"]["truth"]:
        say(run, f"UDP: {rows['UDP']['truth']['lost']} lost: the rule dropped {udp['dropped']}"
                 + (f", h2's socket {udp['buffer_drops']} (receive buffer full)" if udp["buffer_drops"] else
                    ", each loss is one of the rule's drops"))
    delivered = rows["TCP"]["truth"]["delivered"]
    unfinished = "" if tcp["complete"] else f" (NOT complete after {WAIT:g} s)"
    say(run, f"TCP: the rule dropped {tcp['dropped']} segments, h1 sent {again} again, and h2's application "
             f"got {delivered} messages, in order{unfinished}")
    if tcp["dropped"] is not None and again > tcp["dropped"]:
        say(run, f"({again - tcp['dropped']} resent without a loss: a tail loss probe, or a segment h1 judged "
                 "lost when it was only late)")
    if not tcp["complete"] or not udp["complete"]:
        run.note(f"the lab stopped waiting after {WAIT:g} s")


def stream_note(run, plan: Plan, split, pieces: list[dict]) -> None:
    messages = sum(len(piece["truth"][0]) for piece in pieces)
    text = (f"the experiment's TCP stream, read {plan.chunk} bytes at a time: {len(pieces)} pieces, "
            f"each after the rest of the one before, {messages} messages in all")
    if split.by_student:
        right = sum(piece["status"] == DONE and piece["output"] == piece["truth"] for piece in pieces)
        text += f"; your split_messages split {right} of the {len(pieces)} pieces right"
    say(run, text)


def percent(part, whole) -> str:
    return f"{100 * part / whole:.1f} %" if part is not None and whole else "?"


def resources(run, tcp: dict, udp: dict) -> None:
    with run.step("What each socket costs the kernel: sock_diag's memory figures",
                  "Read with sock_diag (SKMEMINFO) while h2 held the boundary messages unread, in bytes.\n"
                  "For a TCP connection each kernel keeps a send buffer whose bytes stay queued until\n"
                  "acknowledged (the retransmission queue), a receive buffer that puts segments back in\n"
                  "order, and per-connection state: sequence numbers, windows, RTT estimate, congestion\n"
                  "window and timers (retransmission, delayed ACK, keepalive). For a UDP socket it keeps\n"
                  "a queue of received datagrams and nothing for what it sent: no peer, no timer."):
        snapshot = run.evidence["memory"]
        run.note(f"{'':12} {'TCP h1':>8} {'TCP h2':>8} {'UDP h1':>8} {'UDP h2':>8}")
        for key, meaning in MEMORY_ROWS:
            run.note(f"{key:<12} " + " ".join(f"{snapshot[side].get(key, '?'):>8}" for side in snapshot)
                     + f"   {meaning}")
        slab = slab_sizes()
        if slab:
            say(run, f"the socket structure itself (/proc/slabinfo): {slab.get('TCP', '?')} bytes for TCP, "
                     f"{slab.get('UDP', '?')} for UDP, per socket")
        sent = tcp["after_send"]
        if sent:
            say(run, f"right after h1's last send() of the lossy experiment, its TCP socket still held "
                     f"{sent['queues'][1]} bytes unacknowledged, kept in case they must be sent again "
                     f"(with their buffers: wmem_queued {sent.get('wmem_queued', '?')})")
        if udp["after_send"]:
            say(run, f"right after h1's last sendto(), its UDP socket held wmem_queued "
                     f"{udp['after_send'].get('wmem_queued', '?')}: a datagram sent is forgotten")
        say(run, "rcvbuf and sndbuf are limits, not memory in use; Linux grows TCP's as a connection "
                 "needs them (tcp_rmem, tcp_wmem)")


# --- grading: the student's answers against the answers the lab knows by construction ---

def grade(evidence: dict, wire) -> list[Verdict]:
    return [grade_split(evidence["split"]), grade_tally(evidence["tally"])]


def scored(cases: list[dict], same=operator.eq) -> Cases:
    """Cases[0] is the live case; each case holds its truth, status and output."""
    live, *made = cases
    return score(live["status"] == DONE and same(live["output"], live["truth"]),
                 tuple((case["status"], case["output"]) for case in made), [case["truth"] for case in made], same)


def no_answer(check: str, result: Cases, case: dict, call: str, hint: str) -> Verdict:
    """A case the function raised or hung on. On the live case the engine reports the
    error itself, and the lab adds no hint: it cannot know what went wrong."""
    return Verdict(check, FAIL, f"{result.summary}; {case['where']}: {call} gave no answer: {case['output']}",
                   "" if result.wrong[0] == 0 else hint)


def describe_split(buffer: bytes, value) -> str:
    """'split_messages(500 bytes, b'00000\\n'...b'00082\\n00') gave 83 messages, ..., rest b'00''"""
    given = repr(buffer) if len(buffer) <= 40 else f"{len(buffer)} bytes, {buffer[:6]!r}...{buffer[-9:]!r}"
    messages, rest = value
    listed = shown(messages, 60) if len(messages) <= 4 else \
        f"{len(messages)} messages, {messages[0]!r} to {messages[-1]!r}"
    return f"split_messages({given}) gave {listed}, rest {rest!r}"


def grade_split(cases: list[dict]) -> Verdict:
    result = scored(cases)
    if result.wrong is None:
        kinds = [case["kind"] for case in cases]
        return Verdict("split", PASS, f"{result.summary}: the boundaries step's recv(), "
                                      f"{kinds.count('stream')} pieces of the stream cut mid-message, "
                                      f"{kinds.count('made up')} made-up buffers")
    case = cases[result.wrong[0]]
    buffer, truth = case["input"], case["truth"]
    if case["status"] != DONE:
        return no_answer("split", result, case, f"split_messages({shown(buffer, 60)})",
                         "it must answer for any buffer: a message may hold any byte but b'\\n' (spaces, "
                         "b'\\x00', b'\\xff': bytes, not text), and a buffer may be empty")
    detail = (f"{result.summary}; {case['where']}: {describe_split(buffer, case['output'])}; "
              f"right: {describe_split(buffer, truth).split(' gave ', 1)[1]}")
    hint = CONSTANT_HINT if result.constant else split_hint(buffer, case["output"], truth)
    return Verdict("split", FAIL, detail, hint)


def split_hint(buffer: bytes, value, truth) -> str:
    """The typical mistake behind a wrong split, named."""
    (messages, rest), (wanted, wanted_rest) = value, truth
    mistakes = [
        (len(messages) == 1 and messages[0] in (buffer, buffer.rstrip(b"\n")) and len(wanted) > 1,
         "one recv() is not one message: TCP is a byte stream and kept no trace of the send() calls. "
         "Cut the buffer at every b'\\n'"),
        (any(m.endswith(b"\n") for m in messages) and [m.removesuffix(b"\n") for m in messages] == wanted,
         "leave the b'\\n' out of each message: it marks where a message ends, it is not part of it"),
        (messages == wanted + [wanted_rest] and bool(wanted_rest),
         f"the bytes after the last b'\\n' ({wanted_rest!r}) are not a message yet: the rest of it comes "
         "with the next recv(). Return them as rest"),
        (messages == wanted + [b""] and not wanted_rest,
         "a buffer that ends with b'\\n' leaves rest b'': the empty piece after it is not a message"),
        (messages == wanted and rest == b"" and bool(wanted_rest),
         f"you dropped the incomplete rest {wanted_rest!r}: the lab reads the stream a few hundred bytes at a "
         "time, so a message is often cut in two; return the piece after the last b'\\n' as rest, and the lab "
         "puts it in front of the next recv()"),
        (messages == wanted, f"rest is the bytes after the last b'\\n': {wanted_rest!r}"),
        (b"".join(messages) + rest != buffer.replace(b"\n", b""),
         "every byte of the buffer but the b'\\n's must come back, in order, in messages or rest: spaces, "
         "b'\\r' and b'\\x00' belong to a message like any other byte (no strip(), no split() without b'\\n')"),
    ]
    return next((hint for wrong, hint in mistakes if wrong),
                "messages in order, without their b'\\n'; rest: what follows the last b'\\n'")


def same_counts(value: dict, truth: dict) -> bool:
    return {key: value.get(key) for key in TALLY_KEYS} == truth


def counts(value: dict) -> str:
    return ", ".join(f"{key} {value.get(key, '-')}" for key in TALLY_KEYS)


def grade_tally(cases: list[dict]) -> Verdict:
    result = scored(cases, same_counts)
    if result.wrong is None:
        rows = sum(not case["where"].startswith("a list") for case in cases)
        return Verdict("tally", PASS, f"{result.summary}: {rows} rows of the table, {len(cases) - rows} made-up "
                                      "lists (losses, copies, late arrivals, nothing at all)")
    case = cases[result.wrong[0]]
    call = f"tally({case['sent']}, {shown(case['received'], 60)})"
    if case["status"] != DONE:
        return no_answer("tally", result, case, call,
                         "it must answer for any list of numbers, an empty one (nothing arrived) too")
    detail = (f"{result.summary}; {case['where']}: {call} gave {counts(case['output'])}; "
              f"right: {counts(case['truth'])}")
    return Verdict("tally", FAIL, detail, CONSTANT_HINT if result.constant else tally_hint(case))


def adjacent_inversions(received: list[int]) -> int:
    """Arrivals smaller than the one just before: a common, wrong, count of disorder."""
    return sum(b < a for a, b in zip(received, received[1:]))


def tally_hint(case: dict) -> str:
    """The typical mistake behind a wrong count, named."""
    sent, received, got, truth = case["sent"], case["received"], case["output"], case["truth"]
    if set(TALLY_KEYS) - set(got):
        return f"return a dict with the keys {', '.join(TALLY_KEYS)}"
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
         f"you counted nothing out of order, yet {', '.join(map(str, case['late'][:3]))} arrived after a "
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
    return next((hint for wrong, hint in mistakes if wrong), "lost = sent - delivered")


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
