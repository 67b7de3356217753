"""udp-basic: one datagram each way, with no connection around it, against a real
kernel UDP socket; the length and checksum fields read from the capture; and the ICMP
port unreachable a kernel sends for a port nobody bound.

    h1 ---s1--- h2                         topologies/star.py, two hosts
    student's datagrams, from a port       kernel echo server on a port drawn for
    drawn for the run                      the run; another drawn port has no socket

Every run draws its ports and the data from run.rng (the engine draws the addresses),
so nothing of one run answers another. parse_echo, udp_length and is_port_unreachable
also get hidden cases the lab makes, each with its right answer known by construction.
"""
from __future__ import annotations

import socket

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror, in4_chksum
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.errors import ScenarioError
from lab.exercise import DONE, RAISED, TIMEOUT, TODO, WRONG
from lab.grading import CONSTANT_HINT, LAB_FAULT, first_mistake, score, sent_frame
from lab.kinds import Frame
from lab.segments import Delivery, as_frame, poll
from lab.wire import payload, summary

# Ports are drawn from these ranges; scapy (even scapy.all) binds no protocol to any
# of them, so a datagram's data always dissects as Raw in the student's code.
SERVER_PORTS, CLOSED_PORTS, CLIENT_PORTS = range(20000, 30000), range(30000, 40000), range(50000, 61000)
WORDS = ("hello", "h2", "ping", "datagram", "no", "handshake", "echo", "this", "back", "please",
         "one", "message", "each", "way", "udp", "port", "are", "you", "there", "over")
UNKNOWN_PROTOCOL = 253  # "for experimentation" (RFC 3692): no kernel speaks it
HEADER = 8              # bytes of a UDP header: source port, destination port, length, checksum
SHAPE = "IP(src=..., dst=...) / UDP(sport=..., dport=...) / data"
WAIT = 0.5  # seconds to wait for a kernel's answer (it takes well under a millisecond)

INTRO = """\
UDP sends datagrams: each one is a message of its own, sent without a connection.
There is no handshake before the first datagram and no teardown after the last; a
server only binds a port and waits in recvfrom(), which hands it the data and the
sender's address, and answers with sendto() to that address. The UDP header is 8
bytes: source port, destination port, length (header + data) and a checksum over
the header, the data and the IP addresses. Nothing is acknowledged or sent again:
if no socket is bound to the destination port, the receiving kernel drops the
datagram and tells the sender with ICMP destination unreachable, type 3 code 3
(port unreachable)."""


# --- what the run draws, and the cases the lab makes ---

def message(rng, words: int = 8) -> bytes:
    """A line of 1 to `words` drawn words: its text and its length change every run."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, words))).encode()


def draw(rng, h1, h2) -> dict:
    """This run's addresses, ports and data (plain values, kept in the evidence)."""
    echo = rng.choice(SERVER_PORTS)
    closed = rng.choice(CLOSED_PORTS)
    return {"h1": h1.ip, "h2": h2.ip, "client": rng.choice(CLIENT_PORTS), "echo": echo, "closed": closed,
            "data": message(rng), "probe": f"anyone on {closed}? ".encode() + message(rng, 3)}


def wire_packet(packet: Packet) -> Packet:
    """A packet the lab made, dissected again from its bytes: what a wire would give."""
    return IP(bytes(packet))


def datagram_to(d: dict, sport: int, data: bytes) -> Packet:
    """A datagram from h2's port sport to h1's client port, as h1 receives it."""
    return wire_packet(IP(src=d["h2"], dst=d["h1"]) / UDP(sport=sport, dport=d["client"]) / data)


def echo_cases(rng, d: dict) -> list[dict]:
    """More echoes h1 could receive: other servers, data of other lengths, binary data."""
    datas = [message(rng), message(rng, 3), bytes(rng.randrange(256) for _ in range(rng.randint(20, 200))),
             bytes([rng.randrange(33, 127)])]
    return [{"packet": bytes(datagram_to(d, rng.choice(SERVER_PORTS), data)), "truth": data} for data in datas]


def length_cases(rng) -> list[dict]:
    """Data of other lengths: none at all, one byte, a line, as much as one frame takes."""
    datas = [b"", bytes([rng.randrange(256)]), message(rng),
             bytes(rng.randrange(256) for _ in range(rng.randint(1000, 1472)))]
    return [{"data": data, "truth": HEADER + len(data)} for data in datas]


def icmp_error(d: dict, kind: int, code: int, quoted: Packet, **fields) -> Packet:
    """An ICMP error from h2 to h1 quoting the start of quoted (IP header + 8 bytes)."""
    return wire_packet(IP(src=d["h2"], dst=d["h1"]) / ICMP(type=kind, code=code, **fields) / bytes(quoted)[:28])


def unreachable_cases(rng, d: dict, port: Packet, echo: Packet, protocol: Packet) -> list[dict]:
    """The cases of is_port_unreachable, h2's port unreachable first (the live case);
    h2's other answers, then packets the lab makes and never sends. A case's family
    says which mistake a wrong answer points to."""
    other = rng.choice([p for p in CLOSED_PORTS if p != d["closed"]])
    to = IP(src=d["h1"], dst=d["h2"]) / UDP(sport=d["client"], dport=other) / message(rng, 3)
    elsewhere = f"192.0.2.{rng.randrange(1, 255)}"  # TEST-NET-1: nobody's address
    far = IP(src=d["h1"], dst=elsewhere, ttl=1) / UDP(sport=d["client"], dport=rng.choice(SERVER_PORTS))
    cases = [
        (f"h2's port unreachable for port {d['closed']} (ICMP 3/3)", port, True, "port"),
        ("h2's echo (UDP, no ICMP)", echo, False, "no ICMP"),
        ("h2's protocol unreachable (ICMP 3/2)", protocol, False, "code"),
        (f"a port unreachable for port {other} (ICMP 3/3), made", icmp_error(d, 3, 3, to), True, "port"),
        ("a redirect (ICMP 5/3), made", icmp_error(d, 5, 3, far, gw=d["h2"]), False, "type"),
        (f"a host unreachable for {elsewhere} (ICMP 3/1), made", icmp_error(d, 3, 1, far), False, "code"),
        ("a time exceeded (ICMP 11/0), made", icmp_error(d, 11, 0, far), False, "type"),
        ("an echo reply (ICMP 0/0), made",
         wire_packet(IP(src=d["h2"], dst=d["h1"]) / ICMP(type=0, id=rng.randrange(1, 65536), seq=1) / b"ping"),
         False, "type"),
        ("a TCP reset from h2 (no ICMP), made",
         wire_packet(IP(src=d["h2"], dst=d["h1"]) / TCP(sport=rng.choice(SERVER_PORTS), dport=d["client"],
                                                        flags="RA", ack=rng.randrange(1, 2**32))),
         False, "no ICMP"),
    ]
    return [{"label": label, "packet": bytes(packet), "truth": truth, "family": family}
            for label, packet, truth, family in cases]


def answered(outcome, cases: list[dict]) -> list[dict]:
    """Each case, the live one first, with the student's status and answer (plain data;
    a detail line instead where there is no answer of the student's)."""
    live = (outcome.status, outcome.value if outcome.by_student else outcome.detail)
    results = (live, *outcome.cases)
    return [{**case, "status": status, "answer": answer} for case, (status, answer) in zip(cases, results)]


def call_cases(run, todo: str, host, cases: list[dict], args) -> list[dict]:
    """todo on the live case (cases[0]) and the hidden ones in one child, in an order
    drawn for the run; args(case) gives a case's arguments."""
    outcome = run.student(todo, host, *args(cases[0]), extra=[args(c) for c in cases[1:]])
    return answered(outcome, cases)


def right(case: dict) -> bool:
    return case["status"] == DONE and case["answer"] == case["truth"]


def tally(cases: list[dict]):
    """How the student's function did: Cases(right, total, wrong, constant)."""
    hidden = cases[1:]
    return score(right(cases[0]), tuple((c["status"], c["answer"]) for c in hidden), [c["truth"] for c in hidden])


def hidden(cases: list[dict]) -> str:
    """How the student's function did on all the cases, for a report line."""
    made = len(cases) - 1
    if cases[0]["status"] == TODO:
        return f"{made} more cases made by the lab wait for your code"
    return f"{tally(cases).summary}, {made} made by the lab"


def shown(case: dict) -> str:
    """'True (right)', 'False (should be True)', 'raised: ...', for a report line."""
    truth = case["truth"]
    if case["status"] == DONE:
        return f"{case['answer']!r} ({'right' if right(case) else f'should be {truth!r}'})"
    if case["status"] == TODO:
        return f"the answer is {truth!r}"
    return f"{case['status']}: {case['answer']} (should be {truth!r})"


# --- the real kernels' side ---

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


class Refused:
    """h2's answer to a datagram, other than the one the lab waits for: an ICMP error,
    or an echo to another address or port."""

    def __init__(self, packet: Packet):
        self.packet = packet


def look(h1, h2, wanted):
    """One short look at what reached h1: the packet wanted(packet) accepts, Refused
    for any other UDP datagram or ICMP error from h2, or None."""
    def answered(packet) -> bool:
        return IP in packet and packet[IP].src == h2.ip and (
            UDP in packet or (ICMP in packet and packet[ICMP].type == 3))

    frame = h1.port.expect(lambda f: answered(Ether(f)), 0.005)
    if frame is None:
        return None
    packet = clean(Ether(frame))
    return packet if wanted(packet) else Refused(packet)


def echo_once(run, server: socket.socket, h1, h2, d: dict):
    """A taken() for one datagram: h2's application reads it with recvfrom(), sends it
    back with sendto(), and the echo is seen arriving at h1's client port."""
    served: dict = {}

    def taken():
        if not served:
            try:
                server.recvfrom(65535, socket.MSG_PEEK)
            except BlockingIOError:
                return look(h1, h2, lambda p: False)  # an ICMP error, if h2 refused it
            run.state(h2, udp_state(h2, d["echo"]))
            data, address = server.recvfrom(65535)
            run.event(f"h2's server: recvfrom() -> {data!r}, {address}")
            run.event(f"h2's server: sendto({data!r}, {address})")
            server.sendto(data, address)
            served.update(data=data, address=address)
        echo = look(h1, h2, lambda p: UDP in p and (p[UDP].sport, p[UDP].dport) == (d["echo"], d["client"]))
        return (echo, served) if isinstance(echo, Packet) else echo
    return taken


def icmp_from(h1, h2, code: int, quoted_dport: int | None = None):
    """A taken() waiting for h2's ICMP destination unreachable with this code at h1."""
    def wanted(packet) -> bool:
        return (ICMP in packet and packet[ICMP].type == 3 and packet[ICMP].code == code
                and (quoted_dport is None or (UDPerror in packet and packet[UDPerror].dport == quoted_dport)))
    return lambda: look(h1, h2, wanted)


def clean(frame: Packet) -> Packet:
    """The IP packet of a frame, without the Ethernet padding after it."""
    ip = frame[IP]
    return IP(bytes(ip)[:ip.len])


def deliver_datagram(run, source, target, args: tuple, taken_factory) -> Delivery:
    """Send the datagram build_datagram(*args) returns from source; taken_factory()
    gives a fresh taken() per attempt. If the student's datagram draws no answer, the
    reference's goes out instead (labelled), so the next steps have one to work on."""
    outcome = run.student("build_datagram", source, *args)
    data, problem = as_frame(outcome.value, source, target)
    sent_at = fallback_at = answer = None
    if data is not None:
        source.port.drain()
        sent_at = source.port.send(data)
        answer = poll(taken_factory(), WAIT)
    taken_frame = data
    if not answer or isinstance(answer, Refused):
        got = f"h2 answered: {summary(answer.packet)}" if answer else "no answer came back"
        run.note(f"{got}; the lab sends the reference's datagram instead, so the steps "
                 "after this one have one to work on")
        taken_frame = as_frame(run.exercise.reference.build_datagram(*args), source, target)[0]
        source.port.drain()
        fallback_at = source.port.send(taken_frame)
        answer = poll(taken_factory(), WAIT)
        if not answer or isinstance(answer, Refused):
            raise ScenarioError(f"{target.name} did not answer the reference's datagram as expected")
    return Delivery(outcome, problem, data, sent_at, fallback_at, clean(Ether(taken_frame)), answer)


def send_own(h1, h2, packet: Packet, taken):
    """Send one of the lab's own packets from h1 and wait for h2's answer."""
    h1.port.drain()
    h1.port.send(bytes(Ether(src=h1.mac, dst=h2.mac) / packet))
    answer = poll(taken, WAIT)
    if not isinstance(answer, Packet):
        raise ScenarioError(f"{h2.name} did not answer the lab's own {packet.summary()}")
    return answer


# --- the fields, as a receiver checks them ---

def udp_bytes(packet: Packet) -> bytes:
    """The UDP header and everything after it in the IP packet, whatever the UDP
    length field claims."""
    ip = packet[IP]
    return bytes(ip)[ip.ihl * 4:ip.len]


def carried(packet: Packet) -> bytes:
    """The bytes after the 8-byte UDP header."""
    return udp_bytes(packet)[HEADER:]


def udp_checksum(packet: Packet) -> int:
    """The checksum packet's UDP header should carry: over the pseudo-header (the IP
    addresses, protocol 17, the length), the UDP header with its checksum zeroed, and
    the data; 0 is sent as 0xffff, since 0 means 'no checksum'."""
    udp = bytearray(udp_bytes(packet))
    udp[6:8] = b"\0\0"
    return in4_chksum(socket.IPPROTO_UDP, packet[IP], bytes(udp)) or 0xFFFF


def fields(packet: Packet) -> str:
    """'UDP 51234 > 23456 length=18 checksum=0x1a2b (right)'"""
    udp = packet[UDP]
    right = udp.chksum == udp_checksum(packet)
    verdict = "no checksum" if udp.chksum == 0 else "right" if right else f"wrong, should be {udp_checksum(packet):#06x}"
    return f"UDP {udp.sport} > {udp.dport} length={udp.len} checksum={udp.chksum:#06x} ({verdict})"


# --- the scenario ---

def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    d = draw(run.rng, h1, h2)
    with run.step(f"Set-up: h2's echo server binds port {d['echo']}; h1's kernel is kept quiet",
                  "The lab starts h2's server as any UDP server starts: socket(AF_INET, SOCK_DGRAM),\n"
                  "then bind((h2's address, the port)). No listen(), no accept(): there is no\n"
                  "connection to wait for, and nothing goes on the wire. h1's kernel has no socket\n"
                  "on the client port, so it would answer h2's echo with an ICMP port unreachable:\n"
                  "an nft rule in h1 drops h1's outgoing destination-unreachable messages (removed\n"
                  "at the end). A ping lets both kernels learn each other's MAC first (ARP).",
                  ladder=("h1", "h2")):
        h1.firewall.add("icmp-guard", "output", "icmp type destination-unreachable")
        server = h2.socket(socket.SOCK_DGRAM)
        server.bind((h2.ip, d["echo"]))
        server.setblocking(False)
        h1.cmd("ping -c1 -W1", h2.ip)
        run.state(h1, udp_state(h1, d["client"]))
        run.state(h2, udp_state(h2, d["echo"]))

    with run.step("h1 sends one datagram; h2's server echoes it (your build_datagram)",
                  "No handshake first: the first packet already carries the data. h2's kernel\n"
                  "queues it on the socket bound to the server's port; its application reads it\n"
                  "with recvfrom(), which also says who sent it, and answers with sendto() to that\n"
                  "address.",
                  ladder=("h1", "h2")) as step:
        args = (h1.ip, h2.ip, d["client"], d["echo"], d["data"])
        sent = deliver_datagram(run, h1, h2, args, lambda: echo_once(run, server, h1, h2, d))
        echo, served = sent.answer
        echo = clean(echo)
        run.state(h2, udp_state(h2, d["echo"]))
        run.note(f"the datagram h2 took: {fields(sent.segment)}")
        run.note(f"h2's echo:            {fields(echo)}")
    run.evidence["echo"] = {**sent.evidence(), "args": args, "start": step.start, "end": step.end,
                            "received": served["data"], "address": served["address"], "echo": bytes(echo)}

    with run.step("h1 reads the echo (your parse_echo and udp_length)",
                  "The lab hands your functions the datagram that came back, as h1 received it,\n"
                  "then more datagrams and data it made itself, in an order drawn for the run."):
        read(run, h1, echo, d)

    with run.step(f"A datagram to port {d['closed']}, where no socket is bound (your build_datagram)",
                  "h2's kernel finds no socket for that port: it drops the datagram and tells the\n"
                  "sender with ICMP destination unreachable, type 3 code 3 (port unreachable), which\n"
                  "quotes the start of the datagram so the sender can tell which one failed. No\n"
                  "socket on h1 hears it: sendto() returned long ago. (For TCP, a reset says the same.)\n"
                  "Then the lab sends h2 an IP packet of protocol 253, which no kernel speaks: the\n"
                  "answer is type 3 again, with code 2 (protocol unreachable).",
                  ladder=("h1", "h2")) as step:
        args = (h1.ip, h2.ip, d["client"], d["closed"], d["probe"])
        probe = deliver_datagram(run, h1, h2, args, lambda: icmp_from(h1, h2, 3, d["closed"]))
        port_unreachable = probe.answer
        run.note(f"port {d['closed']}: ICMP type {port_unreachable[ICMP].type} code {port_unreachable[ICMP].code}, "
                 f"quoting a datagram {port_unreachable[IPerror].src}:{port_unreachable[UDPerror].sport} > "
                 f"{port_unreachable[IPerror].dst}:{port_unreachable[UDPerror].dport}")
        run.event(f"the lab sends h2 an IP packet of protocol {UNKNOWN_PROTOCOL}")
        protocol_unreachable = send_own(h1, h2, IP(src=h1.ip, dst=h2.ip, proto=UNKNOWN_PROTOCOL) / b"anyone?",
                                        icmp_from(h1, h2, 2))
        run.note(f"protocol {UNKNOWN_PROTOCOL}: ICMP type {protocol_unreachable[ICMP].type} "
                 f"code {protocol_unreachable[ICMP].code}")
    run.evidence["probe"] = {**probe.evidence(), "args": args, "start": step.start, "end": step.end}

    with run.step("Which of these is a port unreachable? (your is_port_unreachable)",
                  "Your function sees h2's two ICMP errors and its echo, and packets the lab made\n"
                  "without sending them, in an order drawn for the run: another port unreachable,\n"
                  "a redirect (ICMP type 5) with code 3, a host unreachable (3/1), a time exceeded,\n"
                  "an echo reply and a TCP reset. A code means something different under each type."):
        cases = call_cases(run, "is_port_unreachable", h1,
                           unreachable_cases(run.rng, d, port_unreachable, echo, protocol_unreachable),
                           lambda c: (IP(c["packet"]),))
        for case in cases:
            run.note(f"{case['label']}: {shown(case)}")
    run.evidence["unreachable"] = {"icmp": bytes(port_unreachable), "closed": d["closed"], "cases": cases}

    with run.step("h2's server closes its socket",
                  "close() on a UDP socket sends nothing: there is no connection to end, so no FIN\n"
                  "and no TIME_WAIT. The socket leaves h2's table, and the port is free again.",
                  ladder=("h1", "h2")):
        run.state(h2, udp_state(h2, d["echo"]))
        server.close()
        poll(lambda: "no UDP socket" in udp_state(h2, d["echo"]), WAIT)
        run.state(h2, udp_state(h2, d["echo"]))
        wire = run.wire()
        out, back = (len(wire.udp(sport=d["client"])), len(wire.udp(dport=d["client"])))
        run.note(f"on the wire in the whole run: {out} datagrams from h1, {back} from h2, "
                 f"{len(wire.tcp())} TCP segments: no connection was opened or closed")
        run.note(f"h1's guard dropped {h1.firewall.dropped('icmp-guard')} ICMP port unreachable that h1's "
                 "kernel tried to send: it had no socket for h2's echo")


def read(run, h1, echo: Packet, d: dict) -> None:
    """parse_echo and udp_length on h2's echo (the live case) and on the lab's own."""
    data = payload(echo)
    parsed = call_cases(run, "parse_echo", h1, [{"packet": bytes(echo), "truth": data}, *echo_cases(run.rng, d)],
                        lambda c: (IP(c["packet"]),))
    lengths = call_cases(run, "udp_length", h1, [{"data": data, "truth": echo[UDP].len}, *length_cases(run.rng)],
                         lambda c: (c["data"],))
    run.note(f"parse_echo(h2's echo): {shown(parsed[0])}; {hidden(parsed)}")
    run.note(f"udp_length(the echo's {len(data)} bytes): {shown(lengths[0])}; {hidden(lengths)}")
    run.evidence["parse"] = {"cases": parsed}
    run.evidence["length"] = {"echo": bytes(echo), "cases": lengths}


# --- grading: from the captured datagrams, h2's server and h2's ICMP errors ---

def grade(evidence: dict, wire) -> list[Verdict]:
    return [grade_datagram(evidence["echo"], evidence["probe"], wire), grade_parse(evidence["parse"]),
            grade_length(evidence["length"]), grade_unreachable(evidence["unreachable"])]


def datagram_mistakes(datagram: Packet, args: tuple) -> list[tuple[bool, str]]:
    """What a receiver would find wrong in a datagram meant to be
    build_datagram(*args), the first one first."""
    my_ip, peer_ip, my_port, peer_port, data = args
    ip, udp = datagram[IP], datagram[UDP]
    data_sent = carried(datagram)
    return [
        (ip.dst != peer_ip, f"the IP destination is {ip.dst}, but peer_ip is {peer_ip} in this run: "
                            "use the arguments, addresses change from run to run"),
        ((udp.sport, udp.dport) == (peer_port, my_port),
         f"the ports are swapped: sport is your own port (my_port, {my_port}), dport the server's (peer_port)"),
        (udp.dport != peer_port, f"dport is {udp.dport}: this time the lab asked for peer_port={peer_port}; "
                                 "a datagram to any other port finds no socket there"),
        (udp.sport != my_port, f"sport is {udp.sport}: h2 answers to the port the datagram came from, "
                               f"so use my_port ({my_port}), where the lab waits for the answer"),
        (ip.src != my_ip, f"the IP source is {ip.src}, but my_ip is {my_ip} in this run: h2 answers to the "
                          "address the datagram came from"),
        (not data_sent, "the datagram carries no data: put it after the UDP header, IP(...) / UDP(...) / data"),
        (data_sent != data, f"the datagram carries {data_sent!r}, not the data you were given ({data!r}): "
                            "send the data argument, it changes from run to run"),
        (udp.len != HEADER + len(data_sent),
         f"the UDP length field says {udp.len}, but header and data are {HEADER} + {len(data_sent)} = "
         f"{HEADER + len(data_sent)} bytes: leave len unset and scapy fills it in"),
        (udp.chksum not in (0, udp_checksum(datagram)),
         f"the checksum is {udp.chksum:#06x}, but this datagram's is {udp_checksum(datagram):#06x}: h2's "
         "kernel silently drops a datagram whose checksum is wrong. Leave chksum unset, and after changing "
         "a field of a built packet, del packet[UDP].chksum so scapy computes it again"),
    ]


def grade_datagram(ev: dict, probe: dict, wire) -> Verdict:
    seen, verdict = sent_frame("datagram", ev, wire, SHAPE)
    if verdict:
        return verdict
    datagram = seen.packet
    my_ip, peer_ip, my_port, _, data = ev["args"]
    if verdict := first_mistake("datagram", f"sent {fields(datagram)}", datagram_mistakes(datagram, ev["args"])):
        return verdict
    if ev["fallback_at"] is not None:
        return Verdict("datagram", FAIL, f"sent {fields(datagram)}",
                       "h2's server did not echo it back to h1: check the addresses")
    if ev["received"] != data:
        return Verdict("datagram", FAIL, f"h2's recvfrom() returned {ev['received']!r}", LAB_FAULT)
    if verdict := grade_probe(probe, wire):
        return verdict
    between = [f for f in wire.between(ev["start"], ev["end"])
               if IP in f.packet and {f.packet[IP].src, f.packet[IP].dst} == {my_ip, peer_ip}]
    out = [f for f in between if UDP in f.packet and f.packet[IP].src == my_ip]
    back = [f for f in between if UDP in f.packet and f.packet[IP].src == peer_ip]
    if len(out) != 1 or len(back) != 1 or wire.tcp() or carried(back[0].packet) != data:
        return Verdict("datagram", FAIL, f"{len(out)} datagram(s) out, {len(back)} back, "
                                         f"{len(wire.tcp())} TCP segment(s)", LAB_FAULT)
    return Verdict("datagram", PASS,
                   f"{fields(datagram)} carrying the {len(data)} bytes asked for; h2's recvfrom() got them from "
                   f"{ev['address'][0]}:{ev['address'][1]} and echoed them: one datagram each way, no handshake; "
                   f"your datagram to {probe['args'][3]} drew a port unreachable")


def grade_probe(ev: dict, wire) -> Verdict | None:
    """The datagram to the unbound port: the same function, another peer_port."""
    closed = ev["args"][3]
    seen, verdict = sent_frame("datagram", ev, wire, SHAPE)
    if verdict:
        return verdict
    datagram = seen.packet
    detail = f"second datagram (peer_port={closed}): sent {fields(datagram)}"
    if verdict := first_mistake("datagram", detail, datagram_mistakes(datagram, ev["args"])):
        return verdict
    quoted = [f for f in wire.icmp(after=seen.time, type=3, code=3)
              if UDPerror in f.packet and f.packet[UDPerror].dport == closed]
    if ev["fallback_at"] is not None or not quoted:
        return Verdict("datagram", FAIL, detail, "h2 sent no port unreachable for it: check the addresses")
    return None


def wrong_case(cases: list[dict]):
    """(the Cases tally, the first case answered wrong, a detail line), for a pure function."""
    result = tally(cases)
    if result.wrong is None:
        return result, None, result.summary
    case = cases[result.wrong[0]]
    what = case.get("label") or ("h2's echo" if result.wrong[0] == 0 else "a case the lab made")
    if case["status"] == DONE:
        return result, case, f"{result.summary}; {what}: returned {brief(case['answer'])}, " \
                             f"the right answer is {brief(case['truth'])}"
    return result, case, f"{result.summary}; {what}: {case['status']}: {case['answer']}"


def brief(value) -> str:
    """A value's repr, cut to a report line's share."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(value)} bytes)"


def answer_hint(result, case: dict, kind: str) -> str | None:
    """The hint for a wrong answer that is no networking mistake: a constant, an error,
    a value of the wrong kind; None if the answer is a real one to look into."""
    if result.constant:
        return CONSTANT_HINT
    if case["status"] == WRONG:
        return f"return {kind}, whatever the arguments"
    if case["status"] in (RAISED, TIMEOUT):
        return "it failed on one of the lab's cases (the error is above): make it work for any datagram"
    if case["status"] != DONE:
        return "return an answer for every case"
    return None


def grade_parse(ev: dict) -> Verdict:
    cases = ev["cases"]
    result, case, detail = wrong_case(cases)
    if case is None:
        return Verdict("echo", PASS, f"{cases[0]['truth']!r}: the data after the 8-byte UDP header; {detail}")
    if hint := answer_hint(result, case, "bytes"):
        return Verdict("echo", FAIL, detail, hint)
    packet, value = IP(case["packet"]), case["answer"]
    mistakes = [
        (value == bytes(packet), "that is the whole IP packet; the data starts after the IP and UDP headers"),
        (value == bytes(packet[UDP]), "that still has the UDP header's 8 bytes in front; the data is what follows"),
        (value != case["truth"] and (case["truth"].startswith(value) or value.startswith(case["truth"])),
         "the data has its own length in each datagram: take all that follows the UDP header, not a fixed "
         "number of bytes"),
    ]
    return first_mistake("echo", detail, mistakes) or Verdict(
        "echo", FAIL, detail, "the data is what follows the UDP header: bytes(reply[UDP].payload)")


def grade_length(ev: dict) -> Verdict:
    echo = IP(ev["echo"])
    real, n = echo[UDP].len, len(payload(echo))
    if real != HEADER + n:
        return Verdict("length", FAIL, f"h2's echo says length={real} for {n} bytes", LAB_FAULT)
    cases = ev["cases"]
    result, case, detail = wrong_case(cases)
    if case is None:
        return Verdict("length", PASS, f"length = {HEADER}-byte header + {n} bytes of data = {real}, "
                                       f"as h2's kernel wrote it; {detail}")
    if hint := answer_hint(result, case, "an int"):
        return Verdict("length", FAIL, detail, hint)
    guess, size = case["answer"], case["truth"] - HEADER
    mistakes = [
        (guess == size, "the UDP length counts its own 8-byte header too (source port, destination port, "
                        "length, checksum: 2 bytes each): 8 + len(data)"),
        (guess == size + 20 + HEADER, "that is the IP packet's total length, with its 20-byte header; UDP's "
                                      "length field counts only the UDP header (8 bytes) and the data"),
    ]
    return first_mistake("length", detail, mistakes) or Verdict(
        "length", FAIL, detail, "the 8-byte UDP header plus the number of bytes of data")


FAMILY_HINTS = {
    "port": "ICMP type 3 (destination unreachable) with code 3 (port) is a port unreachable: "
            "check packet[ICMP].type == 3 and packet[ICMP].code == 3",
    "no ICMP": "a UDP datagram or a TCP segment has no ICMP layer at all: check ICMP in packet first",
    "code": "type 3 is a whole family, 'destination unreachable'; the code says what was unreachable: "
            "1 the host, 2 the protocol, 3 the port. Check the code too",
    "type": "a code means something only under its type: type 5 code 3 is a redirect, type 0 an echo reply, "
            "type 11 a time exceeded. Check the type too",
}


def grade_unreachable(ev: dict) -> Verdict:
    icmp = IP(ev["icmp"])
    if icmp[ICMP].type != 3 or icmp[ICMP].code != 3 or icmp[UDPerror].dport != ev["closed"]:
        return Verdict("unreachable", FAIL, f"h2 sent {icmp.summary()}", LAB_FAULT)
    cases = ev["cases"]
    result, case, detail = wrong_case(cases)
    if case is None:
        return Verdict("unreachable", PASS, f"True for ICMP type 3 code 3 only; {detail}: not for the echo, "
                                            "a TCP reset, other codes of type 3 or code 3 of other types")

    def only_without_icmp(*statuses) -> bool:
        found = [c for c in cases if c["status"] in statuses]
        return bool(found) and all(c["family"] == "no ICMP" for c in found)

    if only_without_icmp(RAISED, TIMEOUT):
        return Verdict("unreachable", FAIL, detail, "packet[ICMP] fails on a packet with no ICMP layer "
                                                    "(h2's echo, a TCP segment): check ICMP in packet first")
    if only_without_icmp(WRONG):
        return Verdict("unreachable", FAIL, detail, "packet.haslayer(ICMP) answers 0, not False, for a packet "
                                                    "with no ICMP layer: use ICMP in packet, or bool(...)")
    if hint := answer_hint(result, case, "True or False (a bool: 1 is not True)"):
        return Verdict("unreachable", FAIL, detail, hint)
    wrong = {c["family"] for c in cases if not right(c)}
    family = next(f for f in FAMILY_HINTS if f in wrong)
    return Verdict("unreachable", FAIL, detail, FAMILY_HINTS[family])


LAB = Lab(
    name="udp-basic",
    title="UDP: one datagram each way, no connection; and the ICMP port unreachable",
    topology="star",
    topology_args=(2,),
    exercise="udp_basic",
    todos=("build_datagram", "parse_echo", "udp_length", "is_port_unreachable"),
    returns={"build_datagram": Frame(IP, UDP), "parse_echo": bytes, "udp_length": int,
             "is_port_unreachable": bool},
    checks=(
        CheckSpec("datagram", "build_datagram",
                  "your datagram reaches h2's server with no handshake, and is echoed: one each way"),
        CheckSpec("echo", "parse_echo", "the data of h2's echo, as bytes"),
        CheckSpec("length", "udp_length", "the UDP length field: 8-byte header + data, as h2's kernel wrote it"),
        CheckSpec("unreachable", "is_port_unreachable", "ICMP type 3 code 3 recognised, and nothing else"),
    ),
    intro=INTRO,
    scenario=scenario,
    grade=grade,
)
