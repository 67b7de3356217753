"""The ladder of three hosts or more, drawn from made-up frames: each arrow leaves its
sender's column and ends with its head at the receiver's, its label under it; a
router's two hops are two arrows; states stand beside their host's column; frames
with an end outside the ladder are lines of their own; nothing passes the width."""
from __future__ import annotations

import io
import random
import re
import subprocess
from types import SimpleNamespace

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from lab.capture import Frame
from lab.report import LADDER_MARGIN, Style, render_ladder
from lab.runner import Step
from lab.wire import Wire

from conftest import lab

NAMES = ("h1", "lb", "web1", "web2", "db")


def tiers(rng: random.Random):
    """Made-up hosts: name -> (ip, mac), each with addresses drawn for this test."""
    octets = rng.sample(range(2, 250), len(NAMES) + 1)
    return {name: (f"10.{rng.randrange(256)}.0.{o}", "02:00:00:00:%02x:%02x" % (rng.randrange(256), o))
            for name, o in zip(NAMES, octets)}, "02:00:00:00:ff:%02x" % octets[-1]


def frame(hosts, when: float, source: str, target: str, **tcp) -> Frame:
    (sip, smac), (dip, dmac) = hosts[source], hosts[target]
    packet = Ether(src=smac, dst=dmac) / IP(src=sip, dst=dip) / TCP(**tcp)
    return Frame(when, f"s1-eth{NAMES.index(source) + 1}", bytes(packet))


def drawn(step: Step, frames, hosts, columns=80, macs=None) -> list[str]:
    result = SimpleNamespace(hosts=hosts, macs=macs or {}, started=0.0)
    out = io.StringIO()
    render_ladder(step, Wire(frames), result, Style(out), lambda line="": print(line, file=out), columns)
    return out.getvalue().splitlines()


def columns_of(lines: list[str]) -> dict[str, int]:
    """Each host's column: the lifelines of a row that shows them all, each under its
    host's name in the heading."""
    names = lines[0].split()
    row = next(line for line in lines if line.count("|") == len(names))
    bars = [x for x, c in enumerate(row) if c == "|"]
    for name, x in zip(names, bars):
        assert lines[0].index(name) <= x < lines[0].index(name) + len(name), (name, lines[0], row)
    return dict(zip(names, bars))


@pytest.mark.parametrize("seed", range(5))
def test_each_arrow_runs_from_its_senders_column_to_its_receivers(seed):
    rng = random.Random(seed)
    hosts, _ = tiers(rng)
    hops = [("h1", "lb"), ("lb", "web2"), ("web2", "db"), ("db", "web2"), ("web2", "lb"), ("lb", "h1"),
            ("lb", "web1"), ("web1", "lb")]
    rng.shuffle(hops)
    frames = [frame(hosts, 1.0 + i / 100, a, b, sport=rng.randrange(1024, 65535), dport=80, flags="S",
                    seq=rng.randrange(2**32)) for i, (a, b) in enumerate(hops)]
    lines = drawn(Step("t", "", 0.5, 2.0, ladder=NAMES), frames, hosts)
    place = columns_of(lines)
    assert list(place) == list(NAMES)
    arrows = [line for line in lines[1:] if " ms " in line]
    assert len(arrows) == len(hops)
    for (source, target), line in zip(hops, arrows):
        low, high = sorted((place[source], place[target]))
        assert line[low] == "|" and line[high] == "|", (source, target, line)
        shaft = line[low + 1:high]
        if place[target] > place[source]:
            assert shaft == "-" * (len(shaft) - 1) + ">", line
        else:
            assert shaft == "<" + "-" * (len(shaft) - 1), line
        assert all(line[x] == "|" for x in place.values() if not low < x < high), line  # others' lifelines
        label = lines[lines.index(line) + 1]
        assert "SYN seq=0 len=0" in label and re.search(r"\d+>80 SYN", label), label
    assert all(len(line) <= 80 for line in lines)


def test_a_router_between_two_links_draws_each_hop_by_its_macs():
    hosts = {"h1": ("10.0.1.7", "02:00:00:00:01:07"), "r1": ("10.0.1.1", "02:00:00:00:01:01"),
             "h2": ("10.0.2.9", "02:00:00:00:02:09")}
    far = "02:00:00:00:02:01"  # r1's other interface
    to_r1 = Ether(src="02:00:00:00:01:07", dst="02:00:00:00:01:01") / IP(src="10.0.1.7", dst="10.0.2.9", ttl=64) \
        / TCP(sport=40000, dport=8080, flags="S", seq=7)
    on = Ether(src=far, dst="02:00:00:00:02:09") / IP(src="10.0.1.7", dst="10.0.2.9", ttl=63) \
        / TCP(sport=40000, dport=8080, flags="S", seq=7)
    frames = [Frame(1.0, "s1-eth1", bytes(to_r1)), Frame(1.001, "s2-eth1", bytes(on))]
    lines = drawn(Step("t", "", 0.5, 2.0, ladder=("h1", "r1", "h2")), frames, hosts, macs={far: "r1"})
    arrows = [line for line in lines if " ms " in line]
    place = columns_of(lines)
    assert len(arrows) == 2, lines
    first, second = (line.rstrip() for line in arrows)
    assert first.index(">") == place["r1"] - 1 and first.count("-") > 3 and first[place["h2"]] == "|"
    assert second.index(">") == place["h2"] - 1 and second[place["h1"] + 1] == " "
    # without r1's second MAC the hop across s2 has an end outside the ladder: a line of its own
    lines = drawn(Step("t", "", 0.5, 2.0, ladder=("h1", "r1", "h2")), frames, hosts)
    assert len([line for line in lines if ">" in line and "-" * 3 in line]) == 1
    assert any(line.lstrip().startswith(f"{1000.999:8.3f} ms (") or "(Ether" in line or "(IP" in line
               for line in lines if " ms " in line and "-" * 3 not in line), lines


def test_states_stand_beside_their_hosts_column_and_other_frames_are_lines_of_their_own():
    hosts, stranger = tiers(random.Random(7))
    step = Step("t", "", 0.5, 2.0, ladder=NAMES)
    step.states += [(1.5, "web2", "ESTABLISHED"), (1.6, "db", "LISTEN"), (1.7, "h1", "x" * 70),
                    (1.8, "", "the lab stops web1")]
    arp = Ether(src=hosts["h1"][1], dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=hosts["h1"][0], pdst=hosts["lb"][0])
    outsider = Ether(src=stranger, dst=hosts["lb"][1]) / IP(src="10.9.9.9", dst=hosts["lb"][0]) / UDP(dport=53)
    ping = Ether(src=hosts["h1"][1], dst=hosts["lb"][1]) / IP(src=hosts["h1"][0], dst=hosts["lb"][0]) / ICMP()
    frames = [Frame(1.0, "s1-eth1", bytes(arp)), Frame(1.1, "s1-eth9", bytes(outsider)),
              Frame(1.2, "s1-eth1", bytes(ping))]
    lines = drawn(step, frames, hosts)
    place = columns_of(lines)
    web2 = next(line for line in lines if "ESTABLISHED" in line)
    assert web2.index("ESTABLISHED") == place["web2"] + 2 and web2[place["h1"]] == "|"
    db = next(line for line in lines if "LISTEN" in line)  # no room right of the last column: left of it
    assert db.index("LISTEN") + len("LISTEN") == place["db"] - 1 and db.rstrip().endswith("|")
    assert any(line.strip().startswith("h1: xxx") for line in lines)  # too long for a column: a line
    assert any(line.strip() == "[the lab stops web1]" for line in lines)
    assert not any("-" * 3 in line for line in lines)  # no frame here is a segment between two columns
    assert sum("ARP" in line for line in lines) == 1 and sum("10.9.9.9" in line for line in lines) == 1
    assert sum("ICMP" in line or "echo-request" in line for line in lines) == 1
    assert all(len(line) <= 80 for line in lines)


def test_two_hosts_keep_the_edge_to_edge_ladder():
    hosts, _ = tiers(random.Random(3))
    frames = [frame(hosts, 1.0, "h1", "lb", sport=40000, dport=80, flags="S", seq=5),
              frame(hosts, 1.1, "lb", "h1", sport=80, dport=40000, flags="SA", seq=9, ack=6)]
    lines = drawn(Step("t", "", 0.5, 2.0, ladder=("h1", "lb")), frames, hosts)
    assert lines[0] == " " * LADDER_MARGIN + "h1" + " " * 61 + "lb"
    syn, synack = (line for line in lines if " ms " in line)
    assert syn.endswith(">") and syn[LADDER_MARGIN:].startswith("--- SYN seq=0 len=0 ")
    assert synack[LADDER_MARGIN:].startswith("<--- SYN,ACK seq=0 ack=1 len=0 ")
    assert len(syn) == len(synack) == 80


def hosts_table(text: str) -> dict[str, str]:
    """MAC -> host name, from the table at the top of a report."""
    rows = re.findall(r"^  (\w+) +[\d.]+ +([0-9a-f:]{17})$", text, re.M)
    return {mac: name for name, mac in rows}


def report_hops(text: str, number: int) -> list[tuple[str, str, str]]:
    """(from, to, label) of each arrow in step number's ladder: the shaft's ends are the
    two hosts' columns, its head says which way."""
    lines = text.split(f"\n{number}. ", 1)[1].split(f"\n{number + 1}. ", 1)[0].splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith(" " * LADDER_MARGIN + "h1 ")):]
    host_at = {x: name for name, x in columns_of(lines).items()}
    hops = []
    for i, line in enumerate(lines):
        if " ms |" in line:
            shaft = re.search(r"[-<>]{3,}", line)
            low, high = host_at[shaft.start() - 1], host_at[shaft.end()]
            hops.append((low, high, lines[i + 1]) if shaft.group().endswith(">") else (high, low, lines[i + 1]))
    return hops


def tshark_hops(pcap, names: dict[str, str], ports: set[int]) -> list[tuple[str, str, int, int]]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp", "-T", "fields", "-e", "eth.src", "-e", "eth.dst",
                          "-e", "tcp.srcport", "-e", "tcp.dstport"], capture_output=True, text=True, check=True)
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    return [(names[src], names[dst], int(sport), int(dport)) for src, dst, sport, dport in rows
            if {int(sport), int(dport)} & ports]


@pytest.mark.root
def test_the_three_tiers_ladder_draws_what_tshark_reads_hop_by_hop(tmp_path):
    pcap = tmp_path / "c.pcapng"
    text = lab("run", "browser-server", "--solution", "--pcap", str(pcap), env_columns="80").stdout
    drawn = [(a, b, *map(int, re.search(r"(\d+)>(\d+) ", label).groups())) for a, b, label in report_hops(text, 2)]
    ephemeral = {port for _, _, sport, dport in drawn for port in (sport, dport) if port >= 32768}
    assert sorted(drawn) == sorted(tshark_hops(pcap, hosts_table(text), ephemeral))
    web = next(b for a, b, *_ in drawn if a == "lb" and b != "h1")
    assert {frozenset(hop[:2]) for hop in drawn} == {frozenset(pair) for pair in
                                                   (("h1", "lb"), ("lb", web), (web, "db"))}
    assert all(len(line) <= 80 for line in text.split("\n2. ")[1].split("\nChecks")[0].splitlines())


@pytest.mark.root
def test_a_routers_two_hops_are_two_arrows_as_tshark_sees_them(tmp_path):
    pcap = tmp_path / "c.pcapng"
    text = lab("run", "osi-layers", "--solution", "--pcap", str(pcap), env_columns="80").stdout
    hops = report_hops(text, 2) + report_hops(text, 3)
    assert [hop[:2] for hop in hops[:4]] == [("h1", "r1"), ("r1", "h2"), ("h2", "r1"), ("r1", "h1")]
    server = int(re.search(r"h2's server: http://[\d.]+:(\d+)/", text).group(1))
    ttls = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp.port == {server}", "-T", "fields",
                           "-e", "ip.ttl"], capture_output=True, text=True, check=True).stdout.split()
    assert len(ttls) == len(hops)  # each segment once on each side of r1, none more
    assert int(ttls[1]) == int(ttls[0]) - 1  # r1's hop is a new frame, the TTL one less
    marked = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp.port == {server} && tcp.analysis.flags",
                             "-T", "fields", "-e", "ip.ttl"], capture_output=True, text=True, check=True).stdout
    assert set(marked.split()) == {ttls[1]}  # what Wireshark marks, as the report says, is r1's copies only
    assert "None was sent twice: r1 forwarded each one once." in " ".join(text.split())


@pytest.mark.parametrize("ladder", [("h1",), ("h1", "h9"), ("h1", "h2", "r7")])
def test_a_ladder_names_two_or_more_of_the_hosts(ladder):
    from lab.runner import Run
    run = SimpleNamespace(hosts={"h1": None, "h2": None, "r1": None}, steps=[])
    with pytest.raises(ValueError, match=r"name two or more of the hosts h1, h2, r1"):
        with Run.step(run, "t", ladder=ladder):
            pass
    assert run.steps == []


def test_a_servers_one_port_counts_each_connection_from_its_own_isn():
    hosts, _ = tiers(random.Random(11))
    rng = random.Random(12)
    a, b, x, y = (rng.randrange(2**32) for _ in range(4))
    frames = [frame(hosts, 1.0, "h1", "lb", sport=41000, dport=80, flags="S", seq=a),
              frame(hosts, 1.1, "web1", "lb", sport=42000, dport=80, flags="S", seq=b),
              frame(hosts, 1.2, "lb", "h1", sport=80, dport=41000, flags="SA", seq=x, ack=a + 1),
              frame(hosts, 1.3, "lb", "web1", sport=80, dport=42000, flags="SA", seq=y, ack=b + 1),
              frame(hosts, 1.4, "lb", "h1", sport=80, dport=41000, flags="PA", seq=x + 1, ack=a + 1),
              frame(hosts, 1.5, "web1", "lb", sport=42000, dport=80, flags="A", seq=b + 1, ack=y + 1)]
    lines = drawn(Step("t", "", 0.5, 2.0, ladder=("h1", "lb", "web1")), frames, hosts)
    labels = [lines[i + 1] for i, line in enumerate(lines) if " ms |" in line]
    assert "80>41000 PSH,ACK seq=1 ack=1 len=0" in labels[4], labels[4]
    assert "42000>80 ACK seq=1 ack=1 len=0" in labels[5], labels[5]
