"""tcp-handshake: the three-way handshake, one crafted segment at a time, against a
real Linux listener, with its socket states read live beside each segment.

    h1 10.0.0.1 ---s1--- h2 10.0.0.2     topologies/star.py, two hosts
    student's segments, port 40000       kernel listener, port 5000 (and 5001)

Then the same handshake between two real kernels, with h2's SYN-ACK held back at
h1's door long enough to read h1's SYN_SENT, and released.
"""
from __future__ import annotations

from scapy.layers.inet import IP, TCP

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.grading import LAB_FAULT, before, first_mistake, sent_frame
from lab.kinds import Frame
from lab.peers import accept, connect, listen, received, states
from lab.segments import SHAPE, describe, deliver, poll, reply_to
from lab.wire import flag_names, payload

SERVER, CLIENT, KERNEL_SERVER = 5000, 40000, 5001
DATA = b"hello, h2\n"

INTRO = """\
TCP opens a connection with three segments. A sends SYN with its initial sequence
number x (state SYN_SENT); B answers SYN+ACK with its own ISN y and ack=x+1 (B is
in SYN_RECV); A sends ACK with seq=x+1 and ack=y+1, and both are ESTABLISHED.
A SYN carries no data, yet it consumes one sequence number: that is why the answer
acknowledges x+1. Both ISNs are chosen at random, so that a stranger cannot guess
them and slip segments into the connection."""


def scenario(run) -> None:
    h1, h2 = run.host("h1"), run.host("h2")
    with run.step("Set-up: h2 listens on port 5000; h1's kernel is kept quiet",
                  "h1's kernel never sent a SYN, so it would answer h2's SYN-ACK with a reset.\n"
                  "The lab adds an nft rule in h1 that drops h1's outgoing resets (removed at the\n"
                  "end). A ping lets both kernels learn each other's MAC first (ARP)."):
        h1.firewall.add("rst-guard", "output", "tcp flags rst")
        server = listen(h2, SERVER)
        h1.cmd("ping -c1 -W1", h2.ip)
        run.state(h2, states(h2, SERVER))

    with run.step("h1 sends SYN (your build_syn)", "The SYN carries no data but takes sequence number x.",
                  ladder=("h1", "h2")):
        syn = deliver(run, "build_syn", h1, h2, (h1.ip, h2.ip, CLIENT, SERVER),
                      reply_to(h1, SERVER, CLIENT, "SA"))
        syn_ack = syn.answer
        after_syn = states(h2, SERVER)
        run.state(h2, after_syn)
        run.evidence["syn"] = {**syn.evidence(), "h2_states": after_syn}

    x, y = syn.segment[TCP].seq, syn_ack[TCP].seq
    with run.step("h1 completes the handshake (your build_ack)",
                  "h2's SYN took sequence number y, so h1 acknowledges y+1.", ladder=("h1", "h2")):
        ack = deliver(run, "build_ack", h1, h2, (syn_ack,),
                      lambda: "ESTABLISHED" in h2.tcp_states(CLIENT))
        connection = poll(lambda: accept(server), 0.5)
        after_ack = states(h2, SERVER)
        run.state(h2, after_ack)
        run.evidence["ack"] = {**ack.evidence(), "x": x, "y": y, "h2_states": after_ack}

    with run.step("h1 sends data (your build_data and expected_ack)",
                  "Data takes one sequence number per byte; h2 acknowledges the next byte it expects.",
                  ladder=("h1", "h2")):
        data = deliver(run, "build_data", h1, h2, (syn_ack, DATA), lambda: received(connection))
        sent = data.segment
        acked = poll(lambda: run.wire().tcp(after=data.fallback_at or data.sent_at, sport=SERVER,
                                            dport=CLIENT, flags="A"), 0.5)
        guess = run.student("expected_ack", h1, sent).value
        run.state(h2, states(h2, SERVER))
        run.note(f"h2's application received {data.answer!r}; expected_ack gave {guess!r}")
        run.evidence["data"] = {**data.evidence(), "x": x, "y": y, "received": data.answer,
                                "h2_ack": acked[-1].packet[TCP].ack if acked else None,
                                "seq": sent[TCP].seq, "length": len(payload(sent)), "guess": guess}

    with run.step("Two kernels: h1's own connect(), with the SYN-ACK held back",
                  "Between two kernels the handshake takes well under a millisecond. The lab holds\n"
                  "h2's SYN-ACK at h1's door (an nft rule), reads both states, then delivers the\n"
                  "same frame: h1 sat in SYN_SENT, h2 in SYN_RECV, until it arrived.",
                  ladder=("h1", "h2")):
        listen(h2, KERNEL_SERVER)
        run.state(h2, states(h2, KERNEL_SERVER))
        run.hold(h1, f"tcp sport {KERNEL_SERVER} tcp flags & (syn | ack) == syn | ack", "hold-syn-ack")
        connect(h1, h2, KERNEL_SERVER)
        poll(lambda: run.wire().tcp(sport=KERNEL_SERVER, flags="SA"), 0.5)
        seen = [states(h1, KERNEL_SERVER), states(h2, KERNEL_SERVER)]
        run.state(h1, seen[0])
        run.state(h2, seen[1])
        run.release(h1, "hold-syn-ack", lambda p: TCP in p and p[TCP].sport == KERNEL_SERVER)
        poll(lambda: "ESTABLISHED" in h2.tcp_states(KERNEL_SERVER), 0.5)
        seen += [states(h1, KERNEL_SERVER), states(h2, KERNEL_SERVER)]
        run.state(h1, seen[2])
        run.state(h2, seen[3])
        run.note("released: h1 went ESTABLISHED and sent its ACK; h2 went ESTABLISHED")
        run.evidence["kernels"] = seen


# --- grading: from the captured segments and h2's socket states ---

def grade(evidence: dict, wire) -> list[Verdict]:
    return [grade_syn(evidence["syn"], wire), grade_ack(evidence["ack"], wire),
            grade_data(evidence["data"], wire), grade_expected(evidence["data"])]


def grade_syn(ev: dict, wire) -> Verdict:
    seen, verdict = sent_frame("syn", ev, wire, SHAPE)
    if verdict:
        return verdict
    segment = seen.packet
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        (flags != "S", f"flags are {flag_names(segment)}: a SYN opening a connection has only SYN set (flags='S')"),
        (bool(payload(segment)), "a SYN carries no data here: data comes after the handshake"),
        (tcp.dport != SERVER, f"dport is {tcp.dport}: h2 listens on port {SERVER}"),
        (tcp.sport != CLIENT, f"sport is {tcp.sport}: use my_port ({CLIENT}), where h2's answer will go"),
        (segment[IP].dst != "10.0.0.2", "the IP destination must be peer_ip, h2's address"),
    ]
    if verdict := first_mistake("syn", describe(segment), mistakes):
        return verdict
    answers = before(wire.tcp(after=seen.time, sport=SERVER, dport=CLIENT, flags="SA"), ev["fallback_at"])
    if not answers:
        return Verdict("syn", FAIL, describe(segment), "h2 did not answer with a SYN-ACK; check the IP source")
    syn_ack = answers[0].packet[TCP]
    if syn_ack.ack != tcp.seq + 1 or "SYN_RECV" not in ev["h2_states"]:
        return Verdict("syn", FAIL, f"SYN-ACK ack={syn_ack.ack}, h2: {ev['h2_states']}", LAB_FAULT)
    return Verdict("syn", PASS, f"SYN seq=x={tcp.seq}, no data; h2 answered SYN-ACK seq=y={syn_ack.seq} "
                                f"ack=x+1={syn_ack.ack} and went SYN_RECV: the SYN consumed one number")


def grade_ack(ev: dict, wire) -> Verdict:
    seen, verdict = sent_frame("ack", ev, wire, SHAPE)
    if verdict:
        return verdict
    segment, x, y = seen.packet, ev["x"], ev["y"]
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        ("S" in flags, "the handshake's last segment is a plain ACK (flags='A'); a SYN here starts over"),
        ("A" not in flags, "set the ACK flag: flags='A'"),
        (tcp.ack == y, "ack=y: the SYN-ACK's SYN consumes a sequence number, so the ACK number is y+1"),
        (tcp.ack != y + 1, f"ack is y{tcp.ack - y:+d}: acknowledge h2's SYN with y+1"),
        (tcp.seq == x, "seq=x: your SYN used up x, so this segment's seq is x+1"),
        (tcp.seq != x + 1, f"seq is x{tcp.seq - x:+d}: after the SYN, your next number is x+1"),
        ((tcp.sport, tcp.dport) != (CLIENT, SERVER), "swap the SYN-ACK's ports: the ACK goes from 40000 to 5000"),
    ]
    if verdict := first_mistake("ack", describe(segment), mistakes):
        return verdict
    if ev["fallback_at"] is not None or "ESTABLISHED" not in ev["h2_states"]:
        return Verdict("ack", FAIL, describe(segment), "h2 did not reach ESTABLISHED; check the addresses")
    return Verdict("ack", PASS, f"ACK seq=x+1 ack=y+1; h2 went ESTABLISHED ({ev['h2_states']})")


def grade_data(ev: dict, wire) -> Verdict:
    seen, verdict = sent_frame("data", ev, wire, SHAPE + " / data")
    if verdict:
        return verdict
    segment, x, y = seen.packet, ev["x"], ev["y"]
    tcp, flags = segment[TCP], str(segment[TCP].flags)
    mistakes = [
        (not payload(segment), "the segment carries no data: IP(...) / TCP(...) / data"),
        (tcp.seq == x + 2, "seq=x+2: the pure ACK before carried no data and used no number; data starts at x+1"),
        (tcp.seq != x + 1, f"seq is x{tcp.seq - x:+d}: the first data byte is number x+1"),
        ("A" not in flags, "after the handshake every segment carries ACK: flags='PA'"),
        (tcp.ack != y + 1, f"ack is y{tcp.ack - y:+d}: you still expect h2's byte y+1"),
    ]
    if verdict := first_mistake("data", describe(segment), mistakes):
        return verdict
    if ev["fallback_at"] is not None or ev["received"] != DATA:
        return Verdict("data", FAIL, describe(segment), "h2's application did not receive the bytes")
    return Verdict("data", PASS, f"{len(DATA)} bytes at seq=x+1; h2 acknowledged ack={ev['h2_ack']} "
                                 f"and its application received {DATA!r}")


def grade_expected(ev: dict) -> Verdict:
    guess, real, seq, length = ev["guess"], ev["h2_ack"], ev["seq"], ev["length"]
    if real is None:
        return Verdict("expected-ack", FAIL, "no ACK from h2 was captured", LAB_FAULT)
    detail = f"you said {guess!r}; h2 answered ack={real}"
    if ev["fallback_at"] is not None and real != seq + length:
        # h2 also kept the bytes of the student's own misplaced segment (its out-of-order
        # queue), so its ACK covers more than the reference's segment: judge by the segment.
        real = seq + length
        detail += f" (it had kept bytes of your earlier segment; for this segment alone: {real})"
    if guess == real:
        return Verdict("expected-ack", PASS, f"ack = seq + {length} bytes = {real}, as h2's kernel answered")
    if guess == seq:
        return Verdict("expected-ack", FAIL, detail, "an ACK number names the next byte expected: seq + len(data)")
    if guess == seq + length + 1:
        return Verdict("expected-ack", FAIL, detail, "only SYN and FIN take an extra number; data takes len(data)")
    return Verdict("expected-ack", FAIL, detail, "seq of the segment plus the number of bytes it carried")


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
        CheckSpec("syn", "build_syn", "SYN seq=x, no data; h2 answers SYN-ACK ack=x+1 and is SYN_RECV"),
        CheckSpec("ack", "build_ack", "ACK seq=x+1 ack=y+1 puts h2 in ESTABLISHED"),
        CheckSpec("data", "build_data", "data at seq=x+1 reaches h2's application"),
        CheckSpec("expected-ack", "expected_ack", "the ACK number h2 answers the data with"),
    ),
    intro=INTRO,
    scenario=scenario,
    grade=grade,
)
