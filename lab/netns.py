"""Network namespaces: the run's private one, and stepping into a host's.

Every run unshares a network namespace of its own before it builds anything, so
Mininet's switches and veths exist only there: nothing touches the host's interfaces,
no frame can leave, two runs never collide on names, and the kernel removes it all when
the last process of the run exits, even after SIGKILL.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare_network() -> None:
    """Move this process (and every child it starts later) into a new, empty netns."""
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    # A fresh namespace has sysctls at kernel defaults: keep the bridge away from
    # netfilter and IPv6 chatter (DAD, router solicitations) off the captured wire.
    for key, value in (
        ("net/bridge/bridge-nf-call-arptables", "0"),
        ("net/bridge/bridge-nf-call-iptables", "0"),
        ("net/bridge/bridge-nf-call-ip6tables", "0"),
        ("net/ipv6/conf/all/disable_ipv6", "1"),
        ("net/ipv6/conf/default/disable_ipv6", "1"),
    ):
        write_sysctl(key, value)
    _skip_small_ifindexes()


def _skip_small_ifindexes(pairs: int = 8) -> None:
    """Make this namespace number its next interfaces from 2 * pairs + 2 on.

    Mininet creates each veth pair with the host's end already in the host's
    namespace, where it is interface 2. Were the switch's end also number 2 here,
    the kernel's link watcher would take it for a plain device and delay its carrier
    event by up to a second, leaving that switch port dead at the start of the run.
    """
    from pyroute2.iproute.linux import IPRoute
    with IPRoute() as route:
        route.link("set", index=1, state="up")  # lo: scapy looks for 127.0.0.1 on import
        for _ in range(pairs):  # veth, as this kernel may lack the dummy driver
            route.link("add", ifname="lab-skip", kind="veth", peer="lab-skip-peer")
            route.link("del", ifname="lab-skip")


def write_sysctl(key: str, value: str) -> bool:
    """Write a /proc/sys entry of the current netns; False if the kernel lacks it."""
    try:
        with open(f"/proc/sys/{key}", "w") as f:
            f.write(value)
        return True
    except FileNotFoundError:
        return False


def in_private_netns() -> bool:
    """True if this process no longer shares PID 1's network namespace."""
    try:
        return os.stat("/proc/self/ns/net").st_ino != os.stat("/proc/1/ns/net").st_ino
    except PermissionError:
        return False


def setns(path: str) -> None:
    """Move the calling thread into the network namespace at path for good."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns({path})")
    finally:
        os.close(fd)


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Run a block inside another netns; sockets opened there stay bound to it."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        setns(path)
        try:
            yield
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "setns(back)")
    finally:
        os.close(home)


def netns_path(pid: int) -> str:
    """The namespace file of a Mininet host, whose shell is pid."""
    path = f"/proc/{pid}/ns/net"
    if not os.path.exists(path):
        raise OSError(errno.ESRCH, f"no process {pid}")
    return path
