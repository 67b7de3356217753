"""Shared helpers: running the CLI as a student would, and proving a run left nothing.

Tests marked `root` build real networks; without root they are skipped with a reason,
so `python -m pytest -m "not root"` is the quick, unprivileged subset.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "arp_basic.py"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root: sudo python -m pytest")
        for item in items:
            if "root" in item.keywords:
                item.add_marker(skip)


def lab(*args: str, timeout: float = 60, env_columns: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m lab ARGS` from the project folder and capture its output
    (env_columns: the terminal width it is told, as COLUMNS)."""
    env = {**os.environ, "NO_COLOR": "1", **({"COLUMNS": env_columns} if env_columns else {})}
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env, **kwargs)


def graded(lab_name: str, exercise: Path, *args: str) -> tuple[int, dict]:
    """`lab check LAB --exercise FILE --json`, as an instructor grading a class: (exit code,
    the JSON document), with each check's status also at document["status_of"][id]."""
    import json
    import shutil
    import tempfile
    folder = tempfile.mkdtemp(prefix="lab-graded-")
    try:
        result = lab("check", lab_name, "--exercise", str(exercise), "--json",
                     "--pcap", str(Path(folder, "capture.pcapng")), *args)
    finally:
        shutil.rmtree(folder)
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"no JSON (exit {result.returncode}): {result.stdout[-500:]} {result.stderr[-2000:]}")
    document["status_of"] = {c["id"]: c["status"] for c in document.get("checks", [])}
    document["stderr"] = result.stderr
    return result.returncode, document


def student_file(tmp_path: Path, code: str, name: str = "student.py") -> Path:
    """A whole student file written from scratch (not built on the reference)."""
    path = tmp_path / name
    path.write_text(code)
    return path


def variant(tmp_path: Path, code: str, name: str = "attempt.py") -> Path:
    """The reference solution with some functions redefined: a typical student attempt."""
    path = tmp_path / name
    path.write_text(SOLUTION.read_text() + "\n\n" + code)
    return path


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of pid, with its start time, to check later that it died."""
    children: dict[int, list[int]] = {}
    stats: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            stats[int(entry.name)] = fields[19]
    found, queue = {}, [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found[child] = stats[child]
            queue.append(child)
    return found


def alive(processes: dict[int, str]) -> list[int]:
    left = []
    for pid, started in processes.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[19] == started and stat.rsplit(")", 1)[1].split()[0] != "Z":
            left.append(pid)
    return left


def host_state() -> tuple[list[str], str]:
    """The host namespace's interfaces and the mount table, as a run must leave them."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = sorted(line.split(":")[1].strip() for line in links.splitlines())
    return names, Path("/proc/self/mounts").read_text()


def wait_gone(processes: dict[int, str], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


SUMMARY = re.compile(r"IP ([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): Flags \[([SFRP.]*)\], seq (\d+)(?:, ack (\d+))?")
TSHARK_FLAGS = {0x02: "S", 0x12: "S.", 0x10: ".", 0x18: "P.", 0x11: "F.", 0x01: "F", 0x04: "R", 0x14: "R."}


def tshark_segments(pcap: Path) -> set[tuple]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp", "-T", "fields", "-e", "ip.src",
                          "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport", "-e", "tcp.flags",
                          "-e", "tcp.seq_raw", "-e", "tcp.ack_raw"],
                         capture_output=True, text=True, check=True).stdout
    rows = set()
    for line in out.splitlines():
        src, sport, dst, dport, flags, seq, ack = line.split("\t")
        letters = TSHARK_FLAGS[int(flags, 16)]
        rows.add((src, int(sport), dst, int(dport), letters, int(seq), int(ack) if "." in letters else None))
    return rows


def reported_segments(document: dict) -> set[tuple]:
    rows = set()
    for frame in document["frames"]:
        match = SUMMARY.match(frame["summary"])
        if match:
            src, sport, dst, dport, flags, seq, ack = match.groups()
            rows.add((src, int(sport), dst, int(dport), flags, int(seq), int(ack) if ack else None))
    return rows
