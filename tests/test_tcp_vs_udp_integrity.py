"""tcp-vs-udp graded as an instructor grades a class: cheats fail the check they
target, with a hint that says why, and correct solutions written in other styles pass.

Each file is graded by `lab check tcp-vs-udp --exercise FILE --json` on a real
network. split_messages and tally are independent, so one file holds a cheat for each.
"""
from __future__ import annotations

import ast
import re

import pytest

from conftest import ROOT, graded, student_file
from lab.grading import CONSTANT_HINT

pytestmark = pytest.mark.root

REFERENCE = ROOT / "solutions" / "tcp_vs_udp.py"
CASES = re.compile(r"right in (\d+) of (\d+) cases")


@pytest.fixture(autouse=True)
def readable(tmp_path):
    """Student code runs as nobody, and must be able to read its own folder."""
    tmp_path.chmod(0o755)


def by_id(document: dict) -> dict[str, dict]:
    return {check["id"]: check for check in document["checks"]}


def cases(check: dict) -> tuple[int, int]:
    right, total = CASES.search(check["detail"]).groups()
    return int(right), int(total)


def assert_all_pass(code: int, document: dict) -> None:
    assert code == 0 and document["passed"], document.get("error") or by_id(document)
    for check in by_id(document).values():
        right, total = cases(check)
        assert right == total >= 8, check


def notes(document: dict) -> str:
    return re.sub(r"\n  (?=\S)", " ", "\n".join(n for step in document["steps"] for n in step["notes"]))


# --- correct solutions in other styles than solutions/ ---

PARTITION_AND_SETS = """
def split_messages(buffer):
    messages = []
    while True:
        head, newline, tail = buffer.partition(b"\\n")
        if not newline:
            return messages, head
        messages.append(head)
        buffer = tail


def tally(sent, received):
    wanted = set(range(sent))
    arrived = set(received) & wanted
    firsts, seen = [], set()
    for number in received:
        if number not in seen:
            seen.add(number)
            firsts.append(number)
    late = {n for i, n in enumerate(firsts) if i and max(firsts[:i]) > n}
    return dict(delivered=len(arrived), lost=len(wanted - arrived), duplicated=len(received) - len(firsts),
                out_of_order=len(late))
"""

LAST_PIECE_AND_COUNTER = """
import itertools
from collections import Counter


def split_messages(buffer):
    pieces = buffer.split(b"\\n")
    return list(pieces[:-1]), pieces[-1]


def tally(sent, received):
    copies = Counter(received)
    delivered = sum(1 for number in copies if 0 <= number < sent)
    order = list(dict.fromkeys(received))  # first arrivals, in order
    highest = itertools.accumulate(order, max)
    late = sum(1 for top, number in zip(highest, order[1:]) if number < top)
    return {"lost": sent - delivered, "delivered": delivered,
            "duplicated": sum(copies.values()) - len(copies), "out_of_order": late}
"""

FRAMING_MODULE = """
import re

LINE = re.compile(rb"([^\\n]*)\\n")


def whole_lines(buffer):
    return LINE.findall(buffer)


def after_last_newline(buffer):
    return buffer[buffer.rfind(b"\\n") + 1:]
"""

REGEX_AND_RUNNING_MAX = """
from framing import after_last_newline, whole_lines


def split_messages(buffer):
    return whole_lines(buffer), after_last_newline(buffer)


def tally(sent, received):
    result = dict.fromkeys(["delivered", "lost", "duplicated", "out_of_order"], 0)
    highest, seen, i = None, {}, 0
    while i < len(received):
        number = received[i]
        if seen.get(number):
            result["duplicated"] += 1
        else:
            seen[number] = True
            if highest is not None and number < highest:
                result["out_of_order"] += 1
            if highest is None or number > highest:
                highest = number
            if 0 <= number < sent:
                result["delivered"] += 1
        i += 1
    result["lost"] = sent - result["delivered"]
    return result
"""


@pytest.mark.parametrize("files", [
    {"student.py": PARTITION_AND_SETS},
    {"student.py": LAST_PIECE_AND_COUNTER},
    {"student.py": REGEX_AND_RUNNING_MAX, "framing.py": FRAMING_MODULE},
], ids=["partition loop, sets", "split and last piece, Counter and accumulate",
        "regex in a helper module, while loop with a running max"])
def test_correct_solutions_in_other_styles_pass(tmp_path, files):
    for name, code in files.items():
        student_file(tmp_path, code, name)
    assert_all_pass(*graded("tcp-vs-udp", tmp_path / "student.py"))


# --- cheats: each fails the check it targets ---

@pytest.mark.parametrize("code, split_kind, tally_kind", [
    ("""
class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class EqualDict(dict):
    def __eq__(self, other):
        return True

    __hash__ = None


def split_messages(buffer):
    return AlwaysEqual()


def tally(sent, received):
    return EqualDict(delivered=sent, lost=0, duplicated=0, out_of_order=0)
""", "AlwaysEqual", "EqualDict"),
    ("""
class EqualTuple(tuple):
    def __eq__(self, other):
        return True

    __hash__ = tuple.__hash__


class EqualInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


def split_messages(buffer):
    return EqualTuple(([], b""))


def tally(sent, received):
    return {key: EqualInt(0) for key in ("delivered", "lost", "duplicated", "out_of_order")}
""", "EqualTuple", "EqualInt"),
    ("""
class EqualBytes(bytes):
    def __eq__(self, other):
        return True

    __hash__ = bytes.__hash__


class EqualStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def split_messages(buffer):
    return [EqualBytes(buffer)], EqualBytes(b"")


def tally(sent, received):
    return {EqualStr(key): 0 for key in ("delivered", "lost", "duplicated", "out_of_order")}
""", "EqualBytes", "EqualStr"),
], ids=["a class and a dict subclass", "tuple and int subclasses", "bytes and str subclasses"])
def test_values_that_answer_every_comparison_fail(tmp_path, code, split_kind, tally_kind):
    status, document = graded("tcp-vs-udp", student_file(tmp_path, code))
    checks = by_id(document)
    assert status == 1 and document["status_of"] == {"split": "fail", "tally": "fail"}
    assert split_kind in checks["split"]["detail"]
    assert checks["split"]["hint"] == "return tuple[list[bytes], bytes]"
    assert tally_kind in checks["tally"]["detail"] and checks["tally"]["hint"] == "return dict[str, int]"


def test_code_that_reaches_for_the_reference_fails(tmp_path):
    status, document = graded("tcp-vs-udp", student_file(tmp_path, f"""
import importlib.util


def split_messages(buffer):
    from solutions.tcp_vs_udp import split_messages as theirs
    return theirs(buffer)


def tally(sent, received):
    namespace = {{}}
    exec(open("{REFERENCE}").read(), namespace)
    return namespace["tally"](sent, received)
"""))
    checks = by_id(document)
    assert status == 1 and document["status_of"] == {"split": "fail", "tally": "fail"}
    assert "No module named 'solutions'" in checks["split"]["detail"]
    assert "FileNotFoundError" in checks["tally"]["detail"]
    assert checks["split"]["hint"] == checks["tally"]["hint"] == "fix the error above and run again"


def test_code_that_looks_for_the_reference_elsewhere_fails(tmp_path):
    status, document = graded("tcp-vs-udp", student_file(tmp_path, f"""
import importlib.util
import sys


def split_messages(buffer):
    spec = importlib.util.spec_from_file_location("ref", "{REFERENCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.split_messages(buffer)


def tally(sent, received):
    loaded = [m for name, m in sys.modules.items() if "solution" in name or name.startswith("lab")]
    return loaded[0].tally(sent, received)
"""))
    checks = by_id(document)
    assert status == 1 and document["status_of"] == {"split": "fail", "tally": "fail"}
    assert "FileNotFoundError" in checks["split"]["detail"]
    assert "IndexError" in checks["tally"]["detail"]


def test_answers_copied_from_a_run_fail_in_that_same_run(tmp_path):
    """The constants of one run, taken from its report: split_messages gives the
    boundaries step's answer, tally looks each table row up by its numbers. Graded
    with the same seed, the live cases are right, the made-up ones are not."""
    status, first = graded("tcp-vs-udp", student_file(tmp_path, PARTITION_AND_SETS, "right.py"))
    assert_all_pass(status, first)
    boundary = ast.literal_eval(re.search(r"1 recv\(\): (b'[^']*')", notes(first)).group(1))
    rows = {}
    for name, *figures in re.findall(r"^(TCP|UDP|UDP, late \+ twice) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)",
                                     notes(first), re.M):
        sent, delivered, lost, duplicated, late = map(int, figures)
        rows[(sent, name == "TCP")] = rows.get((sent, name == "TCP")) or {
            "delivered": delivered, "lost": lost, "duplicated": duplicated, "out_of_order": late}
    messages = boundary.split(b"\n")[:-1]
    copied = student_file(tmp_path, f"""
ROWS = {rows!r}


def split_messages(buffer):
    return {messages!r}, b""


def tally(sent, received):
    tcp = received == list(range(len(received)))
    return ROWS.get((sent, tcp)) or ROWS.get((sent, False)) or {{"delivered": sent, "lost": 0, "duplicated": 0,
                                                                  "out_of_order": 0}}
""", "copied.py")
    status, document = graded("tcp-vs-udp", copied, "--seed", str(first["seed"]))
    checks = by_id(document)
    assert status == 1 and document["status_of"] == {"split": "fail", "tally": "fail"}
    assert checks["split"]["hint"] == CONSTANT_HINT and cases(checks["split"])[0] == 1
    right, total = cases(checks["tally"])  # the live rows but UDP's (its random losses differ)
    assert 2 <= right <= 3 and total == 8 and checks["tally"]["hint"]


def test_answers_by_call_order_fail(tmp_path):
    status, document = graded("tcp-vs-udp", student_file(tmp_path, """
calls = {"split": 0, "tally": 0}


def split_messages(buffer):
    calls["split"] += 1  # the live buffer used to be the first and only call
    if calls["split"] == 1:
        *messages, rest = buffer.split(b"\\n")
        return messages, rest
    return [], b""


def tally(sent, received):
    calls["tally"] += 1
    if calls["tally"] == 1:
        return {"delivered": sent, "lost": 0, "duplicated": 1, "out_of_order": 2}
    return {"delivered": len(set(received)), "lost": sent - len(set(received)), "duplicated": 0, "out_of_order": 0}
"""))
    checks = by_id(document)
    assert status == 1 and document["status_of"] == {"split": "fail", "tally": "fail"}
    # The cases come in a random order, each call's in a process of its own.
    # split_messages is called twice (the boundaries, the stream's pieces): right on
    # the buffer that comes first in each, then on the empty buffer only: 3 at most.
    # tally's first answer fits the late row only; the later ones fit the cases with no
    # copy and no late number (the TCP and UDP rows, some lost, nothing arrived): 5 of
    # the 8 at most.
    assert cases(checks["split"])[0] <= 3 and cases(checks["tally"])[0] <= 5


def test_a_split_without_its_rest_and_a_tally_that_counts_copies_as_delivered_fail(tmp_path):
    status, document = graded("tcp-vs-udp", student_file(tmp_path, """
def split_messages(buffer):
    return [m for m in buffer.split(b"\\n")[:-1]], b""


def tally(sent, received):
    return {"delivered": len(received), "lost": sent - len(received),
            "duplicated": len(received) - len(set(received)), "out_of_order": 0}
"""))
    checks = by_id(document)
    assert status == 1 and document["status_of"] == {"split": "fail", "tally": "fail"}
    assert "you dropped the incomplete rest" in checks["split"]["hint"]
    assert "delivered counts distinct numbers" in checks["tally"]["hint"]
