"""Exercise arp-basic: find a neighbour's MAC address with ARP.

    h1 ---+
    h2 ---s1      (one Ethernet segment: every host hears a broadcast)
    h3 ---+

Addresses and MACs change every run (the report lists them at the top): use the
arguments your functions get, never addresses copied from a report.

Run it:    sudo python -m lab run arp-basic
Grade it:  sudo python -m lab check arp-basic

Replace each `raise NotImplementedError` with your code. Until you do, the lab runs
its reference in that place and labels it "reference". The lab calls your functions
from inside the host they belong to (build_who_has as h1, build_gratuitous as h3),
then puts what they return on that host's wire and grades what really crossed it.
parse_is_at and find_entry are also tried on replies and tables the lab makes up, so
they must work for any input, not only this run's.

Scapy in one breath: Ether(dst=..., src=...) / ARP(op=..., hwsrc=..., psrc=...,
hwdst=..., pdst=...) builds a frame; frame[ARP].psrc reads a field back.
"""
from scapy.layers.l2 import ARP, Ether  # noqa: F401  (you will need both)

BROADCAST = "ff:ff:ff:ff:ff:ff"


def build_who_has(my_mac: str, my_ip: str, target_ip: str):
    """TODO 1: the frame h1 sends to ask which MAC address has target_ip.

    my_mac, my_ip are h1's own addresses. Return a whole frame: Ether(...) / ARP(...).
    Think about:
    - Ethernet destination: h1 does not know the target's MAC yet. Who must receive it?
    - ARP op: 1 is a request (who-has), 2 a reply (is-at).
    - hwsrc, psrc describe the asker, so the answer can find its way back;
      pdst is the address asked about; hwdst is what is unknown (00:00:00:00:00:00).
    """
    raise NotImplementedError


def parse_is_at(reply) -> tuple[str, str]:
    """TODO 2: return (ip, mac) of the host that answered, read from its is-at reply.

    reply is the whole frame h1 received: reply[ARP] is its ARP layer. In a reply,
    the sender fields (psrc, hwsrc) describe the host that answered, and the target
    fields (pdst, hwdst) describe the one that asked.
    """
    raise NotImplementedError


def find_entry(neighbours: list, ip: str) -> str | None:
    """TODO 3: the MAC address an ARP table holds for ip, or None if it holds none.

    neighbours is a host's table exactly as pyroute2 returns it
    (IPRoute().get_neighbours()). For each entry:
    - entry.get_attr("NDA_DST") is the IP address,
    - entry.get_attr("NDA_LLADDR") is the MAC address (None while unresolved:
      an INCOMPLETE entry has no MAC yet),
    - entry["state"] is the NUD state (2 REACHABLE, 4 STALE, ...).
    """
    raise NotImplementedError


def build_gratuitous(my_mac: str, my_ip: str):
    """TODO 4: the frame a host broadcasts to announce "my_ip is at my_mac", unasked.

    A gratuitous ARP asks about the sender's own address: sender and target IP are the
    same. Hosts that listen update (or, if they accept announcements, create) their
    entry for my_ip. Return a whole frame, as in TODO 1.
    """
    raise NotImplementedError
