"""The captured wire as grading and the report read it, without a network: each frame
once with the ports it crossed, the look-ups graders use (by bytes, by fields, by
time), and the one-line summaries and layer rows a student reads, tcpdump's way."""
from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from lab.capture import Frame
from lab.wire import Wire, flag_names, layers, payload, summary, tcpdump_flags

H1 = ("10.0.0.1", "02:00:00:00:00:01")
H2 = ("10.0.0.2", "02:00:00:00:00:02")
H3 = ("10.0.0.3", "02:00:00:00:00:03")


def frame(layer) -> bytes:
    """layer under an Ethernet header from h1 to h2, as bytes off the wire."""
    return bytes(Ether(src=H1[1], dst=H2[1]) / layer)


def wire(*frames: tuple[float, bytes]) -> Wire:
    return Wire([Frame(time, "s1-eth1", data) for time, data in frames])


def who_has(pdst: str = H2[0]) -> bytes:
    return bytes(Ether(src=H1[1], dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=H1[1], psrc=H1[0], pdst=pdst))


def is_at(psrc: str = H2[0]) -> bytes:
    return bytes(Ether(src=H2[1], dst=H1[1]) / ARP(op=2, hwsrc=H2[1], psrc=psrc, hwdst=H1[1], pdst=H1[0]))


def segment(flags: str, seq: int = 100, ack: int = 0, sport: int = 5000, dport: int = 80, src=H1[0], dst=H2[0],
            data: bytes = b"") -> bytes:
    return frame(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                                            window=512) / data)


def datagram(sport: int = 5000, dport: int = 53, data: bytes = b"abc") -> bytes:
    return frame(IP(src=H1[0], dst=H2[0]) / UDP(sport=sport, dport=dport) / data)


def port_unreachable(dport: int = 9) -> bytes:
    """h2's ICMP error quoting a UDP datagram h1 sent to a closed port."""
    quoted = IP(src=H1[0], dst=H2[0]) / UDP(sport=5000, dport=dport) / b"x"
    return frame(IP(src=H2[0], dst=H1[0]) / ICMP(type=3, code=3) / quoted)


# --- each frame once ---

def test_a_broadcast_is_one_frame_with_every_port_it_crossed_and_raw_keeps_each_copy():
    sent = who_has()
    copies = [Frame(1.00003, "s1-eth3", sent), Frame(1.0, "s1-eth1", sent), Frame(1.00002, "s1-eth2", sent)]
    seen = Wire(copies)
    assert len(seen.frames) == 1
    assert seen.frames[0].time == 1.0 and seen.frames[0].data == sent
    assert seen.frames[0].interfaces == ("s1-eth1", "s1-eth2", "s1-eth3")  # in the order crossed
    assert seen.raw == copies  # the capture as taken, every copy


def test_the_same_bytes_sent_again_are_a_second_frame():
    sent = who_has()
    again_on_the_same_port = Wire([Frame(1.0, "s1-eth1", sent), Frame(1.01, "s1-eth1", sent)])
    assert [f.time for f in again_on_the_same_port.frames] == [1.0, 1.01]
    later = Wire([Frame(1.0, "s1-eth1", sent), Frame(1.2, "s1-eth2", sent), Frame(1.20001, "s1-eth1", sent)])
    assert [(f.time, f.interfaces) for f in later.frames] == [(1.0, ("s1-eth1",)),
                                                             (1.2, ("s1-eth2", "s1-eth1"))]


def test_frames_are_in_time_order_whatever_the_order_of_the_capture():
    seen = wire((2.0, is_at()), (1.0, who_has()))
    assert [f.time for f in seen.frames] == [1.0, 2.0]
    assert seen.frames[0].packet[ARP].op == 1


# --- look-ups ---

def test_find_matches_the_bytes_sent_even_padded_by_the_kernel_and_not_before_they_were_sent():
    sent = who_has()
    padded = sent + b"\0" * 18
    seen = wire((0.5, sent), (1.0, padded), (2.0, sent))
    assert seen.find(sent, after=0.9).time == 1.0
    assert seen.find(sent, after=1.0005).time == 1.0  # the capture's clock may run a little early
    assert seen.find(sent, after=1.002).time == 2.0
    assert seen.find(sent).time == 0.5
    assert seen.find(sent, after=2.5) is None
    assert seen.find(who_has(H3[0])) is None
    assert seen.find(padded).time == 1.0  # longer than what was sent at 0.5


def test_arp_selects_by_fields_from_a_moment_on():
    seen = wire((0.5, is_at(H3[0])), (1.0, who_has()), (1.5, frame(IP() / ICMP())), (2.0, is_at()))
    assert [f.time for f in seen.arp()] == [0.5, 1.0, 2.0]
    assert [f.time for f in seen.arp(op=2)] == [0.5, 2.0]
    assert [f.time for f in seen.arp(op=2, psrc=H2[0])] == [2.0]
    assert [f.time for f in seen.arp(after=0.9)] == [1.0, 2.0]
    assert [f.time for f in seen.arp(after=1.0005)] == [1.0, 2.0]
    assert [f.time for f in seen.arp(after=1.002)] == [2.0]
    assert seen.arp(after=0.9, psrc=H3[0]) == []


def test_between_includes_both_ends():
    seen = wire((1.0, who_has()), (2.0, is_at()), (3.0, who_has(H3[0])))
    assert [f.time for f in seen.between(1.0, 2.0)] == [1.0, 2.0]
    assert [f.time for f in seen.between(1.5, 3.0)] == [2.0, 3.0]
    assert seen.between(3.5, 4.0) == []


def test_tcp_udp_and_icmp_select_by_fields():
    seen = wire((0.0, segment("S")), (0.1, segment("SA", sport=80, dport=5000, src=H2[0], dst=H1[0])),
                (0.2, segment("A", seq=101, ack=1)), (0.3, datagram()), (0.4, datagram(dport=9)),
                (0.5, port_unreachable()), (0.6, who_has()))
    assert [f.time for f in seen.tcp()] == [0.0, 0.1, 0.2]
    assert [f.time for f in seen.tcp(flags="SA")] == [0.1] == [f.time for f in seen.tcp(flags="AS")]
    assert [f.time for f in seen.tcp(flags="S")] == [0.0]  # the flags exactly, not a SYN among others
    assert [f.time for f in seen.tcp(flags="A", dport=80)] == [0.2]
    assert [f.time for f in seen.tcp(after=0.05, sport=5000)] == [0.2]
    assert [f.time for f in seen.udp()] == [0.3, 0.4]  # not the datagram an ICMP error quotes
    assert [f.time for f in seen.udp(dport=9)] == [0.4]
    assert [f.time for f in seen.udp(after=0.35)] == [0.4]
    assert [f.time for f in seen.icmp()] == [0.5]
    assert seen.icmp(type=3, code=3)[0].time == 0.5
    assert seen.icmp(type=3, code=1) == [] and seen.icmp(after=0.55) == []
    assert [f.time for f in seen.select(lambda p: ARP in p or ICMP in p, after=0.45)] == [0.5, 0.6]
    assert len(seen.select(lambda p: True)) == 7  # from the start of the capture
    assert [f.time for f in seen.select(lambda p: True, after=0.5005)] == [0.5, 0.6]  # 1 ms early still counts
    assert [f.time for f in seen.tcp(after=0.1005)] == [0.1, 0.2]
    assert [f.time for f in seen.udp(after=0.3005)] == [0.3, 0.4]
    assert [f.time for f in seen.icmp(after=0.5005)] == [0.5]


def test_isns_are_each_endpoints_first_syn():
    seen = wire((0.0, segment("S", seq=1000)),
                (0.1, segment("SA", seq=7000, ack=1001, sport=80, dport=5000, src=H2[0], dst=H1[0])),
                (0.2, segment("S", seq=5555)), (0.3, segment("A", seq=1001, ack=7001, sport=6000)),
                (0.4, datagram()))
    assert seen.isns() == {(H1[0], 5000): 1000, (H2[0], 80): 7000}


# --- what a student reads ---

@pytest.mark.parametrize("flags, names, letters", [
    ("S", "SYN", "S"), ("SA", "SYN,ACK", "S."), ("A", "ACK", "."), ("FA", "FIN,ACK", "F."),
    ("PA", "PSH,ACK", "P."), ("R", "RST", "R"), ("RA", "RST,ACK", "R."), ("U", "URG", ""),
    ("FSRPAU", "SYN,FIN,RST,PSH,ACK,URG", "SFRP."), ("", "none", ""),
])
def test_flags_read_as_textbooks_and_tcpdump_write_them(flags, names, letters):
    packet = Ether(segment(flags))
    assert flag_names(packet) == names
    assert tcpdump_flags(packet[TCP]) == letters


def test_payload_is_the_applications_bytes_without_ethernet_padding():
    assert payload(Ether(segment("PA", data=b"hello"))) == b"hello"
    assert payload(Ether(datagram(data=b"abc") + b"\0" * 10)) == b"abc"
    assert payload(Ether(segment("S") + b"\0" * 6)) == b""
    assert payload(Ether(who_has())) == b""


@pytest.mark.parametrize("data, line", [
    (who_has(), "ARP who has 10.0.0.2? tell 10.0.0.1"),
    (is_at(), "ARP 10.0.0.2 is at 02:00:00:00:00:02"),
    (bytes(Ether() / ARP(op=1, hwsrc=H3[1], psrc=H3[0], pdst=H3[0])),
     "ARP announcement: 10.0.0.3 is at 02:00:00:00:00:03 (gratuitous)"),
    (bytes(Ether() / ARP(op=2, hwsrc=H3[1], psrc=H3[0], pdst=H3[0])), "ARP 10.0.0.3 is at 02:00:00:00:00:03"),
    (bytes(Ether() / ARP(op=7, psrc=H2[0], pdst=H1[0])), "ARP op 7 10.0.0.2 -> 10.0.0.1"),
    (segment("S"), "IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [S], seq 100, win 512, length 0"),
    (segment("PA", seq=101, ack=7, data=b"hello"),
     "IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [P.], seq 101, ack 7, win 512, length 5"),
    (datagram(data=b"abc") + b"\0" * 10, "IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 3"),
    (port_unreachable(9), "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9 unreachable"),
    (frame(IP(src=H2[0], dst=H1[0]) / ICMP(type=3, code=2) / IP(src=H1[0], dst=H3[0], proto=253) / b"8 bytes!"),
     "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.3 protocol-unreachable (protocol 253)"),
    (frame(IP(src=H1[0], dst=H2[0]) / ICMP()), "IP 10.0.0.1 > 10.0.0.2: ICMP echo-request"),
    (frame(IP(src=H3[0], dst=H1[0]) / ICMP(type=11) / IP(src=H1[0], dst=H2[0], ttl=1, proto=253) / b"8 bytes!"),
     "IP 10.0.0.3 > 10.0.0.1: ICMP time-exceeded"),  # quotes a packet, but is no unreachable
    (frame(IP(src=H2[0], dst=H1[0]) / ICMP(type=0)), "IP 10.0.0.2 > 10.0.0.1: ICMP echo-reply"),
    (bytes(Ether(src=H1[1], dst=H2[1], type=0x88b5) / b"zz"), "02:00:00:00:00:01 > 02:00:00:00:00:02 (0x88b5) / Raw"),
])
def test_summary_is_one_line_in_tcpdumps_words(data, line):
    assert summary(Ether(data)) == line


def test_layers_show_each_layer_without_the_quiet_fields():
    rows = layers(Ether(who_has() + b"\0" * 18))  # padded as the kernel sends it
    assert rows == [("Ether", "dst=ff:ff:ff:ff:ff:ff src=02:00:00:00:00:01 type=ARP"),
                    ("ARP", "op=who-has hwsrc=02:00:00:00:00:01 psrc=10.0.0.1 hwdst=00:00:00:00:00:00 "
                            "pdst=10.0.0.2")]
    rows = layers(Ether(segment("PA", seq=101, ack=7, data=b"0123456789" * 3)))
    assert rows[1] == ("IP", "len=70 flags= ttl=64 proto=tcp src=10.0.0.1 dst=10.0.0.2")
    assert rows[2] == ("TCP", "sport=5000 dport=http seq=101 ack=7 flags=PA window=512 options=[]")
    assert rows[3] == ("Data", "30 bytes b'012345678901234567890123'")
    assert len(rows) == 4


def test_layers_leave_out_fields_that_do_not_apply():
    """ICMP's fields depend on its type: an echo has an id, an error a quoted packet."""
    echo = dict(layers(Ether(frame(IP() / ICMP(type=8, id=7)))))["ICMP"]
    assert echo == "type=echo-request code=0 id=0x7 seq=0x0 unused=''"
    error = dict(layers(Ether(port_unreachable())))
    assert "id=" not in error["ICMP"] and "code=port-unreachable" in error["ICMP"]
    assert error["UDP in ICMP"].startswith("sport=5000 dport=discard")
