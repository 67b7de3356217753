"""Grading of udp-basic from hand-made captures and hand-made answers: the length and
checksum read back, the hints for the typical mistakes, the values each run draws, and
the hidden cases of the pure functions, without a network."""
from __future__ import annotations

import random
import subprocess
import sys
from types import SimpleNamespace

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

from lab import kinds
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exercise import DONE, RAISED, WRONG
from lab.grading import CONSTANT_HINT
from lab.labs import udp_basic

H1, H2 = "10.9.8.1", "10.9.8.2"
D = {"h1": H1, "h2": H2, "client": 51234, "echo": 23456, "closed": 34567,
     "data": b"hello echo this way", "probe": b"anyone on 34567? udp"}
ECHO_ARGS = (H1, H2, D["client"], D["echo"], D["data"])
PROBE_ARGS = (H1, H2, D["client"], D["closed"], D["probe"])


def frame(packet) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet)


def datagram(src=H1, dst=H2, sport=D["client"], dport=D["echo"], data=D["data"], **udp) -> bytes:
    return frame(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport, **udp) / data)


def port_unreachable(quoted: bytes) -> bytes:
    return frame(IP(src=H2, dst=H1) / ICMP(type=3, code=3) / Ether(quoted)[IP])


def evidence(sent: bytes, at: float, args: tuple, **extra) -> dict:
    return {"problem": "", "data": sent, "sent_at": at, "fallback_at": None, "start": at - 0.01,
            "end": at + 0.01, "args": args, **extra}


def echo_exchange(sent: bytes):
    """The wire and the evidence of a whole run in which h1 sent `sent` first."""
    echo = datagram(H2, H1, D["echo"], D["client"])
    probe = datagram(dport=D["closed"], data=D["probe"])
    wire = udp_basic_wire([(1.0, sent), (1.001, echo), (2.0, probe), (2.001, port_unreachable(probe))])
    ev = evidence(sent, 1.0, ECHO_ARGS, received=D["data"], address=(H1, D["client"]), echo=bytes(Ether(echo)[IP]))
    return ev, evidence(probe, 2.0, PROBE_ARGS), wire


def udp_basic_wire(frames):
    from lab.wire import Wire
    return Wire([Frame(at, "s1-eth1", data) for at, data in frames])


def test_checksum_recomputed_as_scapy_and_the_kernel_compute_it():
    packet = Ether(datagram())
    assert udp_basic.udp_checksum(packet) == packet[UDP].chksum
    assert packet[UDP].len == 8 + len(D["data"])
    assert "(right)" in udp_basic.fields(packet)
    assert "wrong, should be" in udp_basic.fields(Ether(datagram(chksum=0x1234)))


def test_the_reference_datagram_passes():
    verdict = udp_basic.grade_datagram(*echo_exchange(datagram()))
    assert verdict.status == PASS and "one datagram each way, no handshake" in verdict.detail


def test_datagram_mistakes():
    def hint(sent: bytes) -> str:
        verdict = udp_basic.grade_datagram(*echo_exchange(sent))
        assert verdict.status == FAIL
        return verdict.hint
    assert "the ports are swapped" in hint(datagram(sport=D["echo"], dport=D["client"]))
    assert "dport is 34567" in hint(datagram(dport=D["closed"]))
    assert "use my_port (51234)" in hint(datagram(sport=40000))
    assert "the UDP length field says 10" in hint(datagram(len=10))
    assert "silently drops a datagram whose checksum is wrong" in hint(datagram(chksum=0x1234))
    assert "carries no data" in hint(datagram(data=b""))


def test_values_of_another_run_fail_with_a_hint_that_says_so():
    def hint(sent: bytes) -> str:
        return udp_basic.grade_datagram(*echo_exchange(sent)).hint
    assert "peer_ip is 10.9.8.2 in this run" in hint(datagram(src="10.0.0.1", dst="10.0.0.2"))
    assert "my_ip is 10.9.8.1 in this run" in hint(datagram(src="10.0.0.1"))
    assert "this time the lab asked for peer_port=23456" in hint(datagram(sport=40000, dport=7000))
    assert "not the data you were given" in hint(datagram(data=b"hello, h2\n"))


def test_a_zero_checksum_means_none_and_is_accepted():
    sent = bytearray(datagram())
    sent[14 + 20 + 6:14 + 20 + 8] = b"\0\0"
    assert udp_basic.grade_datagram(*echo_exchange(bytes(sent))).status == PASS


def test_a_fixed_port_shows_in_the_second_datagram():
    ev, _, wire = echo_exchange(datagram())
    wrong = datagram(data=D["probe"])  # to the echo port again, though the lab asked for the closed one
    wire = udp_basic_wire([(f.time, f.data) for f in wire.raw] + [(3.0, wrong)])
    verdict = udp_basic.grade_datagram(ev, evidence(wrong, 3.0, PROBE_ARGS, fallback_at=3.5), wire)
    assert verdict.status == FAIL and "peer_port=34567" in verdict.hint


# --- the values a run draws ---

def test_each_run_draws_its_ports_and_data():
    hosts = SimpleNamespace(ip=H1), SimpleNamespace(ip=H2)
    drawn = [udp_basic.draw(random.Random(seed), *hosts) for seed in range(40)]
    assert len({len(d["data"]) for d in drawn}) >= 10, "a hard-coded length must fail"
    assert len({d["data"] for d in drawn}) == 40 and len({d["echo"] for d in drawn}) > 30
    for d in drawn:
        assert d["client"] in udp_basic.CLIENT_PORTS and d["echo"] in udp_basic.SERVER_PORTS
        assert d["closed"] in udp_basic.CLOSED_PORTS and str(d["closed"]).encode() in d["probe"]
    assert udp_basic.draw(random.Random(7), *hosts) == udp_basic.draw(random.Random(7), *hosts)


def test_no_drawn_port_is_one_scapy_names_a_protocol_for():
    """The student may import scapy.all: a port bound to a protocol would dissect the data as DNS, say."""
    code = ("from scapy.all import UDP\n"
            "print(sorted({v for a, b in UDP.payload_guess for d in (a, b) if isinstance(d, dict)"
            " for k, v in d.items() if k in ('sport', 'dport')}))")
    bound = eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 53 in bound
    for ports in (udp_basic.SERVER_PORTS, udp_basic.CLOSED_PORTS, udp_basic.CLIENT_PORTS):
        assert not [p for p in bound if p in ports]


# --- pure functions: the live case and the hidden ones ---

def answers(cases: list[dict], function, kind) -> list[dict]:
    """The cases answered by function as the engine would: a value of the wrong kind or
    an exception is no answer."""
    done = []
    for case in cases:
        args = (IP(case["packet"]),) if "packet" in case else (case["data"],)
        try:
            value = function(*args)
        except Exception as exc:
            done.append({**case, "status": RAISED, "answer": f"{type(exc).__name__}: {exc}"})
            continue
        wrong = kinds.problem(value, kind)
        done.append({**case, "status": WRONG if wrong else DONE, "answer": wrong or value})
    return done


def echo_packet() -> bytes:
    return bytes(IP(datagram(H2, H1, D["echo"], D["client"])[14:]))


def parse(function):
    cases = [{"packet": echo_packet(), "truth": D["data"]}, *udp_basic.echo_cases(random.Random(1), D)]
    return udp_basic.grade_parse({"cases": answers(cases, function, bytes)})


def test_parse_echo_graded_on_hidden_cases():
    right = parse(lambda reply: bytes(reply[UDP].payload))
    assert right.status == PASS and "right in 5 of 5 cases" in right.detail
    assert "8 bytes in front" in parse(lambda reply: bytes(reply[UDP])).hint
    assert "whole IP packet" in parse(lambda reply: bytes(reply)).hint
    constant = parse(lambda reply: D["data"])
    assert constant.hint == CONSTANT_HINT and "right in 1 of 5 cases" in constant.detail
    sliced = parse(lambda reply: bytes(reply)[28:28 + len(D["data"])])  # a length taken from one run
    assert "not a fixed number of bytes" in sliced.hint and "of 5 cases" in sliced.detail
    assert "return bytes" in parse(lambda reply: reply.load if len(reply) > 40 else "text").hint
    raised = parse(lambda reply: reply.load if len(reply.load) > 1 else reply[ICMP])
    assert raised.status == FAIL and "IndexError" in raised.detail and "the error is above" in raised.hint


def length(function, guess_live=None):
    echo = echo_packet()
    cases = [{"data": D["data"], "truth": IP(echo)[UDP].len}, *udp_basic.length_cases(random.Random(2))]
    return udp_basic.grade_length({"echo": echo, "cases": answers(cases, function, int)})


def test_udp_length_graded_on_hidden_cases():
    right = length(lambda data: 8 + len(data))
    assert right.status == PASS and "right in 5 of 5 cases" in right.detail
    assert length(lambda data: len(UDP() / data)).status == PASS
    assert "its own 8-byte header too" in length(len).hint
    assert "IP packet's total length" in length(lambda data: len(data) + 28).hint
    constant = length(lambda data: 8 + len(D["data"]))
    assert constant.hint == CONSTANT_HINT and "right in 1 of 5 cases" in constant.detail
    assert "return an int" in length(lambda data: 8 + len(data) if data else "8").hint


def unreachable(function, *, live_port=True):
    port = IP(port_unreachable(datagram(dport=D["closed"], data=D["probe"]))[14:])
    echo = IP(datagram(H2, H1, D["echo"], D["client"])[14:])
    protocol = IP(bytes(IP(src=H2, dst=H1) / ICMP(type=3, code=2) / bytes(IP(src=H1, dst=H2, proto=253))))
    cases = udp_basic.unreachable_cases(random.Random(3), D, port, echo, protocol)
    return udp_basic.grade_unreachable({"icmp": bytes(port), "closed": D["closed"],
                                        "cases": answers(cases, function, bool)})


def test_is_port_unreachable_graded_on_every_kind_of_packet():
    right = unreachable(lambda p: ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 3)
    assert right.status == PASS and "right in 9 of 9 cases" in right.detail
    getlayer = unreachable(lambda p: p.getlayer(ICMP) is not None and (p[ICMP].type, p[ICMP].code) == (3, 3))
    assert getlayer.status == PASS
    assert "check the code too" in unreachable(lambda p: ICMP in p and p[ICMP].type == 3).hint.lower()
    only_code = unreachable(lambda p: ICMP in p and p[ICMP].code == 3)
    assert "type 5 code 3 is a redirect" in only_code.hint and "redirect" in only_code.detail
    assert "no ICMP layer" in unreachable(lambda p: not (ICMP in p and p[ICMP].type != 3)).hint
    assert unreachable(lambda p: False).hint == CONSTANT_HINT
    assert unreachable(lambda p: True).hint == CONSTANT_HINT
    raised = unreachable(lambda p: p[ICMP].type == 3 and p[ICMP].code == 3)
    assert "check ICMP in packet first" in raised.hint and "IndexError" in raised.detail
    haslayer = unreachable(lambda p: p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3)
    assert "answers 0, not False" in haslayer.hint and "int 0" in haslayer.detail
    as_int = unreachable(lambda p: int(ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 3))
    assert "1 is not True" in as_int.hint


def test_a_call_counter_fails_in_any_order():
    for n in range(1, 10):
        calls = []

        def counter(packet, n=n):
            calls.append(packet)
            return len(calls) == n
        verdict = unreachable(counter)
        assert verdict.status == FAIL and "of 9 cases" in verdict.detail, n


def test_no_answer_of_the_students_is_no_answer_at_all():
    port = IP(port_unreachable(datagram(dport=D["closed"], data=D["probe"]))[14:])
    cases = [{"label": "h2's", "packet": bytes(port), "truth": True, "family": "port", "status": "todo",
              "answer": "TODO is_port_unreachable() not done yet"}]
    verdict = udp_basic.grade_unreachable({"icmp": bytes(port), "closed": D["closed"], "cases": cases})
    assert verdict.status == FAIL  # the engine says "not done"; the lab never counts the reference's answer
