"""What a host's kernel knows, read over netlink with pyroute2.

One KernelView per host holds netlink sockets opened inside that host's namespace
(a socket stays bound to the namespace it was created in), so every read is one
round trip to the real kernel: links, addresses, the neighbour (ARP) table, and TCP or
UDP sockets with their states from sock_diag.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from pyroute2.iproute.linux import IPRoute
from pyroute2.netlink.diag import DiagSocket

from .netns import entered

NUD_STATES = {
    0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY",
    0x10: "PROBE", 0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT",
}
TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
}


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: str
    up: bool


@dataclass(frozen=True)
class Neighbour:
    ip: str
    mac: str | None
    state: str
    link: str


SKMEMINFO = ("rmem_alloc", "rcvbuf", "wmem_alloc", "sndbuf", "fwd_alloc", "wmem_queued",
             "optmem", "backlog", "drops")
INET_DIAG_SKMEMINFO = 7


@dataclass(frozen=True)
class Sock:
    protocol: str
    state: str
    local: tuple[str, int]
    remote: tuple[str, int]
    expires_ms: int
    inode: int
    memory: dict  # bytes the kernel holds for it (SKMEMINFO: rmem_alloc, rcvbuf, sndbuf, ...)
    queues: tuple[int, int]  # (receive, send) queue lengths as sock_diag reports them


class KernelView:
    """Netlink reads of one network namespace (a Mininet host's, given its shell pid)."""

    def __init__(self, netns_path: str):
        with entered(netns_path):
            self.route = IPRoute()
            self.diag = DiagSocket()
        self.diag.bind()

    def close(self) -> None:
        self.route.close()
        self.diag.close()

    def links(self) -> list[Link]:
        return [Link(msg["index"], msg.get_attr("IFLA_IFNAME"), msg.get_attr("IFLA_ADDRESS"),
                     bool(msg["flags"] & 1))
                for msg in self.route.get_links()]

    def link(self, name: str) -> Link:
        for link in self.links():
            if link.name == name:
                return link
        raise LookupError(f"no link named {name}")

    def addresses(self) -> list[tuple[str, str]]:
        """(link name, address/prefix) for every IPv4 address."""
        names = {link.index: link.name for link in self.links()}
        return [(names.get(msg["index"], "?"), f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}")
                for msg in self.route.get_addr(family=socket.AF_INET)]

    def neighbour_messages(self) -> list:
        """The IPv4 neighbour table as pyroute2 returns it (what students practise on)."""
        return list(self.route.get_neighbours(family=socket.AF_INET))

    def neighbours(self) -> list[Neighbour]:
        """The IPv4 neighbour (ARP) table, sorted by address."""
        names = {link.index: link.name for link in self.links()}
        table = [Neighbour(msg.get_attr("NDA_DST"), msg.get_attr("NDA_LLADDR"),
                           NUD_STATES.get(msg["state"], hex(msg["state"])),
                           names.get(msg["ifindex"], "?"))
                 for msg in self.neighbour_messages()]
        return sorted(table, key=lambda n: tuple(int(x) for x in n.ip.split(".")))

    def neighbour(self, ip: str) -> Neighbour | None:
        """The table's entry for ip, if any."""
        return next((n for n in self.neighbours() if n.ip == ip), None)

    def sockets(self, protocol: str = "tcp") -> list[Sock]:
        """Every IPv4 socket of protocol ('tcp' or 'udp') with its kernel state."""
        number = socket.IPPROTO_TCP if protocol == "tcp" else socket.IPPROTO_UDP
        found = []
        wanted = 1 << (INET_DIAG_SKMEMINFO - 1)
        for msg in self.diag.get_sock_stats(family=socket.AF_INET, protocol=number, extensions=wanted):
            state = TCP_STATES.get(msg["idiag_state"], str(msg["idiag_state"]))
            if protocol == "udp":
                state = "CONNECTED" if msg["idiag_state"] == 1 else "UNCONNECTED"
            found.append(Sock(protocol, state, (msg["idiag_src"], msg["idiag_sport"]),
                              (msg["idiag_dst"], msg["idiag_dport"]),
                              msg["idiag_expires"], msg["idiag_inode"], _memory(msg),
                              (msg["idiag_rqueue"], msg["idiag_wqueue"])))
        return found


def _memory(msg) -> dict:
    """SKMEMINFO, which pyroute2 0.7 hands over as hex text: nine native 32-bit counters."""
    raw = msg.get_attr("INET_DIAG_SKMEMINFO")
    if not raw:
        return {}
    data = bytes.fromhex(raw.replace(":", ""))
    values = struct.unpack(f"={len(data) // 4}I", data[:len(data) // 4 * 4])
    return dict(zip(SKMEMINFO, values))
