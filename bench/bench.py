"""How long each lab run takes, next to Mininet's own smallest test, and where it goes.

A student types `sudo python -m lab run LAB` and waits; what they feel is the whole
process, interpreter start and exit included, so that is what is timed, for every lab.
The yardstick is Mininet doing the least comparable work, `mn --topo single,3 --test
pingall` on Linux bridges: a network of the same size built, used and torn down. Each
round runs the baseline and then every lab once, so a slow patch of the machine hurts
all alike, and medians keep one unlucky run from deciding.

The targets (TARGETS): arp-basic a median of at most 1 s and at most 2.5 times the
baseline; tcp-handshake under 2 s; tcp-teardown under 2 s not counting the
TIME_WAIT_WATCH seconds it sleeps on purpose to show TIME_WAIT ticking down (its
deliberate wait for one retransmission timeout, ~0.2 s, is counted); udp-basic and
socket-steps under 2 s; tcp-vs-udp, which sends hundreds of messages through a lossy
link and waits for TCP's retransmissions, under 3 s. For every lab, writing its web
page (lab/page.py, as the CLI does after the run) at most 30 ms, and the page at most
1 MB: tcp-vs-udp, with several hundred frames, is the one that tests both (PAGE_TARGETS).

Then each lab's time is split into phases, so a miss points at its cause: interpreter
start and the heavy imports, each timed as a process of its own, and one lab run phase
by phase, from a child that does what the CLI does (`--phases-once`): the sandbox,
loading the labs, the stamps lab.runner.execute records in Result.timings, rendering
the report. The child's start-up and exit are timed from the parent, which works
because time.perf_counter is CLOCK_MONOTONIC on Linux, one clock for all processes.

The baseline runs inside `unshare -n`, so it never touches the host's interfaces;
`mn` also raises two host-wide sysctls (kernel.pty.max, fs.file-max), which are read
first and put back at the end, whatever happens.

With --against REV it measures something else: what `python -m lab check LAB` costs
in this tree against the same command in a git worktree of REV (an earlier commit),
taking turns, for an untouched exercise (every TODO open, the reference standing in)
and for a finished one (the reference copied to a student's folder, so every call is
student code). The target: at most CHECK_GROWTH seconds more, median against median.

Usage, from the repository root: sudo python bench/bench.py [--labs A,B] [--runs N] [--json]
                                 sudo python bench/bench.py --against REV [--labs A,B] [--runs N]
"""
from __future__ import annotations

import argparse
import io
import json
import operator
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
sys.path.insert(0, str(ROOT))  # `python bench/bench.py` puts only bench/ on the path
RESULTS = ROOT / "bench" / "results" / "latest.txt"
BASELINE = ["unshare", "-n", "mn", "--switch", "lxbr", "--controller", "none",
            "--topo", "single,3", "--test", "pingall"]
IMPORTS = "import lab.cli, mininet.net, scapy.layers.l2, pyroute2.iproute.linux"
HOST_SYSCTLS = ("kernel/pty/max", "fs/file-max")  # raised by mininet.util.fixLimits
TIMEOUT = 120.0
# What each lab must meet: (figure, comparison, limit). "median" is the lab's
# whole-process median in seconds, "ratio" that over the baseline's median, "net" the
# median minus the seconds the lab sleeps on purpose (deliberate_waits). A lab not
# listed here is timed and split into phases, and judged on nothing.
TARGETS = {
    "arp-basic": (("median", "<=", 1.0), ("ratio", "<=", 2.5)),
    "tcp-handshake": (("median", "<", 2.0),),
    "tcp-teardown": (("net", "<", 2.0),),
    "udp-basic": (("median", "<", 2.0),),
    "socket-steps": (("median", "<", 2.0),),
    "tcp-vs-udp": (("median", "<", 3.0),),
    "osi-layers": (("median", "<", 2.0),),
    "client-server": (("median", "<", 2.0),),
    "browser-server": (("median", "<", 2.0),),
    "concurrency": (("median", "<", 6.0),),
}
# Every lab's web page: written in at most 30 ms, at most 1 MB (medians of the phases).
PAGE_TARGETS = (("page", "<=", 0.030), ("page_bytes", "<=", 1_000_000))
COMPARE = {"<": operator.lt, "<=": operator.le}
CHECK_GROWTH = 0.1  # seconds `lab check` may grow against --against REV (median vs median)
# (key, label) of each measurement, in the order they happen
PROBES = (
    ("interpreter", "interpreter start: python -c pass"),
    ("imports", "imports: lab.cli mininet scapy pyroute2"),
)
PHASES = (
    ("startup", "start-up: interpreter, lab.cli, argv"),
    ("sandbox", "sandbox: checks, unshare, code sandbox"),
    ("load", "load: lab modules, discover the labs"),
    ("network", "network up"),
    ("scenario", "scenario"),
    ("teardown", "teardown"),
    ("grading", "grading"),
    ("page", "web page writing"),
    ("render", "report rendering"),
    ("exit", "exit: process end (os._exit)"),
)


class BenchError(Exception):
    """Something that makes the numbers meaningless; the run stops with this message."""


def deliberate_waits() -> dict[str, tuple[str, float]]:
    """Per lab, (name, seconds) of a sleep that is the lab's point, not its slowness.

    Imported, not copied, so the figure follows the lab; imported late, so the
    --phases-once child does not pay for the lab module before its first stamp.
    """
    from lab.labs.tcp_teardown import TIME_WAIT_WATCH
    return {"tcp-teardown": ("TIME_WAIT_WATCH", TIME_WAIT_WATCH)}


def lab_names(wanted: str | None) -> list[str]:
    """The labs named in --labs, checked, or every lab discover() finds, sorted."""
    from lab.catalog import discover
    from lab.errors import LabError
    catalog = discover()
    if wanted is None:
        for problem in catalog.problems:
            print(f"bench: skipping a lab that does not load: {problem}", file=sys.stderr)
        names = sorted(catalog.labs)
    else:
        names = [name.strip() for name in wanted.split(",") if name.strip()]
        for name in names:
            try:
                catalog.find(name)
            except LabError as exc:
                raise BenchError(f"--labs: {exc}") from None
    if not names:
        raise BenchError("no labs to time")
    return list(dict.fromkeys(names))


def timed(command: list[str], what: str, cwd: Path = ROOT, ok: tuple = (0,), **kwargs) -> float:
    """Seconds command took as a whole process; BenchError unless it exits with an ok code."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, timeout=TIMEOUT, **kwargs)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} took over {TIMEOUT:.0f} s: {' '.join(command)}") from None
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        stderr = (done.stderr or b"").decode(errors="replace").strip()
        detail = f":\n{stderr[-2000:]}" if stderr else " (run it by hand to see why)"
        raise BenchError(f"{what} exited {done.returncode}: {' '.join(command)}{detail}")
    return elapsed


def run_lab(name: str, capture: Path) -> float:
    # the web page beside the capture, in the temporary folder, never in captures/
    command = [sys.executable, "-m", "lab", "run", name, "--solution", "--pcap", str(capture),
               "--html", str(capture.with_suffix(".html"))]
    return timed(command, f"the lab {name}", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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


def phases_once(name: str, capture: Path) -> dict[str, float]:
    """One run of lab name as the CLI does it (lab/cli.py `_run`), split into phases.

    Seconds per phase, plus the perf_counter stamps of its beginning and end for the
    parent, which adds the process's start-up and exit.

    Must run in a process of its own: it moves that process into a new netns for good.
    """
    from lab.cli import enter_sandbox
    begin = time.perf_counter()
    enter_sandbox("run")
    from lab.paths import ROOT as LAB_ROOT
    from lab.sandbox import Sandbox
    student_sandbox = Sandbox(LAB_ROOT)  # started here, as the CLI does
    sandboxed = time.perf_counter()
    from lab.catalog import discover
    from lab.page import write_page
    from lab.report import render
    from lab.runner import execute
    lab = discover().find(name)
    result = execute(lab, solution=True, capture_path=capture, sandbox=student_sandbox)
    graded = time.perf_counter()
    result.page = capture.with_suffix(".html")
    write_page(result, result.page)  # where the CLI writes it: right after the run, before the report
    paged = time.perf_counter()
    render(result, io.StringIO())
    rendered = time.perf_counter()
    if not result.passed or result.student_errors:
        raise BenchError(f"the reference solution did not pass {name}: {result.verdicts}")
    stamps = result.timings
    return {"sandbox": sandboxed - begin,
            "load": stamps["start"] - sandboxed,
            "network": stamps["network"] - stamps["start"],
            "scenario": stamps["scenario"] - stamps["network"],
            "teardown": stamps["teardown"] - stamps["scenario"],
            "grading": stamps["grade"] - stamps["teardown"],
            "page": paged - graded,
            "page_bytes": result.page.stat().st_size,
            "render": rendered - paged,
            "begun_at": begin, "ended_at": time.perf_counter()}


def phases_child(name: str, capture: Path) -> dict[str, float]:
    """phases_once in a fresh process, with its start-up, exit and total added."""
    spawned = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--phases-once", name, str(capture)], cwd=ROOT,
                           capture_output=True, text=True, timeout=TIMEOUT)
    reaped = time.perf_counter()
    if child.returncode != 0:
        raise BenchError(f"bench.py --phases-once {name} exited {child.returncode}:\n{child.stderr[-2000:]}")
    found = json.loads(child.stdout.splitlines()[-1])
    found["startup"] = found.pop("begun_at") - spawned
    found["exit"] = reaped - found.pop("ended_at")
    found["total"] = reaped - spawned
    return found


def phases(names: list[str], runs: int, captures: dict[str, Path]) -> dict:
    """Median seconds of the probes and of each lab's phases over runs, each sample
    in a fresh process, the labs taking turns as in the timing."""
    probes: dict[str, list[float]] = {"interpreter": [], "imports": []}
    per_lab: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for _ in range(runs):
        bare = timed([sys.executable, "-c", "pass"], "python -c pass")
        loaded = timed([sys.executable, "-c", IMPORTS], "the import probe", stderr=subprocess.PIPE)
        probes["interpreter"].append(bare)
        probes["imports"].append(loaded - bare)
        for name in names:
            for key, value in phases_child(name, captures[name]).items():
                per_lab[name].setdefault(key, []).append(value)
    median = statistics.median
    return {**{key: median(values) for key, values in probes.items()},
            "labs": {name: {key: median(values) for key, values in samples.items()}
                     for name, samples in per_lab.items()}}


def judge(name: str, figures: dict) -> list[dict]:
    """The targets of lab name, each with its value and whether it is met."""
    return [{"lab": name, "figure": figure, "op": op, "limit": limit, "value": figures[figure],
             "pass": COMPARE[op](figures[figure], limit)}
            for figure, op, limit in (*TARGETS.get(name, ()), *PAGE_TARGETS)]


def measure(names: list[str], runs: int) -> dict:
    """Every number of the report, as one JSON-ready dict."""
    waits = deliberate_waits()
    times: dict[str, list[float]] = {name: [] for name in ["baseline", *names]}
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        captures = {name: Path(tmp, f"{name}.pcapng") for name in names}
        saved = read_sysctls()
        try:
            for timing in (False, *[True] * runs):  # a warm-up round, untimed: page cache, .pyc files
                base = run_baseline()
                if timing:
                    times["baseline"].append(base)
                for name in names:
                    took = run_lab(name, captures[name])
                    if timing:
                        times[name].append(took)
        finally:
            restore_sysctls(saved)
        phase = phases(names, runs, captures)
    base = summary(times.pop("baseline"))
    labs, targets = {}, []
    for name in names:
        lab = summary(times[name])
        wait_name, wait = waits.get(name, (None, 0.0))
        lab.update(ratio=lab["median"] / base["median"], wait_name=wait_name, wait=wait,
                   net_median=lab["median"] - wait)
        labs[name] = lab
        page = phase["labs"][name]
        targets += judge(name, {"median": lab["median"], "ratio": lab["ratio"], "net": lab["net_median"],
                                "page": page["page"], "page_bytes": page["page_bytes"]})
    return {
        "labs": names, "runs": runs, "python": sys.executable, "python_version": platform.python_version(),
        "kernel": platform.release(), "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "baseline": base, "lab_runs": labs, "targets": targets, "phases": phase,
    }


def render_text(r: dict) -> str:
    """The compact tables."""
    def row(label: str, s: dict, shift: float = 0.0, ratio: str = "") -> str:
        return (f"  {label:<42}{s['median'] - shift:>8.3f}{s['min'] - shift:>8.3f}"
                f"{s['max'] - shift:>8.3f}{ratio:>8}")

    def target(t: dict) -> str:
        lab = r["lab_runs"][t["lab"]]
        figure, unit = {"median": ("median", " s"), "ratio": ("median / baseline", "x"),
                        "net": (f"median - {lab['wait_name']}", " s"), "page": ("web page writing", " ms"),
                        "page_bytes": ("web page size", " MB")}[t["figure"]]
        scale = {" ms": 1000, " MB": 1e-6}.get(unit, 1)
        value = f"{t['value']:.2f}x" if unit == "x" else f"{t['value'] * scale:.3f}{unit}"
        goal = f"{figure} {t['op']} {t['limit'] * scale:.1f}{unit}"
        return f"  {'PASS' if t['pass'] else 'MISS'}  {t['lab']:<15}{goal:<34}({value})"

    names, p = r["labs"], r["phases"]
    width = max(9, *(len(name) + 2 for name in names))
    lines = [
        f"{', '.join(names)}: {r['runs']} runs each, alternating with the baseline; {r['when']}",
        f"python {r['python_version']} ({r['python']}), kernel {r['kernel']}, {r['cpus']} CPUs",
        "",
        f"  {'whole process, seconds':<42}{'median':>8}{'min':>8}{'max':>8}{'ratio':>8}",
        row("baseline: unshare -n mn ... --test pingall", r["baseline"]),
        "  python -m lab run LAB --solution:",
    ]
    for name in names:
        lab = r["lab_runs"][name]
        lines.append(row(f"  {name}", lab, ratio=f"{lab['ratio']:.2f}x"))
        if lab["wait"]:
            lines.append(row(f"  {name} - {lab['wait_name']} ({lab['wait']:g} s)", lab, lab["wait"]))
    lines += ["  ratio = median / the baseline's median", ""]
    lines += [target(t) for t in r["targets"]] or ["  (no targets for these labs)"]
    lines += ["", f"  {'where the time goes, median seconds':<42}" + "".join(f"{n:>{width}}" for n in names),
              "  as processes of their own:"]
    lines += [f"    {label:<40}{p[key]:>{width}.3f}" for key, label in PROBES]
    lines += ["  one lab run, phase by phase (--phases-once):"]
    for key, label in (*PHASES, ("total", "whole run (median of the totals)")):
        lines.append(f"    {label:<40}" + "".join(f"{p['labs'][n][key]:>{width}.3f}" for n in names))
    lines.append(f"    {'web page size, kB':<40}" + "".join(f"{p['labs'][n]['page_bytes'] / 1000:>{width}.0f}"
                                                         for n in names))
    lines += ["  imports = import probe minus python -c pass; in a lab run the",
              "  same imports happen within sandbox and load"]
    lines += [f"  {name}'s scenario includes its {lab['wait_name']} of {lab['wait']:g} s"
              for name, lab in r["lab_runs"].items() if lab["wait"]]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def check_cost(names: list[str], runs: int, revision: str) -> dict:
    """Median seconds of `lab check LAB` here and in a worktree of revision, taking turns,
    for the untouched exercise and for a finished one."""
    samples: dict[tuple, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        earlier = Path(tmp, "earlier")
        made = subprocess.run(["git", "worktree", "add", "--detach", "-f", str(earlier), revision], cwd=ROOT,
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise BenchError(f"--against {revision}: {made.stderr.strip()}")
        try:
            for timing in (False, *[True] * runs):
                for name in names:
                    for tree, label in ((earlier, revision), (ROOT, "this tree")):
                        for state in ("untouched", "finished"):
                            took = check_once(tree, name, state, Path(tmp))
                            if timing:
                                samples.setdefault((name, state, label), []).append(took)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(earlier)], cwd=ROOT, capture_output=True)
    figures = {}
    for name in names:
        for state in ("untouched", "finished"):
            before, now = (statistics.median(samples[(name, state, label)]) for label in (revision, "this tree"))
            figures[f"{name} {state}"] = {"before": before, "now": now, "growth": now - before,
                                          "pass": now - before <= CHECK_GROWTH}
    return {"against": revision, "runs": runs, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "checks": figures}


def check_once(tree: Path, name: str, state: str, tmp: Path) -> float:
    """One `lab check` in tree: the untouched exercise (exit 1) or the reference as a
    student's finished file (exit 0)."""
    command = [sys.executable, "-m", "lab", "check", name, "--pcap", str(tmp / "c.pcapng"),
               "--html", str(tmp / "c.html")]
    if state == "finished":
        module = name.replace("-", "_")
        student = tmp / f"student-{tree.name}" / f"{module}.py"
        student.parent.mkdir(exist_ok=True)
        shutil.copyfile(tree / "solutions" / f"{module}.py", student)
        command += ["--exercise", str(student)]
    return timed(command, f"lab check {name} ({state}) in {tree}", cwd=tree,
                 ok=(1,) if state == "untouched" else (0,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def render_check_cost(r: dict) -> str:
    lines = [f"python -m lab check LAB, this tree against {r['against']}: {r['runs']} runs each, "
             f"taking turns; {r['when']}", "",
             f"  {'median seconds':<32}{r['against'][:10]:>10}{'now':>10}{'growth':>10}"]
    for label, f in r["checks"].items():
        lines.append(f"  {label:<32}{f['before']:>10.3f}{f['now']:>10.3f}{f['growth']:>+10.3f}"
                     f"  {'PASS' if f['pass'] else 'MISS'} (<= +{CHECK_GROWTH} s)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", metavar="NAME[,NAME...]",
                        help="labs to time (default: every lab, as `python -m lab list` shows them)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead")
    parser.add_argument("--against", metavar="REV",
                        help="time `lab check` here against a git worktree of REV instead")
    parser.add_argument("--phases-once", nargs=2, metavar=("LAB", "PCAP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.phases_once:
            name, capture = args.phases_once
            print(json.dumps(phases_once(name, Path(capture))), flush=True)
            os._exit(0)  # as lab/__main__.py ends, so the exit phase matches a real run
        if os.geteuid() != 0:
            raise BenchError("needs root: sudo python bench/bench.py")
        if args.runs < 1:
            raise BenchError("--runs must be at least 1")
        for tool in ("unshare", "mn"):
            if shutil.which(tool) is None:
                raise BenchError(f"the command {tool} is missing")
        names = lab_names(args.labs)
        if args.against:
            print(f"bench: timing lab check against {args.against} ...", file=sys.stderr)
            text = render_check_cost(check_cost(names, args.runs, args.against))
            sys.stdout.write(text)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.with_name("check-cost.txt").write_text(text)
            return 0
        print(f"bench: timing {args.runs} runs of mn and of {', '.join(names)}, then the phases ...",
              file=sys.stderr)
        results = measure(names, args.runs)
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
