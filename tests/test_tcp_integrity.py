"""tcp-handshake and tcp-teardown graded as an instructor grades a class (`lab check
--exercise FILE --json`, real networks): each cheat fails the check it targets, with a
hint that says why, and correct solutions written in other styles than solutions/
pass every check.

Several cheats share one file when they target different TODOs: one lab run grades
them all.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT, graded, student_file

pytestmark = pytest.mark.root

HANDSHAKE = ROOT / "solutions" / "tcp_handshake.py"
TEARDOWN = ROOT / "solutions" / "tcp_teardown.py"
HANDSHAKE_CHECKS = ["syn", "ack", "data", "expected-ack"]
TEARDOWN_CHECKS = ["fin", "fin-ack", "last-ack"]
COUNTER_SEED = "4242"  # shuffles the hidden cases away from the order they are listed in


def on_reference(tmp_path: Path, reference: Path, code: str) -> Path:
    """The reference with some functions redefined: only those are the student's."""
    return student_file(tmp_path, reference.read_text() + "\n\n" + code, "cheat.py")


def checks(document: dict) -> dict[str, dict]:
    return {c["id"]: c for c in document["checks"]}


def assert_fails(document: dict, expected: dict[str, str], all_ids: list[str]) -> None:
    """Each check in expected fails with that word in its hint or detail; the others pass."""
    found = checks(document)
    for check in all_ids:
        verdict = found[check]
        if check in expected:
            said = verdict["hint"] + " " + verdict["detail"]
            assert verdict["status"] == "fail" and expected[check] in said, (check, verdict)
        else:
            assert verdict["status"] == "pass", (check, verdict)


# --- objects that answer == with True, of every kind the engine could be fooled by ---

EQUAL_TO_ALL = """
class Yes:
    def __eq__(self, other):
        return True

class YesTuple(tuple):
    def __eq__(self, other):
        return True

class YesStr(str):
    def __eq__(self, other):
        return True

class YesInt(int):
    def __eq__(self, other):
        return True

class Sneaky(IP):  # a packet class of its own: scapy would call its __eq__
    def __eq__(self, other):
        return True
"""


def test_handshake_objects_equal_to_everything_fail(tmp_path):
    code = EQUAL_TO_ALL + """
def build_syn(my_ip, peer_ip, my_port, peer_port):
    return Yes()

def build_ack(syn_ack):
    return YesTuple(("ACK",))

def build_data(syn_ack, data):
    return (Sneaky(src=syn_ack[IP].dst, dst=syn_ack[IP].src)
            / TCP(sport=syn_ack[TCP].dport, dport=syn_ack[TCP].sport, flags="PA",
                  seq=syn_ack[TCP].ack, ack=syn_ack[TCP].seq + 1) / data)

def expected_ack(segment):
    return YesInt(segment[TCP].seq)
"""
    code_, document = graded("tcp-handshake", on_reference(tmp_path, HANDSHAKE, code))
    assert code_ == 1
    assert_fails(document, {"syn": "return a scapy packet", "ack": "return a scapy packet",
                            "data": "return a scapy packet", "expected-ack": "return int"}, HANDSHAKE_CHECKS)
    assert "YesInt" in checks(document)["expected-ack"]["detail"]


def test_teardown_objects_equal_to_everything_fail(tmp_path):
    code = EQUAL_TO_ALL + """
def build_fin(my_last, peer_last):
    return YesStr("FIN")

def expected_fin_ack(fin):
    return YesInt(fin[TCP].seq + 1)

def build_last_ack(peer_fin):
    return Yes()
"""
    _, document = graded("tcp-teardown", on_reference(tmp_path, TEARDOWN, code))
    assert_fails(document, {"fin": "return a scapy packet", "fin-ack": "return int",
                            "last-ack": "return a scapy packet"}, TEARDOWN_CHECKS)


# --- reading or importing the reference ---

def test_handshake_reading_the_reference_fails(tmp_path):
    code = f"""
def build_syn(my_ip, peer_ip, my_port, peer_port):
    from solutions.tcp_handshake import build_syn as reference
    return reference(my_ip, peer_ip, my_port, peer_port)

def build_ack(syn_ack):
    namespace = {{}}
    exec(open("{HANDSHAKE}").read(), namespace)
    return namespace["build_ack"](syn_ack)

def build_data(syn_ack, data):
    import importlib.util
    spec = importlib.util.spec_from_file_location("reference", "{HANDSHAKE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_data(syn_ack, data)

def expected_ack(segment):
    import sys
    return sys.modules["lab_solution"].expected_ack(segment)  # where the lab keeps the reference
"""
    _, document = graded("tcp-handshake", on_reference(tmp_path, HANDSHAKE, code))
    assert_fails(document, {"syn": "ModuleNotFoundError", "ack": "FileNotFoundError",
                            "data": "FileNotFoundError", "expected-ack": "KeyError"}, HANDSHAKE_CHECKS)


def test_teardown_reading_the_reference_fails(tmp_path):
    code = f"""
def build_fin(my_last, peer_last):
    import sys
    sys.path.insert(0, "{ROOT}")
    import solutions.tcp_teardown
    return solutions.tcp_teardown.build_fin(my_last, peer_last)

def expected_fin_ack(fin):
    import os
    path = os.path.join("{ROOT}", "solutions", "tcp_teardown.py")
    source = open(path).read()
    return fin[TCP].seq + 1 if "expected_fin_ack" in source else 0

def build_last_ack(peer_fin):
    import importlib
    return importlib.import_module("lab.labs.tcp_teardown").LAB.exercise  # the lab's own package
"""
    _, document = graded("tcp-teardown", on_reference(tmp_path, TEARDOWN, code))
    assert_fails(document, {"fin": "ModuleNotFoundError", "fin-ack": "FileNotFoundError",
                            "last-ack": "ModuleNotFoundError"}, TEARDOWN_CHECKS)


# --- the old labs' constants, a constant ISN, an answer that ignores the length ---

def test_handshake_old_constants_fail(tmp_path):
    code = """
def build_syn(my_ip, peer_ip, my_port, peer_port):
    return IP(src=my_ip, dst=peer_ip) / TCP(sport=my_port, dport=peer_port, flags="S", seq=1000)

def build_ack(syn_ack):
    return (IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=syn_ack[TCP].dport, dport=syn_ack[TCP].sport, flags="A",
                  seq=syn_ack[TCP].ack, ack=syn_ack[TCP].seq + 1))

def build_data(syn_ack, data):
    return (IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src)
            / TCP(sport=40000, dport=5000, flags="PA", seq=syn_ack[TCP].ack, ack=syn_ack[TCP].seq + 1)
            / b"hello, h2\\n")

def expected_ack(segment):
    return segment[TCP].seq + 1  # as if every segment took one number
"""
    _, document = graded("tcp-handshake", on_reference(tmp_path, HANDSHAKE, code))
    assert_fails(document, {"syn": "your ISN is the same in two SYNs", "ack": "the addresses are 10.0.0.1 > 10.0.0.2",
                            "data": "send the data argument", "expected-ack": "one sequence number per byte"},
                 HANDSHAKE_CHECKS)
    assert "random.randint(0, 2**32 - 1)" in checks(document)["syn"]["hint"]


def test_teardown_old_constants_fail(tmp_path):
    code = """
def build_fin(my_last, peer_last):
    return (IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=40000, dport=5000, flags="FA", seq=my_last[TCP].seq + _length(my_last),
                  ack=peer_last[TCP].seq + _length(peer_last)))

def expected_fin_ack(fin):
    return fin[TCP].seq + 1  # right for this FIN, which carries no data

def build_last_ack(peer_fin):
    return (IP(src=peer_fin[IP].dst, dst=peer_fin[IP].src)
            / TCP(sport=40000, dport=5000, flags="A", seq=peer_fin[TCP].ack, ack=peer_fin[TCP].seq + 1))
"""
    _, document = graded("tcp-teardown", on_reference(tmp_path, TEARDOWN, code))
    assert_fails(document, {"fin": "keep the connection's ports", "fin-ack": "one sequence number per byte",
                            "last-ack": "swap the FIN's ports"}, TEARDOWN_CHECKS)
    assert "right in 3 of 6 cases" in checks(document)["fin-ack"]["detail"]


# --- call counters: an ISN that counts, answers by the order the lab lists its cases in ---

def test_handshake_counters_fail(tmp_path):
    code = """
syns = 0

def build_syn(my_ip, peer_ip, my_port, peer_port):
    global syns
    syns += 1
    return IP(src=my_ip, dst=peer_ip) / TCP(sport=my_port, dport=peer_port, flags="S", seq=7_000_000 + syns)

calls = 0
# the live data segment, then data, a pure ACK, a SYN, a FIN, a FIN with data: the extra number each takes
EXTRA = [0, 0, 0, 1, 1, 1]

def expected_ack(segment):
    global calls
    calls += 1
    return segment[TCP].seq + len(segment[TCP].payload) + EXTRA[(calls - 1) % len(EXTRA)]
"""
    _, document = graded("tcp-handshake", on_reference(tmp_path, HANDSHAKE, code), "--seed", COUNTER_SEED)
    assert_fails(document, {"syn": "only 1 apart", "expected-ack": "right in"}, HANDSHAKE_CHECKS)


def test_teardown_counter_fails(tmp_path):
    code = """
calls = 0
# the live FIN, then data, a pure ACK, a SYN, a FIN, a FIN with data: the extra number each takes
EXTRA = [1, 0, 0, 1, 1, 1]

def expected_fin_ack(fin):
    global calls
    calls += 1
    return fin[TCP].seq + len(fin[TCP].payload) + EXTRA[(calls - 1) % len(EXTRA)]
"""
    _, document = graded("tcp-teardown", on_reference(tmp_path, TEARDOWN, code), "--seed", COUNTER_SEED)
    assert_fails(document, {"fin-ack": "right in"}, TEARDOWN_CHECKS)


# --- every value hard-coded from one run, then graded with the same seed ---

SEGMENT = re.compile(r"IP ([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): Flags \[([SFRP.]*)\], seq (\d+)(?:, ack (\d+))?")


def segments(document: dict) -> list[tuple]:
    """(src, sport, dst, dport, flags, seq, ack) of each TCP segment of a run."""
    found = []
    for frame in document["frames"]:
        if match := SEGMENT.match(frame["summary"]):
            src, sport, dst, dport, flags, seq, ack = match.groups()
            found.append((src, int(sport), dst, int(dport), flags, int(seq), int(ack or 0)))
    return found


def test_handshake_values_of_one_run_fail_on_the_same_seed(tmp_path):
    _, reference = graded("tcp-handshake", HANDSHAKE, "--seed", "31337")
    h1, h2 = reference["hosts"]["h1"]["ip"], reference["hosts"]["h2"]["ip"]
    syn = next(s for s in segments(reference) if s[4] == "S" and s[0] == h1)
    data = next(s for s in segments(reference) if s[4] == "P." and s[0] == h1)
    note = next(n for step in reference["steps"] for n in step["notes"] if "expected_ack gave" in n)
    said = re.search(r"received (b'.*'); expected_ack gave (\d+)", note)
    _, client, _, server, _, x, _ = syn
    code = f"""
def build_syn(my_ip, peer_ip, my_port, peer_port):
    return IP(src="{h1}", dst="{h2}") / TCP(sport={client}, dport={server}, flags="S",
                                           seq=random.randrange(2**32))

def build_ack(syn_ack):
    return IP(src="{h1}", dst="{h2}") / TCP(sport={client}, dport={server}, flags="A", seq={x + 1}, ack={data[6]})

def build_data(syn_ack, data):
    return (IP(src="{h1}", dst="{h2}") / TCP(sport={client}, dport={server}, flags="PA", seq={x + 1}, ack={data[6]})
            / {said.group(1)})

def expected_ack(segment):
    return segment[TCP].seq + {len(ast.literal_eval(said.group(1)))}  # the length of that run's data
"""
    _, document = graded("tcp-handshake", on_reference(tmp_path, HANDSHAKE, code), "--seed", "31337")
    assert document["hosts"] == reference["hosts"]  # the same seed: the same addresses and ports
    assert_fails(document, {"syn": "not from values seen in one run", "ack": "ack is y", "data": "seq is x",
                            "expected-ack": "right in 1 of 6 cases"}, HANDSHAKE_CHECKS)


def test_teardown_values_of_one_run_fail_on_the_same_seed(tmp_path):
    _, reference = graded("tcp-teardown", TEARDOWN, "--seed", "31337")
    h1, h2 = reference["hosts"]["h1"]["ip"], reference["hosts"]["h2"]["ip"]
    fin = next(s for s in segments(reference) if s[4] == "F." and s[0] == h1)
    last = next(s for s in segments(reference) if s[:2] == fin[:2] and s[4] == "." and s[5] == fin[5] + 1)
    _, client, _, server, _, m, ack = fin
    code = f"""
def build_fin(my_last, peer_last):
    return IP(src="{h1}", dst="{h2}") / TCP(sport={client}, dport={server}, flags="FA", seq={m}, ack={ack})

def expected_fin_ack(fin):
    return {m + 1}

def build_last_ack(peer_fin):
    return IP(src="{h1}", dst="{h2}") / TCP(sport={client}, dport={server}, flags="A", seq={m + 1}, ack={last[6]})
"""
    _, document = graded("tcp-teardown", on_reference(tmp_path, TEARDOWN, code), "--seed", "31337")
    assert document["hosts"] == reference["hosts"]
    # the lab's own ISN comes from the seed, so m is the same: only h2's ISN and the
    # hidden cases tell a constant from a computed answer
    assert_fails(document, {"fin": "ack is y", "fin-ack": "instead of returning a constant",
                            "last-ack": "ack is k"}, TEARDOWN_CHECKS)


# --- correct solutions in other styles: each passes every check ---

HANDSHAKE_ALTERNATIVES = {
    "integer flags, fields set after construction, Raw(load=...)": """
import random
from scapy.all import IP, TCP, Raw

def build_syn(my_ip, peer_ip, my_port, peer_port):
    ip = IP()
    ip.src, ip.dst = my_ip, peer_ip
    tcp = TCP()
    tcp.sport, tcp.dport = my_port, peer_port
    tcp.flags = 0x02
    tcp.seq = random.randint(0, 2**32 - 1)
    return ip / tcp

def build_ack(syn_ack):
    tcp = TCP()
    tcp.sport = syn_ack[TCP].dport
    tcp.dport = syn_ack[TCP].sport
    tcp.flags = 0x10
    tcp.seq = syn_ack[TCP].ack
    tcp.ack = syn_ack[TCP].seq + 1
    return IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src) / tcp

def build_data(syn_ack, data):
    segment = build_ack(syn_ack)
    segment[TCP].flags = 0x18
    return segment / Raw(load=data)

def expected_ack(segment):
    tcp = segment[TCP]
    number = tcp.seq + len(tcp.payload)
    if tcp.flags & 0x02:
        number += 1
    if tcp.flags & 0x01:
        number += 1
    return number
""",
    "Ether() in front, helpers in a module next to the file, secrets": """
import secrets
from scapy.layers.l2 import Ether
from scapy.layers.inet import IP, TCP
from tcp_tools import consumed, reply

def build_syn(my_ip, peer_ip, my_port, peer_port):
    return Ether() / IP(src=my_ip, dst=peer_ip) / TCP(sport=my_port, dport=peer_port, flags="S",
                                                      seq=secrets.randbelow(2**32))

def build_ack(syn_ack):
    return Ether() / reply(syn_ack, "A", seq=syn_ack.ack, ack=syn_ack.seq + consumed(syn_ack))

def build_data(syn_ack, data):
    return Ether() / reply(syn_ack, "PA", seq=syn_ack.ack, ack=syn_ack.seq + 1) / data

def expected_ack(segment):
    return segment.seq + consumed(segment)
""",
    "a header packed with struct, a copied SYN-ACK, setfieldval": """
import os
import struct
from scapy.all import IP, TCP

def build_syn(my_ip, peer_ip, my_port, peer_port):
    isn = int.from_bytes(os.urandom(4), "big")
    header = struct.pack("!HHIIBBHHH", my_port, peer_port, isn, 0, 5 << 4, 0x02, 64240, 0, 0)
    segment = IP(src=my_ip, dst=peer_ip) / TCP(header)
    del segment[TCP].chksum  # scapy computes it again
    return segment

def build_ack(syn_ack):
    answer = syn_ack.copy()
    answer.src, answer.dst = syn_ack[IP].dst, syn_ack[IP].src
    tcp = answer[TCP]
    tcp.sport, tcp.dport = syn_ack[TCP].dport, syn_ack[TCP].sport
    tcp.flags, tcp.seq, tcp.ack = "A", syn_ack[TCP].ack, syn_ack[TCP].seq + 1
    tcp.options = []
    del answer.len, answer.chksum, tcp.dataofs, tcp.chksum
    return answer

def build_data(syn_ack, data):
    tcp = TCP()
    for name, value in (("sport", syn_ack[TCP].dport), ("dport", syn_ack[TCP].sport), ("flags", "PA"),
                        ("seq", syn_ack[TCP].ack), ("ack", syn_ack[TCP].seq + 1)):
        tcp.setfieldval(name, value)
    return IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src) / tcp / data

def expected_ack(segment):
    tcp = segment.getlayer(TCP)
    return (tcp.seq + len(bytes(tcp.payload)) + int(tcp.flags.S) + int(tcp.flags.F)) & 0xFFFFFFFF
""",
}

TOOLS = """
from scapy.layers.inet import IP, TCP

def reply(segment, flags, **fields):
    \"\"\"A segment going back the way segment came: addresses and ports swapped.\"\"\"
    return (IP(src=segment[IP].dst, dst=segment[IP].src)
            / TCP(sport=segment[TCP].dport, dport=segment[TCP].sport, flags=flags, **fields))

def consumed(segment):
    \"\"\"How many sequence numbers a segment takes.\"\"\"
    flags = str(segment[TCP].flags)
    return len(bytes(segment[TCP].payload)) + flags.count("S") + flags.count("F")
"""


@pytest.mark.parametrize("style", list(HANDSHAKE_ALTERNATIVES))
def test_handshake_alternative_solutions_pass(tmp_path, style):
    student_file(tmp_path, TOOLS, "tcp_tools.py")
    code, document = graded("tcp-handshake", student_file(tmp_path, HANDSHAKE_ALTERNATIVES[style]))
    assert code == 0, checks(document)
    assert_fails(document, {}, HANDSHAKE_CHECKS)


TEARDOWN_ALTERNATIVES = {
    "integer flags, fields set after construction, len() of the payload": """
from scapy.all import IP, TCP

def build_fin(my_last, peer_last):
    segment = IP(src=my_last[IP].src, dst=my_last[IP].dst) / TCP()
    segment.sport, segment.dport = my_last.sport, my_last.dport  # IP has no such fields: TCP's
    segment[TCP].flags = 0x11  # segment.flags would be IP's
    segment.seq = my_last.seq + len(my_last[TCP].payload)
    segment.ack = peer_last.seq + len(peer_last[TCP].payload)
    return segment

def expected_fin_ack(fin):
    tcp = fin[TCP]
    return tcp.seq + len(tcp.payload) + (1 if tcp.flags & 0x01 else 0) + (1 if tcp.flags & 0x02 else 0)

def build_last_ack(peer_fin):
    segment = IP(src=peer_fin[IP].dst, dst=peer_fin[IP].src) / TCP(flags=0x10)
    segment[TCP].sport, segment[TCP].dport = peer_fin[TCP].dport, peer_fin[TCP].sport
    segment[TCP].seq, segment[TCP].ack = peer_fin[TCP].ack, expected_fin_ack(peer_fin)
    return segment
""",
    "Ether() in front, helpers in a module next to the file": """
from scapy.all import *
from tcp_tools import consumed, reply

def build_fin(my_last, peer_last):
    onward = reply(peer_last, "FA", seq=my_last[TCP].seq + consumed(my_last),
                   ack=peer_last[TCP].seq + consumed(peer_last))
    return Ether() / onward

def expected_fin_ack(fin):
    return fin[TCP].seq + consumed(fin)

def build_last_ack(peer_fin):
    return Ether() / reply(peer_fin, "A", seq=peer_fin[TCP].ack, ack=peer_fin[TCP].seq + consumed(peer_fin))
""",
    "copies of the segments given, payload removed": """
from scapy.layers.inet import IP, TCP

def _fresh(segment):
    del segment[IP].len, segment[IP].chksum, segment[TCP].chksum, segment[TCP].dataofs
    return segment

def build_fin(my_last, peer_last):
    fin = my_last.copy()
    fin[TCP].remove_payload()
    fin[TCP].flags = "FA"
    fin[TCP].seq = my_last[TCP].seq + len(bytes(my_last[TCP].payload))
    fin[TCP].ack = peer_last[TCP].seq + len(bytes(peer_last[TCP].payload))
    return _fresh(fin)

def expected_fin_ack(fin):
    taken = len(bytes(fin[TCP].payload)) + ("F" in str(fin[TCP].flags)) + ("S" in str(fin[TCP].flags))
    return (fin[TCP].seq + taken) % 2**32

def build_last_ack(peer_fin):
    ack = peer_fin.copy()
    ack[IP].src, ack[IP].dst = peer_fin[IP].dst, peer_fin[IP].src
    ack[TCP].sport, ack[TCP].dport = peer_fin[TCP].dport, peer_fin[TCP].sport
    ack[TCP].flags, ack[TCP].seq, ack[TCP].ack = "A", peer_fin[TCP].ack, peer_fin[TCP].seq + 1
    ack[TCP].options = []
    return _fresh(ack)
""",
}


@pytest.mark.parametrize("style", list(TEARDOWN_ALTERNATIVES))
def test_teardown_alternative_solutions_pass(tmp_path, style):
    student_file(tmp_path, TOOLS, "tcp_tools.py")
    code, document = graded("tcp-teardown", student_file(tmp_path, TEARDOWN_ALTERNATIVES[style]))
    assert code == 0, checks(document)
    assert_fails(document, {}, TEARDOWN_CHECKS)
