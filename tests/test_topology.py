"""Topology files: the graphs they build, and one clear line for each broken file."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab import topology
from lab.errors import TopologyError

ROOT = Path(__file__).resolve().parent.parent


def test_star_is_one_switch_with_n_hosts():
    topo = topology.load("star", [4])
    assert sorted(topo.hosts()) == ["h1", "h2", "h3", "h4"]
    assert topo.switches() == ["s1"]
    assert sorted(topo.links()) == [("h1", "s1"), ("h2", "s1"), ("h3", "s1"), ("h4", "s1")]
    assert topo.nodeInfo("h3")["ip"] == "10.0.0.3/24"


def test_line_chains_switches():
    topo = topology.load("line", [3])
    assert sorted(topo.switches()) == ["s1", "s2", "s3"]
    assert ("s1", "s2") in topo.links() and ("s2", "s3") in topo.links()


def test_parse_spec_reads_mn_style_arguments():
    assert topology.parse_spec("star,5") == ("star", [5])
    assert topology.parse_spec("line") == ("line", [])


def test_every_shipped_topology_loads_and_draws_its_network():
    for name in topology.available():
        path = ROOT / "topologies" / f"{name}.py"
        assert "h1" in path.read_text().split('"""')[1], f"{name}.py must draw its network in its docstring"
        assert topology.check(topology.load(name)) == []


BROKEN = {
    "syntax": ("from mininet.topo import Topo\nclass T(Topo)\n    pass\n", "line 2"),
    "badlink": ("from mininet.topo import Topo\nclass T(Topo):\n    def build(self):\n"
                "        self.addHost('h1')\n        self.addLink('h1', 's9')\ntopos = {'badlink': T}\n",
                "'s9', which is not a node"),
    "notopos": ("from mininet.topo import Topo\nclass T(Topo):\n    pass\n", "define topos"),
    "dupip": ("from mininet.topo import Topo\nclass T(Topo):\n    def build(self):\n"
              "        s = self.addSwitch('s1')\n"
              "        for h in ('h1', 'h2'):\n            self.addLink(self.addHost(h, ip='10.0.0.1/24'), s)\n"
              "topos = {'dupip': T}\n", "both have address 10.0.0.1"),
    "nohosts": ("from mininet.topo import Topo\nclass T(Topo):\n    def build(self):\n"
                "        self.addSwitch('s1')\ntopos = {'nohosts': T}\n", "no hosts"),
    "badip": ("from mininet.topo import Topo\nclass T(Topo):\n    def build(self):\n"
              "        self.addHost('h1', ip='10.0.0.300/24')\ntopos = {'badip': T}\n", "not an address"),
    "raises": ("import nosuchmodule\n", "ModuleNotFoundError"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_is_named_with_its_problem(tmp_path, name):
    source, words = BROKEN[name]
    (tmp_path / f"{name}.py").write_text(source)
    with pytest.raises(TopologyError) as caught:
        topology.load(name, directory=tmp_path)
    assert f"{name}.py" in str(caught.value)
    assert words in str(caught.value)


def test_unknown_topology_lists_the_available_ones():
    with pytest.raises(TopologyError, match="available: .*star"):
        topology.load("nosuch")


@pytest.mark.root
def test_topology_files_work_with_plain_mininet():
    """The `topos` convention: `mn --custom FILE --topo NAME` builds it (in a private netns)."""
    result = subprocess.run(["unshare", "-n", "mn", "--custom", str(ROOT / "topologies" / "star.py"),
                             "--topo", "star,3", "--switch", "lxbr", "--controller", "none",
                             "--test", "pingall"], capture_output=True, text=True, timeout=60)
    assert "Results: 0% dropped (6/6 received)" in result.stdout + result.stderr
