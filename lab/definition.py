"""The lab contract: what one file in lab/labs/ declares.

A lab module defines `LAB = Lab(...)`: its command-line name, title, topology,
exercise, the TODO functions the student writes and the kind each returns, its
evidence (a dataclass), its checks and its teaching text. `scenario(run)` acts on the
live network and fills `run.evidence`, an instance of the lab's evidence class. Each
check names the function that grades it from the evidence and the captured frames,
with no network needed, so every check is unit-testable with the same constructor.
One grader per check, stamped with its check's id by the engine: a check without a
verdict, or a verdict without a check, cannot be written.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import LabDefinitionError

LAB_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PASS, FAIL, NOT_DONE = "pass", "fail", "not done"


@dataclass(frozen=True)
class CheckSpec:
    """One graded point, tied to the TODO function it grades and the function grading it.

    grade(evidence, wire) -> Verdict, made with passed() or failed().
    """

    id: str
    todo: str
    title: str
    grade: Callable[[Any, Any], "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """The result of one check: pass, fail (with a hint that teaches) or not done."""

    id: str
    status: str
    detail: str = ""
    hint: str = ""
    blocked_by: str = ""  # the other TODO whose failure kept this one from being judged


def passed(detail: str) -> Verdict:
    """A passing verdict; the engine gives it the id of the check it grades."""
    return Verdict("", PASS, detail)


def failed(detail: str, hint: str = "") -> Verdict:
    """A failing verdict with the hint that teaches; the engine gives it its check's id."""
    return Verdict("", FAIL, detail, hint)


def blocked(detail: str, hint: str, by: str) -> Verdict:
    """This check could not be judged because the TODO `by` failed (a server whose
    client never came): it fails, and its detail and hint name `by`, even if this
    TODO's own call then hung or raised waiting for it."""
    return Verdict("", FAIL, detail, hint, blocked_by=by)


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
    evidence: type                # a dataclass whose fields all have defaults
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
        ids = [check.id for check in self.checks]
        for check in self.checks:
            if check.todo not in self.todos:
                raise LabDefinitionError(f"lab {self.name}: check {check.id} grades unknown TODO {check.todo}")
            if not callable(check.grade):
                raise LabDefinitionError(f"lab {self.name}: check {check.id} has no grade function")
            if ids.count(check.id) > 1:
                raise LabDefinitionError(f"lab {self.name}: two checks are named {check.id}")
        for todo in self.todos:
            if todo not in (check.todo for check in self.checks):
                raise LabDefinitionError(f"lab {self.name}: no check grades TODO {todo}")
        if not dataclasses.is_dataclass(self.evidence) or not isinstance(self.evidence, type):
            raise LabDefinitionError(f"lab {self.name}: evidence must be a dataclass, like "
                                     "@dataclass class Evidence: sent: Sent | None = None")
        try:
            self.evidence()
        except TypeError:
            raise LabDefinitionError(f"lab {self.name}: give every field of {self.evidence.__name__} a default "
                                     "(the scenario fills them in)") from None

    def check(self, id: str) -> CheckSpec:
        for check in self.checks:
            if check.id == id:
                return check
        raise LabDefinitionError(f"lab {self.name}: no check named {id}")
