"""Two subnets joined by a Linux router: h1 and h2 talk across r1, which forwards.

    h1 10.0.1.1/24                  r1                  h2 10.0.2.1/24
      h1-eth0            r1-eth1 10.0.1.254              h2-eth0
         |                  |   r1-eth2 10.0.2.254          |
      s1-eth1 ---- s1 ---- s1-eth2  s2-eth2 ---- s2 ---- s2-eth1
                               (r1 forwards between its two interfaces)

h1's default route goes via 10.0.1.254, h2's via 10.0.2.254. A packet from h1 to h2
crosses s1 as one frame (h1's MAC to r1's), and s2 as another (r1's MAC to h2's, the
TTL one less, the IP checksum recomputed). Inside the lab every address moves to the
run's own subnets (lab/topology.py vary), gateways and r1's second interface with them.
Outside the lab:  sudo mn --custom topologies/routed.py --topo routed
"""
from mininet.node import Host
from mininet.topo import Topo


class LinuxRouter(Host):
    """A host whose kernel forwards IPv4 packets between its interfaces."""

    def config(self, **params):
        result = super().config(**params)
        self.cmd("sysctl -qw net.ipv4.ip_forward=1")
        return result


class Routed(Topo):
    """h1 - s1 - r1 - s2 - h2: subnets 10.0.1.0/24 and 10.0.2.0/24, r1 .254 in each."""

    def build(self) -> None:
        router = self.addHost("r1", cls=LinuxRouter, ip="10.0.1.254/24")
        for n in (1, 2):
            switch = self.addSwitch(f"s{n}")
            host = self.addHost(f"h{n}", ip=f"10.0.{n}.1/24", defaultRoute=f"via 10.0.{n}.254")
            self.addLink(host, switch)
            self.addLink(router, switch, intfName1=f"r1-eth{n}", params1={"ip": f"10.0.{n}.254/24"})


topos = {"routed": Routed}
