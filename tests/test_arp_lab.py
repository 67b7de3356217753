"""arp-basic end to end on real Mininet networks: the reference passes, the untouched
exercise is not done, typical wrong answers fail with their hint, and what the report
says agrees with the capture as tshark reads it."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from conftest import lab, variant

pytestmark = pytest.mark.root


def hosts_in(report: str) -> dict[str, tuple[str, str]]:
    """The run's drawn addresses, from the report's host lines: name -> (ip, mac)."""
    return {name: (ip, mac) for name, ip, mac in re.findall(r"^  (h\d)  ([\d.]+) +([0-9a-f:]{17})$",
                                                             report, re.M)}


def check_json(*args: str) -> tuple[int, dict]:
    result = lab("check", "arp-basic", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def by_id(document: dict) -> dict[str, dict]:
    return {check["id"]: check for check in document["checks"]}


def test_reference_passes_and_capture_agrees_with_tshark(tmp_path):
    pcap = tmp_path / "ref.pcapng"
    code, document = check_json("--solution", "--pcap", str(pcap))
    assert code == 0 and document["passed"]
    assert {c["status"] for c in document["checks"]} == {"pass"}
    macs = {name: host["mac"] for name, host in document["hosts"].items()}
    ip1, ip2, ip3 = (document["hosts"][h]["ip"] for h in ("h1", "h2", "h3"))
    subnets = {ip.rsplit(".", 1)[0] for ip in (ip1, ip2, ip3)}
    assert ip1.startswith("10.") and len(subnets) == 1 and len({ip1, ip2, ip3}) == 3
    fields = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.interface_name",
                             "-e", "eth.src", "-e", "arp.opcode", "-e", "arp.src.proto_ipv4",
                             "-e", "arp.dst.proto_ipv4"], capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in fields.splitlines()]
    assert len(rows) == document["captured_frames"]
    # h1's who-has crossed h1's port, h2's real kernel answered with h2's real MAC.
    assert ["s1-eth1", macs["h1"], "1", ip1, ip2] in rows
    assert ["s1-eth2", macs["h2"], "2", ip2, ip1] in rows
    assert ["s1-eth3", macs["h3"], "1", ip3, ip3] in rows
    # Each distinct frame the report lists is in the file; nothing else is.
    summaries = [f["summary"] for f in document["frames"]]
    assert summaries == [f"ARP who has {ip2}? tell {ip1}", f"ARP {ip2} is at {macs['h2']}",
                         f"ARP announcement: {ip3} is at {macs['h3']} (gratuitous)"]
    # The pure functions were graded on made-up cases too.
    checks = by_id(document)
    assert "right in 4 of 4 cases" in checks["is-at"]["detail"]
    assert "right in 6 of 6 cases" in checks["lookup"]["detail"]


def test_untouched_exercise_is_not_done_but_the_run_completes(tmp_path):
    code, document = check_json("--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and not document["passed"]
    assert {c["status"] for c in document["checks"]} == {"not done"}
    run = lab("run", "arp-basic", "--pcap", str(tmp_path / "r.pcapng"))
    assert run.returncode == 0, run.stderr
    assert "REFERENCE ran, TODO not done yet" in run.stdout
    ip2 = hosts_in(run.stdout)["h2"][0]
    assert f"ARP {ip2} is at" in run.stdout  # the reference still put the exchange on the wire
    assert "0 of 4 checks pass, 0 fail, 4 not done." in run.stdout


WRONG_WHO_HAS = {
    "wrong op code": ("op=2", "op is 2 (is-at)"),
    "unicast destination": ("dst='00:00:00:00:00:00'", "the target MAC is unknown, so the Ethernet "
                                                       "destination must be broadcast"),
    "swapped sender and target": ("swap", "sender and target are swapped"),
}


@pytest.mark.parametrize("mistake", sorted(WRONG_WHO_HAS))
def test_typical_who_has_mistakes_fail_with_their_hint(tmp_path, mistake):
    change, hint = WRONG_WHO_HAS[mistake]
    dst, op, psrc, pdst = "BROADCAST", "1", "my_ip", "target_ip"
    if change == "op=2":
        op = "2"
    elif change == "swap":
        psrc, pdst = pdst, psrc
    else:
        dst = "'00:00:00:00:00:00'"
    attempt = variant(tmp_path, f"""
def build_who_has(my_mac, my_ip, target_ip):
    return Ether(dst={dst}, src=my_mac) / ARP(op={op}, hwsrc=my_mac, psrc={psrc}, pdst={pdst})
""")
    code, document = check_json("--exercise", str(attempt), "--pcap", str(tmp_path / "c.pcapng"))
    checks = by_id(document)
    assert code == 1
    assert checks["who-has"]["status"] == "fail"
    assert hint in checks["who-has"]["hint"]
    # The lab went on with the reference request, so the later checks still pass.
    assert [checks[c]["status"] for c in ("is-at", "lookup", "gratuitous")] == ["pass"] * 3


def test_wrong_parse_and_lookup_fail_with_their_hint(tmp_path):
    attempt = variant(tmp_path, """
def parse_is_at(reply):
    return reply[ARP].hwsrc, reply[ARP].psrc

def find_entry(neighbours, ip):
    for entry in neighbours:
        if entry.get_attr("NDA_DST") == ip:
            return entry.get_attr("NDA_LLADDR")
    return neighbours[0].get_attr("NDA_LLADDR") if neighbours else ""
""")
    _, document = check_json("--exercise", str(attempt), "--pcap", str(tmp_path / "c.pcapng"))
    checks = by_id(document)
    assert checks["is-at"]["status"] == "fail" and "in that order" in checks["is-at"]["hint"]
    assert checks["lookup"]["status"] == "fail" and "return None" in checks["lookup"]["hint"]


def test_run_shows_real_macs_and_the_tables(tmp_path):
    result = lab("run", "arp-basic", "--solution", "--pcap", str(tmp_path / "c.pcapng"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\033[" not in out  # not a terminal, and NO_COLOR is set
    hosts = hosts_in(out)
    assert sorted(hosts) == ["h1", "h2", "h3"]
    assert f"h1 -> *    ARP who has {hosts['h2'][0]}? tell {hosts['h1'][0]}" in out
    assert "ARP    op=who-has" in out and "Ether  dst=ff:ff:ff:ff:ff:ff" in out
    assert "h1: (empty)" in out  # the caches start empty
    assert "STALE" in out  # h2 learned h1 from the request
    assert f"Capture: {tmp_path / 'c.pcapng'}" in out


def test_lookup_right_on_the_live_tables_fails_on_the_made_up_one(tmp_path):
    """A prefix match that also forgets INCOMPLETE entries has no MAC: the live tables
    hide both mistakes, the made-up table shows them."""
    attempt = variant(tmp_path, """
def find_entry(neighbours, ip):
    for entry in neighbours:
        if entry.get_attr("NDA_DST").startswith(ip):
            return entry.get_attr("NDA_LLADDR").lower()
    return None
""")
    _, document = check_json("--exercise", str(attempt), "--pcap", str(tmp_path / "c.pcapng"))
    lookup = by_id(document)["lookup"]
    assert lookup["status"] == "fail"
    if "right in 4 of 6 cases" in lookup["detail"]:
        assert "AttributeError" in lookup["detail"] and "INCOMPLETE" in lookup["hint"]
    else:  # this run drew addresses where one host's is the start of another's: a live table shows it
        assert re.search(r"find_entry\(h\d's table, [\d.]+\) gave '[0-9a-f:]+', the right answer is", lookup["detail"])
