"""The Vagrantfile, read by Ruby as Vagrant reads it, with Vagrant's configuration
calls recorded (tests/vagrant_stub.rb): the VM it describes runs the set-up script from
the synced project, keeps captures/ out of the one-way sync, and forwards lab serve's
port to the student's machine alone. Vagrant itself and a VM do not run here."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT
from lab.cli import build_parser


@pytest.fixture(scope="module")
def calls() -> list[dict]:
    if shutil.which("ruby") is None:
        message = "ruby is missing: install it with `sh scripts/setup.sh --test`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, so no skipping: {message}", pytrace=False)
        pytest.skip(message)
    done = subprocess.run(["ruby", str(ROOT / "tests" / "vagrant_stub.rb"), str(ROOT / "Vagrantfile")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["version"] == "2"
    return [call for call in document["calls"] if call["args"] or call["options"]]


def named(calls: list[dict], name: str) -> list[dict]:
    return [call for call in calls if call["call"] == name]


def test_the_box_is_a_system_the_set_up_script_supports(calls):
    [box] = named(calls, "vm.box=")
    assert box["args"] == ["debian/bookworm64"]


def test_the_project_is_synced_one_way_without_captures_and_provisioned_by_setup_sh(calls):
    project, default = named(calls, "vm.synced_folder")
    source, target = project["args"]
    assert source == "." and project["options"]["type"] == "rsync"
    # What the VM writes must survive the next sync: captures, benchmark results.
    assert {"captures/", "bench/results/", ".git/"} <= set(project["options"]["rsync__exclude"])
    assert default == {"call": "vm.synced_folder", "args": [".", "/vagrant"], "options": {"disabled": True}}
    [setup] = named(calls, "vm.provision")
    assert setup["options"]["privileged"] is True
    command = setup["options"]["inline"].split()
    assert command == ["sh", f"{target}/scripts/setup.sh"] and (ROOT / "scripts" / "setup.sh").is_file()


def test_lab_serves_port_is_forwarded_to_the_students_machine_alone(calls):
    default_port = build_parser().parse_args(["serve"]).port
    [forward] = named(calls, "vm.network")
    assert forward["args"] == ["forwarded_port"]
    options = forward["options"]
    assert options["guest"] == default_port and options["host_ip"] == "127.0.0.1"
    [message] = named(calls, "vm.post_up_message=")
    assert "python -m lab serve --bind eth0" in message["args"][0]
    assert f"http://localhost:{options['host']}" in message["args"][0]


def test_both_providers_get_the_same_memory_and_cpus(calls):
    assert [call["args"][0] for call in named(calls, "vm.provider")] == ["virtualbox", "libvirt"]
    assert [call["args"][0] for call in named(calls, "vm.provider.memory=")] == [2048, 2048]
    assert [call["args"][0] for call in named(calls, "vm.provider.cpus=")] == [2, 2]
