"""osi-layers: one web page fetched across a router, read header by header.

    h1 ---s1--- r1 ---s2--- h2        topologies/routed.py: two subnets, r1 forwards
    (client)                 (Python's http.server, started by the lab)

Every run draws its subnets, host numbers, MACs, ports and the page. The lab opens a
TCP connection from h1 to h2's web server; the student's frame carries the HTTP
request, Ethernet to IP to TCP to the request's text, and h2's server answers it.
The captured request is shown header by header with its OSI and TCP/IP layers (the
student's osi_layers, also graded on frames the lab stacks from known layers), and
its two copies, the one that crossed s1 and the one r1 sent across s2, are compared
field by field against the student's prediction of what a router changes.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.definition import CheckSpec, Lab
from lab.errors import ScenarioError
from lab.exchange import Sent, arrival, poll
from lab.kinds import Frame
from lab.labs._osi_layers_cases import FIELDS, OSI, SERVER, TCP_IP, draw_fields, draw_page, made_up_frames, \
    quiet_fields, request_copies
from lab.labs._osi_layers_grading import grade_changes, grade_layers, grade_request
from lab.labs._osi_layers_tcp import Connection, handshake, read_and_close
from lab.labs._osi_layers_tls import client_context, fetch as tls_fetch, make_certificate, records
from lab.segments import ports
from lab.wire import payload

INTRO = """\
A web page travels as an HTTP request inside a TCP segment inside an IP packet inside
an Ethernet frame: each layer adds its header in front (encapsulation). Ethernet
(layer 2) carries the frame to the next machine on the segment, here the router r1,
not h2; IP (layer 3) carries the packet from h1 to h2 across networks; TCP (layer 4)
carries the bytes between two programs' ports; HTTP is the application (layer 7).
The TCP/IP model folds OSI's session, presentation and application layers (5-7) into
one: the application. A router works at layer 3: it rewrites the frame around the
packet, takes one off the TTL, and leaves TCP and the page untouched."""


@dataclass
class Evidence:
    """What the scenario saw; each check reads its part."""

    args: tuple = ()                 # build_request's arguments
    h2_mac: str = ""
    gateway_ip: str = ""
    request: Sent = Sent()
    answered: bool = False           # h2's server answered the student's own frame
    answer: bytes = b""              # what the server sent back, whichever frame it answered
    connection: tuple = ()           # (h1's port, h2's port, seq) of the request that was answered
    layer_cases: list = field(default_factory=list)   # (layer names, OSI numbers) per frame, live first
    layers: list = field(default_factory=list)        # (status, value or detail) per frame
    fields: list = field(default_factory=list)        # lists of field names asked about, live first
    changes: list = field(default_factory=list)       # (status, value or detail) per list


def scenario(run) -> None:
    h1, h2, r1 = run.host("h1"), run.host("h2"), run.host("r1")
    ev = run.evidence
    client, spare, server, secure = ports(run.rng, 4)
    page = draw_page(run.rng, h2.ip)
    far_ip, far_mac = r1_far_side(r1)
    with run.step("Set-up: two subnets, r1 between them, a web server in h2",
                  "h1 and h2 are on different subnets: each sends what is not on its own subnet to\n"
                  "its default gateway, r1. The lab wrote the MACs in the ARP tables (no ARP in the\n"
                  "way), started Python's http.server in h2, and keeps h1's kernel quiet (an nft\n"
                  "rule drops its resets: the lab's segments are none of its sockets')."):
        h1.firewall.add("rst-guard", "output", "tcp flags rst")
        h1.kernel.set_neighbour(r1.ip, r1.mac, h1.interface)
        r1.kernel.set_neighbour(h1.ip, h1.mac, r1.interface)
        r1.kernel.set_neighbour(h2.ip, h2.mac, "r1-eth2")
        h2.kernel.set_neighbour(far_ip, far_mac, h2.interface)
        serve(h2, server, page)
        for name, ip, mac in (("h1", h1.ip, h1.mac), ("r1-eth1", r1.ip, r1.mac), ("r1-eth2", far_ip, far_mac),
                              ("h2", h2.ip, h2.mac)):
            run.note(f"{name:<8} {ip:<15} {mac}" + ("   (h1's gateway)" if name == "r1-eth1" else
                                                    "   (h2's gateway)" if name == "r1-eth2" else ""))
        run.note(f"h2's server: http://{h2.ip}:{server}{page.path}")

    path = Connection(h1.mac, r1.mac, h1.ip, h2.ip, client, server)
    with run.step("The lab opens a TCP connection from h1 to h2's server",
                  "Each segment shows twice: as it crossed s1 (h1 to r1) and as r1 sent it on\n"
                  "across s2 (r1 to h2): two frames, one IP packet.", ladder=("h1", "r1", "h2")):
        seq, ack = handshake(h1.port, path, run.rng.randrange(2**32))
        run.note("In Wireshark, each copy r1 sent on is marked a retransmission or a duplicate\n"
                 "ACK: it tells segments apart by addresses and ports, not by link. None was\n"
                 "sent twice: r1 forwarded each one once.")

    with run.step("h1 asks for the page (your build_request)",
                  "Your frame goes to r1's MAC, addressed to h2's IP: the router takes it off the\n"
                  "Ethernet frame and puts the IP packet in a new one for h2.", ladder=("h1", "r1", "h2")):
        fetch(run, h1, h2, path, spare, seq, ack, page.path)

    with run.step("The request frame, header by header (your osi_layers)",
                  "TCP/IP folds OSI's layers 5-7 (session, presentation, application) into one,\n"
                  "the application; its link layer holds OSI's 1 and 2."):
        map_layers(run, h1, h2)

    with run.step("Across the router: one packet, two frames (your changed_fields)",
                  "The copy h1 sent across s1 and the copy r1 sent across s2, field by field."):
        compare(run, h1)

    with run.step("The same page over TLS (shown, not graded)",
                  "Presentation (6): TLS encrypts what HTTP says. Session (5): the second\n"
                  "connection resumes the first one's TLS session instead of a new key exchange.\n"
                  "Only the hellos are readable on the wire.", ladder=("h1", "r1", "h2")):
        over_tls(run, h1, h2, secure, page)


def serve(h2, port: int, page, *tls: str) -> None:
    """Python's http.server in h2 on port, over TLS if given a certificate and key."""
    h2.node.popen(["python3", "-I", "-c", SERVER, h2.ip, str(port), page.body, page.path, *tls])
    if not poll(lambda: any(s.state == "LISTEN" and s.local[1] == port for s in h2.kernel.sockets("tcp")), 2.0):
        raise ScenarioError(f"Python's http.server did not start listening in h2 on port {port} within 2 s")


def r1_far_side(r1) -> tuple[str, str]:
    """r1's address and MAC on h2's subnet (r1-eth2)."""
    address = next(a for name, a in r1.kernel.addresses() if name == "r1-eth2")
    return address.split("/")[0], r1.kernel.link("r1-eth2").mac


def fetch(run, h1, h2, path: Connection, spare: int, seq: int, ack: int, page: str) -> None:
    """The student's request on the open connection; the reference's on a new one if
    h2's server did not answer it (the first connection's stream may hold its bytes)."""
    ev = run.evidence
    ev.args = (path.my_mac, path.gateway_mac, path.my_ip, path.server_ip, path.my_port, path.server_port,
               seq, ack, page)
    ev.h2_mac, ev.gateway_ip = h2.mac, run.host("r1").ip
    response = arrival(h1, lambda p: TCP in p and p[TCP].sport == path.server_port
                       and p[TCP].dport == path.my_port and payload(p).startswith(b"HTTP/"))
    sent = run.exchange("build_request", h1, None, *ev.args, answer=response, fallback=False)
    ev.request, ev.answered = sent.sent, sent.answer is not None
    first, used = sent.answer, path
    if first is None:
        used = Connection(path.my_mac, path.gateway_mac, path.my_ip, path.server_ip, spare, path.server_port)
        run.note("h2's server did not answer; the lab opens a new connection and sends the reference's "
                 "build_request() there, so the steps after this one have a request to read")
        run.event("the lab sends the reference's build_request() on a new connection")
        seq, ack = handshake(h1.port, used, run.rng.randrange(2**32))
        frame = bytes(run.exercise.reference.build_request(used.my_mac, used.gateway_mac, used.my_ip,
                                                           used.server_ip, used.my_port, used.server_port,
                                                           seq, ack, page))
        h1.port.drain()
        h1.port.send(frame)
        first = poll(arrival(h1, lambda p: TCP in p and p[TCP].dport == used.my_port
                             and payload(p).startswith(b"HTTP/")), 0.5)
        if first is None:
            raise ScenarioError("h2's server did not answer even the reference's request")
        sent_len = len(payload(Ether(frame)))
    else:
        sent_len = len(payload(Ether(sent.frame)))
    ev.connection = (used.my_port, used.server_port, seq)
    ev.answer = read_and_close(h1.port, used, (seq + sent_len) % 2**32, first)
    head, _, body = ev.answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode(errors="replace")
    run.note(f"h2's server answered: {status}, "
             f"{len(body)} bytes of page")
    run.note(f"the page: {body.decode(errors='replace').strip()!r}")


def map_layers(run, h1, h2) -> None:
    ev = run.evidence
    live, _ = request_copies(run.wire(), ev)
    if live is None:
        raise ScenarioError("the answered request is not in the capture")
    made_up = made_up_frames(run.rng, h1.ip, h2.ip, h1.mac, h2.mac)
    names = lambda packet: [layer.__name__ for layer in packet.layers()]  # noqa: E731
    ev.layer_cases = [(names(live), [2, 3, 4, 7])] + [(names(Ether(data)), truth) for data, truth in made_up]
    outcome = run.student("osi_layers", h1, live, extra=[(Ether(data),) for data, _ in made_up])
    ev.layers = [(outcome.status, outcome.value if outcome.by_student else outcome.detail), *outcome.cases]
    given = outcome.value if isinstance(outcome.value, list) else []
    who = "you" if outcome.by_student else "ref"
    run.note(f"{'header':<6} {'OSI':<14} {'TCP/IP':<12} {who}")
    for index, layer in enumerate(live.layers()):
        number = [2, 3, 4, 7][index] if index < 4 else 0
        said = given[index] if index < len(given) else "?"
        text = live[layer].mysummary() if layer.__name__ != "Raw" else repr(payload(live))
        run.note(f"{layer.__name__:<6} {number} {OSI.get(number, '?'):<12} {TCP_IP.get(number, '?'):<12} {said}")
        run.note(f"{'':<6} {text[:66]}")
    run.note(f"(and {len(made_up)} frames of other protocols the lab stacked itself, graded too)")


def over_tls(run, h1, h2, port: int, page) -> None:
    with tempfile.TemporaryDirectory(prefix="osi-layers-") as folder:
        cert, key = make_certificate(Path(folder), h2.ip)
        serve(h2, port, page, str(cert), str(key))
        context = client_context(cert)
    first, session = tls_fetch(h1, h2.ip, port, context, page.path)
    second, _ = tls_fetch(h1, h2.ip, port, context, page.path, session)
    wire = run.wire()
    run.note(f"h2's TLS server: https://{h2.ip}:{port}{page.path}")
    for number, seen in enumerate((first, second), 1):
        run.note(f"connection {number}: {seen.version} {seen.cipher}, "
                 f"{'session resumed' if seen.resumed else 'new session'}; {seen.status}")
    for direction, what, length in records(wire, (h1.ip, first.port), (h2.ip, port)):
        run.note(f"connection 1 {direction}: {what}, {length} bytes")
    clear = wire.select(lambda p: TCP in p and port in (p[TCP].sport, p[TCP].dport) and b"GET " in payload(p))
    run.note(f"frames of these connections holding 'GET ' in clear: {len(clear)}")


def compare(run, h1) -> None:
    """The student's prediction for this run's fields, then for other lists of them."""
    ev = run.evidence
    ev.fields = [draw_fields(run.rng), draw_fields(run.rng), quiet_fields(run.rng)]
    outcome = run.student("changed_fields", h1, list(ev.fields[0]), extra=[(list(f),) for f in ev.fields[1:]])
    ev.changes = [(outcome.status, outcome.value if outcome.by_student else outcome.detail), *outcome.cases]
    first, second = request_copies(run.wire(), ev)
    for name in ev.fields[0]:
        a, b = FIELDS[name](first), FIELDS[name](second)
        shown = (lambda v: repr(v[:20]) if isinstance(v, bytes) else str(v))  # noqa: E731
        run.note(f"{name:<10} s1: {shown(a):<22} s2: {shown(b):<22} {'changed' if a != b else ''}")
    run.note(f"(and {len(ev.fields) - 1} more lists of fields, graded too)")


LAB = Lab(
    name="osi-layers",
    title="OSI layers: a web page across a router, header by header",
    topology="routed",
    exercise="osi_layers",
    todos=("build_request", "osi_layers", "changed_fields"),
    returns={"build_request": Frame(Ether, IP, TCP), "osi_layers": list[int], "changed_fields": list[str]},
    checks=(
        CheckSpec("request", "build_request", "h1's HTTP request frame, answered by h2's http.server",
                  grade_request),
        CheckSpec("layers", "osi_layers", "each header mapped to its OSI layer", grade_layers),
        CheckSpec("router", "changed_fields", "what r1 changed between the copies on s1 and s2",
                  grade_changes),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
