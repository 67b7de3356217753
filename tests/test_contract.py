"""What every discovered lab must do with values of the wrong kind, without a test of
its own: each TODO returning None, a string, 0, an object of the student's own class,
or a frame of the wrong layers fails its check with a hint; the run exits 1, never 70
(a fault of the lab); and the JSON lists every check."""
from __future__ import annotations

import pytest

from conftest import graded, student_file
from lab.catalog import discover

pytestmark = pytest.mark.root

LABS = sorted(discover().labs.values(), key=lambda lab: lab.name)
WRONG = {
    "None": "None",
    "a string": '"oops"',
    "zero": "0",
    "an object": "Mine()",
    "wrong layers": "Ether() / IP(dst='192.0.2.1') / ICMP()",
}


def every_todo_returning(lab, expression: str) -> str:
    """A student file whose every TODO returns expression, whatever it is asked."""
    lines = ["from scapy.layers.inet import ICMP, IP", "from scapy.layers.l2 import Ether", "",
             "class Mine:", "    pass", ""]
    for todo in lab.todos:
        lines += ["", f"def {todo}(*args):", f"    return {expression}", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
@pytest.mark.parametrize("kind", WRONG)
def test_a_wrong_kind_fails_every_check_with_a_hint(tmp_path, lab, kind):
    path = student_file(tmp_path, every_todo_returning(lab, WRONG[kind]), f"{lab.exercise}.py")
    code, document = graded(lab.name, path)
    assert code == 1, (code, document.get("error"), document["stderr"][-1500:])
    assert [c["id"] for c in document["checks"]] == [spec.id for spec in lab.checks]
    for check in document["checks"]:
        assert check["status"] == "fail" and check["hint"], check
