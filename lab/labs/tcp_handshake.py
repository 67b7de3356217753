"""tcp-handshake: the three-way handshake, one crafted segment at a time, against a
real Linux listener, with its socket states read live beside each segment.

    h1 ---s1--- h2                     topologies/star.py, two hosts (subnet drawn per run)
    student's segments, port C         kernel listener on port S (and a second one)

Then the same handshake between two real kernels, with h2's SYN-ACK held back at
h1's door long enough to read h1's SYN_SENT, and released.

Every run draws its ports and its data (text and length) from run.rng. build_syn is
also asked, in the same call, for two SYNs never sent (the same connection again and
another one): each must follow its arguments and have an ISN of its own.
expected_ack is also asked about segments of the lab's own making (lab/segments.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.inet import IP, TCP

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.exchange import Sent, poll
from lab.exercise import DONE
from lab.grading import CONSTANT_HINT, LAB_FAULT, before, first_mistake, score, sent_frame
from lab.kinds import Frame
from lab.peers import accept, connect, listen, received, states
from lab.segments import (SEQ_SPACE, SHAPE, Ends, Prediction, describe, grade_prediction, message, misaddressed,
                          ports, predict, reply_to, show_states)
from lab.wire import flag_names, payload

CLOSE_ISNS = 1024  # two ISNs nearer than this were counted, not drawn

INTRO = """\
TCP opens a connection with three segments. A sends SYN with its initial sequence
number x (state SYN_SENT); B answers SYN+ACK with its own ISN y and ack=x+1 (B is
in SYN_RECV); A sends ACK with seq=x+1 and ack=y+1, and both are ESTABLISHED.
A SYN carries no data, yet it consumes one sequence number: that is why the answer
acknowledges x+1. Both ISNs are chosen at random, so that a stranger cannot guess
them and slip segments into the connection."""


@dataclass
class Evidence:
    """What the scenario saw; each check reads its part."""

    ends: Ends = Ends()
    syn: Sent = Sent()
    syn_states: str = ""       # h2's sockets once it took the SYN
    other_syns: tuple = ()     # (status, syn_fields or why) of each SYN asked for, never sent
    wanted_syns: tuple = ()    # the syn_fields each of those must have, but its ISN
    x: int = 0                 # h1's ISN: the seq of the SYN taken
    y: int = 0                 # h2's ISN, from its SYN-ACK
    ack: Sent = Sent()
    ack_states: str = ""       # h2's sockets once it took the ACK
    data: Sent = Sent()
    message: bytes = b""       # the data build_data was given
    received: bytes = b""      # what h2's application read
    h2_ack: int | None = None  # h2's ACK of the data segment taken
    prediction: Prediction = Prediction()  # expected_ack on that segment and made-up ones


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    server, kernels, client, other_client, other_server = ports(run.rng, 5)
    data = message(run.rng)
    ev = run.evidence
    ev.ends = Ends(h1.ip, h2.ip, client, server)
    with run.step(f"Set-up: h2 listens on port {server}; h1's kernel is kept quiet",
                  "h1's kernel never sent a SYN, so it would answer h2's SYN-ACK with a reset.\n"
                  "The lab adds an nft rule in h1 that drops h1's outgoing resets (removed at the\n"
                  "end), and writes each host's MAC in the other's ARP table: no ARP in between."):
        h1.firewall.add("rst-guard", "output", "tcp flags rst")
        server_socket = listen(h2, server)
        run.introduce(h1, h2)
        run.state(h2, states(h2, server))

    with run.step("h1 sends SYN (your build_syn)",
                  "The SYN carries no data but takes sequence number x. The lab also asks build_syn\n"
                  "for two SYNs it never sends (this connection again, and another one): each needs\n"
                  "an ISN of its own.", ladder=("h1", "h2")):
        args = (h1.ip, h2.ip, client, server)
        other = (h1.ip, h2.ip.rsplit(".", 1)[0] + f".{run.rng.randint(3, 254)}", other_client, other_server)
        syn = run.exchange("build_syn", h1, h2, *args, answer=reply_to(h1, server, client, "SA"),
                           extra=[args, other])
        syn_ack = syn.answer
        ev.syn, ev.syn_states = syn.sent, states(h2, server)
        run.state(h2, ev.syn_states)
        ev.other_syns = tuple((status, syn_fields(value) if status == DONE else value)
                              for status, value in syn.outcome.cases)
        ev.wanted_syns = (wanted_syn(*args), wanted_syn(*other))

    ev.x, ev.y = syn.packet[TCP].seq, syn_ack[TCP].seq
    with run.step("h1 completes the handshake (your build_ack)",
                  "h2's SYN took sequence number y, so h1 acknowledges y+1.", ladder=("h1", "h2")):
        ack = run.exchange("build_ack", h1, h2, syn_ack, answer=lambda: "ESTABLISHED" in h2.tcp_states(client))
        connection = poll(lambda: accept(server_socket), 0.5)
        ev.ack, ev.ack_states = ack.sent, states(h2, server)
        run.state(h2, ev.ack_states)

    with run.step("h1 sends data (your build_data and expected_ack)",
                  "Data takes one sequence number per byte; h2 acknowledges the next byte it expects.\n"
                  "expected_ack is also asked about segments of the lab's own making.",
                  ladder=("h1", "h2")):
        carried = run.exchange("build_data", h1, h2, syn_ack, data, answer=lambda: received(connection))
        acked = poll(lambda: run.wire().tcp(after=carried.sent.fallback_at or carried.sent.sent_at, sport=server,
                                            dport=client, flags="A"), 0.5)
        ev.prediction = predict(run, "expected_ack", h1, carried.packet[IP], h2.ip)
        run.state(h2, states(h2, server))
        run.note(f"h2's application received {carried.answer!r}; expected_ack gave {ev.prediction.guess!r}")
        ev.data, ev.message, ev.received = carried.sent, data, carried.answer
        ev.h2_ack = acked[-1].packet[TCP].ack if acked else None

    with run.step("Two kernels: h1's own connect(), with the SYN-ACK held back",
                  "Between two kernels the handshake takes well under a millisecond. The lab holds\n"
                  "h2's SYN-ACK at h1's door (an nft rule), reads both states, then delivers the\n"
                  "same frame: h1 sat in SYN_SENT, h2 in SYN_RECV, until it arrived.",
                  ladder=("h1", "h2")):
        listen(h2, kernels)
        run.state(h2, states(h2, kernels))
        run.hold(h1, f"tcp sport {kernels} tcp flags & (syn | ack) == syn | ack", "hold-syn-ack")
        connect(h1, h2, kernels)
        poll(lambda: run.wire().tcp(sport=kernels, flags="SA"), 0.5)
        show_states(run, kernels, h1, h2)
        run.release(h1, "hold-syn-ack", lambda p: TCP in p and p[TCP].sport == kernels)
        poll(lambda: "ESTABLISHED" in h2.tcp_states(kernels), 0.5)
        show_states(run, kernels, h1, h2)
        run.note("released: h1 went ESTABLISHED and sent its ACK; h2 went ESTABLISHED")


def syn_fields(segment) -> tuple:
    """(IP source, IP destination, sport, dport, flags, data length, seq) of a SYN."""
    return (segment[IP].src, segment[IP].dst, segment[TCP].sport, segment[TCP].dport,
            str(segment[TCP].flags), len(payload(segment)), segment[TCP].seq)


def wanted_syn(my_ip: str, peer_ip: str, my_port: int, peer_port: int) -> tuple:
    """syn_fields of the SYN these arguments ask for, but its seq (any ISN will do)."""
    return (my_ip, peer_ip, my_port, peer_port, "S", 0)


# --- grading: from the captured segments and h2's socket states ---

def grade_syn(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.syn, wire, SHAPE)
    if verdict:
        return verdict
    segment, ends = seen.packet, ev.ends
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        (flags != "S", f"flags are {flag_names(segment)}: a SYN opening a connection has only SYN set (flags='S')"),
        (bool(payload(segment)), "a SYN carries no data here: data comes after the handshake"),
        (tcp.dport != ends.server, f"dport is {tcp.dport}: h2 listens on port {ends.server}, your peer_port"),
        (tcp.sport != ends.client, f"sport is {tcp.sport}: use my_port ({ends.client}), where h2's answer will go"),
        misaddressed(segment, ends),
    ]
    if verdict := first_mistake(describe(segment), mistakes):
        return verdict
    answers = before(wire.tcp(after=seen.time, sport=ends.server, dport=ends.client, flags="SA"),
                     ev.syn.fallback_at)
    if not answers:
        return failed(describe(segment), "h2 did not answer with a SYN-ACK; check the IP source")
    syn_ack = answers[0].packet[TCP]
    if syn_ack.ack != (tcp.seq + 1) % SEQ_SPACE or "SYN_RECV" not in ev.syn_states:
        return failed(f"SYN-ACK ack={syn_ack.ack}, h2: {ev.syn_states}", LAB_FAULT)
    count = 1 + len(ev.other_syns)
    return grade_other_syns(ev, tcp.seq) or passed(
        f"SYN seq=x={tcp.seq}, no data; h2 answered SYN-ACK ack=x+1={syn_ack.ack} and went SYN_RECV; "
        f"{count} SYNs asked for, {count} different ISNs")


def grade_other_syns(ev: Evidence, isn: int) -> Verdict | None:
    """A failing verdict if the SYNs build_syn made but the lab never sent (the same
    connection again, another one) do not follow their arguments, or share ISNs."""
    cases = score(True, ev.other_syns, list(ev.wanted_syns), same=lambda value, truth: tuple(value[:-1]) == truth)
    if cases.constant:
        return failed(f"the same SYN for two connections; {cases.summary}", CONSTANT_HINT)
    if cases.wrong:
        index, value, truth = cases.wrong
        asked = f"SYN from {truth[0]}:{truth[2]} to {truth[1]}:{truth[3]}"
        if isinstance(value, str):  # the call gave no answer: value says why
            return failed(f"{cases.summary}: asked for a {asked}, {value}",
                          "fix the error above: build_syn must work for any connection it is asked for")
        names = ("IP source", "IP destination", "sport", "dport", "flags", "data length")
        field = next(i for i in range(len(truth)) if value[i] != truth[i])
        return failed(f"{cases.summary}: asked for a {asked}, yours had {names[field]} {value[field]!r}",
                      "build the SYN from the arguments (my_ip, peer_ip, my_port, peer_port), not from values "
                      "seen in one run")
    isns = [isn] + [value[-1] for status, value in ev.other_syns if status == DONE]
    detail = f"ISNs of {len(isns)} SYNs: {', '.join(map(str, isns))}"
    if len(set(isns)) < len(isns):
        return failed(detail, "your ISN is the same in two SYNs: draw it at random, e.g. random.randint(0, 2**32 - 1)")
    gaps = [min((a - b) % SEQ_SPACE, (b - a) % SEQ_SPACE) for i, a in enumerate(isns) for b in isns[i + 1:]]
    if min(gaps) < CLOSE_ISNS:
        return failed(detail, f"your ISNs are only {min(gaps)} apart: whoever saw one guesses the next; "
                              "draw each at random, e.g. random.randint(0, 2**32 - 1)")
    return None


def grade_ack(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.ack, wire, SHAPE)
    if verdict:
        return verdict
    segment, x, y, ends = seen.packet, ev.x, ev.y, ev.ends
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        ("S" in flags, "the handshake's last segment is a plain ACK (flags='A'); a SYN here starts over"),
        ("A" not in flags, "set the ACK flag: flags='A'"),
        (tcp.ack == y, "ack=y: the SYN-ACK's SYN consumes a sequence number, so the ACK number is y+1"),
        (tcp.ack != y + 1, f"ack is y{tcp.ack - y:+d}: acknowledge h2's SYN with y+1"),
        (tcp.seq == x, "seq=x: your SYN used up x, so this segment's seq is x+1"),
        (tcp.seq != x + 1, f"seq is x{tcp.seq - x:+d}: after the SYN, your next number is x+1"),
        ((tcp.sport, tcp.dport) != (ends.client, ends.server),
         f"swap the SYN-ACK's ports: the ACK goes from {ends.client} to {ends.server}"),
        misaddressed(segment, ends),
    ]
    if verdict := first_mistake(describe(segment), mistakes):
        return verdict
    if ev.ack.fallback_at is not None or "ESTABLISHED" not in ev.ack_states:
        return failed(describe(segment), "h2 did not reach ESTABLISHED; check the addresses")
    return passed(f"ACK seq=x+1 ack=y+1; h2 went ESTABLISHED ({ev.ack_states})")


def grade_data(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.data, wire, SHAPE + " / data")
    if verdict:
        return verdict
    segment, x, y, data, ends = seen.packet, ev.x, ev.y, ev.message, ev.ends
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        (not payload(segment), "the segment carries no data: IP(...) / TCP(...) / data"),
        (payload(segment) != data, f"it carries {payload(segment)[:24]!r}: send the data argument, "
                                   f"here {len(data)} bytes {data[:24]!r}"),
        (tcp.seq == x + 2, "seq=x+2: the pure ACK before carried no data and used no number; data starts at x+1"),
        (tcp.seq != x + 1, f"seq is x{tcp.seq - x:+d}: the first data byte is number x+1"),
        ("A" not in flags, "after the handshake every segment carries ACK: flags='PA'"),
        (tcp.ack != y + 1, f"ack is y{tcp.ack - y:+d}: you still expect h2's byte y+1"),
        ((tcp.sport, tcp.dport) != (ends.client, ends.server),
         f"keep the connection's ports: from {ends.client} to {ends.server}"),
        misaddressed(segment, ends),
    ]
    if verdict := first_mistake(describe(segment), mistakes):
        return verdict
    if ev.data.fallback_at is not None or ev.received != data:
        return failed(describe(segment), "h2's application did not receive the bytes")
    return passed(f"{len(data)} bytes at seq=x+1; h2 acknowledged ack={ev.h2_ack} "
                  f"and its application received {data!r}")


def grade_expected(ev: Evidence, wire) -> Verdict:
    real, (_, seq, length) = ev.h2_ack, ev.prediction.live
    said = f"you said {ev.prediction.guess!r}: ack = seq + {length} bytes"
    if ev.data.fallback_at is not None and real is not None and real != (seq + length) % SEQ_SPACE:
        # h2 also kept the bytes of the student's own misplaced segment (its out-of-order
        # queue), so its ACK covers more than the reference's segment: judge by the segment.
        answered, real = real, (seq + length) % SEQ_SPACE
        return grade_prediction(ev.prediction, real, f"{said}, right for the lab's segment; h2 answered "
                                f"ack={answered}, as it also kept bytes of your misplaced one")
    return grade_prediction(ev.prediction, real, f"{said} = {real}, and h2's kernel answered ack={real}")


LAB = Lab(
    name="tcp-handshake",
    title="TCP three-way handshake: SYN, SYN-ACK, ACK against a real kernel",
    topology="star",
    topology_args=(2,),
    exercise="tcp_handshake",
    todos=("build_syn", "build_ack", "build_data", "expected_ack"),
    returns={"build_syn": Frame(IP, TCP), "build_ack": Frame(IP, TCP), "build_data": Frame(IP, TCP),
             "expected_ack": int},
    checks=(
        CheckSpec("syn", "build_syn", "SYN seq=x, no data, random ISN; h2 answers SYN-ACK ack=x+1 and is SYN_RECV",
                  grade_syn),
        CheckSpec("ack", "build_ack", "ACK seq=x+1 ack=y+1 puts h2 in ESTABLISHED", grade_ack),
        CheckSpec("data", "build_data", "data at seq=x+1 reaches h2's application", grade_data),
        CheckSpec("expected-ack", "expected_ack", "the ACK number h2 gives the data, and other segments' too",
                  grade_expected),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
