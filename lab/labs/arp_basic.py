"""arp-basic: how h1 finds h2's MAC address, on a real wire with real kernels.

    h1 ---+
    h2 ---s1      topologies/star.py, three hosts on one Linux bridge
    h3 ---+

Every run draws its own /24 within 10.0.0.0/8, its own host numbers in it and its own
MACs. h1 broadcasts the student's who-has; h2's kernel answers is-at; both ARP
tables are read over netlink; then h3 broadcasts the student's gratuitous
announcement. parse_is_at and find_entry are pure functions: they are also graded on
replies and tables the lab makes up from the run's seed, knowing each right answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.l2 import ARP, Ether

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.exchange import Sent, arrival
from lab.exercise import DONE, TODO
from lab.grading import CONSTANT_HINT, LAB_FAULT, before, first_mistake, score, sent_frame
from lab.kinds import Frame
from lab.labs._arp_cases import Lookup, is_at_frame, made_up_lookups, made_up_replies
from lab.wire import BROADCAST

INTRO = """\
Ethernet delivers frames to MAC addresses, but programs name hosts by IP address.
Before h1 can send anything to h2 it must learn h2's MAC address. ARP (RFC 826)
asks everyone on the segment "who has <h2's IP>? tell <h1's IP>" in a broadcast
frame; only the host that owns the address answers "<h2's IP> is at <its MAC>",
straight to the asker. Both kernels keep what they learned in their neighbour (ARP)
table. ARP sits between layer 2 and layer 3: it travels in Ethernet frames (type
0x0806) and carries IP addresses, but is not itself IP. Addresses change every run."""


@dataclass
class Evidence:
    """What the scenario saw; each check reads its part. Hosts are (ip, mac)."""

    asker: tuple[str, str] = ("", "")    # h1
    owner: tuple[str, str] = ("", "")    # h2
    speaker: tuple[str, str] = ("", "")  # h3
    who_has: Sent = Sent()
    replies: list = field(default_factory=list)   # (sender, target) of each is-at, h2's first
    parsed: list = field(default_factory=list)    # (status, value or detail) for each reply
    lookups: list = field(default_factory=list)   # Lookup per find_entry case, the live ones first
    found: list = field(default_factory=list)     # (status, value or detail) for each look-up
    peers: list = field(default_factory=list)     # the MACs the live tables must hold
    gratuitous: Sent = Sent()
    learned: str | None = None                    # h1's entry for h3 after the announcement


def scenario(run) -> None:
    h1, h2, h3 = run.host("h1"), run.host("h2"), run.host("h3")
    # h1's kernel did not send the question (our code did), so to it the answer is
    # unsolicited. Linux ignores unsolicited ARP unless arp_accept is 1.
    h1.kernel.sysctl(f"net.ipv4.conf.{h1.interface}.arp_accept", 1)

    with run.step("Before: every ARP table is empty",
                  "A new network namespace starts with an empty neighbour table."):
        for host in (h1, h2, h3):
            show_table(run, host)

    with run.step(f"h1 asks: who has {h2.ip}? (your build_who_has)",
                  "h1 broadcasts the question; every host hears it, only h2 answers."):
        reply = ask(run, h1, h2)

    with run.step("h1 reads the answer (your parse_is_at)",
                  "The sender fields of the is-at reply are h2's own addresses."):
        parse(run, reply, h1, h2)

    with run.step("What the kernels learned (your find_entry)",
                  "h2 learned h1 from the question itself, before answering it. h1 took the\n"
                  "unsolicited answer because its arp_accept is 1 (the lab set it)."):
        look_up(run, h1, h2, h3)

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
        run.note(f"{host.name}: {entry.ip:<15} {entry.mac or '(none)':<17} {entry.state:<10} {entry.link}")


def ask(run, asker, owner) -> Ether:
    """Send the student's who-has from asker; return owner's is-at (the reference's if need be)."""
    run.evidence.asker, run.evidence.owner = (asker.ip, asker.mac), (owner.ip, owner.mac)
    question = run.exchange("build_who_has", asker, None, asker.mac, asker.ip, owner.ip,
                            answer=arrival(asker, lambda packet: is_at(packet, owner.ip, asker.ip)))
    run.evidence.who_has = question.sent
    return question.answer


def is_at(packet, owner_ip: str, asker_ip: str) -> bool:
    return ARP in packet and packet[ARP].op == 2 and packet[ARP].psrc == owner_ip \
        and packet[ARP].pdst == asker_ip


def answers(outcome) -> list[tuple]:
    """(status, value or detail) of the live case, then of each extra case."""
    live = (outcome.status, outcome.value if outcome.by_student else outcome.detail)
    return [live, *outcome.cases]


def parse(run, reply, asker, owner) -> None:
    """The student's parse_is_at on h2's real reply, then on made-up ones."""
    replies = [((owner.ip, owner.mac), (asker.ip, asker.mac))] + made_up_replies(run.rng)
    outcome = run.student("parse_is_at", asker, reply, extra=[(is_at_frame(*pair),) for pair in replies[1:]])
    run.evidence.replies, run.evidence.parsed = replies, answers(outcome)
    run.note(f"parse_is_at gave {outcome.value!r}; h2's kernel reports {owner.ip} at {owner.mac}")
    run.note(f"(and {len(replies) - 1} is-at replies the lab made up, graded too)")


def look_up(run, h1, h2, h3) -> None:
    """The student's find_entry on the live tables, then on a table the lab made up."""
    lookups, kernel = [], []
    for host, peer in ((h1, h2), (h2, h1), (h1, h3)):
        table = host.kernel.neighbour_messages()
        known = host.kernel.neighbour(peer.ip)
        lookups.append(Lookup(f"{host.name}'s table", table, peer.ip, known.mac if known else None,
                              "" if known else "when no entry has that IP, return None"))
        kernel.append(f"{known.mac} {known.state}" if known else "no entry")
    lookups += made_up_lookups(run.rng, h1.ip.rsplit(".", 1)[0], h1.kernel.link(h1.interface).index)
    outcome = run.student("find_entry", h1, lookups[0].table, lookups[0].ip,
                          extra=[(item.table, item.ip) for item in lookups[1:]])
    given = answers(outcome)
    for item, (status, value), seen in zip(lookups, given, kernel):
        shown = repr(value) if status == DONE else "(not written yet)" if status == TODO else "no answer"
        run.note(f"find_entry({item.where}, {item.ip}) -> {shown}; kernel: {seen}")
    run.note(f"(and {len(lookups) - len(kernel)} look-ups in {lookups[-1].where}, one INCOMPLETE, graded too)")
    run.evidence.lookups, run.evidence.found, run.evidence.peers = lookups, given, [h2.mac, h1.mac, None]


def announce(run, speaker, listener) -> None:
    """The student's announcement from speaker; the listener's kernel learns it, or not."""
    def learned():  # the kernel updates its table within microseconds
        entry = listener.kernel.neighbour(speaker.ip)
        return entry.mac if entry is not None else None
    run.evidence.speaker = (speaker.ip, speaker.mac)
    told = run.exchange("build_gratuitous", speaker, None, speaker.mac, speaker.ip, answer=learned,
                        fallback=False)
    run.evidence.gratuitous, run.evidence.learned = told.sent, told.answer
    run.note(f"{listener.name}'s entry for {speaker.ip}: {told.answer or 'none'}")


# --- grading: from the captured wire, the kernels' tables and the made-up cases' answers ---

def use_argument(name: str) -> str:
    return f"take it from the argument {name}: addresses change every run"


def no_source(packet) -> tuple[bool, str]:
    """Ether() left without src: scapy fills it from a route it does not know here."""
    return (packet.src == "00:00:00:00:00:00", "Ethernet source is 00:00:00:00:00:00 (scapy could not guess "
                                               "it here), and a switch drops such a frame: set Ether(src=my_mac)")


def grade_who_has(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.who_has, wire, "Ether(...) / ARP(...)")
    if verdict:
        return verdict
    (my_ip, my_mac), (target_ip, _) = ev.asker, ev.owner
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
        (arp.psrc != my_ip, f"psrc is {arp.psrc}: it must be the asker's own IP {my_ip}, where the answer "
                            f"goes; {use_argument('my_ip')}"),
        (arp.pdst != target_ip, f"pdst is {arp.pdst}: it must be the address asked about, {target_ip}; "
                                f"{use_argument('target_ip')}"),
        (arp.hwsrc != my_mac, f"hwsrc is {arp.hwsrc}: it must be the asker's MAC {my_mac}, "
                              f"or the answer cannot come back; {use_argument('my_mac')}"),
        no_source(packet),
        (packet.src != my_mac, f"Ethernet source is {packet.src}: frames from h1 carry h1's MAC {my_mac}"),
    ]
    if verdict := first_mistake(detail, mistakes):
        return verdict
    answers = before(wire.arp(after=seen.time, op=2, psrc=target_ip, pdst=my_ip), ev.who_has.fallback_at)
    if not answers:
        return failed(detail, "the frame looks right but h2 did not answer; compare it "
                                                "field by field with a who-has in Wireshark")
    delay = (answers[0].time - seen.time) * 1000
    return passed(f"broadcast who-has, answered by h2's kernel {delay:.2f} ms later")


def same_host(value: tuple, host: tuple) -> bool:
    """(ip, mac) pairs equal, whatever the case of the MAC's hex digits."""
    return (value[0], value[1].lower()) == tuple(host)


def grade_parse(ev: Evidence, wire) -> Verdict:
    """parse_is_at on h2's reply and the made-up ones."""
    replies, given = ev.replies, ev.parsed
    status, value = given[0]
    if status != DONE:  # the engine's verdict, with the error, stands
        return failed(value)
    cases = score(same_host(value, replies[0][0]), tuple(given[1:]),
                  [sender for sender, _ in replies[1:]], same=same_host)
    if cases.wrong is None:
        ip, mac = replies[0][0]
        return passed(f"{ip} is at {mac}, the MAC h2's kernel reports; {cases.summary}")
    index = cases.wrong[0]
    (sender, target), (status, value) = replies[index], given[index]
    where = "h2's reply" if index == 0 else f"a reply from {sender[0]} to {target[0]}"
    got = f"returned {value!r}" if status == DONE else f"gave no answer: {value}"
    detail = f"for {where}, {got}; {cases.summary}"
    if cases.constant:
        return failed(detail, CONSTANT_HINT)
    if status != DONE:
        return failed(detail, "it must read any is-at reply, not only h2's")
    if same_host(value[::-1], sender):
        return failed(detail, "return (ip, mac) in that order")
    if value[0] == target[0] or value[1].lower() == target[1]:
        return failed(detail, "that is the asker: in a reply the sender fields (psrc, hwsrc) "
                                              "describe the host that answered")
    return failed(detail, "read the reply's sender fields: reply[ARP].psrc and reply[ARP].hwsrc")


def grade_lookups(ev: Evidence, wire) -> Verdict:
    """find_entry on the live tables and the made-up one."""
    lookups, given = ev.lookups, ev.found
    if [item.truth for item in lookups[:len(ev.peers)]] != ev.peers:
        return failed("the kernels' tables do not hold the peers' real MACs", LAB_FAULT)
    status, value = given[0]
    if status != DONE:  # the engine's verdict, with the error, stands
        return failed(value)
    cases = score(value == lookups[0].truth, tuple(given[1:]), [item.truth for item in lookups[1:]])
    if cases.wrong is None:
        return passed("h1 knows h2 and h2 knows h1 (learned from the question), h1 does not "
                                       f"know h3 yet; {cases.summary}")
    index = cases.wrong[0]
    item, (status, value) = lookups[index], given[index]
    got = f"gave {value!r}" if status == DONE else f"gave no answer: {value}"
    detail = f"find_entry({item.where}, {item.ip}) {got}, the right answer is {item.truth!r}; " \
             f"{cases.summary}"
    if cases.constant:
        hint = CONSTANT_HINT
    elif status == DONE and value is None:  # and the right answer is a MAC
        hint = f'the table has an entry for {item.ip}: return its entry.get_attr("NDA_LLADDR")'
    else:
        hint = item.hint or 'return the MAC of the entry whose entry.get_attr("NDA_DST") equals ip, not another'
    return failed(detail, hint)


def grade_gratuitous(ev: Evidence, wire) -> Verdict:
    seen, verdict = sent_frame(ev.gratuitous, wire, "Ether(...) / ARP(...)")
    if verdict:
        return verdict
    ip, mac = ev.speaker
    packet = seen.packet
    arp = packet[ARP]
    detail = f"sent: {arp.summary()} to {packet.dst}"
    mistakes = [
        (packet.dst != BROADCAST, f"Ethernet destination is {packet.dst}: an announcement is for "
                                  f"everyone, so it goes to {BROADCAST}"),
        (arp.psrc != ip or arp.pdst != ip, f"psrc={arp.psrc} pdst={arp.pdst}: a gratuitous ARP asks about "
                                           f"the sender's own address, so both are {ip}; {use_argument('my_ip')}"),
        (arp.hwsrc != mac, f"hwsrc is {arp.hwsrc}: the announcement must carry h3's own MAC {mac}; "
                           f"{use_argument('my_mac')}"),
        (arp.op == 2 and arp.hwdst != mac, "as a reply (op 2), Linux takes it as gratuitous only if hwdst "
                                           "equals hwsrc; the usual form is a request, op 1"),
        (arp.op not in (1, 2), f"op is {arp.op}: use 1 (request), the usual form of an announcement"),
        no_source(packet),
    ]
    if verdict := first_mistake(detail, mistakes):
        return verdict
    if ev.learned != mac:
        return failed(detail + f"; h1's entry: {ev.learned}",
                       "h1 did not take the announcement; compare it with one in Wireshark")
    return passed(f"h1's kernel added {ip} at {mac} without asking")


LAB = Lab(
    name="arp-basic",
    title="ARP: who has h2's address? Ask, answer, and watch the tables learn",
    topology="star",
    topology_args=(3,),
    exercise="arp_basic",
    todos=("build_who_has", "parse_is_at", "find_entry", "build_gratuitous"),
    returns={"build_who_has": Frame(Ether, ARP), "parse_is_at": tuple[str, str],
             "find_entry": str | None, "build_gratuitous": Frame(Ether, ARP)},
    checks=(
        CheckSpec("who-has", "build_who_has", "h1's who-has is a broadcast ARP request that h2 answers",
                  grade_who_has),
        CheckSpec("is-at", "parse_is_at", "the is-at reply gives h2's IP and real MAC", grade_parse),
        CheckSpec("lookup", "find_entry", "entries found in the ARP tables read over netlink", grade_lookups),
        CheckSpec("gratuitous", "build_gratuitous", "h3's announcement makes h1 learn h3 unasked",
                  grade_gratuitous),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
