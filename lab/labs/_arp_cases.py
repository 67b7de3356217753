"""arp-basic's made-up cases: is-at replies and neighbour tables drawn from the run's
seed, each with its right answer known as it is made, for the pure functions
parse_is_at and find_entry (graded on the live case and on these)."""
from __future__ import annotations

from dataclasses import dataclass

from pyroute2.netlink.rtnl.ndmsg import ndmsg
from scapy.layers.l2 import ARP, Ether

from lab.kernel import NUD_STATES

NUD = {name: number for number, name in NUD_STATES.items()}  # "STALE" -> 0x04


def draw_mac(rng) -> str:
    octets = [rng.randrange(256) for _ in range(6)]
    octets[0] = octets[0] & 0xFC | 0x02  # unicast, locally administered, like the hosts'
    return ":".join(f"{o:02x}" for o in octets)


def one_off(address: str, rng, separator: str, base: int) -> str:
    """address with one of its parts (an IP's octet, a MAC's byte) changed."""
    parts = [int(p, base) for p in address.split(separator)]
    index = rng.randrange(1, len(parts))  # not the first: a MAC stays unicast
    parts[index] = rng.choice([v for v in range(1, 255) if v != parts[index]])
    return separator.join(str(p) if base == 10 else f"{p:02x}" for p in parts)


def made_up_replies(rng) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """(sender, target) of is-at replies, each (ip, mac); the right answer is the sender.

    One pair differs in a single octet and a single byte, so any mix of sender and
    target fields shows; one lies outside 10.0.0.0/8.
    """
    octet = lambda: rng.randrange(1, 255)  # noqa: E731
    twin = (f"10.{octet()}.{octet()}.{octet()}", draw_mac(rng))
    return [
        ((f"10.{octet()}.{octet()}.{octet()}", draw_mac(rng)), (f"10.{octet()}.{octet()}.{octet()}", draw_mac(rng))),
        (twin, (one_off(twin[0], rng, ".", 10), one_off(twin[1], rng, ":", 16))),
        ((f"192.168.{octet()}.{octet()}", draw_mac(rng)), (f"172.{rng.randrange(16, 32)}.{octet()}.{octet()}",
                                                            draw_mac(rng))),
    ]


def is_at_frame(sender: tuple[str, str], target: tuple[str, str]):
    """An is-at frame as h1 would receive it, read back from its bytes like the live one."""
    (ip, mac), (target_ip, target_mac) = sender, target
    frame = Ether(dst=target_mac, src=mac) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=target_mac, pdst=target_ip)
    return Ether(bytes(frame))


def neighbour(ip: str, mac: str | None, state: str, ifindex: int) -> ndmsg:
    """A neighbour entry shaped as pyroute2 returns one from the kernel (RTM_NEWNEIGH);
    an INCOMPLETE one has no NDA_LLADDR, as in the kernel's own answers."""
    attrs = [("NDA_DST", ip)] + ([("NDA_LLADDR", mac)] if mac else []) + [
        ("NDA_PROBES", 0), ("NDA_CACHEINFO", {"ndm_confirmed": 0, "ndm_used": 0, "ndm_updated": 0,
                                              "ndm_refcnt": 0})]
    header = {"length": 64 + 12 * bool(mac), "type": 28, "flags": 2, "sequence_number": 255, "pid": 0,
              "error": None, "target": "localhost"}
    return ndmsg().load({"family": 2, "__pad": (), "ifindex": ifindex, "state": NUD[state], "flags": 0,
                         "ndm_type": 1, "attrs": attrs, "header": header, "event": "RTM_NEWNEIGH"})


@dataclass(frozen=True)
class Lookup:
    """One find_entry case: the table, the address, the right answer and, if wrong, a hint."""

    where: str
    table: list
    ip: str
    truth: str | None
    hint: str = ""


def made_up_lookups(rng, subnet: str, ifindex: int) -> list[Lookup]:
    """Look-ups in a table of seven entries drawn in the run's subnet: one in the middle,
    one INCOMPLETE (no MAC yet), and x.y.z.n after x.y.z.nd, which a string match confuses.
    No other address starts with another, so a string match goes wrong on that pair only,
    where its hint is. Each look-up gets its own copy of the table, so one that changes it
    spoils no other."""
    short = rng.randrange(4, 25)
    taken = [short, short * 10 + rng.randrange(10)]
    for _ in range(5):
        taken.append(rng.choice([n for n in range(4, 255) if not any(
            str(n).startswith(str(t)) or str(t).startswith(str(n)) for t in taken)]))
    longer, others = taken[1], taken[2:]
    rows = [(others[0], "REACHABLE"), (longer, "STALE"), (others[1], "STALE"), (others[2], "DELAY"),
            (others[3], "INCOMPLETE"), (short, "REACHABLE"), (others[4], "PERMANENT")]
    entries = [(f"{subnet}.{n}", None if state == "INCOMPLETE" else draw_mac(rng), state) for n, state in rows]
    where = f"a made-up table of {len(entries)} entries"

    def case(index: int, hint: str = "") -> Lookup:
        table = [neighbour(ip, mac, state, ifindex) for ip, mac, state in entries]
        return Lookup(where, table, entries[index][0], entries[index][1], hint)

    incomplete, near, far = entries[4][0], entries[5][0], entries[1][0]
    return [case(2),
            case(4, f"the entry for {incomplete} is INCOMPLETE: its MAC is not known yet (no NDA_LLADDR), "
                    "so return None"),
            case(5, f"compare whole addresses with ==: {near} is not {far}, which comes first in the table")]
