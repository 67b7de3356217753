"""socket-steps: first each check's grading on hand-made call traces and captures (no
network): its right answer, and each typical mistake with its hint; then real networks:
the reference's calls line up with the wire, the untouched exercise is not done,
typical mistakes fail with their hint, and the two experiments report what Linux
really does."""
from __future__ import annotations

import dataclasses
import json
import random
import re
from types import SimpleNamespace

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from conftest import ROOT, lab, reported_segments, tshark_segments
from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.exercise import DONE, RAISED
from lab.labs._socket_steps_draw import WORDS, draw
from lab.labs._socket_steps_trace import Call, Role, find, labels, recreated, sequence
from lab.labs._socket_steps_wire import Echo, connection_of
from lab.labs.socket_steps import LAB, Evidence
from lab.wire import Wire

REFERENCE = ROOT / "solutions" / "socket_steps.py"
H1, H2, OTHER, PORT, CLIENT = "10.77.3.1", "10.77.3.2", "10.77.3.9", 23456, 41000
MESSAGE = b"wire echo kernel #4711"
LINE = MESSAGE + b"\n"  # the message as a line, a typical extra
LISTENER, CONNECTION, SOCKET, ELSE = 11, 12, 13, 14  # socket ids in the traces (ELSE: one more socket)


# --- hand-made traces, captures and evidence ---

def call(started: float, returned: float, name: str, detail: str = "TCP", sid: int = LISTENER,
         gave: int | None = None) -> Call:
    return Call(started, returned, name, detail, sid, gave)


def server_calls(close_connection: bool = True) -> list[Call]:
    """The reference's TCP server: listener 11, the connection accept() gave 12."""
    calls = [call(1.000, 1.000, "socket"), call(1.001, 1.001, "setsockopt"),
             call(1.002, 1.002, "bind", f"TCP ('{H2}', {PORT})"), call(1.003, 1.003, "listen"),
             call(1.004, 1.0125, "accept", f"TCP from ('{H1}', {CLIENT})", gave=CONNECTION),
             call(1.013, 1.021, "recv", sid=CONNECTION), call(1.029, 1.0305, "sendall", sid=CONNECTION),
             call(1.041, 1.041, "close")]
    return calls + [call(1.039, 1.040, "close", sid=CONNECTION)] * close_connection


def client_calls(connect: str = "connect", receive: str = "recv", send: str = "sendall") -> list[Call]:
    calls = [call(1.004, 1.004, "socket", sid=SOCKET), call(1.005, 1.0115, connect, f"TCP ('{H2}', {PORT})", SOCKET),
             call(1.049, 1.050, "close", sid=SOCKET), call(1.021, 1.031, receive, sid=SOCKET)]
    return calls + [call(1.019, 1.0201, send, sid=SOCKET)] * bool(send)


def udp_server_calls() -> list[Call]:
    return [call(1.000, 1.000, "socket", "UDP"), call(1.001, 1.001, "bind", f"UDP ('{H2}', {PORT})"),
            call(1.002, 1.011, "recvfrom", "UDP"), call(1.019, 1.020, "sendto", f"UDP to ('{H1}', {CLIENT})"),
            call(1.021, 1.021, "close", "UDP")]


def udp_client_calls(connect: bool = False) -> list[Call]:
    calls = [call(1.005, 1.005, "socket", "UDP", SOCKET),
             call(1.011, 1.021, "recv" if connect else "recvfrom", "UDP", SOCKET),
             call(1.022, 1.022, "close", "UDP", SOCKET)]
    if connect:
        return calls + [call(1.006, 1.006, "connect", f"UDP ('{H2}', {PORT})", SOCKET),
                        call(1.009, 1.010, "send", "UDP", SOCKET)]
    return calls + [call(1.009, 1.010, "sendto", f"UDP to ('{H2}', {PORT})", SOCKET)]


def without(calls: list[Call], name: str, sid: int | None = None) -> list[Call]:
    return [c for c in calls if not (c.name == name and (sid is None or c.sid == sid))]


def moved(calls: list[Call], name: str, started: float, returned: float) -> list[Call]:
    return [dataclasses.replace(c, started=started, returned=returned) if c.name == name else c for c in calls]


def on_else(calls: list[Call], name: str, created: float) -> list[Call]:
    """The calls with name made on another socket (ELSE, created at created)."""
    moved_over = [dataclasses.replace(c, sid=ELSE) if c.name == name else c for c in calls]
    return moved_over + [call(created, created, "socket", calls[0].detail, ELSE)]


def evidence(server: list[Call], client: list[Call], server_value=MESSAGE, client_value=MESSAGE,
             kind: str = "tcp") -> Evidence:
    """Evidence of one echo (tcp or udp), both sides done, as the scenario records it."""
    echo = Echo(Role(tuple(server), server_value, DONE), Role(tuple(client), client_value, DONE), H1, H2, PORT,
                MESSAGE)
    return Evidence(**{kind: echo})


def frame(src: str, dst: str, layer, data: bytes = b"") -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / layer / data)


def segment(up: bool, flags: str, seq: int, ack: int, data: bytes = b"") -> bytes:
    """A segment from h1 to h2 (up) or back."""
    if up:
        return frame(H1, H2, TCP(sport=CLIENT, dport=PORT, flags=flags, seq=seq, ack=ack), data)
    return frame(H2, H1, TCP(sport=PORT, dport=CLIENT, flags=flags, seq=seq, ack=ack), data)


def wire_of(frames) -> Wire:
    return Wire([Frame(t, "s1-eth1", data) for t, data in sorted(frames)])


def tcp_frame(src: str, dst: str, sport: int, dport: int, flags: str, seq: int = 0, ack: int = 0,
              data: bytes = b"") -> bytes:
    return frame(src, dst, TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack), data)


def reshaped(wire: Wire, add=(), drop=()) -> Wire:
    """wire with the frames add ((time, bytes) each) and without those captured at the times drop."""
    return wire_of([(f.time, f.data) for f in wire.raw if f.time not in drop] + list(add))


def tcp_wire(sent: bytes = MESSAGE, echo: bytes = MESSAGE, server_fin: float | None = 1.040,
             client_fin: float = 1.050, extra=()) -> Wire:
    """A whole TCP echo on the wire: handshake, data, echo, the server's FIN, the client's."""
    a, b = 1000, 5000  # ISNs of h1 and h2
    frames = [(1.010, segment(True, "S", a, 0)), (1.011, segment(False, "SA", b, a + 1)),
              (1.012, segment(True, "A", a + 1, b + 1)), *extra]
    if sent:
        frames.append((1.020, segment(True, "PA", a + 1, b + 1, sent)))
    if echo:
        frames.append((1.030, segment(False, "PA", b + 1, a + 1 + len(sent), echo)))
    a, b = a + 1 + len(sent), b + 1 + len(echo)
    if server_fin is not None:
        frames += [(server_fin, segment(False, "FA", b, a))]
    frames += [(client_fin, segment(True, "FA", a, b + 1)), (client_fin + 0.001, segment(False, "A", b + 1, a + 1))]
    return wire_of(frames)


def refused_wire() -> Wire:
    """h1's SYN, answered by h2's kernel with a reset: nothing listened on the port."""
    return wire_of([(1.010, segment(True, "S", 1000, 0)), (1.011, segment(False, "RA", 0, 1001))])


def udp_wire(sent=(MESSAGE,), echo: bytes | None = MESSAGE, echo_from: int = PORT, echo_to: int = CLIENT,
             unreachable: bool = False, to: str = H2) -> Wire:
    """h1's datagrams to the server's port (at h2, or the address to), and h2's echo (or
    its kernel's ICMP error)."""
    frames = [(1.010 + i / 1000, frame(H1, to, UDP(sport=CLIENT, dport=PORT), data)) for i, data in enumerate(sent)]
    if echo is not None:
        frames.append((1.020, frame(H2, H1, UDP(sport=echo_from, dport=echo_to), echo)))
    if unreachable:
        quoted = IP(src=H1, dst=H2) / UDP(sport=CLIENT, dport=PORT) / sent[0]
        frames.append((1.0101, frame(H2, H1, ICMP(type=3, code=3), bytes(quoted))))
    return wire_of(frames)


def grade(check: str, ev: Evidence, wire: Wire):
    """The verdict of check's own grader, named by its CheckSpec."""
    return LAB.check(check).grade(ev, wire)


# --- every check's right answer ---

def test_the_reference_s_tcp_echo_passes_both_checks_with_what_the_wire_showed():
    ev, wire = evidence(server_calls(), client_calls()), tcp_wire()
    server, client = grade("tcp-server", ev, wire), grade("tcp-client", ev, wire)
    assert server.status == PASS and server.detail == (
        "listen() sent nothing; h2's kernel sent the SYN-ACK while accept() was still waiting, and accept() "
        "returned 0.50 ms after h1's ACK; sendall() sent the echo; close() on the connection sent the FIN")
    assert client.status == PASS and client.detail == (
        "connect() sent the SYN and returned 0.50 ms after the SYN-ACK arrived; the message crossed and came "
        "back to recv(); close() sent the FIN")


def test_segments_out_of_order_are_read_in_order_and_a_retransmitted_one_once():
    a, b, half = 1001, 5001, len(MESSAGE) // 2
    second = (1.0200, segment(True, "PA", a + half, b, MESSAGE[half:]))  # came first
    first = (1.0201, segment(True, "PA", a, b, MESSAGE[:half]))
    again = (1.0250, segment(True, "PA", a, b, MESSAGE[:half]))  # h1 sent it again: its ACK was late
    wire = tcp_wire(sent=b"", echo=b"", extra=[second, first, again,
                                               (1.030, segment(False, "PA", b, a + len(MESSAGE), MESSAGE))])
    verdict = grade("tcp-client", evidence(server_calls(), client_calls()), wire)
    assert verdict.status == PASS, verdict


def test_a_syn_ack_after_accept_returned_and_a_frame_during_listen_are_told():
    calls = moved(server_calls(), "accept", 1.004, 1.0105)
    chatter = (1.003, frame(H2, H1, UDP(sport=PORT, dport=CLIENT), b"x"))
    verdict = grade("tcp-server", evidence(calls, client_calls()), tcp_wire(extra=[chatter]))
    assert verdict.status == PASS and verdict.detail.startswith("h2's kernel sent the SYN-ACK on its own, and")


def test_the_reference_s_udp_echo_passes_both_checks():
    ev, wire = evidence(udp_server_calls(), udp_client_calls(), kind="udp"), udp_wire()
    server, client = grade("udp-server", ev, wire), grade("udp-client", ev, wire)
    assert server.status == PASS and server.detail == (
        f"recvfrom() returned the client's address {H1}:{CLIENT}; sendto() answered it with one datagram, "
        "no set-up before it")
    assert client.status == PASS and client.detail == (
        "sendto() put the message on the wire in one datagram, with no set-up before it; recvfrom() returned "
        "the echo")


def test_a_connected_udp_client_passes_and_connect_is_said_to_send_nothing():
    verdict = grade("udp-client", evidence(udp_server_calls(), udp_client_calls(connect=True), kind="udp"), udp_wire())
    assert verdict.status == PASS and verdict.detail.startswith(
        "connect() sent nothing (it only chose the peer); send() put the message on the wire")
    assert verdict.detail.endswith("recv() returned the echo")


# --- what every check says first: no trace to read, or a bind() that failed ---

CHECKS = [("tcp-server", "server", "tcp"), ("tcp-client", "client", "tcp"),
          ("udp-server", "server", "udp"), ("udp-client", "client", "udp")]


def with_side(check: str, calls: list[Call], status: str = DONE) -> Evidence:
    """The right evidence and wire for check, its own side's calls replaced."""
    _, side, kind = next(c for c in CHECKS if c[0] == check)
    right = evidence(server_calls(), client_calls()) if kind == "tcp" else \
        evidence(udp_server_calls(), udp_client_calls(), kind="udp")
    echo = getattr(right, kind)
    role = dataclasses.replace(getattr(echo, side), calls=tuple(calls), status=status)
    return dataclasses.replace(right, **{kind: dataclasses.replace(echo, **{side: role})})


def right_wire(check: str) -> Wire:
    return tcp_wire() if check.startswith("tcp") else udp_wire()


@pytest.mark.parametrize("check", [c[0] for c in CHECKS])
def test_a_function_that_raised_before_any_socket_call_has_nothing_traced(check):
    verdict = grade(check, with_side(check, [], status=RAISED), right_wire(check))
    assert verdict.status == FAIL and verdict.detail == "no socket call was recorded" and verdict.hint == ""


@pytest.mark.parametrize("check", [c[0] for c in CHECKS])
@pytest.mark.parametrize("calls, detail", [
    ([], "the lab saw no socket() call"),
    ([call(1.002, 1.002, "bind"), call(1.003, 1.003, "listen")], "the lab saw no socket() call; calls: bind, listen"),
])
def test_calls_the_lab_could_not_see_say_how_it_sees_them(check, calls, detail):
    verdict = grade(check, with_side(check, calls), right_wire(check))
    assert (verdict.status, verdict.detail, verdict.hint) == (
        FAIL, detail, "use `import socket` and `socket.socket(...)` (or socket.create_connection / create_server), "
                      "so the lab can see your calls")


@pytest.mark.parametrize("check", [c[0] for c in CHECKS])
def test_a_bind_that_failed_asks_for_the_given_address(check):
    calls = [call(1.000, 1.000, "socket"), call(1.001, 1.001, "bind", "TCP raised Cannot assign requested address")]
    verdict = grade(check, with_side(check, calls), right_wire(check))
    assert verdict.status == FAIL and verdict.detail == "bind() TCP raised Cannot assign requested address"
    assert verdict.hint == "bind((my_ip, port)) with the address and port your function was given"


# --- the TCP server's typical mistakes ---

BLAMED = "your server is graded on the echo of the message the client was given: fix {}() first (see its check)"
NO_LISTEN = [*server_calls()[:3], call(1.004, 1.004, "accept", "TCP raised Invalid argument")]
RECREATED = server_calls(close_connection=False) + [call(1.035, 1.035, "socket", sid=CONNECTION),
                                                    call(1.039, 1.040, "close", sid=CONNECTION)]
SHUTDOWN = server_calls() + [call(1.034, 1.0345, "shutdown", sid=CONNECTION)]


@pytest.mark.parametrize("calls, value, wire, detail, hint", [
    pytest.param(NO_LISTEN, MESSAGE, refused_wire(), "calls: socket, setsockopt, bind, accept",
                 "call listen() after bind(): accept() needs a listening socket (without it, EINVAL)", id="no listen"),
    pytest.param(server_calls(), MESSAGE, refused_wire(), f"h2's kernel answered h1's SYN to port {PORT} with a reset",
                 "nothing listened on the port the client was given: bind((my_ip, port)), then listen()",
                 id="listened elsewhere"),
    pytest.param(server_calls(), b"", Wire([]), "the client never connected, so the echo could not be checked",
                 BLAMED.format("tcp_echo_client"), id="the client never connected"),
    pytest.param(server_calls(), b"hi", tcp_wire(sent=b"hi", echo=b"hi"),
                 "the client sent b'hi' instead of its message, so the echo could not be checked",
                 BLAMED.format("tcp_echo_client"), id="the client sent other bytes"),
    pytest.param(moved(server_calls(), "listen", 1.0015, 1.0015), MESSAGE, tcp_wire(),
                 "calls: socket, setsockopt, listen, bind, accept, recv, sendall, close, close",
                 "listen() is missing or out of place: socket, bind, listen, accept, recv, send, close",
                 id="listen before bind"),
    pytest.param(without(server_calls(), "setsockopt"), MESSAGE, tcp_wire(),
                 "calls: socket, bind, listen, accept, recv, sendall, close, close",
                 "call setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(): the restart experiment shows what "
                 "happens without it", id="no SO_REUSEADDR"),
    pytest.param(moved(server_calls(), "setsockopt", 1.0025, 1.0025), MESSAGE, tcp_wire(),
                 "calls: socket, bind, setsockopt, listen, accept, recv, sendall, close, close",
                 "call setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(): the restart experiment shows what "
                 "happens without it", id="SO_REUSEADDR after bind"),
    pytest.param(without(server_calls(), "recv"), MESSAGE, tcp_wire(),
                 "calls: socket, setsockopt, bind, listen, accept, sendall, close, close",
                 "recv() on the connection is missing or out of place: recv() from the socket accept() returned, "
                 "then sendall() the bytes back on it", id="never receives"),
    pytest.param(without(server_calls(), "sendall"), MESSAGE, tcp_wire(echo=b""),
                 "calls: socket, setsockopt, bind, listen, accept, recv, close, close",
                 "sendall() on the connection is missing or out of place: recv() from the socket accept() returned, "
                 "then sendall() the bytes back on it", id="never sends back"),
    pytest.param(server_calls(), MESSAGE, tcp_wire(echo=b"wire echo"),
                 f"the client sent {MESSAGE!r}; h2 sent back b'wire echo'",
                 "send back exactly the bytes recv() gave you, with sendall()", id="echoes a part"),
    pytest.param(server_calls(), b"echo me", tcp_wire(), "returned b'echo me'",
                 "return the bytes recv() gave you: the client's message", id="returns other bytes"),
    pytest.param(server_calls(close_connection=False), MESSAGE, tcp_wire(server_fin=1.060),
                 "close() was never called on the connection accept() returned",
                 "close() the connection (or use `with connection:`): the FIN must come from your close(), not from "
                 "Python freeing the socket when the function returns", id="Python freed the connection"),
    pytest.param(RECREATED, MESSAGE, tcp_wire(), "close() was never called on the connection accept() returned",
                 "close() the connection (or use `with connection:`): the FIN must come from your close(), not from "
                 "Python freeing the socket when the function returns", id="a new socket with the freed id"),
    pytest.param(server_calls(), MESSAGE, tcp_wire(server_fin=1.035),
                 "h2's FIN left before close() was called on the connection",
                 "close() the connection: that is what sends the FIN", id="FIN before close"),
    pytest.param(server_calls(), MESSAGE, tcp_wire(server_fin=None), "no FIN left h2",
                 "close() the connection: that is what sends the FIN", id="no FIN"),
    pytest.param(server_calls(), MESSAGE, wire_of([(1.010, tcp_frame(H1, H2, CLIENT, 9999, "S", 1000)),
                                                   (1.011, tcp_frame(H2, H1, 9999, CLIENT, "RA", 0, 1001))]),
                 "the client never connected, so the echo could not be checked", BLAMED.format("tcp_echo_client"),
                 id="the client connected to another port"),
    pytest.param(server_calls(), MESSAGE, wire_of([(1.010, tcp_frame(H1, H2, CLIENT, PORT, "A", 1000, 1)),
                                                   (1.011, tcp_frame(H2, H1, PORT, CLIENT, "R", 1))]),
                 "the client never connected, so the echo could not be checked", BLAMED.format("tcp_echo_client"),
                 id="a stray ACK is no connection"),
    pytest.param(server_calls(), MESSAGE, reshaped(refused_wire(), add=[
                     (1.012, tcp_frame(H2, H1, 9999, 41001, "SA", 7000, 1))]),
                 f"h2's kernel answered h1's SYN to port {PORT} with a reset",
                 "nothing listened on the port the client was given: bind((my_ip, port)), then listen()",
                 id="refused, while another port of h2 answered"),
    pytest.param(on_else(server_calls(), "bind", 1.0015), MESSAGE, tcp_wire(),
                 "calls: socket, setsockopt, socket, bind, listen, accept, recv, sendall, close, close",
                 "bind() is missing or out of place: socket, bind, listen, accept, recv, send, close",
                 id="bound another socket than the listener"),
    pytest.param(on_else(server_calls(), "setsockopt", 1.0005), MESSAGE, tcp_wire(),
                 "calls: socket, socket, setsockopt, bind, listen, accept, recv, sendall, close, close",
                 "call setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(): the restart experiment shows what "
                 "happens without it", id="SO_REUSEADDR on another socket"),
    pytest.param(on_else(server_calls(), "recv", 1.0126), MESSAGE, tcp_wire(),
                 "calls: socket, setsockopt, bind, listen, accept, socket, recv, sendall, close, close",
                 "recv() on the connection is missing or out of place: recv() from the socket accept() returned, "
                 "then sendall() the bytes back on it", id="receives on another socket"),
    pytest.param(server_calls(), MESSAGE, tcp_wire(echo=b""), f"the client sent {MESSAGE!r}; h2 sent back nothing",
                 "send back exactly the bytes recv() gave you, with sendall()", id="sends back nothing"),
    pytest.param(server_calls(close_connection=False) + [call(1.0002, 1.0002, "socket", sid=CONNECTION),
                                                         call(1.0003, 1.0003, "close", sid=CONNECTION)],
                 MESSAGE, tcp_wire(server_fin=1.060), "close() was never called on the connection accept() returned",
                 "close() the connection (or use `with connection:`): the FIN must come from your close(), not from "
                 "Python freeing the socket when the function returns", id="closed an earlier socket with its id"),
])
def test_tcp_server_mistakes_get_their_hint(calls, value, wire, detail, hint):
    verdict = grade("tcp-server", evidence(calls, client_calls(), server_value=value), wire)
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, detail, hint)


def test_a_shutdown_before_close_on_the_connection_sends_the_fin_and_passes():
    verdict = grade("tcp-server", evidence(SHUTDOWN, client_calls()), tcp_wire(server_fin=1.0342))
    assert verdict.status == PASS and verdict.detail.endswith("shutdown() on the connection sent the FIN")


SHUTDOWN_AT_ONCE = server_calls(close_connection=False) + [call(1.034, 1.0341, "shutdown", sid=CONNECTION),
                                                           call(1.0344, 1.0345, "close", sid=CONNECTION)]


@pytest.mark.parametrize("calls, fin, ender", [
    (server_calls(), 1.0385, "close"),         # stamped by the kernel just before close() started: its FIN
    (SHUTDOWN, 1.040, "close"),                # a shutdown(SHUT_RD) sends nothing: close() sent the FIN
    (SHUTDOWN_AT_ONCE, 1.0338, "shutdown"),    # both a hair after the FIN's stamp: the first one sent it
])
def test_the_fin_is_put_down_to_the_call_that_sent_it(calls, fin, ender):
    verdict = grade("tcp-server", evidence(calls, client_calls()), tcp_wire(server_fin=fin))
    assert verdict.status == PASS and verdict.detail.endswith(f"; {ender}() on the connection sent the FIN")


def test_the_times_in_the_details_are_read_from_the_wire_and_the_trace():
    calls = moved(moved(server_calls(), "accept", 1.004, 1.0185), "recv", 1.019, 1.021)
    verdict = grade("tcp-server", evidence(calls, client_calls()), tcp_wire())
    assert verdict.status == PASS and verdict.detail.startswith(
        "listen() sent nothing; h2's kernel sent the SYN-ACK while accept() was still waiting, and accept() "
        "returned 6.50 ms after h1's ACK;")
    verdict = grade("tcp-client", evidence(server_calls(), moved(client_calls(), "connect", 1.005, 1.0175)),
                    tcp_wire())
    assert verdict.status == PASS and verdict.detail.startswith(
        "connect() sent the SYN and returned 6.50 ms after the SYN-ACK arrived;")


OTHER_CONNECTIONS = [  # segments of other connections, h1's or h2's, around the echo's own
    (1.0105, tcp_frame(H2, H1, PORT, 41001, "SA", 7000, 1)), (1.0106, tcp_frame(H2, H1, 9999, CLIENT, "SA", 7000, 1)),
    (1.0107, tcp_frame(H2, H1, PORT, CLIENT, "RA", 5000, 1)),  # left from an earlier connection on the same ports
    (1.0115, tcp_frame(H1, H2, 41001, PORT, "A", 1, 7001)), (1.0116, tcp_frame(H1, H2, CLIENT, 9999, "A", 1, 7001)),
    (1.035, tcp_frame(H2, H1, PORT, 41001, "FA", 7001, 1)), (1.036, tcp_frame(H2, H1, 9999, CLIENT, "FA", 7001, 1)),
    (1.045, tcp_frame(H1, H2, 41001, PORT, "FA", 1, 7002)), (1.046, tcp_frame(H1, H2, CLIENT, 9999, "FA", 1, 7002)),
]


def test_segments_of_other_connections_do_not_count():
    ev, wire = evidence(server_calls(), client_calls()), tcp_wire(extra=OTHER_CONNECTIONS)
    server, client = grade("tcp-server", ev, wire), grade("tcp-client", ev, wire)
    assert server.status == PASS and server.detail == (
        "listen() sent nothing; h2's kernel sent the SYN-ACK while accept() was still waiting, and accept() "
        "returned 0.50 ms after h1's ACK; sendall() sent the echo; close() on the connection sent the FIN")
    assert client.status == PASS and client.detail == (
        "connect() sent the SYN and returned 0.50 ms after the SYN-ACK arrived; the message crossed and came "
        "back to recv(); close() sent the FIN")


def test_a_capture_without_the_connections_handshake_still_grades_the_calls():
    # h2's SYN-ACK and h1's last ACK of the handshake are missing; another connection's SYN-ACK is there
    wire = reshaped(tcp_wire(), add=OTHER_CONNECTIONS[:1], drop=(1.011, 1.012))
    verdict = grade("tcp-server", evidence(server_calls(), client_calls()), wire)
    assert verdict.status == PASS and verdict.detail.endswith("close() on the connection sent the FIN")


# --- the TCP client's typical mistakes ---

def failed_connect(name: str, detail: str) -> list[Call]:
    return [call(1.004, 1.004, "socket", sid=SOCKET), call(1.005, 1.006, name, detail, SOCKET)]


REFUSED = ("connect() was refused: nothing listened on the server's port when the SYN came (the server's check "
           "says why); the kernel answered the SYN with a reset")
NOT_CLOSED = ("close() the socket (or use `with`): the FIN must come from your close(), not from Python freeing the "
              "socket when the function returns")


@pytest.mark.parametrize("calls, value, wire, detail, hint", [
    pytest.param(failed_connect("connect", "TCP raised Connection refused"), MESSAGE, refused_wire(),
                 "connect() TCP raised Connection refused", REFUSED, id="refused"),
    pytest.param(failed_connect("connect_ex", f"TCP ('{H2}', {PORT}) gave ECONNREFUSED"), MESSAGE, refused_wire(),
                 f"connect_ex() TCP ('{H2}', {PORT}) gave ECONNREFUSED", REFUSED, id="connect_ex refused"),
    pytest.param(failed_connect("connect", "TCP raised Network is unreachable"), MESSAGE, Wire([]),
                 "connect() TCP raised Network is unreachable",
                 "connect((server_ip, port)) with the address and port your function was given", id="unreachable"),
    pytest.param(without(client_calls(), "connect"), MESSAGE, Wire([]), "calls: socket, sendall, recv, close",
                 "connect((server_ip, port)) is missing: a TCP client connects before it sends", id="no connect"),
    pytest.param(client_calls(send=""), MESSAGE, tcp_wire(sent=b"", echo=b""),
                 "the message never crossed the wire; h1 sent nothing",
                 "sendall(message) on the connected socket: the server must get exactly the bytes you were given",
                 id="never sends"),
    pytest.param(client_calls(), MESSAGE, tcp_wire(sent=b"hello", echo=b"hello"),
                 "the message never crossed the wire; h1 sent b'hello'",
                 "sendall(message) on the connected socket: the server must get exactly the bytes you were given",
                 id="sends other bytes"),
    pytest.param(client_calls(), MESSAGE, tcp_wire(sent=LINE, echo=LINE),
                 f"the message never crossed the wire; h1 sent {LINE!r}",
                 "sendall(message) on the connected socket: the server must get exactly the bytes you were given",
                 id="adds a newline"),
    pytest.param(client_calls(), MESSAGE, tcp_wire(echo=b"echo me"),
                 "your message reached h2; h2 sent back b'echo me'",
                 "the server did not echo your message: see the TCP server's check", id="the echo differs"),
    pytest.param(without(client_calls(), "close"), MESSAGE, tcp_wire(),
                 "close() was never called on the connected socket", NOT_CLOSED, id="never closes"),
    pytest.param(client_calls() + [call(1.040, 1.040, "socket", sid=SOCKET), call(1.049, 1.050, "close", sid=SOCKET)],
                 MESSAGE, tcp_wire(), "close() was never called on the connected socket", NOT_CLOSED,
                 id="a close on a new socket with the freed id"),
    pytest.param(without(client_calls(), "recv"), MESSAGE, tcp_wire(), "calls: socket, connect, sendall, close",
                 "recv() is missing or out of place: socket, connect, sendall, recv, close", id="never receives"),
    pytest.param(client_calls(), b"echo me", tcp_wire(), "returned b'echo me'",
                 "return what recv() gave: the echo of your message", id="returns other bytes"),
    pytest.param(moved(client_calls(), "connect", 1.030, 1.031), MESSAGE, tcp_wire(),
                 "no SYN during connect() or no FIN after close()",
                 "connect() to (server_ip, port) and close() the socket at the end", id="no SYN during connect"),
    pytest.param(moved(client_calls(), "close", 1.060, 1.061), MESSAGE, tcp_wire(),
                 "no SYN during connect() or no FIN after close()",
                 "connect() to (server_ip, port) and close() the socket at the end", id="FIN before close"),
    pytest.param(moved(client_calls(), "connect", 1.030, 1.031), MESSAGE,
                 tcp_wire(extra=[(1.0302, tcp_frame(H1, H2, 41001, PORT, "S", 9000)),
                                 (1.0304, tcp_frame(H1, H2, CLIENT, 9999, "S", 9000))]),
                 "no SYN during connect() or no FIN after close()",
                 "connect() to (server_ip, port) and close() the socket at the end",
                 id="only other connections' SYNs during connect"),
    pytest.param(on_else(without(client_calls(), "close"), "close", 1.045) + [call(1.049, 1.050, "close", sid=ELSE)],
                 MESSAGE, tcp_wire(), "close() was never called on the connected socket", NOT_CLOSED,
                 id="closes another socket"),
    pytest.param(client_calls(), MESSAGE, tcp_wire(echo=b""), "your message reached h2; h2 sent back nothing",
                 "the server did not echo your message: see the TCP server's check", id="nothing came back"),
])
def test_tcp_client_mistakes_get_their_hint(calls, value, wire, detail, hint):
    verdict = grade("tcp-client", evidence(server_calls(), calls, client_value=value), wire)
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, detail, hint)


def test_a_client_shutdown_before_close_sends_the_fin_and_passes():
    calls = client_calls() + [call(1.045, 1.0451, "shutdown", sid=SOCKET)]
    verdict = grade("tcp-client", evidence(server_calls(), calls), tcp_wire(client_fin=1.0452))
    assert verdict.status == PASS and verdict.detail.endswith("; shutdown() sent the FIN")


# --- the UDP server's typical mistakes ---

@pytest.mark.parametrize("calls, value, wire, detail, hint", [
    pytest.param(udp_server_calls() + [call(1.0015, 1.0015, "listen", "UDP raised Operation not supported")],
                 MESSAGE, udp_wire(), "calls: socket, bind, listen, recvfrom, sendto, close",
                 "a UDP server has no listen() or accept(): bind(), then recvfrom()", id="listen"),
    pytest.param(udp_server_calls(), MESSAGE, udp_wire(sent=(b"hello",), echo=b"hello"),
                 "the client sent b'hello' instead of its message, so the echo could not be checked",
                 BLAMED.format("udp_echo_client"), id="the client sent other bytes"),
    pytest.param(udp_server_calls()[:2] + [call(1.002, 1.021, "recvfrom", "UDP still waiting when time was up")],
                 MESSAGE, udp_wire(echo=None, unreachable=True),
                 f"h2's kernel answered the client's datagram to port {PORT} with ICMP port unreachable",
                 "no socket was bound to the port the client wrote to: bind((my_ip, port)) with the port your "
                 "function was given", id="bound elsewhere"),
    pytest.param(without(udp_server_calls(), "recvfrom"), MESSAGE, udp_wire(), "calls: socket, bind, sendto, close",
                 "recvfrom() is missing or out of place: socket, bind, recvfrom, sendto, close", id="no recvfrom"),
    pytest.param(udp_server_calls(), MESSAGE, udp_wire(echo_from=5555), "no datagram went back from the server's port",
                 "sendto() the bytes back from the socket you bound: its port is the one the client wrote to, and "
                 "the one its echo must come from", id="answers from another socket"),
    pytest.param(udp_server_calls(), MESSAGE, udp_wire(echo_to=PORT),
                 f"the echo went to {H1}:{PORT}, the client listens on {H1}:{CLIENT}",
                 "reply to the address recvfrom() returned: the client's port was chosen by its kernel, and only "
                 "that address gets the echo", id="replies to the server's own port"),
    pytest.param(udp_server_calls(), MESSAGE, udp_wire(echo=b"wire echo"),
                 f"the client sent {MESSAGE!r}; h2 sent back b'wire echo'",
                 "send back exactly the bytes recvfrom() gave you, in one datagram", id="echoes a part"),
    pytest.param(udp_server_calls(), b"echo me", udp_wire(), "returned b'echo me'",
                 "return the data recvfrom() gave you (the first item of its pair)", id="returns other bytes"),
    pytest.param(udp_server_calls() + [call(1.0015, 1.0015, "accept", "UDP raised Operation not supported")],
                 MESSAGE, udp_wire(), "calls: socket, bind, accept, recvfrom, sendto, close",
                 "a UDP server has no listen() or accept(): bind(), then recvfrom()", id="accept"),
    pytest.param(udp_server_calls(), MESSAGE, udp_wire(to=OTHER),
                 "the client sent nothing instead of its message, so the echo could not be checked",
                 BLAMED.format("udp_echo_client"), id="the client wrote to another address"),
])
def test_udp_server_mistakes_get_their_hint(calls, value, wire, detail, hint):
    verdict = grade("udp-server", evidence(calls, udp_client_calls(), server_value=value, kind="udp"), wire)
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, detail, hint)


@pytest.mark.parametrize("error", [ICMP(type=3, code=4), ICMP(type=5, code=3)])  # not "port unreachable"
def test_other_icmp_errors_from_h2_are_not_a_port_nobody_bound(error):
    wire = reshaped(udp_wire(), add=[(1.0101, frame(H2, H1, error, bytes(IP(src=H1, dst=H2) / UDP())))])
    verdict = grade("udp-server", evidence(udp_server_calls(), udp_client_calls(), kind="udp"), wire)
    assert verdict.status == PASS, verdict


# --- the UDP client's typical mistakes ---

UNREACHABLE = [call(1.005, 1.005, "socket", "UDP", SOCKET),
               call(1.009, 1.009, "sendto", "UDP raised Network is unreachable", SOCKET)]


@pytest.mark.parametrize("calls, value, wire, detail, hint", [
    pytest.param(UNREACHABLE, MESSAGE, udp_wire(sent=(), echo=None),
                 "the message never crossed the wire; h1 sent nothing",
                 "sendto() UDP raised Network is unreachable: send to (server_ip, port), the address and port your "
                 "function was given", id="sendto failed"),
    pytest.param(udp_client_calls(), MESSAGE, udp_wire(sent=(b"hello",), echo=b"hello"),
                 "the message never crossed the wire; h1 sent b'hello'",
                 "sendto(message, (server_ip, port)): the whole message, in one datagram", id="sends other bytes"),
    pytest.param(udp_client_calls(), MESSAGE, udp_wire(sent=(b"wire echo", b" kernel #4711"), echo=b"wire echo"),
                 "the message never crossed the wire; h1 sent b'wire echo'; b' kernel #4711'",
                 "sendto(message, (server_ip, port)): the whole message, in one datagram", id="in two datagrams"),
    pytest.param(udp_client_calls(), MESSAGE, udp_wire(sent=(LINE,), echo=LINE),
                 f"the message never crossed the wire; h1 sent {LINE!r}",
                 "sendto(message, (server_ip, port)): the whole message, in one datagram", id="adds a newline"),
    pytest.param(udp_client_calls(), MESSAGE, udp_wire(to=OTHER), "the message never crossed the wire; h1 sent nothing",
                 "sendto(message, (server_ip, port)): the whole message, in one datagram", id="to another address"),
    pytest.param(udp_client_calls(), MESSAGE, udp_wire(echo_to=PORT), f"no echo came back to {H1}:{CLIENT}",
                 "your recvfrom() waited for an echo that went elsewhere: see the UDP server's check",
                 id="the echo went elsewhere"),
    pytest.param(udp_client_calls(), MESSAGE, udp_wire(echo=b"hello"), "your message reached h2; h2 sent back b'hello'",
                 "the server did not echo your message: see the UDP server's check", id="the echo differs"),
    pytest.param(without(udp_client_calls(), "recvfrom"), MESSAGE, udp_wire(), "calls: socket, sendto, close",
                 "recvfrom() is missing or out of place: socket, sendto, recvfrom, close", id="no recvfrom"),
    pytest.param(udp_client_calls(), b"echo me", udp_wire(), "returned b'echo me'",
                 "return the data recvfrom() gave (the first item of its pair)", id="returns other bytes"),
    pytest.param(udp_client_calls(), MESSAGE, wire_of([(1.010, frame(H1, H2, UDP(sport=CLIENT, dport=PORT), MESSAGE)),
                                                       (1.020, frame(H2, OTHER, UDP(sport=PORT, dport=CLIENT),
                                                                     MESSAGE))]),
                 f"no echo came back to {H1}:{CLIENT}",
                 "your recvfrom() waited for an echo that went elsewhere: see the UDP server's check",
                 id="the echo went to another address"),
    pytest.param(on_else(udp_client_calls(), "recvfrom", 1.0055), MESSAGE, udp_wire(),
                 "calls: socket, socket, sendto, recvfrom, close",
                 "recvfrom() is missing or out of place: socket, sendto, recvfrom, close",
                 id="receives on another socket"),
    pytest.param([dataclasses.replace(c, name="sendmsg") if c.name == "sendto" else c for c in udp_client_calls()],
                 MESSAGE, udp_wire(), "calls: socket, sendmsg, recvfrom, close",
                 "sendto() is missing or out of place: socket, sendto, recvfrom, close", id="no send the lab knows"),
])
def test_udp_client_mistakes_get_their_hint(calls, value, wire, detail, hint):
    verdict = grade("udp-client", evidence(udp_server_calls(), calls, client_value=value, kind="udp"), wire)
    assert (verdict.status, verdict.detail, verdict.hint) == (FAIL, detail, hint)


def test_a_connect_on_another_socket_is_not_said_to_set_up_the_clients():
    calls = udp_client_calls() + [call(1.0055, 1.0055, "socket", "UDP", ELSE),
                                  call(1.006, 1.006, "connect", f"UDP ('{H2}', {PORT})", ELSE)]
    verdict = grade("udp-client", evidence(udp_server_calls(), calls, kind="udp"), udp_wire())
    assert verdict.status == PASS and verdict.detail.startswith("sendto() put the message on the wire")


# --- the trace as the ladder draws it, and as it comes back from the sandbox ---

def test_calls_are_labelled_by_their_socket_and_how_they_ended():
    calls = server_calls() + [call(1.05, 1.06, "recv", "TCP raised Connection reset by peer", CONNECTION),
                              call(1.07, 3.07, "accept", "TCP still waiting when time was up")]
    drawn = dict(labels(calls))
    assert drawn[1.004] == "accept() (8.5 ms)" and drawn[1.002] == "bind()"
    assert drawn[1.039] == "close() the connection" and drawn[1.041] == "close() the listener"
    assert drawn[1.05] == "recv() (10.0 ms) FAILED" and drawn[1.07] == "accept() (2000.0 ms) NEVER RETURNED"
    assert dict(labels(client_calls()))[1.049] == "close()"  # no accept(): one socket, no role to name


def test_a_trace_comes_back_as_calls_of_a_role_and_odd_ids_are_dropped():
    outcome = SimpleNamespace(calls=((1.0, 1.5, "accept", "TCP from x", 7, 8), (2.0, 2.0, "close", "TCP", [7]),
                                     (3.0, 3.0, "bind", "TCP")), value=MESSAGE, status=DONE)
    role = Role.of(outcome)
    assert role == Role((Call(1.0, 1.5, "accept", "TCP from x", 7, 8), Call(2.0, 2.0, "close", "TCP", None, None),
                         Call(3.0, 3.0, "bind", "TCP", None, None)), MESSAGE, DONE)
    assert Call.of((1.0, 1.0, "connect_ex", "TCP gave ECONNREFUSED", 3)).failed


def test_a_call_is_found_by_its_whole_name_at_any_time():
    calls = [Call(0.0, 0.0, "socket", "TCP", 1), Call(0.2, 0.3, "send", "TCP", 1)]
    assert find(calls, "socket") == calls[0] and find(calls, "sendall") is None  # "send" is not "sendall"
    assert sequence(calls, [("socket",), ("send", "sendall")]) == (calls, None)


def test_an_id_is_taken_again_only_by_a_new_socket_or_connection_meanwhile():
    new_socket, new_connection = Call(1.5, 1.5, "socket", "TCP", CONNECTION), Call(1.5, 1.6, "accept", "TCP", 11, 12)
    assert recreated([new_socket], CONNECTION, 1.0, 2.0) and recreated([new_connection], CONNECTION, 1.0, 2.0)
    assert not recreated([new_socket, new_connection], CONNECTION, 2.0, 3.0)  # before that span
    assert not recreated([Call(1.5, 1.6, "accept", "TCP", 11, 14)], CONNECTION, 1.0, 2.0)  # another id
    assert not recreated([Call(1.5, 1.5, "close", "TCP", CONNECTION)], CONNECTION, 1.0, 2.0)


def tcp_connection(port: int, isn: int, pieces: list[bytes], order: list[int], dst: str = H2,
                   at: float = 1.0) -> list:
    """(time, frame) of h1's SYN from port at `at`, then its pieces of data sent in that order."""
    frames, seq = [(at, tcp_frame(H1, dst, port, PORT, "S", isn))], (isn + 1) % 2**32
    starts = []
    for piece in pieces:
        starts.append(seq)
        seq = (seq + len(piece)) % 2**32
    for i, index in enumerate(order):
        frames.append((at + 0.010 + i / 1000, tcp_frame(H1, dst, port, PORT, "PA", starts[index], 1, pieces[index])))
    return frames


ECHO = Echo(client_ip=H1, server_ip=H2, port=PORT, message=MESSAGE)


@pytest.mark.parametrize("isn", [1000, 2**31 - 3, 2**32 - 10])  # the last wraps past 2**32 mid-message
def test_a_message_in_pieces_is_read_in_sequence_order_whatever_the_isn(isn):
    pieces = [MESSAGE[:7], MESSAGE[7:15], MESSAGE[15:]]
    wire = wire_of(tcp_connection(CLIENT, isn, pieces, [1, 0, 2]))
    assert connection_of(wire, ECHO) == (CLIENT, repr(MESSAGE))


def test_each_connection_is_read_from_its_own_isn_and_only_to_the_server():
    first = tcp_connection(41001, 1005, [b"hi"], [0])
    second = tcp_connection(CLIENT, 1000, [MESSAGE[:7], MESSAGE[7:]], [0, 1], at=1.1)
    assert connection_of(wire_of(first + second), ECHO) == (CLIENT, f"b'hi'; {MESSAGE!r}")
    elsewhere = tcp_connection(CLIENT, 1000, [MESSAGE], [0], dst=OTHER)
    assert connection_of(wire_of(elsewhere), ECHO) == (None, "nothing")


def test_a_runs_ports_are_free_to_bind_and_its_message_a_few_words_and_a_number():
    for seed in range(200):
        drawn = draw(random.Random(seed))
        ports = [drawn.tcp, drawn.udp, *drawn.restart, drawn.nobody]
        # all different, not well known, below Linux's ephemeral range where the clients' ports come from
        assert len(set(ports)) == 5 and all(type(port) is int and 1024 <= port < 32768 for port in ports)
        words, number = drawn.message.decode().rsplit(" #", 1)
        assert 2 <= len(words.split(" ")) <= 7 and set(words.split(" ")) <= set(WORDS)
        assert number.isdigit() and len(number) <= 6


# --- real networks ---

def check_json(*args: str) -> tuple[int, dict]:
    result = lab("check", "socket-steps", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def notes(document: dict) -> str:
    return "\n".join(note for step in document["steps"] for note in step["notes"])


@pytest.mark.root
def test_reference_passes_and_the_experiments_show_linux(tmp_path):
    pcap = tmp_path / "c.pcapng"
    code, document = check_json("--solution", "--pcap", str(pcap))
    assert code == 0 and {c["status"] for c in document["checks"]} == {"pass"}
    assert tshark_segments(pcap) == reported_segments(document)  # the report agrees with tshark
    checks = {c["id"]: c["detail"] for c in document["checks"]}
    assert "listen() sent nothing" in checks["tcp-server"]
    assert "close() on the connection sent the FIN" in checks["tcp-server"]
    assert "connect() sent the SYN" in checks["tcp-client"] and "the message crossed" in checks["tcp-client"]
    text = notes(document)
    first = re.search(r"first server without SO_REUSEADDR, port (\d+) in TIME_WAIT; bind again with: (\w+)", text)
    second = re.search(r"first server with SO_REUSEADDR, port (\d+) in TIME_WAIT; bind again without: (\w+)", text)
    assert first[2] == "EADDRINUSE" and second[2] == "EADDRINUSE" and first[1] != second[1]
    assert f"first server with SO_REUSEADDR, port {second[1]} in TIME_WAIT; bind again with: bound" in text
    assert "shutdown() on an unconnected UDP socket: failed with ENOTCONN" in text
    assert "on a connected one (connect() only chose the peer, nothing was sent): succeeded; " \
           "frames it put on the wire: 0" in text
    assert "send() after shutdown(SHUT_WR): failed with EPIPE" in text
    # the calls are on the right host: the server's on h2, the client's on h1
    states = [(s["host"], s["state"]) for step in document["steps"] for s in step["states"]]
    assert ("h2", "listen()") in states and ("h1", "connect()") not in states
    assert ("h2", "close() the connection") in states and ("h2", "close() the listener") in states
    assert any(host == "h1" and state.startswith("connect() (") for host, state in states)


@pytest.mark.root
def test_untouched_exercise_is_not_done(tmp_path):
    code, document = check_json("--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and {c["status"] for c in document["checks"]} == {"not done"}


def attempt(tmp_path, code: str):
    path = tmp_path / "attempt.py"
    path.write_text(REFERENCE.read_text() + "\n\n" + code)
    return check_json("--exercise", str(path), "--pcap", str(tmp_path / "c.pcapng"))


@pytest.mark.root
def test_server_that_never_listens(tmp_path):
    status, document = attempt(tmp_path, """
def tcp_echo_server(my_ip, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((my_ip, port))
    connection, _ = server.accept()
    return connection.recv(100)
""")
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1
    assert checks["tcp-server"]["status"] == "fail" and "call listen() after bind()" in checks["tcp-server"]["hint"]
    assert "OSError" in checks["tcp-server"]["detail"]
    assert "connect() was refused" in checks["tcp-client"]["hint"]
    assert checks["udp-server"]["status"] == checks["udp-client"]["status"] == "pass"


@pytest.mark.root
def test_udp_reply_to_the_wrong_port(tmp_path):
    status, document = attempt(tmp_path, """
def udp_echo_server(my_ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((my_ip, port))
        data, sender = server.recvfrom(65535)
        server.sendto(data, (sender[0], port))
    return data
""")
    checks = {c["id"]: c for c in document["checks"]}
    assert checks["udp-server"]["status"] == "fail"
    assert "reply to the address recvfrom() returned" in checks["udp-server"]["hint"]
    assert "went elsewhere" in checks["udp-client"]["hint"]
    assert checks["tcp-server"]["status"] == checks["tcp-client"]["status"] == "pass"
