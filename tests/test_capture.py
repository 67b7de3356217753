"""The capture file: standard pcapng that tshark reads, with each port's name and each
copy's direction; each frame once, as it entered the switch, so that Wireshark's TCP
analysis marks only what really went twice."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from scapy.layers.l2 import ARP, Ether

from conftest import lab
from lab.capture import Frame, ports_path, read_frames, sender_copies, write_pcapng


def frames():
    one = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"))
    two = bytes(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
                / ARP(op=2, psrc="10.0.0.2", pdst="10.0.0.1", hwsrc="02:00:00:00:00:02"))
    return [Frame(1700000000.000000123, "s1-eth1", one, 1700000000_000000123),
            Frame(1700000000.5, "s1-eth2", two, 1700000000_500000000)]


def test_round_trip_keeps_bytes_ports_nanoseconds_and_direction(tmp_path):
    path = tmp_path / "c.pcapng"
    sent = frames() + [Frame(1700000001.0, "s1-eth1", b"\x01" * 61, 1700000001_000000000, outgoing=True)]
    write_pcapng(path, ["s1-eth1", "s1-eth2"], sent)
    back = read_frames(path)
    assert [(f.interface, f.data, f.time_ns, f.outgoing) for f in back] == \
        [(f.interface, f.data, f.time_ns, f.outgoing) for f in sent]


def copy(time: float, port: str, data: bytes, outgoing: bool) -> Frame:
    return Frame(time, port, data, int(time * 1e9), outgoing)


def test_sender_copies_keep_each_frame_once_as_it_entered_the_switch():
    one, two = frames()[0].data, frames()[1].data
    broadcast = [copy(1.0, "s1-eth1", one, False), copy(1.00001, "s1-eth2", one, True),
                 copy(1.00002, "s1-eth3", one, True)]
    answer = [copy(1.001, "s1-eth2", two, False), copy(1.00101, "s1-eth1", two, True)]
    assert sender_copies(broadcast + answer) == [broadcast[0], answer[0]]
    # A frame really sent twice is kept twice: a retransmission, even with the same bytes.
    again = [copy(1.2, "s1-eth2", two, False), copy(1.20001, "s1-eth1", two, True)]
    assert sender_copies(answer + again) == [answer[0], again[0]]


def test_a_frame_the_lab_delivers_from_a_port_is_kept():
    """Held at h1's door, then delivered again by the lab from h1's switch port: it left
    that port twice, once as the switch forwarded it and once from the lab."""
    two = frames()[1].data
    held = [copy(1.0, "s1-eth2", two, False), copy(1.00001, "s1-eth1", two, True)]
    delivered = copy(1.01, "s1-eth1", two, True)
    assert sender_copies(held + [delivered]) == [held[0], delivered]
    late = copy(1.5, "s1-eth1", two, True)  # long after: not the switch forwarding it
    assert sender_copies([held[0], late]) == [held[0], late]


def test_the_every_port_view_lies_beside_the_capture(tmp_path):
    assert ports_path(tmp_path / "arp-basic.pcapng") == tmp_path / "arp-basic.ports.pcapng"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_file_with_interface_names(tmp_path):
    path = tmp_path / "c.pcapng"
    write_pcapng(path, ["s1-eth1", "s1-eth2"], frames())
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_name",
                          "-e", "arp.opcode", "-e", "arp.dst.proto_ipv4"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["s1-eth1\t1\t10.0.0.2", "s1-eth2\t2\t10.0.0.1"]


def tshark_marks(path) -> list[str]:
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "tcp.analysis.retransmission or tcp.analysis.duplicate_ack",
                          "-T", "fields", "-e", "tcp.flags"], capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.mark.root
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_wireshark_marks_only_the_segment_the_lab_sent_twice(tmp_path):
    """tcp-handshake holds h2's SYN-ACK at h1's door and delivers it: that one frame
    really crossed twice. The every-port view shows every forwarded copy again."""
    result = lab("run", "tcp-handshake", "--solution", "--ports", "--pcap", str(tmp_path / "c.pcapng"))
    assert result.returncode == 0, result.stderr
    assert f"every copy on each of the 2 switch ports: {tmp_path / 'c.ports.pcapng'}" in result.stdout
    marks = tshark_marks(tmp_path / "c.pcapng")
    assert marks == ["0x0012"], marks  # SYN+ACK, once
    assert len(read_frames(tmp_path / "c.ports.pcapng")) > len(read_frames(tmp_path / "c.pcapng"))
    assert len(tshark_marks(tmp_path / "c.ports.pcapng")) > 1
