"""Grading of the TCP labs from hand-made captures and evidence: every check's right
answer and each typical wrong one with its hint, the hidden cases and the ISN check,
without a network."""
from __future__ import annotations

import dataclasses
import random
from types import SimpleNamespace

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exchange import Sent, to_frame
from lab.exercise import Outcome
from lab.grading import CONSTANT_HINT, LAB_FAULT
from lab.labs import tcp_handshake, tcp_teardown
from lab.loader import load_file
from lab.peers import states
from lab.runner import grade
from lab.sandbox import DONE, RAISED
from lab.segments import (WORDS, Ends, Prediction, ack_cases, ack_hint, craft, message, misaddressed, next_seq,
                          ports, predict, reply_to, show_states)
from lab.wire import Wire, flag_names

H1, H2 = "10.40.7.1", "10.40.7.2"
CLIENT, SERVER = 47011, 2917
X, Y = 1000, 5000
ENDS = Ends(H1, H2, CLIENT, SERVER)
DATA = b"hello there\n"          # what build_data is given: 12 bytes
M, K = X + 11, Y + 1             # teardown: the FIN's seq after 10 bytes at x+1; h2's FIN's seq


def frame(src=H1, dst=H2, sport=CLIENT, dport=SERVER, flags="A", seq=0, ack=0, data=b"") -> bytes:
    segment = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / (segment / data if data else segment))


def sent(data: bytes, fallback_at: float | None = None) -> Sent:
    """The student's frame, sent at t=1.0."""
    return Sent("", data, 1.0, fallback_at)


def wire(*frames: bytes) -> Wire:
    """The frames captured 1 ms apart from t=1.0, in this order."""
    return Wire([Frame(1.0 + i / 1000, "s1-eth1", data) for i, data in enumerate(frames)])


def assert_verdict(verdict, status: str, hint: str = "") -> None:
    assert verdict.status == status, verdict
    assert hint in verdict.hint and (hint or status == PASS or verdict.hint), verdict


def sent_as(raw: bytes) -> str:
    """The detail a mistake in this frame's segment gets: what was sent, as a student reads it."""
    tcp = Ether(raw)[TCP]
    return f"sent {flag_names(tcp)} seq={tcp.seq} ack={tcp.ack} len={len(tcp.payload)}"


def assert_mistake(verdict, raw: bytes, hint: str) -> None:
    """A failed verdict with exactly this hint, its detail the segment as it was sent."""
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, sent_as(raw), hint), verdict


SHAPE = "IP(src=..., dst=...) / TCP(sport=..., dport=..., flags=..., seq=..., ack=...)"


# --- tcp-handshake: syn ---

OTHER = (H1, "10.40.7.9", 33333, 4444)
WANTED = ((H1, H2, CLIENT, SERVER, "S", 0), (*OTHER, "S", 0))
OTHER_SYNS = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, 77777)), (DONE, (*OTHER, "S", 0, 99999999)))


def syn_verdict(seq=X, other_syns=OTHER_SYNS, answered=True, answer_ack=None, states="LISTEN, SYN_RECV",
                fallback_at=None, **fields):
    syn = frame(**{"flags": "S", "seq": seq, **fields})
    answer = frame(H2, H1, SERVER, CLIENT, "SA", Y, seq + 1 if answer_ack is None else answer_ack)
    ev = tcp_handshake.Evidence(ends=ENDS, syn=sent(syn, fallback_at), syn_states=states,
                                other_syns=other_syns, wanted_syns=WANTED)
    return tcp_handshake.grade_syn(ev, wire(syn, answer) if answered else wire(syn))


def test_syn_right_passes():
    verdict = syn_verdict()
    assert_verdict(verdict, PASS)
    assert f"SYN seq=x={X}" in verdict.detail and "3 SYNs asked for, 3 different ISNs" in verdict.detail


ADDRESSES = f"the addresses are {{}} > {{}}: h1 is {H1} and h2 {H2}; take them from the arguments"


@pytest.mark.parametrize("fields, hint", [
    ({"flags": "SA"}, "flags are SYN,ACK: a SYN opening a connection has only SYN set (flags='S')"),
    ({"flags": "A"}, "flags are ACK: a SYN opening a connection has only SYN set (flags='S')"),
    ({"data": b"hi"}, "a SYN carries no data here: data comes after the handshake"),
    ({"dport": 5000}, f"dport is 5000: h2 listens on port {SERVER}, your peer_port"),
    ({"sport": 40000}, f"sport is 40000: use my_port ({CLIENT}), where h2's answer will go"),
    ({"dst": "10.0.0.2"}, ADDRESSES.format(H1, "10.0.0.2")),
    ({"src": "10.0.0.1"}, ADDRESSES.format("10.0.0.1", H2)),
])
def test_syn_typical_mistakes(fields, hint):
    syn = frame(**{"flags": "S", "seq": X, **fields})
    assert_mistake(syn_verdict(answered=False, **fields), syn, hint)


NO_SYN_ACK = "h2 did not answer with a SYN-ACK; check the IP source"


def test_syn_needs_the_syn_ack_answer():
    assert_mistake(syn_verdict(answered=False), frame(flags="S", seq=X), NO_SYN_ACK)
    # h2 answered only the reference's SYN, sent in its place
    assert_mistake(syn_verdict(fallback_at=1.0005), frame(flags="S", seq=X), NO_SYN_ACK)


@pytest.mark.parametrize("reply, when", [
    (frame(H2, H1, SERVER, CLIENT, "SA", Y, X + 1), 0.990),  # before the SYN: an answer to something else
    (frame(H2, H1, 2918, CLIENT, "SA", Y, X + 1), 1.001),    # from another server port
    (frame(H2, H1, SERVER, 40000, "SA", Y, X + 1), 1.001),   # to another client port
    (frame(H2, H1, SERVER, CLIENT, "RA", 0, X + 1), 1.001),  # a reset: nothing listened
])
def test_syn_answered_only_by_h2s_syn_ack_to_this_syn(reply, when):
    syn = frame(flags="S", seq=X)
    ev = tcp_handshake.Evidence(ends=ENDS, syn=sent(syn), syn_states="LISTEN, SYN_RECV", other_syns=OTHER_SYNS,
                                wanted_syns=WANTED)
    capture = Wire(sorted([Frame(1.0, "s1-eth1", syn), Frame(when, "s1-eth1", reply)], key=lambda f: f.time))
    assert_mistake(tcp_handshake.grade_syn(ev, capture), syn, NO_SYN_ACK)


def test_syn_answered_wrong_or_without_syn_recv_is_the_labs_fault():
    verdict = syn_verdict(answer_ack=X + 7)
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, f"SYN-ACK ack={X + 7}, h2: LISTEN, SYN_RECV",
                                                              LAB_FAULT)
    verdict = syn_verdict(states="LISTEN")
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, f"SYN-ACK ack={X + 1}, h2: LISTEN", LAB_FAULT)


def test_syn_not_a_packet_or_missing_from_the_capture():
    ev = tcp_handshake.Evidence(ends=ENDS, syn=Sent("returned str, not a scapy packet"))
    verdict = tcp_handshake.grade_syn(ev, wire())
    assert_verdict(verdict, FAIL, "return a whole packet: IP(src=..., dst=...) / TCP(")
    assert verdict.detail == "returned str, not a scapy packet"
    ev = tcp_handshake.Evidence(ends=ENDS, syn=Sent("", frame(flags="S", seq=X), 2.0))
    assert_verdict(tcp_handshake.grade_syn(ev, wire(frame(flags="S", seq=X))), FAIL, LAB_FAULT)


def test_syn_isn_must_differ_between_syns():
    same = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, X)), (DONE, (*OTHER, "S", 0, 5)))
    verdict = syn_verdict(other_syns=same)
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, f"ISNs of 3 SYNs: {X}, {X}, 5",
        "your ISN is the same in two SYNs: draw it at random, e.g. random.randint(0, 2**32 - 1)")
    counted = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, X + 1)), (DONE, (*OTHER, "S", 0, X + 2)))
    verdict = syn_verdict(other_syns=counted)
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, f"ISNs of 3 SYNs: {X}, {X + 1}, {X + 2}",
        "your ISNs are only 1 apart: whoever saw one guesses the next; draw each at random, "
        "e.g. random.randint(0, 2**32 - 1)")
    wrapped = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, 2**32 - 3)), (DONE, (*OTHER, "S", 0, 9**9)))
    assert_verdict(syn_verdict(seq=2, other_syns=wrapped), FAIL, "only 5 apart")  # 2 and 2**32 - 3
    near = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, X + 1023)), (DONE, (*OTHER, "S", 0, 9**9)))
    assert_verdict(syn_verdict(other_syns=near), FAIL, "only 1023 apart")
    far = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, X + 1024)), (DONE, (*OTHER, "S", 0, 9**9)))
    assert_verdict(syn_verdict(other_syns=far), PASS)


ASKED = "right in 2 of 3 cases: asked for a SYN from 10.40.7.1:33333 to 10.40.7.9:4444"


def test_syn_hidden_cases_follow_their_arguments():
    hard_coded = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, 77777)), (DONE, (H1, H2, CLIENT, SERVER, "S", 0, 999999)))
    verdict = syn_verdict(other_syns=hard_coded)
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, f"{ASKED}, yours had IP destination '10.40.7.2'",
        "build the SYN from the arguments (my_ip, peer_ip, my_port, peer_port), not from values seen in one run")
    constant = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, X)), (DONE, (H1, H2, CLIENT, SERVER, "S", 0, X)))
    verdict = syn_verdict(other_syns=constant)
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, "the same SYN for two connections; right in 2 of 3 cases", CONSTANT_HINT)
    failing = ((DONE, (H1, H2, CLIENT, SERVER, "S", 0, 77777)), (RAISED, "line 3 in build_syn: KeyError: 'x'"))
    verdict = syn_verdict(other_syns=failing)
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, f"{ASKED}, no answer: line 3 in build_syn: KeyError: 'x'",
        "fix the error above: build_syn must work for any connection it is asked for")


def test_a_hidden_syn_is_read_as_the_grader_compares_it():
    args = (H1, H2, CLIENT, SERVER)
    right = IP(src=H1, dst=H2) / TCP(sport=CLIENT, dport=SERVER, flags="S", seq=X)
    assert tcp_handshake.syn_fields(right) == (*tcp_handshake.wanted_syn(*args), X) == (*args, "S", 0, X)
    with_data = IP(src=H1, dst=H2) / TCP(sport=CLIENT, dport=SERVER, flags="SA", seq=X) / b"hi"
    assert tcp_handshake.syn_fields(with_data) == (*args, "SA", 2, X)


@pytest.mark.parametrize("field, value, named", [
    (0, "10.40.7.7", "IP source '10.40.7.7'"),
    (1, "10.40.7.2", "IP destination '10.40.7.2'"),
    (2, CLIENT, f"sport {CLIENT}"),
    (3, SERVER, f"dport {SERVER}"),
    (4, "SA", "flags 'SA'"),
    (5, 4, "data length 4"),
])
def test_a_hidden_syn_names_the_first_field_not_from_its_arguments(field, value, named):
    fields = [*OTHER, "S", 0, 999999]
    fields[field] = value
    verdict = syn_verdict(other_syns=(OTHER_SYNS[0], (DONE, tuple(fields))))
    assert verdict.status == FAIL and verdict.detail == f"{ASKED}, yours had {named}"


# --- tcp-handshake: ack ---

def ack_verdict(seq=X + 1, ack=Y + 1, flags="A", fallback_at=None, states="LISTEN, ESTABLISHED", **fields):
    segment = frame(flags=flags, seq=seq, ack=ack, **fields)
    ev = tcp_handshake.Evidence(ends=ENDS, x=X, y=Y, ack=sent(segment, fallback_at), ack_states=states)
    return tcp_handshake.grade_ack(ev, wire(segment))


def test_ack_right_passes():
    verdict = ack_verdict()
    assert_verdict(verdict, PASS)
    assert "h2 went ESTABLISHED (LISTEN, ESTABLISHED)" in verdict.detail


@pytest.mark.parametrize("change, hint", [
    ({"flags": "SA"}, "the handshake's last segment is a plain ACK (flags='A'); a SYN here starts over"),
    ({"flags": "P"}, "set the ACK flag: flags='A'"),
    ({"ack": Y}, "ack=y: the SYN-ACK's SYN consumes a sequence number, so the ACK number is y+1"),
    ({"ack": Y + 2}, "ack is y+2: acknowledge h2's SYN with y+1"),
    ({"seq": X}, "seq=x: your SYN used up x, so this segment's seq is x+1"),
    ({"seq": X + 5}, "seq is x+5: after the SYN, your next number is x+1"),
    ({"sport": SERVER, "dport": CLIENT}, f"swap the SYN-ACK's ports: the ACK goes from {CLIENT} to {SERVER}"),
    ({"sport": 40000}, f"swap the SYN-ACK's ports: the ACK goes from {CLIENT} to {SERVER}"),
    ({"src": "10.0.0.1", "dst": "10.0.0.2"}, ADDRESSES.format("10.0.0.1", "10.0.0.2")),
])
def test_ack_typical_mistakes(change, hint):
    fields = {"flags": "A", "seq": X + 1, "ack": Y + 1, **change}
    assert_mistake(ack_verdict(**change), frame(**fields), hint)


def test_ack_not_taken_by_h2():
    right = frame(seq=X + 1, ack=Y + 1)
    assert_mistake(ack_verdict(fallback_at=1.5), right, "h2 did not reach ESTABLISHED; check the addresses")
    assert_mistake(ack_verdict(states="LISTEN, SYN_RECV"), right, "h2 did not reach ESTABLISHED; check the addresses")


@pytest.mark.parametrize("module, grader, field, shape", [
    (tcp_handshake, "grade_syn", "syn", SHAPE),
    (tcp_handshake, "grade_ack", "ack", SHAPE),
    (tcp_handshake, "grade_data", "data", SHAPE + " / data"),
    (tcp_teardown, "grade_fin", "fin", SHAPE),
    (tcp_teardown, "grade_last_ack", "last_ack", SHAPE),
])
def test_a_builder_that_returned_no_packet_is_shown_the_shape_of_one(module, grader, field, shape):
    ev = module.Evidence(ends=ENDS, **{field: Sent("returned str, not a scapy packet")})
    verdict = getattr(module, grader)(ev, wire())
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, "returned str, not a scapy packet", f"return a whole packet: {shape}")


# --- tcp-handshake: data ---

def data_verdict(carried=DATA, seq=X + 1, ack=Y + 1, flags="PA", received=None, fallback_at=None, **fields):
    segment = frame(flags=flags, seq=seq, ack=ack, data=carried, **fields)
    ev = tcp_handshake.Evidence(ends=ENDS, x=X, y=Y, data=sent(segment, fallback_at), message=DATA,
                                received=carried if received is None else received, h2_ack=seq + len(carried))
    return tcp_handshake.grade_data(ev, wire(segment))


def test_data_right_passes():
    verdict = data_verdict()
    assert_verdict(verdict, PASS)
    assert f"12 bytes at seq=x+1; h2 acknowledged ack={X + 13}" in verdict.detail


OTHER_BYTES = f"send the data argument, here 12 bytes {DATA!r}"


@pytest.mark.parametrize("change, hint", [
    ({"carried": b""}, "the segment carries no data: IP(...) / TCP(...) / data"),
    ({"carried": b"hello, h2\n"}, f"it carries b'hello, h2\\n': {OTHER_BYTES}"),
    ({"carried": b"HELLO THERE\n"}, f"it carries b'HELLO THERE\\n': {OTHER_BYTES}"),  # the right length
    ({"carried": DATA[:-1]}, f"it carries {DATA[:-1]!r}: {OTHER_BYTES}"),
    ({"seq": X + 2}, "seq=x+2: the pure ACK before carried no data and used no number; data starts at x+1"),
    ({"seq": X}, "seq is x+0: the first data byte is number x+1"),
    ({"flags": "P"}, "after the handshake every segment carries ACK: flags='PA'"),
    ({"ack": Y}, "ack is y+0: you still expect h2's byte y+1"),
    ({"sport": 40000, "dport": 5000}, f"keep the connection's ports: from {CLIENT} to {SERVER}"),
    ({"src": "10.0.0.1"}, ADDRESSES.format("10.0.0.1", H2)),
])
def test_data_typical_mistakes(change, hint):
    fields = {"flags": "PA", "seq": X + 1, "ack": Y + 1, "data": DATA, **change}
    fields["data"] = fields.pop("carried", DATA)
    assert_mistake(data_verdict(**change), frame(**fields), hint)


def test_data_hint_shows_the_first_24_bytes_of_each_side():
    message, carried = b"a line longer than twenty-four bytes\n", b"another line, also longer than 24\n"
    segment = frame(flags="PA", seq=X + 1, ack=Y + 1, data=carried)
    ev = tcp_handshake.Evidence(ends=ENDS, x=X, y=Y, data=sent(segment), message=message, received=carried)
    assert_mistake(tcp_handshake.grade_data(ev, wire(segment)), segment,
                   "it carries b'another line, also longe': send the data argument, "
                   "here 37 bytes b'a line longer than twent'")


def test_data_not_received_by_h2s_application():
    right = frame(flags="PA", seq=X + 1, ack=Y + 1, data=DATA)
    assert_mistake(data_verdict(fallback_at=1.5), right, "h2's application did not receive the bytes")
    assert_mistake(data_verdict(received=b""), right, "h2's application did not receive the bytes")


# --- tcp-handshake: expected-ack, and the ACK hints both labs share ---

SHAPES = (("PA", 100, 30), ("A", 7000, 0), ("S", 2**32 - 1, 0), ("FA", 50, 0), ("FPA", 900, 12))
TRUTHS = tuple(next_seq(*shape) for shape in SHAPES)
RIGHT = tuple((DONE, truth) for truth in TRUTHS)
LIVE_DATA = ("PA", X + 1, 10)


def expected_verdict(guess, real=X + 11, cases=RIGHT, fallback_at=None):
    ev = tcp_handshake.Evidence(data=sent(b"", fallback_at), h2_ack=real,
                                prediction=Prediction(LIVE_DATA, guess, cases, TRUTHS, SHAPES))
    return tcp_handshake.grade_expected(ev, wire())


def test_expected_ack_right_passes():
    verdict = expected_verdict(X + 11)
    assert_verdict(verdict, PASS)
    assert f"ack = seq + 10 bytes = {X + 11}" in verdict.detail and "right in 6 of 6 cases" in verdict.detail


@pytest.mark.parametrize("guess, hint", [
    (X + 1, "an ACK number names the next byte expected, not the segment's own seq"),
    (X + 12, "only SYN and FIN take a sequence number of their own"),
    (X + 2, "data takes one sequence number per byte: add len(data) bytes, not 1"),
    (X + 6, "the segment's seq, plus one per byte of data, plus one for a SYN or a FIN"),
])
def test_expected_ack_live_mistakes(guess, hint):
    verdict = expected_verdict(guess)
    assert_verdict(verdict, FAIL, hint)
    assert f"you said {guess}; h2 answered ack={X + 11}" in verdict.detail


def test_expected_ack_hidden_cases():
    # ignores SYN and FIN: wrong on the SYN (wrapping past 2**32) and both FINs
    no_flags = tuple((DONE, (seq + length) % 2**32) for _, seq, length in SHAPES)
    verdict = expected_verdict(X + 11, cases=no_flags)
    assert_verdict(verdict, FAIL, "a SYN takes one sequence number although it carries no data")
    assert "right in 3 of 6 cases" in verdict.detail and "SYN segment seq=4294967295" in verdict.detail
    # an answer not wrapped at 2**32 is the same number
    unwrapped = tuple((DONE, seq + length + ("S" in f) + ("F" in f)) for f, seq, length in SHAPES)
    assert_verdict(expected_verdict(X + 11, cases=unwrapped), PASS)
    verdict = expected_verdict(X + 11, cases=((DONE, X + 11),) * len(SHAPES))
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, f"right in 1 of 6 cases: {X + 11} for every segment asked about", CONSTANT_HINT)
    failing = ((RAISED, "line 2 in expected_ack: IndexError"),) + RIGHT[1:]
    verdict = expected_verdict(X + 11, cases=failing)
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, "right in 5 of 6 cases: for a PSH,ACK segment seq=100 with 30 bytes of data, "
              "no answer: line 2 in expected_ack: IndexError",
        "fix the error above: the function must answer for any segment")
    plus_one = RIGHT[:1] + ((DONE, 7001),) + RIGHT[2:]  # the pure ACK given a number of its own
    assert_verdict(expected_verdict(X + 11, cases=plus_one), FAIL, "only SYN and FIN take a sequence number")


def test_expected_ack_without_h2s_ack_is_the_labs_fault():
    verdict = expected_verdict(X + 11, real=None)
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, "no ACK from h2 was captured", LAB_FAULT)


def test_expected_ack_after_a_fallback_judges_by_the_segment():
    # h2 kept the student's misplaced bytes too, so its ACK covers more than the reference's segment
    assert_verdict(expected_verdict(X + 11, real=X + 23, fallback_at=1.5), PASS)
    assert_verdict(expected_verdict(X + 23, real=X + 23, fallback_at=1.5), FAIL, "plus one per byte of data")
    assert_verdict(expected_verdict(X + 11, real=X + 23), FAIL)  # no fallback: h2's ACK is the truth
    # whatever h2 acknowledged after a fallback (here the data's seq minus its length), the segment decides
    verdict = expected_verdict(X + 11, real=X + 1 - 10, fallback_at=1.5)
    assert verdict.status == PASS and verdict.detail.startswith(
        f"you said {X + 11}: ack = seq + 10 bytes, right for the lab's segment; h2 answered ack={X - 9}, as it "
        "also kept bytes of your misplaced one")
    same = expected_verdict(X + 11, real=X + 11)  # the verdict says what the student gave and what h2 did
    assert same.status == PASS and same.detail.startswith(
        f"you said {X + 11}: ack = seq + 10 bytes = {X + 11}, and h2's kernel answered ack={X + 11}")


OWN_SEQ = "an ACK number names the next byte expected, not the segment's own seq: add what it takes"
FIN_TAKES_ONE = "a FIN takes one sequence number although it carries no data: add 1 for it"
PER_BYTE = "data takes one sequence number per byte: add len(data) bytes, not 1"
ONLY_SYN_FIN = "only SYN and FIN take a sequence number of their own; data takes one per byte, len(data)"
THE_RULE = "the segment's seq, plus one per byte of data, plus one for a SYN or a FIN"


@pytest.mark.parametrize("value, shape, hint", [
    (100, ("PA", 100, 30), OWN_SEQ),
    (62, ("FPA", 50, 12), FIN_TAKES_ONE),
    (50, ("S", 50, 0), "a SYN takes one sequence number although it carries no data: add 1 for it"),
    (51, ("FPA", 50, 12), PER_BYTE),
    (52, ("FPA", 50, 12), PER_BYTE),         # 1 for the FIN, 1 for all the data
    (101, ("PA", 100, 2), PER_BYTE),         # two bytes: 1 is not len(data)
    (103, ("PA", 100, 2), ONLY_SYN_FIN),     # one too many: data has no number of its own
    (7001, ("A", 7000, 0), ONLY_SYN_FIN),
    (7005, ("A", 7000, 0), THE_RULE),
    (2**32 - 5, ("PA", 100, 30), THE_RULE),  # 105 below the seq: far off
])
def test_ack_hint_names_the_mistake(value, shape, hint):
    assert ack_hint(value, *shape) == hint


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


def test_hidden_ack_segments_look_like_captured_ones():
    for seed in range(40):
        args, _, shapes = ack_cases(random.Random(seed), H1, H2)
        for (segment,), (flags, seq, length) in zip(args, shapes):
            tcp = segment[TCP]
            assert (segment[IP].src, segment[IP].dst) == (H1, H2)
            assert len({tcp.sport, tcp.dport}) == 2 and min(tcp.sport, tcp.dport) >= 1024
            assert (length > 0) == ("P" in flags) and length <= 1460  # data fits one segment
            assert (Raw in segment) == (length > 0)  # no empty data layer a student's code could trip on
            assert (tcp.ack != 0) == ("A" in flags)  # an ack number exactly when the ACK flag says so


def test_a_runs_ports_are_different_and_none_is_well_known():
    for seed in range(200):
        drawn = ports(random.Random(seed), 5)
        assert len(set(drawn)) == 5 and all(1024 <= port < 2**16 for port in drawn)
    assert min(ports(random.Random(3), 50000)) == 1024  # the first port that is not well known


def test_a_runs_message_is_a_line_of_a_few_words_that_changes_from_run_to_run():
    lines = [message(random.Random(seed)) for seed in range(200)]
    for line in lines:
        words = line.decode().split(" ")
        assert line.endswith(b"\n") and 2 <= len(words) <= 7 and {w.strip() for w in words} <= set(WORDS)
    assert len(set(lines)) > 150 and len({len(line) for line in lines}) > 20
    assert message(random.Random(5)) == message(random.Random(5))  # --seed replays it


def test_the_labs_own_segment_goes_between_the_hosts_as_asked():
    h1, h2 = SimpleNamespace(ip=H1), SimpleNamespace(ip=H2)
    segment = craft(h1, h2, CLIENT, SERVER, "PA", X, Y, b"hi", window=512)
    assert (segment[IP].src, segment[IP].dst, segment[TCP].sport, segment[TCP].dport) == (H1, H2, CLIENT, SERVER)
    assert (str(segment[TCP].flags), segment[TCP].seq, segment[TCP].ack, segment[TCP].window) == ("PA", X, Y, 512)
    assert segment[Raw].load == b"hi"
    bare = craft(h1, h2, CLIENT, SERVER, "S", X)
    assert Raw not in bare and (bare[TCP].ack, bare[TCP].window) == (0, 8192)


def test_a_prediction_asks_about_the_live_segment_and_the_made_up_ones():
    asked = []

    def student(todo, host, segment, extra=()):
        asked.append((todo, host, segment, extra))
        return Outcome(todo, 42, DONE, cases=tuple((DONE, 7) for _ in extra))
    h1 = SimpleNamespace(ip=H1)
    run = SimpleNamespace(rng=random.Random(4), student=student)
    live = IP(src=H1, dst=H2) / TCP(flags="PA", seq=X + 1) / DATA
    prediction = predict(run, "expected_ack", h1, live, H2)
    (todo, host, segment, extra), = asked
    assert (todo, host, segment) == ("expected_ack", h1, live)
    args, truths, shapes = ack_cases(random.Random(4), H1, H2)  # the same draw
    assert [bytes(a[0]) for a in extra] == [bytes(a[0]) for a in args]
    assert prediction == Prediction(("PA", X + 1, len(DATA)), 42, ((DONE, 7),) * 5, tuple(truths), tuple(shapes))


def test_states_beside_the_ladder_are_all_read_before_any_is_shown():
    events = []
    hosts = [SimpleNamespace(name=name, tcp_states=lambda port, name=name: events.append(("read", name, port))
                             or ["LISTEN", "ESTABLISHED"]) for name in ("h1", "h2")]
    run = SimpleNamespace(state=lambda host, text: events.append(("show", host.name, text)))
    show_states(run, SERVER, *hosts)
    text = states(SimpleNamespace(tcp_states=lambda port: ["LISTEN", "ESTABLISHED"]), SERVER)  # as peers words it
    assert events == [("read", "h1", SERVER), ("read", "h2", SERVER), ("show", "h1", text), ("show", "h2", text)]


# --- the pieces of lab/segments.py and the engine the labs lean on ---

def test_a_whole_frame_goes_out_under_the_hosts_real_macs():
    h1 = SimpleNamespace(mac="02:00:00:00:00:01")
    h2 = SimpleNamespace(mac="02:00:00:00:00:02")
    segment = IP(src=H1, dst=H2) / TCP(flags="S")
    bare, problem = to_frame(segment, h1, h2)
    assert problem == "" and Ether(bare).src == h1.mac and Ether(bare).dst == h2.mac
    defaults = Ether(src="00:00:00:00:00:00", dst="ff:ff:ff:ff:ff:ff") / segment
    assert to_frame(defaults, h1, h2)[0] == bare
    addressed = Ether(src=h1.mac, dst=h2.mac) / segment
    assert to_frame(addressed, h1, h2)[0] == bytes(addressed)
    assert "not a scapy packet" in to_frame(b"x", h1, h2)[1]


class FakePort:
    """A host's port whose incoming frames are a list: expect() takes the first wanted."""

    def __init__(self, frames: list[bytes]):
        self.frames = frames

    def expect(self, wanted, timeout):
        for data in self.frames:
            if wanted(data):
                self.frames.remove(data)
                return data
        return None


def test_reply_to_waits_for_that_segment_and_gives_its_ip_layer():
    reset = frame(H2, H1, SERVER, CLIENT, "R", Y)
    elsewhere = frame(H2, H1, SERVER, 40000, "SA", Y, X + 1)
    syn_ack = frame(H2, H1, SERVER, CLIENT, "SA", Y, X + 1)
    h1 = SimpleNamespace(port=FakePort([reset, elsewhere, syn_ack]))
    answer = reply_to(h1, SERVER, CLIENT, "SA")()
    assert answer.name == "IP" and answer[TCP].flags == "SA" and answer[TCP].ack == X + 1
    assert reply_to(h1, SERVER, CLIENT, "SA")() is None
    assert reply_to(h1, SERVER, CLIENT)()[TCP].flags == "R"  # any flags


def test_misaddressed_reads_the_ends():
    wrong, hint = misaddressed(IP(src=H2, dst=H1) / TCP(), ENDS)
    assert wrong and hint.startswith(f"the addresses are {H2} > {H1}: h1 is {H1} and h2 {H2}")
    assert not misaddressed(IP(src=H1, dst=H2) / TCP(), ENDS)[0]


# --- tcp-teardown: fin ---

def fin_verdict(flags="FA", seq=M, ack=Y + 1, states="LISTEN, CLOSE_WAIT", h2_ack=M + 1, fallback_at=None,
                **fields):
    segment = frame(flags=flags, seq=seq, ack=ack, **fields)
    ev = tcp_teardown.Evidence(ends=ENDS, y=Y, data_seq=X + 1, length=10, m=M, fin=sent(segment, fallback_at),
                               fin_states=states, h2_ack=h2_ack)
    return tcp_teardown.grade_fin(ev, wire(segment))


def test_fin_right_passes():
    verdict = fin_verdict()
    assert_verdict(verdict, PASS)
    assert f"FIN,ACK seq=m={M}; h2 acknowledged m+1" in verdict.detail


@pytest.mark.parametrize("change, hint", [
    ({"flags": "A"}, "flags are ACK: a FIN needs the FIN flag"),
    ({"flags": "PA"}, "flags are PSH,ACK: a FIN needs the FIN flag"),
    ({"flags": "F"}, "FIN without the ACK flag: every segment after the handshake carries ACK, "
                     "and Linux ignores one without it: flags='FA'"),
    ({"seq": X + 1}, "seq not advanced after data: your 10 bytes took 10 sequence numbers, so the FIN's seq is "
                     f"{M}"),
    ({"seq": M + 1}, "seq is m+1: the FIN takes the number after your last byte"),
    ({"seq": M - 1}, "seq is m-1: the FIN takes the number after your last byte"),
    ({"ack": Y}, "ack is y+0: you still expect h2's byte y+1"),
    ({"sport": 40000, "dport": 5000}, f"keep the connection's ports: from {CLIENT} to {SERVER}"),
    ({"src": "10.0.0.1", "dst": "10.0.0.2"}, ADDRESSES.format("10.0.0.1", "10.0.0.2")),
])
def test_fin_typical_mistakes(change, hint):
    assert_mistake(fin_verdict(**change), frame(**{"flags": "FA", "seq": M, "ack": Y + 1, **change}), hint)


def test_fin_not_taken_by_h2():
    right, hint = frame(flags="FA", seq=M, ack=Y + 1), "h2 did not take the FIN; check its addresses"
    assert_mistake(fin_verdict(fallback_at=1.5), right, hint)
    assert_mistake(fin_verdict(states="LISTEN, ESTABLISHED"), right, hint)
    assert_mistake(fin_verdict(h2_ack=M), right, hint)  # a duplicate ACK
    ev = tcp_teardown.Evidence(ends=ENDS, m=M, fin=Sent("returned NoneType, not a scapy packet"))
    assert_verdict(tcp_teardown.grade_fin(ev, wire()), FAIL, "return a whole packet")


# --- tcp-teardown: fin-ack ---

LIVE_FIN = ("FA", M, 0)


def fin_ack_verdict(guess, cases=RIGHT, h2_ack=M + 1):
    ev = tcp_teardown.Evidence(m=M, h2_ack=h2_ack, prediction=Prediction(LIVE_FIN, guess, cases, TRUTHS, SHAPES))
    return tcp_teardown.grade_fin_ack(ev, wire())


def test_fin_ack_right_passes():
    verdict = fin_ack_verdict(M + 1)
    assert_verdict(verdict, PASS)
    assert f"m+1 = {M + 1}: the FIN consumed one sequence number" in verdict.detail


@pytest.mark.parametrize("guess, hint", [
    (M, "a FIN takes one sequence number although it carries no data: add 1 for it"),  # m, not m+1
    (M + 2, "the segment's seq, plus one per byte of data, plus one for a SYN or a FIN"),
    (M + 11, "the segment's seq, plus one per byte of data"),
])
def test_fin_ack_live_mistakes(guess, hint):
    verdict = fin_ack_verdict(guess)
    assert_verdict(verdict, FAIL, hint)
    assert f"you said {guess}; h2 answered ack={M + 1}" in verdict.detail


def test_fin_ack_hidden_cases():
    plus_one = tuple((DONE, seq + 1) for _, seq, _ in SHAPES)  # seq + 1, whatever the data
    verdict = fin_ack_verdict(M + 1, plus_one)
    assert_verdict(verdict, FAIL, "one sequence number per byte")
    assert "right in 3 of 6 cases" in verdict.detail and "30 bytes of data you said 101, the ACK is 130" \
        in verdict.detail
    assert_verdict(fin_ack_verdict(M + 1, ((DONE, M + 1),) * len(SHAPES)), FAIL, CONSTANT_HINT)
    failing = RIGHT[:3] + ((RAISED, "line 5 in expected_fin_ack: TypeError"),) + RIGHT[4:]
    verdict = fin_ack_verdict(M + 1, failing)
    assert_verdict(verdict, FAIL, "fix the error above")
    assert "for a FIN,ACK segment seq=50 with no data, " in verdict.detail and "TypeError" in verdict.detail


def test_fin_ack_without_h2s_ack_is_the_labs_fault():
    assert_verdict(fin_ack_verdict(M + 1, h2_ack=None), FAIL, LAB_FAULT)


# --- tcp-teardown: last-ack ---

def last_ack_verdict(flags="A", seq=M + 1, ack=K + 1, closed=True, fallback_at=None, **fields):
    segment = frame(flags=flags, seq=seq, ack=ack, **fields)
    ev = tcp_teardown.Evidence(ends=ENDS, m=M, k=K, last_ack=sent(segment, fallback_at), closed=closed)
    return tcp_teardown.grade_last_ack(ev, wire(segment))


def test_last_ack_right_passes():
    verdict = last_ack_verdict()
    assert (verdict.status, verdict.detail) == (PASS, "ACK seq=m+1 ack=k+1; h2 left LAST_ACK and its socket is gone "
                                                      "(CLOSED)")


@pytest.mark.parametrize("change, hint", [
    ({"flags": "FA"}, "flags are FIN,ACK: the last segment is a plain ACK, flags='A'"),
    ({"flags": "PA"}, "flags are PSH,ACK: the last segment is a plain ACK, flags='A'"),
    ({"flags": "R"}, "flags are RST: the last segment is a plain ACK, flags='A'"),
    ({"ack": K}, "ack=k: h2's FIN consumes a sequence number, so the ACK number is k+1"),
    ({"ack": K + 2}, "ack is k+2: acknowledge h2's FIN with k+1"),
    ({"seq": M}, "seq=m: your FIN used up m, so this segment's seq is m+1"),
    ({"seq": M + 3}, "seq is m+3: after your FIN, your next number is m+1"),
    ({"sport": SERVER, "dport": CLIENT}, f"swap the FIN's ports: the ACK goes from {CLIENT} to {SERVER}"),
    ({"dst": "10.0.0.2"}, ADDRESSES.format(H1, "10.0.0.2")),
])
def test_last_ack_typical_mistakes(change, hint):
    assert_mistake(last_ack_verdict(**change), frame(**{"flags": "A", "seq": M + 1, "ack": K + 1, **change}), hint)


def test_last_ack_not_taken_by_h2():
    right, hint = frame(seq=M + 1, ack=K + 1), "h2's socket did not close; check the ports"
    assert_mistake(last_ack_verdict(closed=False), right, hint)
    assert_mistake(last_ack_verdict(fallback_at=1.5), right, hint)


# --- whole runs: the engine calls each check's own grader ---

def handshake_run():
    """The evidence and capture of a right handshake, as the scenario records them."""
    syn, syn_ack = frame(flags="S", seq=X), frame(H2, H1, SERVER, CLIENT, "SA", Y, X + 1)
    ack, data = frame(seq=X + 1, ack=Y + 1), frame(flags="PA", seq=X + 1, ack=Y + 1, data=DATA)
    live = ("PA", X + 1, len(DATA))
    ev = tcp_handshake.Evidence(
        ends=ENDS, syn=Sent("", syn, 1.0), syn_states="LISTEN, SYN_RECV", other_syns=OTHER_SYNS, wanted_syns=WANTED,
        x=X, y=Y, ack=Sent("", ack, 1.002), ack_states="LISTEN, ESTABLISHED", data=Sent("", data, 1.003),
        message=DATA, received=DATA, h2_ack=X + 13, prediction=Prediction(live, X + 13, RIGHT, TRUTHS, SHAPES))
    return ev, wire(syn, syn_ack, ack, data)


def teardown_run():
    fin, last = frame(flags="FA", seq=M, ack=Y + 1), frame(seq=M + 1, ack=K + 1)
    ev = tcp_teardown.Evidence(
        ends=ENDS, y=Y, data_seq=X + 1, length=10, m=M, fin=Sent("", fin, 1.0), fin_states="LISTEN, CLOSE_WAIT",
        h2_ack=M + 1, prediction=Prediction(LIVE_FIN, M + 1, RIGHT, TRUTHS, SHAPES), k=K,
        last_ack=Sent("", last, 1.001), closed=True)
    return ev, wire(fin, last)


@pytest.mark.parametrize("module, run", [(tcp_handshake, handshake_run), (tcp_teardown, teardown_run)])
def test_a_right_run_passes_every_check_and_each_check_grades_its_own_part(module, run):
    lab = module.LAB
    ev, frames = run()
    outcomes = {todo: Outcome(todo, None, DONE) for todo in lab.todos}
    verdicts = grade(lab, ev, frames.raw, outcomes, "exercise.py")
    assert [(v.id, v.status) for v in verdicts] == [(check.id, PASS) for check in lab.checks], verdicts
    # spoil one part of the evidence at a time: only the checks reading it fail
    for change, fails in SPOILED[lab.name]:
        bad = dataclasses.replace(ev, **change)
        failing = [v.id for v in grade(lab, bad, frames.raw, outcomes, "exercise.py") if v.status == FAIL]
        assert failing == fails, (change, failing)


SPOILED = {
    "tcp-handshake": [({"syn_states": "LISTEN"}, ["syn"]), ({"ack_states": "LISTEN"}, ["ack"]),
                      ({"received": b""}, ["data"]), ({"h2_ack": X + 14}, ["expected-ack"])],
    "tcp-teardown": [({"fin_states": "LISTEN"}, ["fin"]), ({"h2_ack": M}, ["fin", "fin-ack"]),
                     ({"closed": False}, ["last-ack"])],
}
