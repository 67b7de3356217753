"""Grading of arp-basic from synthetic captures: each typical mistake gets its hint.

No network needed: grading reads only the evidence a scenario recorded and the frames
of the capture, so here both are made by hand.
"""
from __future__ import annotations

import pytest
from scapy.layers.l2 import ARP, Ether

from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.labs import arp_basic
from lab.wire import Wire

H1 = ("10.0.0.1", "02:00:00:00:00:01")
H2 = ("10.0.0.2", "02:00:00:00:00:02")
H3 = ("10.0.0.3", "02:00:00:00:00:03")
BCAST = "ff:ff:ff:ff:ff:ff"


def request(dst=BCAST, op=1, hwsrc=H1[1], psrc=H1[0], pdst=H2[0], src=H1[1]) -> bytes:
    return bytes(Ether(dst=dst, src=src) / ARP(op=op, hwsrc=hwsrc, psrc=psrc, pdst=pdst))


def answer() -> bytes:
    return bytes(Ether(dst=H1[1], src=H2[1]) / ARP(op=2, hwsrc=H2[1], psrc=H2[0], hwdst=H1[1], pdst=H1[0]))


def who_has_verdict(sent: bytes, answered: bool):
    frames = [Frame(10.0, "s1-eth1", sent), Frame(10.00001, "s1-eth2", sent)]
    if answered:
        frames.append(Frame(10.0001, "s1-eth2", answer()))
    evidence = {"problem": "", "sent_at": 10.0, "data": sent, "asker": H1, "owner": H2, "fallback_at": None}
    return arp_basic.grade_who_has(evidence, Wire(frames))


def test_right_request_answered_passes():
    verdict = who_has_verdict(request(), answered=True)
    assert verdict.status == PASS, verdict


@pytest.mark.parametrize("frame, words", [
    (request(op=2), "op is 2"),
    (request(dst="00:00:00:00:00:00"), "must be broadcast"),
    (request(dst=H2[1]), "must be broadcast"),
    (request(psrc=H2[0], pdst=H1[0]), "swapped"),
    (request(hwsrc="00:00:00:00:00:00"), "hwsrc"),
    (request(pdst=H3[0]), "pdst"),
])
def test_typical_mistakes_get_their_hint(frame, words):
    verdict = who_has_verdict(frame, answered=False)
    assert verdict.status == FAIL
    assert words in verdict.hint


def test_right_looking_request_without_answer_fails():
    verdict = who_has_verdict(request(), answered=False)
    assert verdict.status == FAIL and "did not answer" in verdict.hint


def test_answer_to_the_reference_retry_does_not_count():
    sent = request()
    frames = [Frame(10.0, "s1-eth1", sent), Frame(10.6, "s1-eth1", sent + b""),
              Frame(10.6001, "s1-eth1", answer())]
    evidence = {"problem": "", "sent_at": 10.0, "data": sent, "asker": H1, "owner": H2, "fallback_at": 10.6}
    assert arp_basic.grade_who_has(evidence, Wire(frames)).status == FAIL


def test_not_a_frame_is_reported():
    evidence = {"problem": "returned NoneType, not a scapy frame", "sent_at": None, "data": None,
                "asker": H1, "owner": H2, "fallback_at": None}
    verdict = arp_basic.grade_who_has(evidence, Wire([]))
    assert verdict.status == FAIL and "Ether(...) / ARP(...)" in verdict.hint


@pytest.mark.parametrize("value, status, words", [
    (H2, PASS, ""),
    (("10.0.0.2", H2[1].upper()), PASS, ""),
    ((H2[1], H2[0]), FAIL, "in that order"),
    (H1, FAIL, "the asker"),
    ("10.0.0.2", FAIL, "tuple of two strings"),
])
def test_parse_is_at(value, status, words):
    verdict = arp_basic.grade_parse({"parsed": value, "who_has": {"owner": H2, "asker": H1}})
    assert verdict.status == status and words in verdict.hint


def lookups(h1_h2=H2[1], h2_h1=H1[1], h1_h3=None):
    return [
        {"host": "h1", "ip": H2[0], "answer": h1_h2, "kernel": H2[1], "peer_mac": H2[1]},
        {"host": "h2", "ip": H1[0], "answer": h2_h1, "kernel": H1[1], "peer_mac": H1[1]},
        {"host": "h1", "ip": H3[0], "answer": h1_h3, "kernel": None, "peer_mac": H3[1]},
    ]


def test_lookups():
    assert arp_basic.grade_lookups(lookups()).status == PASS
    assert "return None" in arp_basic.grade_lookups(lookups(h1_h3=H2[1])).hint
    assert "as a string" in arp_basic.grade_lookups(lookups(h1_h2=None)).hint
    assert "not another" in arp_basic.grade_lookups(lookups(h2_h1=H2[1])).hint


def gratuitous_verdict(frame: bytes, learned):
    evidence = {"problem": "", "sent_at": 20.0, "data": frame, "speaker": H3, "learned": learned}
    return arp_basic.grade_gratuitous(evidence, Wire([Frame(20.0, "s1-eth3", frame)]))


def test_gratuitous():
    good = bytes(Ether(dst=BCAST, src=H3[1]) / ARP(op=1, hwsrc=H3[1], psrc=H3[0], pdst=H3[0]))
    assert gratuitous_verdict(good, H3[1]).status == PASS
    asks_other = bytes(Ether(dst=BCAST, src=H3[1]) / ARP(op=1, hwsrc=H3[1], psrc=H3[0], pdst=H1[0]))
    assert "own address" in gratuitous_verdict(asks_other, None).hint
    unicast = bytes(Ether(dst=H1[1], src=H3[1]) / ARP(op=1, hwsrc=H3[1], psrc=H3[0], pdst=H3[0]))
    assert "everyone" in gratuitous_verdict(unicast, H3[1]).hint
    reply_form = bytes(Ether(dst=BCAST, src=H3[1]) / ARP(op=2, hwsrc=H3[1], psrc=H3[0], pdst=H3[0]))
    assert "hwdst" in gratuitous_verdict(reply_form, None).hint


def test_wire_keeps_a_broadcast_once_with_its_ports():
    sent = request()
    wire = Wire([Frame(1.0, "s1-eth1", sent), Frame(1.00002, "s1-eth2", sent), Frame(1.00003, "s1-eth3", sent)])
    assert len(wire.frames) == 1
    assert wire.frames[0].interfaces == ("s1-eth1", "s1-eth2", "s1-eth3")
