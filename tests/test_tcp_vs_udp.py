"""tcp-vs-udp on a real network: the reference passes, the untouched exercise is not
done (and the reference really ran in its place), typical mistakes fail with their
hint, and the report's figures are measured: TCP loses nothing, UDP's losses are the
nft rule's drops, TCP's retransmissions on the wire agree with tshark, a few send()
calls come back as one recv(), and nothing is left behind. Ports, messages and their
number change every run: the tests read them from the JSON document."""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, host_state, lab
from lab.labs import tcp_vs_udp

pytestmark = pytest.mark.root

REFERENCE = ROOT / "solutions" / "tcp_vs_udp.py"
ROW = re.compile(r"^(TCP|UDP|UDP, late \+ twice) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)")
NFT = re.compile(r"nft at h2's door dropped (\d+) of the (\d+) TCP data segments .* "
                 r"and (\d+) of the (\d+) datagrams")
PORTS = re.compile(r"this run's ports: TCP (\d+) and UDP (\d+) here; TCP (\d+) and UDP (\d+) for the experiment; "
                   r"UDP (\d+) for late datagrams")


def check_json(*args: str) -> tuple[int, dict]:
    result = lab("check", "tcp-vs-udp", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def notes(document: dict) -> list[str]:
    return [note for step in document["steps"] for note in step["notes"]]


def text(document: dict) -> str:
    """Every note, wrapped lines joined again."""
    return re.sub(r"\n  (?=\S)", " ", "\n".join(notes(document)))


def table(document: dict) -> dict[str, dict]:
    rows = {}
    for note in notes(document):
        if match := ROW.match(note):
            name, *figures = match.groups()
            rows[name] = dict(zip(("sent", "delivered", "lost", "duplicated", "out_of_order", "resent"),
                                  map(int, figures)))
    return rows


def ports(document: dict) -> dict[str, int]:
    names = ("boundary_tcp", "boundary_udp", "lossy_tcp", "lossy_udp", "late_udp")
    return dict(zip(names, map(int, PORTS.search(text(document)).groups())))


def tshark_retransmissions(pcap: Path, interface: str, port: int) -> int:
    """Data segments to port that Wireshark calls a retransmission, seen on the
    sender's switch port (each frame is in the capture once per port it crossed)."""
    wanted = (f'frame.interface_name == "{interface}" && tcp.dstport == {port} && tcp.len > 0 && '
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
    details = " ".join(c["detail"] for c in reference["document"]["checks"])
    assert re.search(r"right in (\d+) of \1 cases: the boundaries step", details)
    assert re.search(r"right in (\d+) of \1 cases: 3 rows of the table, 5 made-up lists", details)
    assert reference["took"] < 10, f"the lab took {reference['took']:.1f} s"


def test_tcp_loses_nothing_and_udp_loses_what_nft_dropped(reference):
    rows = table(reference["document"])
    sent = rows["TCP"]["sent"]
    assert 150 <= sent <= 250 and rows["UDP"]["sent"] == sent
    assert rows["TCP"]["delivered"] == sent and rows["TCP"]["lost"] == 0
    assert rows["TCP"]["duplicated"] == rows["TCP"]["out_of_order"] == 0
    match = NFT.search(text(reference["document"]))
    tcp_dropped, first_sent, udp_dropped, datagrams = map(int, match.groups())
    assert datagrams == sent and 0 < first_sent <= sent
    assert rows["UDP"]["lost"] == udp_dropped > 0          # measured, from the rule's counter
    assert rows["UDP"]["delivered"] + udp_dropped == sent
    assert rows["UDP"]["resent"] == 0
    # each segment the rule dropped was sent again (and maybe a probe or two more)
    assert rows["TCP"]["resent"] >= tcp_dropped > 0


def test_retransmissions_agree_with_tshark(reference):
    document = reference["document"]
    h1_port = next(f["interfaces"][0] for f in document["frames"] if f["from"] == "h1")
    found = tshark_retransmissions(reference["pcap"], h1_port, ports(document)["lossy_tcp"])
    assert table(document)["TCP"]["resent"] == found > 0


def test_late_and_duplicated_datagrams(reference):
    rows = table(reference["document"])
    late = rows["UDP, late + twice"]
    match = re.search(r"h1 sent 0 to (\d+) in order; h2 received, in this order: ([\d ]+)",
                      text(reference["document"]))
    last, order = int(match.group(1)), list(map(int, match.group(2).split()))
    assert late == {"sent": last + 1, "delivered": last + 1, "lost": 0, "duplicated": 1, "out_of_order": 2,
                    "resent": 0}
    held = order[-2:]
    assert held[1] == held[0] + 1 and held[1] < last     # two in a row, held back past larger ones
    twice = [n for n in order if order.count(n) == 2]
    assert len(twice) == 2 and order.index(twice[0]) + 1 == order.index(twice[1], order.index(twice[0]) + 1)
    assert sorted(set(order)) == list(range(last + 1))


def test_boundaries_one_tcp_read_many_udp_reads(reference):
    document = reference["document"]
    title = next(step["title"] for step in document["steps"] if step["title"].startswith("Message boundaries"))
    count = int(re.search(r"(\d+) send\(\) calls", title).group(1))
    assert 3 <= count <= 5
    tcp = re.search(rf"TCP: {count} send\(\) calls, 1 recv\(\): b'([^']*)'", text(document))
    udp = re.search(rf"UDP: {count} sendto\(\) calls, {count} recvfrom\(\): (.*)", text(document))
    assert tcp and udp and tcp.group(1).count("\\n") == count
    # as many segments on the wire as send() calls, and as many datagrams
    port, h2 = ports(document), document["hosts"]["h2"]["ip"]
    frames = [f["summary"] for f in document["frames"]]
    assert len([s for s in frames if f".{port['boundary_tcp']}: Flags [P.]" in s]) == count
    assert len([s for s in frames if f"{h2}.{port['boundary_udp']}: UDP" in s]) == count


def test_netem_reported_as_it_is(reference):
    """Each impairment's line, with its figure, is there and says what was applied; a
    line missing, or a figure, fails (with netem as without it)."""
    document = reference["document"]
    step = next(s for s in document["steps"] if s["title"] == "The experiment, and the impaired link")
    applied = netem_works()
    wanted = {"loss": f"{tcp_vs_udp.LOSS_PERCENT} % at random, nft at h2's door"}
    for name, figure in (("delay", f"{tcp_vs_udp.DELAY_MS} ms"), ("reordering", f"{tcp_vs_udp.REORDER_PERCENT} %"),
                         ("duplication", f"{tcp_vs_udp.DUPLICATE_PERCENT} %")):
        wanted[name] = f"{figure}, netem on h1-eth0" if applied else "skipped: this kernel has no netem"
    assert step["notes"][:4] == [f"{name + ':':<13} {value}" for name, value in wanted.items()]
    rest = re.sub(r"\n  (?=\S)", " ", "\n".join(step["notes"][4:]))  # wrapped lines joined again
    skipped = "delay, reordering, duplication: skipped: this kernel has no netem"
    if applied:
        assert rest == "" and "skipped" not in "\n".join(notes(document))
    else:
        assert re.fullmatch(r"\(tc qdisc add dev h1-eth0 root netem delay 10ms said: .+\)", rest), rest
        assert notes(document).count(skipped) == 1
    assert set(table(document)) == {"TCP", "UDP", "UDP, late + twice"}  # every row, with its figures


def test_memory_figures_side_by_side(reference):
    found = "\n".join(notes(reference["document"]))
    row = re.search(r"^rcvbuf +(\d+) +(\d+) +(\d+) +(\d+)", found, re.M)
    assert row and all(int(x) > 0 for x in row.groups())
    unread = re.search(r"^rmem_alloc +(\d+) +(\d+) +(\d+) +(\d+)", found, re.M)
    assert unread and int(unread.group(2)) > 0 and int(unread.group(4)) > 0  # h2 held the messages
    assert re.search(r"its TCP socket still held \d+ bytes unacknowledged", text(reference["document"]))


def test_nothing_left_on_the_host(reference):
    assert reference["after"] == reference["before"]
    assert "inet lab" not in reference["tables"]


def test_untouched_exercise_is_not_done_and_the_reference_ran(tmp_path):
    code, document = check_json("--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and {c["status"] for c in document["checks"]} == {"not done"}
    assert "the reference's split_messages" in text(document)
    rows = table(document)  # the reference stood in: the table is whole
    assert set(rows) == {"TCP", "UDP", "UDP, late + twice"} and rows["UDP, late + twice"]["duplicated"] == 1
    assert lab("run", "tcp-vs-udp", "--pcap", str(tmp_path / "r.pcapng")).returncode == 0


MISTAKES = [  # more, and cheats, in test_tcp_vs_udp_integrity.py
    ("split-one-recv-one-message", """
def split_messages(buffer):
    return [buffer], b""
""", "split", "one recv() is not one message"),
    ("split-strips-lines", """
def split_messages(buffer):
    *lines, rest = buffer.split(b"\\n")
    return [line.strip() for line in lines], rest
""", "split", "every byte of the buffer but the b'\\n's must come back"),
    ("tally-compares-with-the-one-before", """
def tally(sent, received):
    delivered = len(set(received))
    firsts = list(dict.fromkeys(received))
    return {"delivered": delivered, "lost": sent - delivered, "duplicated": len(received) - delivered,
            "out_of_order": sum(b < a for a, b in zip(firsts, firsts[1:]))}
""", "tally", "not with the one just before"),
    ("tally-ignores-order", """
def tally(sent, received):
    delivered = len(set(received))
    return {"delivered": delivered, "lost": sent - delivered,
            "duplicated": len(received) - delivered, "out_of_order": 0}
""", "tally", "arrived after a larger number"),
]


@pytest.mark.parametrize("code, check, hint", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_typical_mistakes_fail_with_their_hint(tmp_path, code, check, hint):
    tmp_path.chmod(0o755)  # student code runs as nobody, and reads its own folder
    attempt = tmp_path / "attempt.py"
    attempt.write_text(REFERENCE.read_text() + "\n\n" + code)
    status, document = check_json("--exercise", str(attempt), "--pcap", str(tmp_path / "c.pcapng"))
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1
    assert checks[check]["status"] == "fail" and hint in checks[check]["hint"], checks[check]
    assert [c["status"] for c in checks.values() if c["id"] != check] == ["pass"]
