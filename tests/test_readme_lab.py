"""The example lab in README.md's "How an instructor adds a lab" runs as written.

Its three code blocks are copied out of the README into a copy of the project, and
the lab is run there: the reference passes, the untouched exercise is not done, and a
typical mistake fails with its hint. An API change that the README does not follow
fails here.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.root

BLOCK = re.compile(r"```python\n# ((?:lab/labs|exercises|solutions)/icmp_echo\.py)\n(.*?)```", re.S)


def readme_files() -> dict[str, str]:
    """{path: code} for each block of the README's example lab."""
    section = (ROOT / "README.md").read_text().split("## How an instructor adds a lab", 1)[1]
    return {path: code for path, code in BLOCK.findall(section)}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with the README's lab dropped in, as an instructor would."""
    copy = tmp_path_factory.mktemp("readme-lab") / "netlab"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "captures", "__pycache__", "tests", "bench"))
    files = readme_files()
    assert sorted(files) == ["exercises/icmp_echo.py", "lab/labs/icmp_echo.py", "solutions/icmp_echo.py"]
    for path, code in files.items():
        (copy / path).write_text(code)
    assert len(files["lab/labs/icmp_echo.py"].splitlines()) <= 60
    yield copy
    shutil.rmtree(copy, ignore_errors=True)


def check(project, *args: str) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "lab", "check", "icmp-echo", "--json",
                           "--pcap", str(project / "capture.pcapng"), *args],
                          cwd=project, capture_output=True, text=True, timeout=60)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"exit {done.returncode}: {done.stdout[-500:]} {done.stderr[-1500:]}")


def test_the_readme_lab_passes_with_its_reference(project):
    code, document = check(project, "--solution")
    assert code == 0 and document["checks"][0]["status"] == "pass", document
    assert any("ICMP echo-reply" in frame["summary"] for frame in document["frames"])


def test_the_readme_lab_untouched_is_not_done(project):
    code, document = check(project)
    assert code == 1 and [c["status"] for c in document["checks"]] == ["not done"]


def test_the_readme_lab_names_a_typical_mistake(project):
    wrong = project / "attempt.py"
    wrong.write_text("from scapy.layers.inet import ICMP, IP\n\n\ndef build_echo(my_ip, peer_ip, ident):\n"
                     "    return IP(src=my_ip, dst=peer_ip) / ICMP(type=0, id=ident)\n")
    code, document = check(project, "--exercise", str(wrong))
    check_result, = document["checks"]
    assert code == 1 and check_result["status"] == "fail" and "type 8" in check_result["hint"]
