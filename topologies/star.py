"""One switch and n hosts on one Ethernet segment (three by default).

    h1 10.0.0.1/24          h2 10.0.0.2/24          h3 10.0.0.3/24
      h1-eth0                 h2-eth0                 h3-eth0
         |                       |                       |
      s1-eth1 --------------- s1-eth2 --------------- s1-eth3
                               s1 (switch)

Every host hears every broadcast, which is what ARP relies on.
Outside the lab:  sudo mn --custom topologies/star.py --topo star,4
"""
from mininet.topo import Topo


class Star(Topo):
    """Hosts h1..hn, each on its own port of switch s1, addresses 10.0.0.i/24."""

    def build(self, n: int = 3) -> None:
        switch = self.addSwitch("s1")
        for i in range(1, n + 1):
            host = self.addHost(f"h{i}", ip=f"10.0.0.{i}/24")
            self.addLink(host, switch)


topos = {"star": Star}
