"""client-server: a small text protocol over TCP, a server written by the student in h2
and its client in h1, then three clients at once (h1, h3, h4) against the same server.

        h1   h3   h4                      topologies/star.py, four hosts
          \\  |  /
             s1 --- h2                    the student's server

Every run draws its subnet, the two ports and each client's requests: the numbers and
words, the commands, which request is malformed and how. Grading reads each
connection from the capture: each request and each reply in its own segment, the
replies the protocol demands (known by construction from the drawn requests), ERR
malformed for the malformed one, and every connection ended by FIN on both sides.
(h2 holds the server: a client there would speak over loopback, off the wire.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.exchange import poll
from lab.grading import CONSTANT_HINT, score
from lab.labs._client_server_draw import BYE, ERROR, QUIT, Script, draw, good, malformed
from lab.labs._client_server_wire import connections
from lab.labs._client_server_grading import grade_answers, grade_client, grade_crowd, grade_malformed
from lab.labs._socket_steps_experiments import listening
from lab.labs._socket_steps_trace import Role, labels

TIMEOUT = 3.0

INTRO = """\
In client/server, the client talks straight to the server over a connection of its
own, and here the client holds the logic: it decides what to ask and reads the
answers; the server only answers, one line per request. The protocol is yours to
speak: ADD a b, UPPER word, LEN word, QUIT; anything else draws ERR malformed. As
clients come at once, one server serving them in turn makes them wait: the first
sign of the congestion that grows with the number of users."""


@dataclass
class Evidence:
    """What the scenario saw; the checks read the capture's connections against it."""

    server_ip: str = ""
    client_ip: str = ""
    solo_port: int = 0
    crowd_port: int = 0
    solo: Script = Script()
    crowd: tuple[Script, ...] = ()
    crowd_names: tuple[str, ...] = ()
    crowd_ips: tuple[str, ...] = ()
    solo_reply: Any = None
    served: Any = None
    crowd_served: Any = None
    rule: tuple = ()          # (request, truth, kind) of the live case, then of each hidden case
    rule_given: Any = None
    rule_cases: tuple = ()


def hidden(rng) -> list[tuple[str, str, str]]:
    """Cases for answer(), each made with its right reply."""
    cases = [(*good(rng), "well formed") for _ in range(3)] + [(QUIT, BYE, "QUIT")]
    while len(cases) < 8:
        request, kind = malformed(rng)
        cases.append((request, ERROR, kind))
    rng.shuffle(cases)
    return cases


def scenario(run) -> None:
    hosts = {name: run.host(name) for name in ("h1", "h2", "h3", "h4")}
    h1, h2, ev, drawn = hosts["h1"], hosts["h2"], run.evidence, draw(run.rng)
    crowd = [hosts[name] for name in ("h1", "h3", "h4")]
    ev.server_ip, ev.client_ip, ev.solo_port, ev.crowd_port = h2.ip, h1.ip, drawn.solo_port, drawn.crowd_port
    ev.solo, ev.crowd = drawn.solo, drawn.crowd
    ev.crowd_names, ev.crowd_ips = tuple(h.name for h in crowd), tuple(h.ip for h in crowd)
    with run.step("Set-up: the hosts know each other's MAC, so only TCP speaks"):
        run.introduce(*hosts.values())
        run.note(f"this run: ports {drawn.solo_port} and {drawn.crowd_port}; h1 asks "
                 f"{', '.join(drawn.solo.requests)}")
    with run.step("The protocol's rule: one request line, one reply line (your answer)"):
        cases = hidden(run.rng)
        live = (drawn.solo.requests[drawn.solo.bad], ERROR, drawn.solo.kind)
        outcome = run.student("answer", h2, live[0], extra=[(c[0],) for c in cases])
        ev.rule, ev.rule_given, ev.rule_cases = (live, *cases), outcome.value, outcome.cases
        run.note(f"answer({live[0]!r}) gave {outcome.value!r} (and {len(cases)} cases the lab made up)")
    with run.step("One client: your server in h2, your client in h1",
                  "Each request waits for its reply: watch one segment each way per line.", ladder=("h1", "h2")):
        server = run.start("serve", h2, h2.ip, drawn.solo_port, 1, timeout=TIMEOUT, trace=True)
        poll(lambda: listening(h2, "tcp", drawn.solo_port), 1.0)
        client = run.start("talk", h1, h2.ip, drawn.solo_port, list(drawn.solo.requests), timeout=TIMEOUT,
                           trace=True)
        client, server = run.finish(client), run.finish(server)
        for host, outcome in ((h1, client), (h2, server)):
            for at, text in labels(Role.of(outcome).calls):
                run.state(host, text, at=at)
        ev.solo_reply, ev.served = client.value, server.value
        run.note(f"the client returned {client.value!r}")
    with run.step(f"{len(crowd)} clients at once: h1, h3 and h4 against your server in h2",
                  "The lab starts the three clients together, each in its own process (a few ms\n"
                  "apart). The kernel completes each handshake and queues the connection until\n"
                  "accept() takes it: a server that serves one at a time makes the others wait.\n"
                  "Each client has its column; the lines below say when each one was served.",
                  ladder=(*(host.name for host in crowd), "h2")):
        server = run.start("serve", h2, h2.ip, drawn.crowd_port, len(crowd), timeout=TIMEOUT, trace=True)
        poll(lambda: listening(h2, "tcp", drawn.crowd_port), 1.0)
        pending = [run.start("talk", host, h2.ip, drawn.crowd_port, list(script.requests), timeout=TIMEOUT,
                             trace=True) for host, script in zip(crowd, drawn.crowd)]
        clients = [run.finish(p) for p in pending]
        ev.crowd_served = run.finish(server).value
        for host, outcome in zip(crowd, clients):
            run.note(f"{host.name}'s client returned {outcome.value!r}")
        for line in timeline(run.wire(), h2.ip, drawn.crowd_port, crowd, run.started):
            run.note(line)


def timeline(wire, server_ip: str, port: int, clients, started: float) -> list[str]:
    """One line per client: when it connected, when its first reply came, when h2's FIN."""
    found = {c.client_ip: c for c in connections(wire, server_ip, port)}
    lines = []
    for host in clients:
        connection = found.get(host.ip)
        if connection is None or not connection.up:
            lines.append(f"{host.name}: {'no connection' if connection is None else 'sent nothing'}")
            continue
        ms = [f"{1000 * (t - started):.1f}" if t is not None else "never" for t in
              (connection.up[0][0], connection.down[0][0] if connection.down else None, connection.fin_down)]
        lines.append(f"{host.name}: first request at {ms[0]} ms, its reply at {ms[1]} ms, h2's FIN at {ms[2]} ms")
    return lines


def grade_rule(ev: Evidence, wire) -> Verdict:
    (request, truth, kind), hidden_cases = ev.rule[0], ev.rule[1:]
    cases = score(ev.rule_given == truth, ev.rule_cases, [c[1] for c in hidden_cases])
    if cases.right == cases.total:
        return passed(f"answer() {cases.summary}, the malformed ones with {ERROR!r}")
    if cases.constant:
        return failed(cases.summary, CONSTANT_HINT)
    index, given, right = cases.wrong
    request, truth, kind = ev.rule[index]
    given = ev.rule_given if index == 0 else given
    detail = f"answer({request!r}) gave {given!r}; {cases.summary}"
    if truth == BYE:
        return failed(detail, "QUIT is answered BYE")
    if truth != ERROR:
        return failed(detail, f"the protocol answers {request!r} with {truth!r}: 'OK ' and the result")
    if isinstance(given, str) and given.startswith("ERR"):
        return failed(detail, f"the protocol's error reply is exactly {ERROR!r}")
    return failed(detail, f"{request!r} is malformed ({kind}): answer {ERROR!r}")


LAB = Lab(
    name="client-server",
    title="Client/server: your own text protocol over TCP, one client then three",
    topology="star",
    topology_args=(4,),
    exercise="client_server",
    todos=("answer", "serve", "talk"),
    returns={"answer": str, "serve": int, "talk": list[str]},
    checks=(
        CheckSpec("rule", "answer", "answer(): each request's reply, ERR malformed if bad", grade_rule),
        CheckSpec("answers", "serve", "server: one reply per request in its own segment, FIN",
                  grade_answers),
        CheckSpec("malformed", "serve", "server: a malformed request draws ERR, not a crash",
                  grade_malformed),
        CheckSpec("crowd", "serve", "server: three clients at once, each served, each FIN",
                  grade_crowd),
        CheckSpec("client", "talk", "client: a request after each reply, QUIT, BYE, FIN", grade_client),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
