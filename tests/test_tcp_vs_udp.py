"""tcp-vs-udp on a real network: the reference passes, the untouched exercise is not
done, typical mistakes fail with their hint, and the report's figures are measured:
TCP loses nothing, UDP's losses are the nft rule's drops, TCP's retransmissions on the
wire agree with tshark, three send() calls come back as one recv(), and nothing is
left behind."""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, host_state, lab

pytestmark = pytest.mark.root

REFERENCE = ROOT / "solutions" / "tcp_vs_udp.py"
ROW = re.compile(r"^(TCP|UDP|UDP, late \+ twice) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)")
NFT = re.compile(r"nft at h2's door dropped (\d+) of the (\d+) TCP data segments .* and (\d+) of the (\d+) datagrams")


def check_json(*args: str) -> tuple[int, dict]:
    result = lab("check", "tcp-vs-udp", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def notes(document: dict) -> list[str]:
    return [note for step in document["steps"] for note in step["notes"]]


def table(document: dict) -> dict[str, dict]:
    rows = {}
    for note in notes(document):
        if match := ROW.match(note):
            name, *figures = match.groups()
            rows[name] = dict(zip(("sent", "delivered", "lost", "duplicated", "out_of_order", "resent"),
                                  map(int, figures)))
    return rows


def tshark_retransmissions(pcap: Path) -> int:
    """Segments to port 7000 that Wireshark calls a retransmission, seen on h1's switch port."""
    wanted = ('frame.interface_name == "s1-eth1" && tcp.dstport == 7000 && tcp.len > 0 && '
              "(tcp.analysis.retransmission || tcp.analysis.fast_retransmission || "
              "tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order)")
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", wanted, "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.split())


def netem_works() -> bool:
    """The same probe as the lab's, in a scratch namespace."""
    script = ("ip link add name probe0 type veth peer name probe1 && "
              "tc qdisc add dev probe0 root netem delay 10ms")
    return subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One run of the reference, with the host's state before and after and its wall time."""
    pcap = tmp_path_factory.mktemp("ref") / "ref.pcapng"
    before = host_state()
    started = time.monotonic()
    code, document = check_json("--solution", "--pcap", str(pcap))
    took = time.monotonic() - started
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {"code": code, "document": document, "pcap": pcap, "took": took,
            "before": before, "after": host_state(), "tables": tables}


def test_reference_passes(reference):
    assert reference["code"] == 0
    assert {c["status"] for c in reference["document"]["checks"]} == {"pass"}
    assert reference["took"] < 10, f"the lab took {reference['took']:.1f} s"


def test_tcp_loses_nothing_and_udp_loses_what_nft_dropped(reference):
    rows = table(reference["document"])
    assert rows["TCP"]["delivered"] == 200 and rows["TCP"]["lost"] == 0
    assert rows["TCP"]["duplicated"] == rows["TCP"]["out_of_order"] == 0
    match = next(m for note in notes(reference["document"]) if (m := NFT.search(note)))
    tcp_dropped, first_sent, udp_dropped, datagrams = map(int, match.groups())
    assert datagrams == 200 and 0 < first_sent <= 200
    assert rows["UDP"]["lost"] == udp_dropped > 0          # measured, from the rule's counter
    assert rows["UDP"]["delivered"] + udp_dropped == 200
    assert rows["UDP"]["resent"] == 0
    # each segment the rule dropped was sent again (and maybe a probe or two more)
    assert rows["TCP"]["resent"] >= tcp_dropped > 0


def test_retransmissions_agree_with_tshark(reference):
    rows = table(reference["document"])
    assert rows["TCP"]["resent"] == tshark_retransmissions(reference["pcap"]) > 0


def test_late_and_duplicated_datagrams(reference):
    rows = table(reference["document"])
    assert rows["UDP, late + twice"] == {"sent": 10, "delivered": 10, "lost": 0, "duplicated": 1,
                                         "out_of_order": 2, "resent": 0}
    assert "in this order: 0 1 2 5 6 6 7 8 9 3 4" in " ".join(notes(reference["document"]))


def test_boundaries_one_tcp_read_three_udp_reads(reference):
    text = "\n".join(notes(reference["document"]))
    assert "TCP: 3 send() calls, 1 recv(): b'alpha\\nbravo\\ncharlie\\n'" in text
    assert "UDP: 3 sendto() calls, 3 recvfrom(): b'alpha\\n', b'bravo\\n', b'charlie\\n'" in text
    # three segments on the wire for the three send() calls, and three datagrams
    frames = [f["summary"] for f in reference["document"]["frames"]]
    assert len([s for s in frames if ".6000: Flags [P.]" in s]) == 3
    assert len([s for s in frames if "10.0.0.2.6001: UDP" in s]) == 3


def test_netem_reported_as_it_is(reference):
    text = "\n".join(notes(reference["document"]))
    if netem_works():
        assert "skipped" not in text
    else:
        for name in ("delay", "reordering", "duplication"):
            assert re.search(rf"^{name}: +skipped: this kernel has no netem$", text, re.M)


def test_memory_figures_side_by_side(reference):
    text = "\n".join(notes(reference["document"]))
    row = re.search(r"^rcvbuf +(\d+) +(\d+) +(\d+) +(\d+)", text, re.M)
    assert row and all(int(x) > 0 for x in row.groups())
    unread = re.search(r"^rmem_alloc +(\d+) +(\d+) +(\d+) +(\d+)", text, re.M)
    assert unread and int(unread.group(2)) > 0 and int(unread.group(4)) > 0  # h2 held the messages
    assert re.search(r"its TCP socket still held \d+ bytes unacknowledged", text)


def test_nothing_left_on_the_host(reference):
    assert reference["after"] == reference["before"]
    assert "inet lab" not in reference["tables"]


def test_untouched_exercise_is_not_done(tmp_path):
    code, document = check_json("--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and {c["status"] for c in document["checks"]} == {"not done"}
    assert "the reference's split_messages" in " ".join(notes(document))
    assert lab("run", "tcp-vs-udp", "--pcap", str(tmp_path / "r.pcapng")).returncode == 0


MISTAKES = [
    ("split-one-recv-one-message", """
def split_messages(buffer):
    return [buffer], b""
""", "split", "one recv() is not one message"),
    ("split-drops-the-rest", """
def split_messages(buffer):
    return buffer.split(b"\\n")[:-1], b""
""", "split", "you dropped the incomplete rest"),
    ("tally-duplicates-delivered-twice", """
def tally(sent, received):
    return {"delivered": len(received), "lost": sent - len(received),
            "duplicated": len(received) - len(set(received)), "out_of_order": 0}
""", "tally", "delivered counts distinct numbers"),
    ("tally-ignores-order", """
def tally(sent, received):
    delivered = len(set(received))
    return {"delivered": delivered, "lost": sent - delivered,
            "duplicated": len(received) - delivered, "out_of_order": 0}
""", "tally", "yet 3, 4 arrived after a larger number"),
]


@pytest.mark.parametrize("code, check, hint", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_typical_mistakes_fail_with_their_hint(tmp_path, code, check, hint):
    attempt = tmp_path / "attempt.py"
    attempt.write_text(REFERENCE.read_text() + "\n\n" + code)
    status, document = check_json("--exercise", str(attempt), "--pcap", str(tmp_path / "c.pcapng"))
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1
    assert checks[check]["status"] == "fail" and hint in checks[check]["hint"], checks[check]
    assert [c["status"] for c in checks.values() if c["id"] != check] == ["pass"]
