"""Grading of udp-basic from hand-made captures and hand-made answers: each check's
right answer and each typical wrong one with its hint, the length and checksum read
back, the values each run draws, the hidden cases of the pure functions and how the
report shows them, and the answer conditions h1 waits on, without a network.

Grading reads only the evidence (udp_basic.Evidence) and the captured frames, so here
both are built by hand; answers go through the kinds the lab declares, as the engine
checks them."""
from __future__ import annotations

import dataclasses
import errno
import ipaddress
import random
import re
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.inet6 import ICMPv6ND_RS, IPv6
from scapy.layers.l2 import ARP, Ether

from lab import kinds
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exchange import Refusal, Sent
from lab.exercise import DONE, RAISED, TIMEOUT, TODO, WRONG, Outcome
from lab.grading import CONSTANT_HINT, LAB_FAULT
from lab.kernel import Sock
from lab.labs import _udp_cases, _udp_fields, _udp_server, udp_basic
from lab.labs._udp_cases import Case, Drawn
from lab.labs._udp_server import Served
from lab.wire import Wire

H1, H2 = "10.9.8.1", "10.9.8.2"
D = Drawn(h1=H1, h2=H2, client=51234, echo=23456, closed=34567, data=b"hello echo this way",
          probe=b"anyone on 34567? udp")
ECHO_ARGS = (H1, H2, D.client, D.echo, D.data)
PROBE_ARGS = (H1, H2, D.client, D.closed, D.probe)
KIND = udp_basic.LAB.returns  # what the engine holds each TODO's answer to


def frame(packet) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet)


def datagram(src=H1, dst=H2, sport=D.client, dport=D.echo, data=D.data, **udp) -> bytes:
    return frame(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport, **udp) / data)


def port_unreachable(quoted: bytes, code: int = 3) -> bytes:
    return frame(IP(src=H2, dst=H1) / ICMP(type=3, code=code) / Ether(quoted)[IP])


def wire_of(frames) -> Wire:
    return Wire([Frame(at, "s1-eth1", data) for at, data in frames])


def echo_exchange(sent: bytes, second: bytes | None = None, *, answer: bytes | None = None, **changes):
    """The evidence and the wire of a whole run in which h1 sent `sent` first, then
    `second` (the reference's by default) to the closed port, which h2 answered with
    `answer` (a port unreachable quoting it by default); changes: Evidence fields."""
    echo = datagram(H2, H1, D.echo, D.client)
    second = second or datagram(dport=D.closed, data=D.probe)
    answer = port_unreachable(second) if answer is None else answer
    frames = [(1.0, sent), (1.001, echo), (2.0, second)] + ([(2.001, answer)] if answer else [])
    ev = udp_basic.Evidence(datagram=Sent("", sent, 1.0), datagram_args=ECHO_ARGS, window=(0.99, 1.01),
                            served=Served(D.data, (H1, D.client)), echo=bytes(Ether(echo)[IP]),
                            probe=Sent("", second, 2.0), probe_args=PROBE_ARGS)
    return dataclasses.replace(ev, **changes), wire_of(frames)


def datagram_verdict(sent: bytes, second: bytes | None = None, **changes):
    return udp_basic.grade_datagram(*echo_exchange(sent, second, **changes))


# --- the datagram check ---

def test_checksum_recomputed_as_scapy_and_the_kernel_compute_it():
    packet = Ether(datagram())
    assert _udp_fields.udp_checksum(packet) == packet[UDP].chksum
    assert packet[UDP].len == 8 + len(D.data)
    assert "(right)" in _udp_fields.fields(packet)
    assert "wrong, should be" in _udp_fields.fields(Ether(datagram(chksum=0x1234)))


def test_a_checksum_summing_to_zero_is_sent_as_ffff():
    """RFC 768: a computed checksum of 0 goes out as 0xffff, since 0 means 'none'."""
    data = b"even length!"
    first = Ether(datagram(data=data + b"\0\0"))[UDP].chksum  # with two more bytes of that value, the sum is 0
    packet = Ether(datagram(data=data + first.to_bytes(2, "big")))
    assert packet[UDP].chksum == 0xFFFF == _udp_fields.udp_checksum(packet)
    assert "(right)" in _udp_fields.fields(packet)
    args = (*ECHO_ARGS[:4], _udp_fields.carried(packet))
    assert not [hint for wrong, hint in udp_basic.datagram_mistakes(packet, args) if wrong]


def test_the_reference_datagram_passes():
    verdict = datagram_verdict(datagram())
    assert verdict.status == PASS and "one datagram each way, no handshake" in verdict.detail
    assert f"from {H1}:{D.client}" in verdict.detail and f"to {D.closed} drew a port unreachable" in verdict.detail


RIGHT_CHECKSUM = Ether(datagram())[UDP].chksum


@pytest.mark.parametrize("sent, hint", [
    (datagram(dst="10.9.8.3"), "the IP destination is 10.9.8.3, but peer_ip is 10.9.8.2 in this run: "
                               "use the arguments, addresses change from run to run"),
    (datagram(sport=D.echo, dport=D.client),
     "the ports are swapped: sport is your own port (my_port, 51234), dport the server's (peer_port)"),
    (datagram(dport=D.closed), "dport is 34567: this time the lab asked for peer_port=23456; "
                               "a datagram to any other port finds no socket there"),
    (datagram(sport=40000), "sport is 40000: h2 answers to the port the datagram came from, "
                            "so use my_port (51234), where the lab waits for the answer"),
    (datagram(src="10.9.8.9"), "the IP source is 10.9.8.9, but my_ip is 10.9.8.1 in this run: h2 answers to the "
                               "address the datagram came from"),
    (datagram(data=b""), "the datagram carries no data: put it after the UDP header, IP(...) / UDP(...) / data"),
    (datagram(data=b"hello, h2\n"), "the datagram carries b'hello, h2\\n', not the data you were given "
                                    "(b'hello echo this way'): send the data argument, it changes from run to run"),
    (datagram(len=10), "the UDP length field says 10, but header and data are 8 + 19 = 27 bytes: "
                       "leave len unset and scapy fills it in"),
    (datagram(chksum=0x1234), f"the checksum is 0x1234, but this datagram's is {RIGHT_CHECKSUM:#06x}: h2's kernel "
                              "silently drops a datagram whose checksum is wrong. Leave chksum unset, and after "
                              "changing a field of a built packet, del packet[UDP].chksum so scapy computes it again"),
], ids=["destination", "swapped", "dport", "sport", "source", "no-data", "other-data", "length", "checksum"])
def test_datagram_mistakes(sent, hint):
    verdict = datagram_verdict(sent)
    assert verdict.status == FAIL and verdict.hint == hint, verdict
    assert verdict.detail == f"sent {_udp_fields.fields(Ether(sent))}"


def test_values_of_another_run_fail_with_a_hint_that_says_so():
    def hint(sent: bytes) -> str:
        return datagram_verdict(sent).hint
    assert "peer_ip is 10.9.8.2 in this run" in hint(datagram(src="10.0.0.1", dst="10.0.0.2"))
    assert "my_ip is 10.9.8.1 in this run" in hint(datagram(src="10.0.0.1"))
    assert "this time the lab asked for peer_port=23456" in hint(datagram(sport=40000, dport=7000))
    assert "not the data you were given" in hint(datagram(data=b"hello, h2\n"))


def test_a_zero_checksum_means_none_and_is_accepted():
    sent = bytearray(datagram())
    sent[14 + 20 + 6:14 + 20 + 8] = b"\0\0"
    verdict = datagram_verdict(bytes(sent))
    assert verdict.status == PASS and "(no checksum)" in verdict.detail


def test_not_a_packet_is_reported_with_the_shape_to_return():
    verdict = datagram_verdict(datagram(), datagram=Sent("returned bytes, not a scapy packet"))
    assert verdict.status == FAIL and verdict.detail == "returned bytes, not a scapy packet"
    assert "return a whole packet: IP(src=..., dst=...) / UDP(sport=..., dport=...) / data" in verdict.hint


def test_a_datagram_missing_from_the_capture_is_the_labs_fault():
    verdict = datagram_verdict(datagram(), datagram=Sent("", datagram(), 5.0))
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT


def test_a_right_looking_datagram_the_server_did_not_echo_fails():
    verdict = datagram_verdict(datagram(), datagram=Sent("", datagram(), 1.0, 1.5))
    assert verdict.status == FAIL and verdict.hint == "h2's server did not echo it back to h1: check the addresses"
    assert verdict.detail == f"sent {_udp_fields.fields(Ether(datagram()))}"


@pytest.mark.parametrize("served", [None, Served(b"something else", (H1, D.client))])
def test_the_server_reading_other_data_is_the_labs_fault(served):
    verdict = datagram_verdict(datagram(), served=served)
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT and "recvfrom() returned" in verdict.detail


def test_more_datagrams_or_a_tcp_segment_in_the_run_are_the_labs_fault():
    ev, wire = echo_exchange(datagram())
    extra = frame(IP(src=H1, dst=H2) / TCP(sport=D.client, dport=D.echo, flags="S"))
    for more in [(1.005, datagram(data=D.data + b"!")), (3.0, extra)]:
        verdict = udp_basic.grade_datagram(ev, wire_of([(f.time, f.data) for f in wire.frames] + [more]))
        assert verdict.status == FAIL and verdict.hint == LAB_FAULT and "TCP segment(s)" in verdict.detail


def test_an_echo_carrying_other_data_is_the_labs_fault():
    ev, wire = echo_exchange(datagram())
    frames = [(f.time, f.data) for f in wire.frames]
    frames[1] = (1.001, datagram(H2, H1, D.echo, D.client, data=b"not what was sent"))
    verdict = udp_basic.grade_datagram(ev, wire_of(frames))
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT
    assert verdict.detail == "1 datagram(s) out, 1 back, 0 TCP segment(s)"


def test_other_traffic_during_the_exchange_is_not_counted():
    """An ARP request, an IPv6 router solicitation, a datagram between other hosts: not
    the two datagrams the check counts."""
    ev, wire = echo_exchange(datagram())
    others = [frame(IP(src=H2, dst="10.9.8.3") / UDP(sport=D.echo, dport=D.client) / D.data),
              bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=H1, pdst=H2)),
              bytes(Ether(dst="33:33:00:00:00:02") / IPv6(src="fe80::1", dst="ff02::2") / ICMPv6ND_RS())]
    frames = [(f.time, f.data) for f in wire.frames] + [(1.0005, data) for data in others]
    verdict = udp_basic.grade_datagram(ev, wire_of(sorted(frames, key=lambda f: f[0])))
    assert verdict.status == PASS, verdict


def test_a_fixed_port_shows_in_the_second_datagram():
    wrong = datagram(data=D.probe)  # to the echo port again, though the lab asked for the closed one
    verdict = datagram_verdict(datagram(), wrong, answer=b"", probe=Sent("", wrong, 2.0, 2.5))
    assert verdict.status == FAIL and "peer_port=34567" in verdict.hint
    assert verdict.detail.startswith("second datagram (peer_port=34567)")


def test_a_second_datagram_that_is_not_a_packet_is_reported():
    verdict = datagram_verdict(datagram(), probe=Sent("returned NoneType, not a scapy packet"))
    assert verdict.status == FAIL and verdict.detail == "returned NoneType, not a scapy packet"
    assert verdict.hint == "return a whole packet: IP(src=..., dst=...) / UDP(sport=..., dport=...) / data"


@pytest.mark.parametrize("answer, fallback_at", [
    (b"", None),                                                          # h2 said nothing
    (port_unreachable(datagram(dport=D.closed + 1, data=D.probe)), None),  # about another port
    (port_unreachable(datagram(dport=D.closed, data=D.probe), code=1), None),  # not a port unreachable
    (None, 2.5),                                                          # the reference's drew it
    (frame(IP(src=H2, dst=H1) / ICMP(type=5, code=3, gw=H2)                # a redirect quoting it
           / Ether(datagram(dport=D.closed, data=D.probe))[IP]), None),
], ids=["silence", "other-port", "other-code", "fallback", "redirect"])
def test_a_second_datagram_without_its_port_unreachable_fails(answer, fallback_at):
    probe = datagram(dport=D.closed, data=D.probe)
    verdict = datagram_verdict(datagram(), probe, answer=answer, probe=Sent("", probe, 2.0, fallback_at))
    assert verdict.status == FAIL and verdict.hint == "h2 sent no port unreachable for it: check the addresses"
    assert verdict.detail == f"second datagram (peer_port=34567): sent {_udp_fields.fields(Ether(probe))}"


def test_a_port_unreachable_from_before_the_second_datagram_is_not_its_answer():
    probe = datagram(dport=D.closed, data=D.probe)
    ev, wire = echo_exchange(datagram(), probe, answer=b"")
    early = (1.5, port_unreachable(probe))
    verdict = udp_basic.grade_datagram(ev, wire_of(sorted([(f.time, f.data) for f in wire.frames] + [early])))
    assert verdict.status == FAIL and verdict.hint == "h2 sent no port unreachable for it: check the addresses"


# --- the values a run draws ---

def test_each_run_draws_its_ports_and_data():
    hosts = SimpleNamespace(ip=H1), SimpleNamespace(ip=H2)
    drawn = [_udp_cases.draw(random.Random(seed), *hosts) for seed in range(40)]
    assert len({len(d.data) for d in drawn}) >= 10, "a hard-coded length must fail"
    assert len({d.data for d in drawn}) == 40 and len({d.echo for d in drawn}) > 30
    for d in drawn:
        assert (d.h1, d.h2) == (H1, H2)
        assert d.client in _udp_cases.CLIENT_PORTS and d.echo in _udp_cases.SERVER_PORTS
        assert d.closed in _udp_cases.CLOSED_PORTS and str(d.closed).encode() in d.probe
    assert _udp_cases.draw(random.Random(7), *hosts) == _udp_cases.draw(random.Random(7), *hosts)


def test_no_drawn_port_is_one_scapy_names_a_protocol_for():
    """The student may import scapy.all: a port bound to a protocol would dissect the data as DNS, say."""
    code = ("from scapy.all import UDP\n"
            "print(sorted({v for a, b in UDP.payload_guess for d in (a, b) if isinstance(d, dict)"
            " for k, v in d.items() if k in ('sport', 'dport')}))")
    bound = eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 53 in bound
    for ports in (_udp_cases.SERVER_PORTS, _udp_cases.CLOSED_PORTS, _udp_cases.CLIENT_PORTS):
        assert not [p for p in bound if p in ports]


# --- pure functions: the live case and the hidden ones ---

def answers(cases: list[Case], function, todo: str) -> tuple[Case, ...]:
    """The cases answered by function as the engine would: a value of another kind than
    the lab declares for todo, or an exception, is no answer."""
    done = []
    for case in cases:
        args = (case.arg,) if todo == "udp_length" else (IP(case.arg),)
        try:
            value = function(*args)
        except Exception as exc:
            done.append(dataclasses.replace(case, status=RAISED, answer=f"{type(exc).__name__}: {exc}"))
            continue
        wrong = kinds.problem(value, KIND[todo])
        done.append(dataclasses.replace(case, status=WRONG if wrong else DONE, answer=wrong or value))
    return tuple(done)


def echo_packet() -> bytes:
    return bytes(IP(datagram(H2, H1, D.echo, D.client)[14:]))


def parse(function, change=None):
    cases = answers([Case(echo_packet(), D.data), *_udp_cases.echo_cases(random.Random(1), D)], function, "parse_echo")
    if change:
        cases = (*cases[:-1], dataclasses.replace(cases[-1], **change))
    return udp_basic.grade_parse(udp_basic.Evidence(parsed=cases), Wire([]))


def right_parse(reply):
    return bytes(reply[UDP].payload)


def test_parse_echo_graded_on_hidden_cases():
    right = parse(right_parse)
    assert right.status == PASS and "right in 5 of 5 cases" in right.detail
    assert repr(D.data) in right.detail


FAILED_ON_A_CASE = "it failed on one of the lab's cases (the error is above): make it work for any datagram"


@pytest.mark.parametrize("function, hint", [
    (lambda reply: bytes(reply[UDP]), "that still has the UDP header's 8 bytes in front; the data is what follows"),
    (lambda reply: bytes(reply), "that is the whole IP packet; the data starts after the IP and UDP headers"),
    (lambda reply: bytes(reply)[28:28 + len(D.data)],  # a length of one run
     "the data has its own length in each datagram: take all that follows the UDP header, not a fixed "
     "number of bytes"),
    (lambda reply: bytes(reply[UDP].payload)[::-1],
     "the data is what follows the UDP header: bytes(reply[UDP].payload)"),
    (lambda reply: D.data, CONSTANT_HINT),
    (lambda reply: reply.load if len(reply) > 40 else "text", "return bytes, whatever the arguments"),
    (lambda reply: reply.load if len(reply.load) > 1 else reply[ICMP], FAILED_ON_A_CASE),
], ids=["udp-header", "ip-packet", "fixed-length", "other", "constant", "str", "raised"])
def test_parse_echo_mistakes(function, hint):
    verdict = parse(function)
    assert verdict.status == FAIL and verdict.hint == hint, verdict
    assert "of 5 cases" in verdict.detail


def test_a_wrong_answer_on_h2s_echo_is_named_with_the_right_answer():
    verdict = parse(lambda reply: b"" if reply[UDP].sport == D.echo else right_parse(reply))
    assert verdict.status == FAIL and verdict.detail == (
        "right in 4 of 5 cases; h2's echo: returned b'', the right answer is b'hello echo this way'")


def test_answers_too_long_for_a_report_line_are_cut():
    """A repr of 60 characters is shown whole; a longer one is cut at 50, with its size."""
    assert _udp_cases.brief(b"x" * 57) == repr(b"x" * 57)  # b'...' : 60 characters
    assert _udp_cases.brief(b"x" * 58) == "b'" + "x" * 48 + "... (58 bytes)"
    long = parse(lambda reply: bytes(reply[UDP].payload) + b"y" * 100)
    assert long.detail == ("right in 0 of 5 cases; h2's echo: returned b'hello echo this way" + "y" * 29
                           + "... (119 bytes), the right answer is b'hello echo this way'")


def test_parse_echo_failures_say_which_case_and_what_came():
    raised = parse(lambda reply: reply.load if len(reply.load) > 1 else reply[ICMP])
    assert "IndexError" in raised.detail and "a case the lab made: raised" in raised.detail
    constant = parse(lambda reply: D.data)
    assert "right in 1 of 5 cases" in constant.detail
    late = parse(right_parse, {"status": TIMEOUT, "answer": "no answer within 2 s"})
    assert late.status == FAIL and "the error is above" in late.hint and "no answer within 2 s" in late.detail
    missing = parse(right_parse, {"status": TODO, "answer": "TODO parse_echo() not done yet"})
    assert missing.status == FAIL and missing.hint == "return an answer for every case"


def length(function, echo: bytes | None = None):
    echo = echo or echo_packet()
    cases = answers([Case(D.data, IP(echo)[UDP].len), *_udp_cases.length_cases(random.Random(2))], function,
                    "udp_length")
    return udp_basic.grade_length(udp_basic.Evidence(echo=echo, lengths=cases), Wire([]))


def test_udp_length_graded_on_hidden_cases():
    right = length(lambda data: 8 + len(data))
    assert right.status == PASS and "right in 5 of 5 cases" in right.detail
    assert f"8-byte header + {len(D.data)} bytes of data = {8 + len(D.data)}" in right.detail
    assert length(lambda data: len(UDP() / data)).status == PASS


@pytest.mark.parametrize("function, hint", [
    (len, "the UDP length counts its own 8-byte header too (source port, destination port, length, checksum: "
          "2 bytes each): 8 + len(data)"),
    (lambda data: len(data) + 28, "that is the IP packet's total length, with its 20-byte header; UDP's length "
                                  "field counts only the UDP header (8 bytes) and the data"),
    (lambda data: 8 + 2 * len(data), "the 8-byte UDP header plus the number of bytes of data"),
    (lambda data: 8 + len(D.data), CONSTANT_HINT),
    (lambda data: 8 + len(data) if data else "8", "return an int, whatever the arguments"),
    (lambda data: 8 + len(data) if data else True, "return an int, whatever the arguments"),
    (lambda data: 8 + len(data) if data else 1 // len(data), FAILED_ON_A_CASE),
], ids=["data-only", "ip-length", "other", "constant", "str", "bool", "raised"])
def test_udp_length_mistakes(function, hint):
    verdict = length(function)
    assert verdict.status == FAIL and verdict.hint == hint, verdict
    assert "of 5 cases" in verdict.detail


def test_an_echo_whose_length_field_is_wrong_is_the_labs_fault():
    echo = bytes(IP(datagram(H2, H1, D.echo, D.client, len=8 + len(D.data) + 1)[14:]))
    verdict = length(lambda data: 8 + len(data), echo)
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT and "length=28 for 19 bytes" in verdict.detail


def port_case() -> IP:
    return IP(port_unreachable(datagram(dport=D.closed, data=D.probe))[14:])


def h2_answers() -> tuple[IP, IP, IP]:
    """h2's port unreachable, its echo and its protocol unreachable, as h1 received them."""
    echo = IP(datagram(H2, H1, D.echo, D.client)[14:])
    protocol = IP(bytes(IP(src=H2, dst=H1) / ICMP(type=3, code=2) / bytes(IP(src=H1, dst=H2, proto=253))))
    return port_case(), echo, protocol


def unreachable(function, icmp: IP | None = None, change=None):
    cases = answers(_udp_cases.unreachable_cases(random.Random(3), D, *h2_answers()), function,
                    "is_port_unreachable")
    if change:
        cases = (*cases[:-1], dataclasses.replace(cases[-1], **change))
    ev = udp_basic.Evidence(port_unreachable=bytes(icmp or port_case()), closed=D.closed, unreachable=cases)
    return udp_basic.grade_unreachable(ev, Wire([]))


def right_unreachable(p) -> bool:
    return ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 3


def test_is_port_unreachable_right_answers_pass():
    right = unreachable(right_unreachable)
    assert right.status == PASS and right.detail == (
        "True for ICMP type 3 code 3 only; right in 9 of 9 cases: not for the echo, a TCP reset, "
        "other codes of type 3 or code 3 of other types")
    getlayer = unreachable(lambda p: p.getlayer(ICMP) is not None and (p[ICMP].type, p[ICMP].code) == (3, 3))
    assert getlayer.status == PASS


NOT_A_BOOL = "return True or False (a bool: 1 is not True), whatever the arguments"
NO_ICMP_FIRST = ("packet[ICMP] fails on a packet with no ICMP layer (h2's echo, a TCP segment): "
                 "check ICMP in packet first")


@pytest.mark.parametrize("function, hint", [
    (lambda p: ICMP in p and p[ICMP].type == 3,
     "type 3 is a whole family, 'destination unreachable'; the code says what was unreachable: "
     "1 the host, 2 the protocol, 3 the port. Check the code too"),
    (lambda p: ICMP in p and p[ICMP].code == 3,
     "a code means something only under its type: type 5 code 3 is a redirect, type 0 an echo reply, "
     "type 11 a time exceeded. Check the type too"),
    (lambda p: not (ICMP in p and p[ICMP].type != 3),
     "a UDP datagram or a TCP segment has no ICMP layer at all: check ICMP in packet first"),
    (lambda p: ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 1,
     "ICMP type 3 (destination unreachable) with code 3 (port) is a port unreachable: "
     "check packet[ICMP].type == 3 and packet[ICMP].code == 3"),
    (lambda p: False, CONSTANT_HINT),
    (lambda p: True, CONSTANT_HINT),
    (lambda p: p[ICMP].type == 3 and p[ICMP].code == 3, NO_ICMP_FIRST),
    (lambda p: ICMP in p and p[IPerror].proto == 17 and right_unreachable(p), FAILED_ON_A_CASE),
    (lambda p: p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3,
     "packet.haslayer(ICMP) answers 0, not False, for a packet with no ICMP layer: "
     "use ICMP in packet, or bool(...)"),
    (lambda p: int(right_unreachable(p)), NOT_A_BOOL),
    (lambda p: "yes" if right_unreachable(p) else False, NOT_A_BOOL),
], ids=["only-type", "only-code", "no-icmp", "code-1", "false", "true", "raises-without-icmp",
        "raises-elsewhere", "haslayer", "int", "str"])
def test_is_port_unreachable_mistakes(function, hint):
    verdict = unreachable(function)
    assert verdict.status == FAIL and verdict.hint == hint, verdict
    assert "of 9 cases" in verdict.detail


def test_timing_out_only_without_icmp_is_read_as_a_missing_icmp_test():
    late = unreachable(right_unreachable, change={"status": TIMEOUT, "answer": "no answer within 2 s"})
    assert late.status == FAIL and late.hint == NO_ICMP_FIRST
    assert late.detail == ("right in 8 of 9 cases; a TCP reset from h2 (no ICMP), made: timeout: "
                           "no answer within 2 s")


def test_is_port_unreachable_failures_say_which_case():
    only_code = unreachable(lambda p: ICMP in p and p[ICMP].code == 3)
    assert "a redirect (ICMP 5/3), made: returned True" in only_code.detail
    raised = unreachable(lambda p: p[ICMP].type == 3 and p[ICMP].code == 3)
    assert "IndexError" in raised.detail
    haslayer = unreachable(lambda p: p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3)
    assert "returned int 0; wanted bool" in haslayer.detail
    as_int = unreachable(lambda p: int(right_unreachable(p)))
    assert as_int.status == FAIL and "returned int 1; wanted bool" in as_int.detail


def test_the_engine_holds_is_port_unreachable_to_a_bool():
    """1 == True in Python: only the declared kind keeps 1 and 0 from counting as right."""
    assert KIND["is_port_unreachable"] is bool
    assert [kinds.problem(v, KIND["is_port_unreachable"]) is None for v in (True, False, 1, 0)] == \
        [True, True, False, False]


def test_a_call_counter_fails_in_any_order():
    for n in range(1, 10):
        calls = []

        def counter(packet, n=n):
            calls.append(packet)
            return len(calls) == n
        verdict = unreachable(counter)
        assert verdict.status == FAIL and "of 9 cases" in verdict.detail, n


def test_no_answer_of_the_students_is_no_answer_at_all():
    cases = (Case(bytes(port_case()), True, "h2's", "port", TODO, "TODO is_port_unreachable() not done yet"),)
    verdict = udp_basic.grade_unreachable(udp_basic.Evidence(port_unreachable=bytes(port_case()), closed=D.closed,
                                                             unreachable=cases), Wire([]))
    assert verdict.status == FAIL  # the engine says "not done"; the lab never counts the reference's answer
    assert verdict.hint == "return an answer for every case"


@pytest.mark.parametrize("icmp", [
    IP(port_unreachable(datagram(dport=D.closed, data=D.probe), code=2)[14:]),
    IP(port_unreachable(datagram(dport=D.closed + 1, data=D.probe))[14:]),
], ids=["other-code", "other-port"])
def test_h2_not_sending_its_port_unreachable_is_the_labs_fault(icmp):
    verdict = unreachable(right_unreachable, icmp)
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT
    assert verdict.detail == f"h2 sent {icmp.summary()}" and verdict.detail.startswith(f"h2 sent IP / ICMP {H2} > {H1}")


def test_made_up_cases_follow_the_seed_and_their_truths_hold():
    made = _udp_cases.unreachable_cases(random.Random(4), D, *h2_answers())
    assert made == _udp_cases.unreachable_cases(random.Random(4), D, *h2_answers())
    assert [right_unreachable(IP(c.arg)) for c in made] == [c.truth for c in made]
    for case in _udp_cases.echo_cases(random.Random(4), D):
        assert right_parse(IP(case.arg)) == case.truth
    assert [c.truth - len(c.arg) for c in _udp_cases.length_cases(random.Random(4))] == [8] * 4


class Edge(random.Random):
    """A generator that draws the lowest value allowed every time (or the highest): the
    boundaries of what a run can draw."""

    def __init__(self, highest: bool = False):
        super().__init__(0)
        self.highest = highest

    def randrange(self, start, stop=None, step=1):
        start, stop = (0, start) if stop is None else (start, stop)
        return stop - 1 if self.highest else start

    def randint(self, a, b):
        return b if self.highest else a

    def choice(self, seq):
        return seq[-1] if self.highest else seq[0]


def test_a_message_is_one_to_a_few_words_from_the_list():
    for seed in range(300):
        rng = random.Random(seed)
        for most in (1, 3, 8):
            words = _udp_cases.message(rng, most).decode().split(" ")
            assert 1 <= len(words) <= most and set(words) <= set(_udp_cases.WORDS)
    assert _udp_cases.message(Edge()) == b"hello", "a single word is data too"


def test_the_made_up_echoes_come_from_servers_of_h2_to_h1s_port():
    for seed in range(30):
        for case in _udp_cases.echo_cases(random.Random(seed), D):
            echo = IP(case.arg)
            assert (echo.src, echo.dst, echo[UDP].dport) == (H2, H1, D.client)
            assert echo[UDP].sport in _udp_cases.SERVER_PORTS and bytes(echo[UDP].payload) == case.truth


def test_the_one_byte_echo_is_one_printable_character():
    """From '!' to '~': a character that reads as itself in a report line."""
    for seed in range(100):
        one = _udp_cases.echo_cases(random.Random(seed), D)[-1].truth
        assert len(one) == 1 and one.decode().isprintable() and not one.isspace()
    assert [_udp_cases.echo_cases(Edge(top), D)[-1].truth for top in (False, True)] == [b"!", b"~"]


def test_udp_length_cases_run_from_no_data_to_a_full_frame():
    low, high = (_udp_cases.length_cases(Edge(top)) for top in (False, True))
    assert [c.truth for c in low[:2]] == [8, 9] and low[0].arg == b""
    assert high[1].arg == b"\xff", "a byte of any value"
    assert len(high[-1].arg) == 1500 - 20 - 8 and high[-1].truth == 1480, "as much as one Ethernet frame takes"
    for seed in range(50):
        for case in _udp_cases.length_cases(random.Random(seed)):
            assert case.truth == 8 + len(case.arg) and len(case.arg) <= 1472


def made_up(rng) -> tuple[list[Case], list[IP]]:
    made = _udp_cases.unreachable_cases(rng, D, *h2_answers())
    return made, [IP(c.arg) for c in made]


def test_the_made_up_icmp_cases_are_what_their_labels_say():
    for seed in range(20):
        made, packets = made_up(random.Random(seed))
        other, elsewhere = packets[3][UDPerror].dport, packets[5][IPerror].dst
        assert [(c.label, c.truth, c.family) for c in made] == [
            ("h2's port unreachable for port 34567 (ICMP 3/3)", True, "port"),
            ("h2's echo (UDP, no ICMP)", False, "no ICMP"),
            ("h2's protocol unreachable (ICMP 3/2)", False, "code"),
            (f"a port unreachable for port {other} (ICMP 3/3), made", True, "port"),
            ("a redirect (ICMP 5/3), made", False, "type"),
            (f"a host unreachable for {elsewhere} (ICMP 3/1), made", False, "code"),
            ("a time exceeded (ICMP 11/0), made", False, "type"),
            ("an echo reply (ICMP 0/0), made", False, "type"),
            ("a TCP reset from h2 (no ICMP), made", False, "no ICMP"),
        ]
        assert other in _udp_cases.CLOSED_PORTS and other != D.closed
        assert ipaddress.ip_address(elsewhere) in ipaddress.ip_network("192.0.2.0/24")  # TEST-NET-1
        for case, packet in zip(made, packets):
            named = re.search(r"\(ICMP (\d+)/(\d+)\)", case.label)
            if named:
                assert (packet[ICMP].type, packet[ICMP].code) == tuple(map(int, named.groups())), case.label
            else:
                assert ICMP not in packet, case.label
        for packet in packets[3:]:
            assert (packet.src, packet.dst) == (H2, H1)


def test_the_made_up_errors_quote_a_datagram_h1_sent():
    """An ICMP error quotes the IP header and the first 8 bytes of the datagram (RFC 792):
    here one from h1's client port, to another closed port of h2's, or to a host
    nobody has, whose TTL of 1 ran out at the first router."""
    for seed in range(20):
        made, packets = made_up(random.Random(seed))
        for packet in packets[3:7]:
            assert len(packet[ICMP].payload) == 20 + 8
            assert (packet[IPerror].src, packet[UDPerror].sport) == (H1, D.client)
        assert packets[3][IPerror].dst == H2
        for packet in packets[4:7]:
            assert packet[IPerror].ttl == 1 and packet[UDPerror].dport in _udp_cases.SERVER_PORTS
            assert packet[IPerror].dst == packets[5][IPerror].dst
        assert packets[4][ICMP].gw == H2, "a redirect names the gateway to use"
        reply, reset = packets[7], packets[8]
        assert reply[ICMP].id != 0
        assert reset[TCP].sport in _udp_cases.SERVER_PORTS and reset[TCP].dport == D.client
        assert str(reset[TCP].flags) == "RA" and reset[TCP].ack != 0


def test_the_made_up_cases_draw_from_their_whole_ranges():
    """Any host of TEST-NET-1, any non-zero ICMP identifier and acknowledgment number."""
    low, high = (made_up(Edge(top))[1] for top in (False, True))
    assert [p[IPerror].dst for p in (low[5], high[5])] == ["192.0.2.1", "192.0.2.254"]
    assert [p[ICMP].id for p in (low[7], high[7])] == [1, 0xFFFF]
    assert [p[TCP].ack for p in (low[8], high[8])] == [1, 0xFFFFFFFF]


# --- h1 reads h2's echo: the live case first, then the lab's own, in the report ---

def reading_run(parse_echo, udp_length, status=DONE, detail=""):
    """A run whose student answers with these functions; status other than DONE: the
    call failed as a whole (the reference's answer stands in for the live case)."""
    functions, calls, notes, hosts = {"parse_echo": parse_echo, "udp_length": udp_length}, {}, [], []

    def student(todo, host, *args, extra=()):
        function = functions[todo]
        calls[todo] = [args, *extra]
        hosts.append(host.name)
        if status != DONE:
            return Outcome(todo, function(*args), status, detail, cases=tuple((status, detail) for _ in extra))
        return Outcome(todo, function(*args), DONE, replaced=False, cases=tuple((DONE, function(*a)) for a in extra))
    return SimpleNamespace(rng=random.Random(5), student=student, note=notes.append, evidence=udp_basic.Evidence(),
                           calls=calls, notes=notes, hosts=hosts)


def right_length(data) -> int:
    return 8 + len(data)


def test_reading_the_echo_grades_h2s_echo_first_then_the_labs_own():
    echo = IP(echo_packet())
    run = reading_run(right_parse, right_length)
    udp_basic.read(run, SimpleNamespace(name="h1", ip=H1), echo, D)
    assert run.hosts == ["h1", "h1"], "h1 reads the echo it received"
    rng = random.Random(5)
    made_echoes, made_lengths = _udp_cases.echo_cases(rng, D), _udp_cases.length_cases(rng)
    assert run.evidence.parsed == tuple(dataclasses.replace(c, status=DONE, answer=c.truth)
                                        for c in [Case(bytes(echo), D.data), *made_echoes])
    assert run.evidence.lengths == tuple(dataclasses.replace(c, status=DONE, answer=c.truth)
                                         for c in [Case(D.data, 27), *made_lengths])
    assert [bytes(args[0]) for args in run.calls["parse_echo"]] == [bytes(echo), *(c.arg for c in made_echoes)]
    assert all(isinstance(args[0], IP) for args in run.calls["parse_echo"])
    assert run.calls["udp_length"] == [(D.data,), *((c.arg,) for c in made_lengths)]
    assert run.notes == [
        "parse_echo(h2's echo): b'hello echo this way' (right); right in 5 of 5 cases, 4 made by the lab",
        "udp_length(the echo's 19 bytes): 27 (right); right in 5 of 5 cases, 4 made by the lab",
    ]


def test_reading_reports_wrong_answers_with_the_right_one():
    run = reading_run(lambda reply: bytes(reply[UDP]), lambda data: len(data) if data else 8)
    udp_basic.read(run, SimpleNamespace(name="h1", ip=H1), IP(echo_packet()), D)
    assert run.notes == [
        f"parse_echo(h2's echo): {bytes(IP(echo_packet())[UDP])!r} (should be b'hello echo this way'); "
        "right in 0 of 5 cases, 4 made by the lab",
        "udp_length(the echo's 19 bytes): 19 (should be 27); right in 1 of 5 cases, 4 made by the lab",
    ]
    assert run.evidence.lengths[0].answer == 19 and not run.evidence.lengths[0].right


def test_reading_with_the_todos_open_shows_the_answers_to_come():
    run = reading_run(right_parse, right_length, TODO, "TODO parse_echo() not done yet")
    udp_basic.read(run, SimpleNamespace(name="h1", ip=H1), IP(echo_packet()), D)
    assert run.notes == [
        "parse_echo(h2's echo): the answer is b'hello echo this way'; 4 more cases made by the lab wait for your code",
        "udp_length(the echo's 19 bytes): the answer is 27; 4 more cases made by the lab wait for your code",
    ]
    live = run.evidence.parsed[0]
    assert (live.status, live.answer) == (TODO, "TODO parse_echo() not done yet"), "never the reference's value"


def test_a_live_case_that_raised_shows_the_error_and_the_right_answer():
    case = Case(D.data, 27, status=RAISED, answer="ZeroDivisionError: division by zero")
    assert _udp_cases.shown(case) == "raised: ZeroDivisionError: division by zero (should be 27)"
    hidden = (case, *(Case(b"", 8, status=DONE, answer=8) for _ in range(4)))
    assert _udp_cases.hidden(hidden) == "right in 4 of 5 cases, 4 made by the lab"


# --- the answer conditions h1 waits on ---

class FakePort:
    """h1's interface: frames arrive in the order the test queues them."""

    def __init__(self):
        self.queue: list[bytes] = []

    def expect(self, wanted, timeout):
        for data in self.queue:
            if wanted(data):
                self.queue.remove(data)
                return data
        return None


@pytest.fixture
def server():
    """h2's server socket, on loopback; its echoes go back to the test's client socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listening, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        listening.bind(("127.0.0.1", 0))
        listening.setblocking(False)
        client.bind(("127.0.0.1", 0))
        client.settimeout(1)
        yield listening, client


def live_side():
    events, states = [], []
    run = SimpleNamespace(state=lambda host, text: states.append((host, text)), event=events.append, states=states)
    h1 = SimpleNamespace(ip=H1, port=FakePort())
    h2 = SimpleNamespace(ip=H2, kernel=SimpleNamespace(sockets=lambda kind: []))
    return run, h1, h2, events


def served_when_read(answer, client, target, data: bytes):
    client.sendto(data, target)
    for _ in range(1000):  # loopback delivers at once; poll as the engine does
        got = answer()
        if got is not None:
            return got
    return None


def test_the_echo_answer_forgets_a_refused_attempt(server):
    listening, client = server
    run, h1, h2, events = live_side()
    answer = _udp_server.echo_answer(run, listening, h1, h2, D)
    h1.port.queue.append(datagram(H2, H1, D.echo, D.client + 1))  # an echo to another port
    refused = served_when_read(answer, client, listening.getsockname(), b"first")
    assert isinstance(refused, Refusal) and refused.why.startswith(f"h2 answered: IP {H2}.{D.echo} > ")
    assert client.recv(100) == b"first" and events == [f"h2's server: recvfrom() -> b'first', {client.getsockname()}",
                                                         f"h2's server: sendto(b'first', {client.getsockname()})"]
    assert run.states == [(h2, f"no UDP socket on port {D.echo}")], "h2's socket table, as the datagram waited"
    h1.port.queue.append(datagram(H2, H1, D.echo, D.client))
    assert answer() is None, "an echo with nothing served in this attempt answers nothing"
    h1.port.queue.append(datagram(H2, H1, D.echo, D.client))
    echo, served = served_when_read(answer, client, listening.getsockname(), b"second")
    assert served == Served(b"second", client.getsockname()) and echo[UDP].dport == D.client


def test_the_echo_answer_serves_the_next_attempt_after_a_silent_one(server):
    listening, client = server
    run, h1, h2, _ = live_side()
    answer = _udp_server.echo_answer(run, listening, h1, h2, D)
    client.sendto(b"lost", listening.getsockname())
    assert [answer() for _ in range(50)] == [None] * 50  # served, but no echo reached h1
    h1.port.queue.append(datagram(H2, H1, D.echo, D.client))
    _, served = served_when_read(answer, client, listening.getsockname(), b"again")
    assert served.data == b"again"


def test_icmp_from_takes_its_error_and_refuses_others():
    _, h1, h2, _ = live_side()
    waiting = _udp_server.icmp_from(h1, h2, 3, D.closed)
    assert waiting() is None
    h1.port.queue += [datagram(H2, H1, D.echo, D.client), port_unreachable(datagram(dport=D.echo, data=D.probe)),
                      frame(IP(src="10.9.8.7", dst=H1) / ICMP(type=3, code=3)),
                      port_unreachable(datagram(dport=D.closed, data=D.probe))]
    assert isinstance(waiting(), Refusal)  # h2's echo
    assert f"udp port {D.echo} unreachable" in waiting().why  # about another datagram
    got = waiting()  # the error from another host is no answer of h2's
    assert got[ICMP].code == 3 and got[UDPerror].dport == D.closed and not isinstance(got, Refusal)


class Unroutable:
    """h2's server socket, with a datagram waiting from an address h2 has no route to."""

    def __init__(self):
        self.waiting = [(b"lost", ("192.0.2.9", 40000))]

    def recvfrom(self, size, flags=0):
        if not self.waiting:
            raise BlockingIOError
        return self.waiting[0] if flags & socket.MSG_PEEK else self.waiting.pop(0)

    def sendto(self, data, address):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")


def test_an_echo_h2_cannot_send_is_told_and_the_wait_runs_on():
    run, h1, h2, events = live_side()
    answer = _udp_server.echo_answer(run, Unroutable(), h1, h2, D)
    assert [answer() for _ in range(3)] == [None] * 3
    assert events == ["h2's server: recvfrom() -> b'lost', ('192.0.2.9', 40000)",
                      "h2's server: sendto(b'lost', ('192.0.2.9', 40000))",
                      "h2's server: sendto() failed: Network is unreachable"]


def test_h1_waits_past_what_h2_sends_that_is_no_answer():
    """An echo reply or a TCP segment from h2 is neither a datagram nor an ICMP
    destination unreachable: h1 waits on, and takes the error that follows."""
    _, h1, h2, _ = live_side()
    waiting = _udp_server.icmp_from(h1, h2, 3, D.closed)
    h1.port.queue += [frame(IP(src=H2, dst=H1) / ICMP(type=0)), frame(IP(src=H2, dst=H1) / TCP(flags="RA")),
                      port_unreachable(datagram(dport=D.closed, data=D.probe))]
    got = waiting()
    assert not isinstance(got, Refusal) and got[UDPerror].dport == D.closed


def sock(port: int, waiting: int = 0, sending: int = 0) -> Sock:
    return Sock("udp", "UNCONNECTED", (H2, port), ("0.0.0.0", 0), 0, 1, {}, (waiting, sending))


def test_udp_state_names_the_socket_on_the_port_as_sock_diag_reports_it():
    def h2_with(*sockets):
        return SimpleNamespace(kernel=SimpleNamespace(sockets=lambda kind: list(sockets) if kind == "udp" else []))
    assert _udp_server.udp_state(h2_with(sock(5353), sock(D.echo)), D.echo) == f"UNCONNECTED {H2}:{D.echo}"
    assert _udp_server.udp_state(h2_with(sock(D.echo, 768), sock(5353)), D.echo) == \
        f"UNCONNECTED {H2}:{D.echo}, 768 B waiting (data + kernel overhead)"
    assert _udp_server.udp_state(h2_with(sock(D.echo, 0, 512)), D.echo) == f"UNCONNECTED {H2}:{D.echo}"
    assert _udp_server.udp_state(h2_with(sock(5353)), D.echo) == f"no UDP socket on port {D.echo}"
