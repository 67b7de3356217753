"""client-server's grading, check by check, on conversations made up frame by frame:
the right one passes, and each typical mistake fails with its own hint. No root."""
from __future__ import annotations

import random
import re

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.grading import CONSTANT_HINT
from lab.labs import client_server as cs
from lab.labs._client_server_draw import BYE, ERROR, MALFORMED_KINDS, QUIT, UNKNOWN, Script, draw, script
from lab.labs._client_server_grading import CRASH, NEWLINE_DOWN, ONE_REPLY, STOPPED
from lab.sandbox import DONE
from lab.wire import Wire

SERVER, PORT, CROWD_PORT = "10.9.0.2", 30000, 30500
H1, H3, H4 = "10.9.0.1", "10.9.0.3", "10.9.0.4"
SOLO = Script(("ADD 3 4", "MUL 2 3", "UPPER abc"), ("OK 7", ERROR, "OK ABC"), 1, "unknown command")
CROWD = (Script(("LEN ab", "ADD 1"), ("OK 2", ERROR), 1, "missing argument"),
         Script(("UPPER x y", "LEN abc"), (ERROR, "OK 3"), 0, "extra argument"),
         Script(("ADD 1 2", "ADD 2 z"), ("OK 3", ERROR), 1, "word for a number"))


class Talk:
    """One made-up connection, frame by frame, with sequence numbers kept right."""

    def __init__(self, client: str, port: int, cport: int = 40000):
        self.client, self.port, self.cport, self.frames, self.seq = client, port, cport, [], {True: 100, False: 900}

    def send(self, up: bool, flags: str, data: bytes = b"") -> "Talk":
        src, dst = (self.client, SERVER) if up else (SERVER, self.client)
        sport, dport = (self.cport, self.port) if up else (self.port, self.cport)
        packet = Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=self.seq[up]) / data
        self.frames.append(bytes(packet))
        self.seq[up] += len(data) + ("S" in flags) + ("F" in flags)
        return self

    def open(self) -> "Talk":
        return self.send(True, "S").send(False, "SA").send(True, "A")

    def lines(self, requests, replies) -> "Talk":
        for request, reply in zip(requests, replies):
            self.send(True, "PA", request.encode() + b"\n")
            if reply is not None:
                self.send(False, "PA", reply.encode() + b"\n")
        return self

    def close(self) -> "Talk":
        return self.send(False, "FA").send(True, "FA").send(False, "A")


def good_talk(client=H1, port=PORT, script_=SOLO, cport=40000) -> Talk:
    return Talk(client, port, cport).open().lines([*script_.requests, QUIT], [*script_.truths, BYE]).close()


def wire_of(*talks: Talk) -> Wire:
    frames, now = [], 1000.0
    for talk in talks:
        for data in talk.frames:
            now += 0.001
            frames.append(Frame(now, "s1-eth1", data))
    return Wire(frames)


def evidence(**changes) -> cs.Evidence:
    fields = dict(server_ip=SERVER, client_ip=H1, solo_port=PORT, crowd_port=CROWD_PORT, solo=SOLO, crowd=CROWD,
                  crowd_names=("h1", "h3", "h4"), crowd_ips=(H1, H3, H4), solo_reply=list(SOLO.truths), served=1,
                  crowd_served=3)
    fields.update(changes)
    return cs.Evidence(**fields)


def crowd_talks(**per_host) -> list[Talk]:
    talks = []
    for index, (ip, script_) in enumerate(zip((H1, H3, H4), CROWD)):
        talks.append(per_host.get(ip) or good_talk(ip, CROWD_PORT, script_, 41000 + index))
    return talks


def everything(solo: Talk | None = None, **per_host) -> Wire:
    return wire_of(solo or good_talk(), *crowd_talks(**per_host))


def expect(verdict, status: str, hint: str = "", by: str = "") -> None:
    assert verdict.status == status, verdict
    if hint:
        assert verdict.hint == hint, verdict
    assert verdict.blocked_by == by, verdict


# --- the drawn requests ---

@pytest.mark.parametrize("seed", range(200))
def test_each_drawn_script_has_one_malformed_request_never_first_with_its_truth(seed):
    drawn = draw(random.Random(seed))
    for s in (drawn.solo, *drawn.crowd):
        assert [t == ERROR for t in s.truths].count(True) == 1 and s.truths[s.bad] == ERROR and s.bad > 0
        assert s.kind in MALFORMED_KINDS
        for request, truth in zip(s.requests, s.truths):
            words = request.split(" ")
            if truth == ERROR:
                continue
            if words[0] == "ADD":
                assert truth == f"OK {int(words[1]) + int(words[2])}"
            else:
                assert truth == ("OK " + (words[1].upper() if words[0] == "UPPER" else str(len(words[1]))))
    assert drawn.solo_port != drawn.crowd_port


def test_malformed_requests_are_malformed_by_their_kind():
    rng = random.Random(1)
    kinds = {}
    for _ in range(300):
        s = script(rng)
        kinds.setdefault(s.kind, set()).add(s.requests[s.bad])
    assert set(kinds) == set(MALFORMED_KINDS)
    assert all(r.split(" ")[0] in UNKNOWN for r in kinds["unknown command"])
    assert all(len(r.split(" ")) == (2 if r.startswith("ADD") else 1) for r in kinds["missing argument"])
    assert all(not r.split(" ")[2].isdigit() for r in kinds["word for a number"])
    assert all(len(r.split(" ")) == 3 for r in kinds["extra argument"])


# --- answer(): the rule, on the live case and the hidden ones ---

RULE = (("MUL 2 3", ERROR, "unknown command"), ("ADD 1 2", "OK 3", "well formed"), (QUIT, BYE, "QUIT"),
        ("ADD 1", ERROR, "missing argument"))


def rule(given: list) -> cs.Evidence:
    return evidence(rule=RULE, rule_given=given[0], rule_cases=tuple((DONE, g) for g in given[1:]))


def test_the_rule_passes_when_every_case_is_right():
    expect(cs.grade_rule(rule([ERROR, "OK 3", BYE, ERROR]), None), PASS)


@pytest.mark.parametrize("given, hint", [
    ([ERROR, "OK 12", BYE, ERROR], "the protocol answers 'ADD 1 2' with 'OK 3': 'OK ' and the result"),
    ([ERROR, "OK 3", "OK", ERROR], "QUIT is answered BYE"),
    (["ERR unknown", "OK 3", BYE, ERROR], "the protocol's error reply is exactly 'ERR malformed'"),
    ([ERROR, "OK 3", BYE, "OK 1"], "'ADD 1' is malformed (missing argument): answer 'ERR malformed'"),
    ([ERROR] * 4, CONSTANT_HINT),
])
def test_each_wrong_rule_fails_with_its_hint(given, hint):
    expect(cs.grade_rule(rule(given), None), FAIL, hint)


# --- the server with one client ---

def test_the_right_server_passes_answers_and_malformed():
    expect(cs.grade_answers(evidence(), everything()), PASS)
    expect(cs.grade_malformed(evidence(), everything()), PASS)


def test_replies_in_one_segment_fail():
    talk = Talk(H1, PORT).open()
    for request in [*SOLO.requests, QUIT]:
        talk.send(True, "PA", request.encode() + b"\n")
    talk.send(False, "PA", "".join(t + "\n" for t in [*SOLO.truths, BYE]).encode()).close()
    expect(cs.grade_answers(evidence(), everything(talk)), FAIL, ONE_REPLY)


def test_replies_without_newline_fail():
    talk = Talk(H1, PORT).open().send(True, "PA", b"ADD 3 4\n").send(False, "PA", b"OK 7").close()
    expect(cs.grade_answers(evidence(), everything(talk)), FAIL, NEWLINE_DOWN)


def test_a_wrong_answer_names_the_right_one():
    talk = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], ["OK 34", ERROR, "OK ABC", BYE]).close()
    expect(cs.grade_answers(evidence(), everything(talk)), FAIL,
           "the protocol answers 'ADD 3 4' with 'OK 7' (see the table in the exercise)")


def crashed() -> Talk:
    """The server answered the first request, then died on the malformed one: its kernel closed."""
    return Talk(H1, PORT).open().lines(SOLO.requests[:2], ["OK 7", None]).send(False, "FA").send(True, "FA")


def test_a_server_crashing_on_the_malformed_request_fails_both_checks():
    expect(cs.grade_malformed(evidence(), everything(crashed())), FAIL, CRASH)
    expect(cs.grade_answers(evidence(), everything(crashed())), FAIL, CRASH)


@pytest.mark.parametrize("reply, hint", [
    ("ERR bad", "the protocol's error reply is exactly 'ERR malformed'"),
    ("OK 6", "'MUL 2 3' is malformed (unknown command): answer 'ERR malformed'"),
])
def test_a_wrong_error_reply_fails(reply, hint):
    talk = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], ["OK 7", reply, "OK ABC", BYE]).close()
    expect(cs.grade_malformed(evidence(), everything(talk)), FAIL, hint)


def test_closing_after_the_error_fails():
    talk = Talk(H1, PORT).open().lines(SOLO.requests[:2], ["OK 7", ERROR]).close()
    expect(cs.grade_malformed(evidence(), everything(talk)), FAIL,
           "keep the connection after an error reply: the client may send more requests")


def test_no_bye_no_fin_and_a_wrong_count_fail():
    talk = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], [*SOLO.truths, "OK"]).close()
    expect(cs.grade_answers(evidence(), everything(talk)), FAIL, "answer QUIT with BYE, then close the connection")
    talk = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], [*SOLO.truths, BYE]).send(False, "R")
    expect(cs.grade_answers(evidence(), everything(talk)), FAIL,
           "close() the connection after BYE (or leave its `with` block): that sends the FIN")
    expect(cs.grade_answers(evidence(served=0), everything()), FAIL, "return how many clients you served")


def test_a_refused_or_absent_client_is_judged_fairly():
    refused = Talk(H1, PORT).send(True, "S").send(False, "RA")
    expect(cs.grade_answers(evidence(), everything(refused)), FAIL,
           "nothing listened on the port: bind((my_ip, port)), then listen(), then accept()")
    verdict = cs.grade_answers(evidence(), wire_of(*crowd_talks()))
    expect(verdict, FAIL, by="talk")
    wrong_first = Talk(H1, PORT).open().lines(["hello"], [ERROR]).close()
    expect(cs.grade_malformed(evidence(), everything(wrong_first)), FAIL, by="talk")


# --- the server with three clients ---

def test_three_clients_served_pass():
    verdict = cs.grade_crowd(evidence(), everything())
    expect(verdict, PASS)
    assert re.search(r"first replies [\d.]+ ms apart", verdict.detail)


def test_a_server_that_stops_after_one_client_fails():
    refused = {ip: Talk(ip, CROWD_PORT, 41001 + i).send(True, "S").send(False, "RA") for i, ip in enumerate((H3, H4))}
    expect(cs.grade_crowd(evidence(), everything(**refused)), FAIL, STOPPED)
    queued = {H3: Talk(H3, CROWD_PORT, 41001).open().send(True, "PA", b"UPPER x y\n").send(False, "RA")}
    verdict = cs.grade_crowd(evidence(), everything(**queued))
    expect(verdict, FAIL, STOPPED)
    assert verdict.detail == "h3: it got no reply to 'UPPER x y', h2 reset the connection; 2 clients served in full"


def test_a_server_that_stops_after_one_client_fails_whichever_client_it_served():
    """Two SYNs a moment apart may be accepted in either order: the one client served
    need not be the first to connect."""
    refused = {ip: Talk(ip, CROWD_PORT, 41000 + i).send(True, "S").send(False, "RA")
               for i, ip in ((0, H1), (2, H4))}
    verdict = cs.grade_crowd(evidence(), everything(**refused))
    expect(verdict, FAIL, STOPPED)
    assert verdict.detail == "h1: its connection was refused (a reset); 1 client served in full"


def test_a_wrong_reply_or_count_in_the_crowd_fails():
    wrong = {H4: Talk(H4, CROWD_PORT, 41002).open().lines([*CROWD[2].requests, QUIT], ["OK 3", "OK 4", BYE]).close()}
    verdict = cs.grade_crowd(evidence(), everything(**wrong))
    expect(verdict, FAIL, "the protocol's answer is 'ERR malformed': see the first client's checks")
    assert verdict.detail == "h4 asked 'ADD 2 z'; h2 answered 'OK 4'"
    expect(cs.grade_crowd(evidence(crowd_served=1), everything()), FAIL, "return how many clients you served")


# --- the client ---

def test_the_right_client_passes():
    expect(cs.grade_client(evidence(), everything()), PASS)


def test_requests_all_at_once_fail():
    talk = Talk(H1, PORT).open().send(True, "PA", "".join(r + "\n" for r in [*SOLO.requests, QUIT]).encode())
    for reply in [*SOLO.truths, BYE]:
        talk.send(False, "PA", reply.encode() + b"\n")
    expect(cs.grade_client(evidence(), everything(talk.close())), FAIL,
           "send one request, read its reply up to the newline, and only then send the next")


def test_requests_before_their_replies_fail():
    talk = Talk(H1, PORT).open()
    for request in [*SOLO.requests, QUIT]:
        talk.send(True, "PA", request.encode() + b"\n")
    for reply in [*SOLO.truths, BYE]:
        talk.send(False, "PA", reply.encode() + b"\n")
    expect(cs.grade_client(evidence(), everything(talk.close())), FAIL,
           "send one request, read its reply up to the newline, and only then send the next")


def test_client_mistakes_fail_with_their_hints():
    no_newline = Talk(H1, PORT).open().send(True, "PA", b"ADD 3 4").send(True, "FA")
    expect(cs.grade_client(evidence(), everything(no_newline)), FAIL,
           "end each request with a newline (\\n): the server answers a line once it is whole")
    changed = Talk(H1, PORT).open().lines(["ADD 3  4"], [ERROR]).close()
    expect(cs.grade_client(evidence(), everything(changed)), FAIL,
           "send the requests exactly as given, in their order, one line each: 'ADD 3 4\\n'")
    no_quit = Talk(H1, PORT).open().lines(SOLO.requests, SOLO.truths).send(True, "FA").send(False, "FA")
    expect(cs.grade_client(evidence(), everything(no_quit)), FAIL, "send QUIT last, read the BYE, then close()")
    reset = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], [*SOLO.truths, BYE]).send(False, "FA") \
        .send(True, "R")
    expect(cs.grade_client(evidence(), everything(reset)), FAIL,
           "read the BYE before close(): closing with a reply still unread makes the kernel send a reset, not a FIN")
    no_fin = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], [*SOLO.truths, BYE]).send(False, "FA")
    expect(cs.grade_client(evidence(), everything(no_fin)), FAIL, "close() the socket (or use a `with` block)")
    expect(cs.grade_client(evidence(solo_reply=[*SOLO.truths, BYE]), everything()), FAIL,
           "return the reply lines without their newline, one per request, in order (not the BYE)")
    expect(cs.grade_client(evidence(), wire_of(*crowd_talks())), FAIL,
           "connect((server_ip, port)) with the address and port your function was given")


def test_a_client_is_not_blamed_for_the_server():
    refused = Talk(H1, PORT).send(True, "S").send(False, "RA")
    expect(cs.grade_client(evidence(), everything(refused)), FAIL, by="serve")
    wrong = Talk(H1, PORT).open().lines([*SOLO.requests, QUIT], ["OK 8", ERROR, "OK ABC", BYE]).close()
    expect(cs.grade_client(evidence(), everything(wrong)), FAIL, by="serve")
    stopped = {H3: Talk(H3, CROWD_PORT, 41001).send(True, "S").send(False, "RA")}
    expect(cs.grade_client(evidence(), everything(**stopped)), FAIL, by="serve")


def test_a_crowd_server_crashing_or_never_listening_says_so():
    crash = {H1: Talk(H1, CROWD_PORT, 41000).open().lines(CROWD[0].requests, ["OK 2", None]).send(False, "FA")}
    verdict = cs.grade_crowd(evidence(), everything(**crash))
    expect(verdict, FAIL, CRASH)
    assert verdict.detail == "h1: it got no reply to 'ADD 1', h2 closed it (FIN); 2 clients served in full"
    refused = {ip: Talk(ip, CROWD_PORT, 41000 + i).send(True, "S").send(False, "RA")
               for i, ip in enumerate((H1, H3, H4))}
    expect(cs.grade_crowd(evidence(), everything(**refused)), FAIL,
           "nothing listened on the port: bind((my_ip, port)), then listen(), then accept()")
    expect(cs.grade_crowd(evidence(), wire_of(good_talk())), FAIL, by="talk")


def test_a_connection_per_request_fails():
    first = Talk(H1, PORT, 40000).open().lines(SOLO.requests[:1], SOLO.truths[:1]).send(True, "FA").send(False, "FA")
    second = Talk(H1, PORT, 40001).send(True, "S").send(False, "RA")
    expect(cs.grade_client(evidence(), wire_of(first, second, *crowd_talks())), FAIL,
           "one connection carries the whole conversation: connect once, send every request on it, then QUIT and "
           "close()")
    expect(cs.grade_answers(evidence(), wire_of(first, second, *crowd_talks())), FAIL, by="talk")
