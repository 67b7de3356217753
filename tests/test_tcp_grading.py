"""Grading of the TCP labs from hand-made captures and evidence: the hints for the
typical mistakes, the hidden cases and the ISN check, without a network."""
from __future__ import annotations

import random
from types import SimpleNamespace

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.grading import CONSTANT_HINT
from lab.labs import tcp_handshake, tcp_teardown
from lab.loader import load_file
from lab.sandbox import DONE, RAISED
from lab.segments import ack_cases, ack_hint, as_frame, next_seq
from lab.wire import Wire

H1, H2 = "10.40.7.1", "10.40.7.2"
CLIENT, SERVER = 47011, 2917
X, Y = 1000, 5000
ENDS = {"h1": H1, "h2": H2, "client": CLIENT, "server": SERVER}


def frame(src, dst, sport, dport, flags, seq, ack=0, data=b"") -> bytes:
    segment = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / (segment / data if data else segment))


def evidence(data: bytes, **extra) -> dict:
    return {"problem": "", "data": data, "sent_at": 1.0, "fallback_at": None, **ENDS, **extra}


def ack_verdict(seq, ack, flags="A", src=H1, dst=H2, sport=CLIENT, dport=SERVER):
    sent = frame(src, dst, sport, dport, flags, seq, ack)
    return tcp_handshake.grade_ack(evidence(sent, x=X, y=Y, h2_states="LISTEN, ESTABLISHED"),
                                   Wire([Frame(1.0, "s1-eth1", sent)]))


def test_handshake_ack():
    assert ack_verdict(X + 1, Y + 1).status == PASS
    assert "so the ACK number is y+1" in ack_verdict(X + 1, Y).hint
    assert "your SYN used up x" in ack_verdict(X + 1 - 1, Y + 1).hint
    assert "a SYN here starts over" in ack_verdict(X + 1, Y + 1, "SA").hint
    assert f"from {CLIENT} to {SERVER}" in ack_verdict(X + 1, Y + 1, sport=40000, dport=5000).hint
    assert "the addresses are 10.0.0.1 > 10.0.0.2" in ack_verdict(X + 1, Y + 1, src="10.0.0.1", dst="10.0.0.2").hint


def syn_evidence(syn: bytes, cases=None, **extra) -> dict:
    other = (H1, "10.40.7.9", 33333, 4444)
    truths = [(H1, H2, CLIENT, SERVER, "S", 0), (*other, "S", 0)]
    if cases is None:
        cases = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, 77777)), (DONE, (*other, "S", 0, 99999999))]
    return evidence(syn, h2_states="LISTEN, SYN_RECV", cases=cases, truths=truths, **extra)


def syn_verdict(seq=X, cases=None, **fields):
    syn = frame(**{"src": H1, "dst": H2, "sport": CLIENT, "dport": SERVER, "flags": "S", "seq": seq, **fields})
    answer = frame(H2, H1, SERVER, CLIENT, "SA", Y, seq + 1)
    wire = Wire([Frame(1.0, "s1-eth1", syn), Frame(1.001, "s1-eth1", answer)])
    return tcp_handshake.grade_syn(syn_evidence(syn, cases), wire)


def test_handshake_syn_needs_the_syn_ack_answer():
    assert syn_verdict().status == PASS
    syn = frame(H1, H2, CLIENT, SERVER, "S", X)
    assert "did not answer" in tcp_handshake.grade_syn(
        {**syn_evidence(syn), "h2_states": "LISTEN"}, Wire([Frame(1.0, "s1-eth1", syn)])).hint
    with_data = frame(H1, H2, CLIENT, SERVER, "S", X, data=b"hi")
    assert "carries no data" in tcp_handshake.grade_syn(
        syn_evidence(with_data), Wire([Frame(1.0, "s1-eth1", with_data)])).hint


def test_syn_ports_and_addresses_come_from_the_arguments():
    assert f"h2 listens on port {SERVER}" in syn_verdict(dport=5000).hint
    assert f"use my_port ({CLIENT})" in syn_verdict(sport=40000).hint
    assert "the addresses are" in syn_verdict(dst="10.0.0.2").hint


def test_syn_isn_must_differ_between_syns():
    same = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, X)), (DONE, (H1, "10.40.7.9", 33333, 4444, "S", 0, 5))]
    verdict = syn_verdict(cases=same)
    assert verdict.status == FAIL and "your ISN is the same in two SYNs" in verdict.hint
    assert "random.randint(0, 2**32 - 1)" in verdict.hint
    counted = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, X + 1)), (DONE, (H1, "10.40.7.9", 33333, 4444, "S", 0, X + 2))]
    assert "only 1 apart" in syn_verdict(cases=counted).hint
    wrapped = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, 2**32 - 3)),
               (DONE, (H1, "10.40.7.9", 33333, 4444, "S", 0, 9**9))]
    assert "apart" in syn_verdict(seq=2, cases=wrapped).hint  # 2 and 2**32 - 3 are 5 apart


def test_syn_hidden_cases_follow_their_arguments():
    hard_coded = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, 77777)), (DONE, (H1, H2, CLIENT, SERVER, "S", 0, 999999))]
    verdict = syn_verdict(cases=hard_coded)
    assert verdict.status == FAIL and "right in 2 of 3 cases" in verdict.detail
    assert "IP destination '10.40.7.2'" in verdict.detail and "from the arguments" in verdict.hint
    constant = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, X)), (DONE, (H1, H2, CLIENT, SERVER, "S", 0, X))]
    assert syn_verdict(cases=constant).hint == CONSTANT_HINT
    failed = [(DONE, (H1, H2, CLIENT, SERVER, "S", 0, 77777)), (RAISED, "line 3 in build_syn: KeyError: 'x'")]
    verdict = syn_verdict(cases=failed)
    assert "KeyError" in verdict.detail and verdict.hint.startswith("fix the error above")


def data_verdict(data=b"hello there\n", sent=b"hello there\n", seq=X + 1):
    segment = frame(H1, H2, CLIENT, SERVER, "PA", seq, Y + 1, sent)
    ev = evidence(segment, x=X, y=Y, sent=data, received=sent, h2_ack=seq + len(sent))
    return tcp_handshake.grade_data(ev, Wire([Frame(1.0, "s1-eth1", segment)]))


def test_handshake_data_must_be_the_argument():
    assert data_verdict().status == PASS
    verdict = data_verdict(sent=b"hello, h2\n")
    assert verdict.status == FAIL and "send the data argument" in verdict.hint
    assert "seq=x+2" in data_verdict(seq=X + 2).hint


def prediction(guess, real, cases=(), truths=(), shapes=(), live=("PA", X + 1, 10), fallback=None) -> dict:
    flags, seq, length = live
    return {"guess": guess, "h2_ack": real, "flags": flags, "seq": seq, "length": length, "fallback_at": fallback,
            "cases": list(cases), "truths": list(truths), "shapes": list(shapes), "live": live}


SHAPES = [("PA", 100, 30), ("A", 7000, 0), ("S", 2**32 - 1, 0), ("FA", 50, 0), ("FPA", 900, 12)]
TRUTHS = [next_seq(*shape) for shape in SHAPES]


def test_expected_ack_live_hints():
    def hint(guess):
        return tcp_handshake.grade_expected(prediction(guess, X + 11)).hint
    assert tcp_handshake.grade_expected(prediction(X + 11, X + 11)).status == PASS
    assert "next byte expected" in hint(X + 1)
    assert "only SYN and FIN" in hint(X + 12)
    assert "one sequence number per byte" in hint(X + 2)


def test_expected_ack_hidden_cases():
    right = [(DONE, t) for t in TRUTHS]
    verdict = tcp_handshake.grade_expected(prediction(X + 11, X + 11, right, TRUTHS, SHAPES))
    assert verdict.status == PASS and "right in 6 of 6 cases" in verdict.detail
    # ignores SYN and FIN: wrong on the SYN (wrapping past 2**32) and both FINs
    no_flags = [(DONE, (seq + length) % 2**32) for _, seq, length in SHAPES]
    verdict = tcp_handshake.grade_expected(prediction(X + 11, X + 11, no_flags, TRUTHS, SHAPES))
    assert verdict.status == FAIL and "right in 3 of 6 cases" in verdict.detail
    assert "a SYN takes one sequence number" in verdict.hint and "SYN segment seq=4294967295" in verdict.detail
    # an answer not wrapped at 2**32 is the same number
    unwrapped = [(DONE, seq + length + ("S" in f) + ("F" in f)) for f, seq, length in SHAPES]
    assert tcp_handshake.grade_expected(prediction(X + 11, X + 11, unwrapped, TRUTHS, SHAPES)).status == PASS
    constant = [(DONE, X + 11)] * len(SHAPES)
    assert tcp_handshake.grade_expected(prediction(X + 11, X + 11, constant, TRUTHS, SHAPES)).hint == CONSTANT_HINT
    failed = [(RAISED, "line 2 in expected_ack: IndexError")] + right[1:]
    verdict = tcp_handshake.grade_expected(prediction(X + 11, X + 11, failed, TRUTHS, SHAPES))
    assert "right in 5 of 6 cases" in verdict.detail and "IndexError" in verdict.detail
    assert verdict.hint.startswith("fix the error above")


def test_ack_hint_names_the_mistake():
    assert "not the segment's own seq" in ack_hint(100, "PA", 100, 30)
    assert "a FIN takes one sequence number" in ack_hint(62, "FPA", 50, 12)
    assert "a SYN takes one sequence number" in ack_hint(50, "S", 50, 0)
    assert "one sequence number per byte" in ack_hint(51, "FPA", 50, 12)
    assert "only SYN and FIN" in ack_hint(7001, "A", 7000, 0)


def test_hidden_ack_cases_are_right_by_construction():
    reference = load_file(ROOT / "solutions" / "tcp_handshake.py", ImportError, "handshake_reference")
    args, truths, shapes = ack_cases(random.Random(7), H1, H2)
    assert [s[0] for s in shapes] == ["PA", "A", "S", "FA", "FPA"]
    assert all(shape[2] > 1 for shape in shapes if "P" in shape[0])
    for (segment,), truth, (flags, seq, length) in zip(args, truths, shapes):
        assert str(segment[TCP].flags) == flags and segment[TCP].seq == seq
        assert len(segment[TCP].payload) == length
        assert reference.expected_ack(segment) == truth
    again = ack_cases(random.Random(8), H1, H2)[2]
    assert again != shapes  # drawn: another run, other seqs and lengths


def test_a_whole_frame_goes_out_under_the_hosts_real_macs():
    h1 = SimpleNamespace(mac="02:00:00:00:00:01")
    h2 = SimpleNamespace(mac="02:00:00:00:00:02")
    segment = IP(src=H1, dst=H2) / TCP(flags="S")
    bare, problem = as_frame(segment, h1, h2)
    assert problem == "" and Ether(bare).src == h1.mac and Ether(bare).dst == h2.mac
    defaults = Ether(src="00:00:00:00:00:00", dst="ff:ff:ff:ff:ff:ff") / segment
    assert as_frame(defaults, h1, h2)[0] == bare
    addressed = Ether(src=h1.mac, dst=h2.mac) / segment
    assert as_frame(addressed, h1, h2)[0] == bytes(addressed)
    assert "not a scapy packet" in as_frame(b"x", h1, h2)[1]


def fin_verdict(flags, seq, src=H1):
    sent = frame(src, H2, CLIENT, SERVER, flags, seq, Y + 1)
    ev = evidence(sent, m=X + 11, y=Y, length=10, data_seq=X + 1, h2_states="LISTEN, CLOSE_WAIT", h2_ack=X + 12)
    return tcp_teardown.grade_fin(ev, Wire([Frame(1.0, "s1-eth1", sent)]))


def test_teardown_fin():
    assert fin_verdict("FA", X + 11).status == PASS
    assert "FIN without the ACK flag" in fin_verdict("F", X + 11).hint
    verdict = fin_verdict("FA", X + 1)
    assert verdict.status == FAIL and "seq not advanced after data: your 10 bytes" in verdict.hint
    assert "take them from the arguments" in fin_verdict("FA", X + 11, src="10.0.0.1").hint


def test_teardown_fin_ack_hidden_cases():
    live = ("FA", X + 11, 0)

    def verdict(guess, answers):
        return tcp_teardown.grade_fin_ack(prediction(guess, X + 12, answers, TRUTHS, SHAPES, live))
    assert verdict(X + 12, [(DONE, t) for t in TRUTHS]).status == PASS
    plus_one = verdict(X + 12, [(DONE, seq + 1) for _, seq, _ in SHAPES])  # seq + 1, whatever the data
    assert plus_one.status == FAIL and "right in 3 of 6 cases" in plus_one.detail
    assert "one sequence number per byte" in plus_one.hint
    assert "a FIN takes one sequence number" in verdict(X + 11, []).hint
    assert verdict(X + 12, [(DONE, X + 12)] * len(SHAPES)).hint == CONSTANT_HINT


def test_teardown_last_ack():
    def verdict(seq, ack, sport=CLIENT):
        sent = frame(H1, H2, sport, SERVER, "A", seq, ack)
        ev = evidence(sent, m=X + 11, k=Y + 1, closed=True)
        return tcp_teardown.grade_last_ack(ev, Wire([Frame(1.0, "s1-eth1", sent)]))
    assert verdict(X + 12, Y + 2).status == PASS
    assert "so the ACK number is k+1" in verdict(X + 12, Y + 1).hint
    assert "your FIN used up m" in verdict(X + 11, Y + 2).hint
    assert f"from {CLIENT} to {SERVER}" in verdict(X + 12, Y + 2, sport=40000).hint
