"""Student code runs as untrusted code: inside its host, unprivileged, blind to the
reference, and only plain data comes back. Every attempt to get out gets an error.

The calls go through the real sandbox (lab/sandbox.py) from a script run in a private
network namespace, as a lab run does; the student's file lives in a temporary folder
only root can enter, as a class's submissions often do.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.root

ATTEMPTS = f'''
import ctypes, importlib.util, os, signal, socket, sys
ALREADY_IMPORTED = "scapy.all" in sys.modules  # before this file's own import of it
from scapy.all import Ether
from socket import socket as imported_socket

ROOT = {str(ROOT)!r}


def _error(action):
    try:
        action()
    except BaseException as exc:
        return type(exc).__name__
    return "it worked"


def _setns():
    fd = os.open("/proc/1/ns/net", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def _import_by_path():
    spec = importlib.util.spec_from_file_location("ref", ROOT + "/solutions/arp_basic.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def escape(lab_pid):
    return {{
        "read the reference": _error(lambda: open(ROOT + "/solutions/arp_basic.py").read()),
        "list solutions": _error(lambda: os.listdir(ROOT + "/solutions")),
        "read git objects": _error(lambda: os.listdir(ROOT + "/.git")),
        "import the reference": _error(lambda: __import__("solutions.arp_basic")),
        "import it by path": _error(_import_by_path),
        "import the lab": _error(lambda: __import__("lab.exercise")),
        "write into the project": _error(lambda: open(ROOT + "/exercises/planted.py", "w").write("x")),
        "leave a file behind": [_error(lambda: open(f"{{folder}}/planted-by-a-student", "w").write("x"))
                                for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")],
        "enter another namespace": _error(_setns),
        "kill the parent": _error(lambda: os.kill(os.getppid(), signal.SIGKILL)),
        "kill the lab": _error(lambda: os.kill(lab_pid, signal.SIGKILL)),
        "open a raw socket": _error(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)),
        "reference in memory": [m for m in sys.modules if "solution" in m or m.startswith("lab")],
        "processes seen": [p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", str(os.getpid()))],
    }}


def who():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    return (status["Uid"].split()[0], status["CapEff"].strip(), status["NoNewPrivs"].strip(),
            os.readlink("/proc/self/ns/net"))


def opens_a_socket():
    with imported_socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))


def preloaded():
    return ALREADY_IMPORTED


def uses_helper():
    import helper
    return helper.double(21)


def leaves_a_process():
    import subprocess
    subprocess.Popen(["sleep", "3601.25"])
    return "started"


def endings(how):
    print("printed before the end")
    if how == "os._exit":
        os._exit(3)
    if how == "sys.exit":
        sys.exit(2)
    if how == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if how == "hang":
        while True:
            pass
    if how == "catch the timer":
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass


class Yes:
    def __eq__(self, other):
        return True


class Tuple(tuple):
    def __eq__(self, other):
        return True


def unplain(which):
    return {{"object": Yes(), "tuple subclass": Tuple(("a", "b")), "nested": [1, (2, Yes())],
             "a set": {{1, 2}}, "a function": print}}[which]
'''


def sandboxed(tmp_path: Path, calls: list[tuple]) -> dict:
    """Run each (todo, args, timeout[, "trace"]) in the sandbox, from a run's private namespace;
    "PID" in args stands for the lab's own process. Results are keyed "0", "1", ..."""
    folder = tmp_path / "submission"
    folder.mkdir(mode=0o700)
    (folder / "student.py").write_text(ATTEMPTS)
    (folder / "helper.py").write_text("def double(x):\n    return 2 * x\n")
    script = f"""
        import json, os, sys
        from pathlib import Path
        from lab.netns import unshare_network
        unshare_network()
        from lab.sandbox import Sandbox, load_plain
        from lab.paths import ROOT
        box = Sandbox(ROOT)
        try:
            found = {{}}
            for index, (todo, args, timeout, *trace) in enumerate({calls!r}):
                args = tuple(os.getpid() if a == "PID" else a for a in args)
                data, printed, ending = box.collect(
                    box.submit(Path({str(folder / "student.py")!r}), todo, [args], "/proc/self/ns/net", timeout,
                               bool(trace)), timeout)
                found[index] = {{"result": load_plain(data) if data else None,
                                "printed": printed.decode(), "ending": ending}}
            found["lab netns"] = os.readlink("/proc/self/ns/net")
            print(json.dumps(found))
        finally:
            box.close()
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_way_out_gets_an_error(tmp_path):
    found = sandboxed(tmp_path, [("escape", ("PID",), 5), ("who", (), 2)])
    status, [(case, (form, tried))], calls = found["0"]["result"]
    assert (status, case, form) == ("done", "done", "plain")
    assert tried.pop("reference in memory") == [] and tried.pop("processes seen") == []  # the sandbox and itself
    assert "it worked" not in tried.values(), tried
    assert tried["read the reference"] == "FileNotFoundError"  # an empty folder where it was
    assert tried["import the reference"] == tried["import the lab"] == "ModuleNotFoundError"
    assert tried["write into the project"] in ("FileNotFoundError", "OSError", "PermissionError")
    assert tried["kill the parent"] == "PermissionError"
    _, [(_, (_, (uid, capabilities, no_new_privs, netns)))], _ = found["1"]["result"]
    assert (uid, capabilities, no_new_privs) == ("65534", "0000000000000000", "1")
    assert netns == found["lab netns"]
    assert tried.pop("leave a file behind") == ["it worked"] * 4  # in the child's own folders,
    assert not (ROOT / "exercises" / "planted.py").exists()
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):  # which vanished with it
        assert not Path(folder, "planted-by-a-student").exists()


def test_a_helper_module_beside_the_exercise_still_imports(tmp_path):
    found = sandboxed(tmp_path, [("uses_helper", (), 2)])
    assert found["0"]["result"][1] == [["done", ["plain", 42]]]


def test_every_ending_is_named_and_its_prints_kept(tmp_path):
    calls = [("endings", (how,), 0.5) for how in ("os._exit", "sys.exit", "KeyboardInterrupt", "hang",
                                                 "catch the timer")]
    found = sandboxed(tmp_path, calls)
    ending = {args[0]: found[str(index)] for index, (_, args, _) in enumerate(calls)}
    assert all(e["printed"] == "printed before the end\n" for e in ending.values()), ending
    assert ending["os._exit"]["result"] is None and ending["os._exit"]["ending"] == "exit 3"
    assert ending["sys.exit"]["result"][1][0][0] == "raised"
    assert "sys.exit(2)" in ending["sys.exit"]["result"][1][0][1]
    assert "KeyboardInterrupt" in ending["KeyboardInterrupt"]["result"][1][0][1]
    assert ending["hang"]["result"][1][0][0] == "timeout"
    assert ending["catch the timer"]["ending"] == "timeout"  # killed by the sandbox instead


def test_values_come_back_as_plain_data_or_the_name_of_their_type(tmp_path):
    kinds = ("object", "tuple subclass", "nested", "a set", "a function")
    found = sandboxed(tmp_path, [("unplain", (which,), 2) for which in kinds])
    forms = {which: found[str(index)]["result"][1][0][1] for index, which in enumerate(kinds)}
    assert forms == {"object": ["other", "an object of type Yes"],
                     "tuple subclass": ["other", "an object of type Tuple"],
                     "nested": ["other", "a list holding a tuple holding an object of type Yes"],
                     "a set": ["other", "an object of type set"],
                     "a function": ["other", "an object of type builtin_function_or_method"]}


def test_nothing_the_student_started_outlives_the_sandbox(tmp_path):
    found = sandboxed(tmp_path, [("leaves_a_process", (), 2)])
    assert found["0"]["result"][1] == [["done", ["plain", "started"]]]
    deadline = time.monotonic() + 5
    while (left := [p for p in Path("/proc").iterdir() if p.name.isdigit() and b"3601.25" in _cmdline(p)]) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_a_forged_result_cannot_run_code_in_the_lab():
    from lab.sandbox import load_plain
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    with pytest.raises(pickle.UnpicklingError, match="not plain data"):
        load_plain(pickle.dumps(Evil()))
    assert load_plain(pickle.dumps(("done", [1, b"x", {"a": (None, 2.5)}], []))) == \
        ("done", [1, b"x", {"a": (None, 2.5)}], [])


def test_a_checkout_inside_tmp_runs_too(tmp_path):
    """CI and instructors clone anywhere; /tmp is one of the folders a child gets empty."""
    checkout = tmp_path / "netlab"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(".git", "captures", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "lab", "check", "arp-basic", "--solution",
                           "--pcap", str(tmp_path / "c.pcapng")], cwd=checkout, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("PASSED")


def test_socket_calls_are_traced_however_the_class_was_imported(tmp_path):
    found = sandboxed(tmp_path, [("opens_a_socket", (), 2, "trace")])
    calls = found["0"]["result"][2]
    assert [call[2] for call in calls] == ["socket", "bind", "close"]
    assert calls[1][3] == "UDP ('127.0.0.1', 0)" and len({call[4] for call in calls}) == 1


def test_modules_the_file_imports_are_imported_once_by_the_sandbox(tmp_path):
    """`from scapy.all import *` costs 0.2 s: paid once per run, not once per call."""
    found = sandboxed(tmp_path, [("preloaded", (), 2)])
    assert found["0"]["result"][1] == [["done", ["plain", True]]]
