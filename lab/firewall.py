"""nftables rules in one host's namespace, in a table of the lab's own.

Labs use them to keep a host's kernel quiet (h1 must not reset a connection our
code crafted), to hold back a chosen segment, or to drop one on purpose. Every rule
is named by its comment; close() deletes the whole table, and the table dies with the
host's namespace in any case.
"""
from __future__ import annotations

import json
import subprocess

from .errors import SetupError
from .netns import entered

TABLE = "lab"
HOOKS = {"input": "input", "output": "output"}


class Firewall:
    def __init__(self, netns_path: str):
        self.netns = netns_path
        self.chains: set[str] = set()

    def _nft(self, *arguments: str, script: str | None = None) -> str:
        command = ["nft", *arguments] if script is None else ["nft", "-f", "-"]
        try:
            with entered(self.netns):  # nft, forked from here, works in the host's namespace
                done = subprocess.run(command, input=script, capture_output=True, text=True, timeout=10)
        except FileNotFoundError:
            raise SetupError("nft is missing (Debian package nftables); run: sudo sh scripts/setup.sh") from None
        if done.returncode != 0:
            raise SetupError(f"nft failed: {done.stderr.strip().splitlines()[-1] if done.stderr else command}")
        return done.stdout

    def add(self, name: str, hook: str, match: str) -> None:
        """Drop packets matching an nft expression at hook ('input' or 'output')."""
        lines = [f"add table inet {TABLE}"]
        if hook not in self.chains:
            lines.append(f"add chain inet {TABLE} {hook} {{ type filter hook {HOOKS[hook]} priority -10; }}")
            self.chains.add(hook)
        lines.append(f'add rule inet {TABLE} {hook} {match} counter drop comment "{name}"')
        self._nft(script="\n".join(lines) + "\n")

    def _rules(self) -> list[dict]:
        if not self.chains:
            return []
        listing = json.loads(self._nft("-j", "list", "table", "inet", TABLE))
        return [item["rule"] for item in listing["nftables"] if "rule" in item]

    def dropped(self, name: str) -> int:
        """How many packets the rule called name has dropped so far."""
        for rule in self._rules():
            if rule.get("comment") == name:
                return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
        return 0

    def remove(self, name: str) -> None:
        for rule in self._rules():
            if rule.get("comment") == name:
                self._nft("delete", "rule", "inet", TABLE, rule["chain"], "handle", str(rule["handle"]))

    def close(self) -> None:
        """Delete the lab's table; quietly, since the namespace may be gone already."""
        if self.chains:
            try:
                self._nft("delete", "table", "inet", TABLE)
            except (SetupError, OSError):
                pass
            self.chains.clear()
