"""udp-basic's drawn values and made-up cases: the ports and data of a run, and the
echoes, data and packets on which the pure functions parse_echo, udp_length and
is_port_unreachable are graded besides the live case, each with its right answer
known as the lab makes it; and how an answered set of cases reads in a report."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.packet import Packet

from lab.exercise import DONE, RAISED, TIMEOUT, TODO, WRONG
from lab.grading import CONSTANT_HINT, Cases, score

# Ports are drawn from these ranges; scapy (even scapy.all) binds no protocol to any
# of them, so a datagram's data always dissects as Raw in the student's code.
SERVER_PORTS, CLOSED_PORTS, CLIENT_PORTS = range(20000, 30000), range(30000, 40000), range(50000, 61000)
WORDS = ("hello", "h2", "ping", "datagram", "no", "handshake", "echo", "this", "back", "please",
         "one", "message", "each", "way", "udp", "port", "are", "you", "there", "over")
HEADER = 8  # bytes of a UDP header: source port, destination port, length, checksum


@dataclass(frozen=True)
class Drawn:
    """This run's addresses, ports and data."""

    h1: str
    h2: str
    client: int       # h1's port, where the lab waits for answers
    echo: int         # h2's echo server
    closed: int       # a port of h2 with no socket
    data: bytes       # what the first datagram carries
    probe: bytes      # what the datagram to the closed port carries


@dataclass(frozen=True)
class Case:
    """One call of a pure function: its argument, its right answer, and once called,
    the student's status and answer (or, where there is none, why not)."""

    arg: bytes            # an IP packet's bytes, or the data (udp_length)
    truth: Any
    label: str = ""       # how the report names the case (is_port_unreachable's)
    family: str = ""      # which mistake a wrong answer points to (is_port_unreachable's)
    status: str = ""
    answer: Any = None

    @property
    def right(self) -> bool:
        return self.status == DONE and self.answer == self.truth


def message(rng, words: int = 8) -> bytes:
    """A line of 1 to `words` drawn words: its text and its length change every run."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, words))).encode()


def draw(rng, h1, h2) -> Drawn:
    """This run's ports and data, beside the addresses the engine drew."""
    echo = rng.choice(SERVER_PORTS)
    closed = rng.choice(CLOSED_PORTS)
    return Drawn(h1.ip, h2.ip, rng.choice(CLIENT_PORTS), echo, closed, message(rng),
                 f"anyone on {closed}? ".encode() + message(rng, 3))


def wire_packet(packet: Packet) -> Packet:
    """A packet the lab made, dissected again from its bytes: what a wire would give."""
    return IP(bytes(packet))


def datagram_to(d: Drawn, sport: int, data: bytes) -> Packet:
    """A datagram from h2's port sport to h1's client port, as h1 receives it."""
    return wire_packet(IP(src=d.h2, dst=d.h1) / UDP(sport=sport, dport=d.client) / data)


def echo_cases(rng, d: Drawn) -> list[Case]:
    """More echoes h1 could receive: other servers, data of other lengths, binary data."""
    datas = [message(rng), message(rng, 3), bytes(rng.randrange(256) for _ in range(rng.randint(20, 200))),
             bytes([rng.randrange(33, 127)])]
    return [Case(bytes(datagram_to(d, rng.choice(SERVER_PORTS), data)), data) for data in datas]


def length_cases(rng) -> list[Case]:
    """Data of other lengths: none at all, one byte, a line, as much as one frame takes."""
    datas = [b"", bytes([rng.randrange(256)]), message(rng),
             bytes(rng.randrange(256) for _ in range(rng.randint(1000, 1472)))]
    return [Case(data, HEADER + len(data)) for data in datas]


def icmp_error(d: Drawn, kind: int, code: int, quoted: Packet, **fields) -> Packet:
    """An ICMP error from h2 to h1 quoting the start of quoted (IP header + 8 bytes)."""
    return wire_packet(IP(src=d.h2, dst=d.h1) / ICMP(type=kind, code=code, **fields) / bytes(quoted)[:28])


def unreachable_cases(rng, d: Drawn, port: Packet, echo: Packet, protocol: Packet) -> list[Case]:
    """The cases of is_port_unreachable, h2's port unreachable first (the live case);
    h2's other answers, then packets the lab makes and never sends. A case's family
    says which mistake a wrong answer points to."""
    other = rng.choice([p for p in CLOSED_PORTS if p != d.closed])
    to = IP(src=d.h1, dst=d.h2) / UDP(sport=d.client, dport=other) / message(rng, 3)
    elsewhere = f"192.0.2.{rng.randrange(1, 255)}"  # TEST-NET-1: nobody's address
    far = IP(src=d.h1, dst=elsewhere, ttl=1) / UDP(sport=d.client, dport=rng.choice(SERVER_PORTS))
    cases = [
        (f"h2's port unreachable for port {d.closed} (ICMP 3/3)", port, True, "port"),
        ("h2's echo (UDP, no ICMP)", echo, False, "no ICMP"),
        ("h2's protocol unreachable (ICMP 3/2)", protocol, False, "code"),
        (f"a port unreachable for port {other} (ICMP 3/3), made", icmp_error(d, 3, 3, to), True, "port"),
        ("a redirect (ICMP 5/3), made", icmp_error(d, 5, 3, far, gw=d.h2), False, "type"),
        (f"a host unreachable for {elsewhere} (ICMP 3/1), made", icmp_error(d, 3, 1, far), False, "code"),
        ("a time exceeded (ICMP 11/0), made", icmp_error(d, 11, 0, far), False, "type"),
        ("an echo reply (ICMP 0/0), made",
         wire_packet(IP(src=d.h2, dst=d.h1) / ICMP(type=0, id=rng.randrange(1, 65536), seq=1) / b"ping"),
         False, "type"),
        ("a TCP reset from h2 (no ICMP), made",
         wire_packet(IP(src=d.h2, dst=d.h1) / TCP(sport=rng.choice(SERVER_PORTS), dport=d.client,
                                                  flags="RA", ack=rng.randrange(1, 2**32))),
         False, "no ICMP"),
    ]
    return [Case(bytes(packet), truth, label, family) for label, packet, truth, family in cases]


def answered(outcome, cases: list[Case]) -> tuple[Case, ...]:
    """Each case, the live one first, with the student's status and answer (a detail
    line instead where there is no answer of the student's)."""
    live = (outcome.status, outcome.value if outcome.by_student else outcome.detail)
    results = (live, *outcome.cases)
    return tuple(dataclasses.replace(case, status=status, answer=answer)
                 for case, (status, answer) in zip(cases, results))


def call_cases(run, todo: str, host, cases: list[Case], args) -> tuple[Case, ...]:
    """todo on the live case (cases[0]) and the hidden ones in one child, in an order
    drawn for the run; args(case) gives a case's arguments."""
    outcome = run.student(todo, host, *args(cases[0]), extra=[args(c) for c in cases[1:]])
    return answered(outcome, cases)


def tally(cases: tuple[Case, ...]) -> Cases:
    """How the student's function did: Cases(right, total, wrong, constant)."""
    hidden = cases[1:]
    return score(cases[0].right, tuple((c.status, c.answer) for c in hidden), [c.truth for c in hidden])


def hidden(cases: tuple[Case, ...]) -> str:
    """How the student's function did on all the cases, for a report line."""
    made = len(cases) - 1
    if cases[0].status == TODO:
        return f"{made} more cases made by the lab wait for your code"
    return f"{tally(cases).summary}, {made} made by the lab"


def shown(case: Case) -> str:
    """'True (right)', 'False (should be True)', 'raised: ...', for a report line."""
    if case.status == DONE:
        return f"{case.answer!r} ({'right' if case.right else f'should be {case.truth!r}'})"
    if case.status == TODO:
        return f"the answer is {case.truth!r}"
    return f"{case.status}: {case.answer} (should be {case.truth!r})"


def brief(value) -> str:
    """A value's repr, cut to a report line's share."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(value)} bytes)"


def wrong_case(cases: tuple[Case, ...]) -> tuple[Cases, Case | None, str]:
    """(the Cases tally, the first case answered wrong, a detail line), for a pure function."""
    result = tally(cases)
    if result.wrong is None:
        return result, None, result.summary
    case = cases[result.wrong[0]]
    what = case.label or ("h2's echo" if result.wrong[0] == 0 else "a case the lab made")
    if case.status == DONE:
        return result, case, f"{result.summary}; {what}: returned {brief(case.answer)}, " \
                             f"the right answer is {brief(case.truth)}"
    return result, case, f"{result.summary}; {what}: {case.status}: {case.answer}"


def answer_hint(result: Cases, case: Case, kind: str) -> str | None:
    """The hint for a wrong answer that is no networking mistake: a constant, an error,
    a value of the wrong kind; None if the answer is a real one to look into."""
    if result.constant:
        return CONSTANT_HINT
    if case.status == WRONG:
        return f"return {kind}, whatever the arguments"
    if case.status in (RAISED, TIMEOUT):
        return "it failed on one of the lab's cases (the error is above): make it work for any datagram"
    if case.status != DONE:
        return "return an answer for every case"
    return None
