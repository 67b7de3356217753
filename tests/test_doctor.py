"""`lab doctor` names what is missing and how to get it, and exits non-zero then; the
probes' failing branches run here with the needs taken away by hand."""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest

from lab import cli, doctor


@pytest.fixture
def as_user(monkeypatch):
    """No root: the kernel probes are skipped with a reason, nothing is run."""
    monkeypatch.setattr(doctor.os, "geteuid", lambda: 1000)


def by_name(found) -> dict:
    return {name: (ok, text) for ok, name, text in found}


def test_a_missing_tool_names_its_debian_package(monkeypatch, as_user):
    real = doctor.shutil.which
    monkeypatch.setattr(doctor.shutil, "which", lambda tool: None if tool in ("tshark", "nft", "haproxy") else real(tool))
    found = by_name(doctor.diagnose())
    assert found["haproxy"] == (False, "missing (Debian package haproxy); run sudo sh scripts/setup.sh")
    assert found["redis-server"][0] is True and "database" in found["redis-server"][1]
    assert found["tshark"] == (False, "missing (Debian package tshark); run sudo sh scripts/setup.sh")
    assert found["nft"][0] is False and "Debian package nftables" in found["nft"][1]
    assert found["root"] == (False, "no: run the lab with sudo")
    assert found["kernel"][0] is False and "need root" in found["kernel"][1]


def test_a_missing_module_names_its_debian_package(monkeypatch, as_user):
    real = importlib.import_module

    def without_scapy(name, *args):
        if name == "scapy":
            raise ImportError(name)
        return real(name, *args)
    monkeypatch.setattr(doctor.importlib, "import_module", without_scapy)
    found = by_name(doctor.diagnose())
    assert found["scapy"] == (False, "missing (Debian package python3-scapy); run sudo sh scripts/setup.sh")
    assert found["mininet"][0] is True


def test_the_command_exits_3_when_something_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "diagnose", lambda: [(True, "root", "yes"), (None, "netem", "not here"),
                                                     (False, "tshark", "missing")])
    assert cli.cmd_doctor(SimpleNamespace()) == 3
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["ok", "note", "MISSING"]
    monkeypatch.setattr(doctor, "diagnose", lambda: [(True, "root", "yes"), (None, "netem", "not here")])
    assert cli.cmd_doctor(SimpleNamespace()) == 0


def test_a_probe_that_cannot_start_says_why(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("unshare")
    monkeypatch.setattr(doctor.subprocess, "run", missing)
    assert doctor._probe("true") == (False, "unshare")
