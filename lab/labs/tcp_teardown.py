"""tcp-teardown: the four-way teardown, first with the student's segments against a
real Linux socket, then between two kernels with every state held visible, then the
half-close, TIME_WAIT, and a FIN dropped on purpose.

    h1 ---s1--- h2                     topologies/star.py, two hosts (subnet drawn per run)
    student's segments, port C         kernel socket on port S (and two more)

Every run draws its ports, the data h1 sends before closing (text and length), and
the ISN and window of the lab's own segments from run.rng. expected_fin_ack is also
asked about segments of the lab's own making (lab/segments.py).
"""
from __future__ import annotations

import functools
import socket
import time
from dataclasses import dataclass

from scapy.layers.inet import IP, TCP

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.errors import ScenarioError
from lab.exchange import WAIT, Sent, poll, to_frame, transmit
from lab.grading import first_mistake, sent_frame
from lab.kinds import Frame
from lab.peers import accept, connect, listen, received, states
from lab.segments import (SHAPE, Ends, Prediction, craft, describe, grade_prediction, message, misaddressed, ports,
                          predict, reply_to, show_states)
from lab.wire import flag_names

TIME_WAIT_WATCH = 1.0  # seconds the lab watches TIME_WAIT tick down (Linux keeps it 60 s)

INTRO = """\
Either side may close first. The active closer sends FIN seq=m (FIN_WAIT_1); the
other acknowledges m+1 (it is now CLOSE_WAIT, the closer FIN_WAIT_2), and may go on
sending: only one direction is closed. When its application closes too, it sends its
own FIN seq=k (LAST_ACK); the closer acknowledges k+1 and waits in TIME_WAIT, twice
the maximum segment lifetime (2MSL), in case that last ACK is lost and the FIN comes
again; then both are CLOSED. Like a SYN, a FIN carries no data but consumes one
sequence number. (Linux's sock_diag writes FIN_WAIT_1 and FIN_WAIT_2 as FIN_WAIT1 and
FIN_WAIT2.)"""


@dataclass
class Evidence:
    """What the scenario saw; each check reads its part."""

    ends: Ends = Ends()
    y: int = 0                 # h2's ISN
    data_seq: int = 0          # the seq of h1's data segment before the FIN (x+1)
    length: int = 0            # its length
    m: int = 0                 # the FIN's seq: the number after that data
    fin: Sent = Sent()
    fin_states: str = ""       # h2's sockets once it took the FIN
    h2_ack: int | None = None  # h2's ACK of the FIN taken
    prediction: Prediction = Prediction()  # expected_fin_ack on that FIN and made-up segments
    k: int = 0                 # the seq of h2's FIN
    last_ack: Sent = Sent()
    closed: bool = False       # h2's socket gone after the last ACK


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    server, client, kernels, fault = ports(run.rng, 4)
    data = message(run.rng)
    x = run.rng.randrange(2**32 - 2**16)  # an ISN this short connection never wraps past
    window = run.rng.randrange(8192, 65536)
    ev = run.evidence
    with run.step(f"Set-up: a connection from h1's crafted segments to h2's socket on port {server}",
                  "The lab keeps h1's kernel quiet (an nft rule drops its resets), opens the\n"
                  f"connection with its own SYN and ACK, and sends {len(data)} bytes, which h2 acknowledges.",
                  ladder=("h1", "h2")):
        h1.firewall.add("rst-guard", "output", "tcp flags rst")
        server_socket = listen(h2, server)
        run.introduce(h1, h2)
        own = functools.partial(craft, h1, h2, client, server, window=window)  # own(flags, seq, ack, data)
        syn_ack = send_own(h1, h2, own("S", x), reply_to(h1, server, client, "SA"))
        y = syn_ack[TCP].seq
        send_own(h1, h2, own("A", x + 1, y + 1), lambda: "ESTABLISHED" in h2.tcp_states(client))
        connection = poll(lambda: accept(server_socket), 0.5)
        my_last = own("PA", x + 1, y + 1, data)
        peer_last = send_own(h1, h2, my_last, reply_to(h1, server, client, "A"))
        poll(lambda: received(connection), 0.5)
        run.state(h2, states(h2, server))
    ev.ends, ev.y = Ends(h1.ip, h2.ip, client, server), y
    ev.data_seq, ev.length, ev.m = x + 1, len(data), x + 1 + len(data)

    with run.step("h1 closes: FIN (your build_fin and expected_fin_ack)",
                  "h2's kernel acknowledges the FIN by itself, without its application, and tells\n"
                  "the application (recv returns b''); the socket waits in CLOSE_WAIT for the\n"
                  "application to close.\n"
                  "expected_fin_ack is also asked about segments of the lab's own making.",
                  ladder=("h1", "h2")):
        # Taken means CLOSE_WAIT: h2 also answers a misplaced FIN, with a duplicate ACK.
        fin = run.exchange("build_fin", h1, h2, my_last, peer_last,
                           answer=lambda: "CLOSE_WAIT" in h2.tcp_states(client))
        ev.fin, ev.fin_states = fin.sent, states(h2, server)
        run.state(h2, ev.fin_states)
        acks = poll(lambda: run.wire().tcp(after=fin.sent.fallback_at or fin.sent.sent_at, sport=server,
                                           dport=client, flags="A"), 0.5)
        ev.h2_ack = acks[-1].packet[TCP].ack if acks else None
        if acks:
            waited = (acks[-1].time - (fin.sent.fallback_at or fin.sent.sent_at)) * 1000
            run.note(f"h2's ACK came {waited:.1f} ms after the FIN: Linux may hold back a pure ACK (up to "
                     "40 ms, its delayed-ACK timer) in case data or its own FIN can go with it")
        ev.prediction = predict(run, "expected_fin_ack", h1, fin.packet[IP], h2.ip)
        run.note(f"expected_fin_ack gave {ev.prediction.guess!r}; h2 answered ack={ev.h2_ack}")

    with run.step("h2's application closes: its FIN, and LAST_ACK", ladder=("h1", "h2")):
        connection.close()
        peer_fin = poll(reply_to(h1, server, client, "FA"), 0.5)
        if peer_fin is None:
            raise ScenarioError("h2 did not send its FIN after its application closed")
        run.state(h2, states(h2, server))

    with run.step("h1 acknowledges h2's FIN (your build_last_ack)",
                  "With the last ACK in, h2's socket is gone: CLOSED. (h1 has no kernel socket\n"
                  "here, so there is no TIME_WAIT on its side; the next steps show one.)",
                  ladder=("h1", "h2")):
        last = run.exchange("build_last_ack", h1, h2, peer_fin, answer=lambda: not h2.tcp_states(client),
                            wait=0.15)  # under h2's FIN retransmission timeout (at least 200 ms)
        run.state(h2, states(h2, server))
        ev.k, ev.last_ack, ev.closed = peer_fin[TCP].seq, last.sent, not h2.tcp_states(client)

    kernels_close(run, h1, h2, kernels)
    lost_fin(run, h1, h2, fault)


def send_own(h1, h2, segment, answer):
    """Send one of the lab's own segments from h1 and return h2's answer to it."""
    _, got, took = transmit(h1, to_frame(segment, h1, h2)[0], answer, WAIT)
    if took is None:
        raise ScenarioError(f"{h2.name} did not take the lab's own {flag_names(segment)} segment")
    return got


def kernels_close(run, h1, h2, port: int) -> None:
    """Active close between two kernels, each transient state held long enough to read."""
    def both():
        show_states(run, port, h1, h2)

    with run.step("Two kernels: h1 closes first (shutdown), FIN_WAIT_1 held visible",
                  "The lab holds h2's ACK of the FIN at h1's door: h1 waits in FIN_WAIT1 while h2\n"
                  "is already CLOSE_WAIT. Delivered, the ACK moves h1 to FIN_WAIT2.",
                  ladder=("h1", "h2")):
        server = listen(h2, port)
        client = connect(h1, h2, port)
        connection = poll(lambda: accept(server), 0.5)
        both()
        run.hold(h1, f"tcp sport {port} tcp flags == ack", "hold-ack")
        client.shutdown(socket.SHUT_WR)  # close() would make any later data draw a reset
        poll(lambda: "CLOSE_WAIT" in h2.tcp_states(port), 0.5)
        both()
        run.release(h1, "hold-ack", lambda p: TCP in p and p[TCP].sport == port)
        poll(lambda: "FIN_WAIT2" in h1.tcp_states(port), 0.5)
        both()

    with run.step("Half-close: h2 still sends in CLOSE_WAIT, h1 receives in FIN_WAIT2",
                  "Can the side that received the first FIN still send? Yes: after the first ACK\n"
                  "the passive side can still send, and the data reaches the side that closed first.",
                  ladder=("h1", "h2")):
        connection.send(b"one more thing")
        got = poll(lambda: received(client), 0.5)
        both()
        run.note(f"h1's application received {got!r} after it had sent its FIN")

    with run.step("h2 closes: LAST_ACK held visible; h1 enters TIME_WAIT",
                  "The lab holds h1's last ACK at h2's door: h2 waits in LAST_ACK while h1 is\n"
                  "already in TIME_WAIT. Delivered, the ACK ends h2's socket.", ladder=("h1", "h2")):
        run.hold(h2, f"tcp dport {port} tcp flags == ack", "hold-last-ack")
        connection.close()
        poll(lambda: "TIME_WAIT" in h1.tcp_states(port), 0.5)
        both()
        run.release(h2, "hold-last-ack", lambda p: TCP in p and p[TCP].dport == port)
        poll(lambda: not any(s != "LISTEN" for s in h2.tcp_states(port)), 0.5)
        both()

    with run.step("TIME_WAIT: how long, read from the kernel",
                  "2MSL is twice the maximum segment lifetime: 4 minutes with RFC 793's MSL of\n"
                  "2 minutes. Linux does not use a configurable MSL: it keeps TIME_WAIT a fixed\n"
                  "60 s. (tcp_fin_timeout, often blamed, bounds an orphaned FIN_WAIT2 instead.)"):
        first = time_wait(h1, port)
        time.sleep(TIME_WAIT_WATCH)  # the point is to let time pass
        second = time_wait(h1, port)
        fin_timeout = h1.kernel.sysctl("net.ipv4.tcp_fin_timeout")
        run.note(f"h1's socket: {first[0]}, {first[1] / 1000:.1f} s left; "
                 f"{TIME_WAIT_WATCH:g} s later: {second[0]}, {second[1] / 1000:.1f} s left")
        run.note(f"so Linux keeps TIME_WAIT about {round((first[1] + 500) / 1000 / 10) * 10} s here, whatever "
                 f"tcp_fin_timeout says (it is {fin_timeout} s, and bounds an orphaned FIN_WAIT2)")


def time_wait(host, port: int) -> tuple[str, int]:
    """(state, milliseconds left) of host's TIME_WAIT socket with port at one end."""
    for sock in host.kernel.sockets("tcp"):
        if port in (sock.local[1], sock.remote[1]) and sock.state == "TIME_WAIT":
            return sock.state, sock.expires_ms
    return "no TIME_WAIT socket", 0


def lost_fin(run, h1, h2, port: int) -> None:
    with run.step("A lost FIN: dropped once on purpose, then retransmitted",
                  "An nft rule at h2's door drops h1's first FIN and is then removed. h1 stays in\n"
                  "FIN_WAIT1 and h2 in ESTABLISHED until h1's kernel sends the FIN again, after\n"
                  "its retransmission timeout.", ladder=("h1", "h2")):
        server = listen(h2, port)
        client = connect(h1, h2, port)
        connection = poll(lambda: accept(server), 0.5)  # kept: a dropped socket would close
        h2.firewall.add("drop-fin", "input", f"tcp dport {port} tcp flags & fin == fin")
        run.event(f"the lab drops, at h2's door, the first FIN to port {port}")
        client.shutdown(socket.SHUT_WR)
        poll(lambda: h2.firewall.dropped("drop-fin"), 1.0)
        h2.firewall.remove("drop-fin")
        show_states(run, port, h1, h2)
        poll(lambda: "CLOSE_WAIT" in h2.tcp_states(port), 3.0)
        show_states(run, port, h1, h2)
        fins = run.wire().tcp(sport=poll(lambda: client.getsockname()[1], 0.1), dport=port)
        fins = [f for f in fins if "F" in str(f.packet[TCP].flags)]
        if len(fins) >= 2:
            run.note(f"the FIN went out again {1000 * (fins[1].time - fins[0].time):.0f} ms later")
        connection.close()


# --- grading: from the captured segments and h2's socket states ---

def grade_fin(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.fin, wire, SHAPE)
    if verdict:
        return verdict
    segment, m, y, ends = seen.packet, ev.m, ev.y, ev.ends
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        ("F" not in flags, f"flags are {flag_names(segment)}: a FIN needs the FIN flag"),
        ("A" not in flags, "FIN without the ACK flag: every segment after the handshake carries ACK, "
                           "and Linux ignores one without it: flags='FA'"),
        (tcp.seq == ev.data_seq, f"seq not advanced after data: your {ev.length} bytes took "
                                 f"{ev.length} sequence numbers, so the FIN's seq is {m}"),
        (tcp.seq != m, f"seq is m{tcp.seq - m:+d}: the FIN takes the number after your last byte"),
        (tcp.ack != y + 1, f"ack is y{tcp.ack - y:+d}: you still expect h2's byte y+1"),
        ((tcp.sport, tcp.dport) != (ends.client, ends.server),
         f"keep the connection's ports: from {ends.client} to {ends.server}"),
        misaddressed(segment, ends),
    ]
    if verdict := first_mistake(describe(segment), mistakes):
        return verdict
    if ev.fin.fallback_at is not None or "CLOSE_WAIT" not in ev.fin_states or ev.h2_ack != m + 1:
        return failed(describe(segment), "h2 did not take the FIN; check its addresses")
    return passed(f"FIN,ACK seq=m={m}; h2 acknowledged m+1 and went CLOSE_WAIT")


def grade_fin_ack(ev: Evidence, wire) -> Verdict:
    return grade_prediction(ev.prediction, ev.h2_ack, f"m+1 = {ev.h2_ack}: the FIN consumed one sequence number")


def grade_last_ack(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.last_ack, wire, SHAPE)
    if verdict:
        return verdict
    segment, m, k, ends = seen.packet, ev.m, ev.k, ev.ends
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        (flags != "A", f"flags are {flag_names(segment)}: the last segment is a plain ACK, flags='A'"),
        (tcp.ack == k, "ack=k: h2's FIN consumes a sequence number, so the ACK number is k+1"),
        (tcp.ack != k + 1, f"ack is k{tcp.ack - k:+d}: acknowledge h2's FIN with k+1"),
        (tcp.seq == m, "seq=m: your FIN used up m, so this segment's seq is m+1"),
        (tcp.seq != m + 1, f"seq is m{tcp.seq - m:+d}: after your FIN, your next number is m+1"),
        ((tcp.sport, tcp.dport) != (ends.client, ends.server),
         f"swap the FIN's ports: the ACK goes from {ends.client} to {ends.server}"),
        misaddressed(segment, ends),
    ]
    if verdict := first_mistake(describe(segment), mistakes):
        return verdict
    if ev.last_ack.fallback_at is not None or not ev.closed:
        return failed(describe(segment), "h2's socket did not close; check the ports")
    return passed("ACK seq=m+1 ack=k+1; h2 left LAST_ACK and its socket is gone (CLOSED)")


LAB = Lab(
    name="tcp-teardown",
    title="TCP four-way teardown: FIN, ACK, FIN, ACK, half-close and TIME_WAIT",
    topology="star",
    topology_args=(2,),
    exercise="tcp_teardown",
    todos=("build_fin", "expected_fin_ack", "build_last_ack"),
    returns={"build_fin": Frame(IP, TCP), "expected_fin_ack": int, "build_last_ack": Frame(IP, TCP)},
    checks=(
        CheckSpec("fin", "build_fin", "FIN,ACK seq=m puts h2 in CLOSE_WAIT", grade_fin),
        CheckSpec("fin-ack", "expected_fin_ack", "h2 acknowledges the FIN with m+1, and other segments get theirs",
                  grade_fin_ack),
        CheckSpec("last-ack", "build_last_ack", "ACK ack=k+1 takes h2 from LAST_ACK to CLOSED", grade_last_ack),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
