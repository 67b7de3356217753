"""udp-basic on a real network: the reference passes and tshark reads the same capture
(length fields, good checksums, one datagram each way, the port unreachable quoting the
student's datagram, no TCP), at addresses and ports the run drew (the same again with
the same seed); the untouched exercise is not done; typical mistakes fail
with their hint while the other checks pass; a datagram h2 answers wrongly is replaced
by the reference's, and the report says what h2 answered; h1's kernel never sends a
port unreachable; and a run leaves nothing behind."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, host_state, lab

pytestmark = pytest.mark.root

REFERENCE = ROOT / "solutions" / "udp_basic.py"
FIELDS = ("frame.interface_name", "ip.src", "ip.dst", "ip.proto", "udp.srcport", "udp.dstport",
          "udp.length", "udp.checksum.status", "icmp.type", "icmp.code", "data.len")
H1_PORT = "s1-eth1"  # every frame between h1 and h2 crosses both switch ports: count it once, here


def check_json(*args: str) -> tuple[int, dict]:
    result = lab("check", "udp-basic", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def attempt(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "attempt.py"
    path.write_text(REFERENCE.read_text() + "\n\n" + code)
    return path


def tshark(pcap: Path) -> list[dict]:
    """One row per frame (the capture holds each once, as it entered the switch); a
    field of an ICMP error holds the outer value, then the quoted datagram's,
    comma-separated."""
    command = ["tshark", "-r", str(pcap), "-o", "udp.check_checksum:TRUE", "-T", "fields"]
    for name in FIELDS:
        command += ["-e", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def h1_port_unreachables(rows: list[dict], h1: str) -> list[dict]:
    return [r for r in rows if r["ip.src"].startswith(h1 + ",") and r["icmp.type"] == "3"]


def addresses(document: dict) -> tuple[str, str]:
    return document["hosts"]["h1"]["ip"], document["hosts"]["h2"]["ip"]


def test_reference_passes_and_tshark_agrees(tmp_path):
    pcap = tmp_path / "ref.pcapng"
    code, document = check_json("--solution", "--pcap", str(pcap))
    assert code == 0 and {c["status"] for c in document["checks"]} == {"pass"}
    h1, h2 = addresses(document)
    rows = tshark(pcap)
    assert not [r for r in rows if r["ip.proto"] == "6"], "no TCP at all: no handshake, no teardown"
    datagrams = [r for r in rows if r["ip.proto"] == "17"]
    sent = [r for r in datagrams if r["ip.src"] == h1]
    echoes = [r for r in datagrams if r["ip.src"] == h2]
    assert len(sent) == 2 and len(echoes) == 1, "one datagram each way for the echo, one to the unbound port"
    to_echo, probe = sent
    client, echo_port, closed = to_echo["udp.srcport"], to_echo["udp.dstport"], probe["udp.dstport"]
    assert (echoes[0]["udp.srcport"], echoes[0]["udp.dstport"]) == (echo_port, client)
    assert probe["udp.srcport"] == client and len({echo_port, closed, client}) == 3
    data = int(to_echo["data.len"])
    for row in (to_echo, echoes[0]):
        assert row["data.len"] == str(data), "the echo carries what h1 sent"
        assert row["udp.length"] == str(8 + data) and row["udp.checksum.status"] == "1", row  # 1: good
    assert probe["udp.checksum.status"] == "1"
    # h2's ICMP port unreachable, quoting the student's datagram to the unbound port
    errors = [r for r in rows if r["icmp.type"] == "3" and r["icmp.code"] == "3"]
    assert len(errors) == 1
    error = errors[0]
    assert error["ip.src"] == f"{h2},{h1}" and error["ip.dst"] == f"{h1},{h2}"
    assert (error["udp.srcport"], error["udp.dstport"], error["udp.length"]) == (client, closed, probe["udp.length"])
    assert [r["icmp.code"] for r in rows if r["ip.proto"] == "1,253"] == ["2"]  # protocol unreachable
    assert h1_port_unreachables(rows, h1) == [], "h1's kernel sent a port unreachable: the guard failed"
    # the report says what tshark says
    summaries = [f["summary"] for f in document["frames"]]
    assert f"IP {h2} > {h1}: ICMP {h2} udp port {closed} unreachable" in summaries
    assert f"IP {h1}.{client} > {h2}.{echo_port}: UDP, length {data}" in summaries
    assert f"IP {h2}.{echo_port} > {h1}.{client}: UDP, length {data}" in summaries
    states = [s["state"] for step in document["steps"] for s in step["states"] if s["host"] == "h2"]
    assert states[0] == f"UNCONNECTED {h2}:{echo_port}" and states[-1] == f"no UDP socket on port {echo_port}"
    notes = {step["title"].split(" (your ")[0]: step["notes"] for step in document["steps"]}
    assert [n for n in notes["h1 reads the echo"] if "right in 5 of 5 cases, 4 made by the lab" in n]
    assert [n.endswith("(right)") for n in notes["Which of these is a port unreachable?"]] == [True] * 9


def test_the_seed_replays_a_run_and_another_seed_draws_other_values(tmp_path):
    def drawn(seed: str) -> tuple:
        _, document = check_json("--solution", "--seed", seed, "--pcap", str(tmp_path / f"{seed}.pcapng"))
        rows = [r for r in tshark(tmp_path / f"{seed}.pcapng") if r["ip.proto"] == "17"]
        return addresses(document), [(r["udp.srcport"], r["udp.dstport"], r["data.len"]) for r in rows]
    first = drawn("11")
    assert drawn("11") == first and drawn("12") != first


def test_untouched_exercise_is_not_done(tmp_path):
    code, document = check_json("--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and {c["status"] for c in document["checks"]} == {"not done"}
    assert lab("run", "udp-basic", "--pcap", str(tmp_path / "r.pcapng")).returncode == 0


MISTAKES = [
    ("wrong-port", """
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / UDP(sport=peer_port, dport=my_port) / data
""", "datagram", "the ports are swapped"),
    ("fixed-port", """
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / UDP(sport=my_port, dport=7000) / data
""", "datagram", "this time the lab asked for peer_port="),
    ("no-udp-layer", """
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / data
""", "datagram", "IP(...) / UDP(...)"),  # the engine checks the kind
    ("unroutable-source", """
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src="192.0.2.1", dst=peer_ip) / UDP(sport=my_port, dport=peer_port) / data
""", "datagram", "h2 answers to the address the datagram came from"),  # h2's sendto() fails: no route
    ("bad-checksum", """
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / UDP(sport=my_port, dport=peer_port, chksum=0x1234) / data
""", "datagram", "h2's kernel silently drops a datagram whose checksum is wrong"),
    ("length-without-header", """
def udp_length(data):
    return len(data)
""", "length", "the UDP length counts its own 8-byte header too"),
    ("echo-with-header", """
def parse_echo(reply):
    return bytes(reply[UDP])
""", "echo", "that still has the UDP header's 8 bytes in front"),
    ("only-type-3", """
def is_port_unreachable(packet):
    return ICMP in packet and packet[ICMP].type == 3
""", "unreachable", "the code says what was unreachable"),
    ("only-code-3", """
def is_port_unreachable(packet):
    return ICMP in packet and packet[ICMP].code == 3
""", "unreachable", "type 5 code 3 is a redirect"),
    ("haslayer-gives-0", """
def is_port_unreachable(packet):
    return packet.haslayer(ICMP) and packet[ICMP].type == 3 and packet[ICMP].code == 3
""", "unreachable", "packet.haslayer(ICMP) answers 0, not False"),
]


@pytest.mark.parametrize("code, check, hint", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_typical_mistakes_fail_with_their_hint(tmp_path, code, check, hint):
    pcap = tmp_path / "c.pcapng"
    status, document = check_json("--exercise", str(attempt(tmp_path, code)), "--pcap", str(pcap))
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1
    assert checks[check]["status"] == "fail" and hint in checks[check]["hint"], checks[check]
    # only the mistaken part fails: the lab carried on with the reference's datagram
    assert [c["status"] for c in checks.values() if c["id"] != check] == ["pass"] * (len(checks) - 1)
    assert h1_port_unreachables(tshark(pcap), addresses(document)[0]) == []


def test_a_refused_datagram_is_replaced_by_the_references_and_the_report_says_why(tmp_path):
    code = """
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / UDP(sport=my_port + 1, dport=peer_port) / data
"""
    status, document = check_json("--exercise", str(attempt(tmp_path, code)), "--pcap", str(tmp_path / "c.pcapng"))
    h1, h2 = addresses(document)
    notes = {step["title"].split(" (your ")[0]: step["notes"] for step in document["steps"]}
    echoed = [n for n in notes["h1 sends one datagram; h2's server echoes it"] if "instead" in n]
    assert len(echoed) == 1 and echoed[0].startswith(f"h2 answered: IP {h2}.")
    assert "UDP, length" in echoed[0] and "the lab sends the reference's build_datagram() instead" in echoed[0]
    # h2's server read the student's datagram, then the reference's (from my_port), not one twice
    events = [s["state"] for step in document["steps"] for s in step["states"] if not s["host"]]
    reads = [e for e in events if "recvfrom() ->" in e]
    assert len(reads) == 2 and all(f"('{h1}', " in e for e in reads)
    assert sender_port(reads[0]) == sender_port(reads[1]) + 1
    assert status == 1 and document["checks"][0]["status"] == "fail"


def sender_port(event: str) -> int:
    """The port in "h2's server: recvfrom() -> b'...', ('10.0.0.1', 51234)"."""
    return int(event.rstrip(")").rsplit(", ", 1)[1])


def test_raising_on_a_packet_without_icmp_is_reported(tmp_path):
    code = "def is_port_unreachable(packet):\n    return packet[ICMP].type == 3 and packet[ICMP].code == 3\n"
    status, document = check_json("--exercise", str(attempt(tmp_path, code)),
                                  "--pcap", str(tmp_path / "c.pcapng"))
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1 and checks["unreachable"]["status"] == "fail"
    assert "IndexError" in checks["unreachable"]["detail"] and "of 9 cases" in checks["unreachable"]["detail"]
    assert "check ICMP in packet first" in checks["unreachable"]["hint"]


def test_run_leaves_nothing_behind(tmp_path):
    before = host_state()
    assert lab("run", "udp-basic", "--solution", "--pcap", str(tmp_path / "c.pcapng")).returncode == 0
    assert host_state() == before
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "inet lab" not in tables
