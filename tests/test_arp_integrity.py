"""arp-basic graded as an instructor grades a class: cheats fail the check they target,
with a hint that says why, and correct solutions written in other styles pass.

Each file is graded by `lab check arp-basic --exercise FILE --json` on a real network.
Where the TODOs are independent, one file holds several cheats, one per TODO.
"""
from __future__ import annotations

import pytest

from conftest import ROOT, graded, student_file
from lab.grading import CONSTANT_HINT

pytestmark = pytest.mark.root

CHECKS = ("who-has", "is-at", "lookup", "gratuitous")


def by_id(document: dict) -> dict[str, dict]:
    return {check["id"]: check for check in document["checks"]}


def assert_all_pass(code: int, document: dict) -> None:
    assert code == 0 and document["passed"], document.get("error") or by_id(document)
    assert all(document["status_of"][check] == "pass" for check in CHECKS)
    checks = by_id(document)
    assert "right in 4 of 4 cases" in checks["is-at"]["detail"]
    assert "right in 6 of 6 cases" in checks["lookup"]["detail"]


# --- correct solutions in other styles than solutions/ ---

KEYWORDS_AND_GETLAYER = """
from scapy.layers.l2 import ARP, Ether


def build_who_has(my_mac, my_ip, target_ip):
    return Ether(src=my_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=target_ip, psrc=my_ip, hwsrc=my_mac, op="who-has")


def parse_is_at(reply):
    arp = reply.getlayer(ARP)
    return (arp.psrc, arp.hwsrc)


def find_entry(neighbours, ip):
    table = {e.get_attr("NDA_DST"): e.get_attr("NDA_LLADDR") for e in neighbours}
    return table.get(ip)


def build_gratuitous(my_mac, my_ip):
    # The reply form: Linux takes it as gratuitous when hwdst equals hwsrc.
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=2, hwsrc=my_mac, psrc=my_ip, hwdst=my_mac, pdst=my_ip)
"""

HELPER_MODULE = """
from scapy.layers.l2 import ARP, Ether

EVERYONE = "ff:ff:ff:ff:ff:ff"


def shout(src_mac, **arp_fields):
    return Ether(type=0x0806, src=src_mac, dst=EVERYONE) / ARP(**arp_fields)


def sender_of(arp):
    return arp.psrc, arp.hwsrc
"""

USES_HELPER = """
from arp_helpers import shout, sender_of


def build_who_has(my_mac, my_ip, target_ip):
    return shout(my_mac, hwdst="00:00:00:00:00:00", pdst=target_ip, op="who-has", psrc=my_ip, hwsrc=my_mac)


def parse_is_at(reply):
    return sender_of(reply["ARP"])


def find_entry(neighbours, ip):
    return next((e.get_attr("NDA_LLADDR") for e in neighbours if e.get_attr("NDA_DST") == ip), None)


def build_gratuitous(my_mac, my_ip):
    return shout(my_mac, op=1, psrc=my_ip, pdst=my_ip, hwsrc=my_mac, hwdst="ff:ff:ff:ff:ff:ff")
"""

BYTES_AND_FIELDS = """
import socket
import struct

from scapy.layers.l2 import ARP, Ether


def build_who_has(my_mac, my_ip, target_ip):
    frame = Ether() / ARP()
    frame.dst = "ff:ff:ff:ff:ff:ff"
    frame.src = my_mac
    frame[ARP].op = 1
    frame[ARP].hwsrc = my_mac
    frame[ARP].psrc = my_ip
    frame[ARP].pdst = target_ip
    return frame


def parse_is_at(reply):
    raw = bytes(reply)
    return socket.inet_ntoa(raw[28:32]), ":".join(f"{b:02x}" for b in raw[22:28])


def find_entry(neighbours, ip):
    for entry in neighbours:
        attrs = dict(entry["attrs"])
        if attrs["NDA_DST"] == ip:
            return attrs.get("NDA_LLADDR")
    return None


def build_gratuitous(my_mac, my_ip):
    mac, ip = bytes.fromhex(my_mac.replace(":", "")), socket.inet_aton(my_ip)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip, bytes(6), ip)
    return Ether(b"\\xff" * 6 + mac + b"\\x08\\x06" + arp)
"""


@pytest.mark.parametrize("files", [
    {"student.py": USES_HELPER, "arp_helpers.py": HELPER_MODULE},
    {"student.py": BYTES_AND_FIELDS},
], ids=["helper module, reply['ARP'], next()", "raw bytes, field assignments, struct"])
def test_correct_solutions_in_other_styles_pass(tmp_path, files):
    for name, code in files.items():
        student_file(tmp_path, code, name)
    assert_all_pass(*graded("arp-basic", tmp_path / "student.py"))


def test_addresses_hard_coded_from_an_earlier_run_fail(tmp_path):
    """A correct file in another style passes; one that copies that run's addresses
    from the report (its JSON) fails every check in the next run."""
    code, first = graded("arp-basic", student_file(tmp_path, KEYWORDS_AND_GETLAYER, "keywords.py"))
    assert_all_pass(code, first)
    (ip1, mac1), (ip2, mac2), (ip3, mac3) = ((first["hosts"][h]["ip"], first["hosts"][h]["mac"])
                                             for h in ("h1", "h2", "h3"))
    copied = student_file(tmp_path, f"""
from scapy.layers.l2 import ARP, Ether


def build_who_has(my_mac, my_ip, target_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src="{mac1}") / ARP(op=1, hwsrc="{mac1}", psrc="{ip1}", pdst="{ip2}")


def parse_is_at(reply):
    return ("{ip2}", "{mac2}")


def find_entry(neighbours, ip):
    return {{"{ip2}": "{mac2}", "{ip1}": "{mac1}"}}.get(ip)


def build_gratuitous(my_mac, my_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src="{mac3}") / ARP(op=1, hwsrc="{mac3}", psrc="{ip3}", pdst="{ip3}")
""", "copied.py")
    code, document = graded("arp-basic", copied)
    checks = by_id(document)
    assert code == 1 and document["seed"] != first["seed"]
    assert all(document["status_of"][check] == "fail" for check in CHECKS)
    assert "addresses change every run" in checks["who-has"]["hint"]
    assert checks["is-at"]["hint"] == CONSTANT_HINT
    assert checks["lookup"]["hint"] == CONSTANT_HINT
    assert "addresses change every run" in checks["gratuitous"]["hint"]


# --- cheats: each fails the check it targets ---

ANSWERS_EVERY_COMPARISON = """
import os

from scapy.layers.l2 import ARP, Ether


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class EqualTuple(tuple):
    def __eq__(self, other):
        return True

    __hash__ = tuple.__hash__


def build_who_has(my_mac, my_ip, target_ip):
    # The addresses every run used to have.
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc="10.0.0.1", pdst="10.0.0.2")


def parse_is_at(reply):
    return EqualTuple(("10.0.0.2", "00:00:00:00:00:02"))


def find_entry(neighbours, ip):
    return AlwaysEqual()


def build_gratuitous(my_mac, my_ip):
    print("announcing, then leaving")
    os._exit(3)
"""


def test_objects_that_answer_every_comparison_and_other_cheats_fail(tmp_path):
    code, document = graded("arp-basic", student_file(tmp_path, ANSWERS_EVERY_COMPARISON))
    checks = by_id(document)
    assert code == 1 and all(document["status_of"][check] == "fail" for check in CHECKS)
    assert "10.0.0.1" in checks["who-has"]["hint"] and "addresses change every run" in checks["who-has"]["hint"]
    assert "EqualTuple" in checks["is-at"]["detail"] and checks["is-at"]["hint"] == "return tuple[str, str]"
    assert "AlwaysEqual" in checks["lookup"]["detail"] and checks["lookup"]["hint"] == "return str | None"
    assert "os._exit(3)" in checks["gratuitous"]["detail"]


def test_code_that_reaches_for_the_reference_fails(tmp_path):
    reference = ROOT / "solutions" / "arp_basic.py"
    code, document = graded("arp-basic", student_file(tmp_path, f"""
import importlib
import importlib.util
import sys


def build_who_has(my_mac, my_ip, target_ip):
    spec = importlib.util.spec_from_file_location("ref", "{reference}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_who_has(my_mac, my_ip, target_ip)


def parse_is_at(reply):
    namespace = {{}}
    exec(open("{reference}").read(), namespace)
    return namespace["parse_is_at"](reply)


def find_entry(neighbours, ip):
    sys.path.insert(0, "{ROOT}")
    return importlib.import_module("solutions.arp_basic").find_entry(neighbours, ip)


def build_gratuitous(my_mac, my_ip):
    loaded = [m for name, m in sys.modules.items() if "solution" in name or name.startswith("lab")]
    return loaded[0].build_gratuitous(my_mac, my_ip)
"""))
    checks = by_id(document)
    assert code == 1 and all(document["status_of"][check] == "fail" for check in CHECKS)
    assert "FileNotFoundError" in checks["who-has"]["detail"]
    assert "FileNotFoundError" in checks["is-at"]["detail"]
    assert "No module named 'solutions'" in checks["lookup"]["detail"]
    assert "IndexError" in checks["gratuitous"]["detail"]
    # The lab adds no networking hint of its own to a call that failed.
    assert checks["is-at"]["hint"] == checks["lookup"]["hint"] == "fix the error above and run again"


def test_importing_the_reference_at_the_top_is_an_error(tmp_path):
    code, document = graded("arp-basic", student_file(tmp_path, "from solutions.arp_basic import *\n"))
    assert code == 1 and document["status"] == "error"
    assert "No module named 'solutions'" in document["error"]


def test_answers_that_ignore_the_arguments_fail(tmp_path):
    """parse_is_at reads h1's kernel instead of the reply; find_entry answers by call
    order. (build_who_has leaves Ether's source to scapy, which fills in h1's own MAC
    as on any host: that is right, and passes.)"""
    code, document = graded("arp-basic", student_file(tmp_path, """
import socket

from pyroute2 import IPRoute
from scapy.layers.l2 import ARP, Ether

calls = 0


def build_who_has(my_mac, my_ip, target_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=my_mac, psrc=my_ip, pdst=target_ip)


def parse_is_at(reply):
    with IPRoute() as ipr:
        entry = ipr.get_neighbours(family=socket.AF_INET)[0]
    return entry.get_attr("NDA_DST"), entry.get_attr("NDA_LLADDR")


def find_entry(neighbours, ip):
    global calls
    calls += 1  # the two live hits used to come first, then a miss
    return neighbours[0].get_attr("NDA_LLADDR") if calls <= 2 else None


def build_gratuitous(my_mac, my_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc=my_ip, pdst=my_ip)
"""))
    checks = by_id(document)
    assert code == 1
    assert document["status_of"] == {"who-has": "pass", "is-at": "fail", "lookup": "fail", "gratuitous": "pass"}
    assert checks["is-at"]["hint"] == CONSTANT_HINT and "right in 1 of 4 cases" in checks["is-at"]["detail"]
    assert "of 6 cases" in checks["lookup"]["detail"]


def test_subclassed_strings_first_entries_and_remembered_answers_fail(tmp_path):
    code, document = graded("arp-basic", student_file(tmp_path, """
from scapy.layers.l2 import ARP, Ether


class EqualStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def build_who_has(my_mac, my_ip, target_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc=my_ip, pdst=target_ip)


def parse_is_at(reply):
    return EqualStr(reply[ARP].psrc), EqualStr(reply[ARP].hwsrc)


def find_entry(neighbours, ip):
    return neighbours[0].get_attr("NDA_LLADDR") if neighbours else None


def build_gratuitous(my_mac, my_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc="10.0.0.3", pdst="10.0.0.3")
"""))
    checks = by_id(document)
    assert code == 1
    assert document["status_of"] == {"who-has": "pass", "is-at": "fail", "lookup": "fail", "gratuitous": "fail"}
    assert "EqualStr" in checks["is-at"]["detail"] and checks["is-at"]["hint"] == "return tuple[str, str]"
    assert "return None" in checks["lookup"]["hint"] and "right in 2 of 6 cases" in checks["lookup"]["detail"]
    assert "addresses change every run" in checks["gratuitous"]["hint"]


def test_a_remembered_answer_and_a_subclassed_string_fail(tmp_path):
    code, document = graded("arp-basic", student_file(tmp_path, """
from scapy.layers.l2 import ARP, Ether

first = []


class EqualStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def build_who_has(my_mac, my_ip, target_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc=my_ip, pdst=target_ip)


def parse_is_at(reply):
    if not first:  # the live reply used to be the only call
        first.append((reply[ARP].psrc, reply[ARP].hwsrc))
    return first[0]


def find_entry(neighbours, ip):
    return EqualStr("02:00:00:00:00:00")


def build_gratuitous(my_mac, my_ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc=my_ip, pdst=my_ip)
"""))
    checks = by_id(document)
    assert code == 1
    assert document["status_of"] == {"who-has": "pass", "is-at": "fail", "lookup": "fail", "gratuitous": "pass"}
    assert checks["is-at"]["hint"] == CONSTANT_HINT
    assert "EqualStr" in checks["lookup"]["detail"] and checks["lookup"]["hint"] == "return str | None"
