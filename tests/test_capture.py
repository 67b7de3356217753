"""The capture file: standard pcapng that tshark reads, with each port's name."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from scapy.layers.l2 import ARP, Ether

from lab.capture import Frame, read_frames, write_pcapng


def frames():
    one = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"))
    two = bytes(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
                / ARP(op=2, psrc="10.0.0.2", pdst="10.0.0.1", hwsrc="02:00:00:00:00:02"))
    return [Frame(1700000000.000000123, "s1-eth1", one, 1700000000_000000123),
            Frame(1700000000.5, "s1-eth2", two, 1700000000_500000000)]


def test_round_trip_keeps_bytes_ports_and_nanoseconds(tmp_path):
    path = tmp_path / "c.pcapng"
    write_pcapng(path, ["s1-eth1", "s1-eth2"], frames())
    back = read_frames(path)
    assert [(f.interface, f.data, f.time_ns) for f in back] == \
        [(f.interface, f.data, f.time_ns) for f in frames()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_file_with_interface_names(tmp_path):
    path = tmp_path / "c.pcapng"
    write_pcapng(path, ["s1-eth1", "s1-eth2"], frames())
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_name",
                          "-e", "arp.opcode", "-e", "arp.dst.proto_ipv4"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["s1-eth1\t1\t10.0.0.2", "s1-eth2\t2\t10.0.0.1"]
