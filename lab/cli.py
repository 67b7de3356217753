"""The command line: `python -m lab COMMAND`. Thin: it parses, calls, and turns each
library error into one line on stderr and an exit code.

Exit codes: 0 done; 1 checks not all passing (check) or the student's code raised or
hung; 2 a usage problem (unknown lab, broken topology or lab file); 3 the machine
lacks something (root, a package); 70 a fault of the lab itself; 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import traceback
from pathlib import Path

from .errors import LabError, SetupError, UsageError
from .paths import CAPTURES, shown

SETUP_HINT = "run: sudo sh scripts/setup.sh"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except LabError as exc:
        return fail(args, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail(args, "interrupted; the run's network and processes are gone", 130)
    except Exception:
        if os.environ.get("LAB_DEBUG"):
            traceback.print_exc()
        kind, value = sys.exc_info()[:2]
        return fail(args, f"internal error: {kind.__name__}: {value} (a bug in the lab; "
                          "LAB_DEBUG=1 shows the traceback)", 70)


def fail(args, message: str, code: int) -> int:
    """One line on stderr; with --json, also one JSON document on stdout, so an
    autograder reads every ending the same way."""
    print(f"lab: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"lab": getattr(args, "lab", None), "status": "error", "exit_code": code,
                          "error": message, "seed": getattr(args, "seed", None)}, indent=2))
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lab",
        description="Raw-socket network lab: real packets on a virtual Mininet network, "
                    "graded from what crossed the wire.",
        epilog="Start with: sudo python -m lab run arp-basic")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="the labs, with how much of each exercise is done")
    listing.add_argument("--exercise", type=Path, metavar="FILE",
                         help="read progress from this file for the lab whose TODOs it defines")
    listing.set_defaults(handler=cmd_list)

    for name, handler, text in (
            ("run", cmd_run, "build the lab's network, run it with your exercise, show the wire, grade"),
            ("check", cmd_check, "grade only: exit 0 only if every part of your exercise is done and right")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("lab", metavar="LAB", help="lab name, as `list` shows it (e.g. arp-basic)")
        sub.add_argument("--solution", action="store_true", help="use the reference solution (instructors, CI)")
        sub.add_argument("--exercise", type=Path, metavar="FILE",
                         help="grade this file instead of exercises/LAB.py (e.g. a student's submission)")
        sub.add_argument("--pcap", type=Path, metavar="PATH",
                         help="where to write the capture (default: captures/LAB.pcapng)")
        sub.add_argument("--html", type=Path, metavar="PATH",
                         help="where to write the report as a web page (default: beside the capture, LAB.html)")
        sub.add_argument("--ports", action="store_true",
                         help="also write every copy of every frame, on every switch port, to LAB.ports.pcapng")
        sub.add_argument("--json", action="store_true", help="print one JSON result on stdout instead of text")
        sub.add_argument("--seed", type=int, metavar="N",
                         help="replay the run that printed this seed (same addresses, ports and cases)")
        sub.set_defaults(handler=handler)

    shell = commands.add_parser("shell", help="Mininet's own CLI on a topology from topologies/",
                                description="Mininet's CLI on a topology, inside a private namespace.")
    shell.add_argument("topology", metavar="TOPOLOGY", help="file name in topologies/, with mn-style "
                                                            "arguments: star or star,5")
    shell.set_defaults(handler=cmd_shell)

    clean = commands.add_parser("clean", help="remove what an interrupted run of this lab left, nothing else")
    clean.set_defaults(handler=cmd_clean)

    serve = commands.add_parser("serve", help="serve captures/ (reports and captures) to a browser",
                                description="Serve captures/ over HTTP: an index of the runs, newest "
                                            "first, their web pages and captures. Ctrl-C stops it.")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.set_defaults(handler=cmd_serve)

    doctor = commands.add_parser("doctor", help="what the lab needs, present or missing, one line each")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def require_root(command: str) -> None:
    if os.geteuid() != 0:
        raise SetupError(f"{command} builds virtual networks and needs root: "
                         f"sudo python -m lab {' '.join(sys.argv[1:]) or command}")


def require_tools() -> None:
    for module, package in (("mininet", "mininet"), ("scapy", "python3-scapy"), ("pyroute2", "python3-pyroute2")):
        if importlib.util.find_spec(module) is None:
            raise SetupError(f"the Python package {module} is missing for {sys.executable} "
                             f"(Debian package {package}); {SETUP_HINT}")
    for tool, package in (("mnexec", "mininet"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            raise SetupError(f"the command {tool} is missing (Debian package {package}); {SETUP_HINT}")


def enter_sandbox(command: str) -> None:
    """Everything after this happens in a network namespace only this run can see."""
    require_root(command)
    require_tools()
    from .netns import unshare_network
    unshare_network()


def cmd_list(args) -> int:
    from .catalog import discover
    from .exercise import progress
    from .paths import EXERCISES
    from .terminal import cut
    from .terminal import width as terminal_width
    catalog = discover()
    if args.exercise is not None and not args.exercise.is_file():
        raise UsageError(f"--exercise {args.exercise}: no such file")
    width = max((len(name) for name in catalog.labs), default=0)
    for name, lab in sorted(catalog.labs.items()):
        done = progress(EXERCISES / f"{lab.exercise}.py", lab.todos)
        source = ""
        if args.exercise is not None and defines_all(args.exercise, lab.todos):
            done, source = progress(args.exercise, lab.todos), f" in {args.exercise.name}"
        print(cut(f"{name:<{width}}  [{sum(done.values())}/{len(done)} TODOs done{source}]  {lab.title}",
                  terminal_width()))
    for problem in catalog.problems:
        print(f"lab: skipped a broken lab file: {problem}", file=sys.stderr)
    return 0


def defines_all(path: Path, todos: tuple[str, ...]) -> bool:
    """Whether the file at path defines every one of todos (it is that lab's exercise)."""
    import ast
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return False
    return set(todos) <= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _run(args, grading_only: bool) -> int:
    enter_sandbox(args.command)
    from .paths import ROOT
    from .sandbox import Sandbox
    student_sandbox = Sandbox(ROOT)  # first: it imports scapy while this process imports the lab
    try:
        return _run_lab(args, grading_only, student_sandbox)
    finally:
        student_sandbox.close()


def _run_lab(args, grading_only: bool, student_sandbox) -> int:
    from .catalog import discover
    from .report import as_json, render, render_short
    from .runner import execute
    lab = discover().find(args.lab)
    if args.exercise is not None and not args.exercise.is_file():
        raise UsageError(f"--exercise {args.exercise}: no such file")
    capture = args.pcap or CAPTURES / f"{lab.name}.pcapng"
    if args.seed is None:
        from .runner import new_seed
        args.seed = new_seed()
    result = execute(lab, solution=args.solution, capture_path=capture, exercise_path=args.exercise,
                     seed=args.seed, sandbox=student_sandbox, every_port=args.ports)
    from .page import write_page
    result.page = args.html or capture.with_suffix(".html")  # beside the capture
    write_page(result, result.page)
    if args.json:
        print(as_json(result))
    elif grading_only:
        render_short(result)
    else:
        render(result)
    for error in result.student_errors:
        print(f"lab: your code failed: {error}", file=sys.stderr)
    if grading_only:
        return 0 if result.passed else 1
    return 1 if result.student_errors else 0


def cmd_run(args) -> int:
    return _run(args, grading_only=False)


def cmd_check(args) -> int:
    return _run(args, grading_only=True)


def cmd_shell(args) -> int:
    from . import topology
    name, topo_args = topology.parse_spec(args.topology)
    topo = topology.load(name, topo_args)
    enter_sandbox("shell")
    from mininet.cli import CLI
    from mininet.log import setLogLevel
    from .network import Network
    network = Network(topo)
    setLogLevel("output")  # the CLI prints through Mininet's log
    try:
        print(topology.draw(topo))
        print("Type help for Mininet's commands, exit or Ctrl-D to leave; the network then vanishes.")
        CLI(network.mininet)
    finally:
        network.stop()
    return 0


def cmd_clean(args) -> int:
    require_root("clean")
    from .registry import clean
    removed = clean()
    for line in removed:
        print(f"removed {line}")
    if not removed:
        print("nothing to clean: no run of this lab left anything behind")
    return 0


def cmd_serve(args) -> int:
    from .serve import serve
    return serve(CAPTURES, args.port, args.bind)


def cmd_doctor(args) -> int:
    from .doctor import diagnose
    problems = 0
    for found, name, text in diagnose():
        problems += found is False
        mark = {True: "ok", False: "MISSING", None: "note"}[found]
        print(f"{mark:<8} {name:<12} {text}")
    return 0 if problems == 0 else 3
