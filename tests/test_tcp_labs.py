"""tcp-handshake and tcp-teardown on real networks: the references pass with every
state on the right host, the untouched exercises are not done, typical mistakes fail
with their hint, h1's kernel never resets, and the capture agrees with the report."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SUMMARY, descendants, host_state, lab, reported_segments, tshark_segments, wait_gone
from lab.exchange import poll

pytestmark = pytest.mark.root

HANDSHAKE = ROOT / "solutions" / "tcp_handshake.py"
TEARDOWN = ROOT / "solutions" / "tcp_teardown.py"


def check_json(name: str, *args: str) -> tuple[int, dict]:
    result = lab("check", name, "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """reference(name) -> (exit code, JSON document, capture) of one --solution run per lab."""
    runs = {}

    def run(name: str):
        if name not in runs:
            pcap = tmp_path_factory.mktemp(name) / "ref.pcapng"
            runs[name] = (*check_json(name, "--solution", "--pcap", str(pcap)), pcap)
        return runs[name]
    return run


def attempt(tmp_path: Path, reference: Path, code: str) -> Path:
    path = tmp_path / "attempt.py"
    path.write_text(reference.read_text() + "\n\n" + code)
    return path


def states_of(document: dict, host: str) -> list[str]:
    return [s["state"] for step in document["steps"] for s in step["states"] if s["host"] == host]


def in_order(sequence: list[str], wanted: list[str]) -> bool:
    """Each wanted state appears, in this order (others may come between)."""
    position = 0
    for state in sequence:
        if position < len(wanted) and wanted[position] in state:
            position += 1
    return position == len(wanted)


def resets_from_h1(pcap: Path, document: dict) -> list[tuple]:
    return [s for s in tshark_segments(pcap) if s[0] == document["hosts"]["h1"]["ip"] and "R" in s[4]]


@pytest.mark.parametrize("name", ["tcp-handshake", "tcp-teardown"])
def test_reference_passes_and_capture_agrees_with_tshark(reference, name):
    code, document, pcap = reference(name)
    assert code == 0 and {c["status"] for c in document["checks"]} == {"pass"}
    on_wire = tshark_segments(pcap)
    assert on_wire and on_wire == reported_segments(document)
    assert not resets_from_h1(pcap, document), "h1's kernel sent a reset"


def test_handshake_states_on_the_right_host(reference):
    _, document, _ = reference("tcp-handshake")
    h1, h2 = states_of(document, "h1"), states_of(document, "h2")
    # the crafted handshake: the listener, then the request socket, then the connection
    assert in_order(h2, ["LISTEN", "SYN_RECV", "ESTABLISHED"])
    # between two kernels, the client's SYN_SENT is seen while the SYN-ACK is held back
    assert in_order(h1, ["SYN_SENT", "ESTABLISHED"])
    assert "SYN_SENT" not in " ".join(h2)


def test_teardown_states_half_close_and_retransmission(reference):
    _, document, _ = reference("tcp-teardown")
    h1, h2 = states_of(document, "h1"), states_of(document, "h2")
    assert in_order(h2, ["CLOSE_WAIT", "LAST_ACK", "no connection"])  # the crafted close
    assert in_order(h1, ["FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"])  # closer, between kernels
    assert in_order(h2, ["CLOSE_WAIT", "LAST_ACK"])
    notes = " ".join(note for step in document["steps"] for note in step["notes"])
    assert "h1's application received b'one more thing' after it had sent its FIN" in notes
    left = re.search(r"TIME_WAIT, ([\d.]+) s left; 1 s later: TIME_WAIT, ([\d.]+) s left", notes)
    assert left and 55 < float(left.group(1)) <= 60 and float(left.group(2)) < float(left.group(1))
    assert re.search(r"the FIN went out again \d+ ms later", notes)
    # the report says why h2's ACK of the FIN may wait, and what tcp_fin_timeout is not
    assert re.search(r"h2's ACK came \d+\.\d ms after the FIN: Linux may hold back a pure ACK", notes)
    assert re.search(r"TIME_WAIT about 60 s here, whatever tcp_fin_timeout says \(it is \d+ s, and bounds an "
                     r"orphaned FIN_WAIT2\)", notes)


def test_a_seed_replays_ports_data_and_the_labs_isn(reference):
    """The lab's own SYN (ports, ISN, window) and the data it sends come from the run's
    seed: the same seed gives the same, another seed others."""
    _, document, _ = reference("tcp-teardown")
    seed = document["seed"]
    again = check_json("tcp-teardown", "--solution", "--seed", str(seed))[1]
    other = check_json("tcp-teardown", "--solution", "--seed", str(seed + 1))[1]
    firsts = [opening(d) for d in (document, again, other)]
    assert firsts[0] == firsts[1] and firsts[0] != firsts[2]
    assert len(firsts[0]) == 2 and ".5000 " not in firsts[0][0] and ".40000 " not in firsts[0][0]


def opening(document: dict) -> list[str]:
    """h1's first SYN and first data segment, less the ack (h2's ISN is the kernel's)."""
    summaries = [re.sub(r", ack \d+", "", f["summary"]) for f in document["frames"]]
    return [line for line in summaries if "Flags [S]," in line or "Flags [P.]," in line][:2]


@pytest.mark.parametrize("name", ["tcp-handshake", "tcp-teardown"])
def test_untouched_exercise_is_not_done(tmp_path, name):
    code, document = check_json(name, "--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and {c["status"] for c in document["checks"]} == {"not done"}
    assert lab("run", name, "--pcap", str(tmp_path / "r.pcapng")).returncode == 0


MISTAKES = [
    ("tcp-handshake", HANDSHAKE, """
def build_ack(syn_ack):
    return (IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src)
            / TCP(sport=syn_ack[TCP].dport, dport=syn_ack[TCP].sport, flags="A",
                  seq=syn_ack[TCP].ack, ack=syn_ack[TCP].seq))
""", "ack", "the SYN-ACK's SYN consumes a sequence number, so the ACK number is y+1"),
    ("tcp-handshake", HANDSHAKE, """
def build_data(syn_ack, data):
    return (IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src)
            / TCP(sport=syn_ack[TCP].dport, dport=syn_ack[TCP].sport, flags="PA",
                  seq=syn_ack[TCP].ack + 1, ack=syn_ack[TCP].seq + 1) / data)
""", "data", "seq=x+2: the pure ACK before carried no data"),
    ("tcp-handshake", HANDSHAKE, """
def expected_ack(segment):
    return segment[TCP].seq
""", "expected-ack", "an ACK number names the next byte expected"),
    ("tcp-teardown", TEARDOWN, """
def build_fin(my_last, peer_last):
    return (IP(src=my_last[IP].src, dst=my_last[IP].dst)
            / TCP(sport=my_last[TCP].sport, dport=my_last[TCP].dport, flags="F",
                  seq=my_last[TCP].seq + _length(my_last), ack=peer_last[TCP].seq))
""", "fin", "FIN without the ACK flag"),
    ("tcp-teardown", TEARDOWN, """
def build_fin(my_last, peer_last):
    return (IP(src=my_last[IP].src, dst=my_last[IP].dst)
            / TCP(sport=my_last[TCP].sport, dport=my_last[TCP].dport, flags="FA",
                  seq=my_last[TCP].seq, ack=peer_last[TCP].seq))
""", "fin", "seq not advanced after data"),
    ("tcp-teardown", TEARDOWN, """
def build_last_ack(peer_fin):
    return (IP(src=peer_fin[IP].dst, dst=peer_fin[IP].src)
            / TCP(sport=peer_fin[TCP].dport, dport=peer_fin[TCP].sport, flags="A",
                  seq=peer_fin[TCP].ack, ack=peer_fin[TCP].seq))
""", "last-ack", "h2's FIN consumes a sequence number, so the ACK number is k+1"),
    ("tcp-teardown", TEARDOWN, """
def build_last_ack(peer_fin):
    return (IP(src=peer_fin[IP].dst, dst=peer_fin[IP].src)
            / TCP(sport=peer_fin[TCP].dport, dport=peer_fin[TCP].sport, flags="FA",
                  seq=peer_fin[TCP].ack, ack=peer_fin[TCP].seq + 1))
""", "last-ack", "flags are FIN,ACK: the last segment is a plain ACK"),  # h2 closes all the same
]


@pytest.mark.parametrize("name, reference, code, check, hint", MISTAKES,
                         ids=[f"{m[0]}-{m[3]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistakes_fail_with_their_hint(tmp_path, name, reference, code, check, hint):
    pcap = tmp_path / "c.pcapng"
    status, document = check_json(name, "--exercise", str(attempt(tmp_path, reference, code)),
                                  "--pcap", str(pcap))
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1
    assert checks[check]["status"] == "fail" and hint in checks[check]["hint"], checks[check]
    # only the mistaken part fails: the lab carried on with the reference's segment
    assert [c["status"] for c in checks.values() if c["id"] != check] == ["pass"] * (len(checks) - 1)
    assert not resets_from_h1(pcap, document)


def test_a_build_function_that_raises_is_replaced_by_the_reference(tmp_path):
    """build_syn raises: its check fails with the error, the reference's SYN goes out in
    its place, h2 answers it, and every later check is graded on that connection."""
    code = "def build_syn(my_ip, peer_ip, my_port, peer_port):\n    raise ValueError('no SYN today')\n"
    status, document = check_json("tcp-handshake", "--exercise", str(attempt(tmp_path, HANDSHAKE, code)),
                                  "--pcap", str(tmp_path / "c.pcapng"))
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1 and checks["syn"]["status"] == "fail", checks
    assert "ValueError: no SYN today" in checks["syn"]["detail"]
    assert [checks[i]["status"] for i in ("ack", "data", "expected-ack")] == ["pass"] * 3, checks
    step = next(s for s in document["steps"] if "build_syn" in s["title"])
    assert [(c["todo"], c["status"], c["ran"]) for c in step["calls"]] == [("build_syn", "raised", "reference")]
    assert "the reference's build_syn() stands in for yours" in [s["state"] for s in step["states"] if not s["host"]]
    assert "SYN_RECV" in " ".join(s["state"] for s in step["states"] if s["host"] == "h2")
    h1, h2 = document["hosts"]["h1"]["ip"], document["hosts"]["h2"]["ip"]
    segments = [SUMMARY.match(f["summary"]).groups() for f in document["frames"] if SUMMARY.match(f["summary"])]
    syn = next(s for s in segments if s[0] == h1 and s[4] == "S")
    syn_ack = next(s for s in segments if s[0] == h2 and s[4] == "S.")
    assert (syn_ack[1], syn_ack[3]) == (syn[3], syn[1]) and int(syn_ack[6]) == int(syn[5]) + 1
    assert not resets_from_h1(tmp_path / "c.pcapng", document)


def test_killed_tcp_run_leaves_nothing(tmp_path):
    before = host_state()
    hang = attempt(tmp_path, HANDSHAKE, "def build_data(syn_ack, data):\n    while True:\n        pass\n")
    process = subprocess.Popen([sys.executable, "-m", "lab", "run", "tcp-handshake", "--exercise", str(hang),
                                "--pcap", str(tmp_path / "c.pcapng")], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = poll(lambda: len(descendants(process.pid)) >= 4, 20, interval=0.02)  # hosts, switch, fork
    assert started, f"the run never started its network: {descendants(process.pid)}"
    time.sleep(0.3)  # well inside the 2 s the hanging build_data is given
    assert process.poll() is None, "the run ended before it could be killed"
    family = descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert wait_gone(family) == []
    assert host_state() == before
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "inet lab" not in tables
