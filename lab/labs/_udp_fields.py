"""udp-basic's field arithmetic: a UDP datagram's length, data and checksum read as a
receiver reads them from the bytes, whatever the header claims, so that grading and
the report can say which field is wrong and what it should be."""
from __future__ import annotations

import socket

from scapy.layers.inet import IP, UDP, in4_chksum
from scapy.packet import Packet

from lab.labs._udp_cases import HEADER


def clean(frame: Packet) -> Packet:
    """The IP packet of a frame, without the Ethernet padding after it."""
    ip = frame[IP]
    return IP(bytes(ip)[:ip.len])


def udp_bytes(packet: Packet) -> bytes:
    """The UDP header and everything after it in the IP packet, whatever the UDP
    length field claims."""
    ip = packet[IP]
    return bytes(ip)[ip.ihl * 4:ip.len]


def carried(packet: Packet) -> bytes:
    """The bytes after the 8-byte UDP header."""
    return udp_bytes(packet)[HEADER:]


def udp_checksum(packet: Packet) -> int:
    """The checksum packet's UDP header should carry: over the pseudo-header (the IP
    addresses, protocol 17, the length), the UDP header with its checksum zeroed, and
    the data; 0 is sent as 0xffff, since 0 means 'no checksum'."""
    udp = bytearray(udp_bytes(packet))
    udp[6:8] = b"\0\0"
    return in4_chksum(socket.IPPROTO_UDP, packet[IP], bytes(udp)) or 0xFFFF


def fields(packet: Packet) -> str:
    """'UDP 51234 > 23456 length=18 checksum=0x1a2b (right)'"""
    udp = packet[UDP]
    should = udp_checksum(packet)
    verdict = "right" if udp.chksum == should else f"wrong, should be {should:#06x}"
    if udp.chksum == 0:
        verdict = "no checksum"
    return f"UDP {udp.sport} > {udp.dport} length={udp.len} checksum={udp.chksum:#06x} ({verdict})"
