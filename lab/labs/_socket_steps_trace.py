"""socket-steps' reading of the socket-call trace: the calls a student's function made,
each tied to its socket, found by name and order, drawn in the ladder, and tied to the
FIN it sent.

The sandbox records a call as (started, returned, name, detail, socket id), and
accept()'s with the id of the connection it returned (see lab/sandbox.py); `Call`
gives those places names, once, where the trace comes back from the sandbox.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import TCP

# Equivalent calls, the one a hint names first.
CONNECT = ("connect", "connect_ex")
TCP_SEND, TCP_RECEIVE = ("sendall", "send", "sendto"), ("recv", "recv_into", "recvfrom")
UDP_SEND, UDP_RECEIVE = ("sendto", "send", "sendall"), ("recvfrom", "recv", "recv_into")
BLOCKING = ("accept", "connect", "connect_ex", "recv", "recv_into", "recvfrom")
SLACK = 0.001  # s: a frame's kernel timestamp may precede time.time() in the call that sent it


@dataclass(frozen=True)
class Call:
    """One traced socket call: when it started and returned (Unix time), its name, what
    the trace says of it ('TCP raised ...'), its socket's id and, for accept(), the id
    of the connection it returned."""

    started: float
    returned: float
    name: str
    detail: str = ""
    sid: int | None = None
    gave: int | None = None

    @classmethod
    def of(cls, raw: tuple) -> Call:
        """A call from the sandbox's tuple; ids that are not numbers are dropped."""
        ids = [x if type(x) is int else None for x in (*raw[4:6], None, None)[:2]]
        return cls(raw[0], raw[1], raw[2], raw[3], *ids)

    @property
    def failed(self) -> bool:
        """The call raised, never returned, or (connect_ex) gave an error code."""
        return any(word in self.detail for word in ("raised", "still waiting", " gave "))


@dataclass(frozen=True)
class Role:
    """One side of an echo: its traced socket calls, what it returned, how it ended."""

    calls: tuple[Call, ...] = ()
    value: Any = None
    status: str = ""

    @classmethod
    def of(cls, outcome) -> Role:
        """The side an Outcome of the exercise (lab/exercise.py) shows, its trace read."""
        return cls(tuple(Call.of(c) for c in outcome.calls), outcome.value, outcome.status)


def in_order(calls) -> list[Call]:
    """The calls by the time they started."""
    return sorted(calls, key=lambda c: (c.started, c.returned, c.name))


def find(calls, names, sid=None, after: float = 0.0) -> Call | None:
    """The first call named one of names (on socket sid, started from after on) that worked."""
    names = (names,) if isinstance(names, str) else names
    return next((c for c in in_order(calls) if c.name in names and not c.failed and c.started >= after
                 and (sid is None or c.sid == sid)), None)


def find_failed(calls, names) -> Call | None:
    """The first call named one of names that failed."""
    return next((c for c in in_order(calls) if c.name in names and c.failed), None)


def sequence(calls, steps: list, sid=None) -> tuple[list, str | None]:
    """The calls found for steps (each a tuple of equivalent names) one after the other
    on socket sid (None where not found), and the name of the first step missing or out
    of place, if any."""
    found, after = [], 0.0
    for names in steps:
        call = find(calls, names, sid, after)
        if call is None:
            return found + [None] * (len(steps) - len(found)), names[0]
        found.append(call)
        after = call.started
    return found, None


def listed(calls) -> str:
    """'socket, bind, listen': the calls' names in order, for a detail."""
    return ", ".join(call.name for call in in_order(calls)) or "none"


def recreated(calls, sid: int | None, start: float, end: float) -> bool:
    """Another socket got the same id (Python reuses a freed object's) between start and end."""
    return any(start < c.started < end
               and ((c.name == "socket" and c.sid == sid) or (c.gave is not None and c.gave == sid))
               for c in calls)


def during(frames, call: Call) -> list:
    """The frames captured while call ran."""
    return [f for f in frames if call.started - SLACK <= f.time <= call.returned]


def fin_sender(calls, sid: int | None, closed: Call, frames: list):
    """(the call on socket sid that sent the first FIN in frames, that FIN): the close(),
    or a shutdown() before it; (None, the FIN or None) if the FIN came before either."""
    fin = next((f for f in frames if "F" in str(f.packet[TCP].flags)), None)
    enders = [c for c in in_order(calls)
              if c.name == "shutdown" and c.sid == sid and not c.failed and c.started < closed.started]
    candidates = enders + [closed] if fin else []
    before = [c for c in candidates if c.started <= fin.time] \
        or [c for c in candidates if c.started - SLACK <= fin.time][:1]
    return (before[-1] if before else None), fin


def labels(calls) -> list[tuple[float, str]]:
    """(when, text) of each call as the ladder draws it beside its host."""
    connections = {c.gave for c in calls if c.gave is not None}
    return [(call.started, label(call, connections)) for call in calls]


def label(call: Call, connections: set) -> str:
    """'recv() (2.3 ms)', 'close() the connection', 'connect() FAILED': a call in the ladder."""
    text = f"{call.name}()"
    if call.name == "close" and call.sid is not None and connections:
        text += " the connection" if call.sid in connections else " the listener"
    if call.name in BLOCKING:
        text += f" ({1000 * (call.returned - call.started):.1f} ms)"
    if "still waiting" in call.detail:
        return text + " NEVER RETURNED"
    return text + (" FAILED" if call.failed else "")
