"""Three tiers on one Ethernet segment: a browser, a load balancer, two web servers
and a database host.

    h1 10.0.0.1/24    lb 10.0.0.2/24    web1 10.0.0.3/24  web2 10.0.0.4/24  db 10.0.0.5/24
    (browser)         (haproxy)         (Python app)      (Python app)      (redis-server)
      h1-eth0           lb-eth0           web1-eth0         web2-eth0         db-eth0
         |                 |                 |                 |                 |
      s1-eth1 --------- s1-eth2 --------- s1-eth3 --------- s1-eth4 --------- s1-eth5
                                          s1 (switch)

The tiers are told apart by who talks to whom, not by subnets: h1 only reaches the
balancer, the balancer the web servers, the web servers the database.
Outside the lab:  sudo mn --custom topologies/tiers.py --topo tiers
"""
from mininet.topo import Topo

TIERS = (("h1", 1), ("lb", 2), ("web1", 3), ("web2", 4), ("db", 5))


class Tiers(Topo):
    """Browser h1, balancer lb, web servers web1 and web2, database db, all on s1."""

    def build(self) -> None:
        switch = self.addSwitch("s1")
        for name, number in TIERS:
            host = self.addHost(name, ip=f"10.0.0.{number}/24")
            self.addLink(host, switch)


topos = {"tiers": Tiers}
