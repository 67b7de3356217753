"""udp-basic: one datagram each way, with no connection around it, against a real
kernel UDP socket; the length and checksum fields read from the capture; and the ICMP
port unreachable a kernel sends for a port nobody bound.

    h1 10.0.0.1 ---s1--- h2 10.0.0.2     topologies/star.py, two hosts
    student's datagrams, port 40000      kernel echo server, port 7000 (7001: no socket)
"""
from __future__ import annotations

import socket

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror, in4_chksum
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.errors import ScenarioError
from lab.exercise import DONE, RAISED, TIMEOUT
from lab.grading import LAB_FAULT, first_mistake, sent_frame
from lab.kinds import Frame
from lab.segments import Delivery, as_frame, poll
from lab.wire import payload, summary

ECHO, CLOSED, CLIENT = 7000, 7001, 40000
DATA = b"hello, h2\n"
PROBE = b"anyone on 7001?\n"
UNKNOWN_PROTOCOL = 253  # "for experimentation" (RFC 3692): no kernel speaks it
HEADER = 8              # bytes of a UDP header: source port, destination port, length, checksum
SHAPE = "IP(src=..., dst=...) / UDP(sport=..., dport=...) / data"
NO_UDP = ("the datagram has no UDP layer: IP(...) / UDP(sport=my_port, dport=peer_port) / data. "
          "Without it h2's kernel has no port number to find the socket by")
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


def echo_once(run, server: socket.socket, h1, h2):
    """A taken() for one datagram: h2's application reads it with recvfrom(), sends it
    back with sendto(), and the echo is seen arriving at h1's port CLIENT."""
    served: dict = {}

    def taken():
        if not served:
            try:
                server.recvfrom(65535, socket.MSG_PEEK)
            except BlockingIOError:
                return look(h1, h2, lambda p: False)  # an ICMP error, if h2 refused it
            run.state(h2, udp_state(h2, ECHO))
            data, address = server.recvfrom(65535)
            run.event(f"h2's server: recvfrom() -> {data!r}, {address}")
            run.event(f"h2's server: sendto({data!r}, {address})")
            server.sendto(data, address)
            served.update(data=data, address=address)
        echo = look(h1, h2, lambda p: UDP in p and (p[UDP].sport, p[UDP].dport) == (ECHO, CLIENT))
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


def datagram_frame(value, source, target) -> tuple[bytes | None, str]:
    """The frame to send for the student's datagram, or None and what is wrong with it."""
    if isinstance(value, Packet) and IP in value and TCP in value:
        return None, f"returned {value.summary()}: a TCP segment, not a UDP datagram"
    if isinstance(value, Packet) and IP in value and UDP not in value:
        return None, f"returned {value.summary()}: no UDP layer"
    return as_frame(value, source, target)


def deliver_datagram(run, source, target, args: tuple, taken_factory) -> Delivery:
    """Send the datagram build_datagram(*args) returns from source; taken_factory()
    gives a fresh taken() per attempt. If the student's datagram draws no answer, the
    reference's goes out instead (labelled), so the next steps have one to work on."""
    outcome = run.student("build_datagram", source, *args)
    data, problem = datagram_frame(outcome.value, source, target)
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
    """'UDP 40000 > 7000 length=18 checksum=0x1a2b (right)'"""
    udp = packet[UDP]
    right = udp.chksum == udp_checksum(packet)
    verdict = "no checksum" if udp.chksum == 0 else "right" if right else f"wrong, should be {udp_checksum(packet):#06x}"
    return f"UDP {udp.sport} > {udp.dport} length={udp.len} checksum={udp.chksum:#06x} ({verdict})"


def redirect(h1, h2) -> Packet:
    """An ICMP redirect (type 5) with code 3, as a router could send: made, never sent."""
    quoted = IP(src=h1.ip, dst="192.0.2.1") / UDP(sport=CLIENT, dport=ECHO)
    return IP(bytes(IP(src=h2.ip, dst=h1.ip) / ICMP(type=5, code=3, gw=h2.ip) / bytes(quoted)[:28]))


# --- the scenario ---

def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    with run.step("Set-up: h2's echo server binds port 7000; h1's kernel is kept quiet",
                  "The lab starts h2's server as any UDP server starts: socket(AF_INET, SOCK_DGRAM),\n"
                  "then bind(('10.0.0.2', 7000)). No listen(), no accept(): there is no connection to\n"
                  "wait for, and nothing goes on the wire. h1's kernel has no socket on port 40000,\n"
                  "so it would answer h2's echo with an ICMP port unreachable: an nft rule in h1 drops\n"
                  "h1's outgoing destination-unreachable messages (removed at the end).\n"
                  "A ping lets both kernels learn each other's MAC first (ARP).",
                  ladder=("h1", "h2")):
        h1.firewall.add("icmp-guard", "output", "icmp type destination-unreachable")
        server = h2.socket(socket.SOCK_DGRAM)
        server.bind((h2.ip, ECHO))
        server.setblocking(False)
        h1.cmd("ping -c1 -W1", h2.ip)
        run.state(h1, udp_state(h1, CLIENT))
        run.state(h2, udp_state(h2, ECHO))

    with run.step("h1 sends one datagram; h2's server echoes it (your build_datagram)",
                  "No handshake first: the first packet already carries the data. h2's kernel\n"
                  "queues it on the socket bound to port 7000; its application reads it with\n"
                  "recvfrom(), which also says who sent it, and answers with sendto() to that address.",
                  ladder=("h1", "h2")) as step:
        sent = deliver_datagram(run, h1, h2, (h1.ip, h2.ip, CLIENT, ECHO, DATA),
                                lambda: echo_once(run, server, h1, h2))
        echo, served = sent.answer
        echo = clean(echo)
        run.state(h2, udp_state(h2, ECHO))
        run.note(f"the datagram h2 took: {fields(sent.segment)}")
        run.note(f"h2's echo:            {fields(echo)}")
    run.evidence["echo"] = {**sent.evidence(), "start": step.start, "end": step.end,
                            "received": served["data"], "address": served["address"], "echo": bytes(echo)}

    with run.step("h1 reads the echo (your parse_echo and udp_length)",
                  "The lab hands your functions the datagram that came back, as h1 received it."):
        data = run.student("parse_echo", h1, echo).value
        guess = run.student("udp_length", h1, payload(echo)).value
        run.note(f"parse_echo gave {data!r}; the echo carried {payload(echo)!r}")
        run.note(f"udp_length({payload(echo)!r}) gave {guess!r}; h2's kernel wrote length={echo[UDP].len}")
    run.evidence["parse"] = {"echo": bytes(echo), "value": shown_value(data)}
    run.evidence["length"] = {"echo": bytes(echo), "guess": guess}

    with run.step("A datagram to port 7001, where no socket is bound (your build_datagram)",
                  "h2's kernel finds no socket for port 7001: it drops the datagram and tells the\n"
                  "sender with ICMP destination unreachable, type 3 code 3 (port unreachable), which\n"
                  "quotes the start of the datagram so the sender can tell which one failed. No\n"
                  "socket on h1 hears it: sendto() returned long ago. (For TCP, a reset says the same.)\n"
                  "Then the lab sends h2 an IP packet of protocol 253, which no kernel speaks: the\n"
                  "answer is type 3 again, with code 2 (protocol unreachable).",
                  ladder=("h1", "h2")) as step:
        probe = deliver_datagram(run, h1, h2, (h1.ip, h2.ip, CLIENT, CLOSED, PROBE),
                                 lambda: icmp_from(h1, h2, 3, CLOSED))
        port_unreachable = probe.answer
        run.note(f"port 7001: ICMP type {port_unreachable[ICMP].type} code {port_unreachable[ICMP].code}, "
                 f"quoting a datagram {port_unreachable[IPerror].src}:{port_unreachable[UDPerror].sport} > "
                 f"{port_unreachable[IPerror].dst}:{port_unreachable[UDPerror].dport}")
        run.event(f"the lab sends h2 an IP packet of protocol {UNKNOWN_PROTOCOL}")
        protocol_unreachable = send_own(h1, h2, IP(src=h1.ip, dst=h2.ip, proto=UNKNOWN_PROTOCOL) / b"anyone?",
                                        icmp_from(h1, h2, 2))
        run.note(f"protocol {UNKNOWN_PROTOCOL}: ICMP type {protocol_unreachable[ICMP].type} "
                 f"code {protocol_unreachable[ICMP].code}")
    run.evidence["probe"] = {**probe.evidence(), "start": step.start, "end": step.end}

    with run.step("Which of these is a port unreachable? (your is_port_unreachable)",
                  "Your function sees h2's two ICMP errors, h2's echo, and a redirect (ICMP type 5)\n"
                  "with code 3 that the lab made without sending it: a code means something\n"
                  "different under each type."):
        cases = [("h2's port unreachable (ICMP 3/3)", port_unreachable, True),
                 ("h2's echo (UDP, no ICMP)", echo, False),
                 ("h2's protocol unreachable (ICMP 3/2)", protocol_unreachable, False),
                 ("a redirect (ICMP 5/3), not sent", redirect(h1, h2), False)]
        answers = []
        for label, packet, expected in cases:
            outcome = run.student("is_port_unreachable", h1, packet)
            answers.append({"label": label, "expected": expected, "answer": shown_value(outcome.value),
                            "status": outcome.status})
            mark = "right" if outcome.value is expected else f"should be {expected}"
            run.note(f"{label}: {outcome.value!r} ({mark})" if outcome.by_student
                     else f"{label}: {outcome.value!r} (reference)")
    run.evidence["unreachable"] = {"answers": answers, "icmp": bytes(port_unreachable)}

    with run.step("h2's server closes its socket",
                  "close() on a UDP socket sends nothing: there is no connection to end, so no FIN\n"
                  "and no TIME_WAIT. The socket leaves h2's table, and port 7000 is free again.",
                  ladder=("h1", "h2")):
        run.state(h2, udp_state(h2, ECHO))
        server.close()
        poll(lambda: "no UDP socket" in udp_state(h2, ECHO), WAIT)
        run.state(h2, udp_state(h2, ECHO))
        wire = run.wire()
        out, back = (len(wire.udp(sport=CLIENT)), len(wire.udp(dport=CLIENT)))
        run.note(f"on the wire in the whole run: {out} datagrams from h1, {back} from h2, "
                 f"{len(wire.tcp())} TCP segments: no connection was opened or closed")
        run.note(f"h1's guard dropped {h1.firewall.dropped('icmp-guard')} ICMP port unreachable that h1's "
                 "kernel tried to send: it had no socket for h2's echo")


def shown_value(value):
    """A returned value as grading needs it: as it is, unless it is a scapy packet."""
    if isinstance(value, Packet):
        return {"packet": value.summary(), "bytes": bytes(value)}
    return value


# --- grading: from the captured datagrams, h2's server and h2's ICMP errors ---

def grade(evidence: dict, wire) -> list[Verdict]:
    return [grade_datagram(evidence["echo"], evidence["probe"], wire), grade_parse(evidence["parse"]),
            grade_length(evidence["length"]), grade_unreachable(evidence["unreachable"])]


def datagram_mistakes(datagram: Packet, dport: int, data: bytes) -> list[tuple[bool, str]]:
    ip, udp = datagram[IP], datagram[UDP]
    data_sent = carried(datagram)
    return [
        (ip.dst != "10.0.0.2", "the IP destination must be peer_ip, h2's address"),
        ((udp.sport, udp.dport) == (dport, CLIENT),
         f"the ports are swapped: sport is your own port (my_port, {CLIENT}), dport the server's (peer_port)"),
        (udp.dport != dport, f"dport is {udp.dport}: this time the lab asked for peer_port={dport}; "
                             "a datagram to any other port finds no socket there"),
        (udp.sport != CLIENT, f"sport is {udp.sport}: h2 answers to the port the datagram came from, "
                              f"so use my_port ({CLIENT}), where the lab waits for the answer"),
        (ip.src != "10.0.0.1", "the IP source must be my_ip: h2 answers to the address the datagram came from"),
        (not data_sent, "the datagram carries no data: put it after the UDP header, IP(...) / UDP(...) / data"),
        (data_sent != data, f"the datagram carries {data_sent!r}, not the data you were given ({data!r})"),
        (udp.len != HEADER + len(data_sent),
         f"the UDP length field says {udp.len}, but header and data are {HEADER} + {len(data_sent)} = "
         f"{HEADER + len(data_sent)} bytes: leave len unset and scapy fills it in"),
        (udp.chksum not in (0, udp_checksum(datagram)),
         f"the checksum is {udp.chksum:#06x}, but this datagram's is {udp_checksum(datagram):#06x}: h2's "
         "kernel silently drops a datagram whose checksum is wrong. Leave chksum unset, and after changing "
         "a field of a built packet, del packet[UDP].chksum so scapy computes it again"),
    ]


def grade_datagram(ev: dict, probe: dict, wire) -> Verdict:
    if ev["problem"]:
        hint = NO_UDP if "no UDP layer" in ev["problem"] else f"return a whole packet: {SHAPE}"
        return Verdict("datagram", FAIL, ev["problem"], hint)
    seen, verdict = sent_frame("datagram", ev, wire, SHAPE)
    if verdict:
        return verdict
    datagram = seen.packet
    if verdict := first_mistake("datagram", f"sent {fields(datagram)}", datagram_mistakes(datagram, ECHO, DATA)):
        return verdict
    if ev["fallback_at"] is not None:
        return Verdict("datagram", FAIL, f"sent {fields(datagram)}",
                       "h2's server did not echo it back to h1: check the addresses")
    if ev["received"] != DATA:
        return Verdict("datagram", FAIL, f"h2's recvfrom() returned {ev['received']!r}", LAB_FAULT)
    if verdict := grade_probe(probe, wire):
        return verdict
    between = [f for f in wire.between(ev["start"], ev["end"])
               if IP in f.packet and {f.packet[IP].src, f.packet[IP].dst} == {"10.0.0.1", "10.0.0.2"}]
    out = [f for f in between if UDP in f.packet and f.packet[IP].src == "10.0.0.1"]
    back = [f for f in between if UDP in f.packet and f.packet[IP].src == "10.0.0.2"]
    if len(out) != 1 or len(back) != 1 or wire.tcp():
        return Verdict("datagram", FAIL, f"{len(out)} datagram(s) out, {len(back)} back, "
                                         f"{len(wire.tcp())} TCP segment(s)", LAB_FAULT)
    return Verdict("datagram", PASS,
                   f"{fields(datagram)}; h2's recvfrom() got {DATA!r} from {ev['address'][0]}:{ev['address'][1]} "
                   f"and echoed it: one datagram each way, no handshake; your datagram to {CLOSED} "
                   "drew a port unreachable")


def grade_probe(ev: dict, wire) -> Verdict | None:
    """The datagram to the unbound port: the same function, another peer_port."""
    if ev["problem"]:
        return Verdict("datagram", FAIL, f"second datagram (peer_port={CLOSED}): {ev['problem']}",
                       NO_UDP if "no UDP layer" in ev["problem"] else f"return a whole packet: {SHAPE}")
    seen, verdict = sent_frame("datagram", ev, wire, SHAPE)
    if verdict:
        return verdict
    datagram = seen.packet
    detail = f"second datagram (peer_port={CLOSED}): sent {fields(datagram)}"
    if verdict := first_mistake("datagram", detail, datagram_mistakes(datagram, CLOSED, PROBE)):
        return verdict
    quoted = [f for f in wire.icmp(after=seen.time, type=3, code=3)
              if UDPerror in f.packet and f.packet[UDPerror].dport == CLOSED]
    if ev["fallback_at"] is not None or not quoted:
        return Verdict("datagram", FAIL, detail, "h2 sent no port unreachable for it: check the addresses")
    return None


def grade_parse(ev: dict) -> Verdict:
    echo = IP(ev["echo"])
    data, value = payload(echo), ev["value"]
    detail = f"returned {value['packet'] if isinstance(value, dict) else repr(value)}; the echo carried {data!r}"
    if value == data:
        return Verdict("echo", PASS, f"{data!r}: the {len(data)} bytes after the 8-byte UDP header")
    raw = value["bytes"] if isinstance(value, dict) else value
    mistakes = [
        (isinstance(value, str) and value.encode() == data,
         "return bytes, as the datagram carried them: a datagram's data is bytes, not text (no .decode())"),
        (isinstance(value, dict) and raw == data,
         "return bytes, not a scapy layer: bytes(reply[UDP].payload) or reply[Raw].load"),
        (raw == bytes(echo), "that is the whole IP packet; the data starts after the IP and UDP headers"),
        (raw == bytes(echo[UDP]), "that still has the UDP header's 8 bytes in front; the data is what follows"),
        (isinstance(value, dict) and raw != data, "return the bytes after the UDP header: bytes(reply[UDP].payload)"),
    ]
    return first_mistake("echo", detail, mistakes) or Verdict(
        "echo", FAIL, detail, "the data is what follows the UDP header: bytes(reply[UDP].payload)")


def grade_length(ev: dict) -> Verdict:
    echo = IP(ev["echo"])
    real, n, guess = echo[UDP].len, len(payload(echo)), ev["guess"]
    if real != HEADER + n:
        return Verdict("length", FAIL, f"h2's echo says length={real} for {n} bytes", LAB_FAULT)
    detail = f"you said {guess!r} for {n} bytes of data; h2's kernel wrote length={real}"
    if type(guess) is int and guess == real:
        return Verdict("length", PASS, f"length = {HEADER}-byte header + {n} bytes of data = {real}, "
                                       "as h2's kernel wrote it")
    mistakes = [
        (not isinstance(guess, int) or isinstance(guess, bool), "return a number (an int)"),
        (guess == n, "the UDP length counts its own 8-byte header too (source port, destination port, "
                     "length, checksum: 2 bytes each): 8 + len(data)"),
        (guess == n + 20 + HEADER, "that is the IP packet's total length, with its 20-byte header; UDP's "
                                   "length field counts only the UDP header (8 bytes) and the data"),
    ]
    return first_mistake("length", detail, mistakes) or Verdict(
        "length", FAIL, detail, "the 8-byte UDP header plus the number of bytes of data")


def grade_unreachable(ev: dict) -> Verdict:
    icmp = IP(ev["icmp"])
    if icmp[ICMP].type != 3 or icmp[ICMP].code != 3 or icmp[UDPerror].dport != CLOSED:
        return Verdict("unreachable", FAIL, f"h2 sent {icmp.summary()}", LAB_FAULT)
    answers = ev["answers"]
    detail = "; ".join(f"{a['label']}: {a['answer']!r}" for a in answers)
    port, echo, protocol, redirect_ = (a["answer"] for a in answers)
    if any(a["status"] in (RAISED, TIMEOUT) for a in answers):
        # the engine shows the error; the hint is ours only when we know what it means
        if answers[1]["status"] == RAISED and all(a["status"] == DONE for a in answers[:1] + answers[2:]):
            return Verdict("unreachable", FAIL, detail, "h2's echo is UDP with no ICMP layer at all, so "
                                                        "packet[ICMP] fails on it: check ICMP in packet first")
        return Verdict("unreachable", FAIL, detail, "")
    mistakes = [
        (any(not isinstance(a["answer"], bool) for a in answers), "return True or False"),
        (port is not True, "h2's answer was ICMP type 3 (destination unreachable) with code 3 (port): "
                           "check packet[ICMP].type == 3 and packet[ICMP].code == 3"),
        (echo is not False, "a normal reply is UDP with no ICMP layer at all: check ICMP in packet first"),
        (protocol is not False, "type 3 is a whole family, 'destination unreachable'; the code says what "
                                "was unreachable: 2 is the protocol, 3 the port. Check the code too"),
        (redirect_ is not False, "code 3 means port unreachable only under type 3: type 5 code 3 is a "
                                 "redirect. Check the type too"),
    ]
    return first_mistake("unreachable", detail, mistakes) or Verdict(
        "unreachable", PASS, "True for ICMP type 3 code 3 only: not for the echo, the protocol "
                             "unreachable (3/2) or the redirect (5/3)")


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
