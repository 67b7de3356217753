"""A note, per run, of the processes it started, for `lab clean`.

A run's links and bridges die with its private namespace, but a process it started
could in principle outlive it after SIGKILL. Each run lists what it starts in
/run/netlab/PID.json; a later run or `lab clean` removes what a dead run left, checked
by process start time so a recycled PID is never touched, and nothing else.
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

RUNS = Path("/run/netlab")


def start_time(pid: int) -> int | None:
    """The kernel's start time of pid (clock ticks after boot), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])  # a zombie has ended


class RunRecord:
    """This run's entry in the registry."""

    def __init__(self, directory: Path = RUNS):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}.json"
        self.entry = {"pid": os.getpid(), "start": start_time(os.getpid()), "processes": []}
        self._save()

    def add_process(self, pid: int) -> None:
        self.entry["processes"].append([pid, start_time(pid)])
        self._save()

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.entry))


def clean(directory: Path = RUNS) -> list[str]:
    """Remove what dead runs left behind; return one line per thing removed."""
    removed = []
    for record in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            entry = json.loads(record.read_text())
        except (OSError, ValueError):
            record.unlink(missing_ok=True)
            continue
        if start_time(entry["pid"]) == entry["start"]:
            continue  # that run is still going
        for pid, started in entry["processes"]:
            if started is not None and start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid} of run {entry['pid']}")
        record.unlink(missing_ok=True)
    return removed
