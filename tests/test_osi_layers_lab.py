"""osi-layers end to end on the routed network: the reference passes and tshark agrees
with it (the request crosses s1 to r1's MAC and s2 from r1, TTL one less), typical
mistakes fail with the hint that names them, and answers that ignore their arguments
fail."""
from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT, graded

pytestmark = pytest.mark.root

REFERENCE = (ROOT / "solutions" / "osi_layers.py").read_text()


def attempt(tmp_path, code: str):
    path = tmp_path / "osi_layers.py"
    path.write_text(REFERENCE + "\n\n" + code)
    return path


def tshark(pcap, wanted: str, *fields: str, decode: str = "") -> str:
    """tshark's fields of the frames it finds wanted; the copy of a segment on s2 is no
    retransmission, and each frame is read by itself (both copies are in the file)."""
    options = ["-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"]
    options += ["-d", decode] if decode else []
    command = ["tshark", "-r", str(pcap), *options, "-Y", wanted, "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_reference_passes_and_tshark_sees_both_copies(tmp_path):
    pcap = tmp_path / "c.pcapng"
    code, document = graded("osi-layers", ROOT / "solutions" / "osi_layers.py", "--pcap", str(pcap))
    assert code == 0, document.get("error")
    hosts = document["hosts"]
    rows = tshark(pcap, "http.request", "frame.interface_name", "eth.src", "eth.dst", "ip.ttl", "ip.src",
                  "ip.dst", "http.request.method").split("\n")
    rows = sorted(row.split("\t") for row in rows if row)
    h1, h2, r1 = hosts["h1"], hosts["h2"], hosts["r1"]
    assert len(rows) == 2, rows
    (s1, src1, dst1, ttl1, *ends1), (s2, src2, dst2, ttl2, *ends2) = rows
    assert s1.startswith("s1-") and s2.startswith("s2-")
    assert (src1, dst1) == (h1["mac"], r1["mac"]) and dst2 == h2["mac"] and src2 != src1
    assert int(ttl2) == int(ttl1) - 1
    assert ends1 == ends2 == [h1["ip"], h2["ip"], "GET"]
    responses = tshark(pcap, "http.response", "http.response.code")
    assert responses.split() == ["200", "200"]  # once on s2 from h2, once on s1 from r1
    # The TLS step: two ClientHellos and two ServerHellos, each seen on s1 and on s2.
    notes = [note for step in document["steps"] for note in step.get("notes", [])]
    port = next(note for note in notes if note.startswith("h2's TLS server:")).rsplit(":", 1)[1].split("/")[0]
    hellos = tshark(pcap, "tls.handshake.type == 1 || tls.handshake.type == 2", "tls.handshake.type",
                    decode=f"tcp.port=={port},tls")
    assert sorted(hellos.split()) == ["1"] * 4 + ["2"] * 4
    assert any("session resumed" in note for note in notes), notes
    assert "frames of these connections holding 'GET ' in clear: 0" in notes
    checks = {c["id"]: c for c in document["checks"]}
    assert "right in 7 of 7 cases" in checks["layers"]["detail"]
    assert "right in 3 of 3 cases" in checks["router"]["detail"]


OTHER_STYLE = """
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw


def build_request(my_mac, gateway_mac, my_ip, server_ip, my_port, server_port, seq, ack, path):
    ether = Ether()
    ether.src, ether.dst = my_mac, gateway_mac
    ip = IP(dst=server_ip)
    ip.src = my_ip
    tcp = TCP(flags="AP")
    tcp.sport, tcp.dport, tcp.seq, tcp.ack = my_port, server_port, seq, ack
    lines = [f"GET {path} HTTP/1.1", "User-Agent: student", f"host:{server_ip}:{server_port}", "Accept: */*", "", ""]
    return ether / ip / tcp / Raw(load="\\r\\n".join(lines).encode())


def osi_layers(frame):
    numbers, layer = [], frame
    while layer:  # down the payload chain, by class
        if isinstance(layer, (Ether, Dot1Q)):
            numbers.append(2)
        elif isinstance(layer, (IP, IPv6, ICMP)):
            numbers.append(3)
        elif isinstance(layer, (TCP, UDP)):
            numbers.append(4)
        else:
            numbers.append(7)
        layer = layer.payload
    return numbers


def changed_fields(fields):
    mac = {f for f in fields if f.split(".")[0] == "Ether" and f.split(".")[-1] in ("src", "dst")}
    return sorted(mac | (set(fields) & {"IP.chksum", "IP.ttl"}))
"""


def test_another_style_passes(tmp_path):
    """Fields set one by one, a lowercase host: with no blank, more headers; layers by
    class down the payload chain; the changes as a sorted set. No seed: each run draws."""
    path = tmp_path / "osi_layers.py"
    path.write_text(OTHER_STYLE)
    code, document = graded("osi-layers", path)
    assert code == 0, [c for c in document["checks"] if c["status"] != "pass"] or document.get("error")


REQUEST = """
def build_request(my_mac, gateway_mac, my_ip, server_ip, my_port, server_port, seq, ack, path):
    return Ether(src=my_mac, dst={dst}) / IP(src=my_ip, dst=server_ip) / \\
        TCP(sport=my_port, dport=server_port, flags={flags!r}, seq=seq, ack=ack) / {text}
"""
RIGHT_TEXT = 'f"GET {path} HTTP/1.1\\r\\nHost: {server_ip}:{server_port}\\r\\n\\r\\n".encode()'


@pytest.mark.parametrize("dst, flags, text, hint", [
    ("'ff:ff:ff:ff:ff:ff'", "PA", RIGHT_TEXT, "gateway r1's MAC"),
    ("gateway_mac", "P", RIGHT_TEXT, "carries ACK"),
    ("gateway_mac", "PA", 'f"GET {path} HTTP/1.1\\r\\nHost: {server_ip}:{server_port}\\r\\n".encode()',
     "empty line"),
    ("gateway_mac", "PA", 'f"GET {path} HTTP/1.1\\r\\n\\r\\n".encode()', "Host: header"),
    ("gateway_mac", "PA", 'f"GET {path} HTTP/1.1\\nHost: {server_ip}:{server_port}\\n\\n".encode()', "CR LF"),
    ("gateway_mac", "PA", 'f"GET / HTTP/1.1\\r\\nHost: {server_ip}:{server_port}\\r\\n\\r\\n".encode()',
     "ask for the path"),
])
def test_a_wrong_request_fails_with_its_hint_and_the_lab_goes_on(tmp_path, dst, flags, text, hint):
    code, document = graded("osi-layers", attempt(tmp_path, REQUEST.format(dst=dst, flags=flags, text=text)))
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and checks["request"]["status"] == "fail", checks["request"]
    assert hint in checks["request"]["hint"], checks["request"]
    # The reference's request went out on a new connection: the later checks still pass.
    assert checks["layers"]["status"] == checks["router"]["status"] == "pass"


@pytest.mark.parametrize("code, check, hint", [
    ("def osi_layers(frame):\n    return [{'IP': 4}.get(l.__name__, LAYER.get(l.__name__, 7)) for l in frame.layers()]",
     "layers", "network layer, 3"),
    ("def osi_layers(frame):\n    return [{'Raw': 5}.get(l.__name__, LAYER.get(l.__name__, 7)) for l in frame.layers()]",
     "layers", "count it as 7"),
    ("def osi_layers(frame):\n    return [2, 3, 4, 7]", "layers", "same answer whatever its arguments"),
    ("def changed_fields(fields):\n    return [f for f in fields if f in ('Ether.src', 'Ether.dst', 'IP.chksum')]",
     "router", "TTL predicted unchanged"),
    ("def changed_fields(fields):\n    return [f for f in fields if f in ROUTER_CHANGES or f == 'IP.src']",
     "router", "no NAT"),
    ("def changed_fields(fields):\n    return ['Ether.src', 'Ether.dst', 'IP.ttl', 'IP.chksum']",
     "router", "was not asked about"),
])
def test_a_wrong_mapping_or_prediction_fails_with_its_hint(tmp_path, code, check, hint):
    exit_code, document = graded("osi-layers", attempt(tmp_path, code))
    checks = {c["id"]: c for c in document["checks"]}
    assert exit_code == 1 and checks[check]["status"] == "fail", checks[check]
    assert hint in checks[check]["hint"], checks[check]
    assert checks["request"]["status"] == "pass"
