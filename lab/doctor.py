"""`lab doctor`: what the lab needs, found or missing, one line each.

Kernel features are probed for real, inside a throwaway network namespace
(`unshare -n`), so the probe never touches the host's own interfaces.
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess

SETUP = "run sudo sh scripts/setup.sh"


def _probe(script: str) -> tuple[bool, str]:
    """Run a shell script in a new, empty network namespace; (succeeded, last line)."""
    try:
        done = subprocess.run(["unshare", "-n", "sh", "-ec", script], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    lines = (done.stderr or done.stdout).strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else ""


def diagnose() -> list[tuple[bool | None, str, str]]:
    """(found, what, one line) per need; found is None for what is optional."""
    root = os.geteuid() == 0
    found = [(root, "root", "yes" if root else "no: run the lab with sudo")]
    for module, package in (("mininet", "mininet"), ("scapy", "python3-scapy"),
                            ("pyroute2", "python3-pyroute2"), ("nftables", "python3-nftables")):
        try:
            imported = importlib.import_module(module)
            version = getattr(imported, "VERSION", None) or getattr(imported, "__version__", "")
            if version in ("", "unknown"):
                version = "(version unknown)"
            if module == "mininet":
                version = importlib.import_module("mininet.net").VERSION
            found.append((True, module, f"{version} {os.path.dirname(imported.__file__)}".strip()))
        except ImportError:
            found.append((False, module, f"missing (Debian package {package}); {SETUP}"))
    for tool, package, use in (("mnexec", "mininet", "starts Mininet hosts"),
                               ("brctl", "bridge-utils", "Mininet's lxbr switch (mn --switch lxbr, the benchmark's baseline)"),
                               ("tshark", "tshark", "reads captures on the command line"),
                               ("tcpdump", "tcpdump", "watch a link from `lab shell`"),
                               ("nft", "nftables", "read the lab's rules in a host by hand (nft list ruleset)"),
                               ("redis-server", "redis-server", "browser-server's database tier"),
                               ("haproxy", "haproxy", "browser-server's load balancer")):
        path = shutil.which(tool)
        found.append((bool(path), tool, f"{path}: {use}" if path else f"missing (Debian package {package}); {SETUP}"))
    if not root:
        found.append((False, "kernel", "probes of veth, bridge and netem need root"))
        return found
    ok, line = _probe("ip link add lab-a type veth peer name lab-b; ip link add lab-br type bridge")
    found.append((ok, "veth+bridge", "yes" if ok else f"no: {line}"))
    ok, line = _probe("ip link add lab-a type veth peer name lab-b; tc qdisc add dev lab-a root netem delay 1ms")
    found.append((None, "netem", "yes: delay and loss by tc" if ok else
                  "not in this kernel: labs report delay as skipped and emulate loss with nft"))
    ok, line = _probe("nft add table inet lab; nft add chain inet lab out '{ type filter hook output priority 0; }'; "
                      "nft add rule inet lab out meta l4proto udp numgen random mod 100 '<' 10 drop")
    found.append((ok, "nft-numgen", "yes: random loss with numgen" if ok else f"no: {line}"))
    ovs = shutil.which("ovs-vsctl") and os.path.isdir("/sys/module/openvswitch")
    found.append((None, "ovs", "kernel module present; not used, the lab's switches are Linux bridges" if ovs
                  else "no Open vSwitch kernel module; not needed, the lab's switches are Linux bridges"))
    return found
