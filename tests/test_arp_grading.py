"""Grading of arp-basic from synthetic captures: each typical mistake gets its hint.

No network needed: grading reads only the evidence a scenario recorded and the frames
of the capture, so here both are made by hand.
"""
from __future__ import annotations

import pickle
import random

import pytest
from scapy.layers.l2 import ARP, Ether

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exchange import Sent
from lab.grading import CONSTANT_HINT, LAB_FAULT
from lab.labs import _arp_cases, arp_basic
from lab.labs._arp_cases import Lookup
from lab.loader import load_file
from lab.sandbox import DONE, RAISED
from lab.wire import Wire

reference = load_file(ROOT / "solutions" / "arp_basic.py", ImportError, "arp_reference")

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
    evidence = arp_basic.Evidence(asker=H1, owner=H2, who_has=Sent("", sent, 10.0))
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
    (request(psrc="10.1.1.1"), "addresses change every run"),
    (request(src="00:00:00:00:00:00"), "set Ether(src=my_mac)"),
    (request(src=H3[1]), "frames from h1 carry h1's MAC"),
    (request(op=3), "op is 3: a question is op 1"),
    (request(hwsrc=H3[1]), "hwsrc is 02:00:00:00:00:03"),
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
    evidence = arp_basic.Evidence(asker=H1, owner=H2, who_has=Sent("", sent, 10.0, fallback_at=10.6))
    assert arp_basic.grade_who_has(evidence, Wire(frames)).status == FAIL
    answered_first = [Frame(10.0, "s1-eth1", sent), Frame(10.0001, "s1-eth1", answer()), Frame(10.6, "s1-eth1", sent)]
    assert arp_basic.grade_who_has(evidence, Wire(answered_first)).status == PASS


def test_not_a_frame_is_reported():
    evidence = arp_basic.Evidence(asker=H1, owner=H2, who_has=Sent("returned NoneType, not a scapy frame"))
    verdict = arp_basic.grade_who_has(evidence, Wire([]))
    assert verdict.status == FAIL and "Ether(...) / ARP(...)" in verdict.hint


def test_a_frame_missing_from_the_capture_is_the_labs_fault():
    evidence = arp_basic.Evidence(asker=H1, owner=H2, who_has=Sent("", request(), 10.0))
    verdict = arp_basic.grade_who_has(evidence, Wire([Frame(9.0, "s1-eth1", request())]))
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT


TWIN = (("10.9.8.7", "02:aa:bb:cc:dd:ee"), ("10.9.8.70", "02:aa:bb:cc:dd:e0"))
OTHERS = [(("192.168.5.6", "0e:01:02:03:04:05"), ("172.20.1.1", "0e:99:98:97:96:95")), TWIN]


def parse_verdict(live, others=None, status=DONE):
    """grade_parse on h2's reply answered with live, and the made-up ones with others
    (each right unless given)."""
    others = others or [(DONE, sender) for sender, _ in OTHERS]
    return arp_basic.grade_parse(arp_basic.Evidence(replies=[(H2, H1), *OTHERS], parsed=[(status, live), *others]),
                                 Wire([]))


@pytest.mark.parametrize("value, status, words", [
    (H2, PASS, ""),
    (("10.0.0.2", H2[1].upper()), PASS, ""),
    ((H2[1], H2[0]), FAIL, "in that order"),
    (H1, FAIL, "the asker"),
    ((H2[0], H1[1]), FAIL, "the asker"),
    (("10.0.0.2", "02:00:00:00:00:09"), FAIL, "sender fields"),
])
def test_parse_is_at(value, status, words):
    verdict = parse_verdict(value)
    assert verdict.status == status and words in verdict.hint
    assert "3 cases" in verdict.detail


def test_parse_is_at_wrong_on_a_made_up_reply_names_it():
    # Right on h2's reply, but sender IP with target MAC on the twin pair.
    verdict = parse_verdict(H2, [(DONE, OTHERS[0][0]), (DONE, (TWIN[0][0], TWIN[1][1]))])
    assert verdict.status == FAIL and "the asker" in verdict.hint
    assert "a reply from 10.9.8.7 to 10.9.8.70" in verdict.detail and "right in 2 of 3 cases" in verdict.detail


def test_parse_is_at_constant_and_failing_cases():
    constant = parse_verdict(H2, [(DONE, H2), (DONE, H2)])
    assert constant.status == FAIL and constant.hint == CONSTANT_HINT
    raised = parse_verdict(H2, [(DONE, OTHERS[0][0]), (RAISED, "line 3 in parse_is_at: IndexError")])
    assert raised.status == FAIL and "any is-at reply" in raised.hint and "IndexError" in raised.detail


SUBNET = "10.0.0"


def lookups(h1_h2=H2[1], h2_h1=H1[1], h1_h3=None, middle="02:00:00:00:00:44", incomplete=None,
            near="02:00:00:00:00:05", kernel_h1_h2=H2[1]):
    """grade_lookups evidence: three live look-ups, then three in a made-up table."""
    cases = [
        Lookup("h1's table", [], H2[0], kernel_h1_h2),
        Lookup("h2's table", [], H1[0], H1[1]),
        Lookup("h1's table", [], H3[0], None, "when no entry has that IP, return None"),
        Lookup("a made-up table", [], "10.0.0.44", "02:00:00:00:00:44"),
        Lookup("a made-up table", [], "10.0.0.9", None, "is INCOMPLETE"),
        Lookup("a made-up table", [], "10.0.0.5", "02:00:00:00:00:05", "whole addresses"),
    ]
    given = [h1_h2, h2_h1, h1_h3, middle, incomplete, near]
    answers = [value if type(value) is tuple else (DONE, value) for value in given]
    return arp_basic.Evidence(lookups=cases, found=answers, peers=[H2[1], H1[1], None])


@pytest.mark.parametrize("change, words", [
    ({}, ""),
    ({"h1_h3": H2[1]}, "return None"),
    ({"h1_h2": None}, "has an entry for 10.0.0.2"),
    ({"h2_h1": H2[1]}, "not another"),
    ({"incomplete": ""}, "INCOMPLETE"),
    ({"incomplete": (RAISED, "line 4 in find_entry: AttributeError")}, "INCOMPLETE"),
    ({"near": "02:00:00:00:00:50"}, "whole addresses"),
    ({"near": None}, "has an entry for 10.0.0.5"),
    ({"middle": None, "h1_h3": None, "incomplete": None, "near": None, "h2_h1": None}, CONSTANT_HINT),
])
def test_lookups(change, words):
    verdict = arp_basic.grade_lookups(lookups(**change), Wire([]))
    assert verdict.status == (FAIL if change else PASS), verdict
    assert words in verdict.hint and "6 cases" in verdict.detail


def test_lookups_blame_the_lab_when_the_kernel_did_not_learn():
    verdict = arp_basic.grade_lookups(lookups(h1_h2=None, kernel_h1_h2=None), Wire([]))
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT


def test_made_up_cases_follow_the_seed_and_their_truths_hold():
    """The lab's own truths agree with the reference; the tables travel pickled."""
    assert _arp_cases.made_up_replies(random.Random(5)) == _arp_cases.made_up_replies(random.Random(5))
    for sender, target in _arp_cases.made_up_replies(random.Random(5)):
        assert sender != target
        assert reference.parse_is_at(_arp_cases.is_at_frame(sender, target)) == sender
    (ip, mac), (twin_ip, twin_mac) = _arp_cases.made_up_replies(random.Random(5))[1]
    assert sum(a != b for a, b in zip(ip.split("."), twin_ip.split("."))) == 1
    assert sum(a != b for a, b in zip(mac.split(":"), twin_mac.split(":"))) == 1
    cases = _arp_cases.made_up_lookups(random.Random(7), SUBNET, 2)
    for case in cases:
        table = pickle.loads(pickle.dumps(case.table))
        assert reference.find_entry(table, case.ip) == case.truth
        assert table[0].get_attr("NDA_DST") != case.ip  # the first entry is never the answer
    incomplete = [e for e in cases[1].table if e.get_attr("NDA_DST") == cases[1].ip]
    assert incomplete[0]["state"] == 1 and incomplete[0].get_attr("NDA_LLADDR") is None
    addresses = [e.get_attr("NDA_DST") for e in cases[2].table]
    longer = next(a for a in addresses if a != cases[2].ip and a.startswith(cases[2].ip))
    assert addresses.index(longer) < addresses.index(cases[2].ip)
    assert cases[0].table is not cases[1].table


def gratuitous_verdict(frame: bytes, learned):
    evidence = arp_basic.Evidence(speaker=H3, gratuitous=Sent("", frame, 20.0), learned=learned)
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
    no_source = bytes(Ether(dst=BCAST, src="00:00:00:00:00:00") / ARP(op=1, hwsrc=H3[1], psrc=H3[0], pdst=H3[0]))
    assert "Ether(src=my_mac)" in gratuitous_verdict(no_source, None).hint
    other_mac = bytes(Ether(dst=BCAST, src=H3[1]) / ARP(op=1, hwsrc=H2[1], psrc=H3[0], pdst=H3[0]))
    assert "h3's own MAC" in gratuitous_verdict(other_mac, H2[1]).hint
    odd_op = bytes(Ether(dst=BCAST, src=H3[1]) / ARP(op=7, hwsrc=H3[1], psrc=H3[0], pdst=H3[0]))
    assert "op is 7" in gratuitous_verdict(odd_op, None).hint
    reply_right = bytes(Ether(dst=BCAST, src=H3[1]) / ARP(op=2, hwsrc=H3[1], psrc=H3[0], hwdst=H3[1], pdst=H3[0]))
    assert gratuitous_verdict(reply_right, H3[1]).status == PASS
    ignored = gratuitous_verdict(good, None)
    assert ignored.status == FAIL and "did not take" in ignored.hint


def test_wire_keeps_a_broadcast_once_with_its_ports():
    sent = request()
    wire = Wire([Frame(1.0, "s1-eth1", sent), Frame(1.00002, "s1-eth2", sent), Frame(1.00003, "s1-eth3", sent)])
    assert len(wire.frames) == 1
    assert wire.frames[0].interfaces == ("s1-eth1", "s1-eth2", "s1-eth3")


def test_a_live_call_that_failed_leaves_the_hint_to_the_engine():
    """The engine shows the error and its own hint; the lab adds none of its own."""
    assert parse_verdict("line 3 in parse_is_at: FileNotFoundError", status=RAISED).hint == ""
    assert arp_basic.grade_lookups(lookups(h1_h2=(RAISED, "line 2 in find_entry: KeyError")), Wire([])).hint == ""
