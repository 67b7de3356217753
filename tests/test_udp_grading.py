"""Grading of udp-basic from hand-made captures and hand-made answers: each check's
right answer and each typical wrong one with its hint, the length and checksum read
back, the values each run draws, the hidden cases of the pure functions, and the
answer conditions h1 waits on, without a network.

Grading reads only the evidence (udp_basic.Evidence) and the captured frames, so here
both are built by hand; answers go through the kinds the lab declares, as the engine
checks them."""
from __future__ import annotations

import dataclasses
import random
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.l2 import Ether

from lab import kinds
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exchange import Refusal, Sent
from lab.exercise import DONE, RAISED, TIMEOUT, TODO, WRONG
from lab.grading import CONSTANT_HINT, LAB_FAULT
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


@pytest.mark.parametrize("sent, words", [
    (datagram(dst="10.9.8.3"), "peer_ip is 10.9.8.2 in this run"),
    (datagram(sport=D.echo, dport=D.client), "the ports are swapped"),
    (datagram(dport=D.closed), "dport is 34567: this time the lab asked for peer_port=23456"),
    (datagram(sport=40000), "use my_port (51234)"),
    (datagram(src="10.9.8.9"), "my_ip is 10.9.8.1 in this run"),
    (datagram(data=b""), "carries no data"),
    (datagram(data=b"hello, h2\n"), "not the data you were given"),
    (datagram(len=10), "the UDP length field says 10, but header and data are 8 + 19 = 27"),
    (datagram(chksum=0x1234), "silently drops a datagram whose checksum is wrong"),
], ids=["destination", "swapped", "dport", "sport", "source", "no-data", "other-data", "length", "checksum"])
def test_datagram_mistakes(sent, words):
    verdict = datagram_verdict(sent)
    assert verdict.status == FAIL and words in verdict.hint, verdict
    assert verdict.detail.startswith("sent UDP ")


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
    assert verdict.status == FAIL and "did not echo it back" in verdict.hint


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


def test_a_fixed_port_shows_in_the_second_datagram():
    wrong = datagram(data=D.probe)  # to the echo port again, though the lab asked for the closed one
    verdict = datagram_verdict(datagram(), wrong, answer=b"", probe=Sent("", wrong, 2.0, 2.5))
    assert verdict.status == FAIL and "peer_port=34567" in verdict.hint
    assert verdict.detail.startswith("second datagram (peer_port=34567)")


def test_a_second_datagram_that_is_not_a_packet_is_reported():
    verdict = datagram_verdict(datagram(), probe=Sent("returned NoneType, not a scapy packet"))
    assert verdict.status == FAIL and "return a whole packet" in verdict.hint


@pytest.mark.parametrize("answer, fallback_at", [
    (b"", None),                                                          # h2 said nothing
    (port_unreachable(datagram(dport=D.closed + 1, data=D.probe)), None),  # about another port
    (port_unreachable(datagram(dport=D.closed, data=D.probe), code=1), None),  # not a port unreachable
    (None, 2.5),                                                          # the reference's drew it
], ids=["silence", "other-port", "other-code", "fallback"])
def test_a_second_datagram_without_its_port_unreachable_fails(answer, fallback_at):
    probe = datagram(dport=D.closed, data=D.probe)
    verdict = datagram_verdict(datagram(), probe, answer=answer, probe=Sent("", probe, 2.0, fallback_at))
    assert verdict.status == FAIL and "h2 sent no port unreachable for it" in verdict.hint


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


@pytest.mark.parametrize("function, words", [
    (lambda reply: bytes(reply[UDP]), "8 bytes in front"),
    (lambda reply: bytes(reply), "whole IP packet"),
    (lambda reply: bytes(reply)[28:28 + len(D.data)], "not a fixed number of bytes"),  # a length of one run
    (lambda reply: bytes(reply[UDP].payload)[::-1], "bytes(reply[UDP].payload)"),
    (lambda reply: D.data, CONSTANT_HINT),
    (lambda reply: reply.load if len(reply) > 40 else "text", "return bytes, whatever the arguments"),
    (lambda reply: reply.load if len(reply.load) > 1 else reply[ICMP], "the error is above"),
], ids=["udp-header", "ip-packet", "fixed-length", "other", "constant", "str", "raised"])
def test_parse_echo_mistakes(function, words):
    verdict = parse(function)
    assert verdict.status == FAIL and words in verdict.hint, verdict
    assert "of 5 cases" in verdict.detail


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


@pytest.mark.parametrize("function, words", [
    (len, "its own 8-byte header too"),
    (lambda data: len(data) + 28, "IP packet's total length"),
    (lambda data: 8 + 2 * len(data), "the 8-byte UDP header plus the number of bytes of data"),
    (lambda data: 8 + len(D.data), CONSTANT_HINT),
    (lambda data: 8 + len(data) if data else "8", "return an int, whatever the arguments"),
    (lambda data: 8 + len(data) if data else True, "return an int"),
    (lambda data: 8 + len(data) if data else 1 // len(data), "the error is above"),
], ids=["data-only", "ip-length", "other", "constant", "str", "bool", "raised"])
def test_udp_length_mistakes(function, words):
    verdict = length(function)
    assert verdict.status == FAIL and words in verdict.hint, verdict
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
    assert right.status == PASS and "right in 9 of 9 cases" in right.detail
    getlayer = unreachable(lambda p: p.getlayer(ICMP) is not None and (p[ICMP].type, p[ICMP].code) == (3, 3))
    assert getlayer.status == PASS


@pytest.mark.parametrize("function, words", [
    (lambda p: ICMP in p and p[ICMP].type == 3, "Check the code too"),
    (lambda p: ICMP in p and p[ICMP].code == 3, "type 5 code 3 is a redirect"),
    (lambda p: not (ICMP in p and p[ICMP].type != 3), "has no ICMP layer at all"),
    (lambda p: ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 1, "check packet[ICMP].type == 3 and"),
    (lambda p: False, CONSTANT_HINT),
    (lambda p: True, CONSTANT_HINT),
    (lambda p: p[ICMP].type == 3 and p[ICMP].code == 3, "check ICMP in packet first"),
    (lambda p: ICMP in p and p[IPerror].proto == 17 and right_unreachable(p), "it failed on one of the lab's"),
    (lambda p: p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3, "answers 0, not False"),
    (lambda p: int(right_unreachable(p)), "return True or False (a bool: 1 is not True)"),
    (lambda p: "yes" if right_unreachable(p) else False, "return True or False"),
], ids=["only-type", "only-code", "no-icmp", "code-1", "false", "true", "raises-without-icmp",
        "raises-elsewhere", "haslayer", "int", "str"])
def test_is_port_unreachable_mistakes(function, words):
    verdict = unreachable(function)
    assert verdict.status == FAIL and words in verdict.hint, verdict
    assert "of 9 cases" in verdict.detail


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


def test_made_up_cases_follow_the_seed_and_their_truths_hold():
    made = _udp_cases.unreachable_cases(random.Random(4), D, *h2_answers())
    assert made == _udp_cases.unreachable_cases(random.Random(4), D, *h2_answers())
    assert [right_unreachable(IP(c.arg)) for c in made] == [c.truth for c in made]
    for case in _udp_cases.echo_cases(random.Random(4), D):
        assert right_parse(IP(case.arg)) == case.truth
    assert [c.truth - len(c.arg) for c in _udp_cases.length_cases(random.Random(4))] == [8] * 4


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
    events = []
    run = SimpleNamespace(state=lambda host, text: None, event=events.append)
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
    assert client.recv(100) == b"first" and any("recvfrom() -> b'first'" in e for e in events)
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
