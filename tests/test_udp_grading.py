"""Grading of udp-basic from hand-made captures: the length and checksum read back,
and the hints for the typical mistakes, without a network."""
from __future__ import annotations

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.labs import udp_basic
from lab.labs.udp_basic import CLIENT, CLOSED, DATA, ECHO, PROBE
from lab.wire import Wire

H1, H2 = "10.0.0.1", "10.0.0.2"


def frame(packet) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet)


def datagram(src=H1, dst=H2, sport=CLIENT, dport=ECHO, data=DATA, **udp) -> bytes:
    return frame(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport, **udp) / data)


def port_unreachable(quoted: bytes) -> bytes:
    return frame(IP(src=H2, dst=H1) / ICMP(type=3, code=3) / Ether(quoted)[IP])


def evidence(sent: bytes, at: float, **extra) -> dict:
    return {"problem": "", "data": sent, "sent_at": at, "fallback_at": None, "start": at - 0.01,
            "end": at + 0.01, **extra}


def echo_exchange(sent: bytes):
    """The wire and the evidence of a whole run in which h1 sent `sent` first."""
    echo = datagram(H2, H1, ECHO, CLIENT)
    probe = datagram(dport=CLOSED, data=PROBE)
    wire = Wire([Frame(1.0, "s1-eth1", sent), Frame(1.001, "s1-eth1", echo),
                 Frame(2.0, "s1-eth1", probe), Frame(2.001, "s1-eth1", port_unreachable(probe))])
    ev = evidence(sent, 1.0, received=DATA, address=(H1, CLIENT), echo=bytes(Ether(echo)[IP]))
    return ev, evidence(probe, 2.0), wire


def test_checksum_recomputed_as_scapy_and_the_kernel_compute_it():
    packet = Ether(datagram())
    assert udp_basic.udp_checksum(packet) == packet[UDP].chksum
    assert packet[UDP].len == 8 + len(DATA)
    assert "(right)" in udp_basic.fields(packet)
    assert "wrong, should be" in udp_basic.fields(Ether(datagram(chksum=0x1234)))


def test_the_reference_datagram_passes():
    verdict = udp_basic.grade_datagram(*echo_exchange(datagram()))
    assert verdict.status == PASS and "one datagram each way, no handshake" in verdict.detail


def test_datagram_mistakes():
    def hint(sent: bytes) -> str:
        verdict = udp_basic.grade_datagram(*echo_exchange(sent))
        assert verdict.status == FAIL
        return verdict.hint
    assert "the ports are swapped" in hint(datagram(sport=ECHO, dport=CLIENT))
    assert "dport is 7001" in hint(datagram(dport=CLOSED))
    assert "use my_port (40000)" in hint(datagram(sport=12345))
    assert "the UDP length field says 10" in hint(datagram(len=10))
    assert "silently drops a datagram whose checksum is wrong" in hint(datagram(chksum=0x1234))
    assert "carries no data" in hint(datagram(data=b""))


def test_a_zero_checksum_means_none_and_is_accepted():
    sent = bytearray(datagram())
    sent[14 + 20 + 6:14 + 20 + 8] = b"\0\0"
    assert udp_basic.grade_datagram(*echo_exchange(bytes(sent))).status == PASS


def test_a_datagram_without_udp_layer():
    ev, probe, wire = echo_exchange(datagram())
    ev = {**ev, "problem": "returned 10.0.0.1 > 10.0.0.2 hopopt / Raw: no UDP layer", "data": None}
    assert "no UDP layer" in udp_basic.grade_datagram(ev, probe, wire).hint


def test_a_fixed_port_shows_in_the_second_datagram():
    ev, _, wire = echo_exchange(datagram())
    wrong = datagram(data=PROBE)  # to 7000 again, though the lab asked for 7001
    wire = Wire(wire.raw + [Frame(3.0, "s1-eth1", wrong)])
    verdict = udp_basic.grade_datagram(ev, evidence(wrong, 3.0, fallback_at=3.5), wire)
    assert verdict.status == FAIL and "peer_port=7001" in verdict.hint


def echo_packet() -> bytes:
    return bytes(IP(datagram(H2, H1, ECHO, CLIENT)[14:]))


def test_parse_echo_hints():
    def grade(value):
        return udp_basic.grade_parse({"echo": echo_packet(), "value": value})
    echo = IP(echo_packet())
    assert grade(DATA).status == PASS
    assert "8 bytes in front" in grade(bytes(echo[UDP])).hint
    assert "whole IP packet" in grade(bytes(echo)).hint
    assert "not text" in grade(DATA.decode()).hint
    assert "not a scapy layer" in grade(udp_basic.shown_value(echo[UDP].payload)).hint


def test_udp_length_hints():
    def grade(guess):
        return udp_basic.grade_length({"echo": echo_packet(), "guess": guess})
    assert grade(18).status == PASS
    assert "its own 8-byte header too" in grade(10).hint
    assert "IP packet's total length" in grade(38).hint
    assert "an int" in grade("18").hint
    assert grade(True).status == FAIL


def unreachable(port=True, echo=False, protocol=False, redirect=False, statuses=("done",) * 4):
    labels = ("port unreachable", "echo", "protocol unreachable", "redirect")
    answers = [{"label": label, "answer": answer, "expected": None, "status": status}
               for label, answer, status in zip(labels, (port, echo, protocol, redirect), statuses)]
    icmp = bytes(IP(port_unreachable(datagram(dport=CLOSED, data=PROBE))[14:]))
    return udp_basic.grade_unreachable({"answers": answers, "icmp": icmp})


def test_is_port_unreachable_hints():
    assert unreachable().status == PASS
    assert "check the code too" in unreachable(protocol=True).hint.lower()
    assert "type 5 code 3 is a redirect" in unreachable(redirect=True).hint
    assert "no ICMP layer" in unreachable(echo=True).hint
    assert "code 3 (port)" in unreachable(port=False).hint
    assert "True or False" in unreachable(port=1).hint
    raised = unreachable(statuses=("done", "raised", "done", "done"))
    assert raised.status == FAIL and "check ICMP in packet first" in raised.hint
    assert unreachable(statuses=("raised",) * 4).hint == ""
