"""The run's Mininet network, built inside the run's private namespace.

Linux bridges are the switches (this kernel has no Open vSwitch module), hosts have
IPv6 off so the capture holds only what the lab sends, and teardown is quick: the
links and bridges vanish with the namespaces, so only processes need stopping.

Mininet configures nodes by typing `ifconfig`, `ip` and `sysctl` commands into each
node's shell, one process and one prompt round trip each. Here every node holds a
KernelView of its namespace instead, and its interfaces, veth pairs, addresses,
MTU, checksum offload, sysctls and bridges are written over netlink (pyroute2). The
shells stay: Mininet's CLI and a lab's `cmd` still need them.
"""
from __future__ import annotations

import contextlib
import os
import select
import signal
import time

from mininet.link import Intf, Link
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host
from mininet.nodelib import LinuxBridge
from pyroute2.ethtool.ioctl import IoctlEthtool
from pyroute2.netlink.exceptions import NetlinkError

from .errors import SetupError
from .kernel import KernelView
from .netns import entered

SHELL_START = 3.0  # seconds a node's shell may take to print its first prompt (it takes ms)
PROMPT = chr(127)  # Mininet's shells use it as their prompt


class NetlinkNode:
    """A Mininet node whose kernel (a KernelView of its namespace) configures it.

    Also: Mininet waits for a new shell's first prompt with no end, so a shell that
    never starts (mnexec failing, say) would hang the run; here it ends in a
    SetupError naming the node and what its shell said.
    """

    isSetup = True  # Mininet's class check looks for ifconfig and brctl: neither is used
    kernel: KernelView | None = None
    _prompt_by: float | None = None

    def startShell(self, mnopts=None) -> None:
        self._prompt_by = time.monotonic() + SHELL_START
        try:
            super().startShell(mnopts)
        except BaseException:  # a SetupError below, or Ctrl-C: the node is not Mininet's yet
            self._abandon_shell()
            raise
        finally:
            self._prompt_by = None
        self.kernel = KernelView(f"/proc/{self.pid}/ns/net")

    def read(self, size: int = 1024) -> str:
        """Mininet's read, except while the shell starts: then everything up to the
        first prompt, or a SetupError if the shell exits or stays silent first."""
        if self._prompt_by is None:
            return super().read(size)
        text, self.readbuf = self.readbuf, ""
        while not text.endswith(PROMPT):
            if time.monotonic() > self._prompt_by:
                raise SetupError(f"Mininet could not start {self.name}: its shell gave no prompt "
                                 f"within {SHELL_START:.0f} s")
            if select.select([self.stdout], [], [], 0.02)[0]:  # readable, not just writable
                text += self.decoder.decode(os.read(self.stdout.fileno(), 1024))
            elif self.shell.poll() is not None:  # exited, and all it printed is read
                said = [line.strip() for line in text.splitlines() if line.strip()]
                reason = said[-1] if said else f"it exited with status {self.shell.returncode}"
                raise SetupError(f"Mininet could not start {self.name}: {reason}")
        return text

    def _abandon_shell(self) -> None:
        """Kill a shell that did not start, reap it and close its terminal.

        Ctrl-C may land anywhere in Mininet's startShell: before its terminal was
        opened, while the shell was being forked (it may then run with its pid never
        returned to us), or before the terminal was wrapped in a file. Closing the
        terminal ends a shell we never heard of: bash exits when it hangs up.
        """
        shell, self.shell = self.shell, None
        if shell is not None:
            if shell.poll() is None:
                shell.kill()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
        if self.stdin is not None:  # the file that wraps the terminal's master end
            self.stdin.close()
        elif self.master is not None:
            os.close(self.master)
        if self.slave is not None:
            os.close(self.slave)
        self.stdin = self.stdout = self.master = self.slave = None
        self.cleanup()

    def cleanup(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
        super().cleanup()


class LabHost(NetlinkNode, Host):
    """A Mininet host whose kernel speaks IPv4 only."""

    def __init__(self, name, **params):
        super().__init__(name, **params)
        # Before any link exists, so every interface moved in later has IPv6 off too.
        self.kernel.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
        self.kernel.sysctl("net.ipv6.conf.default.disable_ipv6", 1)

    def config(self, mac=None, ip=None, defaultRoute=None, lo="up", **_params) -> dict:
        """Mininet's Node.config (MAC, address, default route, lo), over netlink."""
        result = {}
        self.setParam(result, "setMAC", mac=mac)
        self.setParam(result, "setIP", ip=ip)
        self.setParam(result, "setDefaultRoute", defaultRoute=defaultRoute)
        self.kernel.set_link("lo", up=lo == "up")
        return result

    def setDefaultRoute(self, intf=None) -> None:
        """intf: an interface (name), or Mininet's 'via GATEWAY' / 'dev NAME via GATEWAY'."""
        words = str(intf).split() if intf is not None else []
        if len(words) > 1:
            options = dict(zip(words[::2], words[1::2]))
            device = options.get("dev", self.defaultIntf().name)
            self.kernel.set_route("default", device, via=options.get("via"))
        else:
            self.kernel.set_route("default", self.intf(intf).name)

    def setARP(self, ip: str, mac: str) -> None:
        """A permanent ARP entry on the default interface, as `arp -s` writes it."""
        self.kernel.set_neighbour(ip, mac, self.defaultIntf().name)


class LabBridge(NetlinkNode, LinuxBridge):
    """A Linux bridge made over netlink, multicast snooping off from the start.

    With snooping on, a bridge joins (and, when it is turned off, leaves) an IGMP
    group: frames nobody in the lab sent, which would clutter the capture.
    """

    def start(self, _controllers) -> None:
        route = self.kernel.route
        try:
            route.link("add", ifname=self.name, kind="bridge", br_mcast_snooping=0)
            bridge = self.kernel.index(self.name)
            for intf in self.intfList():
                if self.name in intf.name:
                    route.link("set", index=self.kernel.index(intf.name), master=bridge, state="up")
            route.link("set", index=bridge, state="up")
        except NetlinkError as exc:
            raise SetupError(f"the bridge {self.name} could not be made: {exc.args[1]}") from None


class LabIntf(Intf):
    """A Mininet interface configured by its node's kernel, over netlink.

    Beside Mininet's config parameters (mac, ip, up), mtu and txo: txo=False makes
    the node's kernel compute its checksums in software (see checksums_in_software).
    """

    def config(self, mac=None, ip=None, ifconfig=None, up=True, mtu=None, txo=None, **params) -> dict:
        result = super().config(mac=mac, ip=ip, ifconfig=ifconfig, up=up, **params)
        self.setParam(result, "setMTU", mtu=mtu)
        if txo is False:
            checksums_in_software(self.node.kernel.netns, self.name)
            result["txo"] = False
        return result

    def setIP(self, ipstr: str, prefixLen=None) -> None:
        if "/" in ipstr:
            ipstr, prefixLen = ipstr.split("/")
        elif prefixLen is None:
            raise SetupError(f"{self.name}: no prefix length for the address {ipstr}")
        self.ip, self.prefixLen = ipstr, int(prefixLen)
        self.node.kernel.set_address(self.name, f"{ipstr}/{prefixLen}")
        self.node.kernel.set_link(self.name, up=True)

    def setMAC(self, macstr: str) -> None:
        self.mac = macstr
        self.node.kernel.set_link(self.name, mac=macstr)

    def setMTU(self, mtu: int) -> None:
        self.node.kernel.set_link(self.name, mtu=int(mtu))

    def isUp(self, setUp: bool = False) -> bool:
        if setUp:
            self.node.kernel.set_link(self.name, up=True)
            return True
        return self.node.kernel.link(self.name).up

    def ifconfig(self, *args) -> str:
        """'up' and 'down' (what Mininet's CLI `link` command sends) over netlink;
        anything else still goes to the node's shell, as in Mininet."""
        if args in (("up",), ("down",)):
            self.node.kernel.set_link(self.name, up=args[0] == "up")
            return ""
        return super().ifconfig(*args)

    def updateIP(self) -> str | None:
        found = [address for name, address in self.node.kernel.addresses() if name == self.name]
        self.ip = found[0].split("/")[0] if found else None
        return self.ip

    def updateMAC(self) -> str | None:
        self.mac = self.node.kernel.link(self.name).mac
        return self.mac

    def updateAddr(self) -> tuple[str | None, str | None]:
        return self.updateIP(), self.updateMAC()


class LabLink(Link):
    """A veth pair made in node1's namespace over netlink, its peer created straight
    in node2's; a host's end has checksum offload off (txo=False) unless the
    topology says otherwise."""

    def __init__(self, node1, node2, **params):
        for node, key in ((node1, "params1"), (node2, "params2")):
            if isinstance(node, LabHost):
                params[key] = {"txo": False, **(params.get(key) or {})}
        super().__init__(node1, node2, **params)

    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None,
                     deleteIntfs=True):
        if node1 is None or node2 is None:  # Link(fast=False): Mininet's way, by shell
            return super().makeIntfPair(intfname1, intfname2, addr1, addr2, node1, node2, deleteIntfs)
        ends = [({"ifname": intfname1}, addr1), ({"ifname": intfname2, "net_ns_pid": node2.pid}, addr2)]
        mine, peer = [{**end, "address": mac} if mac else end for end, mac in ends]
        try:
            node1.kernel.route.link("add", kind="veth", peer=peer, **mine)
        except NetlinkError as exc:
            raise SetupError(f"the link {intfname1}-{intfname2} could not be made: {exc.args[1]}") from None


class Network:
    """A started Mininet network; stop() ends every process it started."""

    def __init__(self, topo):
        setLogLevel("critical")
        # Mininet.init() raises host-wide limits (kernel.pty.max, fs.file-max): a run
        # must leave the machine as it found it, and three hosts need none of them.
        Mininet.inited = True
        with_lab_hosts(topo)
        self.mininet = Mininet(topo=topo, switch=LabBridge, host=LabHost, link=LabLink, intf=LabIntf,
                               controller=None, waitConnected=False, build=False)
        try:
            self.mininet.start()  # builds first: hosts, switches, links, addresses
        except BaseException as exc:
            self.stop()  # what was started before the fault
            if isinstance(exc, SetupError) or not isinstance(exc, Exception):
                raise
            raise SetupError(f"Mininet could not build the network: {exc}") from None

    @property
    def hosts(self) -> list[Host]:
        return self.mininet.hosts

    def get(self, name: str) -> Host:
        return self.mininet[name]

    def switch_ports(self) -> list[str]:
        """Every switch-side interface: together they see every frame of the run."""
        return [intf.name for switch in self.mininet.switches for intf in switch.intfList()
                if intf.name != "lo"]

    def pids(self) -> list[int]:
        return [node.shell.pid for node in self.mininet.hosts + self.mininet.switches
                if node.shell is not None]

    def stop(self) -> None:
        """Kill every process in the hosts' namespaces and every node's shell.

        The links and bridges vanish with the namespaces once nothing holds them;
        a server a lab started in a host, in its own process group or not, goes too.
        """
        nodes = self.mininet.hosts + self.mininet.switches
        running = [node.shell for node in nodes if node.shell is not None and node.shell.poll() is None]
        for pid in processes_in(host_namespaces(self.mininet.hosts)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for shell in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
        for shell in running:
            shell.wait()
        for node in nodes:  # its terminal; its netlink sockets would keep a dead host's namespace alive
            node.cleanup()


def with_lab_hosts(topo) -> None:
    """A node the topology gives its own Host class (a router that turns forwarding
    on, as `mn --custom` needs) gets that class mixed with LabHost, so it is still
    configured over netlink and its own config() still runs."""
    for name in topo.hosts():
        info = topo.nodeInfo(name)
        cls = info.get("cls")
        if isinstance(cls, type) and issubclass(cls, Host) and not issubclass(cls, LabHost):
            info["cls"] = type(cls.__name__, (cls, LabHost), {})


# What `ethtool -K IF tx off` turns off (its ETHTOOL_STXCSUM mask).
TX_CHECKSUMS = ("tx-checksum-ipv4", "tx-checksum-ip-generic", "tx-checksum-ipv6", "tx-checksum-sctp",
                "tx-checksum-fcoe-crc")


def checksums_in_software(netns: str, interface: str) -> None:
    """Have a host's kernel fill in its checksums itself (tx checksum offload off).

    A veth leaves checksums to a network card that does not exist (checksum
    offload), so captured frames would carry a partial value, which Wireshark flags
    and a receiver of the same bytes sent again would reject. A real card fills it in
    on the way out; with offload off, the capture shows what a receiver checks.
    Only features the driver lets change are touched (ethtool's "tx off").
    """
    with entered(netns):  # the ioctl acts on the namespace its socket was made in
        ethtool = IoctlEthtool(interface)
    try:
        features = ethtool.get_features()
        on = [name for name in TX_CHECKSUMS
              if name in features and features.is_available(name) and features[name]]
        for name in on:
            features[name] = False
        if on:
            ethtool.set_features(features)
    finally:
        ethtool.sock.close()


def host_namespaces(hosts) -> set[int]:
    """The network namespace inode of each host that still runs."""
    found = set()
    for host in hosts:
        with contextlib.suppress(OSError, AttributeError):
            found.add(os.stat(f"/proc/{host.shell.pid}/ns/net").st_ino)
    return found


def processes_in(namespaces: set[int]) -> list[int]:
    """Every process whose network namespace is one of namespaces, this one excepted."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/net").st_ino in namespaces:
                    found.append(int(entry))
    return found
