"""The student's exercise file, its reference solution, and calling into them safely.

An exercise is a plain module in exercises/ whose TODO functions start out as
`raise NotImplementedError`. Each call runs in a forked child that has entered the
acting host's namespace, so the student's code acts from that host, cannot harm the
engine, and is stopped after a timeout if it hangs. A TODO not done yet, or one that
raised, is replaced by the reference solution for that call, and the outcome says so.
"""
from __future__ import annotations

import ast
import contextlib
import io
import os
import pickle
import select
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ExerciseError, LabDefinitionError
from .loader import describe_exception, load_file
from .netns import setns
from .paths import EXERCISES, SOLUTIONS, shown

DONE, TODO, RAISED, TIMEOUT = "done", "todo", "raised", "timeout"


@dataclass(frozen=True)
class Outcome:
    """What one call into the exercise gave, and whose code gave it."""

    todo: str
    value: Any
    status: str          # DONE, TODO, RAISED or TIMEOUT
    detail: str = ""     # one line for anything but DONE
    printed: str = ""    # what the student's code printed

    @property
    def by_student(self) -> bool:
        return self.status == DONE


def progress(path: Path, todos: tuple[str, ...]) -> dict[str, bool]:
    """For each TODO function: has the student replaced its NotImplementedError?"""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError):
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


class Exercise:
    """The student's module (or the reference, with --solution) and the reference."""

    def __init__(self, name: str, todos: tuple[str, ...], solution: bool = False,
                 path: Path | None = None):
        self.todos = todos
        self.reference_path = SOLUTIONS / f"{name}.py"
        self.path = self.reference_path if solution else (path or EXERCISES / f"{name}.py")
        self.reference = load_file(self.reference_path, LabDefinitionError, "lab_solution")
        self.module = self.reference if solution else load_file(self.path, ExerciseError, "lab_exercise")
        for todo in todos:
            if not callable(getattr(self.reference, todo, None)):
                raise LabDefinitionError(f"{shown(self.reference_path)}: no function {todo}()")

    def progress(self) -> dict[str, bool]:
        return progress(self.path, self.todos)

    def call(self, todo: str, netns_path: str, *args, timeout: float = 2.0) -> Outcome:
        """Call the student's todo(*args) inside a host; the reference stands in if needed."""
        function = getattr(self.module, todo, None)
        if not callable(function):
            status, value, printed = TODO, f"{shown(self.path)} has no function {todo}()", ""
        else:
            status, value, printed = call_in_child(function, args, netns_path, timeout)
        if status == DONE:
            return Outcome(todo, value, DONE, printed=printed)
        if status == TODO:
            value = f"TODO {todo}() not done yet"
        elif status == RAISED:
            value = f"{shown(self.path)} {value}"
        elif status == TIMEOUT:
            value = f"{todo}() did not return within {timeout:g} s; look for a loop that never ends"
        reference = call_in_child(getattr(self.reference, todo), args, netns_path, timeout)
        if reference[0] != DONE:
            raise LabDefinitionError(f"{shown(self.reference_path)}: reference {todo}() failed: {reference[1]}")
        return Outcome(todo, reference[1], status, value, printed)


def call_in_child(function, args: tuple, netns_path: str, timeout: float) -> tuple[str, Any, str]:
    """Run function(*args) in a forked child inside netns_path: (status, value, printed)."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _die_with(parent)
        _child(function, args, netns_path, write_end)
    os.close(write_end)
    data, deadline = b"", time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([read_end], [], [], left)[0]:
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            data += chunk
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(read_end)
        if not data:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if not data:
        return TIMEOUT, None, ""
    try:
        return pickle.loads(data)
    except Exception as exc:  # a half-written result: the child died mid-way
        return RAISED, f"its result could not be read back ({type(exc).__name__})", ""


def _die_with(parent: int) -> None:
    """Have the kernel kill this child if the run dies, even by SIGKILL."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the run died before prctl took effect
        os._exit(1)


def _child(function, args: tuple, netns_path: str, write_end: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    printed = io.StringIO()
    try:
        setns(netns_path)
        with contextlib.redirect_stdout(printed):
            result = (DONE, function(*args), printed.getvalue())
        payload = pickle.dumps(result)
    except NotImplementedError:  # the TODO's starting line: not an error, just not done
        payload = pickle.dumps((TODO, None, printed.getvalue()))
    except BaseException as exc:  # the student's code may raise anything, even SystemExit
        source = getattr(function, "__code__", None)
        path = Path(source.co_filename) if source else None
        payload = pickle.dumps((RAISED, describe_exception(exc, path), printed.getvalue()))
    try:
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    finally:
        os._exit(0)
