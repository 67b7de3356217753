"""tcp-vs-udp without a network: what a run draws, the cases the lab makes with their
right answers (checked against the exercise's definitions, written here again in
another way), the retransmission count from a hand-made capture, the nft loss rule,
and the grading of every typical mistake from hand-made evidence."""
from __future__ import annotations

import dataclasses
import io
import random
import socket
import struct
import time
from types import SimpleNamespace

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.errors import ScenarioError
from lab.exercise import TODO, Outcome, progress
from lab.grading import CONSTANT_HINT
from lab.exchange import poll
from lab.impair import loss_rule
from lab.kernel import Sock
from lab.labs import _tcp_vs_udp_cases as cases
from lab.labs import _tcp_vs_udp_experiments as experiments
from lab.labs import _tcp_vs_udp_table as table
from lab.labs import tcp_vs_udp as lab
from lab.labs._tcp_vs_udp_cases import Counts, Plan, SplitCase, TallyCase
from lab.labs._tcp_vs_udp_experiments import TcpResult, UdpResult
from lab.loader import load_file
from lab.sandbox import DONE, RAISED, TIMEOUT
from lab.wire import Wire

REFERENCE = load_file(ROOT / "solutions" / "tcp_vs_udp.py", RuntimeError, "tcp_vs_udp_reference")
SEEDS = range(300)
NO_WIRE = Wire([])  # the checks read only the evidence


def by_definition(sent: int, received: list[int]) -> dict:
    """tally() as its docstring words it, one clause at a time."""
    firsts = [i for i, n in enumerate(received) if n not in received[:i]]
    delivered = len({n for n in received if 0 <= n < sent})
    return {"delivered": delivered, "lost": sent - delivered, "duplicated": len(received) - len(firsts),
            "out_of_order": sum(any(m > received[i] for m in received[:i]) for i in firsts)}


def plan(**changes) -> Plan:
    return dataclasses.replace(Plan(1, 2, 3, 4, 5, (b"a\n",), 200, 500, late=10, held=(3, 4), twice=6), **changes)


def tcp_result(chunks) -> TcpResult:
    return TcpResult(complete=True, took=0.1, dropped=0, chunks=tuple(chunks), after_send=None)


def test_a_run_draws_its_ports_messages_and_sizes_from_the_seed():
    plans = [cases.draw(random.Random(seed), lab.MESSAGES) for seed in SEEDS]
    assert cases.draw(random.Random(3), lab.MESSAGES) == plans[3]
    for field in ("boundary_tcp", "lossy_udp", "texts", "messages", "chunk", "late", "held", "twice"):
        assert len({getattr(plan, field) for plan in plans}) > 3, field
    for drawn in plans:
        ports = (drawn.boundary_tcp, drawn.boundary_udp, drawn.lossy_tcp, drawn.lossy_udp, drawn.late_udp)
        assert len(set(ports)) == 5 and all(1024 <= port < 32768 for port in ports)
        assert 3 <= len(drawn.texts) and all(text.endswith(b"\n") and text.count(b"\n") == 1
                                             for text in drawn.texts)
        assert drawn.chunk % cases.WIDTH and 300 <= drawn.chunk <= 700
        assert lab.MESSAGES[0] <= drawn.messages <= lab.MESSAGES[1]
        first, second = drawn.held
        assert second == first + 1 and 0 < first and second + 2 < drawn.late and drawn.twice not in drawn.held


def test_the_late_step_order_and_its_counts_by_construction():
    assert cases.late_order(plan()) == [0, 1, 2, 5, 6, 6, 7, 8, 9, 3, 4]
    for seed in SEEDS:
        drawn = cases.draw(random.Random(seed), lab.MESSAGES)
        row = table.late_row(drawn, cases.late_order(drawn))
        assert row.truth == Counts(**by_definition(drawn.late, row.received)) == Counts(drawn.late, 0, 1, 2)
        assert row.late == list(drawn.held)


def test_made_up_buffers_are_built_from_their_answers():
    seen = set()
    for seed in SEEDS:
        for case in cases.made_up_buffers(random.Random(seed)):
            messages, rest = case.truth
            assert case.kind == "made up" and case.status == "" and case.output is None
            assert case.input == b"".join(m + b"\n" for m in messages) + rest
            assert all(b"\n" not in piece for piece in messages + [rest])
            assert REFERENCE.split_messages(case.input) == case.truth
            seen.update(case.input)
            seen.add(case.where)
    assert "a buffer the lab made up (an empty buffer)" in seen and "a buffer the lab made up " \
           "(only the start of a message)" in seen
    assert set(range(256)) - {ord("\n")} <= seen  # every byte but the newline shows up


def stripped(buffer: bytes):
    """A typical wrong split: lines cut by splitlines() and stripped."""
    *lines, rest = buffer.split(b"\n")
    return [line.strip() for piece in lines for line in piece.splitlines() or [b""]], rest


def decoded(buffer: bytes):
    """A typical wrong split: through str."""
    *lines, rest = buffer.decode().split("\n")
    return [line.encode() for line in lines], rest.encode()


def test_made_up_buffers_catch_strip_splitlines_and_decode_every_run():
    for seed in SEEDS:
        made = cases.made_up_buffers(random.Random(seed))
        assert any(stripped(case.input) != case.truth for case in made)
        with pytest.raises(UnicodeDecodeError):
            [decoded(case.input) for case in made]


def test_stream_pieces_know_each_cut_from_the_offsets():
    five = plan(messages=5, chunk=8)
    chunks = [b"00000\n00", b"001\n0000", b"2\n00003\n", b"000"]
    pieces = cases.stream_pieces(five, tuple(chunks))
    assert [p.input for p in pieces] == [b"00000\n00", b"00001\n0000", b"00002\n00003\n", b"000"]
    assert [p.truth for p in pieces] == [([b"00000"], b"00"), ([b"00001"], b"0000"),
                                         ([b"00002", b"00003"], b""), ([], b"000")]
    assert {p.kind for p in pieces} == {"stream"}
    assert all(REFERENCE.split_messages(p.input) == p.truth for p in pieces)
    row = table.tcp_row(five, tcp_result(chunks))
    assert row.truth == Counts(4, 1) == Counts(**by_definition(5, row.received))
    with pytest.raises(Exception, match="not the messages h1 sent"):
        cases.stream_pieces(five, (b"00000\n00002\n",))


@pytest.mark.parametrize("shape", [dict(lost=3), dict(copies=4), dict(late=3), dict(late=4, together=True),
                                   dict(lost=2, late=3, copies=3), dict(lost=12)])
def test_received_lists_have_the_counts_they_were_built_with(shape):
    for seed in SEEDS:
        case = cases.received_list(random.Random(seed), "test", 12, **shape)
        assert case.truth == Counts(**by_definition(12, case.received)), (seed, case)
        assert dataclasses.asdict(case.truth) == REFERENCE.tally(12, case.received)
        assert all(any(m > n for m in case.received[:case.received.index(n)]) for n in case.late)


def test_made_up_tallies_cover_each_mistake():
    for seed in SEEDS:
        made = {case.where: case for case in cases.made_up_tallies(random.Random(seed))}
        assert all(case.truth == Counts(**by_definition(case.sent, case.received)) for case in made.values())
        together = made["a list the lab made up (late ones after the largest)"]
        assert cases.adjacent_inversions(together.received) == 1 < together.truth.out_of_order
        assert made["a list the lab made up (nothing arrived)"].received == []
        copies = made["a list the lab made up (some twice or more)"]
        assert len(copies.received) > len(set(copies.received))


def test_udp_row_counts_from_the_counters_only_when_they_explain_what_arrived():
    six = plan(messages=6, chunk=8)
    udp = UdpResult(complete=True, took=0.1, dropped=2, received=(0, 1, 3, 5), after_send=None, buffer_drops=0)
    assert table.udp_row(six, udp).truth == Counts(4, 2)
    assert table.udp_row(six, dataclasses.replace(udp, dropped=1, buffer_drops=1)).truth == Counts(4, 2)
    assert table.udp_row(six, dataclasses.replace(udp, received=(0, 3, 1, 5))).truth is None   # reordered
    assert table.udp_row(six, dataclasses.replace(udp, received=(0, 1, 1, 3, 5))).truth is None  # duplicated
    assert table.udp_row(six, dataclasses.replace(udp, dropped=1)).truth is None       # a loss unexplained
    assert table.udp_row(six, dataclasses.replace(udp, complete=False)).truth is None


class TallyRun:
    """Just what ask_tally uses of a Run: the reference answers every case, as the
    student's code (written) or standing in for it (not done). answer: the student's
    tally instead; live_error: the student's tally raised on the live case only."""

    def __init__(self, written: bool, answer=None, live_error: str = ""):
        self.rng, self.written, self.exercise = random.Random(4), written, self
        self.answer, self.live_error, self.asked = answer or REFERENCE.tally, live_error, []

    def host(self, name):
        return SimpleNamespace(netns=f"/run/netns/{name}")

    def student(self, todo, host, *args, extra=()):
        self.asked.append(("student", todo, host.netns))
        values = [self.answered(case) for case in (args, *extra)]
        if not self.written:
            return Outcome(todo, REFERENCE.tally(*args), TODO, "TODO tally() not done yet",
                           cases=tuple((TODO, "") for _ in extra))
        if self.live_error:
            return Outcome(todo, REFERENCE.tally(*args), RAISED, self.live_error, cases=tuple(values[1:]))
        return Outcome(todo, values[0][1], DONE, replaced=False, cases=tuple(values[1:]))

    def answered(self, case: tuple) -> tuple:
        try:
            return DONE, self.answer(*case)
        except ValueError as error:
            return RAISED, str(error)

    def reference_value(self, todo, netns, args):
        self.asked.append(("reference", todo, netns))
        return REFERENCE.tally(*args)


@pytest.mark.parametrize("written", [True, False], ids=["student's tally", "reference standing in"])
def test_a_row_the_lab_cannot_count_is_shown_as_tally_counted_it_and_not_graded(written):
    six = plan(messages=6, chunk=8)
    reordered = UdpResult(True, 0.1, 2, (0, 3, 1, 5, 5), None, 0)
    rows = table.count_rows(six, tcp_result([b"00000\n00001\n"]), reordered, cases.late_order(six))
    run = TallyRun(written)
    figures, remarks, graded = table.ask_tally(run, rows)
    assert run.asked[0] == ("student", "tally", "/run/netns/h2")
    assert run.asked[1:] == ([] if written else [("reference", "tally", "/run/netns/h2")])
    assert figures["UDP"] == by_definition(6, [0, 3, 1, 5, 5])
    assert figures["TCP"] == dataclasses.asdict(Counts(2, 4))
    assert "the UDP row is" in remarks[-1] and "no count of its own" in remarks[-1]
    assert [case.where for case in graded[:2]] == ["the late + twice row", "the TCP row"]
    assert len(graded) == 7 and all(case.truth is not None for case in graded)
    assert all(case.status == (DONE if written else TODO) for case in graded)
    assert (remarks[0] == "your tally gives the same counts for every row") == written
    shown = table.lines(rows, figures, 3, 0.05, 0.002)
    assert shown[1].split() == ["TCP", "6", "2", "4", "0", "0", "3", "50", "ms"]
    assert shown[3].split() == ["UDP,", "late", "+", "twice", "10", "10", "0", "1", "2", "0"]


def test_no_answer_inside_the_grader():
    """The lab keeps no split or tally of its own: truths come with the cases."""
    for module in (lab, cases, experiments, table):
        for name in ("count", "frame_messages", "split_messages", "tally"):
            assert not hasattr(module, name), (module.__name__, name)


def test_the_graders_trust_the_truth_each_case_carries():
    """Truths the reference would never give: a grader that worked the answer out
    again (as the reference does) would fail these answers, one that reads the case's
    truth passes them."""
    odd_split = ([b"made", b"up"], b"!")
    split = [SplitCase("live", "test", b"a\nb\n", odd_split, DONE, odd_split)]
    assert lab.grade_split(lab.Evidence(split=split), NO_WIRE).status == PASS
    odd_counts = {"delivered": 7, "lost": 7, "duplicated": 7, "out_of_order": 7}
    tally = [TallyCase("the TCP row", 3, [0, 1, 2], [], Counts(7, 7, 7, 7), DONE, odd_counts)]
    assert lab.grade_tally(lab.Evidence(tally=tally), NO_WIRE).status == PASS
    right = {"delivered": 3, "lost": 0, "duplicated": 0, "out_of_order": 0}
    tally = [dataclasses.replace(tally[0], output=right)]
    assert lab.grade_tally(lab.Evidence(tally=tally), NO_WIRE).status == FAIL


def test_exercise_starts_untouched():
    assert progress(ROOT / "exercises" / "tcp_vs_udp.py", lab.LAB.todos) == {"split_messages": False,
                                                                             "tally": False}
    assert progress(ROOT / "solutions" / "tcp_vs_udp.py", lab.LAB.todos) == {"split_messages": True,
                                                                             "tally": True}


def test_each_check_names_its_grader_and_the_evidence_starts_empty():
    assert {spec.id: spec.grade for spec in lab.LAB.checks} == {"split": lab.grade_split,
                                                                "tally": lab.grade_tally}
    assert lab.LAB.evidence is lab.Evidence and lab.Evidence() == lab.Evidence(split=[], tally=[])


def test_resent_counts_segments_that_cover_bytes_sent_before():
    assert experiments.resent([(1, 6), (7, 6), (13, 6)]) == 0
    assert experiments.resent([(1, 6), (13, 6), (7, 6)]) == 0   # filling a hole is not sending again
    assert experiments.resent([(1, 6), (7, 6), (1, 6), (7, 12)]) == 2
    assert experiments.resent([(1, 12), (7, 6)]) == 1  # a part of an earlier segment, sent again
    assert experiments.resent([]) == 0


def segment(seq: int, data: bytes = b"", flags: str = "PA", sport: int = 40000, dport: int = 7000,
            src: str = "10.9.8.1", dst: str = "10.9.8.2") -> bytes:
    packet = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq)
    return bytes(Ether() / (packet / data if data else packet))


def test_data_segments_relative_to_the_isn_across_the_wrap():
    isn = 2**32 - 8
    frames = [segment(isn, flags="S"), segment(isn + 1, b"00000\n"), segment((isn + 7) % 2**32, b"00001\n"),
              segment((isn + 13) % 2**32, b"00002\n"), segment(isn + 1, b"00000\n"),
              segment(5, b"", flags="A", sport=7000, dport=40000, src="10.9.8.2", dst="10.9.8.1")]
    wire = Wire([Frame(1.0 + i / 10, "s1-eth1", f) for i, f in enumerate(frames)])
    found = experiments.data_segments(wire, "10.9.8.1", 7000)
    assert found == [(1, 6), (7, 6), (13, 6), (1, 6)]  # the third one's sequence number wrapped to 5
    assert experiments.resent(found) == 1
    assert experiments.data_segments(wire, "10.0.0.1", 7000) == []


def test_data_segments_without_the_handshake_in_the_capture_keep_their_sequence_numbers():
    wire = Wire([Frame(1.0, "s1-eth1", segment(1000, b"00000\n")), Frame(1.1, "s1-eth1", segment(1006, b"0"))])
    assert experiments.data_segments(wire, "10.9.8.1", 7000) == [(1000, 6), (1006, 1)]


def test_loss_rule_spares_retransmissions_only_when_asked():
    assert loss_rule("udp dport 7001", 10) == "udp dport 7001 numgen random mod 100 < 10"
    rule = loss_rule("tcp dport 7000", 10, "tcp sequence", "seen")
    assert rule == "tcp dport 7000 tcp sequence != @seen add @seen { tcp sequence } numgen random mod 100 < 10"


# --- grading, from hand-made evidence ---

THREE = b"alpha\nbravo\ncharlie\n"
CUT = b"00000\n00001\n000"
RIGHT_THREE, RIGHT_CUT = ([b"alpha", b"bravo", b"charlie"], b""), ([b"00000", b"00001"], b"000")


def split_case(buffer: bytes, truth, output, status: str = DONE, kind: str = "made up") -> SplitCase:
    return SplitCase(kind, f"test ({kind})", buffer, truth, status, output)


def split_cases(output_three, output_cut=RIGHT_CUT, status: str = DONE, live_status: str = DONE) -> list:
    """The live case (three messages) and a stream piece cut mid-message."""
    return [split_case(THREE, RIGHT_THREE, output_three, live_status, kind="live"),
            split_case(CUT, RIGHT_CUT, output_cut, status, kind="stream"),
            split_case(b"", ([], b""), ([], b""))]


def grade_split(split: list):
    return lab.grade_split(lab.Evidence(split=split), NO_WIRE)


def test_split_grading_passes_right_answers_and_counts_the_cases():
    one_more = split_case(b"x\n", ([b"x"], b""), ([b"x"], b""))
    verdict = grade_split(split_cases(RIGHT_THREE) + [one_more])
    assert verdict.status == PASS and "right in 4 of 4 cases" in verdict.detail
    assert "1 pieces of the stream" in verdict.detail and "2 made-up buffers" in verdict.detail
    assert verdict.id == "" and verdict.hint == ""  # the engine stamps the check's id


ONE_RECV = ("one recv() is not one message: TCP is a byte stream and kept no trace of the send() calls. "
            "Cut the buffer at every b'\\n'")
NEWLINE_KEPT = "leave the b'\\n' out of each message: it marks where a message ends, it is not part of it"
EMPTY_LAST = "a buffer that ends with b'\\n' leaves rest b'': the empty piece after it is not a message"
BYTES_LOST = ("every byte of the buffer but the b'\\n's must come back, in order, in messages or rest: spaces, "
              "b'\\r' and b'\\x00' belong to a message like any other byte (no strip(), no split() without b'\\n')")


@pytest.mark.parametrize("three, cut, hint", [
    (([THREE], b""), None, ONE_RECV),
    (([THREE.rstrip(b"\n")], b""), None, ONE_RECV),
    (([b"alpha\n", b"bravo\n", b"charlie\n"], b""), None, NEWLINE_KEPT),
    (([b"alpha", b"bravo", b"charlie", b""], b""), None, EMPTY_LAST),
    (None, ([b"00000", b"00001"], b""),
     "you dropped the incomplete rest b'000': the lab reads the stream a few hundred bytes at a time, so a "
     "message is often cut in two; return the piece after the last b'\\n' as rest, and the lab puts it in "
     "front of the next recv()"),
    (None, ([b"00000", b"00001", b"000"], b""),
     "the bytes after the last b'\\n' (b'000') are not a message yet: the rest of it comes with the next "
     "recv(). Return them as rest"),
    (None, ([b"00000", b"00001"], b"00"), "rest is the bytes after the last b'\\n': b'000'"),
    (([b"alpha", b"bravo"], b"charlie"), None,
     "messages in order, without their b'\\n'; rest: what follows the last b'\\n'"),
    (([b"alph", b"bravo", b"charlie"], b""), None, BYTES_LOST),
], ids=["whole buffer", "whole buffer stripped", "newlines kept", "empty last message", "rest dropped",
        "rest as a message", "rest wrong", "messages short of one", "bytes lost"])
def test_split_grading_names_each_mistake(three, cut, hint):
    verdict = grade_split(split_cases(three or RIGHT_THREE, cut or RIGHT_CUT))
    assert verdict.status == FAIL and verdict.hint == hint, verdict
    assert "right in 2 of 3 cases" in verdict.detail and "right: " in verdict.detail
    where = "test (live)" if three else "test (stream)"
    assert f"; {where}: split_messages(" in verdict.detail


def test_split_hints_take_the_first_mistake_only():
    """A whole buffer returned as one message also keeps its b'\\n': the first hint wins."""
    assert split_hint_of(([THREE], b"")).startswith("one recv() is not one message")
    assert split_hint_of(([b"alpha\n", b"bravo\n", b"charlie\n"], b"")).startswith("leave the b'\\n' out")


def split_hint_of(output) -> str:
    return lab.split_hint(THREE, output, RIGHT_THREE)


def test_split_grading_names_a_case_with_no_answer_and_a_constant():
    verdict = grade_split(split_cases(RIGHT_THREE, "line 3: UnicodeDecodeError", status=RAISED))
    assert verdict.status == FAIL and "gave no answer: line 3: UnicodeDecodeError" in verdict.detail
    assert "bytes, not text" in verdict.hint and "right in 2 of 3 cases" in verdict.detail
    constant = RIGHT_THREE
    made = split_cases(constant, constant)
    made[2] = dataclasses.replace(made[2], output=constant)
    verdict = grade_split(made)
    assert verdict.hint == CONSTANT_HINT and "right in 1 of 3 cases" in verdict.detail


def test_split_grading_leaves_the_live_error_to_the_engine():
    """The live call raised: the engine shows the error; the lab has no hint to add."""
    verdict = grade_split(split_cases("line 2: TypeError", live_status=RAISED))
    assert verdict.status == FAIL and verdict.hint == ""
    assert "test (live): split_messages(" in verdict.detail and "gave no answer: line 2" in verdict.detail


LATE = [0, 1, 2, 5, 6, 6, 7, 8, 9, 3, 4]  # the late step with 3 and 4 held, 6 twice


def tally_case(sent: int, received: list[int], output, late=(), status: str = DONE, where="test") -> TallyCase:
    return TallyCase(where, sent, received, list(late), Counts(**by_definition(sent, received)), status, output)


def tally_cases(output, other=None, live_status: str = DONE) -> list[TallyCase]:
    """The live late + twice row, and a made-up list with a loss and a copy."""
    return [tally_case(10, LATE, output, late=(3, 4), where="the late + twice row", status=live_status),
            tally_case(4, [0, 1, 1, 2], other or by_definition(4, [0, 1, 1, 2]), where="a list the lab made up")]


def grade_tally(tally: list):
    return lab.grade_tally(lab.Evidence(tally=tally), NO_WIRE)


def test_tally_grading_passes_right_answers():
    verdict = grade_tally(tally_cases(by_definition(10, LATE)))
    assert verdict.status == PASS and verdict.hint == ""
    assert "right in 2 of 2 cases: 1 rows of the table, 1 made-up lists" in verdict.detail
    extra = {**by_definition(10, LATE), "received": 11}  # more keys than asked for are harmless
    assert grade_tally(tally_cases(extra)).status == PASS


@pytest.mark.parametrize("wrong, hint", [
    ({"delivered": 11, "lost": -1}, "a number that arrived twice was delivered once: delivered counts distinct "
                                    "numbers, and each extra copy counts as duplicated"),
    ({"duplicated": 2}, "duplicated counts extra arrivals: a number received k times adds k - 1"),
    ({"duplicated": 0}, "duplicated counts extra arrivals: a number received k times adds k - 1"),
    ({"out_of_order": 0}, "you counted nothing out of order, yet 3, 4 arrived after a larger number: UDP keeps "
                          "no order. Count each first arrival smaller than the largest number received before it"),
    ({"out_of_order": 1}, "compare with the largest number received so far, not with the one just before: "
                          "after ... 9, 3, 4, the 4 is late too, although it follows 3"),
    ({"out_of_order": 3}, "out of order: first arrivals smaller than the largest number received before them "
                          "(a duplicate counts as duplicated only)"),
    ({"delivered": 9}, "delivered: how many of the numbers 0 to sent-1 arrived at least once"),
    ({"lost": 1}, "lost = sent - delivered"),
    ({"out_of_order": None}, "return a dict with the keys delivered, lost, duplicated, out_of_order"),
], ids=["copies delivered", "duplicated too many", "duplicated none", "no disorder", "adjacent inversions",
        "disorder miscounted", "delivered wrong", "lost wrong", "a key missing"])
def test_tally_grading_names_each_mistake(wrong, hint):
    output = {key: value for key, value in {**by_definition(10, LATE), **wrong}.items() if value is not None}
    verdict = grade_tally(tally_cases(output))
    assert verdict.status == FAIL and verdict.hint == hint, verdict
    assert "the late + twice row: tally(10, [0, 1, 2, 5, 6, 6, 7, 8, 9, 3, 4]) gave" in verdict.detail
    assert "right: delivered 10, lost 0, duplicated 1, out_of_order 2" in verdict.detail


def test_tally_grading_a_lost_hidden_by_a_copy_a_constant_and_no_answer():
    hidden = {"delivered": 3, "lost": 0, "duplicated": 1, "out_of_order": 0}  # 4 sent, [0, 1, 1, 2] arrived
    verdict = grade_tally(tally_cases(by_definition(10, LATE), hidden))
    assert "not minus the arrivals" in verdict.hint and "right in 1 of 2 cases" in verdict.detail
    constant = by_definition(10, LATE)
    made = tally_cases(constant, constant) + [tally_case(3, [], constant)]
    assert grade_tally(made).hint == CONSTANT_HINT
    error = "line 9: ValueError: max() arg is an empty sequence"
    failing = dataclasses.replace(made[2], status=RAISED, output=error)
    verdict = grade_tally(tally_cases(by_definition(10, LATE)) + [failing])
    assert "gave no answer" in verdict.detail and "an empty one" in verdict.hint


def test_tally_grading_leaves_the_live_error_to_the_engine():
    verdict = grade_tally(tally_cases("tally() did not return within 2 s", live_status=TIMEOUT))
    assert verdict.status == FAIL and verdict.hint == "" and "gave no answer" in verdict.detail


def test_adjacent_inversions_is_the_wrong_count():
    assert cases.adjacent_inversions(LATE) == 1
    assert by_definition(10, LATE)["out_of_order"] == 2


# --- the shapes a run draws, over many seeds ---

MANY = range(2000)


def test_a_run_draws_every_shape_its_ranges_allow():
    """Both ends of each range come up: 3 to 5 boundary messages of 1 to 3 distinct
    words; 8 to 12 late datagrams, the held pair from datagram 1 up to 4 before the
    end (so larger ones follow it); a read size of 50 to 115 messages and a piece of
    one, cut at every place inside a message."""
    plans = [cases.draw(random.Random(seed), lab.MESSAGES) for seed in MANY]
    assert {len(drawn.texts) for drawn in plans} == {3, 4, 5}
    words = [text[:-1].split(b" ") for drawn in plans for text in drawn.texts]
    assert {len(each) for each in words} == {1, 2, 3}
    assert all(set(each) <= set(cases.WORDS) and len(set(each)) == len(each) for each in words)
    assert {drawn.late for drawn in plans} == set(range(8, 13))
    assert min(drawn.held[0] for drawn in plans) == 1
    assert min(drawn.late - drawn.held[0] for drawn in plans) == 4
    assert {drawn.chunk % cases.WIDTH for drawn in plans} == set(range(1, cases.WIDTH))
    assert {drawn.chunk // cases.WIDTH for drawn in plans} == set(range(50, 116))
    assert {drawn.messages for drawn in plans} == set(range(lab.MESSAGES[0], lab.MESSAGES[1] + 1))


def is_awkward(message: bytes) -> bool:
    return message[:1] in (b" ", b"\t") and message[-1:] in (b"\r", b" ", b"\t") and b"\x00" in message \
        and max(message) >= 0x80


def test_awkward_messages_have_white_space_at_both_ends_a_nul_and_a_byte_no_text_has():
    firsts, lasts = set(), set()
    for seed in SEEDS:
        message = cases.awkward(random.Random(seed))
        assert is_awkward(message) and b"\n" not in message, message
        firsts.add(message[:1])
        lasts.add(message[-1:])
    assert firsts == {b" ", b"\t"} and lasts == {b"\r", b" ", b"\t"}


MADE_UP_BUFFERS = ["an empty buffer", "one whole message", "whole messages only",
                   "messages and the start of one more", "only the start of a message"]


def test_made_up_buffers_have_the_shapes_their_names_say():
    places, sizes = set(), set()
    for seed in SEEDS:
        made = cases.made_up_buffers(random.Random(seed))
        assert [case.where for case in made] == [f"a buffer the lab made up ({what})" for what in MADE_UP_BUFFERS]
        empty, one, whole, more, start = made
        assert empty.input == b"" and empty.truth == ([], b"")
        assert len(one.truth[0]) == 1 and one.truth[1] == b""
        assert whole.truth[1] == b"" and whole.input.endswith(b"\n")
        assert more.truth[1][:1] == b" " and len(more.truth[1]) > 1  # a rest strip() would spoil
        assert start.truth[0] == [] and start.input == start.truth[1] != b""
        for case in (whole, more):  # one awkward message among 1 to 3 others, anywhere
            messages = case.truth[0]
            assert [is_awkward(m) for m in messages].count(True) == 1, messages
            places.add((len(messages), [is_awkward(m) for m in messages].index(True)))
            sizes.add(len(messages))
    assert sizes == {2, 3, 4}
    assert places == {(n, place) for n in sizes for place in range(n)}


def test_a_stream_piece_names_its_read_size_and_a_broken_stream_stops_the_run():
    pieces = cases.stream_pieces(plan(messages=5, chunk=8), (b"00000\n00", b"001\n"))
    assert {piece.where for piece in pieces} == {"the experiment's stream, read 8 bytes at a time"}
    with pytest.raises(ScenarioError) as raised:
        cases.stream_pieces(plan(messages=5, chunk=8), (b"00001\n",))
    assert raised.value.args == ("h2's TCP stream is not the messages h1 sent, in order",)


def test_a_received_list_asked_for_nothing_is_every_number_once_in_order():
    case = cases.received_list(random.Random(1), "test", 9)
    assert case.received == list(range(9)) and case.late == []
    assert case.truth == Counts(9, 0, 0, 0)


def test_late_numbers_follow_any_larger_number_and_may_be_the_second_largest():
    """Never the largest (nothing larger could come before it), but any other; each
    after some larger number, in any order: not always all together right after the
    largest in ascending order (that is what together asks for)."""
    second, scattered, descending = False, False, False
    for seed in SEEDS:
        case = cases.received_list(random.Random(seed), "test", 12, late=3)
        arrived = sorted(set(case.received))
        assert arrived[-1] not in case.late
        second |= arrived[-2] in case.late
        top = case.received.index(arrived[-1])
        scattered |= set(case.received[top + 1:top + 4]) != set(case.late)
        descending |= any(a in case.late and b in case.late and a > b
                          for a, b in zip(case.received, case.received[1:]))
        together = cases.received_list(random.Random(seed), "test", 12, late=3, together=True)
        top = together.received.index(max(together.received))
        assert together.received[top + 1:] == together.late  # ... 11, 3, 5, 8
    assert second and scattered and descending


# what each made-up list is made of: sent, lost, duplicated, out of order. Short
# enough to read in a verdict; each with at least one of what it is named after, and
# two late ones after the largest, so that comparing neighbours counts one only.
MADE_UP_TALLIES = {
    "some lost": (range(8, 21), range(1, 5), {0}, {0}),
    "some twice or more": (range(8, 21), {0}, range(2, 5), {0}),
    "late ones after the largest": (range(8, 21), {0}, {0}, range(2, 4)),
    "lost, late and twice": (range(8, 21), range(1, 4), range(1, 4), range(1, 4)),
    "nothing arrived": (range(1, 7), range(1, 7), {0}, {0}),
}


def test_made_up_tallies_have_the_shapes_their_names_say():
    seen = {what: ([], [], [], []) for what in MADE_UP_TALLIES}
    for seed in MANY:
        made = cases.made_up_tallies(random.Random(seed))
        assert [case.where for case in made] == [f"a list the lab made up ({what})" for what in MADE_UP_TALLIES]
        for what, case in zip(MADE_UP_TALLIES, made):
            for values, figure in zip(seen[what], (case.sent, case.truth.lost, case.truth.duplicated,
                                                   case.truth.out_of_order)):
                values.append(figure)
    for what, ranges in MADE_UP_TALLIES.items():
        assert [set(values) for values in seen[what]] == [set(r) for r in ranges], what
    assert seen["nothing arrived"][0] == seen["nothing arrived"][1]


# --- how verdicts show values ---

def test_answered_puts_the_error_on_the_live_case_when_the_reference_stood_in():
    made = [SplitCase("live", "a", b"x\n", ([b"x"], b"")), SplitCase("made up", "b", b"", ([], b""))]
    stood_in = Outcome("split_messages", ([b"x"], b""), RAISED, "line 2: TypeError", cases=((DONE, ([], b"")),))
    live, other = cases.answered(made, stood_in)
    assert (live.status, live.output) == (RAISED, "line 2: TypeError")
    assert (other.status, other.output) == (DONE, ([], b""))
    assert cases.whose(stood_in) == "the reference's split_messages"
    mine = Outcome("split_messages", ([b"y"], b""), DONE, replaced=False, cases=((DONE, ([], b"")),))
    assert cases.answered(made, mine)[0].output == ([b"y"], b"")
    assert cases.whose(mine) == "your split_messages"


def test_shown_cuts_a_long_value_to_its_limit():
    assert cases.shown(b"abc", 6) == "b'abc'"   # as long as the limit: whole
    assert cases.shown(b"abcd", 6) == "b'a..."


def test_describe_split_shows_a_short_buffer_whole_and_a_long_one_by_its_ends():
    assert cases.describe_split(b"a\nb", ([b"a"], b"b")) == "split_messages(b'a\\nb') gave [b'a'], rest b'b'"
    forty = b"0123456789" * 4
    assert cases.describe_split(forty, ([], forty)).startswith(f"split_messages({forty!r}) gave [], rest")
    assert cases.describe_split(forty + b"!", ([], b"")) == \
        "split_messages(41 bytes, b'012345'...b'23456789!') gave [], rest b''"
    stream = b"".join(cases.message(n) for n in range(84))[:500]
    value = ([cases.message(n)[:-1] for n in range(83)], b"00")
    assert cases.describe_split(stream, value) == ("split_messages(500 bytes, b'00000\\n'...b'\\n00082\\n00') gave "
                                                   "83 messages, b'00000' to b'00082', rest b'00'")


def test_split_value_lists_up_to_four_messages_cut_at_60_characters():
    assert cases.split_value(([b"a", b"b", b"c", b"d"], b"")) == "[b'a', b'b', b'c', b'd'], rest b''"
    assert cases.split_value(([b"a", b"b", b"c", b"d", b"e"], b"f")) == "5 messages, b'a' to b'e', rest b'f'"
    long = [b"x" * 56]  # its repr is 61 characters
    assert cases.split_value((long, b"")) == repr(long)[:57] + "..., rest b''"


def test_counts_shows_a_missing_key_as_a_dash():
    assert cases.counts({"delivered": 3, "out_of_order": 1}) == "delivered 3, lost -, duplicated -, out_of_order 1"
    assert cases.counts(Counts(4, 1, 2, 0)) == "delivered 4, lost 1, duplicated 2, out_of_order 0"


# --- the table's rows, figures, lines and notes ---

def test_the_rows_name_themselves_and_carry_no_late_numbers():
    six = plan(messages=6, chunk=8)
    assert table.tcp_row(six, tcp_result([b"00000\n"])).late == []
    udp = UdpResult(complete=True, took=0.1, dropped=None, received=tuple(range(6)), after_send=None)
    row = table.udp_row(six, udp)  # no counter read: no drop by the rule
    assert (row.where, row.late, row.truth) == ("the UDP row", [], Counts(6, 0))


def test_a_row_the_lab_cannot_count_shows_the_students_count_even_a_wrong_one():
    six = plan(messages=6, chunk=8)
    reordered = UdpResult(True, 0.1, 2, (0, 3, 1, 5, 5), None, 0)
    rows = table.count_rows(six, tcp_result([b"00000\n00001\n"]), reordered, cases.late_order(six))

    def off_by_one(sent, received):
        counted = REFERENCE.tally(sent, received)
        return {**counted, "lost": counted["lost"] + 1} if received == [0, 3, 1, 5, 5] else counted
    run = TallyRun(True, answer=off_by_one)
    figures, remarks, _ = table.ask_tally(run, rows)
    assert figures["UDP"] == {**by_definition(6, [0, 3, 1, 5, 5]), "lost": 3}
    assert [asked[0] for asked in run.asked] == ["student"]
    assert remarks[-1] == ("the UDP row is your tally's count: netem reordered and duplicated at random (or h2 "
                           "missed datagrams the counters do not explain), so the lab has no count of its own")


def test_a_row_the_lab_cannot_count_is_the_references_when_the_students_tally_failed():
    six = plan(messages=6, chunk=8)
    reordered = UdpResult(True, 0.1, 2, (0, 3, 1, 5, 5), None, 0)
    rows = table.count_rows(six, tcp_result([b"00000\n00001\n"]), reordered, cases.late_order(six))
    run = TallyRun(True, answer=lambda sent, received: {"delivered": 0}, live_error="line 1: KeyError")
    figures, remarks, graded = table.ask_tally(run, rows)  # the student's failed on the live row only
    assert figures["UDP"] == by_definition(6, [0, 3, 1, 5, 5])
    assert run.asked == [("student", "tally", "/run/netns/h2"), ("reference", "tally", "/run/netns/h2")]
    assert remarks == ["the UDP row is the reference's tally's count: netem reordered and duplicated at random "
                       "(or h2 missed datagrams the counters do not explain), so the lab has no count of its own"]
    assert graded[0].status == RAISED and graded[0].output == "line 1: KeyError"

    def fails_on_udp(sent, received):
        if received == [0, 3, 1, 5, 5]:
            raise ValueError("line 7: ValueError")
        return REFERENCE.tally(sent, received)
    run = TallyRun(True, answer=fails_on_udp)  # the student's answered the live row, not the UDP one
    figures, remarks, _ = table.ask_tally(run, rows)
    assert figures["UDP"] == by_definition(6, [0, 3, 1, 5, 5])
    assert [asked[0] for asked in run.asked] == ["student", "reference"]
    assert remarks[-1].startswith("the UDP row is your tally's count")


def late_rows(output_of) -> list[TallyCase]:
    """The late row and the TCP row, answered: output_of(row) gives what tally returned."""
    six = plan(messages=6, chunk=8)
    rows = [table.late_row(six, cases.late_order(six)), table.tcp_row(six, tcp_result([b"00000\n"]))]
    return [dataclasses.replace(row, status=DONE, output=output_of(row)) for row in rows]


def test_agreement_names_every_row_the_students_tally_got_wrong():
    written = Outcome("tally", {}, DONE, replaced=False)
    right = late_rows(lambda row: dataclasses.asdict(row.truth))
    assert table.agreement(written, right) == ["your tally gives the same counts for every row"]
    tcp_wrong = late_rows(lambda row: {"delivered": 0} if row.where == "the TCP row" else dataclasses.asdict(row.truth))
    assert table.agreement(written, tcp_wrong) == ["your tally disagrees with the TCP row (see the check)"]
    both = late_rows(lambda row: {})
    assert table.agreement(written, both) == ["your tally disagrees with the late + twice row, the TCP row "
                                              "(see the check)"]
    failed_one = [dataclasses.replace(right[0], status=RAISED, output="line 1: KeyError"), right[1]]
    assert table.agreement(written, failed_one) == ["your tally disagrees with the late + twice row (see the check)"]
    assert table.agreement(Outcome("tally", {}, TODO, "not done"), both) == []


def table_lines(figures=None, took=(0.05, 0.002)) -> list[str]:
    six = plan(messages=6, chunk=8)
    udp = UdpResult(True, 0.1, 2, (0, 1, 3, 5), None, 0)
    rows = table.count_rows(six, tcp_result([b"00000\n00001\n"]), udp, cases.late_order(six))
    figures = figures or {name: dataclasses.asdict(row.truth) for name, row in rows.items()}
    return table.lines(rows, figures, 3, *took)


def columns(header: str) -> list[tuple[str, int]]:
    """Each heading of the table and the column it ends at (its numbers end there too)."""
    found, at = [], 0
    for heading in ("sent", "delivered", "lost", "duplicated", "out of order", "resent", "time"):
        at = header.index(heading, at) + len(heading)
        found.append((heading, at))
    return found


def test_the_tables_numbers_stand_under_their_headings():
    header, *rows = table_lines(took=(0.05, 1.0))
    assert header.split() == ["sent", "delivered", "lost", "duplicated", "out", "of", "order", "resent", "time"]
    assert [row.split(" ")[0] for row in rows] == ["TCP", "UDP", "UDP,"]
    expected = {"TCP": ["6", "2", "4", "0", "0", "3", "50 ms"], "UDP": ["6", "4", "2", "0", "0", "0", "1000 ms"],
                "UDP, late + twice": ["10", "10", "0", "1", "2", "0", ""]}
    for row, (name, values) in zip(rows, expected.items()):
        assert row.startswith(name + " ") and not row.endswith(" ")
        for (heading, end), value in zip(columns(header), values):
            assert row[end - len(value):end] == value and row[end - len(value) - 1:end - len(value)] in (" ", ""), \
                (heading, row)
    assert len(rows[2]) < columns(header)[-1][1]  # the late row has no time


def test_the_table_shows_a_figure_tally_left_out_as_a_question_mark():
    six = plan(messages=6, chunk=8)
    rows = table.count_rows(six, tcp_result([b"00000\n00001\n"]), UdpResult(True, 0.1, 2, (0, 1, 3, 5), None, 0),
                            cases.late_order(six))
    figures = {name: dataclasses.asdict(row.truth) for name, row in rows.items()}
    figures["UDP"] = {"delivered": 4, "lost": 2}
    header, _, udp, _ = table.lines(rows, figures, 0, 0.05, 0.002)
    ends = dict(columns(header))
    assert udp[ends["duplicated"] - 1] == "?" and udp[ends["out of order"] - 1] == "?"
    assert udp[ends["lost"] - 1] == "2"


def loss_notes(tcp=None, udp=None, again=1, segments=7, wait=5.0) -> list[str]:
    six = plan(messages=6, chunk=8)
    tcp = tcp or TcpResult(True, 0.1, 1, (b"".join(cases.message(n) for n in range(6)),), None)
    udp = udp or UdpResult(True, 0.1, 2, (0, 1, 3, 5), None, 0)
    rows = table.count_rows(six, tcp, udp, cases.late_order(six))
    return table.losses(six, tcp, udp, rows, again, segments, wait)


def test_the_loss_notes_compare_the_rules_drops_with_each_rows_losses():
    assert loss_notes() == [
        "nft at h2's door dropped 1 of the 6 TCP data segments h1 sent for the first time (16.7 %) and 2 of the "
        "6 datagrams (33.3 %)",
        "UDP: 2 lost: the rule dropped 2, each loss is one of the rule's drops",
        "TCP: the rule dropped 1 segments, h1 sent 1 again, and h2's application got 6 messages, in order"]


def test_the_loss_notes_name_a_full_socket_resends_without_a_loss_and_an_unfinished_run():
    unfinished = TcpResult(False, 2.5, 1, (b"00000\n00001\n000",), None)
    notes = loss_notes(unfinished, UdpResult(True, 0.1, 1, (0, 1, 3, 5), None, buffer_drops=1), again=3,
                       segments=9, wait=2.5)
    assert notes == [
        "nft at h2's door dropped 1 of the 6 TCP data segments h1 sent for the first time (16.7 %) and 1 of the "
        "6 datagrams (16.7 %)",
        "UDP: 2 lost: the rule dropped 1, h2's socket 1 (receive buffer full)",
        "TCP: the rule dropped 1 segments, h1 sent 3 again, and h2's application got 2 messages, in order "
        "(NOT complete after 2.5 s)",
        "(2 resent without a loss: a tail loss probe, or a segment h1 judged lost when it was only late)",
        "the lab stopped waiting after 2.5 s"]


def test_the_loss_notes_without_counters_or_a_udp_count():
    no_counter = TcpResult(True, 0.1, None, (b"".join(cases.message(n) for n in range(6)),), None)
    reordered = UdpResult(False, 5.0, None, (0, 3, 1), None, 0)
    assert loss_notes(no_counter, reordered, again=2, segments=8) == [
        "nft at h2's door dropped None of the 6 TCP data segments h1 sent for the first time (?) and None of the "
        "6 datagrams (?)",
        "TCP: the rule dropped None segments, h1 sent 2 again, and h2's application got 6 messages, in order",
        "the lab stopped waiting after 5 s"]


def test_percent_of_nothing_or_of_an_unknown_count_is_a_question_mark():
    assert table.percent(1, 3) == "33.3 %" and table.percent(0, 5) == "0.0 %"
    assert table.percent(None, 3) == "?" and table.percent(2, 0) == "?"


def test_the_stream_note_counts_the_pieces_your_split_got_right():
    five = plan(messages=5, chunk=8)
    pieces = cases.stream_pieces(five, (b"00000\n00", b"001\n0000", b"2\n00003\n", b"000"))
    outputs = [piece.truth for piece in pieces[:3]] + [([b"000"], b"")]
    mine = Outcome("split_messages", outputs[0], DONE, replaced=False, cases=tuple((DONE, o) for o in outputs[1:]))
    text = ("the experiment's TCP stream, read 8 bytes at a time: 4 pieces, each after the rest of the one "
            "before, 4 messages in all")
    assert table.stream_note(five, mine, cases.answered(pieces, mine)) == \
        text + "; your split_messages split 3 of the 4 pieces right"
    failed_one = Outcome("split_messages", outputs[0], DONE, replaced=False,
                         cases=((DONE, outputs[1]), (RAISED, "line 1: IndexError"), (DONE, outputs[3])))
    assert table.stream_note(five, failed_one, cases.answered(pieces, failed_one)).endswith("split 2 of the 4 "
                                                                                             "pieces right")
    standing_in = Outcome("split_messages", outputs[0], TODO, "not done", cases=tuple((TODO, "") for _ in outputs[1:]))
    assert table.stream_note(five, standing_in, cases.answered(pieces, standing_in)) == text


# --- the verdicts' exact words ---

def test_split_verdict_shows_the_answer_given_and_the_right_one():
    verdict = grade_split(split_cases(([THREE], b"")))
    assert verdict.detail == ("right in 2 of 3 cases; test (live): split_messages(b'alpha\\nbravo\\ncharlie\\n') "
                              "gave [b'alpha\\nbravo\\ncharlie\\n'], rest b''; "
                              "right: [b'alpha', b'bravo', b'charlie'], rest b''")


def test_split_verdict_shows_the_right_answer_whatever_the_buffer_says():
    """A buffer that itself holds ' gave ' (the verdict's own word) must not cut the right answer short."""
    said = split_case(b"he gave up\n", ([b"he gave up"], b""), ([b"he gave up\n"], b""), kind="live")
    verdict = grade_split([said, split_case(b"", ([], b""), ([], b""))])
    assert verdict.detail.endswith("; right: [b'he gave up'], rest b''"), verdict.detail
    assert verdict.hint == NEWLINE_KEPT


def test_split_verdict_on_a_buffer_with_no_answer_cuts_the_buffer_at_60_characters():
    long = b"x" * 100
    made = split_cases(RIGHT_THREE)
    made[2] = split_case(long, ([], long), "line 3: UnicodeDecodeError", status=RAISED)
    verdict = grade_split(made)
    assert verdict.detail == (f"right in 2 of 3 cases; test (made up): split_messages({repr(long)[:57]}...) gave "
                              "no answer: line 3: UnicodeDecodeError")
    assert verdict.hint == ("it must answer for any buffer: a message may hold any byte but b'\\n' (spaces, "
                            "b'\\x00', b'\\xff': bytes, not text), and a buffer may be empty")


@pytest.mark.parametrize("buffer, output, hint", [
    (b"x\n", ([b"x\n"], b""), NEWLINE_KEPT),         # one message: the whole buffer is not the mistake
    (b"a\nb\n", ([b"a\nb\n"], b""), ONE_RECV),       # two messages are enough to name it
    (b"a \nb \n", ([b"a \nb "], b""), ONE_RECV),     # the buffer without its last b"\n", spaces kept
    (b"TAX\nFAX\n", ([b"TAX\nFAX"], b""), ONE_RECV),
    (THREE, ([b"alpha"], b""), BYTES_LOST),         # one message, but not the whole buffer
], ids=["one message", "two messages", "trailing space", "trailing X", "one message of three"])
def test_split_hint_names_one_recv_as_one_message_only_for_the_whole_buffer(buffer, output, hint):
    truth = tuple(REFERENCE.split_messages(buffer))
    assert lab.split_hint(buffer, output, truth) == hint


def test_tally_verdict_counts_the_rows_and_the_made_up_lists():
    verdict = grade_tally(tally_cases(by_definition(10, LATE)) + [tally_case(3, [], by_definition(3, []),
                                                                             where="a list the lab made up")])
    assert verdict.detail == ("right in 3 of 3 cases: 1 rows of the table, 2 made-up lists (losses, copies, late "
                              "arrivals, nothing at all)")


def test_tally_verdict_on_a_list_with_no_answer_cuts_the_list_at_60_characters():
    long = list(range(18))  # its repr is 62 characters
    failing = tally_case(18, long, "line 9: IndexError", status=RAISED, where="a list the lab made up")
    verdict = grade_tally(tally_cases(by_definition(10, LATE)) + [failing])
    assert verdict.detail == (f"right in 2 of 3 cases; a list the lab made up: tally(18, {repr(long)[:57]}...) "
                              "gave no answer: line 9: IndexError")
    assert verdict.hint == "it must answer for any list of numbers, an empty one (nothing arrived) too"


def test_tally_verdict_shows_the_counts_given_and_the_right_ones():
    verdict = grade_tally(tally_cases({**by_definition(10, LATE), "lost": 1}))
    assert verdict.detail == ("right in 1 of 2 cases; the late + twice row: tally(10, [0, 1, 2, 5, 6, 6, 7, 8, 9, "
                              "3, 4]) gave delivered 10, lost 1, duplicated 1, out_of_order 2; right: delivered "
                              "10, lost 0, duplicated 1, out_of_order 2")


def tally_hint_of(sent: int, received: list[int], late: list[int], **wrong) -> str:
    return lab.tally_hint(tally_case(sent, received, {**by_definition(sent, received), **wrong}, late=late))


def test_tally_hint_says_nothing_was_counted_late_only_when_something_was():
    in_order = tally_hint_of(4, [0, 1, 2, 3], [], delivered=3)  # nothing late, and 0 counted: not the mistake
    assert in_order == "delivered: how many of the numbers 0 to sent-1 arrived at least once"
    one_late = tally_hint_of(3, [0, 2, 1], [1], out_of_order=0)
    assert one_late.startswith("you counted nothing out of order, yet 1 arrived after a larger number")


def test_tally_hint_names_three_late_numbers_at_most():
    hint = tally_hint_of(6, [5, 0, 1, 2, 3, 4], [0, 1, 2, 3, 4], out_of_order=0)
    assert hint.startswith("you counted nothing out of order, yet 0, 1, 2 arrived after a larger number: ")


# --- the experiments' small readers, on sockets of the test's own ---

def datagram_pair() -> tuple[socket.socket, socket.socket]:
    """A sender and a receiver of datagrams; a read on the receiver that waits gives up
    after 1 s (SO_RCVTIMEO), so that a drain that waited fails instead of hanging."""
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 1, 0))
    return sender, receiver


def test_drain_reads_every_waiting_datagram_once_and_when():
    sender, receiver = datagram_pair()
    with sender, receiver:
        for data in (b"00000\n", b"%0100d" % 1):  # the second longer than any small read would take whole
            sender.send(data)
        into, times = [], []
        assert experiments.drain(receiver, into, times) == 2
        assert into == [b"00000\n", b"%0100d" % 1] and len(times) == 2 and times[0] <= times[1]
        assert experiments.drain(receiver, into) == 0 and len(into) == 2


def test_drain_never_waits_for_a_datagram():
    """The lab drains between sends and inside poll(): a read that waited would stall the experiment."""
    sender, receiver = datagram_pair()
    with sender, receiver:
        sender.send(b"00007\n")
        started = time.monotonic()
        assert experiments.drain(receiver, []) == 1
        assert time.monotonic() - started < 0.5


def test_peek_and_unsent_count_bytes_without_reading_them():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client, server.accept()[0] as connection:
            assert experiments.peek(connection) == 0 and experiments.unsent(client) == 0
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # held back: not sent yet
            client.send(b"00000\n00001\n")
            assert experiments.unsent(client) == 12 and experiments.peek(connection) == 0
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            assert poll(lambda: experiments.peek(connection) == 12, 1.0)
            assert experiments.peek(connection) == 12 and experiments.unsent(client) == 0


def test_memory_finds_a_connected_socket_by_its_local_or_remote_port():
    def sock(state, local, remote):
        return Sock("tcp", state, ("10.0.0.2", local), ("10.0.0.1", remote), 0, 1, {"rmem_alloc": local}, (0, 0))
    listening, accepted = sock("LISTEN", 7000, 0), sock("ESTAB", 7000, 40000)
    host = SimpleNamespace(kernel=SimpleNamespace(sockets=lambda protocol: [listening, accepted]
                                                  if protocol == "tcp" else []))
    assert experiments.memory(host, "tcp", 7000) is accepted
    assert experiments.memory(host, "tcp", 40000, local=False) is accepted
    assert experiments.memory(host, "tcp", 40000) is None and experiments.memory(host, "udp", 7000) is None


SLABINFO = """slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ...
TCPv6                 26     26   2432   13    8 : tunables    0    0    0 : slabdata      2      2      0
TCP                   28     28   2304   14    8 : tunables    0    0    0 : slabdata      2      2      0
UDP                   64     64   1024   32    8 : tunables    0    0    0 : slabdata      2      2      0
"""


def test_slab_sizes_reads_the_object_size_of_tcp_and_udp_sockets(monkeypatch):
    def slabinfo(path):
        assert path == "/proc/slabinfo"
        return io.StringIO(SLABINFO)
    monkeypatch.setattr(experiments, "open", slabinfo, raising=False)
    assert experiments.slab_sizes() == {"TCP": 2304, "UDP": 1024}

    def unreadable(path):
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(experiments, "open", unreadable, raising=False)  # root's only: no figures, no error
    assert experiments.slab_sizes() == {}
