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
from .runner import Result
from .wire import BROADCAST, IP, TCP, UDP, Wire, flag_names, layers, payload, summary

ARROW_WIDTH = 58

COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1", "cyan": "36"}


class Style:
    def __init__(self, stream: TextIO):
        self.colour = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        unicode = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
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
    names = {mac: name for name, (_, mac) in result.hosts.items()}
    names[BROADCAST] = "*"
    return names


def render(result: Result, stream: TextIO = sys.stdout) -> None:
    style = Style(stream)
    out = lambda line="": print(line, file=stream)  # noqa: E731
    lab = result.lab
    out(style(f"{lab.name}: {lab.title}", "bold"))
    out(textwrap.indent(lab.intro, "  "))
    out()
    for name, (ip, mac) in result.hosts.items():
        out(f"  {name}  {ip:<15} {mac}")
    source = "reference solution (--solution)" if result.solution else "your exercise"
    out(style(f"  code: {source}; seed {result.seed} (--seed {result.seed} replays this run)", "dim"))
    wire = Wire(result.frames)
    macs = names_by_mac(result)
    for number, step in enumerate(result.steps, 1):
        out()
        out(style(f"{number}. {step.title}", "bold"))
        if step.text:
            out(style(textwrap.indent(step.text, "   "), "dim"))
        shown_labels = set()
        for outcome in step.outcomes:
            label, colour = outcome_label(outcome, result.solution)
            if label not in shown_labels:
                shown_labels.add(label)
                out("   " + style(label, colour))
            for line in outcome.printed.splitlines()[:20]:
                out(style(f"   | {line}", "dim"))
        if step.ladder:
            render_ladder(step, wire, result, style, out)
        for frame in ([] if step.ladder else wire.between(step.start, step.end)):
            packet = frame.packet
            source_name, target = macs.get(packet.src, packet.src), macs.get(packet.dst, packet.dst)
            out(f"   {(frame.time - result.started) * 1000:8.3f} ms  {source_name:>3} {style.arrow} {target:<3}  "
                + style(summary(packet), "cyan"))
            for layer, fields in layers(packet):
                out(style(f"{'':23}{layer:<6} {fields}", "dim"))
        for note in step.notes:
            out(f"   {note}")
    out()
    out(style("Checks", "bold"))
    for verdict in result.verdicts:
        spec = lab.check(verdict.id)
        mark = style(style.marks[verdict.status], STATUS_COLOUR[verdict.status])
        out(f"  {mark} {spec.title}")
        if verdict.detail:
            out(style(f"      {verdict.detail}", "dim"))
        if verdict.hint and verdict.status != PASS:
            out(style(f"      hint: {verdict.hint}", "yellow"))
    counts = {status: sum(v.status == status for v in result.verdicts) for status in (PASS, FAIL, NOT_DONE)}
    out()
    out(f"{counts[PASS]} of {len(result.verdicts)} checks pass, {counts[FAIL]} fail, "
        f"{counts[NOT_DONE]} not done.")
    out(f"Capture: {shown(result.capture)}, {len(sender_copies(result.frames))} frames, each once")
    out(f"  open it with: wireshark {shown(result.capture)}")
    if result.ports_capture:
        out(f"  every copy on each of the {len({f.interface for f in result.frames})} switch ports: "
            f"{shown(result.ports_capture)}")


def segment_label(packet, isns: dict) -> tuple[str, str]:
    """('SYN,ACK seq=0 ack=1 len=0', 'seq 3735928559 ack 2871') for one TCP segment."""
    tcp, ip = packet[TCP], packet[IP]
    mine, theirs = isns.get((ip.src, tcp.sport)), isns.get((ip.dst, tcp.dport))
    relative = f"{flag_names(packet)} seq={tcp.seq - mine if mine is not None else tcp.seq}"
    absolute = f"seq {tcp.seq}"
    if "A" in str(tcp.flags):
        relative += f" ack={tcp.ack - theirs if theirs is not None else tcp.ack}"
        absolute += f", ack {tcp.ack}"
    data = payload(packet)
    relative += f" len={len(data)}" + (f" {data[:16]!r}" if data else "")
    return relative, absolute


def render_ladder(step, wire: Wire, result: Result, style: Style, out) -> None:
    """The step's segments between two hosts as arrows, states on each side."""
    left, right = step.ladder
    (left_ip, _), (right_ip, _) = result.hosts[left], result.hosts[right]
    isns = wire.isns()
    unicode = style.arrow == "→"
    line, head_right, head_left = ("─", "▶", "◀") if unicode else ("-", ">", "<")
    out(style(f"{'':12}{left:<14}{'':{ARROW_WIDTH}}  {right}", "bold"))
    rows = [(f.time, 0, f) for f in wire.between(step.start, step.end)]
    rows += [(t, 1, (host, text)) for t, host, text in step.states]
    for moment, kind, item in sorted(rows, key=lambda row: row[:2]):
        stamp = f"{(moment - result.started) * 1000:8.3f} ms "
        if kind == 1:
            host, text = item
            if not host:  # something the lab did
                out(style(f"{'':26}[{text}]", "dim"))
                continue
            column = "" if host == left else " " * (14 + ARROW_WIDTH + 2)
            out(f"{'':12}{column}" + style(text, "yellow"))
            continue
        packet = item.packet
        between = IP in packet and {packet[IP].src, packet[IP].dst} == {left_ip, right_ip}
        if not between or not (TCP in packet or UDP in packet):
            out(f"   {stamp}" + style(f"{'':14}({summary(packet)})", "dim"))
            continue
        data = payload(packet)
        relative, absolute = segment_label(packet, isns) if TCP in packet else (
            f"UDP length={packet[UDP].len} data={len(data)} B" + (f" {data[:16]!r}" if data else ""),
            f"{packet[UDP].sport} > {packet[UDP].dport}, checksum {packet[UDP].chksum:#06x}")
        body = f" {relative} "
        if packet[IP].src == left_ip:
            arrow = line * 3 + body + line * max(3, ARROW_WIDTH - len(body) - 4) + head_right
        else:
            arrow = head_left + line * 3 + body + line * max(3, ARROW_WIDTH - len(body) - 4)
        out(f"   {stamp}{'':14}" + style(arrow, "cyan"))
        out(style(f"{'':26}   ({absolute})", "dim"))


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
                    "status": v.status, "detail": v.detail, "hint": v.hint} for v in result.verdicts],
        "student_errors": result.student_errors,
        "hosts": {name: {"ip": ip, "mac": mac} for name, (ip, mac) in result.hosts.items()},
        "frames": [{"time": round(f.time - result.started, 6), "interfaces": list(f.interfaces),
                    "from": macs.get(f.packet.src, f.packet.src), "to": macs.get(f.packet.dst, f.packet.dst),
                    "summary": summary(f.packet)} for f in wire.frames],
        "steps": [{"title": step.title, "notes": step.notes,
                   "calls": [{"todo": o.todo, "status": o.status, "ran": "reference" if o.replaced else "yours"}
                             for o in step.outcomes],
                   "states": [{"time": round(t - result.started, 6), "host": h, "state": text}
                              for t, h, text in step.states]} for step in result.steps],
        "capture": str(result.capture.resolve()),
        "captured_frames": len(sender_copies(result.frames)),
        "copies_on_ports": len(result.frames),
        "ports_capture": str(result.ports_capture.resolve()) if result.ports_capture else None,
    }
    return json.dumps(document, indent=2)
