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
KILL_GRACE = 0.5  # seconds a child gets, past its timeout, to report where it was


@dataclass(frozen=True)
class Outcome:
    """What one call into the exercise gave, and whose code gave it."""

    todo: str
    value: Any
    status: str          # DONE, TODO, RAISED or TIMEOUT
    detail: str = ""     # one line for anything but DONE
    printed: str = ""    # what the student's code printed
    calls: tuple = ()    # socket calls, when traced: (started, returned, name, detail)
    replaced: bool = True  # the reference's value stands in (for anything but DONE)

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


def imports_in_time(path: Path, timeout: float = 5.0) -> None:
    """Import the student's file once in a child first: a loop at its top level then
    ends in a clear message instead of hanging the run."""
    status, _, _, _ = Call(lambda: load_file(path, ExerciseError, "lab_probe") and None, (),
                           "/proc/self/ns/net", timeout).wait()
    if status == TIMEOUT:
        raise ExerciseError(f"{shown(path)}: importing it did not finish within {timeout:g} s; "
                            "is there a loop or a blocking call outside any function?")


class Exercise:
    """The student's module (or the reference, with --solution) and the reference."""

    def __init__(self, name: str, todos: tuple[str, ...], solution: bool = False,
                 path: Path | None = None):
        self.todos = todos
        self.reference_path = SOLUTIONS / f"{name}.py"
        self.path = self.reference_path if solution else (path or EXERCISES / f"{name}.py")
        self.reference = load_file(self.reference_path, LabDefinitionError, "lab_solution")
        if not solution:
            imports_in_time(self.path)
        self.module = self.reference if solution else load_file(self.path, ExerciseError, "lab_exercise")
        for todo in todos:
            if not callable(getattr(self.reference, todo, None)):
                raise LabDefinitionError(f"{shown(self.reference_path)}: no function {todo}()")

    def progress(self) -> dict[str, bool]:
        return progress(self.path, self.todos)

    def start(self, todo: str, netns_path: str, *args, timeout: float = 2.0, trace: bool = False) -> "Pending":
        """Start todo(*args) in a host without waiting for it: the student's if written,
        else the reference's. For functions that must run at once, like a server and
        its client; there is no second try, so the lab decides what to do on failure."""
        written = self.progress()[todo] and callable(getattr(self.module, todo, None))
        function = getattr(self.module if written else self.reference, todo)
        return Pending(todo, Call(function, args, netns_path, timeout, trace), written, self.path, timeout)

    def call(self, todo: str, netns_path: str, *args, timeout: float = 2.0) -> Outcome:
        """Call the student's todo(*args) inside a host; the reference stands in if needed."""
        function = getattr(self.module, todo, None)
        if not callable(function):
            status, value, printed = TODO, f"{shown(self.path)} has no function {todo}()", ""
        else:
            status, value, printed, _ = Call(function, args, netns_path, timeout).wait()
        if status == DONE:
            return Outcome(todo, value, DONE, printed=printed)
        if status == TODO:
            value = f"TODO {todo}() not done yet"
        elif status == RAISED:
            value = f"{shown(self.path)} {value}"
        elif status == TIMEOUT:
            value = f"{todo}() did not return within {timeout:g} s{_where(value)}; look for a loop that never ends"
        reference = call_in_child(getattr(self.reference, todo), args, netns_path, timeout)
        if reference[0] != DONE:
            raise LabDefinitionError(f"{shown(self.reference_path)}: reference {todo}() failed: {reference[1]}")
        return Outcome(todo, reference[1], status, value, printed)


class Call:
    """function(*args) running in a forked child inside a host; wait() gives its result.

    Several calls may run at once (a student's server in h2, their client in h1).
    With trace=True, every socket the function opens logs its calls (see _trace).
    """

    def __init__(self, function, args: tuple, netns_path: str, timeout: float, trace: bool = False):
        # The child stops itself at timeout (and reports where it was); the parent
        # kills it a little later if it could not.
        self.deadline = time.monotonic() + timeout + KILL_GRACE
        self.read_end, write_end = os.pipe()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(self.read_end)
            _die_with(parent)
            _child(function, args, netns_path, write_end, trace, timeout)
        os.close(write_end)

    def wait(self) -> tuple[str, Any, str, list]:
        """(status, value, printed, socket calls), killing the child at its deadline."""
        data = b""
        try:
            while True:  # past the deadline, still take what the child has written
                left = max(0.0, self.deadline - time.monotonic())
                if not select.select([self.read_end], [], [], left)[0]:
                    break
                chunk = os.read(self.read_end, 1 << 16)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(self.read_end)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)  # done or not, nothing of it may linger
            os.waitpid(self.pid, 0)
        if not data:
            return TIMEOUT, None, "", []
        try:
            return pickle.loads(data)
        except Exception as exc:  # a half-written result: the child died mid-way
            return RAISED, f"its result could not be read back ({type(exc).__name__})", "", []


class Pending:
    """A call started with Exercise.start; result() waits for it."""

    def __init__(self, todo: str, call: Call, written: bool, path: Path, timeout: float):
        self.todo, self.call, self.written, self.path, self.timeout = todo, call, written, path, timeout

    def result(self) -> Outcome:
        status, value, printed, calls = self.call.wait()
        if not self.written:
            if status != DONE:
                raise LabDefinitionError(f"reference {self.todo}() failed: {value}")
            return Outcome(self.todo, value, TODO, f"TODO {self.todo}() not done yet", printed, tuple(calls))
        detail = ""
        if status != DONE:
            value, where = None, value
        if status == RAISED:
            detail = f"{shown(self.path)} {where}"
        elif status == TIMEOUT:
            detail = (f"{self.todo}() did not return within {self.timeout:g} s{_where(where)}; "
                      "look for a call that waits forever")
        elif status == TODO:
            detail = f"TODO {self.todo}() not done yet"
        return Outcome(self.todo, value, status, detail, printed, tuple(calls), replaced=False)


def _where(line) -> str:
    """' (it was at line 12 in f)' from the child's report, if it made one."""
    return f" (it was at {line})" if line else ""


def call_in_child(function, args: tuple, netns_path: str, timeout: float) -> tuple[str, Any, str]:
    """Run function(*args) in a forked child inside netns_path: (status, value, printed)."""
    return Call(function, args, netns_path, timeout).wait()[:3]


def _die_with(parent: int) -> None:
    """Have the kernel kill this child if the run dies, even by SIGKILL."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the run died before prctl took effect
        os._exit(1)


class _TimeUp(BaseException):
    """Raised in the student's code when its time is up, to report where it was."""


def _time_up(signum, frame):
    raise _TimeUp("still running")


def _child(function, args: tuple, netns_path: str, write_end: int, trace: bool, timeout: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    printed = io.StringIO()
    calls: list = []
    source = getattr(function, "__code__", None)
    path = Path(source.co_filename) if source else None
    try:
        setns(netns_path)
        if trace:
            _trace(calls)
        signal.signal(signal.SIGALRM, _time_up)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        with contextlib.redirect_stdout(printed):
            result = (DONE, function(*args), printed.getvalue(), calls)
        signal.setitimer(signal.ITIMER_REAL, 0)
        payload = pickle.dumps(result)
    except NotImplementedError:  # the TODO's starting line: not an error, just not done
        payload = pickle.dumps((TODO, None, printed.getvalue(), calls))
    except _TimeUp as exc:
        payload = pickle.dumps((TIMEOUT, describe_exception(exc, path).split(":")[0], printed.getvalue(), calls))
    except BaseException as exc:  # the student's code may raise anything, even SystemExit
        payload = pickle.dumps((RAISED, describe_exception(exc, path), printed.getvalue(), calls))
    try:
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    finally:
        os._exit(0)


TRACED = ("bind", "listen", "accept", "connect", "connect_ex", "send", "sendall", "sendto",
          "recv", "recvfrom", "shutdown", "close", "setsockopt")


def _trace(calls: list) -> None:
    """Make socket.socket log each call: (started, returned, name, detail).

    A thin subclass put in the socket module's place, in this child only: the
    student's `socket.socket(...)` (and accept(), which builds its sockets from the
    module's name) then records when each call began and returned, to be matched
    with the frames captured on the wire.
    """
    import socket as module
    base = module.socket

    def traced(name):
        method = getattr(base, name)

        def wrapper(self, *args, **kwargs):
            started = time.time()
            try:
                result = method(self, *args, **kwargs)
            except OSError as exc:
                calls.append((started, time.time(), name, f"{_kind(self)} raised {exc.strerror or exc}"))
                raise
            except _TimeUp:
                calls.append((started, time.time(), name, f"{_kind(self)} still waiting when time was up"))
                raise
            detail = _kind(self) + (f" {args[0]!r}" if args and name in ("bind", "connect", "connect_ex") else "")
            if name == "sendto":
                detail += f" to {args[-1]!r}"
            if name == "accept":
                detail += f" from {result[1]!r}"
            calls.append((started, time.time(), name, detail))
            return result
        return wrapper

    class TracedSocket(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if kwargs.get("fileno") is None and len(args) < 4:
                now = time.time()
                calls.append((now, now, "socket", _kind(self)))

    for name in TRACED:
        setattr(TracedSocket, name, traced(name))
    module.socket = TracedSocket


def _kind(sock) -> str:
    return "TCP" if sock.type == 1 else "UDP"
