"""concurrency's evidence and grading: each client's connection read from the capture,
judged against the protocol (known by construction: the lab draws every word, so it
knows each reply) and against the time the backend takes.

Ratios with wide margins, so a loaded machine does not flip a verdict: a reply never
comes before the backend's DELAY (time.sleep never returns early); served in turn,
two replies are at least DELAY apart; served at once, three clients in four have
their reply within 3 DELAY of their request (in turn, the k-th waits k DELAY). An
event loop is blocked when a traced call of the student's process (a socket call, or
time.sleep) took BLOCKED seconds or more. A connection is closed by the server's
code when the trace shows close() or shutdown() on the socket accept() gave for it
(a socket Python frees also sends a FIN: that is not closing it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP

from lab.definition import Verdict, failed, passed
from lab.labs._concurrency_clients import Queue, Visit
from lab.wire import payload

DELAY = 0.15     # s the backend takes for each request
SPLIT = 0.08     # s between the two parts of each request line
BLOCKED = 0.04   # s: a call this long held up an event loop
SLACK = 0.01     # s of timestamp jitter allowed


def expected(request: str) -> str:
    """The protocol: 'WORK abc' is answered 'DONE cba'."""
    return f"DONE {request.partition(' ')[2][::-1]}"


@dataclass(frozen=True)
class Trial:
    """One server against the K clients: what the lab saw besides the capture."""

    todo: str = ""
    port: int = 0
    backlog: int = 0
    listened: bool = False
    visits: tuple[Visit, ...] = ()
    threads: tuple[int, ...] = ()         # the server process's thread count, tick by tick
    queue: Queue = Queue()                # the accept queue at its fullest
    overflows: int = 0                    # ListenOverflows in h2 during the trial
    drops: int = 0                        # ListenDrops
    blocking: tuple[tuple[str, float], ...] = ()  # (call, seconds) of calls that took BLOCKED or more
    closed: tuple[tuple[str, int], ...] = ()  # clients whose connection the code closed
    accepted: tuple[tuple[tuple[str, int], float], ...] = ()  # (client, when accept() returned it)
    error: str = ""                       # the server's error, if it raised or hung


@dataclass
class Line:
    """One client's connection on the wire (times in Unix seconds; None: never)."""

    client: tuple[str, int]
    syns: list[float] = field(default_factory=list)
    request: float | None = None          # the segment that ended the request line
    reply: float | None = None            # the first reply data
    reply_data: bytes = b""
    fin_server: float | None = None
    fin_client: float | None = None


def lines(wire, server_ip: str, port: int) -> dict[tuple[str, int], Line]:
    """Every connection to server_ip:port in the capture, by the client's (ip, port)."""
    found: dict[tuple[str, int], Line] = {}
    for frame in wire.frames:
        packet = frame.packet
        if IP not in packet or TCP not in packet:
            continue
        ip, tcp = packet[IP], packet[TCP]
        up = (ip.dst, tcp.dport) == (server_ip, port)
        if not up and (ip.src, tcp.sport) != (server_ip, port):
            continue
        key, flags, data = ((ip.src, tcp.sport) if up else (ip.dst, tcp.dport)), str(tcp.flags), payload(packet)
        line = found.setdefault(key, Line(key))
        if up and flags == "S":
            line.syns.append(frame.time)
        if up and data.endswith(b"\n") and line.request is None:
            line.request = frame.time
        if not up and data:
            line.reply = frame.time if line.reply is None else line.reply
            line.reply_data += data
        if "F" in flags:
            if up and line.fin_client is None:
                line.fin_client = frame.time
            elif not up and line.fin_server is None:
                line.fin_server = frame.time
    return found


def resent(line: Line) -> int:
    return max(0, len(line.syns) - 1)


def matched(trial: Trial, server_ip: str, wire, hosts: dict[str, str]) -> list[tuple[Visit, Line]]:
    """Each visit with its connection on the wire (hosts: name -> ip)."""
    found = lines(wire, server_ip, trial.port)
    return [(v, found.get((hosts.get(v.host, ""), v.port), Line((hosts.get(v.host, ""), v.port))))
            for v in trial.visits]


def service(trial: Trial, pairs: list[tuple[Visit, Line]]) -> Verdict | None:
    """What every server must do (each client answered right, after the backend, then
    FIN from h2 first), or None if all is well."""
    if not trial.listened:
        return failed(f"nothing listened on h2's port {trial.port}",
                      "socket.create_server((ip, port), backlog=backlog): listen on the ip and port given")
    k = len(pairs)
    starved = [v for v, line in pairs if line.reply is None]
    if starved:
        first = starved[0]
        hint = (f"serve all the clients you are given ({k}): accept each, answer it, close it"
                if len(starved) < k else "answer each request: sendall() what backend(request) returns")
        return failed(f"{len(starved)} of {k} clients got no answer ({first.host}:{first.port}: "
                      f"{first.error or 'none came'})", hint)
    for visit, line in pairs:
        got = line.reply_data.split(b"\n")[0].decode("ascii", "replace")
        if got != expected(visit.request):
            hint = ("one recv() may give part of the line (here the word comes a moment after "
                    "'WORK '): read until the newline" if got == "DONE " or got == "DONE" else
                    "send what backend() returns for the request: DONE and the word backwards")
            return failed(f"{visit.host}:{visit.port} sent {visit.request!r}, got {got!r}, "
                          f"not {expected(visit.request)!r}", hint)
    early = [(v, line) for v, line in pairs if line.request is None or line.reply < line.request + DELAY - SLACK]
    if early:
        visit, line = early[0]
        ms = "before the request" if line.request is None else f"{1000 * (line.reply - line.request):.0f} ms"
        return failed(f"{len(early)} replies came sooner than the backend's {DELAY:g} s "
                      f"({visit.host}:{visit.port}: {ms})",
                      "every reply waits for the backend: send what backend(request) "
                      "(or await backend_async(request)) returns")
    open_ = [(v, line) for v, line in pairs if line.fin_server is None
             or (line.fin_client is not None and line.fin_client < line.fin_server)]
    if open_:
        return failed(f"{len(open_)} of {k} connections not closed by h2 after the reply (the client "
                      "closed first)", "close() each connection right after sending its reply: "
                      "the client waits for your FIN")
    freed = [v for v, line in pairs if line.client not in set(trial.closed)]
    if freed:
        return failed(f"{len(freed)} of {k} connections never close()d by your code: their FIN came "
                      "when Python freed the socket or the process ended",
                      "close() each connection after its reply (`with conn:` does it): a server that "
                      "runs for long keeps every socket it forgets")
    return None


ACCEPTED = re.compile(r"from \('([0-9.]+)', ([0-9]+)\)")


def accepted_at(calls) -> tuple[tuple[tuple[str, int], float], ...]:
    """(client (ip, port), when accept() returned it) of every accept() in the trace."""
    found = [(ACCEPTED.search(c[3]), c[1]) for c in calls if c[2] == "accept" and len(c) > 5]
    return tuple(((m[1], int(m[2])), returned) for m, returned in found if m)


def queued(trial: Trial, pairs) -> list[float]:
    """For each client accept() took, how long after its handshake (the client's clock)."""
    when = dict(trial.accepted)
    return [when[line.client] - visit.connected for visit, line in pairs
            if visit.connected is not None and line.client in when]


def closed_by_code(calls) -> tuple[tuple[str, int], ...]:
    """The clients (ip, port) whose socket, given by accept(), the code close()d or
    shut down, from the sandbox's trace: (started, returned, name, detail, id[, gave]).

    A socket's id is its object's, which Python reuses once the object is freed: so
    each accept() counts from when it returned its socket, not from when it began to
    wait (a thread may close and free the last client's socket meanwhile)."""
    accepted: dict[int, tuple[str, int]] = {}
    closed = []
    for call in sorted(calls, key=lambda c: c[1] if c[2] == "accept" else c[0]):
        found = ACCEPTED.search(call[3]) if call[2] == "accept" and len(call) > 5 else None
        if found:
            accepted[call[5]] = (found[1], int(found[2]))
        elif call[2] in ("close", "shutdown") and len(call) > 4 and call[4] in accepted and "raised" not in call[3]:
            closed.append(accepted.pop(call[4]))
    return tuple(closed)


def span(pairs: list[tuple[Visit, Line]]) -> float:
    """From the first SYN to the last reply."""
    syns = [line.syns[0] for _, line in pairs if line.syns]
    replies = [line.reply for _, line in pairs if line.reply is not None]
    return max(replies) - min(syns) if syns and replies else 0.0


def judge_in_turn(trial: Trial, pairs) -> Verdict:
    wrong = service(trial, pairs)
    if wrong:
        return wrong
    times = sorted(line.reply for _, line in pairs)
    close = sum(b - a < DELAY - SLACK for a, b in zip(times, times[1:]))
    if close:
        return failed(f"{close} replies came less than {DELAY:g} s after the one before: "
                      "clients were served at once", "this one serves in turn: accept one client, "
                      "answer it, close it, and only then accept the next")
    took = span(pairs)
    return passed(f"{len(pairs)} clients one at a time in {took:.2f} s, about "
                  f"{took / DELAY:.0f}x the backend's {DELAY:g} s")


def judge_queue(trial: Trial, pairs) -> Verdict:
    wrong = service(trial, pairs)
    if wrong:
        return wrong
    queue, backlog = trial.queue, trial.backlog
    if queue.backlog != backlog:
        return failed(f"h2's listening socket had backlog {queue.backlog}, not {backlog}",
                      "give listen() the backlog you are given: create_server(..., backlog=backlog)")
    waits = queued(trial, pairs)
    waited = [t for t in waits if t >= DELAY - SLACK]
    if len(waited) < backlog:  # the kernel finished their handshakes long before accept() took them
        return failed(f"{len(waited)} connections waited {DELAY:g} s or more between their handshake and "
                      f"accept() (at most {queue.waiting} at once)", "accept() one client, serve it and "
                      "close it before the next accept(): the others wait in the kernel's accept queue")
    again = sum(resent(line) for _, line in pairs)
    if not trial.drops or not again:
        return failed(f"ListenDrops {trial.drops}, {again} SYNs sent again: no SYN was dropped",
                      "serve in turn with the backlog given, so that the queue fills")
    return passed(f"{len(waited)} connections waited for accept(), up to {max(waited):.2f} s after "
                  f"their handshake, {queue.waiting} at once (backlog {queue.backlog}); ListenOverflows "
                  f"{trial.overflows}, ListenDrops {trial.drops}; {again} SYNs sent again; all "
                  f"{len(pairs)} served")


def waits(pairs) -> list[float]:
    """Each client's wait from its request to its reply."""
    return [line.reply - line.request for _, line in pairs if line.reply is not None and line.request]


def at_once(trial: Trial, pairs, what: str) -> Verdict | None:
    """None if three clients in four had their reply within 3 DELAY; else the failure."""
    times = waits(pairs)
    quick = sum(t <= 3 * DELAY for t in times)
    if 4 * quick >= 3 * len(pairs):
        return None
    return failed(f"{len(pairs) - quick} of {len(pairs)} clients waited more than {3 * DELAY:g} s, up to "
                  f"{max(times, default=0):.2f} s: served one after another", what)


def answered(pairs) -> str:
    """'8 clients, each answered 0.15 to 0.16 s after its request (the backend: 0.15 s)'"""
    times = waits(pairs)
    spread = f"{min(times):.2f}" if max(times) - min(times) < 0.005 else f"{min(times):.2f} to {max(times):.2f}"
    return f"{len(pairs)} clients, each answered {spread} s after its request (the backend: {DELAY:g} s)"


def judge_threads(trial: Trial, pairs) -> Verdict:
    wrong = service(trial, pairs)
    if wrong:
        return wrong
    most = max(trial.threads, default=0)
    hint = ("join() waits for the thread to end: start() a thread per connection and go "
            "straight back to accept(); join them all after the last accept()" if most > 1 else
            "start a threading.Thread(target=..., args=(conn,)) for each connection")
    late = at_once(trial, pairs, hint)
    if late:
        return late
    if most < 2:
        return failed(f"the server's process never had more than {most} thread", hint)
    return passed(f"{answered(pairs)}, up to {most} threads")


def blocking_hint(trial: Trial) -> str:
    if not trial.blocking:
        return ("something in the loop waits: await only non-blocking calls (await "
                "backend_async(request), reader.readline())")
    name, seconds = max(trial.blocking, key=lambda call: call[1])
    count = sum(call[0] == name for call in trial.blocking)
    what = f"{name} blocked the event loop {count} times, up to {seconds:.2f} s"
    if "sleep" in name:
        return f"{what}: every client waits; await backend_async(request) (asyncio.sleep) instead"
    return (f"{what}: every client waits; read only when the socket is ready (await "
            "reader.readline(), or setblocking(False) and the selector's EVENT_READ)")


def judge_events(trial: Trial, pairs) -> Verdict:
    if "already registered" in trial.error:
        return failed(trial.error, "unregister() a socket from the selector before close(): a new "
                      "connection gets the same file descriptor number")
    most = max(trial.threads, default=0)
    if most > 1:  # not one loop: whatever waited, waited in a thread of its own
        return failed(f"the server's process had up to {most} threads",
                      "one thread serves everyone: no threading, run_in_executor or to_thread; "
                      "give start_server the ip (a name is looked up in a helper thread)")
    if trial.listened and trial.blocking:  # the loop stood still: every other finding follows from it
        times = waits(pairs)
        return failed(f"{len(trial.blocking)} calls held the loop up; the clients waited up to "
                      f"{max(times, default=0):.2f} s for their reply", blocking_hint(trial))
    wrong = service(trial, pairs)
    if wrong:
        return wrong
    late = at_once(trial, pairs, blocking_hint(trial))
    if late:
        return late
    if not trial.threads:
        return failed("the lab could not count the server's threads", "serve until every client is served")
    return passed(f"{answered(pairs)}, in one thread")
