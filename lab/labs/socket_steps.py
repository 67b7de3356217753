"""socket-steps: which socket call puts what on the wire, for a TCP and a UDP echo
written by the student with Python's socket module, plus two experiments: restarting
a server with and without SO_REUSEADDR, and shutdown() on UDP sockets.

    h1 10.0.0.1 ---s1--- h2 10.0.0.2     topologies/star.py, two hosts
    student's clients                    student's servers: TCP 6000, UDP 7000

The student's functions run in forked children inside their hosts, at the same
time, and every socket call is recorded (a thin subclass of socket.socket put in
the socket module's place in those children), then drawn beside the frames.
"""
from __future__ import annotations

import errno
import socket

from scapy.layers.inet import IP, TCP, UDP

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.peers import accept, connect, states
from lab.segments import poll
from lab.wire import payload

TCP_PORT, UDP_PORT, RESTART_PORT = 6000, 7000, 6001  # and 6002
MESSAGE = b"echo me, please"
TIMEOUT = 3.0
BLOCKING = ("accept", "connect", "recv", "recvfrom")

INTRO = """\
A TCP server calls socket, setsockopt (optional), bind, listen, accept, recv/send,
close; its client socket, connect, send/recv, close. A UDP server calls socket, bind,
recvfrom, sendto, close; its client needs no connect. Only some of these calls put
anything on the wire: connect() sends the SYN, close() the FIN, send() and sendto()
data. listen() and accept() send nothing: the kernel answers the handshake on its
own, and accept() only hands over a connection that is already established."""


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    with run.step("Set-up: h1 and h2 learn each other's MAC (ping), so only sockets speak below"):
        h1.cmd("ping -c1 -W1", h2.ip)
    echo_pair(run, h1, h2, "tcp", TCP_PORT)
    echo_pair(run, h1, h2, "udp", UDP_PORT)
    restart(run, h1, h2)
    udp_shutdown(run, h1, h2)


def listening(host, kind: str, port: int) -> bool:
    found = host.kernel.sockets(kind)
    return any(s.local[1] == port and (kind == "udp" or s.state == "LISTEN") for s in found)


def echo_pair(run, h1, h2, kind: str, port: int) -> None:
    title = {"tcp": "TCP echo: your server in h2, your client in h1",
             "udp": "UDP echo: your server in h2, your client in h1"}[kind]
    text = {"tcp": "Each call is drawn at the moment it started, on its host's side, with how long\n"
                   "it waited when it blocked. Watch which calls have a segment next to them. (The\n"
                   "lab records the calls with a thin subclass of socket.socket that it puts in the\n"
                   "socket module's place, only in the processes that run your functions.)",
            "udp": "No handshake, no teardown: the first frame is the data, the last is the echo."}[kind]
    with run.step(title, text, ladder=("h1", "h2")):
        server = run.start(f"{kind}_echo_server", h2, h2.ip, port, timeout=TIMEOUT, trace=True)
        poll(lambda: listening(h2, kind, port), 1.0)
        client = run.start(f"{kind}_echo_client", h1, h2.ip, port, MESSAGE, timeout=TIMEOUT, trace=True)
        ended = {"client": run.finish(client), "server": run.finish(server)}
        for host, outcome in ((h1, ended["client"]), (h2, ended["server"])):
            for started, returned, name, detail in outcome.calls:
                waited = f" ({1000 * (returned - started):.1f} ms)" if name in BLOCKING else ""
                failed = " FAILED" if "raised" in detail else " NEVER RETURNED" if "still waiting" in detail else ""
                run.state(host, f"{name}(){waited}{failed}", at=started)
        run.note(f"the client got {ended['client'].value!r} back")
        run.evidence[kind] = {role: {"calls": list(o.calls), "value": o.value} for role, o in ended.items()}
        run.evidence[kind].update(client_ip=h1.ip, server_ip=h2.ip, port=port)


def restart(run, h1, h2) -> None:
    with run.step("Experiment: restart a TCP server right after it closed a connection",
                  "The server closes first, so its side of the connection waits in TIME_WAIT,\n"
                  "still holding the port. A new server socket then binds the same port, with and\n"
                  "without SO_REUSEADDR; and all that twice, for a first server that had set\n"
                  "SO_REUSEADDR and for one that had not: the old connection keeps its server's\n"
                  "option, and Linux lets the port be reused only if both sides asked for it.",
                  ladder=("h1", "h2")):
        results = {}
        for port, first_reuse in ((RESTART_PORT, False), (RESTART_PORT + 1, True)):
            close_first(run, h1, h2, port, first_reuse)
            for reuse in (False, True):
                results[(first_reuse, reuse)] = bind_again(h2, port, reuse)
                run.note(f"first server {'with' if first_reuse else 'without'} SO_REUSEADDR, port {port} in "
                         f"TIME_WAIT; bind again {'with' if reuse else 'without'}: {results[(first_reuse, reuse)]}")
        run.evidence["restart"] = {f"{a}-{b}": result for (a, b), result in results.items()}


def close_first(run, h1, h2, port: int, reuse: bool) -> None:
    """A connection to a server on port that the server closes first, then its listener."""
    server = h2.socket()
    if reuse:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((h2.ip, port))
    server.listen()
    server.setblocking(False)
    client = connect(h1, h2, port)
    connection = poll(lambda: accept(server), 0.5)
    connection.close()
    poll(lambda: "FIN_WAIT2" in h2.tcp_states(port), 0.5)
    client.close()
    poll(lambda: "TIME_WAIT" in h2.tcp_states(port), 0.5)
    server.close()
    run.state(h2, f":{port} {states(h2, port)}")


def bind_again(host, port: int, reuse: bool) -> str:
    fresh = host.socket()
    if reuse:
        fresh.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        fresh.bind((host.ip, port))
        return "bound"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    finally:
        fresh.close()


def udp_shutdown(run, h1, h2) -> None:
    with run.step("Experiment: shutdown() on UDP sockets",
                  "The study note says shutdown has no effect on UDP. On Linux it depends:",
                  ladder=("h1", "h2")):
        found = {}
        loose = h1.socket(socket.SOCK_DGRAM)
        loose.bind((h1.ip, 0))
        found["unconnected"] = attempt(lambda: loose.shutdown(socket.SHUT_RDWR))
        tied = h1.socket(socket.SOCK_DGRAM)
        tied.connect((h2.ip, UDP_PORT + 1))
        before = len(run.wire().frames)
        found["connected"] = attempt(lambda: tied.shutdown(socket.SHUT_WR))
        found["frames"] = len(run.wire().frames) - before
        found["send_after"] = attempt(lambda: tied.send(b"after shutdown"))
        run.note(f"shutdown() on an unconnected UDP socket: {found['unconnected']}")
        run.note(f"on a connected one (connect() only chose the peer, nothing was sent): "
                 f"{found['connected']}; frames it put on the wire: {found['frames']}")
        run.note(f"send() after shutdown(SHUT_WR): {found['send_after']}")
        run.evidence["udp_shutdown"] = found


def attempt(action) -> str:
    try:
        action()
        return "succeeded"
    except OSError as exc:
        return f"failed with {errno.errorcode.get(exc.errno, exc.errno)} ({exc.strerror})"


# --- grading: the recorded calls against the captured frames ---

def grade(evidence: dict, wire) -> list[Verdict]:
    tcp, udp = evidence["tcp"], evidence["udp"]
    return [grade_tcp_server(tcp, wire), grade_tcp_client(tcp, wire),
            grade_udp_server(udp, wire), grade_udp_client(udp, wire)]


def names(calls: list) -> list[str]:
    return [call[2] for call in sorted(calls)]


def first(calls: list, name: str):
    return next((call for call in sorted(calls) if call[2] == name), None)


def segments(wire, src: str, **fields) -> list:
    return [f for f in wire.tcp(**fields) if f.packet[IP].src == src]


def out_of_order(order: list[str], wanted: list[str]) -> str | None:
    """The first wanted call missing or out of place, if any."""
    position = 0
    for name in wanted:
        if name not in order[position:]:
            return name
        position = order.index(name, position) + 1
    return None


def grade_tcp_server(ev: dict, wire) -> Verdict:
    calls, order = ev["server"]["calls"], names(ev["server"]["calls"])
    if "listen" not in order:
        return Verdict("tcp-server", FAIL, f"calls: {', '.join(order)}",
                       "call listen() after bind(): accept() needs a listening socket (without it, EINVAL)")
    missing = out_of_order(order, ["socket", "bind", "listen", "accept", "recv", "close"])
    if missing:
        return Verdict("tcp-server", FAIL, f"calls: {', '.join(order)}",
                       f"{missing}() is missing or out of place: socket, bind, listen, accept, recv, send, close")
    option = first(calls, "setsockopt")
    if option is None or option[0] > first(calls, "bind")[0]:
        return Verdict("tcp-server", FAIL, f"calls: {', '.join(order)}",
                       "call setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(): the restart "
                       "experiment shows what happens without it")
    listen, accepted = first(calls, "listen"), first(calls, "accept")
    from_h2 = [f for f in wire.frames if IP in f.packet and f.packet[IP].src == ev["server_ip"]]
    quiet = not [f for f in from_h2 if listen[0] <= f.time <= listen[1]]
    handshake = segments(wire, ev["client_ip"], dport=ev["port"], flags="A")
    synack = segments(wire, ev["server_ip"], sport=ev["port"], flags="SA")
    echoed = [f for f in segments(wire, ev["server_ip"], sport=ev["port"]) if payload(f.packet) == MESSAGE]
    fin = [f for f in segments(wire, ev["server_ip"], sport=ev["port"]) if "F" in str(f.packet[TCP].flags)]
    if not (quiet and synack and handshake and echoed and fin):
        return Verdict("tcp-server", FAIL, "the echo did not complete on the wire",
                       "recv() the client's bytes from the socket accept() returned, and sendall() them back")
    before_accept = synack[0].time < accepted[1]
    return Verdict("tcp-server", PASS,
                   f"listen() sent nothing; h2's kernel sent the SYN-ACK "
                   f"{'while accept() was still waiting' if before_accept else 'on its own'}, and accept() "
                   f"returned {1000 * (accepted[1] - handshake[0].time):.2f} ms after h1's ACK; "
                   "sendall() sent the echo; close() sent the FIN")


def grade_tcp_client(ev: dict, wire) -> Verdict:
    calls, order = ev["client"]["calls"], names(ev["client"]["calls"])
    refused = [call for call in calls if call[2] == "connect" and "raised" in call[3]]
    if refused:
        return Verdict("tcp-client", FAIL, f"connect() {refused[0][3]}",
                       "connect() was refused: nothing listened on the server's port when the SYN came "
                       "(the server's check says why); the kernel answered the SYN with a reset")
    missing = out_of_order(order, ["socket", "connect", "recv", "close"])
    if missing:
        return Verdict("tcp-client", FAIL, f"calls: {', '.join(order)}",
                       f"{missing}() is missing or out of place: socket, connect, sendall, recv, close")
    if ev["client"]["value"] != MESSAGE:
        return Verdict("tcp-client", FAIL, f"returned {ev['client']['value']!r}",
                       "return what recv() gave: the echo of your message")
    connected = first(calls, "connect")
    syn = [f for f in segments(wire, ev["client_ip"], dport=ev["port"], flags="S")
           if connected[0] <= f.time <= connected[1]]
    synack = segments(wire, ev["server_ip"], sport=ev["port"], flags="SA")
    fin = [f for f in segments(wire, ev["client_ip"], dport=ev["port"]) if "F" in str(f.packet[TCP].flags)]
    if not (syn and synack and fin):
        return Verdict("tcp-client", FAIL, "no SYN during connect() or no FIN after close()",
                       "connect() to (server_ip, port) and close() the socket at the end")
    return Verdict("tcp-client", PASS,
                   f"connect() sent the SYN and returned {1000 * (connected[1] - synack[0].time):.2f} ms "
                   "after the SYN-ACK arrived; close() sent the FIN")


def grade_udp_server(ev: dict, wire) -> Verdict:
    order = names(ev["server"]["calls"])
    if "listen" in order or "accept" in order:
        return Verdict("udp-server", FAIL, f"calls: {', '.join(order)}",
                       "a UDP server has no listen() or accept(): bind(), then recvfrom()")
    missing = out_of_order(order, ["socket", "bind", "recvfrom", "sendto"])
    if missing:
        return Verdict("udp-server", FAIL, f"calls: {', '.join(order)}",
                       f"{missing}() is missing or out of place: socket, bind, recvfrom, sendto, close")
    asked = [f for f in wire.udp(dport=ev["port"]) if f.packet[IP].src == ev["client_ip"]]
    answers = [f for f in wire.udp(sport=ev["port"]) if f.packet[IP].src == ev["server_ip"]]
    if not asked or not answers:
        return Verdict("udp-server", FAIL, "no datagram came in or none went back",
                       "recvfrom() one datagram and sendto() its bytes back")
    client_port = asked[0].packet[UDP].sport
    reply = answers[0].packet
    if (reply[IP].dst, reply[UDP].dport) != (ev["client_ip"], client_port):
        return Verdict("udp-server", FAIL, f"the echo went to {reply[IP].dst}:{reply[UDP].dport}, the client "
                                           f"listens on {ev['client_ip']}:{client_port}",
                       "reply to the address recvfrom() returned: the client's port was chosen by its "
                       "kernel, and only that address gets the echo")
    return Verdict("udp-server", PASS, f"recvfrom() returned the client's address {ev['client_ip']}:{client_port}; "
                                       "sendto() answered it with one datagram, no set-up before it")


def grade_udp_client(ev: dict, wire) -> Verdict:
    calls, order = ev["client"]["calls"], names(ev["client"]["calls"])
    missing = out_of_order(order, ["socket", "sendto", "recvfrom"])
    if missing:
        return Verdict("udp-client", FAIL, f"calls: {', '.join(order)}",
                       f"{missing}() is missing or out of place: socket, sendto, recvfrom, close")
    sent = first(calls, "sendto")
    datagram = [f for f in wire.udp(dport=ev["port"]) if f.packet[IP].src == ev["client_ip"]
                and sent[0] <= f.time <= sent[1] + 0.001]
    if not datagram:
        return Verdict("udp-client", FAIL, "no datagram left during sendto()",
                       "sendto(message, (server_ip, port)) sends one datagram at once")
    my_port = datagram[0].packet[UDP].sport
    if not [f for f in wire.udp(dport=my_port) if f.packet[IP].dst == ev["client_ip"]]:
        return Verdict("udp-client", FAIL, f"no echo came back to {ev['client_ip']}:{my_port}",
                       "your recvfrom() waited for an echo that went elsewhere: see the UDP server's check")
    if ev["client"]["value"] != MESSAGE:
        return Verdict("udp-client", FAIL, f"returned {ev['client']['value']!r}",
                       "return the data recvfrom() gave (the first item of its pair)")
    return Verdict("udp-client", PASS, "sendto() put one datagram on the wire at once (no set-up); "
                                       "recvfrom() returned the echo")


LAB = Lab(
    name="socket-steps",
    title="Socket calls and the wire: which call sends what, for TCP and UDP",
    topology="star",
    topology_args=(2,),
    exercise="socket_steps",
    todos=("tcp_echo_server", "tcp_echo_client", "udp_echo_server", "udp_echo_client"),
    returns=dict.fromkeys(("tcp_echo_server", "tcp_echo_client", "udp_echo_server", "udp_echo_client"), bytes),
    checks=(
        CheckSpec("tcp-server", "tcp_echo_server", "TCP server: listen and accept send nothing, close sends FIN"),
        CheckSpec("tcp-client", "tcp_echo_client", "TCP client: connect sends the SYN, close the FIN"),
        CheckSpec("udp-server", "udp_echo_server", "UDP server: recvfrom, then sendto the sender's address"),
        CheckSpec("udp-client", "udp_echo_client", "UDP client: sendto sends one datagram, no set-up"),
    ),
    intro=INTRO,
    scenario=scenario,
    grade=grade,
)
