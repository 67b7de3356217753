"""What the engine writes into a host's kernel, checked in the kernel itself.

KernelView's writes (links, addresses, ARP entries, routes, sysctls, qdiscs), checksum
offload, netem and the lab's nft table run against a namespace of the test's own: a
forked child unshares it and holds it, and the fixture checks it is gone afterwards.
Every write is read back by another way than the one that wrote it (`ip -j`, `tc -j`,
`nft -j` through nsenter, /proc, a raw ethtool ioctl), so a write that only claims
success fails here.
"""
from __future__ import annotations

import array
import ctypes
import fcntl
import json
import os
import socket
import struct
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.errors import SetupError
from lab.impair import netem_arguments

CLONE_NEWNET = 0x40000000


# --- no root: tc-netem's words as pyroute2's arguments ---

def test_netem_options_become_pyroute2_arguments():
    assert netem_arguments("delay 10ms reorder 25% duplicate 2%") == {
        "delay": 10_000, "prob_reorder": 25.0, "duplicate": int((2**32 - 1) * 2 / 100)}
    assert netem_arguments("delay 1s 200us 30 loss random 1.5% 20% limit 50 rate 1mbit") == {
        "delay": 1_000_000, "jitter": 200, "delay_corr": 30.0, "loss": 1.5, "loss_corr": 20.0,
        "limit": 50, "rate": "1mbit"}
    assert netem_arguments("corrupt 1% reorder 10% 5% gap 3") == {
        "prob_corrupt": 1.0, "prob_reorder": 10.0, "corr_reorder": 5.0, "gap": 3}
    assert netem_arguments("") == {}


@pytest.mark.parametrize("options, complaint", [
    ("delay", "delay needs a time after it"),
    ("delay fast", "delay needs a time after it"),
    ("loss 5x", "loss needs a percent after it"),
    ("jitter 2ms", "unknown word 'jitter'"),
    ("gap 2", "gap goes with reorder"),
])
def test_netem_options_that_make_no_sense_are_named(options, complaint):
    with pytest.raises(SetupError, match=complaint):
        netem_arguments(options)


# --- root: a namespace of the test's own ---

root = pytest.mark.root


def holders(inode: int) -> list[str]:
    """Processes that are in, or hold an fd of, the network namespace inode."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry / "ns" / "net").st_ino == inode:
                found.append(entry.name)
            found += [entry.name for fd in (entry / "fd").iterdir()
                      if os.readlink(fd) == f"net:[{inode}]"]
        except OSError:
            continue
    return found


@pytest.fixture
def netns():
    """The path of a new network namespace, held by a forked child until the test ends."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: unshare, say so, wait for the pipe to close
        try:
            os.close(ready_r)
            os.close(hold_w)
            if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) == 0:
                os.write(ready_w, b"1")
                os.read(hold_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        assert os.read(ready_r, 1) == b"1", "unshare(CLONE_NEWNET) failed"
        path = f"/proc/{pid}/ns/net"
        inode = os.stat(path).st_ino
        yield path
    finally:
        os.close(ready_r)
        os.close(hold_w)
        os.waitpid(pid, 0)
    assert holders(inode) == []


@pytest.fixture
def view(netns):
    """A KernelView of the namespace, with a veth pair t-a/t-b in it."""
    from lab.kernel import KernelView
    kernel = KernelView(netns)
    kernel.route.link("add", ifname="t-a", kind="veth", peer="t-b")
    try:
        yield kernel
    finally:
        kernel.close()


def inside(netns: str, *command: str) -> str:
    """What a command run in the namespace prints (iproute2, nft: not pyroute2)."""
    return subprocess.run(["nsenter", f"--net={netns}", *command], capture_output=True,
                          text=True, check=True, timeout=10).stdout


def ip_json(netns: str, *args: str) -> list[dict]:
    return json.loads(inside(netns, "ip", "-j", *args) or "[]")


@root
def test_set_link_writes_state_mtu_and_mac(view):
    view.set_link("t-a", up=True, mtu=1400, mac="02:00:00:aa:bb:cc")
    link = ip_json(view.netns, "link", "show", "t-a")[0]
    assert "UP" in link["flags"] and link["mtu"] == 1400 and link["address"] == "02:00:00:aa:bb:cc"
    view.set_link("t-a", up=False)
    link = ip_json(view.netns, "link", "show", "t-a")[0]
    assert "UP" not in link["flags"] and link["mtu"] == 1400  # what was not named stays
    with pytest.raises(LookupError, match="no link named t-z"):
        view.set_link("t-z", up=True)


@root
def test_set_address_replaces_the_address_with_its_broadcast(view):
    view.set_address("t-a", "10.1.2.3/24")
    view.set_address("t-a", "10.1.2.4/25")
    found = [(a["local"], a["prefixlen"], a.get("broadcast"))
             for a in ip_json(view.netns, "-4", "addr", "show", "t-a")[0]["addr_info"]]
    assert found == [("10.1.2.4", 25, "10.1.2.127")]


@root
def test_neighbours_written_deleted_and_flushed(view):
    view.set_link("t-a", up=True)
    view.set_link("t-b", up=True)
    view.set_neighbour("10.1.2.7", "02:00:00:00:00:07", "t-a")
    view.set_neighbour("10.1.2.8", "02:00:00:00:00:08", "t-a", permanent=False)
    view.set_neighbour("10.1.2.9", "02:00:00:00:00:09", "t-b")

    def table(interface):
        return {n["dst"]: (n["lladdr"], n["state"]) for n in ip_json(view.netns, "-4", "neigh", "show",
                                                                       "dev", interface)}
    assert table("t-a") == {"10.1.2.7": ("02:00:00:00:00:07", ["PERMANENT"]),
                            "10.1.2.8": ("02:00:00:00:00:08", ["REACHABLE"])}
    view.set_neighbour("10.1.2.7", "02:00:00:00:00:17", "t-a")  # replaces, no error
    assert table("t-a")["10.1.2.7"] == ("02:00:00:00:00:17", ["PERMANENT"])
    assert view.delete_neighbour("10.1.2.8", "t-a") is True
    assert view.delete_neighbour("10.1.2.8", "t-a") is False
    assert list(table("t-a")) == ["10.1.2.7"]
    view.set_neighbour("10.1.2.8", "02:00:00:00:00:08", "t-a", permanent=False)
    assert view.flush_neighbours("t-a") == 2
    assert table("t-a") == {} and list(table("t-b")) == ["10.1.2.9"]
    assert view.flush_neighbours() == 1 and table("t-b") == {}


@root
def test_set_route_writes_a_default_route_through_a_gateway(view):
    view.set_link("t-a", up=True)
    view.set_address("t-a", "10.1.2.3/24")
    view.set_route("default", "t-a", via="10.1.2.1")
    view.set_route("10.9.0.0/16", "t-a")
    routes = {r["dst"]: (r.get("gateway"), r["dev"]) for r in ip_json(view.netns, "-4", "route", "show")}
    assert routes["default"] == ("10.1.2.1", "t-a") and routes["10.9.0.0/16"] == (None, "t-a")


@root
def test_sysctl_is_written_in_the_namespace_only(view):
    ours = Path("/proc/sys/net/ipv4/conf/all/arp_accept").read_text()
    assert view.sysctl("net.ipv4.conf.t-a.arp_accept", 1) == "0"
    assert view.sysctl("net.ipv4.conf.all.arp_accept", "1") == "0"
    assert view.sysctl("net.ipv4.conf.all.arp_accept") == "1"
    assert inside(view.netns, "cat", "/proc/sys/net/ipv4/conf/t-a/arp_accept").strip() == "1"
    assert inside(view.netns, "cat", "/proc/sys/net/ipv4/conf/all/arp_accept").strip() == "1"
    assert Path("/proc/sys/net/ipv4/conf/all/arp_accept").read_text() == ours
    view.route.link("set", index=view.index("t-b"), ifname="t.b")  # a dot in a name: say it with slashes
    assert view.sysctl("net/ipv4/conf/t.b/arp_ignore", 2) == "0"
    assert inside(view.netns, "cat", "/proc/sys/net/ipv4/conf/t.b/arp_ignore").strip() == "2"
    with pytest.raises(LookupError, match="no sysctl net.ipv4.no_such_key"):
        view.sysctl("net.ipv4.no_such_key", 1)


def tx_checksumming(netns: str, interface: str) -> int:
    """ETHTOOL_GTXCSUM, asked by hand (what `ethtool -k IF` shows as tx-checksumming)."""
    from lab.netns import entered
    with entered(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        value = array.array("I", [0x16, 0])
        fcntl.ioctl(sock.fileno(), 0x8946, struct.pack("16sP", interface.encode(),
                                                       value.buffer_info()[0]).ljust(40, b"\0"))
        return value[1]
    finally:
        sock.close()


@root
def test_checksums_in_software_turns_tx_checksum_offload_off(view):
    from lab.network import checksums_in_software
    assert tx_checksumming(view.netns, "t-a") == 1  # a veth's default
    checksums_in_software(view.netns, "t-a")
    checksums_in_software(view.netns, "t-a")  # already off: nothing to change, no error
    assert tx_checksumming(view.netns, "t-a") == 0 and tx_checksumming(view.netns, "t-b") == 1


def qdiscs(netns: str, interface: str) -> list[str]:
    return [q["kind"] for q in json.loads(inside(netns, "tc", "-j", "qdisc", "show", "dev", interface))]


def netem_in_kernel(netns: str) -> bool:
    done = subprocess.run(["nsenter", f"--net={netns}", "tc", "qdisc", "add", "dev", "t-b", "root",
                           "netem", "delay", "1ms"], capture_output=True, text=True)
    subprocess.run(["nsenter", f"--net={netns}", "tc", "qdisc", "del", "dev", "t-b", "root"],
                   capture_output=True)
    return done.returncode == 0


@root
def test_netem_missing_tells_a_kernel_without_netem(view):
    from lab.impair import netem, netem_missing
    host = SimpleNamespace(kernel=view, interface="t-a", netns=view.netns)
    if netem_in_kernel(view.netns):
        assert netem_missing(host) == "" and "netem" not in qdiscs(view.netns, "t-a")
        with netem(host, "delay 10ms reorder 25% duplicate 2%"):
            assert "netem" in qdiscs(view.netns, "t-a")
    else:
        assert netem_missing(host) == "Specified qdisc kind is unknown"
        with pytest.raises(SetupError, match="netem delay 5ms on t-a: Specified qdisc kind is unknown"):
            with netem(host, "delay 5ms"):
                pass
    assert "netem" not in qdiscs(view.netns, "t-a")
    with netem(host, ""):  # nothing asked, nothing tried
        pass


@root
def test_another_tc_refusal_is_not_a_missing_netem(view):
    from lab.impair import netem_missing
    from lab.kernel import KernelView

    class Vanished(KernelView):
        """The interface went between its lookup and the write: ENODEV, not ENOENT."""
        def index(self, interface):
            return 9999

    stale = Vanished(view.netns)
    try:
        host = SimpleNamespace(kernel=stale, interface="t-a", netns=view.netns)
        with pytest.raises(SetupError, match="^netem delay 10ms on t-a: No such device$"):
            netem_missing(host)
    finally:
        stale.close()


@root
def test_set_qdisc_and_delete_qdisc(view):
    view.set_qdisc("t-a", "tbf", rate="1mbit", burst=10000, latency="50ms")
    assert qdiscs(view.netns, "t-a") == ["tbf"]
    view.delete_qdisc("t-a")
    assert "tbf" not in qdiscs(view.netns, "t-a")


def send_udp(netns: str, port: int, count: int = 1) -> None:
    from lab.netns import entered
    with entered(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        for _ in range(count):
            try:
                sock.sendto(b"x", ("127.0.0.1", port))
            except PermissionError:  # dropped on its way out: netfilter says EPERM
                pass


def ruleset(netns: str) -> list[dict]:
    return json.loads(inside(netns, "nft", "-j", "list", "ruleset"))["nftables"]


@root
def test_firewall_rules_live_in_the_namespace(view):
    from lab.firewall import Firewall
    view.set_link("lo", up=True)
    ours = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    firewall = Firewall(view.netns)
    firewall.add("guard", "output", "udp dport 9999")
    rules = [item["rule"] for item in ruleset(view.netns) if "rule" in item]
    assert [(r["table"], r["chain"], r["comment"]) for r in rules] == [("lab", "output", "guard")]
    send_udp(view.netns, 9999, 3)
    send_udp(view.netns, 9998)
    assert firewall.dropped("guard") == 3 and firewall.dropped("nothing") == 0
    with pytest.raises(SetupError, match=r"^nft failed: Error: syntax error") as raised:
        firewall.add("broken", "output", "udp dport")
    assert "\n" not in str(raised.value)
    firewall.remove("guard")
    assert not any("rule" in item for item in ruleset(view.netns))
    firewall.close()
    assert not any("table" in item for item in ruleset(view.netns))
    assert subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout == ours


def received(sock: socket.socket) -> int:
    count = 0
    sock.setblocking(False)
    try:
        while sock.recv(64):
            count += 1
    except BlockingIOError:
        return count


@root
def test_random_loss_drops_at_the_door_and_counts(view):
    from lab.firewall import TABLE, Firewall
    from lab.impair import random_loss
    from lab.netns import entered
    view.set_link("lo", up=True)
    host = SimpleNamespace(kernel=view, interface="lo", netns=view.netns, firewall=Firewall(view.netns))
    with entered(view.netns):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver:
        receiver.bind(("127.0.0.1", 9999))
        with random_loss(host, "most", "udp dport 9999", 99) as loss:
            send_udp(view.netns, 9999, 20)
            arrived = received(receiver)
            assert arrived + loss.dropped() == 20 and loss.dropped() >= 15
        assert loss.dropped() == loss.final
        # first_only: a value the rule has seen passes, so at most the first is lost
        with random_loss(host, "once", "udp dport 9999", 99, first_only="udp dport") as loss:
            send_udp(view.netns, 9999, 5)
            sets = [item["set"]["name"] for item in ruleset(view.netns) if "set" in item]
            assert sets == ["seen_once"]
        assert loss.dropped() <= 1 and received(receiver) + loss.dropped() == 5
    assert not any("rule" in item or "set" in item for item in ruleset(view.netns))
    host.firewall.close()
    assert not any(item.get("table", {}).get("name") == TABLE for item in ruleset(view.netns))
