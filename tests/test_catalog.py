"""Lab discovery: one file per lab, found without a registry; broken files named."""
from __future__ import annotations

import pytest

from lab.catalog import discover
from lab.errors import UsageError
from lab.exercise import progress
from lab.paths import EXERCISES, SOLUTIONS


def test_arp_basic_is_discovered():
    catalog = discover()
    assert "arp-basic" in catalog.labs
    lab = catalog.labs["arp-basic"]
    assert lab.topology == "star" and lab.exercise == "arp_basic"
    assert {check.todo for check in lab.checks} == set(lab.todos)


def test_unknown_name_suggests_the_closest_lab():
    with pytest.raises(UsageError, match="did you mean arp-basic"):
        discover().find("arp-basci")


def test_dropping_a_file_adds_a_lab_and_a_broken_file_is_reported(tmp_path):
    (tmp_path / "echo_lab.py").write_text(
        "from dataclasses import dataclass\n"
        "from lab.definition import Lab, CheckSpec\n"
        "@dataclass\nclass Evidence:\n    seen: int = 0\n"
        "LAB = Lab(name='echo-lab', title='t', topology='star', exercise='echo', todos=('f',),\n"
        "          returns={'f': int}, checks=(CheckSpec('c', 'f', 'c', print),), intro='', scenario=print,\n"
        "          evidence=Evidence)\n")
    (tmp_path / "broken.py").write_text("LAB = (\n")
    (tmp_path / "nolab.py").write_text("x = 1\n")
    (tmp_path / "_echo_cases.py").write_text("x = 1\n")  # a lab's helper module, not a lab
    (tmp_path / "ungraded.py").write_text((tmp_path / "echo_lab.py").read_text().replace(
        "CheckSpec('c', 'f', 'c', print),", "").replace("echo-lab", "ungraded-lab"))
    catalog = discover(tmp_path)
    assert list(catalog.labs) == ["echo-lab"]
    assert any("broken.py, line 1" in p for p in catalog.problems)
    assert any("nolab.py: define LAB" in p for p in catalog.problems)
    assert any("ungraded-lab: no check grades TODO f" in p for p in catalog.problems)
    assert len(catalog.problems) == 3


def test_every_lab_has_an_exercise_with_todos_and_a_complete_reference():
    for lab in discover().labs.values():
        assert not any(progress(EXERCISES / f"{lab.exercise}.py", lab.todos).values()), \
            f"exercises/{lab.exercise}.py must ship with its TODOs open"
        assert all(progress(SOLUTIONS / f"{lab.exercise}.py", lab.todos).values())


def test_progress_counts_replaced_todos(tmp_path):
    path = tmp_path / "e.py"
    path.write_text("def a():\n    return 1\n\ndef b():\n    raise NotImplementedError('TODO')\n")
    assert progress(path, ("a", "b", "c")) == {"a": True, "b": False, "c": False}
