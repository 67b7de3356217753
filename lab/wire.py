"""The captured frames of a run, dissected by scapy, for grading and for the report.

A broadcast crosses several switch ports and so appears several times in the capture;
`Wire.frames` keeps each frame once, where it first appeared (the port of its
sender), and remembers the other ports it was seen on.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.l2 import ARP, Ether
from scapy.fields import ConditionalField
from scapy.packet import Packet, Padding, Raw

from .capture import Frame

BROADCAST = "ff:ff:ff:ff:ff:ff"
SAME_FRAME_WINDOW = 0.05  # seconds within which identical bytes are one frame
# Fields a student rarely needs on screen; Wireshark still shows them all.
QUIET_FIELDS = {"ARP": {"hwtype", "ptype", "hwlen", "plen"},
                "IP": {"version", "ihl", "tos", "id", "frag", "chksum", "options"},
                "TCP": {"dataofs", "reserved", "chksum", "urgptr"},
                "ICMP": {"chksum"}}


@dataclass(frozen=True)
class Seen:
    """A frame once, with the ports it crossed."""

    time: float
    interfaces: tuple[str, ...]
    data: bytes

    @functools.cached_property
    def packet(self) -> Packet:
        """The frame dissected by scapy, once (treat it as read-only)."""
        return Ether(self.data)


FLAG_NAMES = (("S", "SYN"), ("F", "FIN"), ("R", "RST"), ("P", "PSH"), ("A", "ACK"), ("U", "URG"))


def flag_names(segment) -> str:
    """'SYN,ACK' for a segment with flags 'SA', in the order textbooks write them."""
    return flag_words(str(segment[TCP].flags))


def flag_words(flags: str) -> str:
    """'SYN,ACK' for flags as scapy writes them, 'SA'."""
    return ",".join(name for letter, name in FLAG_NAMES if letter in flags) or "none"


def payload(packet: Packet) -> bytes:
    """The application bytes a TCP or UDP packet carries (without Ethernet padding)."""
    for layer in (TCP, UDP):
        if layer in packet:
            data = bytes(packet[layer].payload)
            if Padding in packet[layer]:
                data = data[:len(data) - len(packet[Padding])]
            return data
    return b""


def header(response: bytes, name: str) -> str | None:
    """One header's value from an HTTP message's head, names compared without case."""
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    for line in head:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


class Wire:
    def __init__(self, frames: list[Frame]):
        self.raw = frames
        self.frames: list[Seen] = []
        open_frames: dict[bytes, int] = {}
        for frame in sorted(frames, key=lambda f: f.time):
            index = open_frames.get(frame.data)
            if index is not None and frame.time - self.frames[index].time < SAME_FRAME_WINDOW \
                    and frame.interface not in self.frames[index].interfaces:  # else: sent twice
                seen = self.frames[index]
                self.frames[index] = Seen(seen.time, seen.interfaces + (frame.interface,), seen.data)
                continue
            open_frames[frame.data] = len(self.frames)
            self.frames.append(Seen(frame.time, (frame.interface,), frame.data))

    def between(self, start: float, end: float) -> list[Seen]:
        return [f for f in self.frames if start <= f.time <= end]

    def find(self, data: bytes, after: float = 0.0) -> Seen | None:
        """The frame holding exactly data (the kernel may pad it) sent at or after `after`."""
        for frame in self.frames:
            if frame.time >= after - 0.001 and frame.data[:len(data)] == data:
                return frame
        return None

    def select(self, wanted, after: float = 0.0) -> list[Seen]:
        """Frames from `after` on for which wanted(packet) is true."""
        return [f for f in self.frames if f.time >= after - 0.001 and wanted(f.packet)]

    def tcp(self, after: float = 0.0, **fields) -> list[Seen]:
        """TCP segments whose fields equal the given values (sport=5000, flags='SA', ...).

        scapy's flags compare by value: flags='AS' is a SYN-ACK too, and 'S' not one."""
        return self.select(lambda p: TCP in p and all(p[TCP].getfieldval(k) == v for k, v in fields.items()),
                           after)

    def udp(self, after: float = 0.0, **fields) -> list[Seen]:
        """UDP datagrams whose fields equal the given values (sport=..., dport=...)."""
        return self.select(lambda p: UDP in p and ICMP not in p
                           and all(p[UDP].getfieldval(k) == v for k, v in fields.items()), after)

    def icmp(self, after: float = 0.0, **fields) -> list[Seen]:
        """ICMP messages whose fields equal the given values (type=3, code=3, ...)."""
        return self.select(lambda p: ICMP in p
                           and all(p[ICMP].getfieldval(k) == v for k, v in fields.items()), after)

    def isns(self) -> dict[tuple[str, int], int]:
        """The initial sequence number of each TCP endpoint (ip, port) that sent a SYN."""
        found: dict[tuple[str, int], int] = {}
        for frame in self.frames:
            packet = frame.packet
            if TCP in packet and "S" in str(packet[TCP].flags):
                found.setdefault((packet[IP].src, packet[TCP].sport), packet[TCP].seq)
        return found

    def arp(self, after: float = 0.0, **fields) -> list[Seen]:
        """ARP frames after a time whose fields equal the given values (op=2, psrc=...)."""
        found = []
        for frame in self.frames:
            if frame.time < after - 0.001:
                continue
            packet = frame.packet
            if ARP in packet and all(packet[ARP].getfieldval(k) == v for k, v in fields.items()):
                found.append(frame)
        return found


def summary(packet: Packet) -> str:
    """One line in tcpdump's spirit: 'ARP who has 10.0.0.2 tell 10.0.0.1'."""
    if ARP in packet:
        arp = packet[ARP]
        if arp.op == 1 and arp.psrc == arp.pdst:
            return f"ARP announcement: {arp.psrc} is at {arp.hwsrc} (gratuitous)"
        if arp.op == 1:
            return f"ARP who has {arp.pdst}? tell {arp.psrc}"
        if arp.op == 2:
            return f"ARP {arp.psrc} is at {arp.hwsrc}"
        return f"ARP op {arp.op} {arp.psrc} -> {arp.pdst}"
    if ICMP in packet and packet[ICMP].type == 3 and UDPerror in packet:
        quoted = packet[UDPerror]  # the datagram the ICMP error quotes
        return (f"IP {packet[IP].src} > {packet[IP].dst}: ICMP {packet[IPerror].dst} udp port "
                f"{quoted.dport} unreachable")
    if TCP in packet:  # tcpdump's own wording
        tcp = packet[TCP]
        text = f"IP {packet[IP].src}.{tcp.sport} > {packet[IP].dst}.{tcp.dport}: Flags [{tcpdump_flags(tcp)}], seq {tcp.seq}"
        if "A" in str(tcp.flags):
            text += f", ack {tcp.ack}"
        return text + f", win {tcp.window}, length {len(payload(packet))}"
    if UDP in packet:
        return f"IP {packet[IP].src}.{packet[UDP].sport} > {packet[IP].dst}.{packet[UDP].dport}: UDP, length {len(payload(packet))}"
    if ICMP in packet and packet[ICMP].type == 3 and IPerror in packet:
        return (f"IP {packet[IP].src} > {packet[IP].dst}: ICMP {packet[IPerror].dst} "
                f"{packet[ICMP].sprintf('%ICMP.code%')} (protocol {packet[IPerror].proto})")
    if ICMP in packet:
        return f"IP {packet[IP].src} > {packet[IP].dst}: ICMP {packet[ICMP].sprintf('%ICMP.type%')}"
    return packet.summary()


def tcpdump_flags(tcp) -> str:
    """tcpdump's letters: S, F, R, P, '.' for ACK."""
    flags = str(tcp.flags)
    return "".join(letter for letter in "SFRP" if letter in flags) + ("." if "A" in flags else "")


def layers(packet: Packet) -> list[tuple[str, str]]:
    """(layer name, its fields as name=value) for each layer, as scapy shows them."""
    rows = []
    layer = packet
    while layer and not isinstance(layer, (Padding,)):
        if isinstance(layer, Raw):
            rows.append(("Data", f"{len(layer.load)} bytes {layer.load[:24]!r}"))
            break
        quiet = QUIET_FIELDS.get(layer.name, set())
        fields = [f"{f.name}={f.i2repr(layer, layer.getfieldval(f.name))}"
                  for f in layer.fields_desc if f.name not in quiet
                  and not (isinstance(f, ConditionalField) and not f._evalcond(layer))]
        rows.append((layer.name if layer.name != "Ethernet" else "Ether", " ".join(fields)))
        layer = layer.payload
    return rows
