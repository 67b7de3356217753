"""The command line's arguments and its one-line errors, without building networks."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, lab
from lab.cli import build_parser


def test_help_everywhere():
    for args in ([], ["run"], ["check"], ["shell"], ["list"], ["clean"], ["doctor"]):
        result = lab(*args, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout


def test_run_options_parse():
    args = build_parser().parse_args(["run", "arp-basic", "--solution", "--json", "--pcap", "/tmp/x.pcapng"])
    assert (args.lab, args.solution, args.json, str(args.pcap)) == ("arp-basic", True, True, "/tmp/x.pcapng")


def test_missing_lab_name_is_a_usage_error():
    result = lab("run")
    assert result.returncode == 2 and "LAB" in result.stderr


def test_list_shows_each_lab_and_its_progress():
    result = lab("list")
    assert result.returncode == 0
    assert "arp-basic" in result.stdout and "[0/4 TODOs done]" in result.stdout


@pytest.mark.root
def test_not_root_gets_one_line_about_sudo():
    # A copy of the package in a folder everyone may read, wherever the checkout is.
    folder = Path(tempfile.mkdtemp(prefix="lab-nobody-"))
    try:
        folder.chmod(0o755)
        shutil.copytree(ROOT / "lab", folder / "lab", ignore=shutil.ignore_patterns("__pycache__"))
        result = subprocess.run([sys.executable, "-m", "lab", "run", "arp-basic"], cwd=folder,
                                capture_output=True, text=True, timeout=30,
                                preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "sudo python -m lab run arp-basic" in result.stderr


def test_not_root_is_refused_before_anything_is_touched():
    if os.geteuid() == 0:
        pytest.skip("covered by the unprivileged run above")
    result = lab("run", "arp-basic")
    assert result.returncode == 3 and "sudo" in result.stderr


@pytest.mark.root
def test_doctor_probes_each_need_on_one_line():
    result = lab("doctor")
    assert result.returncode == 0, result.stdout
    names = [line.split()[1] for line in result.stdout.splitlines()]
    for need in ("root", "mininet", "scapy", "pyroute2", "nftables", "mnexec", "tshark", "nft", "veth+bridge",
                 "netem", "nft-numgen", "ovs"):
        assert need in names
    assert "MISSING" not in result.stdout


def test_seed_is_an_option():
    assert build_parser().parse_args(["check", "arp-basic", "--seed", "42"]).seed == 42


@pytest.mark.root
@pytest.mark.parametrize("source, words", [
    ("def build_who_has(:\n", "line 1"),                      # a syntax error: compiled, never run
    ("import no_such_module_here\n", "No module named"),      # an error while importing, in the sandbox
    ("import sys\nsys.exit(4)\n", "sys.exit(4)"),
])
def test_json_is_one_document_for_every_ending(tmp_path, source, words):
    import json
    student = tmp_path / "arp_basic.py"
    student.write_text(source)
    result = lab("check", "arp-basic", "--exercise", str(student), "--json", "--seed", "7")
    document = json.loads(result.stdout)
    assert result.returncode == 1 and document["exit_code"] == 1
    assert document["status"] == "error" and words in document["error"] and document["seed"] == 7
    assert result.stderr.count("\n") == 1 and words in result.stderr


@pytest.mark.root
def test_a_seed_replays_the_run(tmp_path):
    import json
    runs = [json.loads(lab("check", "arp-basic", "--solution", "--json", "--seed", seed,
                           "--pcap", str(tmp_path / f"{i}.pcapng")).stdout)
            for i, seed in enumerate(("1234", "1234", "99"))]
    assert runs[0]["seed"] == 1234 and runs[0]["status"] == "passed"
    assert runs[0]["hosts"] == runs[1]["hosts"] != runs[2]["hosts"]
    subnets = {h["ip"].rsplit(".", 1)[0] for h in runs[2]["hosts"].values()}
    assert len(subnets) == 1 and subnets.pop().startswith("10.")


@pytest.mark.root
def test_an_unknown_topology_gets_one_line_with_the_available_ones():
    result = lab("shell", "sta,2")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no topology named 'sta'" in result.stderr and re.search(r"available: .*star", result.stderr)


def test_list_reads_progress_from_another_file_and_fits_the_terminal(tmp_path):
    attempt = tmp_path / "mine.py"
    attempt.write_text((ROOT / "solutions" / "udp_basic.py").read_text())
    result = lab("list", "--exercise", str(attempt), env_columns="80")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and all(len(line) <= 80 for line in lines), lines
    udp = next(line for line in lines if line.startswith("udp-basic"))
    assert "[4/4 TODOs done in mine.py]" in udp
    assert "[0/4 TODOs done]" in next(line for line in lines if line.startswith("arp-basic"))
    missing = lab("list", "--exercise", str(tmp_path / "nothing.py"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
