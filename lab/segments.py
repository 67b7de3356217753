"""A student's TCP segment, from the function that builds it to the wire and back.

The student returns IP()/TCP() (or a whole Ether frame); the engine adds the Ethernet
header from the hosts' real MACs, sends it from the host's interface, and waits until
the peer's kernel shows it took the segment. If it does not, the reference's segment
is sent instead, labelled, so the rest of the lab still has a connection to work on.

Also here: the values a TCP lab draws for a run (ports, a message), and the hidden
cases of an ACK-number prediction, with the ACK each deserves by construction and the
hint for a wrong answer.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from .definition import FAIL, PASS, Verdict
from .errors import ScenarioError
from .exercise import Outcome
from .grading import CONSTANT_HINT, LAB_FAULT, score
from .wire import flag_names, payload

SHAPE = "IP(src=..., dst=...) / TCP(sport=..., dport=..., flags=..., seq=..., ack=...)"


@dataclass
class Delivery:
    outcome: Outcome
    problem: str               # why the returned value could not be sent, if it could not
    data: bytes | None         # the frame sent for the student's value
    sent_at: float | None
    fallback_at: float | None  # when the reference's segment went out instead, if it did
    segment: Packet            # the IP/TCP segment finally taken (student's or reference's)
    answer: Any                # what showed the peer took it (its reply, or True)

    def evidence(self) -> dict:
        return {"problem": self.problem, "data": self.data, "sent_at": self.sent_at,
                "fallback_at": self.fallback_at}


def describe(segment) -> str:
    """'sent FIN,ACK seq=... ack=... len=0', for a verdict's detail."""
    tcp = segment[TCP]
    return f"sent {flag_names(segment)} seq={tcp.seq} ack={tcp.ack} len={len(payload(segment))}"


def as_frame(value, source, target) -> tuple[bytes | None, str]:
    """The frame to send for a returned IP()/TCP() or IP()/UDP() packet, or None and
    what is wrong with it.

    A whole frame is sent as it is if it is addressed from source to target; else its
    IP packet goes out under the hosts' real MACs, as for a bare IP packet: an Ether()
    left to scapy's defaults inside the sandbox cannot know them, and the Ethernet
    header is not what a TCP or UDP lab grades.
    """
    if not isinstance(value, Packet):
        return None, f"returned {type(value).__name__}, not a scapy packet"
    if IP not in value or (TCP not in value and UDP not in value):
        return None, f"returned {value.summary()}, not an IP()/TCP() or IP()/UDP() packet"
    if Ether in value and (value[Ether].src, value[Ether].dst) == (source.mac, target.mac):
        return bytes(value), ""
    return bytes(Ether(src=source.mac, dst=target.mac) / value[IP]), ""


def deliver(run, todo: str, source, target, args: tuple, taken: Callable[[], Any],
            wait: float = 0.5, extra: list[tuple] = ()) -> Delivery:
    """Send the segment todo(*args) returns from source; taken() says when target took it.

    extra: more argument tuples, run as hidden cases (Outcome.cases), never sent.
    """
    outcome = run.student(todo, source, *args, extra=extra)
    data, problem = as_frame(outcome.value, source, target)
    sent_at = fallback_at = None
    answer = None
    if data is not None:
        source.port.drain()
        sent_at = source.port.send(data)
        answer = poll(taken, wait)
    value = outcome.value
    if not answer:
        run.note(f"{target.name}'s kernel did not take that segment; the lab sends the reference's "
                 "instead, so the steps after this one still have a connection")
        value = getattr(run.exercise.reference, todo)(*args)
        source.port.drain()
        fallback_at = source.port.send(as_frame(value, source, target)[0])
        answer = poll(taken, wait)
        if not answer:
            raise ScenarioError(f"{target.name} did not take even the reference's {todo}() segment")
    return Delivery(outcome, problem, data, sent_at, fallback_at, value[IP], answer)


def misaddressed(segment, ev: dict) -> tuple[bool, str]:
    """A mistake for grading.first_mistake: the segment does not go from ev["h1"] to ev["h2"]."""
    src, dst = segment[IP].src, segment[IP].dst
    return ((src, dst) != (ev["h1"], ev["h2"]),
            f"the addresses are {src} > {dst}: h1 is {ev['h1']} and h2 {ev['h2']}; take them from the arguments")


def udp_reply_to(source, sport: int, dport: int):
    """A taken() that waits for a UDP datagram from sport to dport arriving at source."""
    def wanted(frame: bytes) -> bool:
        packet = Ether(frame)
        return UDP in packet and packet[UDP].sport == sport and packet[UDP].dport == dport

    def taken():
        frame = source.port.expect(wanted, 0.005)
        return Ether(frame)[IP] if frame else None
    return taken


def poll(condition: Callable[[], Any], timeout: float) -> Any:
    """condition()'s first true value within timeout, else None."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result or None
        time.sleep(0.001)


def reply_to(source, sport: int, dport: int, flags: str | None = None):
    """A taken() that waits for a segment from sport to dport arriving at source."""
    def wanted(frame: bytes) -> bool:
        packet = Ether(frame)
        return TCP in packet and packet[TCP].sport == sport and packet[TCP].dport == dport \
            and (flags is None or str(packet[TCP].flags) == flags)

    def taken():
        frame = source.port.expect(wanted, 0.005)
        return Ether(frame)[IP] if frame else None
    return taken


def craft(source, target, sport: int, dport: int, flags: str, seq: int, ack: int = 0, data: bytes = b"",
          window: int = 8192):
    """An IP/TCP segment the lab itself sends (not graded), from source to target."""
    segment = IP(src=source.ip, dst=target.ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                                                     window=window)
    return segment / data if data else segment


def send(source, target, segment, taken: Callable[[], Any], wait: float = 0.5) -> Any:
    """Send one of the lab's own segments from source and wait until target took it."""
    source.port.drain()
    source.port.send(as_frame(segment, source, target)[0])
    answer = poll(taken, wait)
    if not answer:
        raise ScenarioError(f"{target.name} did not take the lab's own {flag_names(segment)} segment")
    return answer


# --- what a TCP lab draws for a run ---

WORDS = ("hello", "segment", "window", "byte", "stream", "kernel", "socket", "number", "wire", "ack",
         "sequence", "h2")


def ports(rng, count: int) -> list[int]:
    """count different ports for one run, none of them well known."""
    return rng.sample(range(1024, 61000), count)


def message(rng) -> bytes:
    """A line of a few words: its text and its length change from run to run."""
    return (" ".join(rng.choices(WORDS, k=rng.randint(2, 7))) + "\n").encode()


# --- predicting an ACK number: hidden cases, truth by construction, hints ---

SEQ_SPACE = 2**32
CASE_SHAPES = (("PA", True), ("A", False), ("S", False), ("FA", False), ("FPA", True))


def next_seq(flags: str, seq: int, length: int) -> int:
    """The number after a segment: one per data byte, one more for a SYN and for a FIN."""
    return (seq + length + ("S" in flags) + ("F" in flags)) % SEQ_SPACE


def ack_cases(rng, source_ip: str, target_ip: str) -> tuple[list[tuple], list[int], list[tuple]]:
    """Segments of the lab's own making to ask an ACK prediction about: data, a pure
    ACK, a SYN, a FIN and a FIN with data, each at a random seq, with random ports and
    data of random length. Returns (argument tuples, right answers, (flags, seq, length)
    of each)."""
    args, truths, shapes = [], [], []
    for flags, with_data in CASE_SHAPES:
        seq = rng.randrange(SEQ_SPACE)
        data = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(2, 1400))) \
            if with_data else b""
        sport, dport = ports(rng, 2)
        ack = rng.randrange(SEQ_SPACE) if "A" in flags else 0
        segment = IP(src=source_ip, dst=target_ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
        args.append((segment / data if data else segment,))
        truths.append(next_seq(flags, seq, len(data)))
        shapes.append((flags, seq, len(data)))
    return args, truths, shapes


def same_number(value, truth: int) -> bool:
    """value names the same sequence number as truth (numbers wrap at 2**32)."""
    return type(value) is int and (value - truth) % SEQ_SPACE == 0


def shape_text(flags: str, seq: int, length: int) -> str:
    """'a FIN,PSH,ACK segment seq=5 with 12 bytes of data', for a verdict's detail."""
    data = f"{length} bytes of data" if length else "no data"
    return f"a {flag_names(TCP(flags=flags))} segment seq={seq} with {data}"


def ack_hint(value, flags: str, seq: int, length: int) -> str:
    """Why value is not the ACK number a segment of this shape deserves."""
    extra, off = ("S" in flags) + ("F" in flags), (value - seq) % SEQ_SPACE
    if extra and off == length:
        name = "SYN" if "S" in flags else "FIN"
        return f"a {name} takes one sequence number although it carries no data: add 1 for it"
    if off == 0:
        return "an ACK number names the next byte expected, not the segment's own seq: add what it takes"
    if not extra and off == length + 1:
        return "only SYN and FIN take a sequence number of their own; data takes one per byte, len(data)"
    if length > 1 and off in (1, 1 + extra):
        return "data takes one sequence number per byte: add len(data) bytes, not 1"
    return "the segment's seq, plus one per byte of data, plus one for a SYN or a FIN"


def grade_prediction(check: str, ev: dict, real: int | None, live: tuple, passed: str) -> Verdict:
    """The verdict on an ACK prediction: the live case against what the peer's kernel
    really answered, the hidden cases (ev["cases"]) against ev["truths"].

    live: (flags, seq, length) of the live segment; ev["shapes"]: the same for each
    hidden case; ev["guess"]: the live answer.
    """
    if real is None:
        return Verdict(check, FAIL, "no ACK from h2 was captured", LAB_FAULT)
    guess = ev["guess"]
    right = same_number(guess, real)
    cases = score(right, ev["cases"], ev["truths"], same=same_number)
    if cases.constant:
        return Verdict(check, FAIL, f"{cases.summary}: {ev['cases'][0][1]!r} for every segment asked about",
                       CONSTANT_HINT)
    if not right:
        return Verdict(check, FAIL, f"you said {guess!r}; h2 answered ack={real}; {cases.summary}",
                       ack_hint(guess, *live))
    if cases.wrong:
        index, value, truth = cases.wrong
        shape = ev["shapes"][index - 1]
        if type(value) is str:  # the call gave no answer: value says why
            return Verdict(check, FAIL, f"{cases.summary}: for {shape_text(*shape)}, {value}",
                           "fix the error above: the function must answer for any segment")
        return Verdict(check, FAIL, f"{cases.summary}: for {shape_text(*shape)} you said {value!r}, "
                                    f"the ACK is {truth}", ack_hint(value, *shape))
    return Verdict(check, PASS, f"{passed}; {cases.summary}")
