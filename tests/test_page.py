"""The web page of a run, read as HTML without a browser: one arrow per frame of the
capture, the states, the lab's doings, the checks with their hints, whose code built
each frame, nothing fetched from elsewhere, nothing a student printed ever taken as
markup, well under 1 MB; and its quick header reader equal to scapy's, field by field."""
from __future__ import annotations

import base64
import html
import html.parser
import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from lab.capture import Frame, read_frames, sender_copies
from lab.definition import FAIL, NOT_DONE, PASS, CheckSpec, Lab, Verdict
from lab.exercise import DONE, TODO, Outcome
from lab.kinds import Frame as FrameKind
from lab.page import headers, page, read_quickly, write_page
from lab.report import segment_label
from lab.runner import Result, Step
from lab.wire import payload
import scapy.layers.dns  # noqa: F401  (binds DNS to port 53, as a lab may: the quick reader must step aside)

from conftest import lab as run_lab

HOSTS = {"h1": ("10.0.0.1", "02:00:00:00:00:01"), "h2": ("10.0.0.2", "02:00:00:00:00:02"),
         "h3": ("10.0.0.3", "02:00:00:00:00:03")}
PORT = {"h1": "s1-eth1", "h2": "s1-eth2", "h3": "s1-eth3"}
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base", "embed", "track"}


@dataclass
class Evidence:
    seen: int = 0


def segment(source: str, target: str, **fields) -> bytes:
    (sip, smac), (dip, dmac) = HOSTS[source], HOSTS[target]
    data = fields.pop("load", b"")
    return bytes(Ether(src=smac, dst=dmac) / IP(src=sip, dst=dip) / TCP(**fields) / data)


def copies(when: float, source: str, data: bytes, to: tuple[str, ...]) -> list[Frame]:
    """A frame as the switch's ports saw it: entering from its sender, leaving towards each receiver."""
    stamp = int(when * 1e9)
    return [Frame(when, PORT[source], data, stamp)] + [
        Frame(when + 0.00001, PORT[name], data, stamp + 10_000, outgoing=True) for name in to]


def made_up(printed: str = "", solution: bool = False, bulk: int = 0) -> Result:
    """A run of two steps and a frame outside them; the student's SYN built by their code."""
    syn = Ether(src=HOSTS["h1"][1], dst=HOSTS["h2"][1]) / IP(src="10.0.0.1", dst="10.0.0.2") / \
        TCP(sport=40000, dport=80, flags="S", seq=1000, options=[("MSS", 1460), ("SAckOK", b""), ("NOP", None)])
    frames = copies(1.0, "h1", bytes(Ether(src=HOSTS["h1"][1], dst="ff:ff:ff:ff:ff:ff")
                                      / ARP(psrc="10.0.0.1", pdst="10.0.0.2", hwsrc=HOSTS["h1"][1])), ("h2", "h3"))
    frames += copies(1.1, "h1", bytes(syn), ("h2",))
    frames += copies(1.2, "h2", segment("h2", "h1", sport=80, dport=40000, flags="SA", seq=5000, ack=1001), ("h1",))
    frames += copies(1.3, "h1", segment("h1", "h2", sport=40000, dport=80, flags="A", seq=1001, ack=5001), ("h2",))
    frames += copies(1.4, "h1", segment("h1", "h2", sport=40000, dport=80, flags="PA", seq=1001, ack=5001,
                                        load=b"<script>alert('wire')</script>"), ("h2",))
    frames += copies(1.7, "h2", bytes(Ether(src=HOSTS["h2"][1], dst=HOSTS["h1"][1]) / IP(src="10.0.0.2", dst="10.0.0.1")
                                      / UDP(sport=7, dport=7)), ("h1",))  # between the steps
    frames += copies(2.1, "h3", bytes(Ether(src=HOSTS["h3"][1], dst=HOSTS["h2"][1]) / IP(src="10.0.0.3", dst="10.0.0.2")
                                      / UDP(sport=5353, dport=9999) / b"hello"), ("h2",))
    frames += copies(2.2, "h2", bytes(Ether(src=HOSTS["h2"][1], dst=HOSTS["h3"][1])
                                      / IP(src="10.0.0.2", dst="10.0.0.3") / ICMP(type=3, code=3)
                                      / IP(src="10.0.0.3", dst="10.0.0.2") / UDP(sport=5353, dport=9999)), ("h3",))
    frames += copies(2.3, "h1", bytes(Ether(src=HOSTS["h1"][1], dst=HOSTS["h2"][1])
                                      / IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01\x01\x01\x00")
                                      / TCP(sport=40000, dport=80, flags="A", seq=1031, ack=5001)), ("h2",))
    for i in range(bulk):  # a long stream of data and its acknowledgements
        frames += copies(3.0 + i / 1e4, "h1", segment("h1", "h2", sport=40000, dport=80, flags="PA",
                                                      seq=1031 + 6 * i, ack=5001, load=b"%05d\n" % i,
                                                      options=[("NOP", None), ("NOP", None),
                                                               ("Timestamp", (3990673972 + i, 266264398))]),
                         ("h2",))
    frames += copies(9.0, "h3", bytes(Ether(src=HOSTS["h3"][1], dst=HOSTS["h1"][1])
                                      / IP(src="10.0.0.3", dst="10.0.0.1") / UDP(sport=1, dport=2)), ("h1",))
    handshake = Step("h1 opens a connection (your build_syn)", "A SYN, its answer, the ACK.", 0.9, 1.5,
                     ladder=("h1", "h2"))
    handshake.outcomes.append(Outcome("build_syn", Ether(bytes(syn)), DONE, printed=printed, replaced=False))
    handshake.states += [(1.25, "h2", "listener LISTEN, connection SYN_RECV"),
                         (1.15, "", "the lab holds back the SYN-ACK")]
    handshake.notes.append("h2 answered at once")
    others = Step("h3 tries a closed port", "", 2.0, 2.5 + bulk / 1e4 + 1, draw=bulk == 0)
    others.outcomes.append(Outcome("find_port", None, TODO, "TODO find_port() not done yet"))
    checks = (CheckSpec("syn", "build_syn", "h1's SYN opens the connection", lambda e, w: None),
              CheckSpec("port", "find_port", "the closed port is found", lambda e, w: None),
              CheckSpec("extra", "build_syn", "the ACK acknowledges the SYN-ACK", lambda e, w: None))
    lab = Lab(name="made-up", title="A made-up lab", topology="star", exercise="made_up",
              todos=("build_syn", "find_port"), checks=checks, intro="Three hosts <b>and</b> a switch.",
              scenario=lambda run: None, evidence=Evidence,
              returns={"build_syn": FrameKind(IP, TCP), "find_port": int})
    verdicts = [Verdict("syn", PASS, "answered by a SYN-ACK"),
                Verdict("port", NOT_DONE, "TODO find_port() not done yet", "write find_port()"),
                Verdict("extra", FAIL, "ack=5000, one short", "the ACK acknowledges the SYN's sequence number + 1")]
    return Result(lab, solution, [handshake, others], frames, verdicts, {}, Path("/tmp/made-up.pcapng"), 0.5,
                  {name: pair for name, pair in HOSTS.items()}, {}, 4242)


class Structure(html.parser.HTMLParser):
    """Every tag closed in order; the page's scripts and their sources counted."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.scripts = 0
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.sources += [value for name, value in attrs if name in ("src", "href") and value]
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.sources += [value for name, value in attrs if name in ("src", "href") and value]

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'} at {self.getpos()}")
        else:
            self.open.pop()


def parsed(text: str) -> Structure:
    structure = Structure()
    structure.feed(text)
    structure.close()
    return structure


def details(text: str) -> dict:
    blob = re.search(r'<script type="application/json" id="frames">(.*?)</script>', text, re.S).group(1)
    return json.loads(blob)


def arrows(text: str) -> list[str]:
    """Each arrow's text alternative, in page order."""
    return [html.unescape(label) for label in re.findall(r'<g class="frame"[^>]*aria-label="([^"]*)"', text)]


def test_one_arrow_per_frame_of_the_capture_each_with_its_words(tmp_path):
    result = made_up()
    text = page(result, tmp_path / "made-up.html")
    once = sender_copies(result.frames)
    assert len(arrows(text)) == len(once) == len(details(text)["frames"]) == 10
    spoken = arrows(text)
    assert "h1 to every host: ARP who has 10.0.0.2? tell 10.0.0.1" in spoken[0]
    assert spoken[1].endswith("h1 to h2: SYN seq=0 len=0") and "SYN,ACK seq=0 ack=1 len=0" in spoken[2]
    assert "h2 to h1: UDP length=8" in spoken[5]
    assert "ICMP" in spoken[7] and "h2 to h3" in spoken[7]
    assert "h3 to h1" in spoken[-1]  # outside every step, still drawn
    assert "1 frame on the wire after step 2" in text and "1 frame on the wire between steps 1 and 2" in text
    assert text.index("between steps 1 and 2") < text.index('id="step-2"')
    assert "(seq 1000)" in text  # the real numbers under the relative ones
    # columns: the ladder's hosts, then every host a frame of the step came from or went to
    first = text.split('id="step-1"')[1].split("</svg>")[0]
    assert re.findall(r'class="host"[^>]*>(\w+)<', first) == ["h1", "h2", "h3"]


def test_each_connection_to_one_server_port_counts_from_its_own_isns(tmp_path):
    """h2's port 80 answers h1 and h3, each with an ISN of its own: h1's segments after h3's
    handshake still count from the ISNs of h1's connection."""
    result = made_up()
    late = 1.35
    result.frames += copies(late, "h3", segment("h3", "h2", sport=41000, dport=80, flags="S", seq=77), ("h2",))
    result.frames += copies(late + 0.01, "h2", segment("h2", "h3", sport=80, dport=41000, flags="SA", seq=900_000,
                                                       ack=78), ("h3",))
    result.frames += copies(late + 0.08, "h2", segment("h2", "h1", sport=80, dport=40000, flags="PA", seq=5001,
                                                       ack=1031, load=b"ok"), ("h1",))
    spoken = arrows(page(result, tmp_path / "p.html"))
    assert any(label.endswith("h2 to h3: 80>41000 SYN,ACK seq=0 ack=1 len=0") for label in spoken), spoken
    assert any(label.endswith("h2 to h1: 80>40000 PSH,ACK seq=1 ack=31 len=2 b'ok'") for label in spoken), spoken


def test_states_events_notes_calls_and_checks_are_on_the_page(tmp_path):
    text = page(made_up(), tmp_path / "made-up.html")
    assert "listener LISTEN, connection SYN_RECV" in text
    assert "[the lab holds back the SYN-ACK]" in text
    assert "h2 answered at once" in text
    assert "build_syn(): your code" in text and "find_port(): REFERENCE ran, TODO not done yet" in text
    checks = text.split('id="checks"')[1]
    assert checks.index("h1's SYN opens the connection") < checks.index("the closed port is found")
    assert "ack=5000, one short" in checks and "the ACK acknowledges the SYN's sequence number + 1" in checks
    assert "write find_port()" in checks and "answered by a SYN-ACK" in checks
    assert "1 of 3 checks pass, 1 fail, 1 not done." in checks
    assert "--seed 4242" in text and "made-up.pcapng" in text
    assert "Three hosts &lt;b&gt;and&lt;/b&gt; a switch." in text


def test_the_page_is_well_formed_and_fetches_nothing(tmp_path):
    text = page(made_up(), tmp_path / "made-up.html")
    structure = parsed(text)
    assert not structure.problems and structure.open == []
    assert structure.scripts == 2  # the frames' JSON and the page's own script, both inline
    assert not re.search(r"https?://", text)
    assert structure.sources and all(not re.match(r"[a-z]+:", source) for source in structure.sources)
    assert "<link" not in text and " src=" not in text


def test_the_capture_is_linked_relative_to_the_page(tmp_path):
    result = made_up()
    result.capture = tmp_path / "made-up.pcapng"
    text = page(result, tmp_path / "made-up.html")
    assert '<a href="made-up.pcapng" download>made-up.pcapng</a>' in text


def test_what_a_student_prints_or_sends_is_never_markup(tmp_path):
    text = page(made_up(printed="<script>alert('printed')</script>\n</pre><b>bold</b>"), tmp_path / "p.html")
    assert "&lt;script&gt;alert('printed')&lt;/script&gt;" in text
    assert "&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;" in text
    assert "<script>alert" not in text and "<b>bold" not in text
    assert parsed(text).scripts == 2
    frames = details(text)["frames"]  # the frame's own bytes: in the JSON, escaped inside it
    assert any("alert('wire')" in json.dumps(frame["layers"]) for frame in frames)
    assert "</script>" not in text.split('id="frames">')[1].split("</script>")[0]


def test_whose_code_built_each_frame_and_each_headers_layers(tmp_path):
    data = details(page(made_up(), tmp_path / "made-up.html"))
    kinds = data["kinds"]
    syn, synack = data["frames"][1], data["frames"][2]
    assert data["who"][syn["by"]] == "Built by your build_syn(): every header below."
    assert syn["mine"] == [0, "your code"]
    assert synack["mine"] is None and data["who"][synack["by"]].startswith("Not built by your code: h2's kernel")
    layers = [kinds[row[0]][:4] for row in syn["layers"]]
    assert layers == [["Ether", "Ethernet", "2", "link"], ["IP", "IP", "3", "internet"],
                      ["TCP", "TCP", "4", "transport"]]
    arp = [kinds[row[0]][:4] for row in data["frames"][0]["layers"]]
    assert arp[1] == ["ARP", "ARP", "2-3", "link"]
    icmp = [kinds[row[0]][0:3] for row in data["frames"][7]["layers"]]
    assert icmp[:4] == [["Ether", "Ethernet", "2"], ["IP", "IP", "3"], ["ICMP", "ICMP", "3"],
                        ["IPerror", "IP in ICMP", "3"]]
    data_frame = data["frames"][4]["layers"]
    assert kinds[data_frame[-1][0]][:4] == ["Raw", "Payload", "5-7", "application"]
    assert data["frames"][0]["ports"] == ["s1-eth1", "s1-eth2", "s1-eth3"]  # the broadcast's ports
    assert base64.b64decode(data["frames"][1]["bytes"]) == bytes(made_up().steps[0].outcomes[0].value)
    # each header's bytes: one after the other, to the end of the frame
    for frame in data["frames"]:
        ends = [(row[1], row[2]) for row in frame["layers"]]
        assert ends[0][0] == 0 and ends[-1][1] == len(base64.b64decode(frame["bytes"]))
        assert all(a[1] == b[0] for a, b in zip(ends, ends[1:]))


def test_the_reference_standing_in_is_named_as_such(tmp_path):
    result = made_up(solution=True)
    data = details(page(result, tmp_path / "made-up.html"))
    assert data["frames"][1]["mine"] == [0, "the reference solution"]
    assert "reference solution" in data["who"][data["frames"][1]["by"]]


def test_hundreds_of_frames_stay_small(tmp_path):
    result = made_up(bulk=900)
    text = page(result, tmp_path / "big.html")
    assert len(arrows(text)) == len(sender_copies(result.frames)) == 910
    assert len(text.encode()) < 1_000_000
    assert "<details><summary>" in text  # a step the terminal only counts: folded, yet every arrow there


def test_written_whole_beside_the_capture_and_given_to_the_user_behind_sudo(tmp_path, monkeypatch):
    path = tmp_path / "out" / "made-up.html"
    if os.geteuid() == 0:
        monkeypatch.setenv("SUDO_UID", "4321")
        monkeypatch.setenv("SUDO_GID", "4322")
    write_page(made_up(), path)
    assert path.read_text().startswith("<!doctype html>")
    assert os.listdir(path.parent) == ["made-up.html"]  # no half-written file left
    if os.geteuid() == 0:
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)


def test_the_garbage_collector_is_as_it_was(tmp_path):
    import gc
    write_page(made_up(), tmp_path / "a.html")
    assert gc.isenabled()
    gc.disable()
    try:
        write_page(made_up(), tmp_path / "b.html")
        assert not gc.isenabled()
    finally:
        gc.enable()


def scapy_view(data: bytes) -> str:
    return headers(Ether(data))


@pytest.mark.parametrize("seed", range(40))
def test_the_quick_reader_shows_every_field_as_scapy_does(seed):
    rng = random.Random(seed)
    stamps = (rng.randrange(2**32), rng.randrange(2**32))
    options = [[], [("MSS", rng.randrange(500, 9000))], [("NOP", None), ("NOP", None), ("Timestamp", stamps)],
               [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 2)), ("NOP", None), ("WScale", rng.randrange(15))],
               [("SAck", (rng.randrange(2**32), rng.randrange(2**32)))]]
    ip = IP(src=f"10.{rng.randrange(256)}.0.1", dst=f"10.{rng.randrange(256)}.0.2", ttl=rng.randrange(1, 256),
            id=rng.randrange(65536), flags=rng.choice(["DF", 0]),
            tos=rng.randrange(256))
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 6, 100])))
    ether = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    for transport in (TCP(sport=rng.choice([80, 443, rng.randrange(65536)]), dport=rng.randrange(65536),
                          flags=rng.choice(["S", "SA", "A", "PA", "FA", "R", "RA", ""]), seq=rng.randrange(2**32),
                          ack=rng.randrange(2**32), window=rng.randrange(65536), options=rng.choice(options)),
                      UDP(sport=rng.choice([53, 6379, rng.randrange(65536)]), dport=rng.randrange(65536))):
        data = bytes(ether / ip / transport / payload)
        if len(data) < 60 and rng.random() < 0.5:
            data += b"\0" * (60 - len(data))  # the Ethernet padding a kernel adds
        quick = read_quickly(data)
        if 53 in (transport.sport, transport.dport):  # DNS, which scapy reads once imported (below)
            assert quick is None
        else:
            assert quick is not None and quick.layers == scapy_view(data), Ether(data).show(dump=True)


@pytest.mark.parametrize("load", [b"", b"x"])
@pytest.mark.parametrize("padding", [b"", b"\0" * 6])
@pytest.mark.parametrize("options", [[], [("NOP", None), ("EOL", None)]])
def test_the_quick_reader_stops_where_scapy_stops(load, padding, options):
    """scapy reads no options field from a bare 20-byte TCP header with nothing after it."""
    data = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(flags="R", options=options) / load) + padding
    assert read_quickly(data).layers == scapy_view(data)


def test_the_quick_reader_leaves_anything_else_to_scapy():
    ether = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    for packet in (ether / ARP(), ether / IP() / ICMP(), ether / IP(options=b"\x01\x01\x01\x00") / TCP(),
                   ether / IP(flags="MF") / UDP(), ether / IP(frag=10) / Raw(b"x" * 8),
                   ether / IP() / TCP(options=[("AltChkSum", (1, 2))])):
        assert read_quickly(bytes(packet)) is None, packet.summary()


@pytest.mark.parametrize("seed", range(10))
def test_arrow_words_are_the_terminals(seed):
    rng = random.Random(seed)
    mine, theirs = rng.randrange(2**32), rng.randrange(2**32)
    flags = rng.choice(["S", "SA", "A", "PA", "FA", "R", "RA"])
    load = rng.choice([b"", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"x"])
    data = segment("h1", "h2", sport=1, dport=2, flags=flags, seq=rng.randrange(2**32), ack=rng.randrange(2**32),
                   load=load)
    for isns in ((mine, theirs), (None, None), (mine, None)):
        t, packet = read_quickly(data).tcp, Ether(data)
        assert segment_label(t.flags, t.seq, t.ack, t.data, *isns) == \
            segment_label(str(packet[TCP].flags), packet[TCP].seq, packet[TCP].ack, payload(packet), *isns)


@pytest.mark.root
def test_a_real_run_of_the_largest_lab(tmp_path):
    pcap, page_path = tmp_path / "t.pcapng", tmp_path / "t.html"
    done = run_lab("run", "tcp-vs-udp", "--solution", "--pcap", str(pcap), "--html", str(page_path))
    assert done.returncode == 0, done.stderr
    assert f"Web page: {page_path}" in done.stdout
    text = page_path.read_text()
    frames = read_frames(pcap)
    assert len(arrows(text)) == len(frames) > 300
    assert page_path.stat().st_size < 1_000_000
    assert not parsed(text).problems
    for frame in frames:  # every frame the quick reader reads, it reads as scapy does
        quick = read_quickly(frame.data)
        assert quick is None or quick.layers == scapy_view(frame.data)
