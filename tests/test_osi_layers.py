"""osi-layers without a network: the routed topology and how vary() moves its router's
two addresses and the hosts' gateways together; each check's verdict on the right
answer and on each typical wrong one; the made-up frames and field lists over many
seeds."""
from __future__ import annotations

import ipaddress
import random

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab import topology
from lab.capture import Frame
from lab.exchange import Sent
from lab.exercise import DONE
from lab.labs._osi_layers_cases import (ALWAYS_ASKED, FIELDS, changed, draw_fields, made_up_frames,
                                        quiet_fields)
from lab.labs._osi_layers_grading import grade_changes, grade_layers, grade_request
from lab.labs.osi_layers import Evidence
from lab.wire import Wire

H1, R1 = ("10.9.1.7", "02:00:00:00:00:01"), ("10.9.1.200", "02:00:00:00:00:fe")
H2 = ("10.9.2.7", "02:00:00:00:00:02")
R1_FAR = "02:00:00:00:01:fe"
PORTS, SEQ, ACK, PAGE = (40000, 8080), 1000, 5000, "/index.html"


# --- the topology ---

@pytest.mark.parametrize("seed", range(30))
def test_vary_moves_the_router_and_the_gateways_with_the_hosts(seed):
    topo = topology.load("routed")
    topology.vary(topo, random.Random(seed))
    info = {name: topo.nodeInfo(name) for name in topo.hosts()}
    links = {(a, b): i for a, b, _, i in topo.links(withKeys=True, withInfo=True)}
    r1_near = ipaddress.ip_interface(links[("r1", "s1")]["params1"]["ip"])
    r1_far = ipaddress.ip_interface(links[("r1", "s2")]["params1"]["ip"])
    h1, h2 = (ipaddress.ip_interface(info[h]["ip"]) for h in ("h1", "h2"))
    assert str(r1_near) == info["r1"]["ip"]
    assert h1.network == r1_near.network != h2.network == r1_far.network
    assert info["h1"]["defaultRoute"] == f"via {r1_near.ip}" and info["h2"]["defaultRoute"] == f"via {r1_far.ip}"
    assert not str(h1.ip).startswith("10.0.")


def test_the_routed_topology_is_a_line_through_r1():
    topo = topology.load("routed")
    assert topology.check(topo) == []
    assert sorted(topo.hosts()) == ["h1", "h2", "r1"] and sorted(topo.switches()) == ["s1", "s2"]
    assert sorted(tuple(sorted(link)) for link in topo.links()) == [("h1", "s1"), ("h2", "s2"), ("r1", "s1"),
                                                                    ("r1", "s2")]


# --- build_request ---

def request(dst=R1[1], flags="PA", seq=SEQ, text=None, ip_dst=H2[0]):
    text = f"GET {PAGE} HTTP/1.1\r\nHost: {H2[0]}:{PORTS[1]}\r\n\r\n".encode() if text is None else text
    frame = Ether(src=H1[1], dst=dst) / IP(src=H1[0], dst=ip_dst) / \
        TCP(sport=PORTS[0], dport=PORTS[1], flags=flags, seq=seq, ack=ACK)
    return bytes(frame / text if text else frame)


def request_evidence(data: bytes, answered=True) -> tuple[Evidence, Wire]:
    ev = Evidence(args=(H1[1], R1[1], H1[0], H2[0], *PORTS, SEQ, ACK, PAGE), h2_mac=H2[1], gateway_ip=R1[0],
                  request=Sent("", data, 100.0), answered=answered, answer=b"HTTP/1.0 200 OK\r\n\r\nhi")
    return ev, Wire([Frame(100.0, "s1-eth1", data)])


def test_the_right_request_passes():
    verdict = grade_request(*request_evidence(request()))
    assert verdict.status == "pass" and "HTTP/1.0 200 OK" in verdict.detail


@pytest.mark.parametrize("data, hint", [
    (request(dst=H2[1]), "h2 is on another subnet"),
    (request(dst="ff:ff:ff:ff:ff:ff"), "gateway r1's MAC"),
    (request(ip_dst=R1[0]), "the IP destination is r1's address"),
    (request(flags="P"), "carries ACK"),
    (request(seq=SEQ + 1), "the connection is at seq=1000"),
    (request(text=b""), "carries no request"),
    (request(text=f"GET {PAGE} HTTP/1.1\r\nHost: {H2[0]}:{PORTS[1]}\r\n".encode()), "empty line"),
    (request(text=f"GET {PAGE} HTTP/1.1\r\n\r\n".encode()), "Host: header"),
    (request(text=f"GET {PAGE} HTTP/1.1\r\nX-Host: {H2[0]}:{PORTS[1]}\r\n\r\n".encode()), "Host: header"),
    (request(text=f"GET {PAGE} HTTP/1.1\r\nHost: {H2[0]}\r\n\r\n".encode()), f"with the port when it is not 80: 'Host: {H2[0]}:{PORTS[1]}'"),
    (request(text=f"GET {PAGE} HTTP/1.1\r\nHost:\r\n\r\n".encode()), "names the server as its URL does"),
    (request(text=f"GET {PAGE} HTTP/1.1\nHost: {H2[0]}:{PORTS[1]}\n\n".encode()), "CR LF"),
    (request(text=f"GET / HTTP/1.1\r\nHost: {H2[0]}:{PORTS[1]}\r\n\r\n".encode()), "ask for the path"),
    (request(text=f"GET {PAGE}\r\nHost: {H2[0]}:{PORTS[1]}\r\n\r\n".encode()), "HTTP/1.1"),
])
def test_a_wrong_request_fails_with_its_hint(data, hint):
    verdict = grade_request(*request_evidence(data, answered=False))
    assert verdict.status == "fail" and hint in verdict.hint, verdict


@pytest.mark.parametrize("host", [f"host: {H2[0]}:{PORTS[1]}", f"HOST:{H2[0]}:{PORTS[1]}",
                                  f"Host: \t{H2[0]}:{PORTS[1]} "])
def test_the_host_header_may_be_written_in_any_case_with_any_blanks(host):
    text = f"GET {PAGE} HTTP/1.1\r\nAccept: */*\r\n{host}\r\n\r\n".encode()
    assert grade_request(*request_evidence(request(text=text))).status == "pass"


def test_a_right_looking_request_nobody_answered_fails():
    verdict = grade_request(*request_evidence(request(), answered=False))
    assert verdict.status == "fail" and "did not answer" in verdict.hint


# --- osi_layers ---

LIVE = (["Ether", "IP", "TCP", "Raw"], [2, 3, 4, 7])
OTHERS = [(["Ether", "IP", "ICMP"], [2, 3, 3]), (["Ether", "Dot1Q", "IP", "TCP"], [2, 2, 3, 4]),
          (["Ether", "IPv6", "TCP", "Raw"], [2, 3, 4, 7])]


def layers_verdict(answer):
    cases = [LIVE, *OTHERS]
    return grade_layers(Evidence(layer_cases=cases, layers=[(DONE, answer(names)) for names, _ in cases]), None)


def test_the_right_layers_pass():
    table = {"Ether": 2, "Dot1Q": 2, "IP": 3, "IPv6": 3, "ICMP": 3, "TCP": 4, "Raw": 7}
    verdict = layers_verdict(lambda names: [table[n] for n in names])
    assert verdict.status == "pass" and "right in 4 of 4 cases" in verdict.detail


@pytest.mark.parametrize("table, hint", [
    ({"IP": 4}, "network layer, 3"), ({"TCP": 3}, "transport layer, 4"), ({"Ether": 1}, "layer 1 is the signal"),
    ({"Raw": 5}, "count it as 7"), ({"ICMP": 4}, "ICMP rides inside IP"), ({"Dot1Q": 3}, "VLAN tag"),
    ({"IPv6": 4}, "network layer, 3"),
])
def test_a_wrong_layer_fails_with_its_hint(table, hint):
    right = {"Ether": 2, "Dot1Q": 2, "IP": 3, "IPv6": 3, "ICMP": 3, "TCP": 4, "Raw": 7}
    verdict = layers_verdict(lambda names: [{**right, **table}[n] for n in names])
    assert verdict.status == "fail" and hint in verdict.hint, verdict


def test_a_constant_or_short_answer_fails():
    assert "same answer whatever" in layers_verdict(lambda names: [2, 3, 4, 7]).hint
    assert "one number per header" in layers_verdict(lambda names: [2, 3, 4, 7][:len(names) - 1]).hint


@pytest.mark.parametrize("seed", range(20))
def test_made_up_frames_have_one_known_number_per_header(seed):
    for data, truth in made_up_frames(random.Random(seed), "10.1.1.1", "10.1.2.1", H1[1], H2[1]):
        assert len(Ether(data).layers()) == len(truth) and truth[0] == 2 and truth[-1] in (3, 4, 7)


# --- changed_fields ---

def copies() -> tuple[bytes, bytes]:
    first = Ether(request())
    second = first.copy()
    second[Ether].src, second[Ether].dst, second[IP].ttl = R1_FAR, H2[1], first[IP].ttl - 1
    del second[IP].chksum
    return bytes(first), bytes(Ether(bytes(second)))


def changes_verdict(answer, lists=None):
    first, second = copies()
    wire = Wire([Frame(100.0, "s1-eth1", first), Frame(100.0001, "s2-eth2", second)])
    lists = lists or [list(FIELDS), list(ALWAYS_ASKED) + ["IP.len"]]
    ev = Evidence(connection=(*PORTS, SEQ), fields=lists, changes=[(DONE, answer(names)) for names in lists])
    return grade_changes(ev, wire)


ROUTER = {"Ether.src", "Ether.dst", "IP.ttl", "IP.chksum"}


def test_the_right_changes_pass():
    verdict = changes_verdict(lambda names: [n for n in names if n in ROUTER])
    assert verdict.status == "pass" and "right in 2 of 2 cases" in verdict.detail


@pytest.mark.parametrize("said, hint", [
    (ROUTER - {"IP.ttl"}, "TTL predicted unchanged"), (ROUTER - {"Ether.dst"}, "rewritten at every hop"),
    (ROUTER - {"IP.chksum"}, "r1 recomputes it"), (ROUTER | {"IP.src"}, "no NAT"),
    (ROUTER | {"TCP.chksum"}, "not the TTL"), (ROUTER | {"TCP.seq"}, "does not open the TCP segment"),
    (ROUTER | {"IP.id"}, "fragments"),
])
def test_a_wrong_prediction_fails_with_its_hint(said, hint):
    verdict = changes_verdict(lambda names: [n for n in names if n in said])
    assert verdict.status == "fail" and hint in verdict.hint, verdict


def test_an_answer_that_ignores_its_fields_fails():
    verdict = changes_verdict(lambda names: sorted(ROUTER))
    assert verdict.status == "fail" and "was not asked about" in verdict.hint


@pytest.mark.parametrize("seed", range(30))
def test_field_lists_always_ask_the_telling_fields(seed):
    rng = random.Random(seed)
    drawn, quiet = draw_fields(rng), quiet_fields(rng)
    assert set(ALWAYS_ASKED) <= set(drawn) and set(ALWAYS_ASKED) <= set(quiet)
    assert not {"Ether.src", "IP.chksum"} & set(quiet) and len(set(drawn)) == len(drawn)
    first, second = (Ether(c) for c in copies())
    assert set(changed(first, second, drawn)) == ROUTER & set(drawn)


# --- the TLS step's certificate ---

@pytest.mark.parametrize("without_cryptography", [False, True])
def test_the_certificate_is_made_at_run_time_either_way(tmp_path, monkeypatch, without_cryptography):
    import ssl
    import sys
    from lab.labs._osi_layers_tls import make_certificate
    if without_cryptography:  # the openssl command makes it instead
        monkeypatch.setitem(sys.modules, "cryptography", None)
    cert, key = make_certificate(tmp_path, "10.7.8.9")
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    assert "10.7.8.9" in ssl._ssl._test_decode_cert(str(cert))["subjectAltName"][0]
