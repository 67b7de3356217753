"""A student's TCP segment, from the function that builds it to the wire and back.

The student returns IP()/TCP() (or a whole Ether frame); the engine adds the Ethernet
header from the hosts' real MACs, sends it from the host's interface, and waits until
the peer's kernel shows it took the segment. If it does not, the reference's segment
is sent instead, labelled, so the rest of the lab still has a connection to work on.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from .errors import ScenarioError
from .exercise import Outcome
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
    what is wrong with it."""
    if not isinstance(value, Packet):
        return None, f"returned {type(value).__name__}, not a scapy packet"
    if IP not in value or (TCP not in value and UDP not in value):
        return None, f"returned {value.summary()}, not an IP()/TCP() or IP()/UDP() packet"
    if Ether in value:
        return bytes(value), ""
    return bytes(Ether(src=source.mac, dst=target.mac) / value), ""


def deliver(run, todo: str, source, target, args: tuple, taken: Callable[[], Any],
            wait: float = 0.5) -> Delivery:
    """Send the segment todo(*args) returns from source; taken() says when target took it."""
    outcome = run.student(todo, source, *args)
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


def craft(source, target, sport: int, dport: int, flags: str, seq: int, ack: int = 0, data: bytes = b""):
    """An IP/TCP segment the lab itself sends (not graded), from source to target."""
    segment = IP(src=source.ip, dst=target.ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
    return segment / data if data else segment


def send(source, target, segment, taken: Callable[[], Any], wait: float = 0.5) -> Any:
    """Send one of the lab's own segments from source and wait until target took it."""
    source.port.drain()
    source.port.send(as_frame(segment, source, target)[0])
    answer = poll(taken, wait)
    if not answer:
        raise ScenarioError(f"{target.name} did not take the lab's own {flag_names(segment)} segment")
    return answer
