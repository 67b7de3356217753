"""The student's exercise file, its reference solution, and calling into them safely.

An exercise is a plain module in exercises/ whose TODO functions start out as
`raise NotImplementedError`. The lab never imports it: each call runs in the sandbox
(lab/sandbox.py), a fresh interpreter that forks one unprivileged child per call
inside the acting host, and only plain data comes back. Here that data becomes an
Outcome: the value, dissected again by the lab if it is a frame and checked against
the kind the lab declared for the TODO; or why there is none. A TODO not done yet, or
one that raised, hung or returned the wrong kind, is replaced by the reference
solution for that call, and the outcome says so.
"""
from __future__ import annotations

import ast
import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import hints, kinds
from .errors import ExerciseError, LabDefinitionError, ScenarioError
from .loader import load_file
from .paths import EXERCISES, ROOT, SOLUTIONS, shown
from .sandbox import DONE, FAULT, RAISED, TIMEOUT, TODO, Sandbox, load_plain

WRONG = "wrong kind"
IMPORT_TIMEOUT = 5.0  # seconds the student's file gets to import (a loop at its top level)


@dataclass(frozen=True)
class Outcome:
    """What one call into the exercise gave, and whose code gave it."""

    todo: str
    value: Any
    status: str          # DONE, TODO, RAISED, TIMEOUT or WRONG
    detail: str = ""     # one line for anything but DONE
    printed: str = ""    # what the student's code printed
    calls: tuple = ()    # socket calls, when traced: (started, returned, name, detail, socket id)
    replaced: bool = True  # the reference's value stands in (for anything but DONE)
    cases: tuple = ()    # extra cases of a pure function: (status, value or detail) each
    hint: str = ""       # for WRONG: the kind the TODO must return

    @property
    def by_student(self) -> bool:
        return self.status == DONE


def progress(path: Path, todos: tuple[str, ...]) -> dict[str, bool]:
    """For each TODO function: has the student replaced its NotImplementedError?"""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError, ValueError):
        return dict.fromkeys(todos, False)
    bodies = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

    def untouched(function: ast.FunctionDef) -> bool:
        for node in ast.walk(function):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                    return True
        return False

    return {todo: todo in bodies and not untouched(bodies[todo]) for todo in todos}


def check_syntax(path: Path) -> None:
    """Compile (never run) the student's file: a syntax error is named before anything starts."""
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ExerciseError(f"{shown(path)}, line {exc.lineno}: {exc.msg}; fix the syntax and retry") from None
    except (OSError, ValueError) as exc:
        raise ExerciseError(f"{shown(path)}: cannot be read: {exc}") from None


class Exercise:
    """The student's file (or the reference, with --solution) and the reference."""

    def __init__(self, name: str, todos: tuple[str, ...], returns: dict, solution: bool = False,
                 path: Path | None = None, rng: random.Random | None = None, sandbox: Sandbox | None = None):
        self.todos = todos
        self.returns = returns
        self.rng = rng or random.Random()
        self.reference_path = SOLUTIONS / f"{name}.py"
        self.path = self.reference_path if solution else (path or EXERCISES / f"{name}.py")
        # The reference is trusted: the lab's own steps may call it in-process.
        self.reference = load_file(self.reference_path, LabDefinitionError, "lab_solution")
        for todo in todos:
            if not callable(getattr(self.reference, todo, None)):
                raise LabDefinitionError(f"{shown(self.reference_path)}: no function {todo}()")
        check_syntax(self.path)
        self.sandbox = sandbox or Sandbox(ROOT)
        self._probe = None if solution else self.sandbox.submit(
            self.path, None, [], "/proc/self/ns/net", IMPORT_TIMEOUT)

    def close(self) -> None:
        self.sandbox.close()

    def imported(self) -> None:
        """Wait for the student's file to import in the sandbox; raise if it could not."""
        if self._probe is None:
            return
        probe, self._probe = self._probe, None
        status, detail, _ = self._read(*self.sandbox.collect(probe, IMPORT_TIMEOUT)[::2])
        if status == TIMEOUT:
            raise ExerciseError(f"{shown(self.path)}: importing it did not finish within {IMPORT_TIMEOUT:g} s; "
                                "is there a loop or a blocking call outside any function?")
        if status != DONE:
            raise ExerciseError(f"{shown(self.path)}: importing it failed: {detail}")

    @functools.cached_property
    def written(self) -> dict[str, bool]:
        """Which TODOs the file has replaced (read once: the sandbox cannot change it)."""
        return progress(self.path, self.todos)

    def call(self, todo: str, netns: str, *args, timeout: float = 2.0, extra: list[tuple] = ()) -> Outcome:
        """The student's todo(*args) inside a host; the reference stands in if needed.

        extra: more argument tuples for a pure function, run in the same child in a
        random order with the live case, so that neither a constant nor a call counter
        passes; their results are in Outcome.cases, in the order given.
        """
        order = list(range(len(extra) + 1))
        self.rng.shuffle(order)
        cases = [args if i == 0 else tuple(extra[i - 1]) for i in order]
        student = self.sandbox.submit(self.path, todo, cases, netns, timeout)
        # A TODO still open will need the reference: run it at the same time.
        early = None if self.written[todo] else self.sandbox.submit(self.reference_path, todo, [args], netns, timeout)
        status, results, printed, calls = self._collect(todo, student, timeout)
        standing_in = None if early is None else self._reference_result(todo, early, timeout)
        if status == DONE:  # one result per case, up to the one that ran out of time
            by_case, missing = dict(zip(order, results)), (TIMEOUT, "")
        else:  # the whole call failed: no such function, or importing the file
            by_case, missing = {}, (status, results)
        live_status, value = by_case.get(0, missing)
        others = tuple(by_case.get(i, missing) for i in range(1, len(extra) + 1))
        if live_status == DONE:
            return Outcome(todo, value, DONE, printed=printed, calls=calls, replaced=False, cases=others)
        detail = self._detail(todo, live_status, value, timeout)
        hint = self._hint(todo, live_status, detail)
        if standing_in is None:
            standing_in = self.reference_value(todo, netns, args, timeout)
        return Outcome(todo, standing_in, live_status, detail, printed, calls, cases=others, hint=hint)

    def reference_value(self, todo: str, netns: str, args: tuple, timeout: float = 2.0):
        """The reference's todo(*args), run in the sandbox like the student's."""
        call = self.sandbox.submit(self.reference_path, todo, [args], netns, timeout)
        return self._reference_result(todo, call, timeout)

    def _reference_result(self, todo: str, call: int, timeout: float):
        status, results, _, _ = self._collect(todo, call, timeout)
        result = results[0] if status == DONE and results else (status, results)
        if result[0] != DONE:
            raise LabDefinitionError(f"{shown(self.reference_path)}: reference {todo}() failed: "
                                     f"{self._detail(todo, *result, timeout)}")
        return result[1]

    def start(self, todo: str, netns: str, *args, timeout: float = 2.0,
              trace: bool | str = False) -> "Pending":
        """Start todo(*args) in a host without waiting for it: the student's if written,
        else the reference's. For functions that must run at once, like a server and
        its client; there is no second try, so the lab decides what to do on failure."""
        written = self.written[todo]
        path = self.path if written else self.reference_path
        call = self.sandbox.submit(path, todo, [args], netns, timeout, trace)
        return Pending(self, todo, call, written, timeout)

    def _collect(self, todo: str, call: int, timeout: float) -> tuple[str, Any, str, tuple]:
        """(status, [(status, value or detail) per case] or detail, printed, socket calls)."""
        data, printed, ending = self.sandbox.collect(call, timeout)
        status, results, calls = self._read(data, ending)
        if status == DONE:
            results = [self._value(todo, item) for item in results]
        return status, results, printed.decode("utf-8", "replace"), calls

    @staticmethod
    def _read(data: bytes, ending: str) -> tuple[str, Any, tuple]:
        """(status, results or detail, calls) from what a child wrote, trusting none of it."""
        if not data:
            if ending == "timeout":
                return TIMEOUT, "", ()
            if ending.startswith("exit"):
                return RAISED, f"ended its process with os._exit({ending.split()[1]}) instead of returning", ()
            return RAISED, f"its process was killed by {ending.split()[1]} before it returned", ()
        try:
            status, results, calls = load_plain(data)
            if status == FAULT:
                raise ScenarioError(f"the sandbox could not run the code: {results}")
            if status not in (DONE, TODO, RAISED, TIMEOUT) or type(calls) is not list:
                raise ValueError(status)
            calls = tuple(tuple(c) for c in calls if type(c) is tuple and len(c) >= 4
                          and all(type(x) is float for x in c[:2]) and all(type(x) is str for x in c[2:4]))
        except ScenarioError:
            raise
        except Exception:
            return RAISED, "its result could not be read back", ()
        if status == DONE and type(results) is not list:
            return RAISED, "its result could not be read back", ()
        return status, results, calls

    def _value(self, todo: str, item) -> tuple[str, Any]:
        """(DONE, value) for a well-formed result of the declared kind, else (status, detail)."""
        try:
            status, payload = item
            if status != DONE:
                return status, payload if type(payload) is str else ""
            form, data = payload
            if form == "frame":
                value = _dissect(*data)
            elif form == "plain":
                value = data
            else:
                return WRONG, f"returned {data}; wanted {kinds.name(self.returns[todo])}"
        except Exception:
            return RAISED, "its result could not be read back"
        wrong = kinds.problem(value, self.returns[todo])
        return (WRONG, wrong) if wrong else (DONE, value)

    def _hint(self, todo: str, status: str, detail: str) -> str:
        """For a value of the wrong kind, the kind the TODO must return; for an error,
        the fix it usually needs (lab/hints.py)."""
        if status == WRONG:
            return f"return {kinds.name(self.returns[todo])}"
        return hints.for_error(detail) if status == RAISED else ""

    def _detail(self, todo: str, status: str, detail, timeout: float) -> str:
        """The line a report shows for a call that gave no usable value."""
        if status == TODO:
            return detail or f"TODO {todo}() not done yet"
        if status == TIMEOUT:
            where = f" (it was at {detail})" if detail else ""
            return f"{todo}() did not return within {timeout:g} s{where}; look for a loop or a call that waits forever"
        if status == RAISED and detail.startswith("line "):
            return f"{shown(self.path)} {detail}"
        return detail if detail.startswith(todo) else f"{todo}() {detail}"


class Pending:
    """A call started with Exercise.start; result() waits for it."""

    def __init__(self, exercise: Exercise, todo: str, call: int, written: bool, timeout: float):
        self.exercise, self.todo, self.call, self.written, self.timeout = exercise, todo, call, written, timeout

    def result(self) -> Outcome:
        status, results, printed, calls = self.exercise._collect(self.todo, self.call, self.timeout)
        status, value = results[0] if status == DONE and results else (status, results)
        if not self.written:
            if status != DONE:  # what it talked to, the student's code, most likely broke it
                failure = self.exercise._detail(self.todo, status, value, self.timeout)
                return Outcome(self.todo, None, TODO, f"TODO {self.todo}() not done yet; the reference that "
                               f"stood in failed: {failure} (look at the error of the code it talked to)",
                               printed, calls)
            return Outcome(self.todo, value, TODO, f"TODO {self.todo}() not done yet", printed, calls)
        if status == DONE:
            return Outcome(self.todo, value, DONE, printed=printed, calls=calls, replaced=False)
        detail = self.exercise._detail(self.todo, status, value, self.timeout)
        return Outcome(self.todo, None, status, detail, printed, calls, replaced=False,
                       hint=self.exercise._hint(self.todo, status, detail))


def _dissect(layer: str, raw: bytes):
    """A frame's bytes read again by the lab's own scapy, from the layer the child named."""
    from scapy.config import conf
    from scapy.packet import Raw
    if type(layer) is not str or type(raw) is not bytes:
        raise ValueError("not a frame")
    return next((cls for cls in conf.layers if cls.__name__ == layer), Raw)(raw)
