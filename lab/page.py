"""The report as one web page beside the capture: captures/LAB.html.

The same Result the terminal report renders, as a file a student opens in any
browser, from file:// or through `lab serve`, with no network: the CSS and the
script (page.css, page.js beside this module) are inlined. The steps, notes and
checks are plain HTML; each step's frames are an SVG ladder, one column per host
and one arrow per frame, so the page holds exactly the frames of the capture. An
arrow opens the frame's details (headers with their layers, fields, bytes, switch
ports): those are computed here once, kept in one JSON blob, and drawn by the
script only when asked for, so writing stays cheap for hundreds of frames.
"""
from __future__ import annotations

import base64
import contextlib
import datetime
import gc
import html
import json
import os
import socket
import struct
from json.encoder import encode_basestring as quoted
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from scapy.layers.l2 import Ether
from scapy.packet import NoPayload, Packet, Padding, Raw

from .capture import owned_by_caller
from .definition import FAIL, NOT_DONE, PASS
from .exercise import DONE
from .report import isn_at, names_by_mac, outcome_label, segment_label
from .runner import Result, Step
from .wire import ICMP, IP, TCP, UDP, Seen, Wire, payload, summary

HERE = Path(__file__).resolve().parent
PRINTED_LINES = 200  # of what one call printed; a runaway loop must not make the page huge
# Each header's place in the two models: (OSI layer, TCP/IP layer). A header that
# scapy finds above the transport layer is application data.
LAYERS = {"Ether": ("2", "link"), "ARP": ("2-3", "link"), "IP": ("3", "internet"),
          "ICMP": ("3", "internet"), "IPerror": ("3", "internet, quoted by ICMP"),
          "TCP": ("4", "transport"), "UDP": ("4", "transport"),
          "TCPerror": ("4", "transport, quoted by ICMP"), "UDPerror": ("4", "transport, quoted by ICMP"),
          "ICMPerror": ("3", "internet, quoted by ICMP"), "Padding": ("2", "link (Ethernet padding)")}
APPLICATION = ("5-7", "application")
LONG_NAMES = {"Ether": "Ethernet", "Raw": "Payload", "Padding": "Ethernet padding"}
MARKS = {PASS: ("✓", "passed"), FAIL: ("✗", "failed"), NOT_DONE: ("·", "not done")}
# Ladder geometry, in SVG user units (CSS pixels at scale 1)
LEFT, GAP_TWO, GAP_MANY, RIGHT, TOP = 96, 440, 210, 190, 34
ARROW_ROW, FOLDED_ROW, TEXT_ROW = 44, 30, 22
CHAR = 7.3  # the width of a character of the ladder's 12 px monospace text


def write_page(result: Result, path: Path) -> None:
    """Write the run's report at path, whole or not at all, owned by the user behind sudo."""
    with collection_paused():
        text = page(result, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    owned_by_caller(path)


@contextlib.contextmanager
def collection_paused():
    """Python's cyclic garbage collector held off while the page is written: the page
    makes no cycles, but its thousands of short-lived objects would start a full
    collection of the whole run's heap (tens of ms), the run's garbage, not the page's."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def esc(text) -> str:
    """Text for an element or a double-quoted attribute."""
    return html.escape(str(text), quote=False).replace('"', "&quot;")


def prose(text: str, kind: str) -> str:
    """Text wrapped by hand for the terminal, as paragraphs the browser fills again."""
    return "".join(f'<p class="{kind}">{esc(" ".join(part.split()))}</p>'
                   for part in text.split("\n\n") if part.strip())


def page(result: Result, path: Path) -> str:
    """The whole page as one string."""
    wire = Wire(result.frames)
    ladder = Ladders(result, wire)
    parts = [head(result), header(result, path), '<main id="steps">']
    steps = result.steps
    for number, step in enumerate(steps, 1):
        parts.append(between(ladder, ladder.before(step.start), number - 1, number))
        parts.append(step_section(number, step, result, ladder))
    parts.append(between(ladder, ladder.before(float("inf")), len(steps), None))
    parts += ["</main>", checks(result), details_panel(),
              f'<script type="application/json" id="frames">{blob(ladder)}</script>',
              f"<script>{(HERE / 'page.js').read_text()}</script></body></html>\n"]
    return "".join(parts)


def head(result: Result) -> str:
    lab = result.lab
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="color-scheme" content="light dark">'
            f"<title>{esc(lab.name)}: {esc(lab.title)}</title>"
            f"<style>{(HERE / 'page.css').read_text()}</style></head><body>"
            '<a class="skip" href="#checks">Skip to the checks</a>'
            '<svg class="defs" aria-hidden="true" width="0" height="0"><defs><marker id="head" viewBox="0 0 10 10" '
            'refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto">'
            '<path d="M0 0L10 5L0 10z"/>'
            "</marker></defs></svg>")


def header(result: Result, path: Path) -> str:
    lab = result.lab
    when = datetime.datetime.fromtimestamp(result.started).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    replay = f"sudo python -m lab run {lab.name}{' --solution' if result.solution else ''} --seed {result.seed}"
    capture = os.path.relpath(result.capture.resolve(), path.resolve().parent)
    code = "the reference solution (--solution)" if result.solution else "your exercise"
    hosts = "".join(f"<tr><th scope=\"row\">{esc(name)}</th><td>{esc(ip)}</td><td>{esc(mac)}</td></tr>"
                    for name, (ip, mac) in result.hosts.items())
    return (f'<header><h1><span class="name">{esc(lab.name)}</span> {esc(lab.title)}</h1>'
            f'{prose(lab.intro, "intro")}<dl class="facts">'
            f"<dt>Run</dt><dd>{esc(when)}</dd>"
            f"<dt>Code</dt><dd>{code}</dd>"
            f"<dt>Seed</dt><dd>{result.seed}: <code>{esc(replay)}</code> replays this run</dd>"
            f'<dt>Capture</dt><dd><a href="{esc(quote(capture))}" download>{esc(result.capture.name)}</a> '
            f"(each frame once; open it with Wireshark)</dd></dl>"
            '<table class="hosts"><caption>Hosts</caption><thead><tr><th scope="col">host</th>'
            f'<th scope="col">IP address</th><th scope="col">MAC address</th></tr></thead><tbody>{hosts}'
            "</tbody></table>"
            '<p class="how">Each arrow is one frame. Click it, or Tab to it and press Enter, for its '
            "headers, fields and bytes; Escape closes them.</p></header>")


def step_section(number: int, step: Step, result: Result, ladder: "Ladders") -> str:
    parts = [f'<section class="step" id="step-{number}"><h2>{number}. {esc(step.title)}</h2>']
    if step.text:
        parts.append(prose(step.text, "text"))
    shown_labels = set()
    for outcome in step.outcomes:
        label, colour = outcome_label(outcome, result.solution)
        if label not in shown_labels:
            shown_labels.add(label)
            parts.append(f'<p class="call {colour}">{esc(label)}</p>')
        if outcome.printed:
            lines = outcome.printed.splitlines()
            more = len(lines) - PRINTED_LINES
            text = "\n".join(lines[:PRINTED_LINES]) + (f"\n… {more} more lines" if more > 0 else "")
            parts.append(f'<figure class="printed"><figcaption>{esc(outcome.todo)}() printed</figcaption>'
                         f"<pre>{esc(text)}</pre></figure>")
    frames = ladder.take(step)
    drawing = ladder.svg(frames, step, f"step {number}", not step.draw) if frames or step.states else ""
    if drawing and not step.draw:
        drawing = (f"<details><summary>{len(frames)} frames of the same kind again (the terminal only "
                   f"counts them): show them</summary>{drawing}</details>")
    parts.append(drawing or '<p class="none">No frames in this step.</p>')
    for note in step.notes:
        parts.append(f'<p class="note">{esc(note)}</p>')
    parts.append("</section>")
    return "".join(parts)


def between(ladder: "Ladders", frames: list[Seen], after: int, before: int | None) -> str:
    """Frames the lab's scenario caused outside any step (an experiment of hundreds of
    frames, summed up by a later step): folded, where they happened."""
    if not frames:
        return ""
    where = (f"before step {before}" if not after else f"after step {after}" if before is None
             else f"between steps {after} and {before}")
    title = f"{len(frames)} frame{'s' * (len(frames) != 1)} on the wire {where}"
    return (f'<section class="between"><details><summary>{title} (the terminal does not draw them): '
            f"show them</summary>{ladder.svg(frames, None, title, True)}</details></section>")


def checks(result: Result) -> str:
    rows = []
    for verdict in result.verdicts:
        mark, word = MARKS[verdict.status]
        hint = (f'<p class="hint"><strong>hint:</strong> {esc(verdict.hint)}</p>'
                if verdict.hint and verdict.status != PASS else "")
        rows.append(f'<li class="check {word.replace(" ", "-")}"><span class="mark" aria-hidden="true">{mark}</span>'
                    f'<span class="status">{word}</span> <span class="title">'
                    f"{esc(result.lab.check(verdict.id).title)}</span>"
                    f'<p class="detail">{esc(verdict.detail)}</p>{hint}</li>')
    counts = {status: sum(v.status == status for v in result.verdicts) for status in (PASS, FAIL, NOT_DONE)}
    return (f'<section id="checks" tabindex="-1"><h2>Checks</h2><ul>{"".join(rows)}</ul>'
            f'<p class="count">{counts[PASS]} of {len(result.verdicts)} checks pass, {counts[FAIL]} fail, '
            f"{counts[NOT_DONE]} not done.</p></section>")


def details_panel() -> str:
    return ('<aside id="details" hidden aria-labelledby="details-title" tabindex="-1">'
            '<button type="button" class="close" aria-label="Close the frame details (Escape)">×</button>'
            '<div class="content"></div></aside>')


def blob(ladder: "Ladders") -> str:
    """The frames' details as JSON that no byte of a frame can end early."""
    kinds = [list(key[:4]) + [list(key[4])] for key in SCHEMAS]
    text = (f'{{"kinds":{compact(kinds)},"who":{compact(list(ladder.who))},'
            f'"frames":[{",".join(ladder.records)}]}}')
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class Ladders:
    """Every frame once, handed to the first step whose time span holds it, drawn as
    arrows; its details recorded for the script."""

    def __init__(self, result: Result, wire: Wire):
        self.result = result
        self.names = names_by_mac(result)
        bound = bound_ports()
        self.reads = {id(f): read(f, bound) for f in wire.frames}
        # report.syns's table, from the headers read here (scapy would take too long)
        self.sent: dict[tuple, list[tuple[float, int]]] = {}
        for frame in wire.frames:
            tcp = self.reads[id(frame)].tcp
            if tcp and "S" in tcp.flags:
                self.sent.setdefault((tcp.src, tcp.sport, tcp.dst, tcp.dport), []).append((frame.time, tcp.seq))
        self.left = list(wire.frames)  # not yet in a step, in time order
        self.records: list[str] = []  # each frame's details, as JSON
        self.who: dict[str, int] = {}  # who built frames, in words: each sentence once
        self.shown_ports: dict[tuple[str, ...], str] = {}
        self.builders = builders(result)

    def take(self, step: Step) -> list[Seen]:
        mine = [f for f in self.left if step.start <= f.time <= step.end]
        if mine:
            taken = {id(f) for f in mine}
            self.left = [f for f in self.left if id(f) not in taken]
        return mine

    def before(self, moment: float) -> list[Seen]:
        """The frames not yet in a step that came before moment (Unix time)."""
        count = next((i for i, f in enumerate(self.left) if f.time >= moment), len(self.left))
        taken, self.left = self.left[:count], self.left[count:]
        return taken

    def ends(self, frame: Seen) -> tuple[str, str]:
        data = frame.data
        target, source = (data[i:i + 6].hex(":") for i in (0, 6))
        return self.names.get(source, source), self.names.get(target, target)

    def svg(self, frames: list[Seen], step: Step | None, what: str, folded: bool = False) -> str:
        """The ladder of these frames with the step's states and the lab's doings;
        folded (frames the terminal only counts): without the real numbers under each."""
        ends = [self.ends(f) for f in frames]
        columns = list(step.ladder or ()) if step else []
        seen = {name for pair in ends for name in pair}
        if "*" in seen:  # a broadcast reaches every host
            seen |= set(self.result.hosts)
        columns += [name for name in self.result.hosts if name in seen and name not in columns]
        columns += [name for pair in ends for name in pair if name in seen - set(columns) - {"*"}]
        columns = list(dict.fromkeys(columns))
        states = step.states if step else []
        if not columns:
            columns = [host for _, host, _ in states if host][:1] or ["?"]
        gap = GAP_TWO if len(columns) <= 2 else GAP_MANY
        x = {name: LEFT + 30 + i * gap for i, name in enumerate(columns)}
        last = columns[-1] if len(columns) > 1 else None
        reads = [self.reads[id(f)] for f in frames]
        connections = {frozenset({(r.tcp.src, r.tcp.sport), (r.tcp.dst, r.tcp.dport)}) for r in reads if r.tcp}
        rows = sorted([(f.time, 0, i) for i, f in enumerate(frames)] +
                      [(t, 1, i) for i, (t, _, _) in enumerate(states)], key=lambda row: row[:2])
        body, y, right = [], TOP, x[columns[-1]] + RIGHT
        for moment, kind, index in rows:
            stamp = f"{(moment - self.result.started) * 1000:.3f} ms"
            if kind == 1:
                _, host, text = states[index]
                if host == last:  # as in the terminal: the last host's states end at its column
                    body.append(f'<text class="state end" x="{x[host] - 8}" y="{y + 15}">{esc(text)}</text>')
                elif host in x:
                    body.append(f'<text class="state" x="{x[host] + 8}" y="{y + 15}">{esc(text)}</text>')
                    right = max(right, x[host] + 8 + CHAR * len(text))
                else:
                    text = f"{host}: {text}" if host else f"[{text}]"
                    body.append(f'<text class="event" x="{LEFT + 8}" y="{y + 15}">{esc(text)}</text>')
                    right = max(right, LEFT + 8 + CHAR * len(text))
                y += TEXT_ROW
                continue
            drawn, text_x, label = self.arrow(frames[index], reads[index], ends[index], x, y, stamp,
                                              len(connections) > 1, folded)
            body.append(drawn)
            right = max(right, text_x + CHAR * len(label))
            y += FOLDED_ROW if folded else ARROW_ROW
        width, height = int(right) + 10, y + 10
        lines = "".join(f'<line class="life" x1="{p}" y1="{TOP - 8}" x2="{p}" y2="{height}"/>'
                        f'<text class="host" x="{p}" y="18">{esc(name)}</text>' for name, p in x.items())
        return (f'<div class="ladder"><svg role="group" aria-label="{esc(what)}: {len(frames)} frames between '
                f'{esc(", ".join(columns))}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
                f'{lines}{"".join(body)}</svg></div>')

    def arrow(self, frame: Seen, r: "Read", ends: tuple[str, str], x: dict, y: int, stamp: str,
              ports: bool, folded: bool) -> tuple[str, int, str]:
        """One frame: a focusable arrow with its label (and where the label starts, and
        the label), and its record for the details."""
        label, real = self.label(r, frame.time, ports)
        source, target = ends
        number = len(self.records)
        who, first_mine = self.built_by(frame, source)
        # JSON text at once: hundreds of frames kept as nested lists until the end would
        # wake Python's full garbage collection over the whole run's heap.
        said = f',"summary":{compact(r.summary)}' if r.summary else ""
        self.records.append(
            f'{{"ports":{self.ports(frame.interfaces)},"by":{self.who.setdefault(who, len(self.who))},'
            f'"mine":{"null" if first_mine is None else compact(first_mine)},'
            f'"bytes":"{base64.b64encode(frame.data).decode()}",'
            f'"layers":{r.layers}{said}}}')
        start, line_y = x.get(source, LEFT + 30), 22  # within the arrow's row
        if target == "*":  # a broadcast reaches every other column
            others = [p for name, p in x.items() if name != source] or [start + 60]
            low, high = min(others + [start]), max(others + [start])
            heads = "".join(head_path(p, line_y, p > start) for p in others)
            text_x, to, line = low + 10, "every host", f'<path class="line" d="M{low} {line_y}H{high}"/>{heads}'
        else:  # the head is the page's one arrowhead marker (page.css)
            end = x[target] if target in x and target != source else start + 60
            text_x, to, line = min(start, end) + 10, target, f'<path class="line to" d="M{start} {line_y}H{end}"/>'
        spoken = f"Frame {number + 1} at {stamp}, {source} to {to}: {label}"
        sub = f'<text class="real" x="{text_x}" y="37">{esc(real)}</text>' if real and not folded else ""
        row = FOLDED_ROW if folded else ARROW_ROW
        return (f'<g class="frame" tabindex="0" role="button" data-frame="{number}" aria-label="{esc(spoken)}" '
                f'transform="translate(0 {y})"><rect width="100%" height="{row - 2}"/>'
                f'<text class="time" x="{LEFT}" y="{line_y + 4}">{stamp}</text>{line}'
                f'<text class="label" x="{text_x}" y="15">{esc(label)}</text>{sub}</g>'), text_x, label

    def ports(self, interfaces: tuple[str, ...]) -> str:
        text = self.shown_ports.get(interfaces)
        if text is None:
            text = self.shown_ports[interfaces] = compact(interfaces)
        return text

    def label(self, r: "Read", moment: float, ports: bool) -> tuple[str, str]:
        """The arrow's words as the terminal's ladder has them, and the real numbers."""
        if r.tcp:
            t = r.tcp
            mine, theirs = (t.src, t.sport, t.dst, t.dport), (t.dst, t.dport, t.src, t.sport)
            relative, real = segment_label(t.flags, t.seq, t.ack, t.data, isn_at(self.sent, mine, moment),
                                           isn_at(self.sent, theirs, moment))
        elif r.udp:
            t = r.udp
            relative = f"UDP length={t.length} data={len(t.data)} B" + (f" {t.data[:16]!r}" if t.data else "")
            real = f"{t.sport} > {t.dport}, checksum {t.checksum:#06x}"
        else:
            return r.summary, ""
        return (f"{t.sport}>{t.dport} {relative}" if ports else relative), f"({real})"

    def built_by(self, frame: Seen, source: str) -> tuple[str, list | None]:
        """Who built the frame, in words, and [the first of its headers that a TODO built,
        whose code that was, in short]."""
        data = frame.data
        for whole, inner, who, short in self.builders:
            if data.startswith(whole):
                return f"Built by {who}: every header below.", [0, short]
            if inner and data[14:].startswith(inner):
                return (f"Built by {who} from the IP header on; the lab put it in an Ethernet frame "
                        f"with the hosts' MAC addresses.", [1, short])
        return f"Not built by your code: {source}'s kernel, or the lab itself, put it on the wire.", None


def builders(result: Result) -> list[tuple[bytes, bytes, str, str]]:
    """(the frame's bytes, its IP packet's bytes, who built it, in short) for every frame
    a TODO returned: the student's, or the reference's standing in."""
    found = []
    for step in result.steps:
        for outcome in step.outcomes:
            value = outcome.value
            if not isinstance(value, Packet):
                continue
            if outcome.status == DONE:
                who, short = ((f"the reference solution's {outcome.todo}() (--solution)", "the reference solution")
                              if result.solution else (f"your {outcome.todo}()", "your code"))
            else:
                who, short = f"the reference's {outcome.todo}() (standing in for yours)", "the reference"
            found.append((bytes(value), bytes(value[IP]) if IP in value else b"", who, short))
    return found


def head_path(x: float, y: float, right: bool) -> str:
    return f'<path class="head" d="M{x} {y}l{-9 if right else 9}-5v10z"/>'


class Segment(NamedTuple):
    src: str
    sport: int
    dst: str
    dport: int
    flags: str   # scapy's letters: 'S', 'SA', 'PA'
    seq: int
    ack: int
    data: bytes


class Datagram(NamedTuple):
    src: str
    sport: int
    dst: str
    dport: int
    length: int
    checksum: int
    data: bytes


class Read(NamedTuple):
    """What the page needs of one frame: its headers, and its TCP or UDP numbers."""

    layers: str  # JSON: [[kind (SCHEMAS), first byte, end, [field values]], ...]
    summary: str = ""  # tcpdump's line, for a frame that is neither TCP nor UDP
    tcp: Segment | None = None
    udp: Datagram | None = None


def read(frame: Seen, bound: tuple[frozenset, frozenset]) -> Read:
    """The frame's headers: read directly for Ethernet / IPv4 / TCP or UDP, the bulk of
    every capture; by scapy for anything else (ARP, ICMP, IP options, rare TCP options,
    a port scapy reads an application protocol on)."""
    quick = read_quickly(frame.data, bound)
    if quick is not None:
        return quick
    packet = frame.packet
    layers = headers(packet)
    if IP in packet and TCP in packet and ICMP not in packet:
        tcp = packet[TCP]
        return Read(layers, tcp=Segment(packet[IP].src, tcp.sport, packet[IP].dst, tcp.dport, str(tcp.flags),
                                        tcp.seq, tcp.ack, payload(packet)))
    if IP in packet and UDP in packet and ICMP not in packet:
        udp = packet[UDP]
        return Read(layers, udp=Datagram(packet[IP].src, udp.sport, packet[IP].dst, udp.dport, udp.len,
                                         udp.chksum, payload(packet)))
    return Read(layers, summary(packet))


def headers(packet: Packet) -> str:
    """The frame's headers as scapy dissected it, as JSON (see layer_row)."""
    rows, layer, offset = [], packet, 0
    above_transport = False
    while isinstance(layer, Packet) and not isinstance(layer, NoPayload):
        name = type(layer).__name__
        if isinstance(layer, (Raw, Padding)):
            size = len(layer.load)
            fields = [("load", data_shown(layer.load))]
        else:
            size = len(layer.raw_packet_cache) if layer.raw_packet_cache is not None else len(layer.self_build())
            fields = [(f.name, f.i2repr(layer, layer.getfieldval(f.name)))
                      for f in layer.fields_desc if f.name in layer.fields]
        osi, model = LAYERS.get(name) or (APPLICATION if above_transport or isinstance(layer, Raw) else ("?", "?"))
        above_transport = above_transport or name in ("TCP", "UDP")
        kind = schema(name, LONG_NAMES.get(name, layer.name), osi, model, tuple(n for n, _ in fields))
        rows.append([kind, offset, offset + size, [value for _, value in fields]])
        offset += size
        layer = layer.payload
    return compact(rows)


# What every header of a kind shares (its names, layers and field names) is written
# once per page; each frame carries only [kind, first byte, end, [values]].
SCHEMAS: dict[tuple, int] = {}


def schema(name: str, long_name: str, osi: str, model: str, fields: tuple[str, ...]) -> int:
    return SCHEMAS.setdefault((name, long_name, osi, model, fields), len(SCHEMAS))


compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder for every call


def data_shown(data: bytes) -> str:
    return f"{len(data)} bytes {data[:64]!r}" + ("..." if len(data) > 64 else "")


# The quick reader: the common headers at fixed places, each value shown as scapy shows
# it (its own field's i2repr, cached, for enumerations and flags). tests/test_page.py
# holds it equal to scapy's dissection, field by field.
_FIELDS = {(cls.__name__, f.name): f for cls in (Ether, IP, TCP, UDP) for f in cls.fields_desc}
_SHOWN: dict[tuple[str, str, int], str] = {}
_SHOWN_JSON: dict[tuple[str, str, int], str] = {}
_ETHER: dict[bytes, str] = {}  # the Ethernet header's JSON, by its addresses
_OPTIONS = {1: "NOP", 2: "MSS", 3: "WScale", 4: "SAckOK", 5: "SAck", 8: "Timestamp"}


def shown_as(layer: str, field: str, value: int) -> str:
    key = (layer, field, value)
    text = _SHOWN.get(key)
    if text is None:
        scapy_field = _FIELDS[(layer, field)]
        text = _SHOWN[key] = scapy_field.i2repr(None, scapy_field.m2i(None, value))
    return text


def shown_json(layer: str, field: str, value: int) -> str:
    """shown_as, as a JSON string."""
    key = (layer, field, value)
    text = _SHOWN_JSON.get(key)
    if text is None:
        text = _SHOWN_JSON[key] = quoted(shown_as(layer, field, value))
    return text


def tcp_options(data: bytes) -> list | None:
    """The options as scapy lists them, or None for one this reader does not know."""
    options, at = [], 0
    while at < len(data):
        kind = data[at]
        if kind == 0:
            options.append(("EOL", None))
            if any(data[at + 1:]):
                return None
            break
        if kind == 1:
            options.append(("NOP", None))
            at += 1
            continue
        if kind not in _OPTIONS or at + 1 >= len(data) or data[at + 1] < 2:
            return None
        size = data[at + 1]
        body = data[at + 2:at + size]
        if len(body) != size - 2:
            return None
        if kind == 2 and size == 4:
            options.append(("MSS", int.from_bytes(body, "big")))
        elif kind == 3 and size == 3:
            options.append(("WScale", body[0]))
        elif kind == 4 and size == 2:
            options.append(("SAckOK", b""))
        elif kind == 8 and size == 10:
            options.append(("Timestamp", struct.unpack("!II", body)))
        elif kind == 5 and size > 2 and (size - 2) % 4 == 0:
            options.append(("SAck", struct.unpack(f"!{(size - 2) // 4}I", body)))
        else:
            return None
        at += size
    return options


QUICK = {name: schema(name.split()[0], long_name, osi, model, fields) for name, long_name, osi, model, fields in (
    ("Ether", "Ethernet", "2", "link", ("dst", "src", "type")),
    ("IP", "IP", "3", "internet", ("version", "ihl", "tos", "len", "id", "flags", "frag", "ttl", "proto",
                                   "chksum", "src", "dst", "options")),
    ("TCP", "TCP", "4", "transport", ("sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window",
                                      "chksum", "urgptr", "options")),
    # scapy stops reading fields where the bytes end: a bare 20-byte header has no options field
    ("TCP bare", "TCP", "4", "transport", ("sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window",
                                           "chksum", "urgptr")),
    ("UDP", "UDP", "4", "transport", ("sport", "dport", "len", "chksum")),
    ("Raw", "Payload", *APPLICATION, ("load",)),
    ("Padding", "Ethernet padding", *LAYERS["Padding"], ("load",)))}


def bound_ports() -> tuple[frozenset, frozenset]:
    """The TCP and UDP ports on which scapy, with the layers loaded now, reads the payload
    as a protocol of its own (DNS on 53 once scapy.layers.dns is imported): scapy's."""
    def ports(layer) -> frozenset:
        guesses = [fields for fields, _ in layer.payload_guess]
        if any(not fields or set(fields) - {"sport", "dport"} for fields in guesses):
            return frozenset(range(65536))  # bound by something else than a port: scapy reads all
        return frozenset(port for fields in guesses for port in fields.values())
    return ports(TCP), ports(UDP)


def read_quickly(data: bytes, bound: tuple[frozenset, frozenset] | None = None) -> Read | None:
    """Ethernet / IPv4 (no options) / TCP or UDP / payload, or None for anything else.

    Its headers' JSON is written here directly (the layout of `headers`), without a
    list per header: this runs for every frame of a capture."""
    tcp_ports, udp_ports = bound or bound_ports()
    if len(data) < 34 or data[12:14] != b"\x08\x00" or data[14] != 0x45:
        return None
    total, ident, fragment, ttl, proto, checksum = struct.unpack_from("!2xHHHBBH", data, 14)
    if fragment & 0x3FFF or total < 20 or 14 + total > len(data) or proto not in (6, 17):
        return None
    src, dst = socket.inet_ntoa(data[26:30]), socket.inet_ntoa(data[30:34])
    ether = _ETHER.get(data[:12])
    if ether is None:
        ether = _ETHER[data[:12]] = (f'[{QUICK["Ether"]},0,14,["{data[0:6].hex(":")}","{data[6:12].hex(":")}",'
                                     f'{shown_json("Ether", "type", 0x800)}]]')
    ip = (f'[{QUICK["IP"]},14,34,["4","5","{hex(data[15])}","{total}","{ident}",'
          f'{shown_json("IP", "flags", fragment >> 13)},"0","{ttl}",{shown_json("IP", "proto", proto)},'
          f'"{hex(checksum)}","{src}","{dst}","[]"]]')
    end = 14 + total
    if proto == 6:
        if total < 40:
            return None
        sport, dport, seq, ack, offset_flags, window, tcp_sum, urgent = struct.unpack_from("!HHIIHHHH", data, 34)
        if sport in tcp_ports or dport in tcp_ports:
            return None
        size = (offset_flags >> 12) * 4
        options = tcp_options(data[54:34 + size]) if size >= 20 and 34 + size <= end else None
        if options is None:
            return None
        flags = shown_as("TCP", "flags", offset_flags & 0x1FF)
        bare = size == 20 and end == 54
        transport = (f'[{QUICK["TCP bare" if bare else "TCP"]},34,{34 + size},[{shown_json("TCP", "sport", sport)},'
                     f'{shown_json("TCP", "dport", dport)},"{seq}","{ack}","{size // 4}","{(offset_flags >> 9) & 7}",'
                     f'{shown_json("TCP", "flags", offset_flags & 0x1FF)},"{window}","{hex(tcp_sum)}","{urgent}"'
                     f'{"" if bare else "," + quoted(repr(options))}]]')
    else:
        if total < 28:
            return None
        sport, dport, length, udp_sum = struct.unpack_from("!HHHH", data, 34)
        if sport in udp_ports or dport in udp_ports:
            return None
        size = 8
        transport = (f'[{QUICK["UDP"]},34,42,[{shown_json("UDP", "sport", sport)},'
                     f'{shown_json("UDP", "dport", dport)},"{length}","{hex(udp_sum)}"]]')
    body = data[34 + size:end]
    rows = f"[{ether},{ip},{transport}"
    if body:
        rows += f',[{QUICK["Raw"]},{34 + size},{end},[{quoted(data_shown(body))}]]'
    if end < len(data):
        rows += f',[{QUICK["Padding"]},{end},{len(data)},[{quoted(data_shown(data[end:]))}]]'
    rows += "]"
    if proto == 6:
        return Read(rows, tcp=Segment(src, sport, dst, dport, flags, seq, ack, body))
    return Read(rows, udp=Datagram(src, sport, dst, dport, length, udp_sum, body))
