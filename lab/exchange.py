"""One exchange on the wire: a frame goes out from a host, and the lab waits for the
network's answer.

Every lab does this the same way, so it is written once. `Run.exchange` calls the
student's builder inside the sending host (the engine checks the kind it returned),
sends the frame, and polls a condition that says the answer came: a frame arriving
(`arrival`), a kernel state, an application reading data. If no answer comes, the
reference's frame goes out in its place, labelled in the report, so that the steps
after this one still have something to work on. Grading reads what happened from
`Exchange.sent`, a `Sent` record that unit tests build by hand.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from .errors import ScenarioError

WAIT = 0.5  # seconds to wait for an answer: a kernel on this wire answers within a millisecond


def poll(condition: Callable[[], Any], timeout: float, interval: float = 0.001) -> Any:
    """condition()'s first true value within timeout, else None (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result or None
        time.sleep(interval)


@dataclass(frozen=True)
class Refusal:
    """What an answer condition returns for an answer that is not the one awaited (an
    ICMP error, an echo to the wrong port): the wait stops at once, and `why` says so."""

    why: str


@dataclass(frozen=True)
class Sent:
    """What became of the frame a student's function built: what grading reads.

    problem: why the returned value could not be sent ('' if it was);
    data: the bytes sent for it; sent_at: when (Unix time);
    fallback_at: when the reference's frame went out instead, if it had to.
    """

    problem: str = ""
    data: bytes | None = None
    sent_at: float | None = None
    fallback_at: float | None = None


@dataclass(frozen=True)
class Exchange:
    """One exchange: the student's call, what was sent, and the answer that came."""

    outcome: Any             # the Outcome of the student's call (lab/exercise.py)
    sent: Sent
    frame: bytes             # the frame finally taken: the student's, or the reference's
    answer: Any              # what the answer condition returned, None if nothing came
    took: float | None       # seconds from the frame taken to its answer

    @property
    def packet(self) -> Packet:
        """The frame finally taken, dissected."""
        return Ether(self.frame)


def to_frame(value, source, target) -> tuple[bytes | None, str]:
    """The frame to send for a returned packet, or None and what is wrong with it.

    A frame with no IP layer (ARP), or one addressed from source to target, is sent as
    it is. Otherwise its IP packet goes out under the hosts' real MACs: an Ether() left
    to scapy's defaults inside the sandbox cannot know them, and the Ethernet header is
    not what an IP lab grades.
    """
    if not isinstance(value, Packet):
        return None, f"returned {type(value).__name__}, not a scapy packet"
    if Ether in value and (IP not in value or target is None
                           or (value[Ether].src, value[Ether].dst) == (source.mac, target.mac)):
        return bytes(value), ""
    if IP not in value or target is None:
        return None, f"returned {value.summary()}, which cannot go on an Ethernet wire"
    return bytes(Ether(src=source.mac, dst=target.mac) / value[IP]), ""


def transmit(source, frame: bytes, answer: Callable[[], Any], wait: float) -> tuple[float, Any, float | None]:
    """Send frame from source's interface and poll answer(): (sent at, answer or None, seconds taken)."""
    source.port.drain()
    sent_at = source.port.send(frame)
    got = poll(answer, wait)
    if got is None or isinstance(got, Refusal):
        return sent_at, got, None
    return sent_at, got, time.time() - sent_at


def arrival(host, wanted: Callable[[Packet], bool]) -> Callable[[], Packet | None]:
    """An answer condition: the next frame reaching host for which wanted(frame) holds."""
    def arrived():
        frame = host.port.expect(lambda data: wanted(Ether(data)), 0.005)
        return Ether(frame) if frame else None
    return arrived


def exchange(run, todo: str, source, target, args: tuple, answer: Callable[[], Any], wait: float,
             extra: list[tuple], fallback: bool) -> Exchange:
    """What Run.exchange does (see there)."""
    outcome = run.student(todo, source, *args, extra=extra)
    data, problem = to_frame(outcome.value, source, target)
    sent_at = got = took = fallback_at = None
    if data is not None:
        if not outcome.by_student:
            run.event(f"the reference's {todo}() stands in for yours")
        sent_at, got, took = transmit(source, data, answer, wait)
    taken = data
    if took is None and fallback:
        why = got.why if isinstance(got, Refusal) else problem or f"the answer awaited did not come within {wait:g} s"
        run.note(f"{why}; the lab sends the reference's {todo}() instead, so the steps after this one "
                 "still have something to work on")
        run.event(f"the lab sends the reference's {todo}() in place of yours")
        taken, problem_too = to_frame(getattr(run.exercise.reference, todo)(*args), source, target)
        if taken is None:
            raise ScenarioError(f"the reference's {todo}() cannot be sent: {problem_too}")
        fallback_at, got, took = transmit(source, taken, answer, wait)
        if took is None:
            raise ScenarioError(f"{target.name if target else 'the network'} did not answer even the "
                                f"reference's {todo}()")
    return Exchange(outcome, Sent(problem, data, sent_at, fallback_at), taken or b"",
                    None if isinstance(got, Refusal) else got, took)
