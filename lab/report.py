"""What a run shows: the steps with their frames and notes, the checks, the capture.

Text goes to a terminal (colour only there, and never with NO_COLOR set) or, with
--json, one JSON document for autograders.
"""
from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import TextIO

from .capture import sender_copies
from .definition import FAIL, NOT_DONE, PASS
from .exercise import DONE, RAISED, TIMEOUT, WRONG
from .paths import shown
from .terminal import cut, width, wrapped
from .runner import Result
from .wire import BROADCAST, IP, TCP, UDP, Wire, flag_words, layers, payload, summary

COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1", "cyan": "36"}


class Style:
    def __init__(self, stream: TextIO):
        self.colour = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        # Box-drawing arrows and check marks on a UTF-8 terminal only: piped into a file, a
        # log or another program, the report is plain ASCII, each character one byte.
        unicode = stream.isatty() and (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.marks = {PASS: "✓", FAIL: "✗", NOT_DONE: "·"} if unicode else {PASS: "ok", FAIL: "XX", NOT_DONE: "--"}
        self.arrow = "→" if unicode else "->"

    def __call__(self, text: str, colour: str) -> str:
        return f"\033[{COLOURS[colour]}m{text}\033[0m" if self.colour else text


STATUS_COLOUR = {PASS: "green", FAIL: "red", NOT_DONE: "yellow"}


def outcome_label(outcome, solution: bool) -> tuple[str, str]:
    if outcome.status == DONE:
        return f"{outcome.todo}(): {'reference solution' if solution else 'your code'}", "green"
    if outcome.status in (RAISED, TIMEOUT, WRONG):
        if not outcome.replaced:
            return f"{outcome.todo}(): your code failed: {outcome.detail}", "red"
        return f"{outcome.todo}(): REFERENCE ran, because {outcome.detail}", "red"
    return f"{outcome.todo}(): REFERENCE ran, TODO not done yet", "yellow"


def names_by_mac(result: Result) -> dict[str, str]:
    names = {mac: name for name, (_, mac) in result.hosts.items()} | result.macs
    names[BROADCAST] = "*"
    return names


def render(result: Result, stream: TextIO = sys.stdout, columns: int | None = None) -> None:
    """The report, every line within the terminal's width."""
    style = Style(stream)
    columns = columns or width()
    out = lambda line="": print(line, file=stream)  # noqa: E731

    def say(text: str, indent: int, colour: str | None = None, hanging: int = 2, refill: bool = True) -> None:
        for line in wrapped(text, indent, columns, hanging, refill):
            out(style(line, colour) if colour and line else line)

    lab = result.lab
    say(f"{lab.name}: {lab.title}", 0, "bold")
    say(lab.intro, 2, hanging=0)
    out()
    longest = max(map(len, result.hosts), default=0)
    for name, (ip, mac) in result.hosts.items():
        out(f"  {name:<{longest}}  {ip:<15} {mac}")
    source = "reference solution (--solution)" if result.solution else "your exercise"
    say(f"code: {source}; seed {result.seed} (--seed {result.seed} replays this run)", 2, "dim")
    wire = Wire(result.frames)
    macs = names_by_mac(result)
    for number, step in enumerate(result.steps, 1):
        out()
        say(f"{number}. {step.title}", 0, "bold", hanging=3)
        if step.text:
            say(step.text, 3, "dim", hanging=0)
        shown_labels = set()
        for outcome in step.outcomes:
            label, colour = outcome_label(outcome, result.solution)
            if label not in shown_labels:
                shown_labels.add(label)
                say(label, 3, colour)
            for line in outcome.printed.splitlines()[:20]:
                out(style(cut(f"   | {line}", columns), "dim"))
        if not step.draw:
            frames, doings = [], []
            count = len(wire.between(step.start, step.end))
            say(f"({count} frames on the wire, not drawn here: the capture holds them)", 3, "dim")
        elif step.ladder:
            render_ladder(step, wire, result, style, out, columns)
            frames, doings = [], []
        else:  # frames in time order, with what the lab did between them
            frames = [(f.time, 0, f) for f in wire.between(step.start, step.end)]
            doings = [(t, 1, f"[{text}]" if not host else f"{host}: {text}") for t, host, text in step.states]
        for moment, kind, frame in sorted(frames + doings, key=lambda row: row[:2]):
            if kind == 1:
                say(frame, 23, "dim", hanging=1)
                continue
            packet = frame.packet
            source_name, target = macs.get(packet.src, packet.src), macs.get(packet.dst, packet.dst)
            heading = f"   {(frame.time - result.started) * 1000:8.3f} ms  {source_name:>3} {style.arrow} {target:<3}  "
            lines = wrapped(summary(packet), len(heading), columns, 2)
            out(heading + style(lines[0].lstrip(), "cyan"))
            for line in lines[1:]:
                out(style(line, "cyan"))
            for layer, fields in layers(packet):
                say(f"{layer:<6} {fields}", 23, "dim", hanging=7, refill=False)
        for note in step.notes:
            say(note, 3, refill=False)
    out()
    out(style("Checks", "bold"))
    for verdict in result.verdicts:
        spec = lab.check(verdict.id)
        mark = style(style.marks[verdict.status], STATUS_COLOUR[verdict.status])
        title = wrapped(spec.title, 3 + len(style.marks[verdict.status]), columns)
        out(f"  {mark} {title[0].lstrip()}")
        for line in title[1:]:
            out(line)
        if verdict.detail:
            say(verdict.detail, 6, "dim")
        if verdict.hint and verdict.status != PASS:
            say(f"hint: {verdict.hint}", 6, "yellow", hanging=6)
    counts = {status: sum(v.status == status for v in result.verdicts) for status in (PASS, FAIL, NOT_DONE)}
    out()
    out(f"{counts[PASS]} of {len(result.verdicts)} checks pass, {counts[FAIL]} fail, "
        f"{counts[NOT_DONE]} not done.")
    # Paths stay whole, to be copied: a long one may run past the edge.
    out(f"Capture: {shown(result.capture)}, {len(sender_copies(result.frames))} frames, each once")
    out(f"  open it with: wireshark {shown(result.capture)}")
    if result.page:
        out(f"Web page: {shown(result.page)}")
        out("  open it in a browser, or show captures/ to one with: python -m lab serve")
    if result.ports_capture:
        out(f"  every copy on each of the {len({f.interface for f in result.frames})} switch ports: "
            f"{shown(result.ports_capture)}")


def render_short(result: Result, stream: TextIO = sys.stdout, columns: int | None = None) -> None:
    """What `check` prints: each step on one line, then the checks, within the width."""
    columns = columns or width()
    out = lambda line="": print(line, file=stream)  # noqa: E731
    for number, step in enumerate(result.steps, 1):
        out(cut(f"{number}. {step.title}", columns))
    for verdict in result.verdicts:
        spec = result.lab.check(verdict.id)
        for line in wrapped(f"{verdict.status:<8} {spec.id:<12} {spec.title}", 0, columns, 22, refill=False):
            out(line)
        if verdict.status != PASS:
            for line in wrapped(verdict.detail, 9, columns):
                out(line)
            if verdict.hint:
                for line in wrapped(f"hint: {verdict.hint}", 9, columns, 6):
                    out(line)
    if result.page:
        out(f"web page: {shown(result.page)}")
    out(("PASSED" if result.passed else "NOT PASSED") + f"  (seed {result.seed}; capture: {shown(result.capture)})")


def syns(wire: Wire) -> dict[tuple[str, int, str, int], list[tuple[float, int]]]:
    """When each side of each connection (ip, port, peer ip, peer port) sent a SYN, and
    its sequence number then: keyed by connection, since a server's one port answers
    many clients, each with an ISN of its own."""
    found: dict[tuple[str, int, str, int], list[tuple[float, int]]] = {}
    for frame in wire.frames:
        packet = frame.packet
        if TCP in packet and "S" in str(packet[TCP].flags):
            key = (packet[IP].src, packet[TCP].sport, packet[IP].dst, packet[TCP].dport)
            found.setdefault(key, []).append((frame.time, packet[TCP].seq))
    return found


def isn_at(sent: dict, side: tuple[str, int, str, int], moment: float) -> int | None:
    """The ISN of that side's latest SYN up to moment: a connection opened again (the
    reference's SYN after the student's) counts from its own."""
    earlier = [isn for time, isn in sent.get(side, ()) if time <= moment]
    return earlier[-1] if earlier else None


def segment_label(flags: str, seq: int, ack: int, data: bytes, mine: int | None,
                  theirs: int | None) -> tuple[str, str]:
    """('SYN,ACK seq=0 ack=1 len=0', 'seq 3735928559, ack 2871') for one TCP segment
    (flags as scapy writes them, 'SA'): numbers relative to each side's ISN; without a
    SYN to count from, the real number, written 'seq 3735928559' rather than 'seq=' so
    it cannot pass for one. The web page labels its arrows with it too."""
    relative = flag_words(flags) + (f" seq={(seq - mine) % 2**32}" if mine is not None else f" seq {seq}")
    absolute = f"seq {seq}"
    if "A" in flags:
        relative += f" ack={(ack - theirs) % 2**32}" if theirs is not None else f" ack {ack}"
        absolute += f", ack {ack}"
    relative += f" len={len(data)}" + (f" {data[:16]!r}" if data else "")
    return relative, absolute


def exchanged(packet, left_ip: str, right_ip: str) -> bool:
    """A TCP segment or UDP datagram between the ladder's two hosts: drawn as an arrow."""
    return IP in packet and {packet[IP].src, packet[IP].dst} == {left_ip, right_ip} and (TCP in packet or UDP in packet)


LADDER_MARGIN = 15  # '   ' and the time, '  67.288 ms '


def render_ladder(step, wire: Wire, result: Result, style: Style, out, columns: int) -> None:
    """The step's segments as arrows as wide as the terminal allows, each host's states
    under its end of the arrows, the lab's doings between them.

    Two hosts: the arrows run from edge to edge, their labels inside, and a segment is
    drawn when its IP addresses are the two hosts'. More: one column per host, and a
    frame is drawn between the hosts owning its MACs, so a router's hops show as arrows
    of their own; each label goes under its arrow."""
    view = (Ends if len(step.ladder) == 2 else Columns)(step.ladder, result, style)
    span = columns - LADDER_MARGIN
    margin = " " * LADDER_MARGIN
    sent = syns(wire)
    frames = wire.between(step.start, step.end)
    drawn = [f for f in frames if view.ends(f.packet)]
    connections = {frozenset({(f.packet[IP].src, f.packet.sport), (f.packet[IP].dst, f.packet.dport)}) for f in drawn}
    out(style(margin + view.heading(span), "bold"))
    rows = [(f.time, 0, f) for f in frames] + [(t, 1, (host, text)) for t, host, text in step.states]
    for moment, kind, item in sorted(rows, key=lambda row: row[:2]):
        stamp = f"   {(moment - result.started) * 1000:8.3f} ms "
        if kind == 1:
            host, text = item
            if not host:  # something the lab did
                for row in wrapped(f"[{text}]", LADDER_MARGIN + 2, columns, 1):
                    out(style(row, "dim"))
            else:
                for row in view.state(host, text, span, columns):
                    out(row)
            continue
        packet = item.packet
        ends = view.ends(packet)
        if not ends:
            rows = wrapped(f"({summary(packet)})", LADDER_MARGIN, columns, 1)
            out(stamp + style(rows[0].lstrip(), "dim"))
            for row in rows[1:]:
                out(style(row, "dim"))
            continue
        data = payload(packet)
        layer = packet[TCP] if TCP in packet else packet[UDP]
        if TCP in packet:
            mine = (packet[IP].src, layer.sport, packet[IP].dst, layer.dport)
            theirs = (packet[IP].dst, layer.dport, packet[IP].src, layer.sport)
            relative, absolute = segment_label(str(layer.flags), layer.seq, layer.ack, data,
                                               isn_at(sent, mine, moment), isn_at(sent, theirs, moment))
        else:
            relative = f"UDP length={packet[UDP].len} data={len(data)} B" + (f" {data[:16]!r}" if data else "")
            absolute = f"{packet[UDP].sport} > {packet[UDP].dport}, checksum {packet[UDP].chksum:#06x}"
        if len(connections) > 1:  # two connections, or ports the student got wrong: say which is which
            relative = f"{layer.sport}>{layer.dport} {relative}"
        first, second = view.arrow(ends, relative, absolute, span)
        out(stamp + first)
        out(margin + second)


class Ends:
    """The two-host ladder: left and right edges, states under each end."""

    def __init__(self, ladder, result: Result, style: Style):
        self.left, self.right = ladder
        self.left_ip, self.right_ip = result.hosts[self.left][0], result.hosts[self.right][0]
        self.style = style

    def heading(self, span: int) -> str:
        return f"{self.left}{self.right:>{span - len(self.left)}}"

    def ends(self, packet) -> tuple[str, str] | None:
        if not exchanged(packet, self.left_ip, self.right_ip):
            return None
        return (self.left, self.right) if packet[IP].src == self.left_ip else (self.right, self.left)

    def state(self, host: str, text: str, span: int, columns: int) -> list[str]:
        if host == self.left:
            return [self.style(row, "yellow") for row in wrapped(text, LADDER_MARGIN, columns, 2)]
        return [" " * LADDER_MARGIN + self.style(f"{row:>{span}}", "yellow") for row in textwrap.wrap(text, span) or [""]]

    def arrow(self, ends, relative: str, absolute: str, span: int) -> tuple[str, str]:
        """The arrow with its label inside, and the real numbers under it."""
        line, head_right, head_left = ("─", "▶", "◀") if self.style.arrow == "→" else ("-", ">", "<")
        body = f" {cut(relative, span - 9)} "
        if ends[0] == self.left:
            drawn = line * 3 + body + line * max(3, span - len(body) - 4) + head_right
        else:
            drawn = head_left + line * 3 + body + line * max(3, span - len(body) - 4)
        return self.style(drawn, "cyan"), self.style(cut(f"   ({absolute})", span), "dim")


class Columns:
    """The ladder of three hosts or more: a column each, evenly spread over the width."""

    def __init__(self, ladder, result: Result, style: Style):
        self.hosts = list(ladder)
        self.owners = names_by_mac(result)
        self.style = style
        unicode = style.arrow == "→"
        self.bar, self.line, self.heads = ("│", "─", "◀▶") if unicode else ("|", "-", "<>")

    def places(self, span: int) -> dict[str, int]:
        last = len(self.hosts) - 1
        return {host: round(i * (span - 1) / last) for i, host in enumerate(self.hosts)}

    def lifelines(self, span: int) -> list[str]:
        row = [" "] * span
        for x in self.places(span).values():
            row[x] = self.bar
        return row

    def heading(self, span: int) -> str:
        row = [" "] * span
        for host, x in self.places(span).items():
            at = min(max(0, x - len(host) // 2), span - len(host))
            row[at:at + len(host)] = host
        return "".join(row).rstrip()

    def ends(self, packet) -> tuple[str, str] | None:
        """The hosts that sent and received this segment on its link, both in the ladder."""
        ends = self.owners.get(packet.src), self.owners.get(packet.dst)
        drawn = IP in packet and (TCP in packet or UDP in packet) and ends[0] != ends[1]
        return ends if drawn and all(end in self.hosts for end in ends) else None

    def over(self, row: list[str], at: int, text: str, colour: str) -> str:
        """row with text written over it from column at, in colour; the rest as it was."""
        return ("".join(row[:at]) + self.style(text, colour) + "".join(row[at + len(text):])).rstrip()

    def state(self, host: str, text: str, span: int, columns: int) -> list[str]:
        """Right of its host's column, else left of it, else a line of its own."""
        x = self.places(span)[host]
        at = x + 2 if x + 2 + len(text) <= span else x - 1 - len(text)
        if at < 0:
            return [self.style(row, "yellow") for row in wrapped(f"{host}: {text}", LADDER_MARGIN, columns, 2)]
        return [" " * LADDER_MARGIN + self.over(self.lifelines(span), at, text, "yellow")]

    def arrow(self, ends, relative: str, absolute: str, span: int) -> tuple[str, str]:
        """The arrow between the two columns, and its label under it (the real
        numbers are Wireshark's to show: too many columns to fit them)."""
        places = self.places(span)
        source, target = places[ends[0]], places[ends[1]]
        low, high = sorted((source, target))
        shaft = [self.line] * (high - low - 1)
        if target > source:
            shaft[-1] = self.heads[1]
        else:
            shaft[0] = self.heads[0]
        label = cut(relative, span - 2)
        at = min(low + 2, span - len(label))
        return (self.over(self.lifelines(span), low + 1, "".join(shaft), "cyan"),
                self.over(self.lifelines(span), at, label, "cyan"))


def as_json(result: Result) -> str:
    wire = Wire(result.frames)
    macs = names_by_mac(result)
    document = {
        "lab": result.lab.name,
        "status": "passed" if result.passed else "not passed",
        "seed": result.seed,
        "solution": result.solution,
        "passed": result.passed,
        "checks": [{"id": v.id, "todo": result.lab.check(v.id).todo, "title": result.lab.check(v.id).title,
                    "status": v.status, "detail": v.detail, "hint": v.hint, "blocked_by": v.blocked_by}
                   for v in result.verdicts],
        "student_errors": result.student_errors,
        "hosts": {name: {"ip": ip, "mac": mac} for name, (ip, mac) in result.hosts.items()},
        "frames": [{"time": round(f.time - result.started, 6), "interfaces": list(f.interfaces),
                    "from": macs.get(f.packet.src, f.packet.src), "to": macs.get(f.packet.dst, f.packet.dst),
                    "summary": summary(f.packet)} for f in wire.frames],
        "steps": [{"title": step.title, "notes": step.notes,
                   "calls": [{"todo": o.todo, "status": o.status, "ran": "reference" if o.replaced else "yours",
                              "detail": o.detail, "printed": o.printed} for o in step.outcomes],
                   "states": [{"time": round(t - result.started, 6), "host": h, "state": text}
                              for t, h, text in step.states]} for step in result.steps],
        "capture": str(result.capture.resolve()),
        "captured_frames": len(sender_copies(result.frames)),
        "copies_on_ports": len(result.frames),
        "ports_capture": str(result.ports_capture.resolve()) if result.ports_capture else None,
        "page": str(result.page.resolve()) if result.page else None,
    }
    return json.dumps(document, indent=2)
