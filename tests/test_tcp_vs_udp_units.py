"""tcp-vs-udp without a network: what a run draws, the cases the lab makes with their
right answers (checked against the exercise's definitions, written here again in
another way), the retransmission count from a hand-made capture, the nft loss rule,
and the grading of every typical mistake from hand-made evidence."""
from __future__ import annotations

import dataclasses
import random
from types import SimpleNamespace

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exercise import TODO, Outcome, progress
from lab.grading import CONSTANT_HINT
from lab.impair import loss_rule
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
    student's code (written) or standing in for it (not done)."""

    def __init__(self, written: bool):
        self.rng, self.written, self.exercise = random.Random(4), written, self

    def host(self, name):
        return SimpleNamespace(netns=f"/run/netns/{name}")

    def student(self, todo, host, *args, extra=()):
        values = [REFERENCE.tally(*case) for case in (args, *extra)]
        if not self.written:
            return Outcome(todo, values[0], TODO, "TODO tally() not done yet",
                           cases=tuple((TODO, "") for _ in extra))
        return Outcome(todo, values[0], DONE, replaced=False, cases=tuple((DONE, v) for v in values[1:]))

    def reference_value(self, todo, netns, args):
        return REFERENCE.tally(*args)


@pytest.mark.parametrize("written", [True, False], ids=["student's tally", "reference standing in"])
def test_a_row_the_lab_cannot_count_is_shown_as_tally_counted_it_and_not_graded(written):
    six = plan(messages=6, chunk=8)
    reordered = UdpResult(True, 0.1, 2, (0, 3, 1, 5, 5), None, 0)
    rows = table.count_rows(six, tcp_result([b"00000\n00001\n"]), reordered, cases.late_order(six))
    figures, remarks, graded = table.ask_tally(TallyRun(written), rows)
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
              segment(isn + 1, b"00000\n"),
              segment(5, b"", flags="A", sport=7000, dport=40000, src="10.9.8.2", dst="10.9.8.1")]
    wire = Wire([Frame(1.0 + i / 10, "s1-eth1", f) for i, f in enumerate(frames)])
    found = experiments.data_segments(wire, "10.9.8.1", 7000)
    assert found == [(1, 6), (7, 6), (1, 6)]
    assert experiments.resent(found) == 1
    assert experiments.data_segments(wire, "10.0.0.1", 7000) == []


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


@pytest.mark.parametrize("three, cut, hint", [
    (([THREE], b""), None, "one recv() is not one message"),
    (([THREE.rstrip(b"\n")], b""), None, "one recv() is not one message"),
    (([b"alpha\n", b"bravo\n", b"charlie\n"], b""), None, "leave the b'\\n' out"),
    (([b"alpha", b"bravo", b"charlie", b""], b""), None, "the empty piece after it"),
    (None, ([b"00000", b"00001"], b""), "you dropped the incomplete rest b'000'"),
    (None, ([b"00000", b"00001", b"000"], b""), "(b'000') are not a message yet"),
    (None, ([b"00000", b"00001"], b"00"), "rest is the bytes after the last b'\\n': b'000'"),
    (([b"alpha", b"bravo"], b"charlie"), None, "messages in order, without their b'\\n'"),
    (([b"alph", b"bravo", b"charlie"], b""), None, "every byte of the buffer but the b'\\n's"),
], ids=["whole buffer", "whole buffer stripped", "newlines kept", "empty last message", "rest dropped",
        "rest as a message", "rest wrong", "messages short of one", "bytes lost"])
def test_split_grading_names_each_mistake(three, cut, hint):
    verdict = grade_split(split_cases(three or RIGHT_THREE, cut or RIGHT_CUT))
    assert verdict.status == FAIL and hint in verdict.hint, verdict
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
    ({"delivered": 11, "lost": -1}, "delivered counts distinct numbers"),
    ({"duplicated": 2}, "k - 1"),
    ({"duplicated": 0}, "k - 1"),
    ({"out_of_order": 0}, "yet 3, 4 arrived after a larger number"),
    ({"out_of_order": 1}, "not with the one just before"),
    ({"out_of_order": 3}, "a duplicate counts as duplicated only"),
    ({"delivered": 9}, "arrived at least once"),
    ({"lost": 1}, "lost = sent - delivered"),
    ({"out_of_order": None}, "return a dict with the keys delivered, lost, duplicated, out_of_order"),
], ids=["copies delivered", "duplicated too many", "duplicated none", "no disorder", "adjacent inversions",
        "disorder miscounted", "delivered wrong", "lost wrong", "a key missing"])
def test_tally_grading_names_each_mistake(wrong, hint):
    output = {key: value for key, value in {**by_definition(10, LATE), **wrong}.items() if value is not None}
    verdict = grade_tally(tally_cases(output))
    assert verdict.status == FAIL and hint in verdict.hint, verdict
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
