"""How long one lab run takes, next to Mininet's own smallest test, and where it goes.

A student types `sudo python -m lab run arp-basic` and waits; what they feel is the
whole process, interpreter start and exit included, so that is what is timed (A). The
yardstick (B) is Mininet doing the least comparable work, `mn --topo single,3 --test
pingall` on Linux bridges: a network of the same size built, used and torn down. The
two run alternately, A B A B ..., so a slow patch of the machine hurts both alike, and
medians keep one unlucky run from deciding. The targets: a median of at most 1 s, and
at most 2.5 times the baseline.

Then the lab's time is split into phases, so a miss points at its cause: interpreter
start and the heavy imports, each timed as a process of its own, and one lab run phase
by phase, from a child that does what the CLI does (`--phases-once`): the sandbox,
loading the labs, the stamps lab.runner.execute records in Result.timings, rendering
the report. The child's start-up and exit are timed from the parent, which works
because time.perf_counter is CLOCK_MONOTONIC on Linux, one clock for all processes.

The baseline runs inside `unshare -n`, so it never touches the host's interfaces;
`mn` also raises two host-wide sysctls (kernel.pty.max, fs.file-max), which are read
first and put back at the end, whatever happens.

Usage, from the repository root: sudo python bench/bench.py [--runs N] [--json]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.txt"
LAB = "arp-basic"
BASELINE = ["unshare", "-n", "mn", "--switch", "lxbr", "--controller", "none",
            "--topo", "single,3", "--test", "pingall"]
IMPORTS = "import lab.cli, mininet.net, scapy.layers.l2, pyroute2.iproute.linux"
HOST_SYSCTLS = ("kernel/pty/max", "fs/file-max")  # raised by mininet.util.fixLimits
TARGET_SECONDS = 1.0
TARGET_RATIO = 2.5
TIMEOUT = 120.0
# (key, label) of each measurement, in the order they happen
PROBES = (
    ("interpreter", "interpreter start: python -c pass"),
    ("imports", "imports: lab.cli mininet scapy pyroute2"),
)
PHASES = (
    ("startup", "start-up: interpreter, lab.cli, argv"),
    ("sandbox", "sandbox: checks, unshare, netns setup"),
    ("load", "load: lab modules, discover the labs"),
    ("network", "network up"),
    ("scenario", "scenario"),
    ("teardown", "teardown"),
    ("grading", "grading"),
    ("render", "report rendering"),
    ("exit", "exit: process end (os._exit)"),
)


class BenchError(Exception):
    """Something that makes the numbers meaningless; the run stops with this message."""


def timed(command: list[str], what: str, **kwargs) -> float:
    """Seconds command took as a whole process; BenchError unless it exits 0."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, timeout=TIMEOUT, **kwargs)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} took over {TIMEOUT:.0f} s: {' '.join(command)}") from None
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        stderr = (done.stderr or b"").decode(errors="replace").strip()
        detail = f":\n{stderr[-2000:]}" if stderr else " (run it by hand to see why)"
        raise BenchError(f"{what} exited {done.returncode}: {' '.join(command)}{detail}")
    return elapsed


def lab_command(capture: Path) -> list[str]:
    return [sys.executable, "-m", "lab", "run", LAB, "--solution", "--pcap", str(capture)]


def run_lab(capture: Path) -> float:
    return timed(lab_command(capture), "the lab", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_baseline() -> float:
    return timed(BASELINE, "the Mininet baseline", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def read_sysctls() -> dict[str, str]:
    return {key: Path("/proc/sys", key).read_text().strip() for key in HOST_SYSCTLS}


def restore_sysctls(saved: dict[str, str]) -> None:
    for key, value in saved.items():
        path = Path("/proc/sys", key)
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
        except OSError as exc:
            print(f"bench: could not restore {key} to {value} ({exc}); "
                  f"do it by hand: sysctl -w {key.replace('/', '.')}={value!r}", file=sys.stderr)


def summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": samples}


def phases_once(capture: Path) -> dict[str, float]:
    """One lab run as the CLI does it (lab/cli.py `_run`), split into phases.

    Seconds per phase, plus the perf_counter stamps of its beginning and end for the
    parent, which adds the process's start-up and exit.

    Must run in a process of its own: it moves that process into a new netns for good.
    """
    sys.path.insert(0, str(ROOT))
    from lab.cli import enter_sandbox
    begin = time.perf_counter()
    enter_sandbox("run")
    sandboxed = time.perf_counter()
    from lab.catalog import discover
    from lab.report import render
    from lab.runner import execute
    lab = discover().find(LAB)
    result = execute(lab, solution=True, capture_path=capture)
    graded = time.perf_counter()
    render(result, io.StringIO())
    rendered = time.perf_counter()
    if not result.passed or result.student_errors:
        raise BenchError(f"the reference solution did not pass {LAB}: {result.verdicts}")
    stamps = result.timings
    return {"sandbox": sandboxed - begin,
            "load": stamps["start"] - sandboxed,
            "network": stamps["network"] - stamps["start"],
            "scenario": stamps["scenario"] - stamps["network"],
            "teardown": stamps["teardown"] - stamps["scenario"],
            "grading": stamps["grade"] - stamps["teardown"],
            "render": rendered - graded,
            "begun_at": begin, "ended_at": time.perf_counter()}


def phases(runs: int, capture: Path) -> dict[str, float]:
    """Median seconds of each phase over runs, each sample in a fresh child process."""
    samples: dict[str, list[float]] = {"interpreter": [], "imports": []}
    for _ in range(runs):
        bare = timed([sys.executable, "-c", "pass"], "python -c pass")
        loaded = timed([sys.executable, "-c", IMPORTS], "the import probe", stderr=subprocess.PIPE)
        samples["interpreter"].append(bare)
        samples["imports"].append(loaded - bare)
        spawned = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--phases-once", str(capture)], cwd=ROOT,
                               capture_output=True, text=True, timeout=TIMEOUT)
        reaped = time.perf_counter()
        if child.returncode != 0:
            raise BenchError(f"bench.py --phases-once exited {child.returncode}:\n{child.stderr[-2000:]}")
        found = json.loads(child.stdout.splitlines()[-1])
        found["startup"] = found.pop("begun_at") - spawned
        found["exit"] = reaped - found.pop("ended_at")
        found["total"] = reaped - spawned
        for key, value in found.items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


def measure(runs: int) -> dict:
    """Every number of the report, as one JSON-ready dict."""
    lab_times: list[float] = []
    base_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        capture = Path(tmp, "bench.pcapng")
        saved = read_sysctls()
        try:
            run_lab(capture)  # warm-up, untimed: page cache, .pyc files
            run_baseline()
            for _ in range(runs):
                lab_times.append(run_lab(capture))
                base_times.append(run_baseline())
        finally:
            restore_sysctls(saved)
        phase = phases(runs, capture)
    lab, base = summary(lab_times), summary(base_times)
    ratio = lab["median"] / base["median"]
    return {
        "lab": LAB, "runs": runs, "python": sys.executable, "python_version": platform.python_version(),
        "kernel": platform.release(), "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "lab_run": lab, "baseline": base, "ratio": ratio,
        "targets": {"median_seconds": {"limit": TARGET_SECONDS, "value": lab["median"],
                                       "pass": lab["median"] <= TARGET_SECONDS},
                    "ratio": {"limit": TARGET_RATIO, "value": ratio, "pass": ratio <= TARGET_RATIO}},
        "phases": phase,
    }


def render_text(r: dict) -> str:
    """The compact table."""
    def row(label: str, s: dict) -> str:
        return f"  {label:<42}{s['median']:>8.3f}{s['min']:>8.3f}{s['max']:>8.3f}"

    def mark(target: dict) -> str:
        return "PASS" if target["pass"] else "MISS"

    t, p = r["targets"], r["phases"]
    lines = [
        f"{r['lab']}: {r['runs']} runs each, alternating; {r['when']}",
        f"python {r['python_version']} ({r['python']}), kernel {r['kernel']}, {r['cpus']} CPUs",
        "",
        f"  {'whole process, seconds':<42}{'median':>8}{'min':>8}{'max':>8}",
        row(f"A  python -m lab run {r['lab']} --solution", r["lab_run"]),
        row("B  unshare -n mn ... --test pingall", r["baseline"]),
        f"  {'median(A) / median(B)':<42}{r['ratio']:>7.2f}x",
        "",
        f"  {mark(t['median_seconds'])}  median(A) <= {TARGET_SECONDS:.1f} s"
        f"      ({t['median_seconds']['value']:.3f} s)",
        f"  {mark(t['ratio'])}  median(A) <= {TARGET_RATIO:.1f} x median(B)"
        f"  ({t['ratio']['value']:.2f}x)",
        "",
        f"  {'where A goes, median seconds':<42}{'median':>8}",
        "  as processes of their own:",
    ]
    lines += [f"    {label:<40}{p[key]:>8.3f}" for key, label in PROBES]
    lines += ["  one lab run, phase by phase (--phases-once):"]
    lines += [f"    {label:<40}{p[key]:>8.3f}" for key, label in PHASES]
    lines += [f"    {'whole run (median of the totals)':<40}{p['total']:>8.3f}",
              "  imports = import probe minus python -c pass; in a lab run the",
              "  same imports happen within sandbox and load"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead")
    parser.add_argument("--phases-once", type=Path, metavar="PCAP", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.phases_once:
            print(json.dumps(phases_once(args.phases_once)), flush=True)
            os._exit(0)  # as lab/__main__.py ends, so the exit phase matches a real run
        if os.geteuid() != 0:
            raise BenchError("needs root: sudo python bench/bench.py")
        if args.runs < 1:
            raise BenchError("--runs must be at least 1")
        for tool in ("unshare", "mn"):
            if shutil.which(tool) is None:
                raise BenchError(f"the command {tool} is missing")
        print(f"bench: timing {args.runs} runs of the lab and of mn, then the phases ...", file=sys.stderr)
        results = measure(args.runs)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    text = render_text(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    sys.stdout.write(json.dumps(results, indent=2) + "\n" if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
