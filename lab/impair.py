"""Impairing a link for an experiment: random loss with nft, and netem where it exists.

Loss is an nft rule at the receiving host's door (its input hook) that drops a random
share of the packets matching an expression (`numgen random mod 100 < N`), with a
counter, so the lab can say how many packets the "network" really lost. It is removed
when the experiment ends, and in any case with the host's namespace.

Delay, reordering and duplication need netem, a queueing discipline some kernels are
built without. It is set over netlink (pyroute2's tc) from tc-netem's own words, and
`netem_missing` probes it for real, by adding one to a host's interface and removing
it again. A kernel without netem answers ENOENT ("Specified qdisc kind is unknown");
any other refusal is a fault, not a missing feature. A lab reports an impairment it
could not apply as skipped, never fakes it.
"""
from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Iterator

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.tcmsg.common import percent2u32

from .errors import SetupError
from .firewall import TABLE

NO_NETEM = "skipped: this kernel has no netem"
PROBE = "delay 10ms"

TIME = re.compile(r"^(\d+(?:\.\d+)?)(us|usec|ms|msec|s|sec)?$")
MICROSECONDS = {None: 1, "us": 1, "usec": 1, "ms": 1000, "msec": 1000, "s": 1_000_000, "sec": 1_000_000}
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%?$")
RATE = re.compile(r"^\d+(?:bit|kbit|mbit|gbit|Kibit|mibit|gibit|bps|Bps|KBps|MBps)?$")
# tc-netem's words: each keyword with the values it takes, required first, then optional.
NETEM_WORDS = {
    "delay": (("delay", "time"), ("jitter", "time?"), ("delay_corr", "percent?")),
    "loss": (("loss", "percent"), ("loss_corr", "percent?")),
    "duplicate": (("duplicate", "percent"), ("dup_corr", "percent?")),
    "reorder": (("prob_reorder", "percent"), ("corr_reorder", "percent?")),
    "corrupt": (("prob_corrupt", "percent"), ("corr_corrupt", "percent?")),
    "gap": (("gap", "count"),),
    "limit": (("limit", "count"),),
    "rate": (("rate", "rate"),),
}


def _value(kind: str, word: str):
    """word as a value of kind (microseconds, percent, count, rate), or None."""
    if kind == "time" and (match := TIME.match(word)):
        return int(float(match[1]) * MICROSECONDS[match[2]])
    if kind == "percent" and (match := PERCENT.match(word)):
        return float(match[1])
    if kind == "count" and word.isdigit():
        return int(word)
    if kind == "rate" and RATE.match(word):
        return word
    return None


def netem_arguments(options: str) -> dict:
    """tc-netem's options ('delay 10ms reorder 25% duplicate 2%') as pyroute2's netem
    arguments: times in microseconds, percentages as numbers."""
    words = options.split()
    arguments: dict = {}
    while words:
        keyword = words.pop(0)
        if keyword not in NETEM_WORDS:
            raise SetupError(f"netem {options}: unknown word {keyword!r}; "
                             f"known: {', '.join(NETEM_WORDS)}")
        if keyword == "loss" and words[:1] == ["random"]:
            words.pop(0)
        for name, kind in NETEM_WORDS[keyword]:
            value = _value(kind.rstrip("?"), words[0]) if words else None
            if value is None:
                if kind.endswith("?"):
                    break
                raise SetupError(f"netem {options}: {keyword} needs a {kind} after it")
            arguments[name] = value
            words.pop(0)
    if "gap" in arguments and "prob_reorder" not in arguments:
        raise SetupError(f"netem {options}: gap goes with reorder")
    # pyroute2 converts the other percentages itself, but passes this one on as it is.
    if "duplicate" in arguments:
        arguments["duplicate"] = percent2u32(arguments["duplicate"])
    return arguments


class NetemMissing(Exception):
    """The kernel has no netem queueing discipline."""


def _add_netem(host, options: str) -> None:
    arguments = netem_arguments(options)
    try:
        host.kernel.set_qdisc(host.interface, "netem", **arguments)
    except NetlinkError as exc:
        reason = exc.args[1] if len(exc.args) > 1 else str(exc)
        if exc.code == errno.ENOENT:  # at the root, only an unknown kind is not found
            raise NetemMissing(reason) from None
        raise SetupError(f"netem {options} on {host.interface}: {reason}") from None


def _remove_netem(host) -> None:
    with contextlib.suppress(NetlinkError, LookupError, OSError):
        host.kernel.delete_qdisc(host.interface)


def netem_missing(host) -> str:
    """'' if a netem qdisc can be put on host's interface (tried, then removed), else why
    not, as the kernel says it. Any other refusal raises SetupError."""
    try:
        _add_netem(host, PROBE)
    except NetemMissing as exc:
        return str(exc)
    _remove_netem(host)
    return ""


@contextlib.contextmanager
def netem(host, options: str) -> Iterator[None]:
    """netem with options ('delay 10ms reorder 25%') on what host sends, for the block."""
    if not options:
        yield
        return
    try:
        _add_netem(host, options)
    except NetemMissing as exc:
        raise SetupError(f"netem {options} on {host.interface}: {exc}") from None
    try:
        yield
    finally:
        _remove_netem(host)


def nft(host, script: str) -> None:
    """Run an nft script inside host's namespace (for what Firewall.add cannot say)."""
    host.firewall.run(script)


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
