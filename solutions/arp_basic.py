"""Reference solution of exercises/arp_basic.py. SPOILER: students, close this file.

The lab runs these functions wherever a TODO is not done yet, and instructors and CI
run the whole lab on them with --solution, so they must stay correct.
"""
from scapy.layers.l2 import ARP, Ether

BROADCAST = "ff:ff:ff:ff:ff:ff"
UNKNOWN_MAC = "00:00:00:00:00:00"


def build_who_has(my_mac: str, my_ip: str, target_ip: str):
    """A broadcast ARP request: every host hears it, only target_ip answers."""
    return (Ether(dst=BROADCAST, src=my_mac)
            / ARP(op=1, hwsrc=my_mac, psrc=my_ip, hwdst=UNKNOWN_MAC, pdst=target_ip))


def parse_is_at(reply) -> tuple[str, str]:
    """In an is-at reply, the sender fields describe the host that answered."""
    return reply[ARP].psrc, reply[ARP].hwsrc


def find_entry(neighbours: list, ip: str) -> str | None:
    """The resolved MAC for ip; an INCOMPLETE or FAILED entry has none."""
    for entry in neighbours:
        if entry.get_attr("NDA_DST") == ip:
            return entry.get_attr("NDA_LLADDR")
    return None


def build_gratuitous(my_mac: str, my_ip: str):
    """An ARP request about the sender's own address, sent to everyone."""
    return (Ether(dst=BROADCAST, src=my_mac)
            / ARP(op=1, hwsrc=my_mac, psrc=my_ip, hwdst=UNKNOWN_MAC, pdst=my_ip))
