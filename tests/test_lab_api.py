"""The API a lab is written against, without a network: what a Lab declaration refuses
when it is loaded, how the engine turns graders and outcomes into verdicts, and the
exchange layer's frame shaping and polling."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether

from lab.definition import FAIL, NOT_DONE, PASS, CheckSpec, Lab, failed, passed
from lab.errors import LabDefinitionError
from lab.exchange import Refusal, poll, to_frame
from lab.exercise import DONE, RAISED, TIMEOUT, TODO, WRONG, Outcome
from lab.runner import grade


@dataclass
class Evidence:
    seen: list = field(default_factory=list)


def always(verdict):
    return lambda ev, wire: verdict


def declare(**change) -> Lab:
    """A small lab, valid unless change says otherwise."""
    fields = dict(name="tiny-lab", title="t", topology="star", exercise="tiny", todos=("build",),
                  returns={"build": int}, checks=(CheckSpec("built", "build", "it builds", always(passed("ok"))),),
                  intro="", scenario=lambda run: None, evidence=Evidence)
    return Lab(**{**fields, **change})


@pytest.mark.parametrize("change, words", [
    ({"name": "Tiny_Lab"}, "kebab-case"),
    ({"returns": {}}, "no kind for TODO build"),
    ({"checks": (CheckSpec("built", "other", "t", always(passed(""))),)}, "unknown TODO other"),
    ({"checks": (CheckSpec("built", "build", "t", None),)}, "no grade function"),
    ({"checks": (CheckSpec("a", "build", "t", always(passed(""))),) * 2}, "two checks are named a"),
    ({"checks": ()}, "no check grades TODO build"),
    ({"evidence": dict}, "must be a dataclass"),
    ({"evidence": Evidence()}, "must be a dataclass"),
    ({"evidence": dataclass(type("Bare", (), {"__annotations__": {"x": int}}))}, "give every field"),
])
def test_a_lab_declaration_is_refused_when_loaded(change, words):
    with pytest.raises(LabDefinitionError, match=words):
        declare(**change)


def outcome(status: str, detail: str = "", hint: str = "") -> Outcome:
    return Outcome("build", 1, status, detail, hint=hint)


def test_the_engine_stamps_each_verdict_with_its_checks_id():
    lab = declare(checks=(CheckSpec("built", "build", "t", always(passed("fine"))),
                          CheckSpec("again", "build", "t", always(failed("bad", "do this")))))
    verdicts = grade(lab, Evidence(), [], {"build": outcome(DONE)}, "exercises/tiny.py")
    assert [(v.id, v.status, v.detail, v.hint) for v in verdicts] == \
        [("built", PASS, "fine", ""), ("again", FAIL, "bad", "do this")]


@pytest.mark.parametrize("status", [RAISED, TIMEOUT, WRONG])
def test_a_call_that_gave_no_answer_fails_whatever_the_grader_says(status):
    lab = declare(checks=(CheckSpec("built", "build", "t", always(passed("looks right"))),))
    verdict, = grade(lab, Evidence(), [], {"build": outcome(status, "build() did not return")}, "x.py")
    assert verdict.status == FAIL and verdict.detail == "build() did not return"
    assert verdict.hint == "fix the error above and run again"


def test_a_failed_call_borrows_the_labs_hint_unless_the_engine_has_one():
    lab = declare(checks=(CheckSpec("built", "build", "t", always(failed("", "call listen() first"))),))
    raised, = grade(lab, Evidence(), [], {"build": outcome(RAISED, "line 3")}, "x.py")
    wrong, = grade(lab, Evidence(), [], {"build": outcome(WRONG, "returned str", "return an int")}, "x.py")
    assert raised.hint == "call listen() first" and wrong.hint == "return an int"


def test_not_done_and_never_reached():
    lab = declare()
    todo, = grade(lab, Evidence(), [], {"build": outcome(TODO, "TODO build() not done yet")}, "exercises/tiny.py")
    assert todo.status == NOT_DONE and "write build() in exercises/tiny.py" in todo.hint
    never, = grade(lab, Evidence(), [], {}, "exercises/tiny.py")
    assert never.status == FAIL and "never reached" in never.detail


H1 = SimpleNamespace(mac="02:00:00:00:00:01", ip="10.0.0.1")
H2 = SimpleNamespace(mac="02:00:00:00:00:02", ip="10.0.0.2")


def test_to_frame_puts_an_ip_packet_under_the_hosts_real_macs():
    segment = IP(src=H1.ip, dst=H2.ip) / TCP(dport=80)
    data, problem = to_frame(segment, H1, H2)
    assert problem == "" and Ether(data).src == H1.mac and Ether(data).dst == H2.mac
    assert Ether(data)[TCP].dport == 80
    guessed = Ether(src="00:00:00:00:00:00", dst="ff:ff:ff:ff:ff:ff") / segment
    assert Ether(to_frame(guessed, H1, H2)[0]).src == H1.mac  # scapy's guess is replaced
    addressed = Ether(src=H1.mac, dst=H2.mac, type=0x0800) / segment
    assert to_frame(addressed, H1, H2)[0] == bytes(addressed)


def test_to_frame_sends_an_arp_frame_as_built_and_names_what_cannot_go():
    arp = Ether(src="02:00:00:00:00:09", dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=H2.ip)
    assert to_frame(arp, H1, None) == (bytes(arp), "")
    assert to_frame(None, H1, H2) == (None, "returned NoneType, not a scapy packet")
    assert "cannot go on an Ethernet wire" in to_frame(ICMP(), H1, H2)[1]
    assert "cannot go on an Ethernet wire" in to_frame(IP() / ICMP(), H1, None)[1]


def test_poll_returns_the_first_true_value_or_none_in_time():
    values = iter([0, None, "", "yes", "later"])
    assert poll(lambda: next(values), 1.0) == "yes"
    started = time.monotonic()
    assert poll(lambda: 0, 0.05) is None
    assert 0.05 <= time.monotonic() - started < 0.5
    refusal = Refusal("h2 answered with an ICMP error")
    assert poll(lambda: refusal, 1.0) is refusal  # a refusal ends the wait at once
