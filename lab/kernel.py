"""What a host's kernel knows, read and written over netlink with pyroute2.

One KernelView per host holds netlink sockets opened inside that host's namespace
(a socket stays bound to the namespace it was created in), so every read is one
round trip to the real kernel: links, addresses, the neighbour (ARP) table, and TCP or
UDP sockets with their states from sock_diag. The same view writes: links up or down,
MTU and MAC, addresses, static ARP entries, routes, queueing disciplines, and that
namespace's sysctls, each one call, so the network's bring-up and a lab's steps say
what they change instead of typing shell commands into the host.

Writes raise pyroute2's NetlinkError with the kernel's own reason (extended ack),
LookupError for an interface or sysctl the namespace lacks.
"""
from __future__ import annotations

import ipaddress
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
NUD_REACHABLE, NUD_NOARP, NUD_PERMANENT = 0x02, 0x40, 0x80
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
    """Netlink reads and writes of one network namespace (a Mininet host's, given the
    path of its namespace, /proc/<shell pid>/ns/net)."""

    def __init__(self, netns_path: str):
        self.netns = netns_path
        with entered(netns_path):
            self.route = IPRoute(ext_ack=True)  # a refusal carries the kernel's reason
            self.diag = DiagSocket()
            # Where its first port is taken (a second view of this namespace), bind()
            # makes a new socket, in the namespace the caller is in: so bind here.
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


    # --- writes ---

    def index(self, interface: str) -> int:
        """The interface's index in this namespace."""
        found = self.route.link_lookup(ifname=interface)
        if not found:
            raise LookupError(f"no link named {interface}")
        return found[0]

    def set_link(self, interface: str, up: bool | None = None, mtu: int | None = None,
                 mac: str | None = None) -> None:
        """Bring interface up or down, change its MTU or MAC; None leaves that alone.

        A veth takes a new MAC while up, so nothing flaps and no frame is lost.
        """
        changes = {}
        if up is not None:
            changes["state"] = "up" if up else "down"
        if mtu is not None:
            changes["mtu"] = int(mtu)
        if mac is not None:
            changes["address"] = mac
        if changes:
            self.route.link("set", index=self.index(interface), **changes)

    def set_address(self, interface: str, address: str) -> None:
        """Make address ('10.0.0.1/24') the interface's only IPv4 address, with the
        subnet's broadcast address, as `ifconfig IF ADDRESS` does."""
        net = ipaddress.ip_interface(address)
        index = self.index(interface)
        for msg in self.route.get_addr(family=socket.AF_INET, index=index):
            self.route.addr("del", index=index, address=msg.get_attr("IFA_ADDRESS"),
                            prefixlen=msg["prefixlen"])
        extra = {}
        if net.network.prefixlen < 31:
            extra["broadcast"] = str(net.network.broadcast_address)
        self.route.addr("add", index=index, address=str(net.ip), prefixlen=net.network.prefixlen,
                        **extra)

    def set_neighbour(self, ip: str, mac: str, interface: str, permanent: bool = True) -> None:
        """Write an ARP entry ip -> mac on interface, replacing any entry for ip.

        permanent=True: PERMANENT, what `arp -s` makes: never checked, never expires.
        permanent=False: REACHABLE, as if learnt from a reply just now; the kernel ages
        it to STALE and checks it again before trusting it.
        """
        self.route.neigh("replace", dst=ip, lladdr=mac, ifindex=self.index(interface),
                         family=socket.AF_INET, state=NUD_PERMANENT if permanent else NUD_REACHABLE)

    def delete_neighbour(self, ip: str, interface: str) -> bool:
        """Remove ip's ARP entry on interface; False if there was none."""
        index = self.index(interface)
        for msg in self.neighbour_messages():
            if msg["ifindex"] == index and msg.get_attr("NDA_DST") == ip:
                self.route.neigh("del", dst=ip, ifindex=index, family=socket.AF_INET)
                return True
        return False

    def flush_neighbours(self, interface: str | None = None) -> int:
        """Empty the ARP table (of interface only, if given), PERMANENT entries too;
        how many entries went. NOARP entries stay: they are not learnt, they are rules."""
        index = None if interface is None else self.index(interface)
        gone = 0
        for msg in self.neighbour_messages():
            if msg["state"] & NUD_NOARP or index not in (None, msg["ifindex"]):
                continue
            self.route.neigh("del", dst=msg.get_attr("NDA_DST"), ifindex=msg["ifindex"],
                             family=socket.AF_INET)
            gone += 1
        return gone

    def set_route(self, destination: str, interface: str, via: str | None = None) -> None:
        """Route destination ('default' or '10.1.0.0/16') out of interface, through the
        gateway via if given; replaces the route to destination if there is one."""
        target = {} if destination == "default" else {"dst": destination}
        if via is not None:
            target["gateway"] = via
        self.route.route("replace", oif=self.index(interface), family=socket.AF_INET, **target)

    def sysctl(self, key: str, value: str | int | None = None) -> str:
        """Read key ('net.ipv4.conf.h1-eth0.arp_accept', or with slashes when a name
        holds a dot) in this namespace; with a value, write it. Returns the value it
        had before."""
        path = "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))
        if ".." in path.split("/"):
            raise LookupError(f"no sysctl {key}")
        with entered(self.netns):  # /proc/sys/net shows the namespace of whoever opens it
            try:
                with open(path) as f:
                    before = f.read().strip()
                if value is not None:
                    with open(path, "w") as f:
                        f.write(str(value))
            except FileNotFoundError:
                raise LookupError(f"no sysctl {key} in this kernel") from None
        return before

    def set_qdisc(self, interface: str, kind: str, **arguments) -> None:
        """Put a root queueing discipline of kind ('netem', 'tbf', ...) with pyroute2's
        arguments for that kind on interface, replacing none: one may be there already."""
        self.route.tc("add", kind, self.index(interface), **arguments)

    def delete_qdisc(self, interface: str) -> None:
        """Remove interface's root queueing discipline: back to the default."""
        self.route.tc("del", index=self.index(interface))


def _memory(msg) -> dict:
    """SKMEMINFO, which pyroute2 0.7 hands over as hex text: nine native 32-bit counters."""
    raw = msg.get_attr("INET_DIAG_SKMEMINFO")
    if not raw:
        return {}
    data = bytes.fromhex(raw.replace(":", ""))
    values = struct.unpack(f"={len(data) // 4}I", data[:len(data) // 4 * 4])
    return dict(zip(SKMEMINFO, values))
