"""However a run ends, the host is as before: no process of the run left alive, no
namespace it made still in use, no run note, no host-wide limit raised, and the host's
own interfaces and mount table unchanged. Also: bad input gets one clear line and an
exit code, and a network that cannot be built ends the run at once."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, descendants, host_state, lab, variant, wait_gone

pytestmark = pytest.mark.root

HANG = """
def build_who_has(my_mac, my_ip, target_ip):
    while True:
        pass
"""
# Host-wide (not per-namespace) limits Mininet.init() raises; a run must not touch them.
LIMITS = ("fs/file-max", "kernel/pty/max", "net/core/netdev_max_backlog", "net/core/rmem_max",
          "net/core/wmem_max")


def namespaces_of(pid: int | str) -> set[int]:
    """The inodes of every namespace pid is in."""
    found = set()
    for entry in Path(f"/proc/{pid}/ns").iterdir():
        try:
            found.add(os.stat(entry).st_ino)
        except OSError:
            continue
    return found


def held_open(pid: int | str) -> set[int]:
    """The inodes of namespaces pid holds as open files (net:[4026532...] and the like)."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            kind, _, inode = os.readlink(fd).partition(":[")
        except OSError:
            continue
        if kind in ("net", "mnt", "ipc", "pid", "uts", "user", "cgroup", "time"):
            found.add(int(inode.rstrip("]")))
    return found


def namespaces_in_use(inodes: set[int]) -> set[int]:
    """Which of the namespaces (by inode) a process is still in or holds open."""
    used = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                used |= (namespaces_of(entry.name) | held_open(entry.name)) & inodes
            except OSError:  # it ended meanwhile
                continue
    return used


class RunWatch:
    """Watches, from a thread, every process this test starts (the lab and all it
    starts) and every namespace one of them is in, while the test runs."""

    def __init__(self):
        self.processes: dict[int, str] = {}
        self.namespaces: set[int] = set()
        self.ours = namespaces_of("self")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            for pid, started in descendants(os.getpid()).items():
                self.processes.setdefault(pid, started)
                try:
                    self.namespaces |= namespaces_of(pid) - self.ours
                except OSError:
                    continue

    def __enter__(self) -> RunWatch:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def limits() -> dict[str, str]:
    return {key: Path("/proc/sys", key).read_text() for key in LIMITS if Path("/proc/sys", key).exists()}


@pytest.fixture
def untouched_host():
    """Fail the test if a run it started left anything behind."""
    before, raised = host_state(), limits()
    with RunWatch() as watch:
        yield watch
    assert watch.processes, "the watch saw no process of the run"
    assert wait_gone(watch.processes) == []
    deadline = time.monotonic() + 5
    while (left := namespaces_in_use(watch.namespaces)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == set()
    assert [pid for pid in watch.processes if Path(f"/run/netlab/{pid}.json").exists()] == []
    assert limits() == raised
    assert host_state() == before


def start_run(tmp_path: Path, exercise: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab", "run", "arp-basic", "--exercise", str(exercise),
                             "--pcap", str(tmp_path / "c.pcapng")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})


def unprivileged(pid: int) -> bool:
    """Does pid run as the sandbox's uid, as student code does?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return status.split("Uid:")[1].split()[0] == "65534"


def wait_inside_student_code(process: subprocess.Popen, timeout: float = 20) -> dict[int, str]:
    """Wait until the sandbox has forked the child that runs the student's (hanging) function."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        family = descendants(process.pid)
        if any(unprivileged(pid) for pid in family):
            return family
        time.sleep(0.02)
    process.kill()
    pytest.fail("the run never reached the student's code")


def test_student_code_that_raises(tmp_path, untouched_host):
    attempt = variant(tmp_path, "def parse_is_at(reply):\n    return reply[ARP].nosuchfield\n")
    result = lab("run", "arp-basic", "--exercise", str(attempt), "--pcap", str(tmp_path / "c.pcapng"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "attempt.py line" in lines[0] and "in parse_is_at: AttributeError" in lines[0]


def test_student_code_that_does_not_import(tmp_path, untouched_host):
    broken = tmp_path / "broken.py"
    broken.write_text("def build_who_has(:\n")
    result = lab("check", "arp-basic", "--exercise", str(broken))
    assert result.returncode == 1
    assert result.stderr.strip().endswith("broken.py, line 1: invalid syntax; fix the syntax and retry")


def test_student_file_that_hangs_on_import(tmp_path, untouched_host):
    stuck = tmp_path / "stuck.py"
    stuck.write_text("while True:\n    pass\n")
    result = lab("check", "arp-basic", "--exercise", str(stuck))
    assert result.returncode == 1
    assert "stuck.py: importing it did not finish within 5 s" in result.stderr


def test_student_code_that_hangs_is_stopped(tmp_path, untouched_host):
    started = time.monotonic()
    result = lab("run", "arp-basic", "--exercise", str(variant(tmp_path, HANG)),
                 "--pcap", str(tmp_path / "c.pcapng"))
    assert result.returncode == 1
    assert "build_who_has() did not return within 2 s" in result.stderr
    assert "REFERENCE ran, because build_who_has() did not return" in result.stdout
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_leaves_nothing(tmp_path, untouched_host, sig):
    process = start_run(tmp_path, variant(tmp_path, HANG))
    family = wait_inside_student_code(process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=20)
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 130, stderr
        assert "interrupted; the run's network and processes are gone" in stderr
    assert wait_gone(family) == []
    if sig == signal.SIGKILL:  # the run's note survives it; `clean` reaps it and kills nothing
        assert Path(f"/run/netlab/{process.pid}.json").exists()
        assert lab("clean").stdout.strip() == "nothing to clean: no run of this lab left anything behind"
        assert not Path(f"/run/netlab/{process.pid}.json").exists()


def test_ctrl_c_while_the_network_is_built_leaves_nothing(tmp_path, untouched_host):
    """Ctrl-C as the first host's shell starts (an mnexec on PATH interrupts the lab,
    then runs the real one): exit 130, one line, and nothing of the run left."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mnexec").write_text(f"#!/bin/sh\nkill -INT $PPID\nexec {shutil.which('mnexec')} \"$@\"\n")
    (bin_dir / "mnexec").chmod(0o755)
    env = {**os.environ, "NO_COLOR": "1", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "lab", "run", "arp-basic", "--solution",
                             "--pcap", str(tmp_path / "c.pcapng")], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, env=env)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "lab: interrupted; the run's network and processes are gone\n"
    assert result.stdout == ""


def test_two_runs_at_once_do_not_collide(tmp_path, untouched_host):
    runs = [subprocess.Popen([sys.executable, "-m", "lab", "check", "arp-basic", "--solution",
                              "--pcap", str(tmp_path / f"{i}.pcapng")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    assert [run.wait(timeout=60) for run in runs] == [0, 0]


def test_unknown_lab_suggests_the_closest(untouched_host):
    from lab.catalog import discover
    result = lab("run", "arp-basics")
    assert result.returncode == 2
    assert result.stderr == (f"lab: no lab named 'arp-basics'; did you mean arp-basic? "
                             f"available: {', '.join(sorted(discover().labs))}\n")


def test_missing_package_says_how_to_install():
    # -S hides the system's site-packages, where Mininet, scapy and pyroute2 live.
    result = subprocess.run([sys.executable, "-S", "-m", "lab", "run", "arp-basic"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    assert "package mininet is missing" in result.stderr and "scripts/setup.sh" in result.stderr
    assert result.stderr.count("\n") == 1


def test_broken_topology_file_is_named(untouched_host):
    path = ROOT / "topologies" / "zz_test_broken.py"
    path.write_text("from mininet.topo import Topo\nclass T(Topo):\n    def build(self):\n"
                    "        self.addHost('h1')\n        self.addLink('h1', 's1')\n"
                    "topos = {'zz_test_broken': T}\n")
    try:
        result = lab("shell", "zz_test_broken")
    finally:
        path.unlink()
    assert result.returncode == 2
    assert result.stderr == ("lab: topologies/zz_test_broken.py: a link names 's1', which is not a node; "
                             "add it with addHost or addSwitch first\n")


def test_shell_runs_mininet_cli_in_a_private_namespace(untouched_host):
    result = lab("shell", "star,2", input="h1 ping -c1 -W1 h2\nexit\n")
    assert result.returncode == 0, result.stderr
    assert "1 received" in result.stdout + result.stderr  # Mininet logs to stderr


@pytest.mark.parametrize("fake, said", [
    ("echo 'mnexec: mount --make-rprivate /: Invalid argument' >&2\nexit 1",
     "mnexec: mount --make-rprivate /: Invalid argument"),
    ("exec sleep 60", "its shell gave no prompt within 3 s"),
], ids=["mnexec-fails", "shell-silent"])
def test_host_whose_shell_cannot_start_ends_the_run_at_once(tmp_path, untouched_host, fake, said):
    """mnexec failing (as where / cannot be made a private mount), or a shell that never
    prompts, ends the run within seconds with one line naming the host and the reason."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mnexec").write_text(f"#!/bin/sh\n{fake}\n")  # Mininet runs the mnexec on PATH
    (bin_dir / "mnexec").chmod(0o755)
    env = {**os.environ, "NO_COLOR": "1", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "lab", "run", "arp-basic", "--solution",
                             "--pcap", str(tmp_path / "c.pcapng")], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, env=env)
    assert time.monotonic() - started < 6
    assert result.returncode == 3
    assert result.stderr == f"lab: Mininet could not start h1: {said}\n"
    assert result.stdout == ""
    assert untouched_host.namespaces  # the run had entered namespaces of its own: all must be gone
