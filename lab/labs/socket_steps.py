"""socket-steps: which socket call puts what on the wire, for a TCP and a UDP echo
written by the student with Python's socket module, plus two experiments: restarting
a server with and without SO_REUSEADDR, and shutdown() on UDP sockets.

    h1 ---s1--- h2                       topologies/star.py, two hosts
    student's clients                    student's servers, on a TCP and a UDP port

Every run draws its subnet, its ports and the message the clients send (its text and
its length). The student's functions run in sandboxed children inside their hosts, at
the same time, and every socket call is recorded with the id of its socket (a thin
subclass of socket.socket put in the socket module's place in those children), then
drawn beside the frames. Grading reads the message and its echo from the capture, and
ties each call to its socket: close() must be called on the connection accept() gave.
"""
from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.inet import IP, TCP, UDP

from lab.definition import CheckSpec, Lab, Verdict, blocked, failed, passed
from lab.exchange import poll
from lab.exercise import DONE
from lab.grading import first_mistake
from lab.labs._socket_steps_draw import draw
from lab.labs._socket_steps_experiments import Rebind, Shutdowns, bind_again, close_first, listening, shutdowns
from lab.labs._socket_steps_trace import CONNECT, TCP_RECEIVE, TCP_SEND, UDP_RECEIVE, UDP_SEND, Call, Role, \
    during, fin_sender, find, find_failed, labels, listed, recreated, sequence
from lab.labs._socket_steps_wire import Echo, came_back, connection_of, handshake_ends, said, sent_by
from lab.peers import states
from lab.wire import payload

TIMEOUT = 3.0

INTRO = """\
A TCP server calls socket, setsockopt (optional), bind, listen, accept, recv/send,
close; its client socket, connect, send/recv, close. A UDP server calls socket, bind,
recvfrom, sendto, close; its client needs no connect. Only some of these calls put
anything on the wire: connect() sends the SYN, close() the FIN, send() and sendto()
data. listen() and accept() send nothing: the kernel answers the handshake on its
own, and accept() only hands over a connection that is already established."""


@dataclass
class Evidence:
    """What the scenario saw; the checks read the echoes, the experiments are shown."""

    tcp: Echo = Echo()
    udp: Echo = Echo()
    rebinds: tuple[Rebind, ...] = ()
    shutdowns: Shutdowns = Shutdowns()


# --- the run: two echoes written by the student, two experiments by the lab ---

def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    drawn = draw(run.rng)
    with run.step("Set-up: h1 and h2 know each other's MAC (the lab wrote it), so only sockets speak"):
        run.introduce(h1, h2)
        run.note(f"this run: TCP port {drawn.tcp}, UDP port {drawn.udp}; the clients send "
                 f"{len(drawn.message)} bytes: {drawn.message!r}")
    run.evidence.tcp = echo_pair(run, h1, h2, "tcp", drawn.tcp, drawn.message)
    run.evidence.udp = echo_pair(run, h1, h2, "udp", drawn.udp, drawn.message)
    run.evidence.rebinds = restart(run, h1, h2, drawn.restart)
    run.evidence.shutdowns = udp_shutdown(run, h1, h2, drawn.nobody)


def echo_pair(run, h1, h2, kind: str, port: int, message: bytes) -> Echo:
    text = {"tcp": "Each call is drawn at the moment it started, on its host's side, with how long\n"
                   "it waited when it blocked. Watch which calls have a segment next to them. (The\n"
                   "lab records the calls with a thin subclass of socket.socket that it puts in the\n"
                   "socket module's place, only in the processes that run your functions.)",
            "udp": "No handshake, no teardown: the first frame is the data, the last is the echo."}[kind]
    with run.step(f"{kind.upper()} echo: your server in h2, your client in h1", text, ladder=("h1", "h2")):
        server = run.start(f"{kind}_echo_server", h2, h2.ip, port, timeout=TIMEOUT, trace=True)
        poll(lambda: listening(h2, kind, port), 1.0)
        client = run.start(f"{kind}_echo_client", h1, h2.ip, port, message, timeout=TIMEOUT, trace=True)
        client, server = run.finish(client), run.finish(server)
        roles = [Role.of(outcome) for outcome in (client, server)]
        for host, role in zip((h1, h2), roles):
            for at, drawn in labels(role.calls):
                run.state(host, drawn, at=at)
        run.note(f"the client got {client.value!r} back")
    return Echo(roles[1], roles[0], h1.ip, h2.ip, port, message)


def restart(run, h1, h2, ports: tuple[int, int]) -> tuple[Rebind, ...]:
    with run.step("Experiment: restart a TCP server right after it closed a connection",
                  "The server closes first, so its side of the connection waits in TIME_WAIT,\n"
                  "still holding the port. A new server socket then binds the same port, with and\n"
                  "without SO_REUSEADDR; and all that twice, for a first server that had set\n"
                  "SO_REUSEADDR and for one that had not: the old connection keeps its server's\n"
                  "option, and Linux lets the port be reused only if both sides asked for it.",
                  ladder=("h1", "h2")):
        rebinds = []
        for port, first_reuse in zip(ports, (False, True)):
            close_first(h1, h2, port, first_reuse)
            run.state(h2, f":{port} {states(h2, port)}")
            for reuse in (False, True):
                rebinds.append(Rebind(first_reuse, reuse, port, bind_again(h2, port, reuse)))
                run.note(f"first server {'with' if first_reuse else 'without'} SO_REUSEADDR, port {port} in "
                         f"TIME_WAIT; bind again {'with' if reuse else 'without'}: {rebinds[-1].result}")
    return tuple(rebinds)


def udp_shutdown(run, h1, h2, nobody: int) -> Shutdowns:
    with run.step("Experiment: shutdown() on UDP sockets",
                  "Does shutdown() mean anything on UDP, with no connection to shut? On Linux it\n"
                  "depends:",
                  ladder=("h1", "h2")):
        found = shutdowns(h1, h2, nobody, lambda: len(run.wire().frames))
        run.note(f"shutdown() on an unconnected UDP socket: {found.unconnected}")
        run.note(f"on a connected one (connect() only chose the peer, nothing was sent): "
                 f"{found.connected}; frames it put on the wire: {found.frames}")
        run.note(f"send() after shutdown(SHUT_WR): {found.send_after}")
    return found


# --- grading: the recorded calls, tied to their sockets, against the captured frames ---

def set_up_wrong(role: Role) -> Verdict | None:
    """No call recorded at all, or a bind() that failed: nothing else can be judged."""
    calls = role.calls
    if not calls and role.status != DONE:  # it failed before any socket call: the error says why
        return failed("no socket call was recorded")
    if not any(c.name == "socket" for c in calls):  # `from socket import socket` escapes the lab's trace
        seen = f"; calls: {listed(calls)}" if calls else ""
        return failed(f"the lab saw no socket() call{seen}",
                      "use `import socket` and `socket.socket(...)` (or socket.create_connection / "
                      "create_server), so the lab can see your calls")
    if bad := find_failed(calls, ("bind",)):
        return failed(f"bind() {bad.detail}", "bind((my_ip, port)) with the address and port your function was given")
    return None


def client_blamed(what: str, fix: str) -> Verdict:
    """The server could not be judged: its client never gave it the message."""
    return blocked(f"{what}, so the echo could not be checked",
                   f"your server is graded on the echo of the message the client was given: fix {fix}() "
                   "first (see its check)", fix)


def grade_tcp_server(ev: Evidence, wire) -> Verdict:
    echo, calls = ev.tcp, ev.tcp.server.calls
    if wrong := set_up_wrong(echo.server):
        return wrong
    listened = find(calls, "listen")
    if listened is None:
        return failed(f"calls: {listed(calls)}",
                      "call listen() after bind(): accept() needs a listening socket (without it, EINVAL)")
    synack = sent_by(wire.tcp(sport=echo.port, flags="SA"), echo.server_ip)
    syn = sent_by(wire.tcp(dport=echo.port, flags="S"), echo.client_ip)
    if not synack and syn:
        return failed(f"h2's kernel answered h1's SYN to port {echo.port} with a reset",
                      "nothing listened on the port the client was given: bind((my_ip, port)), then listen()")
    if not syn:
        return client_blamed("the client never connected", "tcp_echo_client")
    client, crossed = connection_of(wire, echo)
    if client is None:
        return client_blamed(f"the client sent {crossed} instead of its message", "tcp_echo_client")
    return tcp_server_calls(echo, wire, listened, client)


def tcp_server_calls(echo: Echo, wire, listened: Call, client: int) -> Verdict:
    """The client's message reached h2: now the server's own calls, on their sockets."""
    calls, message = echo.server.calls, echo.message
    (bound, _, accepted), missing = sequence(calls, [("bind",), ("listen",), ("accept",)], listened.sid)
    option = find(calls, "setsockopt", listened.sid)
    connection = accepted.gave if accepted else None
    (_, echoed), unserved = sequence(calls, [TCP_RECEIVE, TCP_SEND], connection)
    if verdict := first_mistake(f"calls: {listed(calls)}", [
        (missing, f"{missing}() is missing or out of place: socket, bind, listen, accept, recv, send, close"),
        (option is None or bound is not None and option.started > bound.started,
         "call setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(): the restart experiment shows what "
         "happens without it"),
        (unserved, f"{unserved}() on the connection is missing or out of place: recv() from the socket "
                   "accept() returned, then sendall() the bytes back on it"),
    ]):
        return verdict
    if (back := came_back(wire, echo, client)) != message:
        return failed(f"the client sent {message!r}; h2 sent back {said([back])}",
                      "send back exactly the bytes recv() gave you, with sendall()")
    if echo.server.value != message:
        return failed(f"returned {echo.server.value!r}", "return the bytes recv() gave you: the client's message")
    closed = find(calls, "close", connection, after=accepted.returned)
    if closed is None or recreated(calls, connection, accepted.returned, closed.started):
        return failed("close() was never called on the connection accept() returned",
                      "close() the connection (or use `with connection:`): the FIN must come from your "
                      "close(), not from Python freeing the socket when the function returns")
    mine = sent_by(wire.tcp(sport=echo.port, dport=client), echo.server_ip)
    ender, fin = fin_sender(calls, connection, closed, mine)
    if ender is None:
        why = "no FIN left h2" if not fin else "h2's FIN left before close() was called on the connection"
        return failed(why, "close() the connection: that is what sends the FIN")
    quiet = not during(sent_by(wire.frames, echo.server_ip), listened)
    synack, ack = handshake_ends(wire, echo, client, mine, fin)
    waiting = "while accept() was still waiting" if synack.time < accepted.returned else "on its own"
    return passed(f"{'listen() sent nothing; ' if quiet else ''}h2's kernel sent the SYN-ACK {waiting}, and "
                  f"accept() returned {1000 * (accepted.returned - ack.time):.2f} ms after h1's ACK; "
                  f"{echoed.name}() sent the echo; {ender.name}() on the connection sent the FIN")


def grade_tcp_client(ev: Evidence, wire) -> Verdict:
    echo, calls, message = ev.tcp, ev.tcp.client.calls, ev.tcp.message
    if wrong := set_up_wrong(echo.client):
        return wrong
    connected, tried = find(calls, CONNECT), find_failed(calls, CONNECT)
    if connected is None and tried:
        return first_mistake(f"{tried.name}() {tried.detail}", [
            ("refused" in tried.detail.lower(), "connect() was refused: nothing listened on the server's port when "
             "the SYN came (the server's check says why); the kernel answered the SYN with a reset"),
            (True, "connect((server_ip, port)) with the address and port your function was given")])
    if connected is None:
        return failed(f"calls: {listed(calls)}",
                      "connect((server_ip, port)) is missing: a TCP client connects before it sends")
    client, crossed = connection_of(wire, echo)
    if client is None:
        return failed(f"the message never crossed the wire; h1 sent {crossed}",
                      "sendall(message) on the connected socket: the server must get exactly the bytes "
                      "you were given")
    if (back := came_back(wire, echo, client)) != message:
        return failed(f"your message reached h2; h2 sent back {said([back])}",
                      "the server did not echo your message: see the TCP server's check")
    return tcp_client_calls(echo, wire, connected, client)


def tcp_client_calls(echo: Echo, wire, connected: Call, client: int) -> Verdict:
    """The message went and came back: now the client's own calls, on its socket."""
    calls, sid = echo.client.calls, connected.sid
    (_, received, closed), missing = sequence(calls, [TCP_SEND, TCP_RECEIVE, ("close",)], sid)
    if missing == "close" or (closed and recreated(calls, sid, connected.returned, closed.started)):
        return failed("close() was never called on the connected socket",
                      "close() the socket (or use `with`): the FIN must come from your close(), not from "
                      "Python freeing the socket when the function returns")
    if missing:
        return failed(f"calls: {listed(calls)}",
                      f"{missing}() is missing or out of place: socket, connect, sendall, recv, close")
    if echo.client.value != echo.message:
        return failed(f"returned {echo.client.value!r}", "return what recv() gave: the echo of your message")
    mine = sent_by(wire.tcp(sport=client, dport=echo.port), echo.client_ip)
    syn = [f for f in during(mine, connected) if str(f.packet[TCP].flags) == "S"]
    ender, _ = fin_sender(calls, sid, closed, mine)
    synack = wire.tcp(sport=echo.port, dport=client, flags="SA")
    if not (syn and synack and ender):
        return failed("no SYN during connect() or no FIN after close()",
                      "connect() to (server_ip, port) and close() the socket at the end")
    return passed(f"{connected.name}() sent the SYN and returned "
                  f"{1000 * (connected.returned - synack[0].time):.2f} ms after the SYN-ACK arrived; the message "
                  f"crossed and came back to {received.name}(); {ender.name}() sent the FIN")


def grade_udp_server(ev: Evidence, wire) -> Verdict:
    echo, calls, message = ev.udp, ev.udp.server.calls, ev.udp.message
    if wrong := set_up_wrong(echo.server):
        return wrong
    if any(c.name in ("listen", "accept") for c in calls):
        return failed(f"calls: {listed(calls)}", "a UDP server has no listen() or accept(): bind(), then recvfrom()")
    asked = sent_by(wire.udp(dport=echo.port), echo.client_ip, echo.server_ip)
    request = next((f for f in asked if payload(f.packet) == message), None)
    if request is None:
        return client_blamed(f"the client sent {said(payload(f.packet) for f in asked)} instead of its message",
                             "udp_echo_client")
    if sent_by(wire.icmp(type=3, code=3), echo.server_ip):
        return failed(f"h2's kernel answered the client's datagram to port {echo.port} with ICMP port unreachable",
                      "no socket was bound to the port the client wrote to: bind((my_ip, port)) with the "
                      "port your function was given")
    (_, _, echoed), missing = sequence(calls, [("bind",), UDP_RECEIVE, UDP_SEND])
    if missing:
        return failed(f"calls: {listed(calls)}",
                      f"{missing}() is missing or out of place: socket, bind, recvfrom, sendto, close")
    client_port = request.packet[UDP].sport
    answers = sent_by(wire.udp(sport=echo.port), echo.server_ip)
    if not answers:
        return failed("no datagram went back from the server's port",
                      "sendto() the bytes back from the socket you bound: its port is the one the client "
                      "wrote to, and the one its echo must come from")
    reply = answers[0].packet
    if (reply[IP].dst, reply[UDP].dport) != (echo.client_ip, client_port):
        return failed(f"the echo went to {reply[IP].dst}:{reply[UDP].dport}, the client listens on "
                      f"{echo.client_ip}:{client_port}",
                      "reply to the address recvfrom() returned: the client's port was chosen by its "
                      "kernel, and only that address gets the echo")
    if payload(reply) != message:
        return failed(f"the client sent {message!r}; h2 sent back {payload(reply)!r}",
                      "send back exactly the bytes recvfrom() gave you, in one datagram")
    if echo.server.value != message:
        return failed(f"returned {echo.server.value!r}",
                      "return the data recvfrom() gave you (the first item of its pair)")
    return passed(f"recvfrom() returned the client's address {echo.client_ip}:{client_port}; "
                  f"{echoed.name}() answered it with one datagram, no set-up before it")


def grade_udp_client(ev: Evidence, wire) -> Verdict:
    echo, calls, message = ev.udp, ev.udp.client.calls, ev.udp.message
    if wrong := set_up_wrong(echo.client):
        return wrong
    mine = sent_by(wire.udp(dport=echo.port), echo.client_ip, echo.server_ip)
    datagram = next((f for f in mine if payload(f.packet) == message), None)
    if datagram is None:
        broken = find_failed(calls, UDP_SEND)
        return failed(f"the message never crossed the wire; h1 sent {said(payload(f.packet) for f in mine)}",
                      f"{broken.name}() {broken.detail}: send to (server_ip, port), the address and port your "
                      "function was given" if broken else
                      "sendto(message, (server_ip, port)): the whole message, in one datagram")
    my_port = datagram.packet[UDP].sport
    back = [payload(f.packet) for f in sent_by(wire.udp(dport=my_port), echo.server_ip, echo.client_ip)]
    if not back:
        return failed(f"no echo came back to {echo.client_ip}:{my_port}",
                      "your recvfrom() waited for an echo that went elsewhere: see the UDP server's check")
    if message not in back:
        return failed(f"your message reached h2; h2 sent back {back[0]!r}",
                      "the server did not echo your message: see the UDP server's check")
    first = find(calls, UDP_SEND)
    (sent, received), missing = sequence(calls, [UDP_SEND, UDP_RECEIVE], first.sid if first else None)
    if missing:
        return failed(f"calls: {listed(calls)}",
                      f"{missing}() is missing or out of place: socket, sendto, recvfrom, close")
    if echo.client.value != message:
        return failed(f"returned {echo.client.value!r}", "return the data recvfrom() gave (the first item of its pair)")
    tied = find(calls, "connect", sent.sid)
    setup = "connect() sent nothing (it only chose the peer); " if tied and tied.started < sent.started else ""
    return passed(f"{setup}{sent.name}() put the message on the wire in one datagram, with no set-up before it; "
                  f"{received.name}() returned the echo")


TODOS = ("tcp_echo_server", "tcp_echo_client", "udp_echo_server", "udp_echo_client")
LAB = Lab(
    name="socket-steps",
    title="Socket calls and the wire: which call sends what, for TCP and UDP",
    topology="star",
    topology_args=(2,),
    exercise="socket_steps",
    todos=TODOS,
    returns=dict.fromkeys(TODOS, bytes),
    checks=(
        CheckSpec("tcp-server", "tcp_echo_server",
                  "TCP server: listen and accept send nothing, close() on the connection the FIN", grade_tcp_server),
        CheckSpec("tcp-client", "tcp_echo_client", "TCP client: connect sends the SYN, the message, close the FIN",
                  grade_tcp_client),
        CheckSpec("udp-server", "udp_echo_server", "UDP server: recvfrom, then sendto the sender's address",
                  grade_udp_server),
        CheckSpec("udp-client", "udp_echo_client", "UDP client: the message in one datagram, no set-up",
                  grade_udp_client),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
