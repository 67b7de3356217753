"""What the TCP labs teach with, beside the engine's exchange (lab/exchange.py).

The values a TCP lab draws for a run (ports, a message); the segments the lab sends
itself (craft) and the answer condition that waits for the peer's reply (reply_to);
the two ends of the connection a student's segment must go between; and the hidden
cases of an ACK-number prediction, with the ACK each deserves by construction and
the hint for a wrong answer.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, TCP

from .definition import Verdict, failed, passed
from .exchange import arrival
from .grading import CONSTANT_HINT, LAB_FAULT, score
from .peers import states
from .wire import flag_names, payload

SHAPE = "IP(src=..., dst=...) / TCP(sport=..., dport=..., flags=..., seq=..., ack=...)"


@dataclass(frozen=True)
class Ends:
    """The connection a student's segments belong to: h1's and h2's IP addresses, h1's
    port (client) and h2's (server)."""

    h1: str = ""
    h2: str = ""
    client: int = 0
    server: int = 0


def describe(segment) -> str:
    """'sent FIN,ACK seq=... ack=... len=0', for a verdict's detail."""
    tcp = segment[TCP]
    return f"sent {flag_names(segment)} seq={tcp.seq} ack={tcp.ack} len={len(payload(segment))}"


def misaddressed(segment, ends: Ends) -> tuple[bool, str]:
    """A mistake for grading.first_mistake: the segment does not go from h1 to h2."""
    src, dst = segment[IP].src, segment[IP].dst
    return ((src, dst) != (ends.h1, ends.h2),
            f"the addresses are {src} > {dst}: h1 is {ends.h1} and h2 {ends.h2}; take them from the arguments")


def reply_to(source, sport: int, dport: int, flags: str | None = None) -> Callable[[], Any]:
    """An answer condition: the next segment from sport to dport reaching source, with
    exactly these flags if given; it returns the segment's IP layer."""
    arrived = arrival(source, lambda packet: TCP in packet and packet[TCP].sport == sport
                      and packet[TCP].dport == dport and (flags is None or str(packet[TCP].flags) == flags))

    def answer():
        packet = arrived()
        return packet[IP] if packet is not None else None
    return answer


def show_states(run, port: int, *hosts) -> None:
    """Beside the ladder, each host's sockets on port, all read before any is shown."""
    seen = [states(host, port) for host in hosts]
    for host, text in zip(hosts, seen):
        run.state(host, text)


def craft(source, target, sport: int, dport: int, flags: str, seq: int, ack: int = 0, data: bytes = b"",
          window: int = 8192):
    """An IP/TCP segment the lab itself sends (not graded), from source to target."""
    segment = IP(src=source.ip, dst=target.ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                                                     window=window)
    return segment / data if data else segment


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


def shape(segment) -> tuple[str, int, int]:
    """(flags, seq, data length) of a segment: all an ACK prediction depends on."""
    return str(segment[TCP].flags), segment[TCP].seq, len(payload(segment))


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


@dataclass(frozen=True)
class Prediction:
    """A student's ACK prediction: the live segment's shape and the answer for it, then
    each made-up segment's answer (status, value or why), right answer and shape."""

    live: tuple = ("", 0, 0)
    guess: Any = None
    cases: tuple = ()
    truths: tuple = ()
    shapes: tuple = ()


def predict(run, todo: str, host, segment, target_ip: str) -> Prediction:
    """Ask the student's todo for the ACK number segment deserves, and for made-up ones."""
    extra, truths, shapes = ack_cases(run.rng, host.ip, target_ip)
    outcome = run.student(todo, host, segment, extra=extra)
    return Prediction(shape(segment), outcome.value, tuple(outcome.cases), tuple(truths), tuple(shapes))


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


def grade_prediction(prediction: Prediction, real: int | None, right: str) -> Verdict:
    """The verdict on an ACK prediction: the live answer against the ACK the peer's
    kernel really sent (real), the made-up cases against their right answers.
    right: the detail of a passing verdict."""
    if real is None:
        return failed("no ACK from h2 was captured", LAB_FAULT)
    guess = prediction.guess
    live_right = same_number(guess, real)
    cases = score(live_right, prediction.cases, list(prediction.truths), same=same_number)
    if cases.constant:
        return failed(f"{cases.summary}: {prediction.cases[0][1]!r} for every segment asked about", CONSTANT_HINT)
    if not live_right:
        return failed(f"you said {guess!r}; h2 answered ack={real}; {cases.summary}",
                      ack_hint(guess, *prediction.live))
    if cases.wrong:
        index, value, truth = cases.wrong
        asked = shape_text(*prediction.shapes[index - 1])
        if type(value) is str:  # the call gave no answer: value says why
            return failed(f"{cases.summary}: for {asked}, {value}",
                          "fix the error above: the function must answer for any segment")
        return failed(f"{cases.summary}: for {asked} you said {value!r}, the ACK is {truth}",
                      ack_hint(value, *prediction.shapes[index - 1]))
    return passed(f"{right}; {cases.summary}")
