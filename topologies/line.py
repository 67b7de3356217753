"""A chain of n switches, one host on each (two by default).

    h1 10.0.0.1/24                       h2 10.0.0.2/24
      h1-eth0                              h2-eth0
         |                                    |
      s1-eth1                              s2-eth1
        s1  s1-eth2 ------------------ s2-eth2  s2      ... up to sn, hn

Frames between h1 and hn cross every switch in turn.
Outside the lab:  sudo mn --custom topologies/line.py --topo line,3
"""
from mininet.topo import Topo


class Line(Topo):
    """Switches s1..sn in a row, host hi on switch si, addresses 10.0.0.i/24."""

    def build(self, n: int = 2) -> None:
        previous = None
        for i in range(1, n + 1):
            switch = self.addSwitch(f"s{i}")
            host = self.addHost(f"h{i}", ip=f"10.0.0.{i}/24")
            self.addLink(host, switch)
            if previous is not None:
                self.addLink(previous, switch)
            previous = switch


topos = {"line": Line}
