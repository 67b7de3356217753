"""The lab contract: what one file in lab/labs/ declares.

A lab module defines `LAB = Lab(...)`: its command-line name, title, topology,
exercise, the TODO functions the student writes, the checks it grades, its teaching
text, and two functions. `scenario(run)` acts on the live network and records
evidence; `grade(evidence, wire)` turns the evidence and the captured frames into
verdicts, with no network needed, so grading is unit-testable.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import LabDefinitionError

LAB_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PASS, FAIL, NOT_DONE = "pass", "fail", "not done"


@dataclass(frozen=True)
class CheckSpec:
    """One graded point, tied to the TODO function it grades."""

    id: str
    todo: str
    title: str


@dataclass(frozen=True)
class Verdict:
    """The result of one check: pass, fail (with a hint that teaches) or not done."""

    id: str
    status: str
    detail: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    topology: str
    exercise: str
    todos: tuple[str, ...]
    checks: tuple[CheckSpec, ...]
    intro: str
    scenario: Callable[[Any], None]
    grade: Callable[[dict, Any], Iterable[Verdict]]
    returns: dict = field(default_factory=dict)  # TODO -> its kind (lab/kinds.py)
    topology_args: tuple = ()
    summary: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not LAB_NAME.match(self.name):
            raise LabDefinitionError(f"lab name {self.name!r} must be kebab-case, like arp-basic")
        for todo in self.todos:
            if todo not in self.returns:
                raise LabDefinitionError(f"lab {self.name}: returns has no kind for TODO {todo}")
        for check in self.checks:
            if check.todo not in self.todos:
                raise LabDefinitionError(f"lab {self.name}: check {check.id} grades unknown TODO {check.todo}")

    def check(self, id: str) -> CheckSpec:
        for check in self.checks:
            if check.id == id:
                return check
        raise LabDefinitionError(f"lab {self.name}: no check named {id}")
