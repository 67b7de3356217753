"""Grading of arp-basic from synthetic captures: each typical mistake gets its hint.

No network needed: grading reads only the evidence a scenario recorded and the frames
of the capture, so here both are made by hand.
"""
from __future__ import annotations

import pickle
import random
import re
import socket

import pytest
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from scapy.layers.l2 import ARP, Ether

from conftest import ROOT
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exchange import Sent
from lab.exercise import Outcome
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


def who_has_verdict(sent: bytes, answered: bool, answered_at: float = 10.0001):
    frames = [Frame(10.0, "s1-eth1", sent), Frame(10.00001, "s1-eth2", sent)]
    if answered:
        frames.append(Frame(answered_at, "s1-eth2", answer()))
    evidence = arp_basic.Evidence(asker=H1, owner=H2, who_has=Sent("", sent, 10.0))
    return arp_basic.grade_who_has(evidence, Wire(frames))


def test_right_request_answered_passes():
    verdict = who_has_verdict(request(), answered=True, answered_at=10.0125)
    assert verdict.status == PASS, verdict
    assert verdict.detail == "broadcast who-has, answered by h2's kernel 12.50 ms later"


ARGUMENT = "take it from the argument {}: addresses change every run"
NO_SOURCE = ("Ethernet source is 00:00:00:00:00:00 (scapy could not guess it here), and a switch drops "
             "such a frame: set Ether(src=my_mac)")


@pytest.mark.parametrize("frame, words", [
    (request(op=2), "op is 2 (is-at), an answer nobody asked for: a question is op 1 (who-has)"),
    (request(dst="00:00:00:00:00:00"), "Ethernet destination is 00:00:00:00:00:00: the target MAC is unknown, "
                                       "so the Ethernet destination must be broadcast ff:ff:ff:ff:ff:ff"),
    (request(dst=H2[1]), "Ethernet destination is 02:00:00:00:00:02: the target MAC is unknown, "
                         "so the Ethernet destination must be broadcast ff:ff:ff:ff:ff:ff"),
    (request(psrc=H2[0], pdst=H1[0]), "sender and target are swapped: psrc is the asker's IP (h1's own), "
                                      "pdst the IP being asked about"),
    (request(hwsrc="00:00:00:00:00:00"), "hwsrc is 00:00:00:00:00:00: it must be the asker's MAC "
                                         "02:00:00:00:00:01, or the answer cannot come back; "
                                         + ARGUMENT.format("my_mac")),
    (request(pdst=H3[0]), "pdst is 10.0.0.3: it must be the address asked about, 10.0.0.2; "
                          + ARGUMENT.format("target_ip")),
    (request(pdst=H1[0]), "pdst is 10.0.0.1: it must be the address asked about, 10.0.0.2; "
                          + ARGUMENT.format("target_ip")),  # asks about itself: not swapped
    (request(psrc="10.1.1.1"), "psrc is 10.1.1.1: it must be the asker's own IP 10.0.0.1, where the answer "
                               "goes; " + ARGUMENT.format("my_ip")),
    (request(src="00:00:00:00:00:00"), NO_SOURCE),
    (request(src=H3[1]), "Ethernet source is 02:00:00:00:00:03: frames from h1 carry h1's MAC 02:00:00:00:00:01"),
    (request(op=3), "op is 3: a question is op 1 (who-has)"),
    (request(hwsrc=H3[1]), "hwsrc is 02:00:00:00:00:03: it must be the asker's MAC 02:00:00:00:00:01, "
                           "or the answer cannot come back; " + ARGUMENT.format("my_mac")),
])
def test_typical_mistakes_get_their_hint(frame, words):
    verdict = who_has_verdict(frame, answered=False)
    assert verdict.status == FAIL
    assert verdict.hint == words
    packet = Ether(frame)
    assert verdict.detail == f"sent: {packet[ARP].summary()} to {packet.dst}"


def test_right_looking_request_without_answer_fails():
    verdict = who_has_verdict(request(), answered=False)
    assert verdict.status == FAIL and "did not answer" in verdict.hint
    assert verdict.hint == "the frame looks right but h2 did not answer; compare it field by field with a " \
                           "who-has in Wireshark"
    assert verdict.detail == "sent: ARP who has 10.0.0.2 says 10.0.0.1 to ff:ff:ff:ff:ff:ff"


@pytest.mark.parametrize("other", [
    Frame(9.9, "s1-eth2", answer()),  # before the question
    Frame(10.0001, "s1-eth2", request(src=H2[1], hwsrc=H2[1], psrc=H2[0], pdst=H1[0])),  # h2 asks back
    Frame(10.0001, "s1-eth3", bytes(Ether(dst=H1[1], src=H3[1]) / ARP(op=2, hwsrc=H3[1], psrc=H3[0],
                                                                       hwdst=H1[1], pdst=H1[0]))),
    Frame(10.0001, "s1-eth2", bytes(Ether(dst=H3[1], src=H2[1]) / ARP(op=2, hwsrc=H2[1], psrc=H2[0],
                                                                       hwdst=H3[1], pdst=H3[0]))),
])
def test_only_h2s_is_at_to_h1_after_the_question_answers_it(other):
    sent = request()
    evidence = arp_basic.Evidence(asker=H1, owner=H2, who_has=Sent("", sent, 10.0))
    verdict = arp_basic.grade_who_has(evidence, Wire([Frame(10.0, "s1-eth1", sent), other]))
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
    assert verdict.hint == "return a whole packet: Ether(...) / ARP(...)"
    assert verdict.detail == "returned NoneType, not a scapy frame"


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


SENDER_FIELDS = "read the reply's sender fields: reply[ARP].psrc and reply[ARP].hwsrc"
ASKER = "that is the asker: in a reply the sender fields (psrc, hwsrc) describe the host that answered"


@pytest.mark.parametrize("value, status, words", [
    (H2, PASS, ""),
    (("10.0.0.2", H2[1].upper()), PASS, ""),
    ((H2[1], H2[0]), FAIL, "return (ip, mac) in that order"),
    (H1, FAIL, ASKER),
    ((H2[0], H1[1]), FAIL, ASKER),
    ((H1[0], "02:00:00:00:00:09"), FAIL, ASKER),
    (("10.0.0.2", "02:00:00:00:00:09"), FAIL, SENDER_FIELDS),
])
def test_parse_is_at(value, status, words):
    verdict = parse_verdict(value)
    assert verdict.status == status and words in verdict.hint
    assert verdict.hint == words
    assert "3 cases" in verdict.detail
    if status == FAIL:
        assert verdict.detail == f"for h2's reply, returned {value!r}; right in 2 of 3 cases"
    else:
        assert verdict.detail == "10.0.0.2 is at 02:00:00:00:00:02, the MAC h2's kernel reports; " \
                                 "right in 3 of 3 cases"


def test_parse_is_at_takes_any_case_of_hex_digits_on_every_reply():
    upper = [(DONE, (ip, mac.upper())) for (ip, mac), _ in OTHERS]
    assert parse_verdict(H2, upper).status == PASS


def test_parse_is_at_wrong_on_a_made_up_reply_names_it():
    # Right on h2's reply, but sender IP with target MAC on the twin pair.
    verdict = parse_verdict(H2, [(DONE, OTHERS[0][0]), (DONE, (TWIN[0][0], TWIN[1][1]))])
    assert verdict.status == FAIL and "the asker" in verdict.hint
    assert "a reply from 10.9.8.7 to 10.9.8.70" in verdict.detail and "right in 2 of 3 cases" in verdict.detail
    assert verdict.detail == "for a reply from 10.9.8.7 to 10.9.8.70, returned ('10.9.8.7', '02:aa:bb:cc:dd:e0'); " \
                             "right in 2 of 3 cases"
    wrong_first = parse_verdict(H2, [(DONE, ("192.168.5.6", "0e:01:02:03:04:06")), (DONE, TWIN[0])])
    assert wrong_first.detail.startswith("for a reply from 192.168.5.6 to 172.20.1.1, returned ")
    assert wrong_first.hint == SENDER_FIELDS


def test_parse_is_at_constant_and_failing_cases():
    constant = parse_verdict(H2, [(DONE, H2), (DONE, H2)])
    assert constant.status == FAIL and constant.hint == CONSTANT_HINT
    assert constant.detail == "for a reply from 192.168.5.6 to 172.20.1.1, returned ('10.0.0.2', " \
                              "'02:00:00:00:00:02'); right in 1 of 3 cases"
    raised = parse_verdict(H2, [(DONE, OTHERS[0][0]), (RAISED, "line 3 in parse_is_at: IndexError")])
    assert raised.status == FAIL and "any is-at reply" in raised.hint and "IndexError" in raised.detail
    assert raised.hint == "it must read any is-at reply, not only h2's"
    assert raised.detail == "for a reply from 10.9.8.7 to 10.9.8.70, gave no answer: line 3 in parse_is_at: " \
                            "IndexError; right in 2 of 3 cases"


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


ANOTHER = 'return the MAC of the entry whose entry.get_attr("NDA_DST") equals ip, not another'


@pytest.mark.parametrize("change, words, wrong", [
    ({}, "", ""),
    ({"h1_h3": H2[1]}, "when no entry has that IP, return None",
     "find_entry(h1's table, 10.0.0.3) gave '02:00:00:00:00:02', the right answer is None"),
    ({"h1_h2": None}, 'the table has an entry for 10.0.0.2: return its entry.get_attr("NDA_LLADDR")',
     "find_entry(h1's table, 10.0.0.2) gave None, the right answer is '02:00:00:00:00:02'"),
    ({"h2_h1": H2[1]}, ANOTHER,
     "find_entry(h2's table, 10.0.0.1) gave '02:00:00:00:00:02', the right answer is '02:00:00:00:00:01'"),
    ({"middle": "02:00:00:00:00:05"}, ANOTHER, "find_entry(a made-up table, 10.0.0.44) gave '02:00:00:00:00:05', "
                                      "the right answer is '02:00:00:00:00:44'"),
    ({"incomplete": ""}, "is INCOMPLETE", "find_entry(a made-up table, 10.0.0.9) gave '', the right answer is None"),
    ({"incomplete": (RAISED, "line 4 in find_entry: AttributeError")}, "is INCOMPLETE",
     "find_entry(a made-up table, 10.0.0.9) gave no answer: line 4 in find_entry: AttributeError, "
     "the right answer is None"),
    ({"near": "02:00:00:00:00:50"}, "whole addresses",
     "find_entry(a made-up table, 10.0.0.5) gave '02:00:00:00:00:50', the right answer is '02:00:00:00:00:05'"),
    ({"near": None}, 'the table has an entry for 10.0.0.5: return its entry.get_attr("NDA_LLADDR")',
     "find_entry(a made-up table, 10.0.0.5) gave None, the right answer is '02:00:00:00:00:05'"),
    ({"middle": None, "h1_h3": None, "incomplete": None, "near": None, "h2_h1": None}, CONSTANT_HINT,
     "find_entry(h2's table, 10.0.0.1) gave None, the right answer is '02:00:00:00:00:01'; right in 3 of 6 cases"),
])
def test_lookups(change, words, wrong):
    verdict = arp_basic.grade_lookups(lookups(**change), Wire([]))
    assert verdict.status == (FAIL if change else PASS), verdict
    assert words in verdict.hint and "6 cases" in verdict.detail
    assert verdict.hint == words
    if change:
        assert verdict.detail == (wrong if "; right in" in wrong else wrong + "; right in 5 of 6 cases")
    else:
        assert verdict.detail == "h1 knows h2 and h2 knows h1 (learned from the question), h1 does not know h3 " \
                                 "yet; right in 6 of 6 cases"


def test_lookups_blame_the_lab_when_the_kernel_did_not_learn():
    verdict = arp_basic.grade_lookups(lookups(h1_h2=None, kernel_h1_h2=None), Wire([]))
    assert verdict.status == FAIL and verdict.hint == LAB_FAULT
    assert verdict.detail == "the kernels' tables do not hold the peers' real MACs"


def answers_of(find_entry, cases: list[Lookup]) -> list[tuple]:
    """What a student's find_entry gives on each case, as the sandbox reports it."""
    given = []
    for case in cases:
        try:
            given.append((DONE, find_entry(pickle.loads(pickle.dumps(case.table)), case.ip)))
        except Exception as error:
            given.append((RAISED, type(error).__name__))
    return given


def live_lookups(ifindex: int = 2) -> list[Lookup]:
    """The three live look-ups, in tables shaped like the kernel's (h1 knows h2, h2 knows h1)."""
    h1 = [_arp_cases.neighbour(H2[0], H2[1], "REACHABLE", ifindex)]
    h2 = [_arp_cases.neighbour(H1[0], H1[1], "STALE", ifindex)]
    return [Lookup("h1's table", h1, H2[0], H2[1]), Lookup("h2's table", h2, H1[0], H1[1]),
            Lookup("h1's table", h1, H3[0], None, "when no entry has that IP, return None")]


def string_match(table, ip):
    return next((e.get_attr("NDA_LLADDR") for e in table if e.get_attr("NDA_DST").startswith(ip)), None)


def no_state_check(table, ip):
    return next((e.get_attr("NDA_LLADDR") or "00:00:00:00:00:00" for e in table if e.get_attr("NDA_DST") == ip),
                None)


def off_by_one(table, ip):
    for index, entry in enumerate(table):
        if entry.get_attr("NDA_DST") == ip:
            return table[index - 1].get_attr("NDA_LLADDR")  # right when the table has one entry
    return None


@pytest.mark.parametrize("seed", range(30))
def test_typical_find_entry_mistakes_on_the_made_up_table_get_its_hints(seed):
    made_up = _arp_cases.made_up_lookups(random.Random(seed), SUBNET, 2)
    cases = live_lookups() + made_up
    table = [(e.get_attr("NDA_DST"), e["state"]) for e in made_up[0].table]
    incomplete = next(ip for ip, state in table if state == _arp_cases.NUD["INCOMPLETE"])
    near = made_up[2].ip
    far = next(ip for ip, _ in table if ip != near and ip.startswith(near))

    def verdict(find_entry):
        evidence = arp_basic.Evidence(lookups=cases, found=answers_of(find_entry, cases), peers=[H2[1], H1[1], None])
        return arp_basic.grade_lookups(evidence, Wire([]))

    assert verdict(reference.find_entry).status == PASS
    prefix = verdict(string_match)
    assert prefix.hint == f"compare whole addresses with ==: {near} is not {far}, which comes first in the table"
    assert prefix.detail.startswith(f"find_entry(a made-up table of 7 entries, {near}) gave ")
    unknown = verdict(no_state_check)
    assert unknown.hint == f"the entry for {incomplete} is INCOMPLETE: its MAC is not known yet (no NDA_LLADDR), " \
                           "so return None"
    assert unknown.detail.startswith(f"find_entry(a made-up table of 7 entries, {incomplete}) gave "
                                     "'00:00:00:00:00:00', the right answer is None")
    other = verdict(off_by_one)
    assert other.hint == ANOTHER and other.detail.startswith(f"find_entry(a made-up table of 7 entries, "
                                                             f"{made_up[0].ip}) gave ")


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


def announcement(dst=BCAST, src=H3[1], op=1, hwsrc=H3[1], psrc=H3[0], pdst=H3[0], hwdst="00:00:00:00:00:00"):
    return bytes(Ether(dst=dst, src=src) / ARP(op=op, hwsrc=hwsrc, psrc=psrc, hwdst=hwdst, pdst=pdst))


def test_gratuitous():
    good = announcement()
    assert gratuitous_verdict(good, H3[1]).status == PASS
    assert gratuitous_verdict(good, H3[1]).detail == "h1's kernel added 10.0.0.3 at 02:00:00:00:00:03 without asking"
    reply_right = announcement(op=2, hwdst=H3[1])
    assert gratuitous_verdict(reply_right, H3[1]).status == PASS
    ignored = gratuitous_verdict(good, None)
    assert ignored.status == FAIL and "did not take" in ignored.hint
    assert ignored.hint == "h1 did not take the announcement; compare it with one in Wireshark"
    assert ignored.detail == "sent: ARP who has 10.0.0.3 says 10.0.0.3 to ff:ff:ff:ff:ff:ff; h1's entry: None"


@pytest.mark.parametrize("frame, learned, words", [
    (announcement(pdst=H1[0]), None, "psrc=10.0.0.3 pdst=10.0.0.1: a gratuitous ARP asks about the sender's own "
                                     "address, so both are 10.0.0.3; " + ARGUMENT.format("my_ip")),
    (announcement(psrc=H1[0]), None, "psrc=10.0.0.1 pdst=10.0.0.3: a gratuitous ARP asks about the sender's own "
                                     "address, so both are 10.0.0.3; " + ARGUMENT.format("my_ip")),
    (announcement(dst=H1[1]), H3[1], "Ethernet destination is 02:00:00:00:00:01: an announcement is for "
                                     "everyone, so it goes to ff:ff:ff:ff:ff:ff"),
    (announcement(op=2), None, "as a reply (op 2), Linux takes it as gratuitous only if hwdst equals hwsrc; "
                               "the usual form is a request, op 1"),
    (announcement(src="00:00:00:00:00:00"), None, NO_SOURCE),
    (announcement(hwsrc=H2[1]), H2[1], "hwsrc is 02:00:00:00:00:02: the announcement must carry h3's own MAC "
                                       "02:00:00:00:00:03; " + ARGUMENT.format("my_mac")),
    (announcement(op=7), None, "op is 7: use 1 (request), the usual form of an announcement"),
])
def test_gratuitous_mistakes_get_their_hint(frame, learned, words):
    verdict = gratuitous_verdict(frame, learned)
    assert verdict.status == FAIL and verdict.hint == words
    packet = Ether(frame)
    assert verdict.detail == f"sent: {packet[ARP].summary()} to {packet.dst}"


def test_gratuitous_that_is_no_frame_is_reported():
    evidence = arp_basic.Evidence(speaker=H3, gratuitous=Sent("returned str, not a scapy packet"))
    verdict = arp_basic.grade_gratuitous(evidence, Wire([]))
    assert (verdict.status, verdict.detail, verdict.hint) == \
        (FAIL, "returned str, not a scapy packet", "return a whole packet: Ether(...) / ARP(...)")


def test_wire_keeps_a_broadcast_once_with_its_ports():
    sent = request()
    wire = Wire([Frame(1.0, "s1-eth1", sent), Frame(1.00002, "s1-eth2", sent), Frame(1.00003, "s1-eth3", sent)])
    assert len(wire.frames) == 1
    assert wire.frames[0].interfaces == ("s1-eth1", "s1-eth2", "s1-eth3")


def test_a_live_call_that_failed_leaves_the_hint_to_the_engine():
    """The engine shows the error and its own hint; the lab adds none of its own."""
    parsed = parse_verdict("line 3 in parse_is_at: FileNotFoundError", status=RAISED)
    assert parsed.hint == "" and parsed.detail == "line 3 in parse_is_at: FileNotFoundError"
    found = arp_basic.grade_lookups(lookups(h1_h2=(RAISED, "line 2 in find_entry: KeyError")), Wire([]))
    assert found.hint == "" and found.detail == "line 2 in find_entry: KeyError"


def test_only_h2s_answer_to_h1_is_awaited():
    reply = Ether(answer())
    assert arp_basic.is_at(reply, H2[0], H1[0])
    assert not arp_basic.is_at(reply, H3[0], H1[0]) and not arp_basic.is_at(reply, H2[0], H3[0])
    assert not arp_basic.is_at(Ether(request(src=H2[1], hwsrc=H2[1], psrc=H2[0], pdst=H1[0])), H2[0], H1[0])
    assert not arp_basic.is_at(Ether(dst=H1[1]) / b"not ARP", H2[0], H1[0])


def test_the_live_answer_is_the_students_value_or_the_engines_words():
    done = Outcome("parse_is_at", H2, DONE, cases=((DONE, H3),))
    assert arp_basic.answers(done) == [(DONE, H2), (DONE, H3)]
    raised = Outcome("parse_is_at", H2, RAISED, "line 3: KeyError", cases=((RAISED, "line 3: KeyError"),))
    assert arp_basic.answers(raised) == [(RAISED, "line 3: KeyError"), (RAISED, "line 3: KeyError")]


# --- the made-up cases, over many seeds ---

MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def host_octets(ip: str) -> list[int]:
    return [int(part) for part in ip.split(".")[1:]]


def unicast_local(mac: str) -> bool:
    """A well-formed MAC like the hosts': unicast, locally administered."""
    return bool(MAC.match(mac)) and int(mac[:2], 16) & 3 == 2


def test_made_up_replies_over_many_seeds():
    octets, changed, private, first_bytes, same_top, positions = [], [], [], set(), 0, set()
    for seed in range(400):
        plain, (twin, twin_target), (outside, outside_target) = _arp_cases.made_up_replies(random.Random(seed))
        for ip, mac in (*plain, twin, twin_target, outside, outside_target):
            assert unicast_local(mac), mac
            first_bytes.add(mac[:2])
            same_top += int(mac[:2], 16) & 0xFC == int(mac[3:5], 16) & 0xFC
        assert all(ip.startswith("10.") for ip, _ in (*plain, twin, twin_target))
        octets += host_octets(plain[0][0]) + host_octets(plain[1][0]) + host_octets(twin[0])
        # the twin target: one octet and one byte changed, never the first
        ip_parts = [(i, b) for i, (a, b) in enumerate(zip(twin[0].split("."), twin_target[0].split("."))) if a != b]
        mac_parts = [(i, b) for i, (a, b) in enumerate(zip(twin[1].split(":"), twin_target[1].split(":"))) if a != b]
        assert len(ip_parts) == 1 and len(mac_parts) == 1 and mac_parts[0][0] > 0
        changed += [int(ip_parts[0][1]), int(mac_parts[0][1], 16)]
        positions |= {("ip", ip_parts[0][0]), ("mac", mac_parts[0][0])}
        assert outside[0].startswith("192.168.") and outside_target[0].startswith("172.")
        octets += host_octets(outside[0])[1:] + host_octets(outside_target[0])[1:]
        private.append(int(outside_target[0].split(".")[1]))
    # every host octet from 1 to 254 (no network .0, no broadcast .255), and 172.16/12
    assert min(octets) == min(changed) == 1 and max(octets) == max(changed) == 254
    assert min(private) == 16 and max(private) == 31
    assert len(first_bytes) > 16  # random in every byte but the unicast and local bits
    assert same_top < 400 * 6 / 8  # each byte drawn on its own
    assert positions == {("ip", 1), ("ip", 2), ("ip", 3), *(("mac", n) for n in range(1, 6))}


def test_a_made_up_reply_is_an_is_at_from_sender_to_target():
    sender, target = ("10.9.8.7", "02:aa:bb:cc:dd:ee"), ("10.9.8.70", "02:aa:bb:cc:dd:e0")
    packet = _arp_cases.is_at_frame(sender, target)
    assert (packet.src, packet.dst) == (sender[1], target[1])
    arp = packet[ARP]
    assert (arp.op, arp.psrc, arp.hwsrc, arp.pdst, arp.hwdst) == (2, *sender, *target)


def test_made_up_tables_over_many_seeds():
    nears, others = set(), []
    for seed in range(200):
        cases = _arp_cases.made_up_lookups(random.Random(seed), "10.1.2", 5)
        assert [case.where for case in cases] == ["a made-up table of 7 entries"] * 3
        entries = [(e.get_attr("NDA_DST"), e.get_attr("NDA_LLADDR"), e) for e in cases[0].table]
        ips = [ip for ip, _, _ in entries]
        last = [int(ip.rsplit(".", 1)[1]) for ip in ips]
        assert len(set(ips)) == 7 and all(ip.startswith("10.1.2.") for ip in ips)
        assert min(last) >= 4 and max(last) <= 254  # host addresses, never the broadcast .255
        for ip, mac, entry in entries:
            assert entry["ifindex"] == 5 and entry["family"] == socket.AF_INET
            incomplete = entry["state"] == _arp_cases.NUD["INCOMPLETE"]
            assert (mac is None) == incomplete and (incomplete or unicast_local(mac))
            assert ("NDA_LLADDR" in [name for name, _ in entry["attrs"]]) != incomplete
        assert sum(mac is None for _, mac, _ in entries) == 1
        middle, unknown, near = cases
        assert middle.truth is not None and middle.hint == "" and 0 < ips.index(middle.ip) < 6
        assert unknown.truth is None and dict((ip, mac) for ip, mac, _ in entries)[unknown.ip] is None
        far = [ip for ip in ips if ip != near.ip and ip.startswith(near.ip)]
        assert len(far) == 1 and len(far[0]) == len(near.ip) + 1 and ips.index(far[0]) < ips.index(near.ip)
        assert [(a, b) for a in ips for b in ips if a != b and b.startswith(a)] == [(near.ip, far[0])]
        nears.add(int(near.ip.rsplit(".", 1)[1]))
        others += [n for ip, n in zip(ips, last) if ip not in (near.ip, far[0])]
    assert nears == set(range(4, 25))  # every n whose n0 to n9 are addresses too
    assert min(others) == 4 and max(others) == 254  # any free address


def plain(value):
    """A message's field as plain data: its attributes' values as dicts, not nla objects."""
    if isinstance(value, list):
        return [(name, dict(item) if isinstance(item, dict) else item) for name, item in value]
    return value


def test_a_made_up_entry_is_what_pyroute2_reads_from_the_kernels_bytes():
    """Encoded as the kernel would send it and parsed back by pyroute2, a made-up entry is
    unchanged: a find_entry that works on the live tables works on it (only the socket's
    name for its peer, header['target'], is added by a socket)."""
    for mac, state in (("02:00:00:00:00:05", "STALE"), (None, "INCOMPLETE")):
        made_up = _arp_cases.neighbour("10.0.0.5", mac, state, 3)
        sent = _arp_cases.neighbour("10.0.0.5", mac, state, 3)
        sent.encode()
        parsed, = MarshalRtnl().parse(sent.data)
        header = {key: value for key, value in made_up["header"].items() if key != "target"}
        assert header == parsed["header"] and made_up["header"]["target"] == "localhost"
        assert {key: plain(made_up[key]) for key in parsed if key != "header"} == \
            {key: plain(parsed[key]) for key in parsed if key != "header"}
        assert set(made_up) - {"value"} == set(parsed)
        assert parsed["state"] == _arp_cases.NUD[state] and parsed.get_attr("NDA_LLADDR") == mac
