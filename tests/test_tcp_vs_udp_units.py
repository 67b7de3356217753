"""tcp-vs-udp without a network: the lab's own framing and count, the retransmission
count from a hand-made capture, the nft loss rule, and the hints for typical mistakes."""
from __future__ import annotations

import random

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exercise import progress
from lab.impair import loss_rule
from lab.labs import tcp_vs_udp as lab
from lab.loader import load_file
from lab.wire import Wire

REFERENCE = load_file(ROOT / "solutions" / "tcp_vs_udp.py", RuntimeError, "tcp_vs_udp_reference")
LATE = [0, 1, 2, 5, 6, 6, 7, 8, 9, 3, 4]  # what the late-datagram step delivers


def test_framing_keeps_the_incomplete_rest():
    assert lab.frame_messages(b"one\ntwo\nth") == ([b"one", b"two"], b"th")
    assert lab.frame_messages(b"one\n") == ([b"one"], b"")
    assert lab.frame_messages(b"") == ([], b"")
    assert lab.frame_messages(b"\n\n") == ([b"", b""], b"")  # empty messages are messages


def test_count_follows_the_docstring_definitions():
    assert lab.count(5, [0, 2, 2, 1, 4]) == {"delivered": 4, "lost": 1, "duplicated": 1, "out_of_order": 1}
    assert lab.count(10, LATE) == {"delivered": 10, "lost": 0, "duplicated": 1, "out_of_order": 2}
    assert lab.count(3, []) == {"delivered": 0, "lost": 3, "duplicated": 0, "out_of_order": 0}
    # a late duplicate counts as duplicated only
    assert lab.count(3, [0, 1, 2, 0]) == {"delivered": 3, "lost": 0, "duplicated": 1, "out_of_order": 0}


def test_reference_solution_agrees_with_the_lab():
    rng = random.Random(8)
    for _ in range(200):
        sent = rng.randrange(1, 30)
        received = [rng.randrange(sent) for _ in range(rng.randrange(40))]
        assert REFERENCE.tally(sent, received) == lab.count(sent, received)
        stream = b"".join(b"%05d\n" % n for n in received)[:rng.randrange(200)]
        assert REFERENCE.split_messages(stream) == lab.frame_messages(stream)


def test_exercise_starts_untouched():
    assert progress(ROOT / "exercises" / "tcp_vs_udp.py", lab.LAB.todos) == {"split_messages": False,
                                                                             "tally": False}
    assert progress(ROOT / "solutions" / "tcp_vs_udp.py", lab.LAB.todos) == {"split_messages": True,
                                                                             "tally": True}


def test_resent_counts_segments_that_cover_bytes_sent_before():
    assert lab.resent([(1, 6), (7, 6), (13, 6)]) == 0
    assert lab.resent([(1, 6), (13, 6), (7, 6)]) == 0   # filling a hole is not sending again
    assert lab.resent([(1, 6), (7, 6), (1, 6), (7, 12)]) == 2
    assert lab.resent([(1, 12), (7, 6)]) == 1  # a part of an earlier segment, sent again
    assert lab.resent([]) == 0


def segment(seq: int, data: bytes = b"", flags: str = "PA", sport: int = 40000, dport: int = lab.LOSSY_TCP,
            src: str = "10.0.0.1", dst: str = "10.0.0.2") -> bytes:
    packet = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq)
    return bytes(Ether() / (packet / data if data else packet))


def test_data_segments_relative_to_the_isn_across_the_wrap():
    isn = 2**32 - 8
    frames = [segment(isn, flags="S"), segment(isn + 1, b"00000\n"), segment((isn + 7) % 2**32, b"00001\n"),
              segment(isn + 1, b"00000\n"), segment(5, b"", flags="A", sport=lab.LOSSY_TCP, dport=40000,
                                                   src="10.0.0.2", dst="10.0.0.1")]
    wire = Wire([Frame(1.0 + i / 10, "s1-eth1", f) for i, f in enumerate(frames)])
    found = lab.data_segments(wire, "10.0.0.1", lab.LOSSY_TCP)
    assert found == [(1, 6), (7, 6), (1, 6)]
    assert lab.resent(found) == 1


def test_loss_rule_spares_retransmissions_only_when_asked():
    assert loss_rule("udp dport 7001", 10) == "udp dport 7001 numgen random mod 100 < 10"
    rule = loss_rule("tcp dport 7000", 10, "tcp sequence", "seen")
    assert rule == "tcp dport 7000 tcp sequence != @seen add @seen { tcp sequence } numgen random mod 100 < 10"


def split_call(buffer: bytes, output, where: str = "test") -> dict:
    return {"where": where, "input": buffer, "output": output}


def test_split_grading():
    three = b"alpha\nbravo\ncharlie\n"
    cut = b"00000\n00001\n000"
    good = [split_call(three, ([b"alpha", b"bravo", b"charlie"], b"")), split_call(cut, ([b"00000", b"00001"], b"000"))]
    assert lab.grade_split(good).status == PASS
    verdict = lab.grade_split([split_call(three, ([three], b""))])
    assert verdict.status == FAIL and "one recv() is not one message" in verdict.hint
    assert "you dropped the incomplete rest b'000'" in lab.grade_split(
        [split_call(cut, ([b"00000", b"00001"], b""))]).hint
    assert "are not a message yet" in lab.grade_split([split_call(cut, ([b"00000", b"00001", b"000"], b""))]).hint
    assert "leave the b'\\n' out" in lab.grade_split(
        [split_call(three, ([b"alpha\n", b"bravo\n", b"charlie\n"], b""))]).hint
    assert "the empty piece after it" in lab.grade_split(
        [split_call(three, ([b"alpha", b"bravo", b"charlie", b""], b""))]).hint
    assert "return (messages, rest)" in lab.grade_split([split_call(three, [b"alpha"])]).hint
    assert "return (messages, rest)" in lab.grade_split([split_call(three, (["alpha"], ""))]).hint
    # a tuple of messages is as good as a list
    assert lab.grade_split([split_call(three, ((b"alpha", b"bravo", b"charlie"), b""))]).status == PASS


def tally_call(sent: int, received: list[int], output) -> dict:
    return {"where": "test", "sent": sent, "received": received, "output": output}


def test_tally_grading():
    assert lab.grade_tally([tally_call(10, LATE, lab.count(10, LATE))]).status == PASS
    twice = {"delivered": 11, "lost": -1, "duplicated": 1, "out_of_order": 2}
    assert "delivered counts distinct numbers" in lab.grade_tally([tally_call(10, LATE, twice)]).hint
    hidden = {"delivered": 3, "lost": 1, "duplicated": 1, "out_of_order": 0}  # 4 sent, [0, 1, 1, 2] arrived
    assert "not minus the arrivals" in lab.grade_tally([tally_call(4, [0, 1, 1, 2], {**hidden, "lost": 0})]).hint
    blind = {"delivered": 10, "lost": 0, "duplicated": 1, "out_of_order": 0}
    verdict = lab.grade_tally([tally_call(10, LATE, blind)])
    assert verdict.status == FAIL and "yet 3, 4 arrived after a larger number" in verdict.hint
    neighbour = {**blind, "out_of_order": 1}
    assert "not with the one just before" in lab.grade_tally([tally_call(10, LATE, neighbour)]).hint
    assert "k - 1" in lab.grade_tally([tally_call(10, LATE, {**blind, "duplicated": 2, "out_of_order": 2})]).hint
    assert "keys delivered, lost" in lab.grade_tally([tally_call(10, LATE, {"received": 11})]).hint
    assert "keys delivered, lost" in lab.grade_tally([tally_call(10, LATE, [10, 0, 1, 2])]).hint


def test_adjacent_inversions_is_the_wrong_count():
    assert lab.adjacent_inversions(LATE) == 1
    assert lab.count(10, LATE)["out_of_order"] == 2
