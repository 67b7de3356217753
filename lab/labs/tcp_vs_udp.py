"""tcp-vs-udp: the same messages over TCP and over UDP, between two real kernels, on a
link that loses packets: what arrives, in which order, how many reads it takes, what
went on the wire twice, and what each socket costs the kernel.

    h1 ---s1--- h2                       topologies/star.py, two hosts
    sender (kernel sockets)              receiver (kernel sockets)

Every run draws its subnet, its five ports, the messages of the boundaries step (how
many, their words, so their lengths), the experiment's size and read size, and which
datagrams of the late step come late or twice. Loss is an nft rule at h2's door
dropping a random LOSS_PERCENT % of the experiment's packets (lab/impair.py); delay,
reordering and duplication use netem where the kernel has it and are reported as
skipped where it has not.

Grading holds no split and no tally of its own. Each right answer is known from how
the lab made the case (the messages h1 sent and the offsets h2 read them at, the
datagrams held back or delivered twice, lists made up from the seed), or measured
(UDP's losses: nft's counter plus h2's socket drops). The experiments live in
_tcp_vs_udp_experiments.py, the cases in _tcp_vs_udp_cases.py, the table in
_tcp_vs_udp_table.py.
"""
from __future__ import annotations

import socket
import textwrap
from dataclasses import dataclass, field

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.errors import ScenarioError
from lab.grading import CONSTANT_HINT
from lab.impair import NO_NETEM, netem, netem_missing
from lab.labs._tcp_vs_udp_cases import (TALLY_KEYS, Plan, SplitCase, TallyCase, adjacent_inversions, answered,
                                        counts, describe_split, draw, late_order, made_up_buffers, no_answer,
                                        same_counts, scored, shown, split_value, stream_pieces, whose)
from lab.labs._tcp_vs_udp_experiments import (TcpResult, UdpResult, boundary_experiment, connected,
                                              data_segments, late_experiment, resent, slab_sizes,
                                              tcp_experiment, udp_experiment)
from lab.labs._tcp_vs_udp_table import ask_tally, count_rows, lines, losses, stream_note
from lab.peers import listen, states
from lab.sandbox import DONE

# The experiment: change these and run again.
LOSS_PERCENT = 10       # share of the experiment's packets nft drops at h2's door
MESSAGES = (150, 250)   # how many numbered messages each run sends over each protocol (drawn)
DELAY_MS = 10           # netem, where the kernel has it: delay of what h1 sends,
REORDER_PERCENT = 25    # the share sent at once, ahead of the delayed ones (reordering),
DUPLICATE_PERCENT = 2   # and the share sent twice
WAIT = 5.0              # seconds the lab waits at most for an experiment to finish

MEMORY_ROWS = (("rcvbuf", "receive buffer limit"), ("sndbuf", "send buffer limit"),
               ("rmem_alloc", "received, not yet read"), ("wmem_queued", "sent, kept until acknowledged"),
               ("fwd_alloc", "reserved ahead"))

INTRO = """\
The usual claims: TCP is connection-oriented, a byte stream, reliable and ordered,
and costs more system resources; UDP is connectionless, sends datagrams, may lose them and
may deliver them out of order, and is lighter. Here each claim is measured between two
Linux kernels: the handshake TCP needs and UDP does not; a few sends read back as one
read or as many; a couple of hundred numbered messages over a link that drops a random
10 % of packets (an nft rule at h2's door), counted as they arrive; TCP's
retransmissions counted on the wire; and the kernel's memory for each socket, read
with sock_diag."""


@dataclass
class Evidence:
    """What grading reads: every case with its right answer and what the call gave."""

    split: list[SplitCase] = field(default_factory=list)  # the boundaries' recv(), made up, stream pieces
    tally: list[TallyCase] = field(default_factory=list)  # the rows the lab counted (late first), made up


def say(run, text: str) -> None:
    """A note of a sentence or more: the report wraps it to the terminal's width."""
    run.note(text)


# --- the run ---

def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    plan = draw(run.rng, MESSAGES)
    keep = []  # connections the kernel must not see closed before the end
    text = (f"h2 listens on TCP port {plan.boundary_tcp} and binds UDP port {plan.boundary_udp}. The lab "
            "writes each host's MAC into the other's ARP table, so no ARP comes first. Then h1 connect()s: three segments, and "
            "both sides hold state for the connection before a single byte of data moves. The UDP socket has "
            "no peer and puts nothing on the wire until something is sent.")
    with run.step("Set-up: TCP opens a connection before any data; UDP does not", textwrap.fill(text, 86),
                  ladder=("h1", "h2")):
        say(run, f"this run's ports: TCP {plan.boundary_tcp} and UDP {plan.boundary_udp} here; TCP "
                 f"{plan.lossy_tcp} and UDP {plan.lossy_udp} for the experiment; UDP {plan.late_udp} for "
                 "late datagrams")
        server = listen(h2, plan.boundary_tcp)
        receiver = h2.socket(socket.SOCK_DGRAM)
        receiver.bind((h2.ip, plan.boundary_udp))
        run.introduce(h1, h2)
        client, connection = connected(h1, h2, server, plan.boundary_tcp)
        keep.append(connection)
        run.state(h1, states(h1, plan.boundary_tcp))
        run.state(h2, states(h2, plan.boundary_tcp))
        run.state(h2, f"UDP {plan.boundary_udp}: " + ", ".join(
            s.state for s in h2.kernel.sockets("udp") if s.local[1] == plan.boundary_udp))
        handshake = run.wire().tcp(dport=plan.boundary_tcp) + run.wire().tcp(sport=plan.boundary_tcp)
        run.note(f"TCP: {len(handshake)} segments (SYN, SYN-ACK, ACK) before any data; UDP: none")

    snapshot = boundaries(run, plan, h1, h2, client, connection, receiver)
    problem = netem_missing(h1)
    options = "" if problem else (f"delay {DELAY_MS}ms reorder {REORDER_PERCENT}% "
                                  f"duplicate {DUPLICATE_PERCENT}%")
    text = (f"h1 sends {plan.messages} numbered messages (b'00000\\n', b'00001\\n', ...) over a new TCP "
            f"connection to port {plan.lossy_tcp}, one send() each as soon as the one before has left "
            "(TCP_NODELAY, autocorking off: one segment per message), then over UDP to port "
            f"{plan.lossy_udp}, one sendto() each, h2 reading as they come. An nft rule in h2's input "
            f"drops a random {LOSS_PERCENT} % of them (`numgen random mod 100 < {LOSS_PERCENT}`); on TCP "
            "only data segments sent for the first time (an nft set remembers their sequence numbers), "
            "so a retransmission is never lost again and the run stays short. Its counter says how many "
            "it really dropped. Delay, reordering and duplication need netem (tc qdisc), which the lab "
            f"tries on {h1.interface} for real. The report does not list the experiment's frames (several "
            "hundred): the table sums them up, the capture has them all.")
    with run.step("The experiment, and the impaired link", textwrap.fill(text, 86)):
        impairments = {"loss": f"{LOSS_PERCENT} % at random, nft at h2's door"}
        for name, value in (("delay", f"{DELAY_MS} ms"), ("reordering", f"{REORDER_PERCENT} %"),
                            ("duplication", f"{DUPLICATE_PERCENT} %")):
            impairments[name] = f"{value}, netem on {h1.interface}" if options else NO_NETEM
        for name, value in impairments.items():
            run.note(f"{name + ':':<13} {value}")
        if problem:
            say(run, f"(tc qdisc add dev {h1.interface} root netem delay 10ms said: {problem})")

    with netem(h1, options):
        tcp = tcp_experiment(plan, h1, h2, keep, LOSS_PERCENT, WAIT)
        # netem delays each copy by DELAY_MS at most: three of them let the last one in
        udp = udp_experiment(plan, h1, h2, LOSS_PERCENT, WAIT, settle=3 * DELAY_MS / 1000 if options else 0.0)
    late = late_datagrams(run, plan, h1, h2, bool(problem))
    table(run, plan, tcp, udp, late, skipped=bool(problem))
    resources(run, snapshot, tcp, udp)


def boundaries(run, plan: Plan, h1, h2, client, connection, receiver) -> dict:
    """The boundaries step; returns the sockets' memory while h2 held the messages unread."""
    n = len(plan.texts)
    with run.step(f"Message boundaries: {n} send() calls, {n} sendto() calls (your split_messages)",
                  f"h1 sends the same {n} messages twice: with {n} send() calls on the TCP connection\n"
                  f"({n} segments on the wire), then with {n} sendto() calls on UDP ({n} datagrams).\n"
                  "The lab waits until h2's kernel holds all of them, then reads as much as it can at once.",
                  ladder=("h1", "h2")):
        seen = boundary_experiment(run, plan, h1, h2, client, connection, receiver)
        tcp_reads, udp_reads = seen.tcp_reads, seen.udp_reads
        say(run, f"TCP: {n} send() calls, {len(tcp_reads)} recv(): " + ", ".join(map(repr, tcp_reads)))
        say(run, f"UDP: {n} sendto() calls, {len(udp_reads)} recvfrom(): " + ", ".join(map(repr, udp_reads)))
        buffer = b"".join(tcp_reads)
        if buffer != b"".join(plan.texts):
            raise ScenarioError("h2's TCP stream is not the messages h1 sent")
        cases = [SplitCase("live", f"the one recv() of {n} send() calls", buffer,
                           ([text[:-1] for text in plan.texts], b""))] + made_up_buffers(run.rng)
        split = run.student("split_messages", h2, buffer, extra=[(case.input,) for case in cases[1:]])
        say(run, f"{whose(split)}({buffer!r}) gave {shown(split.value, 200)}")
        run.note(f"(and {len(cases) - 1} buffers the lab made up, graded too)")
        run.evidence.split = answered(cases, split)
    return seen.memory


def late_datagrams(run, plan: Plan, h1, h2, no_netem: bool) -> list[int]:
    last, (first, second) = plan.late - 1, plan.held
    why = ("This kernel lacks netem, so the lab itself plays the network" if no_netem else
           "To show it the same way every run, the lab plays the network (netem does it at random)")
    text = (f"h1 sends datagrams 0 to {last} to port {plan.late_udp}. {why}: it holds {first} and {second} "
            f"at h2's door (an nft rule) and delivers them after {last}, and it delivers {plan.twice} a "
            "second time right after the first. Each is a real frame, sent again from the switch port into "
            "h2's kernel.")
    with run.step("UDP keeps no order and no count: two datagrams late, one twice (by the lab's hand)",
                  textwrap.fill(text, 86), ladder=("h1", "h2")):
        received = late_experiment(run, plan, h1, h2)
        run.note(f"h1 sent 0 to {last} in order; h2 received, in this order: " + " ".join(map(str, received)))
        if received != late_order(plan):
            raise ScenarioError(f"h2 did not receive the datagrams in the order the lab made: {received}")
        return received


def table(run, plan: Plan, tcp: TcpResult, udp: UdpResult, late: list[int], skipped: bool) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    pieces = stream_pieces(plan, tcp.chunks)  # first: it checks the stream tcp_row counts on
    segments = data_segments(run.wire(), h1.ip, plan.lossy_tcp)
    again = resent(segments)
    rows = count_rows(plan, tcp, udp, late)
    with run.step("What arrived: the table (your tally)",
                  "What h2's applications received, as the lab knows it: TCP's stream checked against the\n"
                  "messages h1 sent; UDP's losses from nft's counter and h2's socket drops; the late\n"
                  "datagrams from the lab's own hand. Your tally() gets each row's numbers, and lists the\n"
                  "lab made up. Resent: TCP data segments from h1 whose bytes an earlier segment had\n"
                  "already carried, counted in the capture; UDP never sends anything twice by itself.\n"
                  "Time: from the first send to the last message in h2's socket."):
        figures, remarks, run.evidence.tally = ask_tally(run, rows)
        for line in lines(rows, figures, again, tcp.took, udp.took):
            run.note(line)
        if skipped:
            run.note(f"delay, reordering, duplication: {NO_NETEM}")
        for remark in remarks:
            say(run, remark)
        for text in losses(plan, tcp, udp, rows, again, len(segments), WAIT):
            say(run, text)
        if pieces:
            split = run.student("split_messages", h2, pieces[0].input,
                                extra=[(piece.input,) for piece in pieces[1:]])
            given = answered(pieces, split)
            run.evidence.split += given
            say(run, stream_note(plan, split, given))


def resources(run, snapshot: dict, tcp: TcpResult, udp: UdpResult) -> None:
    with run.step("What each socket costs the kernel: sock_diag's memory figures",
                  "Read with sock_diag (SKMEMINFO) while h2 held the boundary messages unread, in bytes.\n"
                  "For a TCP connection each kernel keeps a send buffer whose bytes stay queued until\n"
                  "acknowledged (the retransmission queue), a receive buffer that puts segments back in\n"
                  "order, and per-connection state: sequence numbers, windows, RTT estimate, congestion\n"
                  "window and timers (retransmission, delayed ACK, keepalive). For a UDP socket it keeps\n"
                  "a queue of received datagrams and nothing for what it sent: no peer, no timer."):
        run.note(f"{'':11} {'TCP h1':>7} {'TCP h2':>7} {'UDP h1':>7} {'UDP h2':>7}")
        for key, meaning in MEMORY_ROWS:
            run.note(f"{key:<11} " + " ".join(f"{(sock.memory if sock else {}).get(key, '?'):>7}"
                                              for sock in snapshot.values()) + f"  {meaning}")
        slab = slab_sizes()
        if slab:
            say(run, f"the socket structure itself (/proc/slabinfo): {slab.get('TCP', '?')} bytes for TCP, "
                     f"{slab.get('UDP', '?')} for UDP, per socket")
        if sent := tcp.after_send:
            say(run, f"right after h1's last send() of the lossy experiment, its TCP socket still held "
                     f"{sent.queues[1]} bytes unacknowledged, kept in case they must be sent again "
                     f"(with their buffers: wmem_queued {sent.memory.get('wmem_queued', '?')})")
        if udp.after_send:
            say(run, f"right after h1's last sendto(), its UDP socket held wmem_queued "
                     f"{udp.after_send.memory.get('wmem_queued', '?')}: a datagram sent is forgotten")
        say(run, "rcvbuf and sndbuf are limits, not memory in use; Linux grows TCP's as a connection "
                 "needs them (tcp_rmem, tcp_wmem)")


# --- grading: the student's answers against the answers the lab knows by construction ---

def grade_split(ev: Evidence, wire) -> Verdict:
    """split_messages on the boundaries' recv(), the made-up buffers and the stream's pieces."""
    result = scored(ev.split)
    if result.wrong is None:
        kinds = [case.kind for case in ev.split]
        return passed(f"{result.summary}: the boundaries step's recv(), {kinds.count('stream')} pieces of the "
                      f"stream cut mid-message, {kinds.count('made up')} made-up buffers")
    case = ev.split[result.wrong[0]]
    if case.status != DONE:
        return no_answer(result, case, f"split_messages({shown(case.input, 60)})",
                         "it must answer for any buffer: a message may hold any byte but b'\\n' (spaces, "
                         "b'\\x00', b'\\xff': bytes, not text), and a buffer may be empty")
    detail = (f"{result.summary}; {case.where}: {describe_split(case.input, case.output)}; "
              f"right: {split_value(case.truth)}")
    return failed(detail, CONSTANT_HINT if result.constant else split_hint(case.input, case.output, case.truth))


def split_hint(buffer: bytes, value, truth) -> str:
    """The typical mistake behind a wrong split, named."""
    (messages, rest), (wanted, wanted_rest) = value, truth
    mistakes = [
        (len(messages) == 1 and messages[0] in (buffer, buffer.rstrip(b"\n")) and len(wanted) > 1,
         "one recv() is not one message: TCP is a byte stream and kept no trace of the send() calls. "
         "Cut the buffer at every b'\\n'"),
        (any(m.endswith(b"\n") for m in messages) and [m.removesuffix(b"\n") for m in messages] == wanted,
         "leave the b'\\n' out of each message: it marks where a message ends, it is not part of it"),
        (messages == wanted + [wanted_rest] and bool(wanted_rest),
         f"the bytes after the last b'\\n' ({wanted_rest!r}) are not a message yet: the rest of it comes "
         "with the next recv(). Return them as rest"),
        (messages == wanted + [b""] and not wanted_rest,
         "a buffer that ends with b'\\n' leaves rest b'': the empty piece after it is not a message"),
        (messages == wanted and rest == b"" and bool(wanted_rest),
         f"you dropped the incomplete rest {wanted_rest!r}: the lab reads the stream a few hundred bytes at a "
         "time, so a message is often cut in two; return the piece after the last b'\\n' as rest, and the lab "
         "puts it in front of the next recv()"),
        (messages == wanted, f"rest is the bytes after the last b'\\n': {wanted_rest!r}"),
        (b"".join(messages) + rest != buffer.replace(b"\n", b""),
         "every byte of the buffer but the b'\\n's must come back, in order, in messages or rest: spaces, "
         "b'\\r' and b'\\x00' belong to a message like any other byte (no strip(), no split() without b'\\n')"),
    ]
    return next((hint for wrong, hint in mistakes if wrong),
                "messages in order, without their b'\\n'; rest: what follows the last b'\\n'")


def grade_tally(ev: Evidence, wire) -> Verdict:
    """tally on the rows the lab counted itself and on the made-up lists."""
    result = scored(ev.tally, same_counts)
    if result.wrong is None:
        rows = sum(not case.where.startswith("a list") for case in ev.tally)
        return passed(f"{result.summary}: {rows} rows of the table, {len(ev.tally) - rows} made-up lists "
                      "(losses, copies, late arrivals, nothing at all)")
    case = ev.tally[result.wrong[0]]
    call = f"tally({case.sent}, {shown(case.received, 60)})"
    if case.status != DONE:
        return no_answer(result, case, call, "it must answer for any list of numbers, an empty one (nothing "
                                             "arrived) too")
    detail = f"{result.summary}; {case.where}: {call} gave {counts(case.output)}; right: {counts(case.truth)}"
    return failed(detail, CONSTANT_HINT if result.constant else tally_hint(case))


def tally_hint(case: TallyCase) -> str:
    """The typical mistake behind a wrong count, named."""
    received, got, truth = case.received, case.output, case.truth
    if set(TALLY_KEYS) - set(got):
        return f"return a dict with the keys {', '.join(TALLY_KEYS)}"
    mistakes = [
        (got["delivered"] == len(received) != truth.delivered,
         "a number that arrived twice was delivered once: delivered counts distinct numbers, and "
         "each extra copy counts as duplicated"),
        (got["lost"] == case.sent - len(received) != truth.lost,
         "lost is what never arrived: sent minus the distinct numbers delivered, not minus the "
         "arrivals (a duplicate would hide a loss)"),
        (got["duplicated"] != truth.duplicated,
         "duplicated counts extra arrivals: a number received k times adds k - 1"),
        (got["out_of_order"] == 0 and truth.out_of_order > 0,
         f"you counted nothing out of order, yet {', '.join(map(str, case.late[:3]))} arrived after a "
         "larger number: UDP keeps no order. Count each first arrival smaller than the largest "
         "number received before it"),
        (got["out_of_order"] == adjacent_inversions(received) != truth.out_of_order,
         "compare with the largest number received so far, not with the one just before: after "
         "... 9, 3, 4, the 4 is late too, although it follows 3"),
        (got["out_of_order"] != truth.out_of_order,
         "out of order: first arrivals smaller than the largest number received before them "
         "(a duplicate counts as duplicated only)"),
        (got["delivered"] != truth.delivered, "delivered: how many of the numbers 0 to sent-1 "
                                              "arrived at least once"),
    ]
    return next((hint for wrong, hint in mistakes if wrong), "lost = sent - delivered")


LAB = Lab(
    name="tcp-vs-udp",
    title="TCP vs UDP: stream and datagrams, loss and order, retransmissions and memory, measured",
    topology="star",
    topology_args=(2,),
    exercise="tcp_vs_udp",
    todos=("split_messages", "tally"),
    returns={"split_messages": tuple[list[bytes], bytes], "tally": dict[str, int]},
    checks=(
        CheckSpec("split", "split_messages", "a TCP byte stream framed back into its messages", grade_split),
        CheckSpec("tally", "tally", "delivered, lost, duplicated and out of order, as the lab counts them",
                  grade_tally),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
