"""Topologies: Mininet Topo classes in topologies/, one file each.

A file topologies/NAME.py defines a Topo subclass and the dictionary
`topos = {"NAME": TheClass}`, the convention of `mn --custom FILE --topo NAME`, so every
topology of the lab also works with plain Mininet. Loading checks the graph before any
network is built, so a mistake names the file and the problem instead of failing
half-way through Mininet.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from .errors import TopologyError
from .loader import load_file
from .paths import TOPOLOGIES, shown

NODE_NAME = re.compile(r"^[a-z][a-z0-9]*$")


def available(directory: Path = TOPOLOGIES) -> list[str]:
    """Names of the topology files in directory."""
    return sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))


def parse_spec(spec: str) -> tuple[str, list]:
    """'star,4' -> ('star', [4]), as `mn --topo` reads it."""
    name, *raw = spec.split(",")
    args = []
    for item in raw:
        try:
            args.append(int(item))
        except ValueError:
            args.append(item)
    return name, args


def load(name: str, args: list | tuple = (), kwargs: dict | None = None,
         directory: Path = TOPOLOGIES):
    """Build and check the Topo that topologies/NAME.py offers as topos[NAME]."""
    path = directory / f"{name}.py"
    if not path.is_file():
        raise TopologyError(
            f"no topology named {name!r}; available: {', '.join(available(directory)) or 'none'}")
    module = load_file(path, TopologyError, "lab_topology")
    topos = getattr(module, "topos", None)
    if not isinstance(topos, dict) or name not in topos:
        raise TopologyError(f"{shown(path)}: define topos = {{{name!r}: YourTopoClass}} "
                            "so the lab and `mn --custom` can find it")
    try:
        topo = topos[name](*args, **(kwargs or {}))
    except KeyError as exc:  # Mininet's Topo.addLink looks the ends up by name
        raise TopologyError(f"{shown(path)}: a link names {exc.args[0]!r}, which is not a node; "
                            "add it with addHost or addSwitch first") from None
    except Exception as exc:
        raise TopologyError(f"{shown(path)}: building {name!r} failed: "
                            f"{type(exc).__name__}: {exc}") from None
    problems = check(topo)
    if problems:
        raise TopologyError(f"{shown(path)}: {problems[0]}")
    return topo


def check(topo) -> list[str]:
    """Every reason the graph cannot become a working network; empty if it can."""
    problems = []
    nodes = set(topo.nodes())
    for node in sorted(nodes):
        if not NODE_NAME.match(node):
            problems.append(f"node name {node!r} must be lowercase letters then digits, like h1 or s1")
    for a, b in topo.links():
        for end in (a, b):
            if end not in nodes or end not in topo.g.node:
                problems.append(f"link {a}-{b}: no node named {end!r}; add it with addHost or addSwitch first")
    if not topo.hosts():
        problems.append("it has no hosts")
    seen: dict[str, str] = {}
    for host in topo.hosts():
        ip = topo.nodeInfo(host).get("ip")
        if ip is None:
            continue
        try:
            address = str(ipaddress.ip_interface(ip).ip)
        except ValueError:
            problems.append(f"host {host}: {ip!r} is not an address like 10.0.0.1/24")
            continue
        if address in seen:
            problems.append(f"hosts {seen[address]} and {host} both have address {address}")
        seen[address] = host
    return problems


LAB_RANGE = ipaddress.ip_network("10.0.0.0/16")  # where topology files put their hosts


def vary(topo, rng) -> None:
    """Give this run its own addresses: hosts' 10.0.x.y move to a subnet drawn within
    10.0.0.0/8 and their host parts are renumbered by one drawn permutation (so two
    hosts that shared a subnet still do), and every host gets a drawn, locally
    administered MAC. Code that hard-codes an address, or guesses one, fails.

    Every address of the topology moves the same way: a node's own, one a link gives
    an interface (params1/params2 ip, a router's second interface) and a default
    route's gateway ('via 10.0.1.254'), so a router and its hosts still agree."""
    offset = rng.randrange(1, 255) << 16 | rng.randrange(0, 240) << 8
    renumber = dict(zip(range(1, 255), rng.sample(range(1, 255), 254)))

    def moved(address: str) -> str:
        interface = ipaddress.ip_interface(address)
        if interface.ip not in LAB_RANGE or not 0 < int(interface.ip) & 0xFF < 255:
            return address
        ip = ipaddress.ip_address((int(interface.ip) & ~0xFF | renumber[int(interface.ip) & 0xFF]) + offset)
        return f"{ip}/{interface.network.prefixlen}" if "/" in address else str(ip)

    used: set[str] = set()
    for host in topo.hosts():
        info = topo.nodeInfo(host)
        if info.get("ip"):
            info["ip"] = moved(info["ip"])
        route = info.get("defaultRoute")
        if isinstance(route, str) and "via" in route.split():
            info["defaultRoute"] = " ".join(moved(word) if previous == "via" else word
                                            for previous, word in zip([""] + route.split(), route.split()))
        mac = None
        while mac is None or mac in used:
            octets = [rng.randrange(256) for _ in range(6)]
            octets[0] = octets[0] & 0xFC | 0x02  # unicast, locally administered
            mac = ":".join(f"{o:02x}" for o in octets)
        used.add(mac)
        info["mac"] = mac
    for *_ends, info in topo.links(withKeys=True, withInfo=True):
        for key in ("params1", "params2"):
            if (info.get(key) or {}).get("ip"):
                info[key] = {**info[key], "ip": moved(info[key]["ip"])}


def draw(topo) -> str:
    """A plain-text list of the nodes and links, for `lab shell` and the docs."""
    lines = []
    for host in topo.hosts():
        lines.append(f"host   {host:<6} {topo.nodeInfo(host).get('ip', '(Mininet default address)')}")
    for switch in topo.switches():
        lines.append(f"switch {switch}")
    for a, b in topo.links():
        lines.append(f"link   {a} -- {b}")
    return "\n".join(lines)
