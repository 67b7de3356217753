"""nftables rules in one host's namespace, in a table of the lab's own.

Labs use them to keep a host's kernel quiet (h1 must not reset a connection our
code crafted), to hold back a chosen segment, or to drop one on purpose. Every rule
is named by its comment; close() deletes the whole table, and the table dies with the
host's namespace in any case.

The rules go through libnftables (Debian's python3-nftables), in process: its
netlink socket is opened inside the host's namespace, so no `nft` process is started
per rule. Tables, chains, listings and deletions are said in its JSON API; a rule's
match stays in nft's own words, which is what labs write.
"""
from __future__ import annotations

from .errors import SetupError
from .netns import entered

TABLE = "lab"
HOOKS = {"input": "input", "output": "output"}
MISSING = ("the Python package nftables is missing (Debian package python3-nftables); "
           "run: sudo sh scripts/setup.sh")


class Firewall:
    def __init__(self, netns_path: str):
        self.netns = netns_path
        self.chains: set[str] = set()
        self._nft = None  # libnftables context, bound to the host's namespace on first use

    def _context(self):
        if self._nft is None:
            try:
                import nftables
            except ImportError:
                raise SetupError(MISSING) from None
            with entered(self.netns):  # its netlink socket belongs to the host's namespace
                self._nft = nftables.Nftables()
        return self._nft

    def run(self, script: str) -> None:
        """Run nft commands, in nft's own syntax, in the host's namespace."""
        nft = self._context()
        with entered(self.netns):
            rc, _, error = nft.cmd(script)
        if rc != 0:
            raise SetupError(f"nft failed: {_first_line(error) or script.strip()}")

    def _json(self, *commands: dict) -> dict:
        nft = self._context()
        with entered(self.netns):
            rc, output, error = nft.json_cmd({"nftables": list(commands)})
        if rc != 0:
            raise SetupError(f"nft failed: {_first_line(error) or commands}")
        return output or {}

    def add(self, name: str, hook: str, match: str) -> None:
        """Drop packets matching an nft expression at hook ('input' or 'output')."""
        if hook not in self.chains:
            self._json({"add": {"table": {"family": "inet", "name": TABLE}}},
                       {"add": {"chain": {"family": "inet", "table": TABLE, "name": hook, "type": "filter",
                                          "hook": HOOKS[hook], "prio": -10, "policy": "accept"}}})
            self.chains.add(hook)
        self.run(f'add rule inet {TABLE} {hook} {match} counter drop comment "{name}"\n')

    def _rules(self) -> list[dict]:
        if not self.chains:
            return []
        listing = self._json({"list": {"table": {"family": "inet", "name": TABLE}}})
        return [item["rule"] for item in listing.get("nftables", []) if "rule" in item]

    def dropped(self, name: str) -> int:
        """How many packets the rule called name has dropped so far."""
        for rule in self._rules():
            if rule.get("comment") == name:
                return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
        return 0

    def remove(self, name: str) -> None:
        for rule in self._rules():
            if rule.get("comment") == name:
                self._json({"delete": {"rule": {"family": "inet", "table": TABLE, "chain": rule["chain"],
                                                "handle": rule["handle"]}}})

    def close(self) -> None:
        """Delete the lab's table; quietly, since it or the namespace may be gone already."""
        if self._nft is not None:
            try:
                self._json({"delete": {"table": {"family": "inet", "name": TABLE}}})
            except (SetupError, OSError):
                pass
            self._nft = None  # frees the context and its socket
        self.chains.clear()


def _first_line(text: str) -> str:
    """nft's complaint without the echoed command and the carets under it."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
