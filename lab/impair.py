"""Impairing a link for an experiment: random loss with nft, and netem where it exists.

Loss is an nft rule at the receiving host's door (its input hook) that drops a random
share of the packets matching an expression (`numgen random mod 100 < N`), with a
counter, so the lab can say how many packets the "network" really lost. It is removed
when the experiment ends, and in any case with the host's namespace.

Delay, reordering and duplication need netem, a queueing discipline some kernels are
built without. `netem_missing` probes it for real, by adding one to a host's interface
and removing it again; a lab reports an impairment it could not apply as skipped,
never fakes it.
"""
from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

from .errors import SetupError
from .firewall import TABLE
from .netns import entered

NO_NETEM = "skipped: this kernel has no netem"


def tc(host, *arguments: str) -> str:
    """Run tc inside host's namespace: '' if it worked, else its complaint (one line)."""
    try:
        with entered(host.netns):
            done = subprocess.run(["tc", *arguments], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        return "tc is missing (Debian package iproute2)"
    if done.returncode == 0:
        return ""
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"tc exited with {done.returncode}"


def netem_missing(host) -> str:
    """'' if a netem qdisc can be put on host's interface (tried, then removed), else why not."""
    problem = tc(host, "qdisc", "add", "dev", host.interface, "root", "netem", "delay", "10ms")
    if not problem:
        tc(host, "qdisc", "del", "dev", host.interface, "root")
    return problem


@contextlib.contextmanager
def netem(host, options: str) -> Iterator[None]:
    """netem with options ('delay 10ms reorder 25%') on what host sends, for the block."""
    if not options:
        yield
        return
    problem = tc(host, "qdisc", "add", "dev", host.interface, "root", "netem", *options.split())
    if problem:
        raise SetupError(f"netem {options} on {host.interface}: {problem}")
    try:
        yield
    finally:
        tc(host, "qdisc", "del", "dev", host.interface, "root")


def nft(host, script: str) -> None:
    """Run an nft script inside host's namespace (for what Firewall.add cannot say)."""
    with entered(host.netns):
        done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise SetupError(f"nft failed: {done.stderr.strip()}")


class Loss:
    """A random-loss rule at a host's door; dropped() reads its counter."""

    def __init__(self, host, name: str, rule: str):
        self.host, self.name, self.rule = host, name, rule
        self.final: int | None = None  # the counter when the rule was removed

    def dropped(self) -> int:
        return self.final if self.final is not None else self.host.firewall.dropped(self.name)


def loss_rule(match: str, percent: int, first_only: str = "", seen: str = "") -> str:
    """The nft expression of random loss; with first_only (a field, like 'tcp sequence'),
    only packets whose value of that field the rule has not seen before may be dropped."""
    once = f"{first_only} != @{seen} add @{seen} {{ {first_only} }} " if first_only else ""
    return f"{match} {once}numgen random mod 100 < {percent}"


@contextlib.contextmanager
def random_loss(host, name: str, match: str, percent: int, first_only: str = "") -> Iterator[Loss]:
    """Drop about percent % of the packets matching match at host's door, for the block.

    first_only='tcp sequence' spares retransmissions: a segment whose sequence number
    already went past the rule passes, so a loss never strikes the same bytes twice
    (each would cost TCP a retransmission timeout of at least 200 ms).
    """
    seen = "seen_" + name.replace("-", "_")
    if first_only:
        nft(host, f"add table inet {TABLE}\n"
                  f"add set inet {TABLE} {seen} {{ typeof {first_only}; size 65535; flags dynamic; }}\n")
    rule = loss_rule(match, percent, first_only, seen)
    host.firewall.add(name, "input", rule)
    loss = Loss(host, name, rule + " counter drop")
    try:
        yield loss
    finally:
        try:
            loss.final = host.firewall.dropped(name)
        finally:
            host.firewall.remove(name)
            if first_only:
                nft(host, f"delete set inet {TABLE} {seen}\n")
