"""How many mutants of the grading code the unprivileged tests kill, and which survive.

A grader that a test never makes fail can be wrong unnoticed: flip `<=` to `<`, drop
a hint, return None, and if every test still passes, nothing guards that line. This
script asks mutmut to make those small changes (mutants) one at a time in the files
named, runs the tests named (`pytest -m "not root"`: no root, no network) against
each, and prints how many mutants were killed (some test failed), survived, timed
out, and every survivor as file:line with the line before and after, so an engineer
decides whether it is equivalent (allow-list it in bench/equivalent-mutants.txt) or
needs a test. The score is killed / (total - allow-listed equivalents).

mutmut 3 (pinned in MUTMUT) rather than 2: 2.x rewrites the file in place and starts
pytest, with scapy's imports, for every mutant (about 0.5 s each here, and a shared
checkout would see the mutants); 3.x writes every mutant into a copy once, learns
which tests call which function, and forks a warm pytest per mutant running only
those tests (tens of ms each). It mutates function bodies only: module-level tables
and constants, and functions under a decorator other than staticmethod/classmethod
(properties, cached_property, contextmanager), are not mutated; they are listed.

Nothing touches the checkout: the files git knows (with uncommitted edits) are copied
to a work folder with a virtualenv (from /usr/bin/python, --system-site-packages, so
scapy, pyroute2 and mininet import) and mutmut's config; the tests are first run
there unmutated, and must pass. Run as root, the tests run as `nobody` inside a new
network namespace, so no mutant can act on the machine. Everything runs at nice 19.
The work folder is a temporary one, removed at the end; --keep uses bench/.mutants/
(git-ignored) and leaves it, and the next --keep run reuses its virtualenv.

Usage, from the repository root:
  python bench/mutate.py [FILE.py ...] [tests/test_X.py ...] [--keep] [--skip-failing]
  python bench/mutate.py lab/kinds.py tests/test_kinds.py
Arguments under tests/ are tests (node ids work too), the others files to mutate.
Without files: TARGETS. Without tests: every tests/test_*.py with unprivileged tests.
"""
from __future__ import annotations

import argparse
import ast
import configparser
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = "mutmut==3.8.1"  # `mutmut results` and mutants/ as read below are this version's
PYTHON = "/usr/bin/python"  # the interpreter that has scapy, pyroute2 and mininet
KEEP_DIR = ROOT / "bench" / ".mutants"
ALLOW = ROOT / "bench" / "equivalent-mutants.txt"
TARGETS = ("lab/labs/*.py", "lab/wire.py", "lab/exercise.py", "lab/runner.py",
           "lab/grading.py", "lab/exchange.py", "lab/kinds.py")
NOBODY = 65534  # uid and gid the tests run as when the script runs as root
UNPRIVILEGED = ["-m", "not root", "-p", "no:cacheprovider"]
# A pytest plugin for the unmutated run: which tests were collected, which failed,
# which files did not even import. Written into the work folder, never the checkout.
PROBE = '''
import json, os
seen = {"items": [], "failed": [], "broken": []}
def pytest_collectreport(report):
    if report.failed:
        seen["broken"].append(report.nodeid)
def pytest_collection_finish(session):
    seen["items"] = [item.nodeid for item in session.items]
def pytest_runtest_logreport(report):
    if report.failed and report.nodeid not in seen["failed"]:
        seen["failed"].append(report.nodeid)
def pytest_unconfigure(config):
    with open(os.environ["MUTATE_PROBE"], "w") as out:
        json.dump(seen, out)
'''


class MutateError(Exception):
    """The run cannot measure anything meaningful; it stops with this message."""


@dataclass
class Mutant:
    name: str
    status: str
    path: str = "?"
    function: str = "?"
    line: int = 0
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """How bench/equivalent-mutants.txt names it: file, function and the mutated
        line, which stay the same when lines above move (mutmut's numbers do not)."""
        changed = " ".join(self.after) or "(deleted) " + " ".join(self.before)
        return f"{self.path} {self.function}: {changed}"


class Workspace:
    """The work folder: a copy of the tree, a virtualenv, and how to run in them."""

    def __init__(self, keep: bool):
        self.keep = keep
        if keep:
            KEEP_DIR.mkdir(exist_ok=True)
            self.dir = KEEP_DIR
        else:
            self.dir = Path(tempfile.mkdtemp(prefix="mutate-"))
        self.dir.chmod(0o755)  # `nobody` reads the virtualenv in it
        self.tree, self.venv = self.dir / "tree", self.dir / "venv"
        self.drop = os.geteuid() == 0
        self.env = {"PATH": f"{self.venv}/bin:/usr/bin:/bin", "HOME": str(self.dir / "home"),
                    "TMPDIR": str(self.dir / "tmp"), "LANG": "C.UTF-8", "NO_COLOR": "1",
                    "TERM": "dumb", "PYTHONPATH": str(self.dir / "probe")}

    def remove(self) -> None:
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def install(self) -> None:
        """A virtualenv with mutmut, over the system's packages; a kept one is reused."""
        python = self.venv / "bin" / "python"
        version = MUTMUT.split("==")[1]
        if python.exists() and subprocess.run(
                [python, "-c", f"import importlib.metadata as m; "
                 f"assert m.version('mutmut') == '{version}'"],
                capture_output=True).returncode == 0:
            return
        shutil.rmtree(self.venv, ignore_errors=True)
        subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", self.venv], check=True)
        pip = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              MUTMUT], capture_output=True, text=True)
        if pip.returncode != 0:
            raise MutateError(f"pip install {MUTMUT} failed:\n{pip.stderr[-2000:]}")

    def copy_tree(self) -> None:
        """The files git knows or would add, as they are now (uncommitted edits too)."""
        shutil.rmtree(self.tree, ignore_errors=True)
        # safe.directory: a user other than the checkout's owner may run this too
        listed = subprocess.run(["git", "-c", f"safe.directory={ROOT}", "-C", ROOT, "ls-files",
                                 "-z", "-co", "--exclude-standard"],
                                capture_output=True, check=True).stdout.decode()
        for name in filter(None, listed.split("\0")):
            source = ROOT / name
            if source.is_file():
                (self.tree / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, self.tree / name, follow_symlinks=False)
        for folder in ("home", "tmp", "probe"):
            (self.dir / folder).mkdir(exist_ok=True)
        (self.dir / "probe" / "mutate_probe.py").write_text(PROBE)
        if self.drop:
            for folder in (self.tree, self.dir / "home", self.dir / "tmp"):
                for path in [folder, *folder.rglob("*")]:
                    os.chown(path, NOBODY, NOBODY, follow_symlinks=False)

    def run(self, *command, log: Path | None = None) -> subprocess.CompletedProcess:
        """A command in the tree, as `nobody` in a network namespace of its own when
        we are root; output to log if given, else captured."""
        # lo up: unit tests may talk to themselves over 127.0.0.1 (an echo server's socket)
        prefix = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                  "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] if self.drop else []
        if log is None:
            return subprocess.run([*prefix, *command], cwd=self.tree, env=self.env,
                                  capture_output=True, text=True)
        with open(log, "w") as out:
            return subprocess.run([*prefix, *command], cwd=self.tree, env=self.env,
                                  stdout=out, stderr=subprocess.STDOUT, text=True)


def split_arguments(paths: list[str]) -> tuple[list[str], list[str]]:
    """Files to mutate and tests, from one list: tests are under tests/."""
    targets, tests = [], []
    for path in paths:
        file = path.split("::")[0]
        if not (ROOT / file).is_file():
            raise MutateError(f"no such file: {file} (run from the repository root)")
        (tests if file.startswith("tests/") else targets).append(path)
    if not targets:
        targets = sorted({str(p.relative_to(ROOT)) for pattern in TARGETS
                          for p in ROOT.glob(pattern) if p.name != "__init__.py"})
    return targets, tests


def check_tests(work: Workspace, tests: list[str], skip_failing: bool) -> tuple[list, list]:
    """Run the tests unmutated: (test arguments for mutmut, node ids to deselect).

    A test failing here would "kill" every mutant, so it stops the run, or with
    --skip-failing is left out and named. Without tests named, every test file with
    an unprivileged test is taken."""
    probe = work.dir / "tmp" / "probe.json"  # written by the tests' user
    probe.unlink(missing_ok=True)
    work.env["MUTATE_PROBE"] = str(probe)
    ran = work.run("python", "-m", "pytest", "-q", "-p", "mutate_probe", *UNPRIVILEGED,
                   "--continue-on-collection-errors", *(tests or ["tests"]))
    del work.env["MUTATE_PROBE"]
    seen = json.loads(probe.read_text()) if probe.exists() else None
    if seen is None or ran.returncode not in (0, 1, 5):  # 5: no test selected
        raise MutateError(f"pytest did not run the tests:\n{ran.stdout[-2000:]}"
                          f"{ran.stderr[-2000:]}")
    bad = seen["broken"] + seen["failed"]
    if bad and not skip_failing:
        raise MutateError("these fail without any mutant, so every mutant would look killed:\n  "
                          + "\n  ".join(bad) + "\nfix them, name other tests, or --skip-failing")
    for nodeid in bad:
        print(f"left out, fails unmutated: {nodeid}")
    kept = [item for item in seen["items"] if item not in seen["failed"]]
    if not kept:
        raise MutateError("no unprivileged test left to run")
    files = sorted({item.split("::")[0] for item in kept})
    tests = [test for test in tests if test.split("::")[0] in files] or files
    return tests, seen["failed"]


def configure(work: Workspace, targets: list[str], tests: list[str], deselect: list[str]) -> None:
    """mutmut 3 reads only setup.cfg or pyproject.toml: write it into the copy."""
    pyproject = work.tree / "pyproject.toml"
    if pyproject.exists() and "[tool.mutmut]" in pyproject.read_text():
        raise MutateError("pyproject.toml has a [tool.mutmut] section, which mutmut would "
                          "read instead of this script's settings")
    config = configparser.ConfigParser(interpolation=None)
    config.read(work.tree / "setup.cfg")

    def lines(values) -> str:
        return "".join(f"\n{value}".replace("%", "%%") for value in values)
    skipped = [arg for nodeid in deselect for arg in ("--deselect", nodeid)]
    config["mutmut"] = {
        "source_paths": lines(targets),
        "pytest_add_cli_args_test_selection": lines(tests),
        "pytest_add_cli_args": lines([*UNPRIVILEGED, *skipped]),
        "also_copy": lines(sorted(p.name + ("/" if p.is_dir() else "")
                                  for p in work.tree.iterdir()
                                  if p.name not in ("tests", "mutants", "setup.cfg"))),
        "use_git_change_detection": "false",
    }
    with open(work.tree / "setup.cfg", "w") as out:
        config.write(out)


def module_of(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def functions(source: str) -> dict[tuple[str, str], ast.AST]:
    """(class or '', name) -> def node, for top-level functions and methods."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found["", node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[node.name, item.name] = item
    return found


def unmutated(tree: Path, targets: list[str]) -> list[str]:
    """Functions mutmut 3 leaves alone because of a decorator, as file:line name."""
    left = []
    for path in targets:
        for (owner, name), node in functions((tree / path).read_text()).items():
            kinds = {ast.unparse(d) for d in node.decorator_list}
            if kinds - {"staticmethod", "classmethod"}:
                left.append(f"{path}:{node.lineno} {owner + '.' if owner else ''}{name} "
                            f"(@{', @'.join(sorted(kinds))})")
    return left


def shield(tree: Path, targets: list[str]) -> list[str]:
    """Mark `# pragma: no mutate block` (in the copy) on methods whose default arguments
    name the method itself, like `def socket(self, kind=socket.SOCK_STREAM)`: mutmut
    defines its copies of a method after it in the class body, where that name is the
    method, so the module would not import. Returns them as file:line name."""
    marked = []
    for path in targets:
        source = (tree / path).read_text().splitlines(keepends=True)
        for (owner, name), node in functions("".join(source)).items():
            defaults = [*node.args.defaults, *filter(None, node.args.kw_defaults)]
            used = {n.id for d in defaults for n in ast.walk(d) if isinstance(n, ast.Name)}
            if owner and name in used:
                line = source[node.lineno - 1].rstrip("\n")
                source[node.lineno - 1] = f"{line}  # pragma: no mutate block\n"
                marked.append(f"{path}:{node.lineno} {owner}.{name} (a default names the method)")
        if marked and marked[-1].startswith(f"{path}:"):
            (tree / path).write_text("".join(source))
    return marked


def locate(mutant: Mutant, tree: Path, cache: dict) -> None:
    """Fill in function, line and the changed lines from mutmut's copy.

    mutants/<file> holds each function's original as x_<name>__mutmut_orig and every
    mutant of it as x_<name>__mutmut_<n>; the difference of the two is the mutation,
    and its place in the original function gives the line in the original file."""
    path, mangled, _ = mutant.path, *mutant.name.rsplit("__mutmut_", 1)
    mangled = mangled[len(module_of(path)) + 1:]
    if path not in cache:
        copy = (tree / "mutants" / path).read_text()
        cache[path] = (copy.splitlines(),
                       {name: node for (_, name), node in functions(copy).items()},
                       (tree / path).read_text().splitlines(),
                       functions((tree / path).read_text()))
    lines, copies, source, defs = cache[path]
    owner, _, name = mangled[1:].strip("ǁ").rpartition("ǁ") if "ǁ" in mangled \
        else ("", "", mangled[2:])
    mutant.function = f"{owner + '.' if owner else ''}{name}()"
    node = defs.get((owner, name))
    # from the line after `def` on (the name differs there), line by line
    orig, mutated = copies[f"{mangled}__mutmut_orig"], copies[mutant.name.rsplit(".", 1)[1]]
    before = lines[orig.lineno:orig.end_lineno]
    after = lines[mutated.lineno:mutated.end_lineno]
    at = None  # index in the body of the first line the mutation changed
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after).get_opcodes():
        if tag != "equal":
            mutant.before = tuple(line.strip() for line in before[i1:i2])
            mutant.after = tuple(line.strip() for line in after[j1:j2])
            at = i1
            break
    if node is None:
        return
    body_at = node.lineno  # 0-based index of the line after `def` in the source
    if at is not None and source[body_at:body_at + len(before)] == before:
        mutant.line = body_at + 1 + at
    else:  # formatting differs: find the original line inside the function
        first = mutant.before[0] if mutant.before else None
        hits = [n for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                if first and source[n - 1].strip() == first]
        mutant.line = hits[0] if hits else node.lineno


def collect(work: Workspace, targets: list[str]) -> list[Mutant]:
    listed = work.run("mutmut", "results", "--all", "true")
    modules = sorted(((module_of(p), p) for p in targets), key=lambda m: -len(m[0]))
    mutants, cache = [], {}
    for match in re.finditer(r"^\s+(\S+__mutmut_\d+): (.+)$", listed.stdout, re.M):
        mutant = Mutant(match[1], match[2].strip())
        mutant.path = next((p for m, p in modules if mutant.name.startswith(m + ".x")), "?")
        if mutant.path != "?":
            try:
                locate(mutant, work.tree, cache)
            except (KeyError, SyntaxError) as error:  # mutmut's copy is not as expected
                print(f"mutate: cannot place {mutant.name}: {error!r}", file=sys.stderr)
        mutants.append(mutant)
    return mutants


def allow_list(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def tokens(lines: tuple[str, ...]) -> list[tuple[int, str]] | None:
    """Python tokens of some lines of a statement (unbalanced brackets allowed)."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline):
            found.append((token.type, token.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        if not found:
            return None
    return found


def text_only(mutant: Mutant) -> bool:
    """True when the mutation changed string literals alone ("XX"-wrapped, case), which
    is mostly hint wording: listed one line each unless --all-diffs."""
    before, after = tokens(mutant.before), tokens(mutant.after)
    if not before or not after or len(before) != len(after):
        return False
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    return bool(changed) and all(b[0] == a[0] == tokenize.STRING for b, a in changed)


def summary(mutants: list[Mutant], equivalent: list[Mutant], seconds: float) -> None:
    counts = Counter(m.status for m in mutants)
    total, killed = len(mutants), counts["killed"]
    rows = [("mutants", total, ""), ("killed", killed, "a test failed"),
            ("survived", counts["survived"], "tests ran, none failed"),
            ("not covered", counts["no tests"], "no test named runs that function"),
            ("timed out", counts["timeout"], "")]
    usual = ("killed", "survived", "no tests", "timeout")
    other = sorted(status for status in counts if status not in usual)
    if other:
        rows.append(("other", sum(counts[s] for s in other), ", ".join(other)))
    rows.append(("equivalent", len(equivalent), "survivors in the allow-list"))
    print()
    for label, count, why in rows:
        print(f"{label:<14}{count:>6}     {why}".rstrip())
    for label, denominator, formula in (
            ("score", total - len(equivalent), "killed / (mutants - equivalent)"),
            ("covered score", total - len(equivalent) - counts["no tests"],
             "the same, leaving out code no test named runs")):
        score = f"{100 * killed / denominator:.1f} %" if denominator > 0 else "n/a"
        print(f"{label:<14}{score:>8}   {formula}")
    print(f"{'time':<14}{seconds:>6.0f} s   {1000 * seconds / max(total, 1):.0f} ms a mutant "
          "(stats and unmutated run included)")


def per_file(mutants: list[Mutant], targets: list[str], equivalent: list[Mutant]) -> None:
    print(f"\n{'file':<36}{'mutants':>8}{'killed':>8}{'survived':>9}{'uncovered':>10}"
          f"{'score':>8}")
    for path in targets:
        mine = [m for m in mutants if m.path == path]
        if mine:
            c = Counter(m.status for m in mine)
            left = len(mine) - sum(m in equivalent for m in mine)
            rate = f"{100 * c['killed'] / left:.0f} %" if left else "n/a"
            print(f"{path:<36}{len(mine):>8}{c['killed']:>8}{c['survived']:>9}"
                  f"{c['no tests']:>10}{rate:>8}")


def survivors(order: list[Mutant], all_diffs: bool) -> None:
    """Each survivor as file:line, the line before and after, and its allow-list key;
    string-only ones one line each (unless all_diffs), uncovered ones per function."""
    shown = [m for m in order if m.status != "no tests" and (all_diffs or not text_only(m))]
    if shown:
        print("\nnot killed (write a test, or copy the key to the allow-list if equivalent):")
    for m in shown:
        tag = "" if m.status == "survived" else f"  [{m.status}]"
        print(f"\n{m.path}:{m.line} in {m.function}{tag}")
        for line in m.before:
            print(f"  - {line}")
        for line in m.after:
            print(f"  + {line}")
        print(f"  key: {m.key}")
    texts = defaultdict(list)
    for m in order:
        if m.status != "no tests" and not all_diffs and text_only(m):
            texts[m.path, m.line, m.function, m.before].append(m)
    if texts:
        print("\nonly a string changed, and no test noticed (hint wording, mostly; "
              "--all-diffs shows them):")
        for (path, line, function, before), ms in texts.items():
            print(f"  {path}:{line} {function} x{len(ms)}: {' '.join(before)}")
    uncovered = defaultdict(list)
    for m in order:
        if m.status == "no tests":
            uncovered[m.path, m.function].append(m)
    if uncovered:
        print("\nnot covered (no test named calls these functions):")
        for (path, function), ms in sorted(uncovered.items()):
            print(f"  {path}:{min(m.line for m in ms)} {function}: {len(ms)} mutants")


def report(mutants: list[Mutant], targets: list[str], allowed: set[str], skipped: list[str],
           seconds: float, all_diffs: bool) -> None:
    equivalent = [m for m in mutants if m.status == "survived" and m.key in allowed]
    summary(mutants, equivalent, seconds)
    if len(targets) > 1:
        per_file(mutants, targets, equivalent)
    order = sorted((m for m in mutants if m.status != "killed" and m not in equivalent),
                   key=lambda m: (m.path, m.line, m.name))
    survivors(order, all_diffs)
    found = {m.key for m in mutants}
    for m in mutants:
        if m.status == "killed" and m.key in allowed:
            print(f"\nallow-listed as equivalent but killed now: {m.key}")
    for key in sorted(allowed - found):
        if key.split(" ", 1)[0] in targets:
            print(f"\nallow-listed but no such mutant now (stale entry?): {key}")
    if skipped:
        print("\nnot mutated (mutmut 3 skips decorated functions; shield() says why the rest):")
        for line in skipped:
            print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files to mutate and tests/ files to run")
    parser.add_argument("--keep", action="store_true",
                        help=f"work in {KEEP_DIR.relative_to(ROOT)}/ and leave it there")
    parser.add_argument("--skip-failing", action="store_true",
                        help="leave out tests that fail unmutated instead of stopping")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (2)")
    parser.add_argument("--all-diffs", action="store_true",
                        help="show string-only survivors in full too, with their keys")
    parser.add_argument("--allow", type=Path, default=ALLOW,
                        help="allow-list of equivalent mutants")
    args = parser.parse_args(argv)
    os.nice(19 - os.nice(0))  # everything below inherits it
    work = None
    try:
        targets, tests = split_arguments(args.paths)
        work = Workspace(args.keep)
        started = time.monotonic()
        work.install()
        work.copy_tree()
        tests, deselect = check_tests(work, tests, args.skip_failing)
        skipped = shield(work.tree, targets) + unmutated(work.tree, targets)
        configure(work, targets, tests, deselect)
        print(f"mutating {len(targets)} file(s) against {len(tests)} test file(s), "
              f"in {work.dir}; set-up took {time.monotonic() - started:.0f} s", flush=True)
        started = time.monotonic()
        log = work.dir / "mutmut.log"
        ran = work.run("mutmut", "run", "--max-children", str(args.jobs), log=log)
        seconds = time.monotonic() - started
        if ran.returncode != 0:
            tail = [line.split("\r")[-1] for line in log.read_text().splitlines()[-25:]]
            raise MutateError("mutmut run failed:\n" + "\n".join(tail))
        mutants = collect(work, targets)
        report(mutants, targets, allow_list(args.allow), skipped, seconds,
               args.all_diffs)
        return 0
    except MutateError as error:
        print(f"mutate: {error}", file=sys.stderr)
        return 2
    finally:
        if work is not None:
            work.remove()


if __name__ == "__main__":
    sys.exit(main())
