"""The run's Mininet network, built inside the run's private namespace.

Linux bridges are the switches (this kernel has no Open vSwitch module), hosts have
IPv6 off so the capture holds only what the lab sends, and teardown is quick: the
links and bridges vanish with the namespaces, so only processes need stopping.
"""
from __future__ import annotations

import array
import contextlib
import fcntl
import os
import signal
import socket
import struct

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host
from mininet.nodelib import LinuxBridge

from .errors import SetupError
from .netns import entered


class LabHost(Host):
    """A Mininet host whose kernel speaks IPv4 only."""

    def __init__(self, name, **params):
        super().__init__(name, **params)
        self.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")


class LabBridge(LinuxBridge):
    """A Linux bridge made in one shell command, multicast snooping off from the start.

    With snooping on, a bridge joins (and, when it is turned off, leaves) an IGMP
    group: frames nobody in the lab sent, which would clutter the capture.
    """

    def start(self, _controllers) -> None:
        ports = [intf.name for intf in self.intfList() if self.name in intf.name]
        commands = [f"ip link add {self.name} type bridge mcast_snooping 0"]
        commands += [f"ip link set dev {port} master {self.name} up" for port in ports]
        commands.append(f"ip link set dev {self.name} up")
        self.cmd(" && ".join(commands))


class Network:
    """A started Mininet network; stop() ends every process it started."""

    def __init__(self, topo):
        setLogLevel("critical")
        # Mininet.init() raises host-wide limits (kernel.pty.max, fs.file-max): a run
        # must leave the machine as it found it, and three hosts need none of them.
        Mininet.inited = True
        try:
            self.mininet = Mininet(topo=topo, switch=LabBridge, host=LabHost, controller=None,
                                   waitConnected=False)
        except Exception as exc:
            raise SetupError(f"Mininet could not build the network: {exc}") from None
        self.mininet.start()

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
        running = [node.shell for node in self.mininet.hosts + self.mininet.switches
                   if node.shell is not None and node.shell.poll() is None]
        for pid in processes_in(host_namespaces(self.mininet.hosts)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for shell in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
        for shell in running:
            shell.wait()


SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17


def checksums_in_software(netns: str, interface: str) -> None:
    """Have a host's kernel fill in its checksums itself (ETHTOOL_STXCSUM off).

    A veth leaves checksums to a network card that does not exist (checksum
    offload), so captured frames would carry a partial value, which Wireshark flags
    and a receiver of the same bytes sent again would reject. A real card fills it in
    on the way out; with offload off, the capture shows what a receiver checks.
    """
    with entered(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        value = array.array("I", [ETHTOOL_STXCSUM, 0])
        request = struct.pack("16sP", interface.encode(), value.buffer_info()[0])
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request.ljust(40, b"\0"))
    finally:
        sock.close()


def host_namespaces(hosts) -> set[int]:
    """The network namespace inode of each host that still runs."""
    found = set()
    for host in hosts:
        with contextlib.suppress(OSError):
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
