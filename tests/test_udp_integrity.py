"""udp-basic graded as an instructor grades a class (`lab check --exercise FILE --json`),
on real networks: cheats fail the check they target, with a hint that says why, and
correct solutions written in other styles than solutions/ pass every check.

Values "from one run" are read from a real run of the reference with one seed; the
files using them are graded with another seed, as a copied answer meets another run.
Each file holds cheats aimed at different TODOs, so one lab run tests several.
"""
from __future__ import annotations

import json
import textwrap

import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from conftest import ROOT, graded, lab, student_file

pytestmark = pytest.mark.root

REFERENCE = ROOT / "solutions" / "udp_basic.py"
SEED, OTHER_SEED = "101", "202"
CORRECT_UNREACHABLE = """
def is_port_unreachable(packet):
    return ICMP in packet and packet[ICMP].type == 3 and packet[ICMP].code == 3
"""
ANYTHING = '''
class Anything:
    """Equal to anything: a grader comparing with it would run this code."""
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__
'''


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> dict:
    """What a student saw in one run of the reference: addresses, ports, data."""
    pcap = tmp_path_factory.mktemp("one-run") / "run.pcapng"
    result = lab("check", "udp-basic", "--solution", "--seed", SEED, "--pcap", str(pcap), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    h2 = json.loads(result.stdout)["hosts"]["h2"]["ip"]
    sent = [p for p in rdpcap(str(pcap)) if UDP in p and p[IP].dst == h2]
    echo, probe = sent[0], sent[-1]  # each crossed two switch ports
    return {"h1": echo[IP].src, "h2": echo[IP].dst, "client": echo[UDP].sport, "echo": echo[UDP].dport,
            "closed": probe[UDP].dport, "data": bytes(echo[UDP].payload)}


def grade_file(tmp_path, code: str, **helpers: str) -> tuple[int, dict]:
    """Grade a whole student file (with helper modules beside it) under OTHER_SEED."""
    for name, text in helpers.items():
        student_file(tmp_path, textwrap.dedent(text), f"{name}.py")
    path = student_file(tmp_path, textwrap.dedent(code))
    status, document = graded("udp-basic", path, "--seed", OTHER_SEED)
    document["check"] = {c["id"]: c for c in document["checks"]}
    return status, document


def reference_with(code: str) -> str:
    """The reference with some functions redefined: the other checks must still pass."""
    return REFERENCE.read_text() + "\n\n" + textwrap.dedent(code)


def assert_fails(document: dict, check: str, *words: str) -> None:
    found = document["check"][check]
    said = found["detail"] + " | " + found["hint"]
    assert found["status"] == "fail" and all(w in said for w in words), (check, found)


def assert_only_failing(document: dict, *checks: str) -> None:
    assert {c for c, s in document["status_of"].items() if s != "pass"} == set(checks), document["status_of"]


# --- cheats ---

def test_values_that_answer_every_comparison_fail(tmp_path):
    code = ANYTHING + '''
from scapy.layers.inet import ICMP, IP, UDP


class AnyBytes(bytes):
    __eq__, __ne__, __hash__ = Anything.__eq__, Anything.__ne__, bytes.__hash__


class AnyInt(int):
    __eq__, __ne__, __hash__ = Anything.__eq__, Anything.__ne__, int.__hash__


def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return Anything()


def parse_echo(reply):
    return AnyBytes(b"whatever")


def udp_length(data):
    return AnyInt(0)


def is_port_unreachable(packet):
    return int(ICMP in packet and packet[ICMP].type == 3 and packet[ICMP].code == 3)
'''
    status, document = grade_file(tmp_path, code)
    assert status == 1
    assert_fails(document, "datagram", "Anything", "IP(...) / UDP(...)")
    assert_fails(document, "echo", "AnyBytes", "return bytes")
    assert_fails(document, "length", "AnyInt", "return int")
    assert_fails(document, "unreachable", "int 1", "return bool")


def test_subclasses_of_str_and_tuple_and_objects_that_equal_anything_fail(tmp_path):
    code = ANYTHING + '''
from scapy.layers.inet import ICMP, IP, UDP


class AnyStr(str):
    __eq__, __ne__, __hash__ = Anything.__eq__, Anything.__ne__, str.__hash__


class AnyTuple(tuple):
    __eq__, __ne__, __hash__ = Anything.__eq__, Anything.__ne__, tuple.__hash__


class AnyFrame(bytes):
    __eq__, __ne__, __hash__ = Anything.__eq__, Anything.__ne__, bytes.__hash__


def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return AnyFrame(bytes(IP(src=my_ip, dst=peer_ip) / UDP(sport=my_port, dport=peer_port) / data))


def parse_echo(reply):
    return AnyStr(bytes(reply[UDP].payload).decode("latin-1"))


def udp_length(data):
    return AnyTuple((8 + len(data),))


def is_port_unreachable(packet):
    return Anything()
'''
    status, document = grade_file(tmp_path, code)
    assert status == 1
    assert_fails(document, "datagram", "AnyFrame", "IP(...) / UDP(...)")
    assert_fails(document, "echo", "AnyStr", "return bytes")
    assert_fails(document, "length", "AnyTuple", "return int")
    assert_fails(document, "unreachable", "Anything", "return bool")


def test_reading_the_reference_and_counting_calls_fail(tmp_path):
    code = f'''
import importlib.util
import sys

from scapy.layers.inet import ICMP, IP, UDP

PROJECT = {str(ROOT)!r}
REFERENCE = {str(REFERENCE)!r}
CALLS = []


def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    sys.path.insert(0, PROJECT)
    from solutions.udp_basic import build_datagram as reference
    return reference(my_ip, peer_ip, my_port, peer_port, data)


def parse_echo(reply):
    namespace = {{}}
    exec(open(REFERENCE).read(), namespace)
    return namespace["parse_echo"](reply)


def udp_length(data):
    spec = importlib.util.spec_from_file_location("reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.udp_length(data)


def is_port_unreachable(packet):
    """The port unreachable used to come first."""
    CALLS.append(packet)
    return len(CALLS) == 1
'''
    status, document = grade_file(tmp_path, code)
    assert status == 1
    assert_fails(document, "datagram", "ModuleNotFoundError", "solutions")
    assert_fails(document, "echo", "FileNotFoundError")
    assert_fails(document, "length", "FileNotFoundError")
    assert_fails(document, "unreachable", "of 9 cases")


def test_addresses_and_answers_of_another_run_fail(tmp_path, one_run):
    code = reference_with(f'''
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src={one_run["h1"]!r}, dst={one_run["h2"]!r}) / UDP(sport=my_port, dport=peer_port) / data


def parse_echo(reply):
    return {one_run["data"]!r}


def udp_length(data):
    return {8 + len(one_run["data"])}
''')
    status, document = grade_file(tmp_path, code)
    assert status == 1 and document["hosts"]["h1"]["ip"] != one_run["h1"]
    assert_fails(document, "datagram", "use the arguments, addresses change from run to run")
    assert_fails(document, "echo", "right in 0 of 5 cases", "same answer whatever its arguments")
    assert_fails(document, "length", "of 5 cases", "same answer whatever its arguments")
    assert_only_failing(document, "datagram", "echo", "length")


def test_ports_and_a_data_length_of_another_run_fail(tmp_path, one_run):
    code = reference_with(f'''
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / UDP(sport={one_run["client"]}, dport={one_run["echo"]}) / data


def parse_echo(reply):
    return bytes(reply)[28:28 + {len(one_run["data"])}]
''')
    status, document = grade_file(tmp_path, code)
    assert status == 1
    assert_fails(document, "datagram", f"dport is {one_run['echo']}", "this time the lab asked for peer_port=")
    assert_fails(document, "echo", "of 5 cases", "not a fixed number of bytes")
    assert_only_failing(document, "datagram", "echo")


def test_a_payload_of_another_run_fails(tmp_path, one_run):
    code = reference_with(f'''
def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    return IP(src=my_ip, dst=peer_ip) / UDP(sport=my_port, dport=peer_port) / {one_run["data"]!r}
''' + CORRECT_UNREACHABLE)
    status, document = grade_file(tmp_path, code)
    assert status == 1
    assert_fails(document, "datagram", repr(one_run["data"]), "not the data you were given")
    assert_only_failing(document, "datagram")


# --- correct solutions in other styles ---

def test_scapy_all_raw_load_haslayer_and_a_built_length_pass(tmp_path):
    code = '''
from scapy.all import ICMP, IP, UDP, Raw


def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    udp = UDP(dport=peer_port, sport=my_port)
    return IP(dst=peer_ip, src=my_ip) / udp / Raw(load=data)


def parse_echo(reply):
    return reply[Raw].load


def udp_length(data):
    return len(UDP() / data)


def is_port_unreachable(packet):
    if not packet.haslayer(ICMP):
        return False
    return packet[ICMP].type == 3 and packet[ICMP].code == 3
'''
    status, document = grade_file(tmp_path, code)
    assert status == 0 and set(document["status_of"].values()) == {"pass"}, document["checks"]


def test_a_header_packed_by_hand_in_a_helper_module_passes(tmp_path):
    helper = '''
"""My UDP helpers: the header packed by hand, as RFC 768 draws it."""
import struct

HEADER = struct.Struct("!HHHH")  # source port, destination port, length, checksum


def udp_header(sport, dport, data):
    return HEADER.pack(sport, dport, HEADER.size + len(data), 0)  # checksum 0: none, allowed over IPv4


def after_udp_header(ip_bytes, ihl):
    return ip_bytes[ihl * 4 + HEADER.size:]
'''
    code = '''
from scapy.layers.inet import ICMP, IP

import udp_tools


def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    packet = IP(src=my_ip, dst=peer_ip, proto=17) / (udp_tools.udp_header(my_port, peer_port, data) + data)
    return IP(bytes(packet))


def parse_echo(reply):
    return udp_tools.after_udp_header(bytes(reply), reply[IP].ihl)


def udp_length(data):
    return udp_tools.HEADER.size + len(data)


def is_port_unreachable(packet):
    icmp = packet.getlayer(ICMP)
    return icmp is not None and (icmp.type, icmp.code) == (3, 3)
'''
    status, document = grade_file(tmp_path, code, udp_tools=helper)
    assert status == 0 and set(document["status_of"].values()) == {"pass"}, document["checks"]
    assert "no checksum" in document["check"]["datagram"]["detail"]


def test_fields_set_one_by_one_and_names_of_types_and_codes_pass(tmp_path):
    code = '''
import struct

from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Raw


def build_datagram(my_ip, peer_ip, my_port, peer_port, data):
    ip, udp = IP(ttl=32), UDP()
    ip.src, ip.dst = my_ip, peer_ip
    udp.sport = my_port
    udp.dport = peer_port
    udp.len = udp_length(data)  # set by hand, and right
    return ip / udp / Raw(data)


def parse_echo(reply):
    return bytes(reply[UDP])[8:]


def udp_length(data):
    return struct.calcsize("!HHHH") + len(data)


def is_port_unreachable(packet):
    return ICMP in packet and packet[ICMP].sprintf("%ICMP.type% %ICMP.code%") == "dest-unreach port-unreachable"
'''
    status, document = grade_file(tmp_path, code)
    assert status == 0 and set(document["status_of"].values()) == {"pass"}, document["checks"]
