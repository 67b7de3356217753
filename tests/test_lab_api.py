"""The API a lab is written against, without a network: what a Lab declaration refuses
when it is loaded, how the engine turns graders and outcomes into verdicts, the
exchange layer (frame shaping, polling, sending over fake ports and falling back to the
reference, with what the report says), and the helpers every grader builds on."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether

from lab.capture import Frame
from lab.definition import FAIL, NOT_DONE, PASS, CheckSpec, Lab, blocked, failed, passed
from lab.errors import LabDefinitionError, ScenarioError
from lab.exchange import Refusal, Sent, arrival, exchange, poll, to_frame, transmit
from lab.exercise import DONE, RAISED, TIMEOUT, TODO, WRONG, Outcome
from lab.grading import LAB_FAULT, before, first_mistake, sent_frame
from lab.runner import grade
from lab.wire import Wire


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


def test_to_frame_names_what_came_back_and_sends_frames_the_lab_can_trust_as_built():
    assert to_frame("ff:ff", H1, H2) == (None, "returned str, not a scapy packet")
    arp = Ether(src=H1.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=H2.ip)
    assert to_frame(arp, H1, H2) == (bytes(arp), "")  # no IP: the Ethernet header is the lesson
    foreign = Ether(src="02:00:00:00:00:09", dst="02:00:00:00:00:08") / IP(src=H1.ip, dst=H2.ip) / ICMP()
    assert to_frame(foreign, H1, None) == (bytes(foreign), "")  # no target: nothing to address it to


# --- sending one frame and waiting for its answer, with fake ports (no network) ---

class Port:
    """A host's port as transmit() and arrival() use it: frames waiting to be read, and
    the frames the network sends back, one after each frame sent."""

    def __init__(self, *waiting: bytes):
        self.waiting, self.sent, self.answers = list(waiting), [], []

    def drain(self):
        self.waiting.clear()

    def send(self, frame: bytes) -> float:
        self.sent.append(frame)
        if self.answers:
            self.waiting.append(self.answers.pop(0))
        return time.time()

    def expect(self, wanted, timeout):
        for data in self.waiting:
            if wanted(data):
                self.waiting.remove(data)
                return data
        time.sleep(timeout)  # as a real port waits for a frame that does not come
        return None


def host(name: str, ip: str, mac: str, *waiting: bytes) -> SimpleNamespace:
    return SimpleNamespace(name=name, ip=ip, mac=mac, port=Port(*waiting))


def is_at(psrc: str) -> bytes:
    return bytes(Ether(src=H2.mac, dst=H1.mac) / ARP(op=2, psrc=psrc, pdst=H1.ip))


def test_arrival_is_the_next_wanted_frame_dissected():
    h1 = host("h1", H1.ip, H1.mac, is_at("10.0.0.9"), is_at(H2.ip))
    came = arrival(h1, lambda packet: packet[ARP].psrc == H2.ip)
    assert came()[ARP].psrc == H2.ip and came() is None  # taken once
    assert h1.port.waiting == [is_at("10.0.0.9")]


def test_an_answer_that_never_comes_costs_the_wait_and_no_more():
    h1 = host("h1", H1.ip, H1.mac)
    started = time.monotonic()
    assert transmit(h1, b"frame", arrival(h1, lambda packet: True), 0.05)[1:] == (None, None)
    assert 0.05 <= time.monotonic() - started < 0.5


def test_transmit_forgets_what_came_before_and_times_the_answer():
    h1 = host("h1", H1.ip, H1.mac, is_at(H2.ip))  # an answer to an earlier question
    started = time.time()
    sent_at, got, took = transmit(h1, b"frame", arrival(h1, lambda packet: ARP in packet), 0.02)
    assert h1.port.sent == [b"frame"] and started <= sent_at <= time.time()
    assert (got, took) == (None, None)
    h1.port.answers.append(is_at(H2.ip))
    sent_at, got, took = transmit(h1, b"again", arrival(h1, lambda packet: ARP in packet), 0.02)
    assert got[ARP].psrc == H2.ip and 0 <= took < 0.5
    refusal = Refusal("an ICMP error")
    assert transmit(h1, b"x", lambda: refusal, 1.0)[1:] == (refusal, None)


class Run:
    """What exchange() uses of a run: the student's call, the report's notes and events,
    and the reference's builder."""

    def __init__(self, value, status=DONE, reference=None):
        self.value, self.status, self.notes, self.events, self.calls = value, status, [], [], []
        self.exercise = SimpleNamespace(reference=SimpleNamespace(build=reference or self.reference))

    def student(self, todo, source, *args, extra=()):
        self.calls.append((todo, source.name, args, extra))
        return Outcome(todo, self.value, self.status, "" if self.status == DONE else "line 1: KeyError")

    @staticmethod
    def reference(target_ip):
        return Ether(src=H1.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=H1.ip, pdst=target_ip)

    def note(self, text):
        self.notes.append(text)

    def event(self, text):
        self.events.append(text)


def answered_by(source, *answers):
    """An answer condition giving, after the nth frame source sent, the nth answer (None:
    none came)."""
    return lambda: answers[len(source.port.sent) - 1] if len(source.port.sent) <= len(answers) else None


def wrong_question(target_ip):
    return Ether(src=H1.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=2, psrc=H1.ip, pdst=target_ip)


def test_an_answered_frame_is_the_students_alone():
    run, h1 = Run(wrong_question(H2.ip)), host("h1", H1.ip, H1.mac)
    done = exchange(run, "build", h1, None, (H2.ip,), answered_by(h1, "the answer"), 0.02, [("10.0.0.7",)], True)
    assert run.calls == [("build", "h1", (H2.ip,), [("10.0.0.7",)])]
    assert done.sent == Sent("", bytes(wrong_question(H2.ip)), done.sent.sent_at, None)
    assert done.frame == bytes(wrong_question(H2.ip)) == h1.port.sent[0] and len(h1.port.sent) == 1
    assert done.answer == "the answer" and 0 <= done.took < 0.5 and done.outcome.value == run.value
    assert done.packet[ARP].op == 2 and run.notes == run.events == []


def test_an_unanswered_frame_is_replaced_by_the_references_and_the_report_says_so():
    run, h1 = Run(wrong_question(H2.ip)), host("h1", H1.ip, H1.mac)
    done = exchange(run, "build", h1, None, (H2.ip,), answered_by(h1, None, "the answer"), 0.02, [], True)
    assert h1.port.sent == [bytes(wrong_question(H2.ip)), bytes(Run.reference(H2.ip))]
    assert done.frame == bytes(Run.reference(H2.ip)) and done.answer == "the answer"
    assert done.sent.data == bytes(wrong_question(H2.ip)) and done.sent.problem == ""
    assert done.sent.sent_at <= done.sent.fallback_at and done.took is not None
    assert run.notes == ["the answer awaited did not come within 0.02 s; the lab sends the reference's build() "
                         "instead, so the steps after this one still have something to work on"]
    assert run.events == ["the lab sends the reference's build() in place of yours"]


def test_a_refused_answer_or_a_value_that_is_no_frame_is_replaced_too():
    run, h1 = Run(wrong_question(H2.ip)), host("h1", H1.ip, H1.mac)
    done = exchange(run, "build", h1, None, (H2.ip,), answered_by(h1, Refusal("h2 sent an ICMP error"), "ok"),
                    0.02, [], True)
    assert run.notes[0].startswith("h2 sent an ICMP error; the lab sends the reference's build() instead")
    assert done.answer == "ok"
    run, h1 = Run(None), host("h1", H1.ip, H1.mac)
    done = exchange(run, "build", h1, None, (H2.ip,), answered_by(h1, "ok"), 0.02, [], True)
    assert h1.port.sent == [bytes(Run.reference(H2.ip))]  # nothing of the student's went out
    assert done.sent == Sent("returned NoneType, not a scapy packet", None, None, done.sent.fallback_at)
    assert done.sent.fallback_at is not None and done.answer == "ok"
    assert run.notes[0].startswith("returned NoneType, not a scapy packet; the lab sends the reference's")


def test_an_ip_packet_goes_out_under_the_hosts_macs_the_students_and_the_references():
    h1, h2 = host("h1", H1.ip, H1.mac), host("h2", H2.ip, H2.mac)
    segment = IP(src=H1.ip, dst=H2.ip) / TCP(dport=80, flags="S")
    run = Run(segment, reference=lambda ip: IP(src=H1.ip, dst=ip) / TCP(dport=81, flags="S"))
    done = exchange(run, "build", h1, h2, (H2.ip,), answered_by(h1, None, "SYN-ACK"), 0.02, [], True)
    assert [(Ether(f).src, Ether(f).dst, Ether(f)[TCP].dport) for f in h1.port.sent] == \
        [(H1.mac, H2.mac, 80), (H1.mac, H2.mac, 81)]
    assert done.sent.data == h1.port.sent[0] and done.frame == h1.port.sent[1]


def test_a_call_that_failed_sends_the_references_value_the_engine_put_in_its_place():
    run, h1 = Run(Run.reference(H2.ip), status=RAISED), host("h1", H1.ip, H1.mac)
    done = exchange(run, "build", h1, None, (H2.ip,), answered_by(h1, "ok"), 0.02, [], True)
    assert h1.port.sent == [bytes(Run.reference(H2.ip))] and done.answer == "ok"
    assert run.events == ["the reference's build() stands in for yours"] and run.notes == []


def test_without_fallback_the_students_frame_stands_unanswered():
    run, h1 = Run(wrong_question(H2.ip)), host("h1", H1.ip, H1.mac)
    done = exchange(run, "build", h1, None, (H2.ip,), answered_by(h1, None, "late"), 0.02, [], False)
    assert len(h1.port.sent) == 1 and run.notes == run.events == []
    assert (done.answer, done.took, done.sent.fallback_at) == (None, None, None)
    assert done.frame == bytes(wrong_question(H2.ip))
    h1 = host("h1", H1.ip, H1.mac)
    refused = exchange(Run(wrong_question(H2.ip)), "build", h1, None, (H2.ip,),
                       answered_by(h1, Refusal("no")), 0.02, [], False)
    assert refused.answer is None and refused.took is None
    nothing = exchange(Run("oops"), "build", h1, None, (H2.ip,), answered_by(h1), 0.02, [], False)
    assert nothing.frame == b"" and nothing.sent.problem == "returned str, not a scapy packet"


def test_a_reference_that_cannot_go_or_goes_unanswered_is_the_labs_fault():
    h1, h2 = host("h1", H1.ip, H1.mac), host("h2", H2.ip, H2.mac)
    with pytest.raises(ScenarioError, match=r"the reference's build\(\) cannot be sent: returned str, not a "):
        exchange(Run("oops", reference=lambda ip: "oops"), "build", h1, h2, (H2.ip,), answered_by(h1), 0.02, [],
                 True)
    with pytest.raises(ScenarioError, match=r"^h2 did not answer even the reference's build\(\) \(a step"):
        exchange(Run(None), "build", h1, h2, (H2.ip,), answered_by(h1), 0.02, [], True)
    with pytest.raises(ScenarioError, match=r"^the network did not answer even the reference's build\(\)"):
        exchange(Run(None), "build", h1, None, (H2.ip,), answered_by(h1, None, Refusal("no")), 0.02, [], True)


# --- what every grader builds on ---

def test_sent_frame_finds_the_students_frame_or_says_why_not():
    frame = bytes(Run.reference(H2.ip))
    wire = Wire([Frame(10.0, "s1-eth1", frame)])
    seen, verdict = sent_frame(Sent("", frame, 10.0), wire, "Ether(...) / ARP(...)")
    assert seen.time == 10.0 and verdict is None
    seen, verdict = sent_frame(Sent("returned str, not a scapy packet"), wire, "Ether(...) / ARP(...)")
    assert seen is None and (verdict.status, verdict.detail, verdict.hint) == \
        (FAIL, "returned str, not a scapy packet", "return a whole packet: Ether(...) / ARP(...)")
    seen, verdict = sent_frame(Sent("", frame, 11.0), wire, "Ether(...) / ARP(...)")
    assert seen is None and (verdict.status, verdict.detail, verdict.hint) == \
        (FAIL, "the frame never appeared in the capture", LAB_FAULT)


def test_first_mistake_gives_the_first_hint_that_applies():
    verdict = first_mistake("sent: x", [(False, "not this"), (True, "this one"), (True, "not this either")])
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, "sent: x", "this one")
    assert first_mistake("sent: x", [(False, "no"), (False, "no")]) is None


def test_before_keeps_what_came_before_the_fallback():
    frames = [SimpleNamespace(time=t) for t in (1.0, 2.0, 3.0)]
    assert [f.time for f in before(frames, 2.5)] == [1.0, 2.0]
    assert before(frames, None) == frames


def test_a_check_blocked_by_another_todo_names_it_even_when_its_own_call_hung():
    """A server whose client never came waits in accept() until its time is up: its check
    names the client, not a loop in the server."""
    lab = declare(todos=("serve", "call"), returns={"serve": bytes, "call": bytes}, checks=(
        CheckSpec("served", "serve", "t", always(blocked("the client never connected", "fix call() first", "call"))),
        CheckSpec("called", "call", "t", always(passed("fine")))))
    outcomes = {"serve": Outcome("serve", b"", TIMEOUT, "serve() did not return within 3 s"),
                "call": outcome(DONE)}
    served, called = grade(lab, Evidence(), [], outcomes, "x.py")
    assert (served.status, served.detail, served.hint, served.blocked_by) == \
        (FAIL, "the client never connected (serve() did not return within 3 s)", "fix call() first", "call")
    assert called.status == PASS
