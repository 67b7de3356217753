"""The contract every discovered lab meets, with no test of its own: the reference
passes every check; the untouched exercise is "not done" on every check, with the
reference really run in each TODO's place; the report and the JSON list every check;
and each TODO returning None, a string, 0, an object of the student's own class, or a
frame of the wrong layers fails its check with a hint, the run exiting 1, never 70
(a fault of the lab)."""
from __future__ import annotations

import pytest

from conftest import graded, lab, student_file
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


def lab_json(*args: str) -> tuple[int, dict, str]:
    """`lab check ... --json` with its capture in a temporary folder: (exit code, document, stderr)."""
    import json
    import tempfile
    with tempfile.TemporaryDirectory(prefix="lab-contract-") as folder:
        result = lab(*args, "--json", "--pcap", f"{folder}/capture.pcapng")
    try:
        return result.returncode, json.loads(result.stdout), result.stderr
    except ValueError:
        raise AssertionError(f"no JSON (exit {result.returncode}): {result.stdout[-500:]} {result.stderr[-2000:]}")


@pytest.mark.parametrize("lab_definition", LABS, ids=lambda lab: lab.name)
def test_the_reference_passes_every_check(lab_definition):
    code, document, stderr = lab_json("check", lab_definition.name, "--solution")
    assert code == 0, (document.get("error"), [c for c in document.get("checks", []) if c["status"] != "pass"],
                       stderr[-1500:])
    assert [(c["id"], c["status"]) for c in document["checks"]] == [(spec.id, "pass") for spec in lab_definition.checks]
    calls = [call for step in document["steps"] for call in step["calls"]]
    assert {call["todo"] for call in calls} == set(lab_definition.todos)
    assert all(call["ran"] == "yours" and call["status"] == "done" for call in calls), calls


@pytest.mark.parametrize("lab_definition", LABS, ids=lambda lab: lab.name)
def test_the_untouched_exercise_is_not_done_and_the_reference_ran_in_its_place(lab_definition):
    code, document, stderr = lab_json("check", lab_definition.name)
    assert code == 1, (document.get("error"), stderr[-1500:])
    assert [(c["id"], c["status"]) for c in document["checks"]] == \
        [(spec.id, "not done") for spec in lab_definition.checks]
    calls = [call for step in document["steps"] for call in step["calls"]]
    assert {call["todo"] for call in calls} == set(lab_definition.todos)
    assert all(call["ran"] == "reference" and call["status"] == "todo" for call in calls), calls
    assert document["captured_frames"] > 0


@pytest.mark.parametrize("lab_definition", LABS, ids=lambda lab: lab.name)
def test_the_report_lists_every_check_within_80_columns(lab_definition, monkeypatch):
    import tempfile
    monkeypatch.setenv("COLUMNS", "80")
    with tempfile.TemporaryDirectory(prefix="lab-contract-") as folder:
        result = lab("run", lab_definition.name, "--pcap", f"{folder}/capture.pcapng")
        short = lab("check", lab_definition.name, "--pcap", f"{folder}/capture.pcapng")
    assert result.returncode == 0, result.stderr[-1500:]  # run shows; check grades
    checks = " ".join(result.stdout.split("\nChecks\n", 1)[1].split())
    for spec in lab_definition.checks:
        assert spec.title in checks, spec.title
    assert f"0 of {len(lab_definition.checks)} checks pass" in checks
    for text in (result.stdout, short.stdout):
        wide = [line for line in text.splitlines() if len(line.encode()) > 80]  # piped: one byte a column
        assert not wide, wide
    assert short.returncode == 1 and short.stdout.splitlines()[-1].startswith("NOT PASSED")
    assert sum(line.startswith("not done ") for line in short.stdout.splitlines()) == len(lab_definition.checks)
