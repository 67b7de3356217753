"""arp-basic: how h1 finds h2's MAC address, on a real wire with real kernels.

    h1 10.0.0.1 ---+
    h2 10.0.0.2 ---s1      topologies/star.py, three hosts on one Linux bridge
    h3 10.0.0.3 ---+

h1 broadcasts the student's who-has; h2's kernel answers is-at; both ARP tables are
read over netlink; then h3 broadcasts the student's gratuitous announcement.
"""
from __future__ import annotations

import time

from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from lab.definition import FAIL, PASS, CheckSpec, Lab, Verdict
from lab.errors import ScenarioError
from lab.grading import LAB_FAULT, before, first_mistake, sent_frame
from lab.kinds import Frame
from lab.netns import entered, write_sysctl
from lab.wire import BROADCAST

REPLY_WAIT = 0.5  # seconds h1 waits for h2's is-at; a kernel answers within a millisecond

INTRO = """\
Ethernet delivers frames to MAC addresses, but programs name hosts by IP address.
Before h1 can send anything to 10.0.0.2 it must learn h2's MAC address. ARP (RFC 826)
asks everyone on the segment "who has 10.0.0.2? tell 10.0.0.1" in a broadcast frame;
only the host that owns the address answers "10.0.0.2 is at <its MAC>", straight to
the asker. Both kernels keep what they learned in their neighbour (ARP) table.
ARP sits between layer 2 and layer 3: it travels in Ethernet frames (type 0x0806)
and carries IP addresses, but is not itself IP."""


def scenario(run) -> None:
    h1, h2, h3 = run.host("h1"), run.host("h2"), run.host("h3")
    # h1's kernel did not send the question (our code did), so to it the answer is
    # unsolicited. Linux ignores unsolicited ARP unless arp_accept is 1.
    with entered(h1.netns):
        write_sysctl(f"net/ipv4/conf/{h1.interface}/arp_accept", "1")

    with run.step("Before: every ARP table is empty",
                  "A new network namespace starts with an empty neighbour table."):
        for host in (h1, h2, h3):
            show_table(run, host)

    with run.step(f"h1 asks: who has {h2.ip}? (your build_who_has)",
                  "h1 broadcasts the question; every host hears it, only h2 answers."):
        reply = ask(run, h1, h2)

    with run.step("h1 reads the answer (your parse_is_at)",
                  "The sender fields of the is-at reply are h2's own addresses."):
        outcome = run.student("parse_is_at", h1, Ether(reply))
        run.evidence["parsed"] = outcome.value
        run.note(f"parse_is_at gave {outcome.value!r}; h2's kernel reports {h2.ip} at {h2.mac}")

    with run.step("What the kernels learned (your find_entry)",
                  "h2 learned h1 from the question itself, before answering it. h1 took the\n"
                  "unsolicited answer because its arp_accept is 1 (the lab set it)."):
        lookups = []
        for host, peer in ((h1, h2), (h2, h1), (h1, h3)):
            table = host.kernel.neighbour_messages()
            truth = host.kernel.neighbour(peer.ip)
            answer = run.student("find_entry", host, table, peer.ip).value
            lookups.append({"host": host.name, "ip": peer.ip, "answer": answer,
                            "kernel": truth.mac if truth else None, "peer_mac": peer.mac})
            run.note(f"find_entry({host.name}'s table, {peer.ip}) -> {answer!r}; "
                     f"kernel: {truth.mac + ' ' + truth.state if truth else 'no entry'}")
        run.evidence["lookups"] = lookups

    with run.step(f"h3 announces: {h3.ip} is at {h3.mac} (your build_gratuitous)",
                  "A gratuitous ARP asks about the sender's own address; listeners update\n"
                  "their tables without asking. h1 (arp_accept=1) adds h3; h2 (arp_accept=0,\n"
                  "the default) only updates entries it already has, so it ignores it."):
        announce(run, h3, h1)

    with run.step("After: the ARP tables"):
        for host in (h1, h2, h3):
            show_table(run, host)


def show_table(run, host) -> None:
    entries = host.kernel.neighbours()
    if not entries:
        run.note(f"{host.name}: (empty)")
    for entry in entries:
        run.note(f"{host.name}: {entry.ip:<10} {entry.mac or '(none)':<17} {entry.state:<10} {entry.link}")


def frame_bytes(value) -> tuple[bytes | None, str]:
    """The bytes of a returned frame, or None and what is wrong with it."""
    if not isinstance(value, Packet):
        return None, f"returned {type(value).__name__}, not a scapy frame"
    if Ether not in value or ARP not in value:
        return None, f"returned {value.summary()}, not an Ether()/ARP() frame"
    return bytes(value), ""


def ask(run, asker, owner) -> bytes:
    """Send the student's who-has from asker; return owner's is-at (the reference's if need be)."""
    outcome = run.student("build_who_has", asker, asker.mac, asker.ip, owner.ip)
    data, problem = frame_bytes(outcome.value)
    evidence = run.evidence["who_has"] = {"problem": problem, "sent_at": None, "data": data,
                                          "asker": (asker.ip, asker.mac), "owner": (owner.ip, owner.mac),
                                          "fallback_at": None}
    is_answer = lambda frame: is_at(frame, owner.ip, asker.ip)  # noqa: E731
    reply = None
    if data is not None:
        asker.port.drain()
        evidence["sent_at"] = asker.port.send(data)
        reply = asker.port.expect(is_answer, REPLY_WAIT)
    if reply is None:
        run.note(f"no is-at came back within {REPLY_WAIT} s; the lab sends the reference "
                 "request so the steps after this one still have an answer to work on")
        reference = run.exercise.reference.build_who_has(asker.mac, asker.ip, owner.ip)
        evidence["fallback_at"] = asker.port.send(bytes(reference))
        reply = asker.port.expect(is_answer, REPLY_WAIT)
        if reply is None:
            raise ScenarioError(f"{owner.name} did not answer even the reference request")
    return reply


def is_at(frame: bytes, owner_ip: str, asker_ip: str) -> bool:
    packet = Ether(frame)
    return ARP in packet and packet[ARP].op == 2 and packet[ARP].psrc == owner_ip \
        and packet[ARP].pdst == asker_ip


def announce(run, speaker, listener) -> None:
    outcome = run.student("build_gratuitous", speaker, speaker.mac, speaker.ip)
    data, problem = frame_bytes(outcome.value)
    evidence = run.evidence["gratuitous"] = {"problem": problem, "sent_at": None, "data": data,
                                             "speaker": (speaker.ip, speaker.mac), "learned": None}
    if data is None:
        return
    evidence["sent_at"] = speaker.port.send(data)
    deadline = time.monotonic() + REPLY_WAIT
    while time.monotonic() < deadline:  # the kernel updates its table within microseconds
        entry = listener.kernel.neighbour(speaker.ip)
        if entry is not None and entry.mac:
            evidence["learned"] = entry.mac
            break
        time.sleep(0.005)
    run.note(f"{listener.name}'s entry for {speaker.ip}: {evidence['learned'] or 'none'}")


# --- grading: from the captured wire and the kernels' tables, never from prints ---

def grade(evidence: dict, wire) -> list[Verdict]:
    return [grade_who_has(evidence["who_has"], wire), grade_parse(evidence),
            grade_lookups(evidence["lookups"]), grade_gratuitous(evidence["gratuitous"], wire)]


def grade_who_has(ev: dict, wire) -> Verdict:
    seen, verdict = sent_frame("who-has", ev, wire, "Ether(...) / ARP(...)")
    if verdict:
        return verdict
    (my_ip, my_mac), (target_ip, _) = ev["asker"], ev["owner"]
    packet = seen.packet
    arp = packet[ARP]
    detail = f"sent: {arp.summary()} to {packet.dst}"
    mistakes = [
        (arp.op == 2, "op is 2 (is-at), an answer nobody asked for: a question is op 1 (who-has)"),
        (arp.op != 1, f"op is {arp.op}: a question is op 1 (who-has)"),
        (packet.dst != BROADCAST, f"Ethernet destination is {packet.dst}: the target MAC is unknown, "
                                  f"so the Ethernet destination must be broadcast {BROADCAST}"),
        (arp.psrc == target_ip and arp.pdst == my_ip,
         "sender and target are swapped: psrc is the asker's IP (h1's own), pdst the IP being asked about"),
        (arp.psrc != my_ip, f"psrc is {arp.psrc}: it must be the asker's own IP {my_ip}, where the answer goes"),
        (arp.pdst != target_ip, f"pdst is {arp.pdst}: it must be the address asked about, {target_ip}"),
        (arp.hwsrc != my_mac, f"hwsrc is {arp.hwsrc}: it must be the asker's MAC {my_mac}, "
                              "or the answer cannot come back"),
        (packet.src != my_mac, f"Ethernet source is {packet.src}: frames from h1 carry h1's MAC {my_mac}"),
    ]
    if verdict := first_mistake("who-has", detail, mistakes):
        return verdict
    answers = before(wire.arp(after=seen.time, op=2, psrc=target_ip, pdst=my_ip), ev["fallback_at"])
    if not answers:
        return Verdict("who-has", FAIL, detail, "the frame looks right but h2 did not answer; compare it "
                                                "field by field with a who-has in Wireshark")
    delay = (answers[0].time - seen.time) * 1000
    return Verdict("who-has", PASS, f"broadcast who-has, answered by h2's kernel {delay:.2f} ms later")


def grade_parse(evidence: dict) -> Verdict:
    value, (ip, mac) = evidence["parsed"], evidence["who_has"]["owner"]
    asker_ip, asker_mac = evidence["who_has"]["asker"]
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return Verdict("is-at", FAIL, f"returned {value!r}", "return a tuple of two strings: (ip, mac)")
    got = (value[0], value[1].lower())
    if got == (ip, mac):
        return Verdict("is-at", PASS, f"{ip} is at {mac}, the MAC h2's kernel reports")
    if got == (mac, ip) or (value[1], value[0].lower()) == (ip, mac):
        return Verdict("is-at", FAIL, f"returned {value!r}", "return (ip, mac) in that order")
    if asker_ip in got or asker_mac in got:
        return Verdict("is-at", FAIL, f"returned {value!r}",
                       "that is h1, the asker: in a reply the sender fields (psrc, hwsrc) describe "
                       "the host that answered")
    return Verdict("is-at", FAIL, f"returned {value!r}, expected ({ip!r}, {mac!r})",
                   "read the reply's sender fields: reply[ARP].psrc and reply[ARP].hwsrc")


def grade_lookups(lookups: list[dict]) -> Verdict:
    for item in lookups:
        expected = item["kernel"]
        if item["answer"] == expected:
            continue
        where = f"find_entry({item['host']}'s table, {item['ip']}) gave {item['answer']!r}, the kernel has {expected!r}"
        if expected is None:
            hint = "when no entry has that IP, return None"
        elif not isinstance(item["answer"], str):
            hint = 'return the MAC address as a string: entry.get_attr("NDA_LLADDR")'
        else:
            hint = 'return the MAC of the entry whose entry.get_attr("NDA_DST") equals ip, not another'
        return Verdict("lookup", FAIL, where, hint)
    learned = [i for i in lookups if i["kernel"] is not None]
    if any(i["kernel"] != i["peer_mac"] for i in learned) or len(learned) < 2:
        return Verdict("lookup", FAIL, "the kernels' tables do not hold the peers' real MACs", LAB_FAULT)
    return Verdict("lookup", PASS, "h1 knows h2 and h2 knows h1 (learned from the question), "
                                   "h1 does not know h3 yet")


def grade_gratuitous(ev: dict, wire) -> Verdict:
    seen, verdict = sent_frame("gratuitous", ev, wire, "Ether(...) / ARP(...)")
    if verdict:
        return verdict
    ip, mac = ev["speaker"]
    packet = seen.packet
    arp = packet[ARP]
    detail = f"sent: {arp.summary()} to {packet.dst}"
    mistakes = [
        (packet.dst != BROADCAST, f"Ethernet destination is {packet.dst}: an announcement is for "
                                  f"everyone, so it goes to {BROADCAST}"),
        (arp.psrc != ip or arp.pdst != ip, f"psrc={arp.psrc} pdst={arp.pdst}: a gratuitous ARP asks about "
                                           f"the sender's own address, so both are {ip}"),
        (arp.hwsrc != mac, f"hwsrc is {arp.hwsrc}: the announcement must carry h3's own MAC {mac}"),
        (arp.op == 2 and arp.hwdst != mac, "as a reply (op 2), Linux takes it as gratuitous only if hwdst "
                                           "equals hwsrc; the usual form is a request, op 1"),
        (arp.op not in (1, 2), f"op is {arp.op}: use 1 (request), the usual form of an announcement"),
    ]
    if verdict := first_mistake("gratuitous", detail, mistakes):
        return verdict
    if ev["learned"] != mac:
        return Verdict("gratuitous", FAIL, detail + f"; h1's entry: {ev['learned']}",
                       "h1 did not take the announcement; compare it with one in Wireshark")
    return Verdict("gratuitous", PASS, f"h1's kernel added {ip} at {mac} without asking")


LAB = Lab(
    name="arp-basic",
    title="ARP: who has 10.0.0.2? Ask, answer, and watch the tables learn",
    topology="star",
    topology_args=(3,),
    exercise="arp_basic",
    todos=("build_who_has", "parse_is_at", "find_entry", "build_gratuitous"),
    returns={"build_who_has": Frame(Ether, ARP), "parse_is_at": tuple[str, str],
             "find_entry": str | None, "build_gratuitous": Frame(Ether, ARP)},
    checks=(
        CheckSpec("who-has", "build_who_has", "h1's who-has is a broadcast ARP request that h2 answers"),
        CheckSpec("is-at", "parse_is_at", "the is-at reply gives h2's IP and real MAC"),
        CheckSpec("lookup", "find_entry", "entries found in the ARP tables read over netlink"),
        CheckSpec("gratuitous", "build_gratuitous", "h3's announcement makes h1 learn h3 unasked"),
    ),
    intro=INTRO,
    scenario=scenario,
    grade=grade,
)
