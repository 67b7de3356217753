"""The engine's parts on real namespaces: lossless capture, netlink reads of links,
addresses, neighbours and sockets, and student calls made from inside a host.

Each test runs its script in a child process, because entering a private network
namespace would move the test runner itself out of the host's.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

pytestmark = pytest.mark.root


def in_private_netns(script: str) -> dict:
    """Run script (which prints one JSON line last) in a fresh network namespace."""
    prologue = "from lab.netns import unshare_network\nunshare_network()\n"
    done = subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_capture_loses_no_frame_at_a_burst_of_thousands():
    result = in_private_netns("""
        import json, socket, subprocess
        from pathlib import Path
        from lab.capture import Capture, read_frames
        subprocess.run("ip link add cap-a type veth peer name cap-b && ip link set cap-a up "
                       "&& ip link set cap-b up", shell=True, check=True)
        capture = Capture(Path("/tmp/lab-test-burst.pcapng"), ["cap-a", "cap-b"])
        capture.start()
        sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sender.bind(("cap-a", 0))
        for i in range(5000):
            sender.send(b"\\x02" * 6 + b"\\x02\\0\\0\\0\\0\\1" + b"\\x88\\xb5" + i.to_bytes(4, "big") + b"\\0" * 42)
            if i % 500 == 0:
                capture.collect()
        capture.stop()
        frames = read_frames(capture.path)
        capture.path.unlink()
        numbers = {p: sorted(int.from_bytes(f.data[14:18], "big") for f in frames if f.interface == p)
                   for p in ("cap-a", "cap-b")}
        print(json.dumps({p: n == list(range(5000)) for p, n in numbers.items()}))
    """)
    assert result == {"cap-a": True, "cap-b": True}


def test_kernel_view_reads_links_addresses_neighbours_and_sockets():
    result = in_private_netns("""
        import json, time
        from lab import topology
        from lab.network import Network
        from lab.netns import netns_path
        from lab.kernel import KernelView
        net = Network(topology.load("star", [2]))
        try:
            h1, h2 = net.get("h1"), net.get("h2")
            h2.cmd("python3 -c 'import socket,time; t=socket.socket(); t.bind((\\"\\", 5001)); t.listen();"
                   " u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((\\"\\", 5002));"
                   " c,_=t.accept(); time.sleep(30)' &")
            view = KernelView(netns_path(h2.shell.pid))
            deadline = time.monotonic() + 5
            while not any(s.state == "LISTEN" for s in view.sockets("tcp")) and time.monotonic() < deadline:
                time.sleep(0.01)
            h1.cmd("python3 -c 'import socket,time; s=socket.create_connection((\\"10.0.0.2\\", 5001)); "
                   "time.sleep(30)' &")
            while len(view.sockets("tcp")) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            print(json.dumps({
                "links": sorted(l.name for l in view.links()),
                "mac": view.link("h2-eth0").mac == h2.MAC(),
                "addresses": view.addresses(),
                "neighbour": getattr(view.neighbour("10.0.0.1"), "mac", None) == h1.MAC(),
                "tcp": sorted((s.state, s.local[1]) for s in view.sockets("tcp")),
                "udp": [(s.state, s.local[1]) for s in view.sockets("udp")],
            }))
            view.close()
        finally:
            net.stop()
    """)
    assert result["links"] == ["h2-eth0", "lo"] and result["mac"] and result["neighbour"]
    assert ["h2-eth0", "10.0.0.2/8"] in result["addresses"] or ["h2-eth0", "10.0.0.2/24"] in result["addresses"]
    assert result["tcp"] == [["ESTABLISHED", 5001], ["LISTEN", 5001]]
    assert result["udp"] == [["UNCONNECTED", 5002]]


def test_student_function_runs_inside_the_host_and_is_timed_out(tmp_path):
    student = tmp_path / "student.py"
    student.write_text("import os, time\nfrom scapy.layers.inet import IP\nfrom scapy.layers.l2 import Ether\n"
                       "def where():\n    return os.readlink('/proc/self/ns/net')\n"
                       "def defaults(peer):\n    frame = Ether() / IP(dst=peer)\n    return frame[IP].src, frame.src\n"
                       "def hang():\n    time.sleep(60)\n"
                       "def leave():\n    exit(3)\n")
    result = in_private_netns(f"""
        import json, os, time
        from pathlib import Path
        from lab import topology
        from lab.network import Network
        from lab.netns import netns_path
        from lab.paths import ROOT
        from lab.sandbox import Sandbox, load_plain
        net = Network(topology.load("star", [2]))
        box = Sandbox(ROOT)
        try:
            h1 = net.get("h1")
            def call(todo, timeout, *args):
                data = box.collect(box.submit(Path({str(student)!r}), todo, [args], netns_path(h1.shell.pid),
                                              timeout), timeout)[0]
                return load_plain(data)[1][0]
            where = call("where", 2)
            defaults = call("defaults", 2, net.get("h2").IP())  # scapy reads h1's routes and MAC
            started = time.monotonic()
            hung = call("hang", 0.3)
            print(json.dumps({{"inside": where[1][1] == os.readlink(f"/proc/{{h1.shell.pid}}/ns/net"),
                              "status": hung[0], "stopped_fast": time.monotonic() - started < 2,
                              "exit": call("leave", 2)[0],
                              "scapy's defaults": list(defaults[1][1]) == [h1.IP(), h1.MAC()]}}))
        finally:
            box.close()
            net.stop()
    """)
    assert result == {"inside": True, "status": "timeout", "stopped_fast": True, "exit": "raised",
                      "scapy's defaults": True}


def test_hosts_are_brought_up_over_netlink_not_by_shell_commands():
    result = in_private_netns("""
        import json, subprocess
        from mininet.node import Node
        from mininet.topo import Topo
        from pyroute2.ethtool.ioctl import IoctlEthtool
        from lab.netns import entered
        from lab.network import Network
        typed = []
        plain_cmd = Node.cmd
        def cmd(node, *args, **kwargs):
            typed.append(" ".join(map(str, args)))
            return plain_cmd(node, *args, **kwargs)
        Node.cmd = cmd
        class Two(Topo):
            def build(self):
                s1 = self.addSwitch("s1")
                self.addHost("h1", ip="10.5.0.1/24", mac="02:00:00:00:05:01")
                self.addHost("h2", ip="10.5.0.2/16", mac="02:00:00:00:05:02", defaultRoute="via 10.5.0.254")
                self.addLink("h1", s1, mtu=1400)
                self.addLink("h2", s1)
        net = Network(Two())
        def inside(node, *command):  # read back with iproute2 and /proc, not pyroute2
            where = [f"--net=/proc/{node.shell.pid}/ns/net"] if node else ["--net=/proc/self/ns/net"]
            return subprocess.run(["nsenter", *where, *command], capture_output=True, text=True,
                                  check=True).stdout
        def ip(node, *args):
            return json.loads(inside(node, "ip", "-j", *args))
        try:
            hosts = {}
            for node in net.hosts:
                name = f"{node.name}-eth0"
                with entered(f"/proc/{node.shell.pid}/ns/net"):
                    ethtool = IoctlEthtool(name)
                features = ethtool.get_features()
                ethtool.sock.close()
                link = ip(node, "link", "show", name)[0]
                hosts[node.name] = {
                    "address": [(a["local"], a["prefixlen"], a.get("broadcast"))
                                for a in ip(node, "-4", "addr", "show", name)[0]["addr_info"]],
                    "mac": link["address"], "mtu": link["mtu"], "up": "UP" in link["flags"],
                    "lo up": "UP" in ip(node, "link", "show", "lo")[0]["flags"],
                    "tx checksums": features["tx-checksum-ip-generic"],
                    "ipv6": [inside(node, "cat", f"/proc/sys/net/ipv6/conf/{k}/disable_ipv6").strip()
                             for k in ("all", "default", name)],
                    "ip()": node.IP(), "mac()": node.MAC()}
            net.get("h1").setARP("10.5.0.9", "02:00:00:00:05:09")
            bridge = ip(None, "-d", "link", "show", "s1")[0]
            print(json.dumps({"hosts": hosts, "typed": typed, "bridge up": "UP" in bridge["flags"],
                              "h1 arp": ip(net.get("h1"), "neigh", "show", "10.5.0.9"),
                              "h2 routes": ip(net.get("h2"), "route", "show", "default"),
                              "snooping": bridge["linkinfo"]["info_data"]["mcast_snooping"],
                              "ports": sorted((p["ifname"], "UP" in p["flags"])
                                              for p in ip(None, "link", "show", "master", "s1"))}))
        finally:
            net.stop()
    """)
    common = {"up": True, "lo up": True, "tx checksums": False, "ipv6": ["1", "1", "1"]}
    assert result["hosts"] == {
        "h1": {"address": [["10.5.0.1", 24, "10.5.0.255"]], "mac": "02:00:00:00:05:01", "mtu": 1400,
               "ip()": "10.5.0.1", "mac()": "02:00:00:00:05:01", **common},
        "h2": {"address": [["10.5.0.2", 16, "10.5.255.255"]], "mac": "02:00:00:00:05:02", "mtu": 1500,
               "ip()": "10.5.0.2", "mac()": "02:00:00:00:05:02", **common}}
    assert result["snooping"] == 0 and result["bridge up"]
    assert result["ports"] == [["s1-eth1", True], ["s1-eth2", True]]
    assert [(n["lladdr"], n["state"]) for n in result["h1 arp"]] == [("02:00:00:00:05:09", ["PERMANENT"])]
    assert [(r["gateway"], r["dev"]) for r in result["h2 routes"]] == [("10.5.0.254", "h2-eth0")]
    # What is left in the shells is Mininet's own: each shell's set-up, and the switch's lo.
    assert [command for command in result["typed"] if "HISTFILE" not in command] == ["ifconfig lo up"]


@pytest.mark.parametrize("forked", [False, True], ids=["before-fork", "after-fork"])
def test_ctrl_c_while_a_shell_starts_ends_the_build_with_nothing_left(forked):
    """Ctrl-C may come while Mininet forks a host's shell: before the fork, or after it
    but before Popen returned (the shell then runs and its pid never reaches Mininet).
    Either way the build ends in KeyboardInterrupt, not another error, and no shell or
    terminal of it is left."""
    result = in_private_netns(f"""
        import json, os, time
        from mininet.node import Node
        from lab import topology
        from lab.network import Network
        def terminals():  # the fds this process holds on a pseudo-terminal, either end
            found = []
            for fd in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink("/proc/self/fd/" + fd)
                except OSError:  # the listing's own fd, closed by now
                    continue
                found += [fd] if target.startswith(("/dev/pts", "/dev/ptmx")) else []
            return found
        shells, real_popen = [], Node._popen
        def popen(node, *args, **kwargs):
            if node.name == "h2":
                if {forked}:
                    shells.append(real_popen(node, *args, **kwargs))  # forked, never returned
                raise KeyboardInterrupt
            shells.append(real_popen(node, *args, **kwargs))
            return shells[-1]
        Node._popen = popen
        try:
            Network(topology.load("star", [2]))
            ending = "built"
        except BaseException as exc:
            ending = type(exc).__name__
        deadline = time.monotonic() + 3
        while any(shell.poll() is None for shell in shells) and time.monotonic() < deadline:
            time.sleep(0.02)
        print(json.dumps({{"ending": ending, "shells": len(shells),
                          "alive": sum(shell.poll() is None for shell in shells),
                          "terminals left open": terminals()}}))
    """)
    assert result == {"ending": "KeyboardInterrupt", "shells": 2 if forked else 1, "alive": 0,
                      "terminals left open": []}
