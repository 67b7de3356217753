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

import errno
import socket

from scapy.layers.inet import IP, TCP, UDP

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.exercise import DONE
from lab.peers import accept, connect, states
from lab.segments import poll
from lab.wire import payload

TIMEOUT = 3.0
BLOCKING = ("accept", "connect", "connect_ex", "recv", "recv_into", "recvfrom")
# Equivalent calls, the one a hint names first.
CONNECT = ("connect", "connect_ex")
TCP_SEND, TCP_RECEIVE = ("sendall", "send", "sendto"), ("recv", "recv_into", "recvfrom")
UDP_SEND, UDP_RECEIVE = ("sendto", "send", "sendall"), ("recvfrom", "recv", "recv_into")
WORDS = ("echo", "socket", "wire", "kernel", "frame", "port", "bytes", "stream", "datagram",
         "hello", "again", "please", "back", "loud", "clear", "quiet", "ping", "pong")
SLACK = 0.001  # s: a frame's kernel timestamp may precede time.time() in the call that sent it

INTRO = """\
A TCP server calls socket, setsockopt (optional), bind, listen, accept, recv/send,
close; its client socket, connect, send/recv, close. A UDP server calls socket, bind,
recvfrom, sendto, close; its client needs no connect. Only some of these calls put
anything on the wire: connect() sends the SYN, close() the FIN, send() and sendto()
data. listen() and accept() send nothing: the kernel answers the handshake on its
own, and accept() only hands over a connection that is already established."""


# --- the run: inputs drawn from run.rng ---

def draw(rng) -> dict:
    """This run's ports (all different, below Linux's ephemeral range, where clients'
    ports come from) and the message: a few words and a number, so its text and its
    length change every run."""
    tcp, udp, restart_a, restart_b, nobody = rng.sample(range(2000, 32000), 5)
    words = " ".join(rng.choices(WORDS, k=rng.randint(2, 7)))
    return {"tcp": tcp, "udp": udp, "restart": (restart_a, restart_b), "nobody": nobody,
            "message": f"{words} #{rng.randrange(10 ** rng.randint(1, 6))}".encode()}


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    drawn = draw(run.rng)
    with run.step("Set-up: h1 and h2 learn each other's MAC (ping), so only sockets speak below"):
        h1.cmd("ping -c1 -W1", h2.ip)
        run.note(f"this run: TCP port {drawn['tcp']}, UDP port {drawn['udp']}; the clients send "
                 f"{len(drawn['message'])} bytes: {drawn['message']!r}")
    echo_pair(run, h1, h2, "tcp", drawn["tcp"], drawn["message"])
    echo_pair(run, h1, h2, "udp", drawn["udp"], drawn["message"])
    restart(run, h1, h2, drawn["restart"])
    udp_shutdown(run, h1, h2, drawn["nobody"])


def listening(host, kind: str, port: int) -> bool:
    found = host.kernel.sockets(kind)
    return any(s.local[1] == port and (kind == "udp" or s.state == "LISTEN") for s in found)


def echo_pair(run, h1, h2, kind: str, port: int, message: bytes) -> None:
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
        client = run.start(f"{kind}_echo_client", h1, h2.ip, port, message, timeout=TIMEOUT, trace=True)
        ended = {"client": run.finish(client), "server": run.finish(server)}
        for host, outcome in ((h1, ended["client"]), (h2, ended["server"])):
            roles = {call[5]: "the connection" for call in outcome.calls if len(call) > 5}
            for call in outcome.calls:
                run.state(host, label(call, roles), at=call[0])
        run.note(f"the client got {ended['client'].value!r} back")
        run.evidence[kind] = {role: {"calls": list(o.calls), "value": o.value, "status": o.status}
                              for role, o in ended.items()}
        run.evidence[kind].update(client_ip=h1.ip, server_ip=h2.ip, port=port, message=message)


def label(call: tuple, roles: dict) -> str:
    """'recv() (2.3 ms)', 'close() the connection', 'connect() FAILED': a call in the ladder."""
    started, returned, name, detail = call[:4]
    text = f"{name}()"
    if name == "close" and len(call) > 4:
        text += f" {roles.get(call[4], 'the listener' if roles else '')}".rstrip()
    if name in BLOCKING:
        text += f" ({1000 * (returned - started):.1f} ms)"
    return text + (" NEVER RETURNED" if "still waiting" in detail else " FAILED" if failed(call) else "")


def restart(run, h1, h2, ports: tuple[int, int]) -> None:
    with run.step("Experiment: restart a TCP server right after it closed a connection",
                  "The server closes first, so its side of the connection waits in TIME_WAIT,\n"
                  "still holding the port. A new server socket then binds the same port, with and\n"
                  "without SO_REUSEADDR; and all that twice, for a first server that had set\n"
                  "SO_REUSEADDR and for one that had not: the old connection keeps its server's\n"
                  "option, and Linux lets the port be reused only if both sides asked for it.",
                  ladder=("h1", "h2")):
        results = {}
        for port, first_reuse in zip(ports, (False, True)):
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


def udp_shutdown(run, h1, h2, nobody: int) -> None:
    with run.step("Experiment: shutdown() on UDP sockets",
                  "The study note says shutdown has no effect on UDP. On Linux it depends:",
                  ladder=("h1", "h2")):
        found = {}
        loose = h1.socket(socket.SOCK_DGRAM)
        loose.bind((h1.ip, 0))
        found["unconnected"] = attempt(lambda: loose.shutdown(socket.SHUT_RDWR))
        tied = h1.socket(socket.SOCK_DGRAM)
        tied.connect((h2.ip, nobody))
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


# --- grading: the recorded calls, tied to their sockets, against the captured frames ---
# A call is (started, returned, name, detail, socket id), and accept()'s ends with the
# id of the connection it returned.

def grade(evidence: dict, wire) -> list[Verdict]:
    tcp, udp = evidence["tcp"], evidence["udp"]
    return [grade_tcp_server(tcp, wire), grade_tcp_client(tcp, wire),
            grade_udp_server(udp, wire), grade_udp_client(udp, wire)]


def failed(call: tuple) -> bool:
    """The call raised, never returned, or (connect_ex) gave an error code."""
    return any(word in call[3] for word in ("raised", "still waiting", " gave "))


def find(calls: list, names, sid=None, after: float = 0.0):
    """The first call named one of names (on socket sid, started from after on) that worked."""
    names = (names,) if isinstance(names, str) else names
    return next((c for c in sorted(calls) if c[2] in names and not failed(c) and c[0] >= after
                 and (sid is None or c[4] == sid)), None)


def sequence(calls: list, steps: list, sid=None) -> tuple[list, str | None]:
    """The calls found for steps (each a tuple of equivalent names) one after the other
    on socket sid (None where not found), and the name of the first step missing or out
    of place, if any."""
    found, after = [], 0.0
    for names in steps:
        call = find(calls, names, sid, after)
        if call is None:
            return found + [None] * (len(steps) - len(found)), names[0]
        found.append(call)
        after = call[0]
    return found, None


def names(calls: list) -> str:
    return ", ".join(call[2] for call in sorted(calls)) or "none"


def set_up_wrong(check: str, role: dict) -> Verdict | None:
    """No call recorded at all, or a bind() that failed: nothing else can be judged."""
    calls = role["calls"]
    if not calls and role["status"] != DONE:  # it failed before any socket call: the error says why
        return Verdict(check, FAIL, "no socket call was recorded")
    if not any(c[2] == "socket" for c in calls):  # `from socket import socket` escapes the lab's trace
        seen = f"; calls: {names(calls)}" if calls else ""
        return Verdict(check, FAIL, f"the lab saw no socket() call{seen}",
                       "use `import socket` and `socket.socket(...)` (or socket.create_connection / "
                       "create_server), so the lab can see your calls")
    bad = next((c for c in sorted(calls) if c[2] == "bind" and failed(c)), None)
    if bad:
        return Verdict(check, FAIL, f"bind() {bad[3]}",
                       "bind((my_ip, port)) with the address and port your function was given")
    return None


def tcp_bytes(wire, ev: dict, to_server: bool) -> dict[int, bytes]:
    """What each connection on the server's port carried one way, keyed by the client's
    port: the payloads in sequence order, a retransmitted segment counted once."""
    src, dst = (ev["client_ip"], ev["server_ip"]) if to_server else (ev["server_ip"], ev["client_ip"])
    first_seq: dict[int, int] = {}
    pieces: dict[int, dict[int, bytes]] = {}
    for frame in wire.tcp(**{"dport" if to_server else "sport": ev["port"]}):
        packet = frame.packet
        if (packet[IP].src, packet[IP].dst) != (src, dst):
            continue
        client = packet[TCP].sport if to_server else packet[TCP].dport
        start = first_seq.setdefault(client, packet[TCP].seq)
        data = payload(packet)
        if data:
            pieces.setdefault(client, {})[(packet[TCP].seq - start) % 2 ** 32] = data
    return {client: b"".join(data for _, data in sorted(parts.items())) for client, parts in pieces.items()}


def datagrams(wire, src: str, dst: str, **ports) -> list:
    return [f for f in wire.udp(**ports) if (f.packet[IP].src, f.packet[IP].dst) == (src, dst)]


def said(pieces) -> str:
    """What crossed, for a detail: "b'abc'; b'de'" or 'nothing'."""
    return "; ".join(repr(piece) for piece in pieces if piece) or "nothing"


def client_blamed(check: str, what: str, fix: str) -> Verdict:
    """The server could not be judged: its client never gave it the message."""
    return Verdict(check, FAIL, f"{what}, so the echo could not be checked",
                   f"your server is graded on the echo of the message the client was given: fix {fix}() "
                   "first (see its check)")


def grade_tcp_server(ev: dict, wire) -> Verdict:
    calls, message = ev["server"]["calls"], ev["message"]
    wrong = set_up_wrong("tcp-server", ev["server"])
    if wrong:
        return wrong
    listened = find(calls, "listen")
    if listened is None:
        return Verdict("tcp-server", FAIL, f"calls: {names(calls)}",
                       "call listen() after bind(): accept() needs a listening socket (without it, EINVAL)")
    synack = [f for f in wire.tcp(sport=ev["port"], flags="SA") if f.packet[IP].src == ev["server_ip"]]
    syn = [f for f in wire.tcp(dport=ev["port"], flags="S") if f.packet[IP].src == ev["client_ip"]]
    if not synack and syn:
        return Verdict("tcp-server", FAIL, f"h2's kernel answered h1's SYN to port {ev['port']} with a reset",
                       "nothing listened on the port the client was given: bind((my_ip, port)), then listen()")
    if not syn:
        return client_blamed("tcp-server", "the client never connected", "tcp_echo_client")
    sent = tcp_bytes(wire, ev, to_server=True)
    if message not in sent.values():
        return client_blamed("tcp-server", f"the client sent {said(sent.values())} instead of its message",
                             "tcp_echo_client")
    return tcp_server_calls(ev, wire, calls, listened, sent)


def tcp_server_calls(ev: dict, wire, calls: list, listened: tuple, sent: dict) -> Verdict:
    """The client's message reached h2: now the server's own calls, on their sockets."""
    message, order = ev["message"], names(calls)
    listener = listened[4]
    (bound, _, accepted), missing = sequence(calls, [("bind",), ("listen",), ("accept",)], listener)
    if missing:
        return Verdict("tcp-server", FAIL, f"calls: {order}",
                       f"{missing}() is missing or out of place: socket, bind, listen, accept, recv, send, close")
    option = find(calls, "setsockopt", listener)
    if option is None or option[0] > bound[0]:
        return Verdict("tcp-server", FAIL, f"calls: {order}",
                       "call setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(): the restart "
                       "experiment shows what happens without it")
    connection = accepted[5]
    (received, echoed), missing = sequence(calls, [TCP_RECEIVE, TCP_SEND], connection)
    if missing:
        return Verdict("tcp-server", FAIL, f"calls: {order}",
                       f"{missing}() on the connection is missing or out of place: recv() from the socket "
                       "accept() returned, then sendall() the bytes back on it")
    client = next(port for port, data in sent.items() if data == ev["message"])
    back = tcp_bytes(wire, ev, to_server=False).get(client, b"")
    if back != message:
        return Verdict("tcp-server", FAIL, f"the client sent {message!r}; h2 sent back {said([back])}",
                       "send back exactly the bytes recv() gave you, with sendall()")
    if ev["server"]["value"] != message:
        return Verdict("tcp-server", FAIL, f"returned {ev['server']['value']!r}",
                       "return the bytes recv() gave you: the client's message")
    closed = find(calls, "close", connection, after=accepted[1])
    if closed is None or recreated(calls, connection, accepted[1], closed[0]):
        return Verdict("tcp-server", FAIL, "close() was never called on the connection accept() returned",
                       "close() the connection (or use `with connection:`): the FIN must come from your "
                       "close(), not from Python freeing the socket when the function returns")
    return tcp_server_passed(ev, wire, listened, accepted, echoed, closed, client)


def recreated(calls: list, sid: int, start: float, end: float) -> bool:
    """Another socket got the same id (Python reuses a freed object's) between start and end."""
    return any(start < c[0] < end and ((c[2] == "socket" and c[4] == sid) or (len(c) > 5 and c[5] == sid))
               for c in calls)


def fin_sender(calls: list, sid: int, closed: tuple, frames: list):
    """(the call on socket sid that sent the first FIN in frames, that FIN): the close(),
    or a shutdown() before it; (None, the FIN or None) if the FIN came before either."""
    fin = next((f for f in frames if "F" in str(f.packet[TCP].flags)), None)
    enders = [c for c in sorted(calls) if c[2] == "shutdown" and c[4] == sid and not failed(c) and c[0] < closed[0]]
    candidates = enders + [closed] if fin else []
    before = [c for c in candidates if c[0] <= fin.time] or [c for c in candidates if c[0] - SLACK <= fin.time][:1]
    return (before[-1] if before else None), fin


def tcp_server_passed(ev: dict, wire, listened, accepted, echoed, closed, client: int) -> Verdict:
    mine = [f for f in wire.tcp(sport=ev["port"], dport=client) if f.packet[IP].src == ev["server_ip"]]
    ender, fin = fin_sender(ev["server"]["calls"], accepted[5], closed, mine)
    if ender is None:
        why = "no FIN left h2" if not fin else "h2's FIN left before close() was called on the connection"
        return Verdict("tcp-server", FAIL, why, "close() the connection: that is what sends the FIN")
    from_h2 = [f for f in wire.frames if IP in f.packet and f.packet[IP].src == ev["server_ip"]]
    quiet = not [f for f in from_h2 if listened[0] - SLACK <= f.time <= listened[1]]
    synack = next((f for f in mine if str(f.packet[TCP].flags) == "SA"), fin)
    ack = next((f for f in wire.tcp(sport=client, dport=ev["port"], flags="A")
                if f.packet[IP].src == ev["client_ip"]), synack)
    waiting = "while accept() was still waiting" if synack.time < accepted[1] else "on its own"
    return Verdict("tcp-server", PASS,
                   f"{'listen() sent nothing; ' if quiet else ''}h2's kernel sent the SYN-ACK {waiting}, and "
                   f"accept() returned {1000 * (accepted[1] - ack.time):.2f} ms after h1's ACK; {echoed[2]}() "
                   f"sent the echo; {ender[2]}() on the connection sent the FIN")


def grade_tcp_client(ev: dict, wire) -> Verdict:
    calls, message = ev["client"]["calls"], ev["message"]
    wrong = set_up_wrong("tcp-client", ev["client"])
    if wrong:
        return wrong
    connected = find(calls, CONNECT)
    tried = next((c for c in sorted(calls) if c[2] in CONNECT and failed(c)), None)
    if connected is None and tried and "refused" in tried[3].lower():
        return Verdict("tcp-client", FAIL, f"{tried[2]}() {tried[3]}",
                       "connect() was refused: nothing listened on the server's port when the SYN came "
                       "(the server's check says why); the kernel answered the SYN with a reset")
    if connected is None and tried:
        return Verdict("tcp-client", FAIL, f"{tried[2]}() {tried[3]}",
                       "connect((server_ip, port)) with the address and port your function was given")
    if connected is None:
        return Verdict("tcp-client", FAIL, f"calls: {names(calls)}",
                       "connect((server_ip, port)) is missing: a TCP client connects before it sends")
    sent = tcp_bytes(wire, ev, to_server=True)
    if message not in sent.values():
        return Verdict("tcp-client", FAIL, f"the message never crossed the wire; h1 sent {said(sent.values())}",
                       "sendall(message) on the connected socket: the server must get exactly the bytes "
                       "you were given")
    client = next(port for port, data in sent.items() if data == message)
    back = tcp_bytes(wire, ev, to_server=False).get(client, b"")
    if back != message:
        return Verdict("tcp-client", FAIL, f"your message reached h2; h2 sent back {said([back])}",
                       "the server did not echo your message: see the TCP server's check")
    return tcp_client_calls(ev, wire, calls, connected, client)


def tcp_client_calls(ev: dict, wire, calls: list, connected: tuple, client: int) -> Verdict:
    """The message went and came back: now the client's own calls, on its socket."""
    sid = connected[4]
    (_, received, closed), missing = sequence(calls, [TCP_SEND, TCP_RECEIVE, ("close",)], sid)
    if missing == "close" or (closed and recreated(calls, sid, connected[1], closed[0])):
        return Verdict("tcp-client", FAIL, "close() was never called on the connected socket",
                       "close() the socket (or use `with`): the FIN must come from your close(), not from "
                       "Python freeing the socket when the function returns")
    if missing:
        return Verdict("tcp-client", FAIL, f"calls: {names(calls)}",
                       f"{missing}() is missing or out of place: socket, connect, sendall, recv, close")
    if ev["client"]["value"] != ev["message"]:
        return Verdict("tcp-client", FAIL, f"returned {ev['client']['value']!r}",
                       "return what recv() gave: the echo of your message")
    mine = [f for f in wire.tcp(sport=client, dport=ev["port"]) if f.packet[IP].src == ev["client_ip"]]
    syn = [f for f in mine if str(f.packet[TCP].flags) == "S" and connected[0] - SLACK <= f.time <= connected[1]]
    ender, _ = fin_sender(calls, sid, closed, mine)
    synack = [f for f in wire.tcp(sport=ev["port"], dport=client, flags="SA")]
    if not (syn and synack and ender):
        return Verdict("tcp-client", FAIL, "no SYN during connect() or no FIN after close()",
                       "connect() to (server_ip, port) and close() the socket at the end")
    return Verdict("tcp-client", PASS,
                   f"{connected[2]}() sent the SYN and returned {1000 * (connected[1] - synack[0].time):.2f} ms "
                   f"after the SYN-ACK arrived; the message crossed and came back to {received[2]}(); "
                   f"{ender[2]}() sent the FIN")


def grade_udp_server(ev: dict, wire) -> Verdict:
    calls, message = ev["server"]["calls"], ev["message"]
    wrong = set_up_wrong("udp-server", ev["server"])
    if wrong:
        return wrong
    if any(c[2] in ("listen", "accept") for c in calls):
        return Verdict("udp-server", FAIL, f"calls: {names(calls)}",
                       "a UDP server has no listen() or accept(): bind(), then recvfrom()")
    asked = datagrams(wire, ev["client_ip"], ev["server_ip"], dport=ev["port"])
    request = next((f for f in asked if payload(f.packet) == message), None)
    if request is None:
        what = f"the client sent {said(payload(f.packet) for f in asked)} instead of its message"
        return client_blamed("udp-server", what, "udp_echo_client")
    unreachable = [f for f in wire.icmp(type=3, code=3) if f.packet[IP].src == ev["server_ip"]]
    if unreachable:
        return Verdict("udp-server", FAIL, f"h2's kernel answered the client's datagram to port {ev['port']} "
                                           "with ICMP port unreachable",
                       "no socket was bound to the port the client wrote to: bind((my_ip, port)) with the "
                       "port your function was given")
    (_, _, echoed), missing = sequence(calls, [("bind",), UDP_RECEIVE, UDP_SEND])
    if missing:
        return Verdict("udp-server", FAIL, f"calls: {names(calls)}",
                       f"{missing}() is missing or out of place: socket, bind, recvfrom, sendto, close")
    client_port = request.packet[UDP].sport
    answers = [f for f in wire.udp(sport=ev["port"]) if f.packet[IP].src == ev["server_ip"]]
    if not answers:
        return Verdict("udp-server", FAIL, "no datagram went back from the server's port",
                       "sendto() the bytes back from the socket you bound: its port is the one the client "
                       "wrote to, and the one its echo must come from")
    reply = answers[0].packet
    if (reply[IP].dst, reply[UDP].dport) != (ev["client_ip"], client_port):
        return Verdict("udp-server", FAIL, f"the echo went to {reply[IP].dst}:{reply[UDP].dport}, the client "
                                           f"listens on {ev['client_ip']}:{client_port}",
                       "reply to the address recvfrom() returned: the client's port was chosen by its "
                       "kernel, and only that address gets the echo")
    if payload(reply) != message:
        return Verdict("udp-server", FAIL, f"the client sent {message!r}; h2 sent back {payload(reply)!r}",
                       "send back exactly the bytes recvfrom() gave you, in one datagram")
    if ev["server"]["value"] != message:
        return Verdict("udp-server", FAIL, f"returned {ev['server']['value']!r}",
                       "return the data recvfrom() gave you (the first item of its pair)")
    return Verdict("udp-server", PASS, f"recvfrom() returned the client's address {ev['client_ip']}:{client_port}; "
                                       f"{echoed[2]}() answered it with one datagram, no set-up before it")


def grade_udp_client(ev: dict, wire) -> Verdict:
    calls, message = ev["client"]["calls"], ev["message"]
    wrong = set_up_wrong("udp-client", ev["client"])
    if wrong:
        return wrong
    mine = datagrams(wire, ev["client_ip"], ev["server_ip"], dport=ev["port"])
    datagram = next((f for f in mine if payload(f.packet) == message), None)
    if datagram is None:
        broken = next((c for c in sorted(calls) if c[2] in UDP_SEND and failed(c)), None)
        return Verdict("udp-client", FAIL, f"the message never crossed the wire; h1 sent "
                                           f"{said(payload(f.packet) for f in mine)}",
                       f"{broken[2]}() {broken[3]}: send to (server_ip, port), the address and port your "
                       "function was given" if broken else
                       "sendto(message, (server_ip, port)): the whole message, in one datagram")
    my_port = datagram.packet[UDP].sport
    back = [payload(f.packet) for f in datagrams(wire, ev["server_ip"], ev["client_ip"], dport=my_port)]
    if not back:
        return Verdict("udp-client", FAIL, f"no echo came back to {ev['client_ip']}:{my_port}",
                       "your recvfrom() waited for an echo that went elsewhere: see the UDP server's check")
    if message not in back:
        return Verdict("udp-client", FAIL, f"your message reached h2; h2 sent back {back[0]!r}",
                       "the server did not echo your message: see the UDP server's check")
    sent = find(calls, UDP_SEND)
    (sent, received), missing = sequence(calls, [UDP_SEND, UDP_RECEIVE], sent[4] if sent else None)
    if missing:
        return Verdict("udp-client", FAIL, f"calls: {names(calls)}",
                       f"{missing}() is missing or out of place: socket, sendto, recvfrom, close")
    if ev["client"]["value"] != message:
        return Verdict("udp-client", FAIL, f"returned {ev['client']['value']!r}",
                       "return the data recvfrom() gave (the first item of its pair)")
    tied = find(calls, "connect", sent[4])
    setup = (f"connect() sent nothing (it only chose the peer); {sent[2]}()" if tied and tied[0] < sent[0]
             else f"{sent[2]}()")
    return Verdict("udp-client", PASS, f"{setup} put the message on the wire in one datagram, with no "
                                       f"set-up before it; {received[2]}() returned the echo")


LAB = Lab(
    name="socket-steps",
    title="Socket calls and the wire: which call sends what, for TCP and UDP",
    topology="star",
    topology_args=(2,),
    exercise="socket_steps",
    todos=("tcp_echo_server", "tcp_echo_client", "udp_echo_server", "udp_echo_client"),
    returns=dict.fromkeys(("tcp_echo_server", "tcp_echo_client", "udp_echo_server", "udp_echo_client"), bytes),
    checks=(
        CheckSpec("tcp-server", "tcp_echo_server",
                  "TCP server: listen and accept send nothing, close() on the connection the FIN"),
        CheckSpec("tcp-client", "tcp_echo_client", "TCP client: connect sends the SYN, the message, close the FIN"),
        CheckSpec("udp-server", "udp_echo_server", "UDP server: recvfrom, then sendto the sender's address"),
        CheckSpec("udp-client", "udp_echo_client", "UDP client: the message in one datagram, no set-up"),
    ),
    intro=INTRO,
    scenario=scenario,
    grade=grade,
)
