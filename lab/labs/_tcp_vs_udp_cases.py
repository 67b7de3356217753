"""tcp-vs-udp's inputs and cases: what a run draws from its seed, and the cases
split_messages and tally are graded on, each with its right answer known from how
the lab made it (never from a split or a tally of its own).

A split case's answer comes from the messages it was built from, or, for a piece
of the experiment's stream, from its offsets (every numbered message has WIDTH
bytes). A made-up received list is built from its counts: which numbers arrive,
which come late, which come twice.
"""
from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.definition import Verdict, failed
from lab.errors import ScenarioError
from lab.grading import Cases, score
from lab.sandbox import DONE

WORDS = (b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel",
         b"india", b"juliett", b"kilo", b"lima", b"mike", b"november", b"oscar", b"papa")
NOT_NEWLINE = bytes(b for b in range(256) if b != ord("\n"))
TALLY_KEYS = ("delivered", "lost", "duplicated", "out_of_order")


def message(number: int) -> bytes:
    return b"%05d\n" % number


WIDTH = len(message(0))  # every numbered message has this many bytes


@dataclass(frozen=True)
class Plan:
    """What one run chose, all drawn from run.rng, so --seed replays it."""

    boundary_tcp: int
    boundary_udp: int
    lossy_tcp: int
    lossy_udp: int
    late_udp: int
    texts: tuple[bytes, ...]  # the boundaries step's messages, each with its b"\n"
    messages: int             # numbered messages of the experiment, over each protocol
    chunk: int                # bytes read from the experiment's TCP stream at a time
    late: int                 # datagrams of the late step, 0 to late - 1
    held: tuple[int, int]     # held back at h2's door, delivered after the last one
    twice: int                # delivered a second time, right after the first


def draw(rng, messages: tuple[int, int]) -> Plan:
    """Ports below Linux's ephemeral range (where the clients' ports come from); how
    many numbered messages, between messages' bounds; a read size that is no multiple
    of a message's, so reads cut messages in two; two held datagrams with larger ones
    after them, so they really come late."""
    ports = rng.sample(range(2000, 32000), 5)
    texts = tuple(b" ".join(rng.sample(WORDS, rng.randint(1, 3))) + b"\n" for _ in range(rng.randint(3, 5)))
    late = rng.randint(8, 12)
    first = rng.randint(1, late - 4)
    twice = rng.choice([n for n in range(late) if n not in (first, first + 1)])
    return Plan(*ports, texts, rng.randint(*messages), WIDTH * rng.randint(50, 115) + rng.randint(1, WIDTH - 1),
                late, (first, first + 1), twice)


@dataclass(frozen=True)
class Counts:
    """A tally's four figures, as the lab knows them for a case it made or measured."""

    delivered: int
    lost: int
    duplicated: int = 0
    out_of_order: int = 0

    def matches(self, value: dict) -> bool:
        """Whether a tally's dict gives these four figures (more keys are harmless)."""
        return {key: value.get(key) for key in TALLY_KEYS} == dataclasses.asdict(self)


@dataclass(frozen=True)
class SplitCase:
    """One buffer for split_messages, its right answer, and what the call gave."""

    kind: str                         # "live", "stream" or "made up"
    where: str                        # how a verdict names it
    input: bytes
    truth: tuple[list[bytes], bytes]  # (messages, rest), known as the buffer was made
    status: str = ""                  # the call's status (DONE, RAISED, ...), once answered
    output: Any = None                # its value, or the detail of its error


@dataclass(frozen=True)
class TallyCase:
    """One (sent, received) for tally, its right counts, and what the call gave."""

    where: str
    sent: int
    received: list[int]
    late: list[int]             # the numbers that come late, known as the list was made
    truth: Counts | None        # None: a row the lab cannot count (shown, not graded)
    status: str = ""
    output: Any = None


def answered(cases: list, outcome) -> list:
    """The cases (live one first), each with what the call gave for it: status, and
    value or detail."""
    live = (outcome.status, outcome.value if outcome.by_student else outcome.detail)
    return [dataclasses.replace(case, status=status, output=value)
            for case, (status, value) in zip(cases, [live, *outcome.cases])]


def whose(outcome) -> str:
    """'your split_messages', or 'the reference's split_messages' when it stood in."""
    return f"your {outcome.todo}" if outcome.by_student else f"the reference's {outcome.todo}"


def shown(value, limit: int) -> str:
    """repr(value), cut to limit characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- split_messages: buffers made from their messages, and the experiment's stream ---

def some_bytes(rng, low: int, high: int) -> bytes:
    """low to high random bytes, any but b'\\n'."""
    return bytes(rng.choice(NOT_NEWLINE) for _ in range(rng.randint(low, high)))


def any_bytes(rng) -> bytes:
    """A message of any bytes but b'\\n', with a space somewhere inside."""
    return some_bytes(rng, 0, 5) + b" " + some_bytes(rng, 1, 6)


def awkward(rng) -> bytes:
    """A message that strip(), split(), splitlines() or decode() would spoil: white
    space at both ends, b'\\r' or b'\\t' last, a NUL and a byte that is no UTF-8."""
    return (rng.choice([b" ", b"\t"]) + some_bytes(rng, 1, 4) + b"\x00" + bytes([rng.randint(0x80, 0xFF)])
            + some_bytes(rng, 0, 3) + rng.choice([b"\r", b" ", b"\t"]))


def made_up_buffers(rng) -> list[SplitCase]:
    """Buffers for split_messages, each built from the messages and rest it must give back."""
    def several() -> list[bytes]:
        messages = [any_bytes(rng) for _ in range(rng.randint(1, 3))]
        messages.insert(rng.randint(0, len(messages)), awkward(rng))
        return messages
    made = [("an empty buffer", [], b""),
            ("one whole message", [any_bytes(rng)], b""),
            ("whole messages only", several(), b""),
            ("messages and the start of one more", several(), b" " + any_bytes(rng)),
            ("only the start of a message", [], any_bytes(rng))]
    return [SplitCase("made up", f"a buffer the lab made up ({what})",
                      b"".join(m + b"\n" for m in messages) + rest, (messages, rest))
            for what, messages, rest in made]


def stream_pieces(plan: Plan, chunks: tuple[bytes, ...]) -> list[SplitCase]:
    """The experiment's TCP stream as h2 read it, each read after the rest of the one
    before. Every message h1 sent is WIDTH bytes, so the offsets say what each holds."""
    stream = b"".join(chunks)
    if not b"".join(message(n) for n in range(plan.messages)).startswith(stream):
        raise ScenarioError("h2's TCP stream is not the messages h1 sent, in order")
    pieces, end = [], 0
    for chunk in chunks:
        start, end = end - end % WIDTH, end + len(chunk)
        whole = end - end % WIDTH
        pieces.append(SplitCase("stream", f"the experiment's stream, read {plan.chunk} bytes at a time",
                                stream[start:end],
                                ([message(n)[:-1] for n in range(start // WIDTH, whole // WIDTH)],
                                 stream[whole:end])))
    return pieces


# --- tally: received lists made from their counts ---

def late_order(plan: Plan) -> list[int]:
    """The order the lab makes h2 receive the late step's datagrams in."""
    order = []
    for number in range(plan.late):
        if number not in plan.held:
            order += [number, number] if number == plan.twice else [number]
    return order + list(plan.held)


def received_list(rng, where: str, sent: int, lost: int = 0, late: int = 0, copies: int = 0,
                  together: bool = False) -> TallyCase:
    """A received list made so that its counts are known as it is built.

    Start from the numbers that arrive, in order. Move `late` of them (never the
    largest) each right after a larger number that stays in place: each moved one
    is then a first arrival after a larger number, and no other is (what comes before
    a number that stays is smaller). together: all right after the largest, in
    ascending order (... 9, 3, 4). Then insert `copies` copies, each after its number's
    first arrival: a copy changes no first arrival's count.
    """
    arrived = sorted(rng.sample(range(sent), sent - lost))
    moved = rng.sample(arrived[:-1], late)
    stay = [n for n in arrived if n not in moved]
    order = list(stay)
    for number in sorted(moved, reverse=True) if together else moved:
        anchor = stay[-1] if together else rng.choice([n for n in stay if n > number])
        order.insert(order.index(anchor) + 1, number)
    for _ in range(copies):
        number = rng.choice(arrived)
        order.insert(rng.randint(order.index(number) + 1, len(order)), number)
    return TallyCase(where, sent, order, sorted(moved), Counts(len(arrived), lost, copies, late))


def made_up_tallies(rng) -> list[TallyCase]:
    def where(what: str) -> str:
        return f"a list the lab made up ({what})"
    return [received_list(rng, where("some lost"), rng.randint(8, 20), lost=rng.randint(1, 4)),
            received_list(rng, where("some twice or more"), rng.randint(8, 20), copies=rng.randint(2, 4)),
            received_list(rng, where("late ones after the largest"), rng.randint(8, 20), late=rng.randint(2, 3),
                          together=True),
            received_list(rng, where("lost, late and twice"), rng.randint(8, 20), lost=rng.randint(1, 3),
                          late=rng.randint(1, 3), copies=rng.randint(1, 3)),
            received_list(rng, where("nothing arrived"), (sent := rng.randint(1, 6)), lost=sent)]


# --- how the graders read the answered cases ---

def scored(cases: list, same: Callable = operator.eq) -> Cases:
    """Cases[0] is the live case; each case holds its truth, status and output."""
    live, *made = cases
    return score(live.status == DONE and same(live.output, live.truth),
                 tuple((case.status, case.output) for case in made), [case.truth for case in made], same)


def same_counts(value: dict, truth: Counts) -> bool:
    return truth.matches(value)


def no_answer(result: Cases, case, call: str, hint: str) -> Verdict:
    """A case the function raised or hung on. On the live case the engine reports the
    error itself, and the lab adds no hint: it cannot know what went wrong."""
    return failed(f"{result.summary}; {case.where}: {call} gave no answer: {case.output}",
                  "" if result.wrong[0] == 0 else hint)


def describe_split(buffer: bytes, value) -> str:
    """'split_messages(500 bytes, b'00000\\n'...b'\\n00082\\n00') gave 83 messages, ...'"""
    given = repr(buffer) if len(buffer) <= 40 else f"{len(buffer)} bytes, {buffer[:6]!r}...{buffer[-9:]!r}"
    return f"split_messages({given}) gave {split_value(value)}"


def split_value(value) -> str:
    """A (messages, rest) as a verdict shows it, a right answer too: '83 messages,
    b'00000' to b'00082', rest b'00''"""
    messages, rest = value
    listed = shown(messages, 60) if len(messages) <= 4 else \
        f"{len(messages)} messages, {messages[0]!r} to {messages[-1]!r}"
    return f"{listed}, rest {rest!r}"


def counts(value) -> str:
    """A tally's dict, or the lab's Counts, as a verdict shows it."""
    value = dataclasses.asdict(value) if isinstance(value, Counts) else value
    return ", ".join(f"{key} {value.get(key, '-')}" for key in TALLY_KEYS)


def adjacent_inversions(received: list[int]) -> int:
    """Arrivals smaller than the one just before: a common, wrong, count of disorder."""
    return sum(b < a for a, b in zip(received, received[1:]))
