"""Where exercise code runs: a process that forks one unprivileged child per call.

Student code is untrusted. It never runs in the lab's own process, which holds the
reference solution and the graders. Each run first forks this sandbox from the lab,
before the lab has imported its labs or the reference (scapy and pyroute2 already
imported, so no call pays for them). It becomes process 1 of a PID namespace of its
own, so when it ends the kernel kills every process a student's code started, and
waits for calls. For each call it forks a child that:

- enters the acting host's network namespace;
- gets private mount and IPC namespaces, where the project folder is an empty
  read-only tmpfs and every folder anyone may write to (/tmp, /dev/shm, ...) an
  empty private one; the exercise's folder is copied in (a student sees their own
  exercise and helper modules, never solutions/, the lab package or .git);
- drops to uid/gid 65534 with no capabilities and PR_SET_NO_NEW_PRIVS (or, in a user
  namespace that maps one uid only, drops every capability);
- imports the file and calls the function, once per case, with a time limit;
- sends back plain data only: a scapy packet as its bytes and first layer's name,
  builtin values as they are, anything else as the name of its type.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import pickle
import resource
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

DONE, TODO, RAISED, TIMEOUT, FAULT = "done", "todo", "raised", "timeout", "fault"
NOBODY = 65534
PRINT_LIMIT = 64 * 1024       # bytes of a child's output kept for the report
RESULT_LIMIT = 8 * 1024 * 1024
KILL_GRACE = 0.5              # seconds past its time limit before a child is killed
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PRELOADED = ("scapy.packet", "scapy.layers.l2", "scapy.layers.inet", "pyroute2")
PRELOADABLE = {"scapy", "pyroute2", "socket", "selectors", "asyncio", "threading", "struct", "random",
               "secrets", "re", "collections", "itertools", "functools", "ipaddress", "binascii", "json",
               "queue", "select", "dataclasses", "typing", "contextlib", "errno", "time"}


def describe_exception(exc: BaseException, path: Path | None = None) -> str:
    """'line N in func: Type: message', pointing at the deepest line inside path."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if path is not None:
        frames = [f for f in frames if Path(f.filename).resolve() == path.resolve()] or frames
    if frames:
        last = frames[-1]
        where = f"line {last.lineno} in {last.name}: "
    if isinstance(exc, SystemExit):
        return f"{where}sys.exit({exc.code!r}) ended the call"
    message = str(exc)
    return f"{where}{type(exc).__name__}" + (f": {message}" if message else "")


# --- the child: one call, untrusted code, no privileges ---

_libc = None


def _sys(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, kind, flags: int, data=None) -> None:
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    _sys(_libc.mount(enc(source), enc(target), enc(kind), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


# Every folder anyone may write to on Debian: private and empty in a child, so nothing
# it writes is left on the machine or seen by the next call.
SCRATCH = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"))
COPY_LIMITS = (200, 2 << 20)  # at most this many files of the exercise's folder, each this big


def _hide_project(root: Path, path: Path) -> Path:
    """Give the child a mount namespace where root is an empty read-only tmpfs and the
    scratch folders are empty private ones; return where the copy of path's folder is.

    The exercise's folder may not be readable by the unprivileged child (a 0700 temp
    folder, a 0750 home on Ubuntu), so its files are read now, as root, and written to
    a private folder anyone may read: the child imports the file and its helper modules
    from there. Nothing the code writes outlives the call.
    """
    files = _folder_files(path.parent)
    # System V shared memory and message queues, too, go with the child's own IPC namespace.
    _sys(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(CLONE_NEWNS | CLONE_NEWIPC)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    covered = [d for d in (root, *SCRATCH) if d.is_dir()]
    covered = [d for d in covered if not any(other in d.parents for other in covered)]  # /tmp hides /tmp/x
    for folder in covered:
        _mount("lab-sandbox", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    if root in covered:  # else it lies in an empty scratch tmpfs already
        _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    # A /proc of the sandbox's PID namespace: the lab's processes, their command lines
    # included, are not even visible.
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    copy = Path("/tmp/lab-exercise")
    copy.mkdir(mode=0o755)
    for name, data in files.items():
        (copy / name).write_bytes(data)
    return copy


def _folder_files(folder: Path) -> dict[str, bytes]:
    """The regular files directly in folder (Python modules, data), within limits."""
    count, size = COPY_LIMITS
    files = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.suffix != ".py")[:count]:
        with contextlib.suppress(OSError):
            if entry.is_file() and entry.stat().st_size <= size:
                files[entry.name] = entry.read_bytes()
    return files


def _drop_privileges() -> None:
    """No uid 0, no capabilities, and no way back (setuid programs included)."""
    for limit, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 4 * PRINT_LIMIT),
                         (resource.RLIMIT_NPROC, 512), (resource.RLIMIT_AS, 2 << 30)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not the process
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    try:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EPERM):
            raise
        _no_capabilities()  # a user namespace mapping one uid: uid 0 here is no one outside
    _sys(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def _no_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _sys(_libc.capset(ctypes.byref(header), data), "capset")


class _TimeUp(BaseException):
    """Raised in the running code when its time is up, to report where it was."""


def _time_up(signum, frame):
    raise _TimeUp("still running")


def encode(value):
    """(kind, data) holding only builtin values: ('frame', (layer, bytes)),
    ('plain', value) or ('other', a description of the type)."""
    try:
        from scapy.packet import Packet
        if isinstance(value, Packet):
            return "frame", (type(value).__name__, bytes(value))
    except Exception as exc:  # a packet whose building raises
        return "other", f"a scapy packet that cannot be built ({type(exc).__name__}: {exc})"
    odd = _not_plain(value)
    return ("plain", value) if odd is None else ("other", odd)


def _not_plain(value, depth: int = 0) -> str | None:
    """None if value is builtin data all the way down, else the first type that is not."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return None
    if depth > 20:
        return "data nested more than 20 levels deep"
    if kind in (tuple, list):
        items = value
    elif kind is dict:
        items = [*value.keys(), *value.values()]
    else:
        name = getattr(kind, "__qualname__", "?")
        return f"an object of type {name if isinstance(name, str) else '?'}"
    for item in items:
        odd = _not_plain(item, depth + 1)
        if odd is not None:
            return f"a {kind.__name__} holding {odd}"
    return None


def _child(request: dict, result_fd: int) -> None:
    """Run request's calls as no one in particular, write the results, exit."""
    path = Path(request["path"])
    calls: list = []
    results: list = []
    status = DONE
    try:
        _sys(_libc.setns(os.open(request["netns"], os.O_RDONLY), CLONE_NEWNET), "setns")
        _scapy_sees_this_host()
        copy = _hide_project(Path(request["root"]), path)
        _drop_privileges()
        os.chdir(copy)
        sys.path.insert(0, str(copy))
        cases = pickle.loads(request["cases"])  # the lab's arguments, read before any student code
    except BaseException as exc:  # the sandbox itself failed: the lab's fault, not the student's
        _answer(result_fd, (FAULT, f"{type(exc).__name__}: {exc}", []))
    try:
        signal.signal(signal.SIGALRM, _time_up)
        signal.setitimer(signal.ITIMER_REAL, request["timeout"])
        if request["trace"]:  # before the import: `from socket import socket` gets the traced class
            _trace(calls, sleep=request["trace"] == "sleep")
        module = _import(path)
        function = getattr(module, request["todo"], None) if request["todo"] else None
        if request["todo"] and not callable(function):
            status, results = TODO, f"{path.name} has no function {request['todo']}()"
        elif function is not None:
            for args in cases:
                results.append(_one(function, args, path))
                if results[-1][0] == TIMEOUT:
                    break
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _TimeUp as exc:
        status, results = TIMEOUT, describe_exception(exc, path).split(":")[0]
    except BaseException as exc:  # importing the file failed: syntax, an exception, sys.exit
        status, results = RAISED, describe_exception(exc, path)
    _answer(result_fd, (status, results, calls))


def _answer(result_fd: int, result: tuple) -> None:
    """Write the result for the sandbox to pass on, and end this child."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        os.write(result_fd, pickle.dumps(result, protocol=4))
    os._exit(0)


def _scapy_sees_this_host() -> None:
    """scapy read interfaces and routes where it was imported; read this host's now,
    so that IP() fills in the host's source address and Ether() its MAC."""
    from scapy.config import conf
    conf.ifaces.reload()
    conf.route.resync()
    links = [route[3] for route in conf.route.routes if route[3] != conf.loopback_name]
    if links:  # a host without a default route: its one link is where frames go
        conf.iface = links[0]


def _import(path: Path):
    """Import the copy of path as a module named after it, its code keeping path as
    its file name, so that tracebacks and the report name the student's own file."""
    import types
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    sys.modules[path.stem] = module
    source = Path("/tmp/lab-exercise", path.name).read_bytes()
    exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
    return module


def _one(function, args: tuple, path: Path) -> tuple:
    """(status, encoded value or one line of detail) of function(*args)."""
    try:
        return DONE, encode(function(*args))
    except NotImplementedError:  # the TODO's starting line: not an error, only not done
        return TODO, None
    except _TimeUp as exc:
        return TIMEOUT, describe_exception(exc, path).split(":")[0]
    except KeyboardInterrupt as exc:
        return RAISED, describe_exception(exc, path) + " (as if Ctrl-C was pressed)"
    except BaseException as exc:  # the student's code may raise anything, SystemExit too
        return RAISED, describe_exception(exc, path)


TRACED = ("bind", "listen", "accept", "connect", "connect_ex", "send", "sendall", "sendto",
          "recv", "recv_into", "recvfrom", "shutdown", "close", "setsockopt", "detach")


def _trace(calls: list, sleep: bool = False) -> None:
    """Make socket.socket log each call: (started, returned, name, detail, socket id),
    and with sleep=True time.sleep too (as 'sleep', socket id 0).

    A thin subclass put in the socket module's place, in this child only: the code's
    `socket.socket(...)`, `create_connection`, `create_server` and accept() (which
    build their sockets from the module's name) then record when each call began and
    returned, to be matched with the frames captured on the wire. The socket id tells
    a listening socket from the connections accept() returned.
    """
    import socket as module
    base = module.socket

    def traced(name):
        method = getattr(base, name)

        def wrapper(self, *args, **kwargs):
            started, sid = time.time(), id(self)
            try:
                result = method(self, *args, **kwargs)
            except OSError as exc:
                calls.append((started, time.time(), name, f"{_kind(self)} raised {exc.strerror or exc}", sid))
                raise
            except _TimeUp:
                calls.append((started, time.time(), name, f"{_kind(self)} still waiting when time was up", sid))
                raise
            detail = _kind(self) + (f" {args[0]!r}" if args and name in ("bind", "connect", "connect_ex") else "")
            if name == "connect_ex" and result:
                detail += f" gave {errno.errorcode.get(result, result)}"
            if name == "sendto":
                detail += f" to {args[-1]!r}"
            if name == "accept":
                detail += f" from {result[1]!r}"
                calls.append((started, time.time(), name, detail, sid, id(result[0])))
                return result
            calls.append((started, time.time(), name, detail, sid))
            return result
        return wrapper

    class TracedSocket(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if kwargs.get("fileno") is None and len(args) < 4:
                now = time.time()
                calls.append((now, now, "socket", _kind(self), id(self)))

    for name in TRACED:
        setattr(TracedSocket, name, traced(name))
    module.socket = TracedSocket
    if sleep:
        _trace_sleep(calls)


def _trace_sleep(calls: list) -> None:
    """time.sleep, logged: a lab can then name a sleep that held up an event loop."""
    pause = time.sleep

    def traced_sleep(seconds):
        started = time.time()
        try:
            return pause(seconds)
        finally:
            calls.append((started, time.time(), "sleep", f"time.sleep({seconds!r})", 0))

    time.sleep = traced_sleep


def _kind(sock) -> str:
    return "TCP" if sock.type == socket.SOCK_STREAM else "UDP"


# --- process 1 of the sandbox: takes requests, forks children, reports endings ---

class _Zygote:
    """The loop of process 1: requests in, one child each, one answer per child."""

    def __init__(self, control: socket.socket):
        self.control = control
        self.running: dict[int, dict] = {}   # pid -> the call's bookkeeping
        self.ended: dict[int, int] = {}      # pid -> wait status, reaped early
        self.preloaded: set[str] = set()
        self.wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_w, False)
        signal.set_wakeup_fd(wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def serve(self) -> None:
        while True:
            now = time.monotonic()
            wait = min([c["deadline"] for c in self.running.values()], default=now + 1) - now
            readable = [self.control, self.wakeup_r] + [c["pipe"] for c in self.running.values()]
            ready = select.select(readable, [], [], max(0.0, wait))[0]
            if self.control in ready and not self._take():
                return
            if self.wakeup_r in ready:
                os.read(self.wakeup_r, 512)
            for call in list(self.running.values()):
                if call["pipe"] in ready:
                    self._read(call)
            self._reap()
            now = time.monotonic()
            for pid, call in list(self.running.items()):
                if now >= call["deadline"] and not call["killed"]:
                    call["killed"] = True
                    self._kill(pid)
                if pid in self.ended:
                    self._finish(pid, call)

    def _take(self) -> bool:
        message = self.control.recv(1 << 24)
        if not message:
            return False
        request = pickle.loads(message)  # from the lab itself: trusted
        self._preload(request["path"])
        read_end, write_end = os.pipe()
        output = os.memfd_create("printed")
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setpgid(0, 0)
                os.dup2(output, 1)
                os.dup2(output, 2)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.closerange(3, write_end)
                os.closerange(write_end + 1, 1 << 16)
                sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
                sys.stderr = sys.stdout
                _child(request, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        os.set_blocking(read_end, False)
        self.running[pid] = {"id": request["id"], "pipe": read_end, "output": output, "data": b"",
                             "deadline": time.monotonic() + request["timeout"] + KILL_GRACE, "killed": False}
        return True

    def _preload(self, path: str) -> None:
        """Import, once, the well-known modules the file imports (`from scapy.all import *`
        costs 0.2 s), so that no call pays for them again. Only names on a list are
        imported here, as root; the file itself is parsed, never run."""
        if path in self.preloaded:
            return
        self.preloaded.add(path)
        import ast
        try:
            tree = ast.parse(Path(path).read_bytes())
        except (OSError, SyntaxError, ValueError):
            return
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if name.split(".")[0] in PRELOADABLE:
                    with contextlib.suppress(Exception):
                        __import__(name)

    def _read(self, call: dict) -> None:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(call["pipe"], 1 << 16):
                call["data"] += chunk
                if len(call["data"]) > RESULT_LIMIT:
                    call["data"] = b"!"
                    break

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.running:
                self.ended[pid] = status

    @staticmethod
    def _kill(pid: int) -> None:
        for target in (-pid, pid):  # its process group: what the code started goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, signal.SIGKILL)

    def _finish(self, pid: int, call: dict) -> None:
        self._read(call)
        self._kill(pid)
        status = self.ended.pop(pid)
        os.close(call["pipe"])
        os.lseek(call["output"], 0, os.SEEK_SET)
        printed = os.read(call["output"], PRINT_LIMIT)
        os.close(call["output"])
        del self.running[pid]
        ending = ("timeout" if call["killed"] else
                  f"signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status) else
                  f"exit {os.WEXITSTATUS(status)}")
        self.control.send(pickle.dumps((call["id"], call["data"], printed, ending), protocol=4))


class PlainUnpickler(pickle.Unpickler):
    """Reads builtin values only: what a child sends can name no class, so loading it
    runs no code of the student's (an object whose __eq__ always says True, say)."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def load_plain(data: bytes):
    return PlainUnpickler(io.BytesIO(data)).load()


class Sandbox:
    """The lab's side of the sandbox: start it, submit calls, collect their answers."""

    def __init__(self, root: Path):
        for name in PRELOADED:  # the lab needs them too; the sandbox has them from the fork
            __import__(name)
        self.root = root
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                ours.close()
                _launch(theirs, parent)
            finally:
                os._exit(0)
        theirs.close()
        self.control = ours
        self.answers: dict[int, tuple] = {}
        self.count = 0

    def submit(self, path: Path, todo: str | None, cases: list[tuple], netns: str,
               timeout: float, trace: bool | str = False) -> int:
        """Start todo(*args) for each args of cases in one child; returns the call's id."""
        self.count += 1
        request = {"id": self.count, "path": str(path), "todo": todo, "netns": netns,
                   "cases": pickle.dumps(cases), "timeout": timeout, "trace": trace,
                   "root": str(self.root)}
        self.control.send(pickle.dumps(request))
        return self.count

    def collect(self, call: int, timeout: float) -> tuple[bytes, bytes, str]:
        """(what the child wrote, what it printed, how it ended) for one call."""
        deadline = time.monotonic() + timeout + KILL_GRACE + 2.0  # the sandbox kills it before
        while call not in self.answers:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.control], [], [], left)[0]:
                raise TimeoutError(f"the sandbox gave no answer for call {call}")
            message = self.control.recv(1 << 26)
            if not message:
                raise EOFError("the sandbox process ended")
            answer = pickle.loads(message)  # from process 1 of the sandbox: trusted
            self.answers[answer[0]] = answer[1:]
        return self.answers.pop(call)

    def close(self) -> None:
        """Ending process 1 ends every process in the sandbox's PID namespace."""
        if self.pid is None:
            return
        self.control.close()
        deadline = time.monotonic() + 2.0
        while os.waitpid(self.pid, os.WNOHANG)[0] == 0:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.002)
        self.pid = None


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _launch(control: socket.socket, parent: int) -> None:
    """In the process forked by Sandbox: become process 1 of a new PID namespace and serve.

    Forked before the lab imports its labs or the reference solution, so neither is
    in this memory; the lab's few modules that are get dropped from sys.modules, so
    `import lab` in student code finds nothing.
    """
    global _libc
    _libc = ctypes.CDLL(None, use_errno=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the lab's to handle
    _die_with_parent()
    if os.getppid() != parent:
        return
    for name in [n for n in sys.modules if n == "lab" or n.startswith("lab.")]:
        del sys.modules[name]
    _sys(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    first = os.fork()
    if first:  # outside the PID namespace: only waits, so process 1 dies with the lab
        control.close()
        os.waitpid(first, 0)
        return
    _die_with_parent()
    os.closerange(3, control.fileno())
    os.closerange(control.fileno() + 1, 1 << 16)
    _Zygote(control).serve()
