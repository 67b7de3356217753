"""Put frames on a host's wire and catch the answers, from inside the host.

A raw AF_PACKET socket created inside a host's namespace sends and receives on that
host's interface, so a crafted frame leaves h1-eth0 exactly as the student built it,
and scapy's routing (which belongs to the namespace scapy was imported in) never
gets involved.
"""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from .netns import entered

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


class HostPort:
    """A host's interface seen through a raw socket opened in its namespace."""

    def __init__(self, netns_path: str, interface: str):
        self.interface = interface
        with entered(netns_path):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.bind((interface, 0))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "HostPort":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def send(self, frame: bytes) -> float:
        """Send one Ethernet frame; return the time it was handed to the kernel."""
        sent_at = time.time()
        self.sock.send(frame)
        return sent_at

    def drain(self) -> None:
        """Forget frames queued so far, so the next expect sees only what follows."""
        while select.select([self.sock], [], [], 0)[0]:
            self.sock.recv(65535)

    def expect(self, wanted: Callable[[bytes], bool], timeout: float) -> bytes | None:
        """The first incoming frame for which wanted(frame) is true, or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.sock], [], [], left)[0]:
                break
            data, address = self.sock.recvfrom(65535)
            if address[2] != PACKET_OUTGOING and wanted(data):
                return data
        return None
