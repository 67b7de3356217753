"""udp-basic: one datagram each way, with no connection around it, against a real
kernel UDP socket; the length and checksum fields read from the capture; and the ICMP
port unreachable a kernel sends for a port nobody bound.

    h1 ---s1--- h2                         topologies/star.py, two hosts
    student's datagrams, from a port       kernel echo server on a port drawn for
    drawn for the run                      the run; another drawn port has no socket

Every run draws its ports and the data from run.rng (the engine draws the addresses),
so nothing of one run answers another. parse_echo, udp_length and is_port_unreachable
also get hidden cases the lab makes (lab/labs/_udp_cases.py), each with its right
answer known by construction.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, UDP, IPerror, UDPerror
from scapy.packet import Packet

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.errors import ScenarioError
from lab.exchange import WAIT, Sent, poll, to_frame, transmit
from lab.exercise import RAISED, TIMEOUT, WRONG
from lab.grading import LAB_FAULT, first_mistake, sent_frame
from lab.kinds import Frame
from lab.labs._udp_cases import (HEADER, Case, Drawn, answer_hint, call_cases, draw, echo_cases, hidden,
                                 length_cases, shown, unreachable_cases, wrong_case)
from lab.labs._udp_fields import carried, clean, fields, udp_checksum
from lab.labs._udp_server import Served, echo_answer, icmp_from, udp_state
from lab.wire import payload

UNKNOWN_PROTOCOL = 253  # "for experimentation" (RFC 3692): no kernel speaks it
SHAPE = "IP(src=..., dst=...) / UDP(sport=..., dport=...) / data"

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


@dataclass
class Evidence:
    """What the scenario saw; each check reads its part. Packets are IP packets' bytes."""

    datagram: Sent = Sent()                   # build_datagram to h2's echo server
    datagram_args: tuple = ()                 # (my_ip, peer_ip, my_port, peer_port, data)
    window: tuple[float, float] = (0.0, 0.0)  # that step's start and end
    served: Served | None = None              # what h2's server read, and from whom
    echo: bytes = b""                         # h2's echo, as h1 received it
    probe: Sent = Sent()                      # build_datagram to the port with no socket
    probe_args: tuple = ()
    parsed: tuple[Case, ...] = ()             # parse_echo on h2's echo, then the lab's
    lengths: tuple[Case, ...] = ()            # udp_length on the echo's data, then the lab's
    port_unreachable: bytes = b""             # h2's ICMP error for the probe
    closed: int = 0                           # the port with no socket
    unreachable: tuple[Case, ...] = ()        # is_port_unreachable, h2's error first


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    d = draw(run.rng, h1, h2)
    with run.step(f"Set-up: h2's echo server binds port {d.echo}; h1's kernel is kept quiet",
                  "The lab starts h2's server as any UDP server starts: socket(AF_INET, SOCK_DGRAM),\n"
                  "then bind((h2's address, the port)). No listen(), no accept(): there is no\n"
                  "connection to wait for, and nothing goes on the wire. h1's kernel has no socket\n"
                  "on the client port, so it would answer h2's echo with an ICMP port unreachable:\n"
                  "an nft rule in h1 drops h1's outgoing destination-unreachable messages (removed\n"
                  "at the end). Each host's ARP table gets the other's MAC from the lab, over netlink.",
                  ladder=("h1", "h2")):
        h1.firewall.add("icmp-guard", "output", "icmp type destination-unreachable")
        server = h2.socket(socket.SOCK_DGRAM)
        server.bind((h2.ip, d.echo))
        server.setblocking(False)
        run.introduce(h1, h2)
        run.state(h1, udp_state(h1, d.client))
        run.state(h2, udp_state(h2, d.echo))

    with run.step("h1 sends one datagram; h2's server echoes it (your build_datagram)",
                  "No handshake first: the first packet already carries the data. h2's kernel\n"
                  "queues it on the socket bound to the server's port; its application reads it\n"
                  "with recvfrom(), which also says who sent it, and answers with sendto() to that\n"
                  "address.",
                  ladder=("h1", "h2")) as step:
        run.evidence.datagram_args = args = (h1.ip, h2.ip, d.client, d.echo, d.data)
        sent = run.exchange("build_datagram", h1, h2, *args, answer=echo_answer(run, server, h1, h2, d))
        echo, run.evidence.served = sent.answer
        run.state(h2, udp_state(h2, d.echo))
        run.note(f"the datagram h2 took: {fields(clean(sent.packet))}")
        run.note(f"h2's echo:            {fields(echo)}")
    run.evidence.datagram, run.evidence.echo, run.evidence.window = sent.sent, bytes(echo), (step.start, step.end)

    with run.step("h1 reads the echo (your parse_echo and udp_length)",
                  "The lab hands your functions the datagram that came back, as h1 received it,\n"
                  "then more datagrams and data it made itself, in an order drawn for the run."):
        read(run, h1, echo, d)

    with run.step(f"A datagram to port {d.closed}, where no socket is bound (your build_datagram)",
                  "h2's kernel finds no socket for that port: it drops the datagram and tells the\n"
                  "sender with ICMP destination unreachable, type 3 code 3 (port unreachable), which\n"
                  "quotes the start of the datagram so the sender can tell which one failed. No\n"
                  "socket on h1 hears it: sendto() returned long ago. (For TCP, a reset says the same.)\n"
                  "Then the lab sends h2 an IP packet of protocol 253, which no kernel speaks: the\n"
                  "answer is type 3 again, with code 2 (protocol unreachable).",
                  ladder=("h1", "h2")):
        run.evidence.probe_args = args = (h1.ip, h2.ip, d.client, d.closed, d.probe)
        probe = run.exchange("build_datagram", h1, h2, *args, answer=icmp_from(h1, h2, 3, d.closed))
        port = probe.answer
        run.note(f"port {d.closed}: ICMP type {port[ICMP].type} code {port[ICMP].code}, quoting a datagram "
                 f"{port[IPerror].src}:{port[UDPerror].sport} > {port[IPerror].dst}:{port[UDPerror].dport}")
        run.event(f"the lab sends h2 an IP packet of protocol {UNKNOWN_PROTOCOL}")
        protocol = send_own(h1, h2, IP(src=h1.ip, dst=h2.ip, proto=UNKNOWN_PROTOCOL) / b"anyone?",
                            icmp_from(h1, h2, 2))
        run.note(f"protocol {UNKNOWN_PROTOCOL}: ICMP type {protocol[ICMP].type} code {protocol[ICMP].code}")
    run.evidence.probe, run.evidence.port_unreachable, run.evidence.closed = probe.sent, bytes(port), d.closed

    with run.step("Which of these is a port unreachable? (your is_port_unreachable)",
                  "Your function sees h2's two ICMP errors and its echo, and packets the lab made\n"
                  "without sending them, in an order drawn for the run: another port unreachable,\n"
                  "a redirect (ICMP type 5) with code 3, a host unreachable (3/1), a time exceeded,\n"
                  "an echo reply and a TCP reset. A code means something different under each type."):
        cases = call_cases(run, "is_port_unreachable", h1, unreachable_cases(run.rng, d, port, echo, protocol),
                           lambda c: (IP(c.arg),))
        for case in cases:
            run.note(f"{case.label}: {shown(case)}")
    run.evidence.unreachable = cases

    with run.step("h2's server closes its socket",
                  "close() on a UDP socket sends nothing: there is no connection to end, so no FIN\n"
                  "and no TIME_WAIT. The socket leaves h2's table, and the port is free again.",
                  ladder=("h1", "h2")):
        run.state(h2, udp_state(h2, d.echo))
        server.close()
        poll(lambda: "no UDP socket" in udp_state(h2, d.echo), WAIT)
        run.state(h2, udp_state(h2, d.echo))
        wire = run.wire()
        out, back = (len(wire.udp(sport=d.client)), len(wire.udp(dport=d.client)))
        run.note(f"on the wire in the whole run: {out} datagrams from h1, {back} from h2, "
                 f"{len(wire.tcp())} TCP segments: no connection was opened or closed")
        run.note(f"h1's guard dropped {h1.firewall.dropped('icmp-guard')} ICMP port unreachable that h1's "
                 "kernel tried to send: it had no socket for h2's echo")


def read(run, h1, echo: Packet, d: Drawn) -> None:
    """parse_echo and udp_length on h2's echo (the live case) and on the lab's own."""
    data = payload(echo)
    parsed = call_cases(run, "parse_echo", h1, [Case(bytes(echo), data), *echo_cases(run.rng, d)],
                        lambda c: (IP(c.arg),))
    lengths = call_cases(run, "udp_length", h1, [Case(data, echo[UDP].len), *length_cases(run.rng)],
                         lambda c: (c.arg,))
    run.note(f"parse_echo(h2's echo): {shown(parsed[0])}; {hidden(parsed)}")
    run.note(f"udp_length(the echo's {len(data)} bytes): {shown(lengths[0])}; {hidden(lengths)}")
    run.evidence.parsed, run.evidence.lengths = parsed, lengths


def send_own(h1, h2, packet: Packet, answer) -> Packet:
    """Send one of the lab's own packets from h1 and wait for h2's answer."""
    _, got, _ = transmit(h1, to_frame(packet, h1, h2)[0], answer, WAIT)
    if not isinstance(got, Packet):
        raise ScenarioError(f"{h2.name} did not answer the lab's own {packet.summary()}")
    return got


# --- grading: from the captured datagrams, h2's server and h2's ICMP errors ---

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


def grade_datagram(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.datagram, wire, SHAPE)
    if verdict:
        return verdict
    datagram = seen.packet
    my_ip, peer_ip, _, _, data = ev.datagram_args
    if verdict := first_mistake(f"sent {fields(datagram)}", datagram_mistakes(datagram, ev.datagram_args)):
        return verdict
    if ev.datagram.fallback_at is not None:
        return failed(f"sent {fields(datagram)}", "h2's server did not echo it back to h1: check the addresses")
    if ev.served is None or ev.served.data != data:
        return failed(f"h2's recvfrom() returned {ev.served and ev.served.data!r}", LAB_FAULT)
    if verdict := grade_probe(ev, wire):
        return verdict
    between = [f for f in wire.between(*ev.window)
               if IP in f.packet and {f.packet[IP].src, f.packet[IP].dst} == {my_ip, peer_ip}]
    out = [f for f in between if UDP in f.packet and f.packet[IP].src == my_ip]
    back = [f for f in between if UDP in f.packet and f.packet[IP].src == peer_ip]
    if len(out) != 1 or len(back) != 1 or wire.tcp() or carried(back[0].packet) != data:
        return failed(f"{len(out)} datagram(s) out, {len(back)} back, {len(wire.tcp())} TCP segment(s)", LAB_FAULT)
    host, port = ev.served.address
    return passed(f"{fields(datagram)} carrying the {len(data)} bytes asked for; h2's recvfrom() got them from "
                  f"{host}:{port} and echoed them: one datagram each way, no handshake; "
                  f"your datagram to {ev.probe_args[3]} drew a port unreachable")


def grade_probe(ev: Evidence, wire) -> Verdict | None:
    """The datagram to the unbound port: the same function, another peer_port."""
    closed = ev.probe_args[3]
    seen, verdict = sent_frame(ev.probe, wire, SHAPE)
    if verdict:
        return verdict
    datagram = seen.packet
    detail = f"second datagram (peer_port={closed}): sent {fields(datagram)}"
    if verdict := first_mistake(detail, datagram_mistakes(datagram, ev.probe_args)):
        return verdict
    quoted = [f for f in wire.icmp(after=seen.time, type=3, code=3)
              if UDPerror in f.packet and f.packet[UDPerror].dport == closed]
    if ev.probe.fallback_at is not None or not quoted:
        return failed(detail, "h2 sent no port unreachable for it: check the addresses")
    return None


def grade_parse(ev: Evidence, wire) -> Verdict:
    cases = ev.parsed
    result, case, detail = wrong_case(cases)
    if case is None:
        return passed(f"{cases[0].truth!r}: the data after the 8-byte UDP header; {detail}")
    if hint := answer_hint(result, case, "bytes"):
        return failed(detail, hint)
    packet, value = IP(case.arg), case.answer
    mistakes = [
        (value == bytes(packet), "that is the whole IP packet; the data starts after the IP and UDP headers"),
        (value == bytes(packet[UDP]), "that still has the UDP header's 8 bytes in front; the data is what follows"),
        (value != case.truth and (case.truth.startswith(value) or value.startswith(case.truth)),
         "the data has its own length in each datagram: take all that follows the UDP header, not a fixed "
         "number of bytes"),
    ]
    return first_mistake(detail, mistakes) or failed(
        detail, "the data is what follows the UDP header: bytes(reply[UDP].payload)")


def grade_length(ev: Evidence, wire) -> Verdict:
    echo = IP(ev.echo)
    real, n = echo[UDP].len, len(payload(echo))
    if real != HEADER + n:
        return failed(f"h2's echo says length={real} for {n} bytes", LAB_FAULT)
    result, case, detail = wrong_case(ev.lengths)
    if case is None:
        return passed(f"length = {HEADER}-byte header + {n} bytes of data = {real}, as h2's kernel wrote it; "
                      f"{detail}")
    if hint := answer_hint(result, case, "an int"):
        return failed(detail, hint)
    guess, size = case.answer, case.truth - HEADER
    mistakes = [
        (guess == size, "the UDP length counts its own 8-byte header too (source port, destination port, "
                        "length, checksum: 2 bytes each): 8 + len(data)"),
        (guess == size + 20 + HEADER, "that is the IP packet's total length, with its 20-byte header; UDP's "
                                      "length field counts only the UDP header (8 bytes) and the data"),
    ]
    return first_mistake(detail, mistakes) or failed(detail, "the 8-byte UDP header plus the number of bytes of data")


FAMILY_HINTS = {
    "port": "ICMP type 3 (destination unreachable) with code 3 (port) is a port unreachable: "
            "check packet[ICMP].type == 3 and packet[ICMP].code == 3",
    "no ICMP": "a UDP datagram or a TCP segment has no ICMP layer at all: check ICMP in packet first",
    "code": "type 3 is a whole family, 'destination unreachable'; the code says what was unreachable: "
            "1 the host, 2 the protocol, 3 the port. Check the code too",
    "type": "a code means something only under its type: type 5 code 3 is a redirect, type 0 an echo reply, "
            "type 11 a time exceeded. Check the type too",
}


def grade_unreachable(ev: Evidence, wire) -> Verdict:
    icmp = IP(ev.port_unreachable)
    if icmp[ICMP].type != 3 or icmp[ICMP].code != 3 or icmp[UDPerror].dport != ev.closed:
        return failed(f"h2 sent {icmp.summary()}", LAB_FAULT)
    cases = ev.unreachable
    result, case, detail = wrong_case(cases)
    if case is None:
        return passed(f"True for ICMP type 3 code 3 only; {detail}: not for the echo, "
                      "a TCP reset, other codes of type 3 or code 3 of other types")

    def only_without_icmp(*statuses) -> bool:
        found = [c for c in cases if c.status in statuses]
        return bool(found) and all(c.family == "no ICMP" for c in found)

    if only_without_icmp(RAISED, TIMEOUT):
        return failed(detail, "packet[ICMP] fails on a packet with no ICMP layer (h2's echo, a TCP segment): "
                              "check ICMP in packet first")
    if only_without_icmp(WRONG):
        return failed(detail, "packet.haslayer(ICMP) answers 0, not False, for a packet with no ICMP layer: "
                              "use ICMP in packet, or bool(...)")
    if hint := answer_hint(result, case, "True or False (a bool: 1 is not True)"):
        return failed(detail, hint)
    wrong = {c.family for c in cases if not c.right}
    family = next(f for f in FAMILY_HINTS if f in wrong)
    return failed(detail, FAMILY_HINTS[family])


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
                  "your datagram reaches h2's server with no handshake, and is echoed: one each way",
                  grade_datagram),
        CheckSpec("echo", "parse_echo", "the data of h2's echo, as bytes", grade_parse),
        CheckSpec("length", "udp_length", "the UDP length field: 8-byte header + data, as h2's kernel wrote it",
                  grade_length),
        CheckSpec("unreachable", "is_port_unreachable", "ICMP type 3 code 3 recognised, and nothing else",
                  grade_unreachable),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
