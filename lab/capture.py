"""Capture every frame of a run into pcapng, one interface block per switch port.

The capture is a raw packet socket on every switch port of the run's private
namespace, opened before the scenario starts. A bound socket is live at once and
queues every frame with its kernel timestamp until read, so nothing is lost at the
start or at the end of a run (dumpcap, tried first, drops the frames of its last
unfinished buffer block when stopped).

A frame crosses several ports: it enters the switch on its sender's port and leaves
on the receiver's (a broadcast on every other one). Written once per port, each would
look sent twice or more, and Wireshark would mark retransmissions and duplicate ACKs
that never happened. So the file a student opens holds each frame once, the copy
that entered the switch from its sender (`sender_copies`), plus any frame the lab
itself put on a port; the view of every port, every copy with its direction, is a
second file on request (`ports_path`). Both are standard pcapng with each port's
name and each copy's direction (epb_flags), which Wireshark shows.
"""
from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

SHB, IDB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, OPT_IF_NAME, OPT_IF_TSRESOL, OPT_EPB_FLAGS = 0, 2, 9, 2
INBOUND, OUTBOUND = 1, 2   # epb_flags' direction bits
PACKET_OUTGOING = 4        # sll_pkttype of a frame leaving through the port
SAME_FRAME_WINDOW = 0.05   # seconds within which one frame's copies cross the switch
LINKTYPE_ETHERNET = 1
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RECEIVE_BUFFER = 16 << 20  # bytes per port; collect() empties it between steps


@dataclass(frozen=True)
class Frame:
    """One captured frame: when (Unix time), on which port, and its bytes."""

    time: float
    interface: str
    data: bytes
    time_ns: int = 0
    outgoing: bool = False  # leaving the switch through this port (else entering it)


class Capture:
    """Raw sockets on a set of interfaces, collected into frames, written as pcapng."""

    def __init__(self, path: Path, interfaces: list[str], ports_path: Path | None = None):
        self.path = path
        self.ports_path = ports_path  # where to write every copy on every port, if anywhere
        self.interfaces = interfaces
        self.frames: list[Frame] = []
        self.sockets: list[tuple[str, socket.socket]] = []

    def start(self) -> None:
        """Open one socket per interface; frames are recorded from this moment."""
        for name in self.interfaces:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind((name, 0))
            sock.setblocking(False)
            self.sockets.append((name, sock))

    def collect(self) -> None:
        """Move every queued frame from the sockets into self.frames."""
        for name, sock in self.sockets:
            while True:
                try:
                    data, ancillary, _, address = sock.recvmsg(65535, 64)
                except BlockingIOError:
                    break
                stamp = _timestamp_ns(ancillary)
                self.frames.append(Frame(stamp / 1e9, name, data, stamp, address[2] == PACKET_OUTGOING))

    def stop(self) -> None:
        """Collect the last frames, close the sockets and write the file."""
        if not self.sockets:
            return
        self.collect()
        for _, sock in self.sockets:
            sock.close()
        self.sockets = []
        self.frames.sort(key=lambda f: f.time_ns)
        write_pcapng(self.path, self.interfaces, sender_copies(self.frames))
        if self.ports_path is not None:
            write_pcapng(self.ports_path, self.interfaces, self.frames)


def ports_path(path: Path) -> Path:
    """Where the every-port view of the capture at path goes: captures/LAB.ports.pcapng."""
    return path.with_name(path.name.removesuffix(".pcapng") + ".ports.pcapng")


def sender_copies(frames: list[Frame]) -> list[Frame]:
    """Each frame once, as it entered the switch from its sender, in time order.

    A copy leaving through a port is dropped if it is the switch forwarding a frame
    that entered within SAME_FRAME_WINDOW, once per port; one with no such frame (the
    lab put it on the port itself, to deliver a held frame) is kept.
    """
    entered: dict[bytes, list[tuple[float, set[str]]]] = {}
    kept = []
    for frame in sorted(frames, key=lambda f: f.time_ns):
        if not frame.outgoing:
            entered.setdefault(frame.data, []).append((frame.time, set()))
            kept.append(frame)
            continue
        forwarded = next((ports for time, ports in entered.get(frame.data, ())
                          if frame.time - time < SAME_FRAME_WINDOW and frame.interface not in ports), None)
        if forwarded is None:
            kept.append(frame)
        else:
            forwarded.add(frame.interface)
    return kept


def _timestamp_ns(ancillary) -> int:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds * 1_000_000_000 + nanoseconds
    import time
    return time.time_ns()


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def write_pcapng(path: Path, interfaces: list[str], frames: list[Frame]) -> None:
    """A pcapng file: one section, one interface block per port, nanosecond stamps."""
    index = {name: i for i, name in enumerate(interfaces)}
    parts = [_block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1))]
    for name in interfaces:
        options = _option(OPT_IF_NAME, name.encode()) + _option(OPT_IF_TSRESOL, b"\x09") + _option(OPT_END, b"")
        parts.append(_block(IDB, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0) + options))
    for frame in frames:
        header = struct.pack("<IIIII", index[frame.interface], frame.time_ns >> 32,
                             frame.time_ns & 0xFFFFFFFF, len(frame.data), len(frame.data))
        direction = _option(OPT_EPB_FLAGS, struct.pack("<I", OUTBOUND if frame.outgoing else INBOUND))
        parts.append(_block(EPB, header + frame.data + b"\0" * (-len(frame.data) % 4)
                            + direction + _option(OPT_END, b"")))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(b"".join(parts))
    os.replace(temporary, path)


def _blocks(data: bytes):
    """(type, body, byte order) for each complete pcapng block."""
    offset, endian = 0, "<"
    while offset + 12 <= len(data):
        if struct.unpack_from("<I", data, offset)[0] == SHB:
            endian = "<" if struct.unpack_from("<I", data, offset + 8)[0] == BYTE_ORDER_MAGIC else ">"
        block_type, length = struct.unpack_from(endian + "II", data, offset)
        if length < 12 or offset + length > len(data):
            return
        yield block_type, data[offset + 8:offset + length - 4], endian
        offset += length


def _interface_options(body: bytes, endian: str) -> tuple[str, int]:
    """(if_name, ticks per second) of an interface description block."""
    name, resolution, offset = "?", 1_000_000, 8
    while offset + 4 <= len(body):
        code, size = struct.unpack_from(endian + "HH", body, offset)
        value = body[offset + 4:offset + 4 + size]
        if code == OPT_END:
            break
        if code == OPT_IF_NAME:
            name = value.decode(errors="replace")
        elif code == OPT_IF_TSRESOL and value:
            exponent = value[0] & 0x7F
            resolution = 2 ** exponent if value[0] & 0x80 else 10 ** exponent
        offset += 4 + size + (-size % 4)
    return name, resolution


def _epb_flags(options: bytes, endian: str) -> int:
    """The epb_flags option among a packet block's options (0 if absent)."""
    offset = 0
    while offset + 4 <= len(options):
        code, size = struct.unpack_from(endian + "HH", options, offset)
        if code == OPT_END:
            break
        if code == OPT_EPB_FLAGS and size == 4:
            return struct.unpack_from(endian + "I", options, offset + 4)[0]
        offset += 4 + size + (-size % 4)
    return 0


def read_frames(path: Path) -> list[Frame]:
    """Every frame of a pcapng file, in file order, with its interface name."""
    interfaces: list[tuple[str, int]] = []
    frames = []
    for kind, body, endian in _blocks(path.read_bytes()):
        if kind == SHB:
            interfaces = []
        elif kind == IDB:
            interfaces.append(_interface_options(body, endian))
        elif kind == EPB:
            number, high, low, captured, _ = struct.unpack_from(endian + "5I", body)
            name, resolution = interfaces[number]
            ticks = (high << 32) | low
            frames.append(Frame(ticks / resolution, name, body[20:20 + captured],
                                ticks * 1_000_000_000 // resolution,
                                _epb_flags(body[20 + captured + (-captured % 4):], endian) & 3 == OUTBOUND))
    return frames


def owned_by_caller(path: Path) -> None:
    """Give a capture written as root to the user behind sudo, so they can delete it."""
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if uid and gid:
        try:
            os.chown(path, int(uid), int(gid))
        except OSError:
            pass
