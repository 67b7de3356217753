"""client-server's drawn inputs: the requests each client sends, each with the reply the
protocol demands, known by construction (the lab picks the numbers and words, so it
knows their sum, their capitals and their length without asking any server).

The protocol, one line each way, every line ending in a newline:

    ADD a b     ->  OK <a+b>          a, b whole numbers
    UPPER word  ->  OK <WORD>
    LEN word    ->  OK <number of letters>
    QUIT        ->  BYE               and the server closes the connection
    anything else (unknown command, missing or extra argument, a word where a
    number belongs)  ->  ERR malformed
"""
from __future__ import annotations

import string
from dataclasses import dataclass

ERROR = "ERR malformed"
QUIT, BYE = "QUIT", "BYE"
UNKNOWN = ("MUL", "DEL", "PING", "HELLO", "SUB")
MALFORMED_KINDS = ("unknown command", "missing argument", "word for a number", "extra argument")


@dataclass(frozen=True)
class Script:
    """One client's requests with the replies they must draw; `bad` is the index of the
    malformed one and `kind` says how it is malformed."""

    requests: tuple[str, ...] = ()
    truths: tuple[str, ...] = ()
    bad: int = -1
    kind: str = ""


def word(rng, low: int = 3, high: int = 8) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high)))


def good(rng) -> tuple[str, str]:
    """A well-formed request and its reply."""
    command = rng.choice(("ADD", "UPPER", "LEN"))
    if command == "ADD":
        a, b = rng.randrange(1000), rng.randrange(1000)
        return f"ADD {a} {b}", f"OK {a + b}"
    text = word(rng)
    return f"{command} {text}", f"OK {text.upper()}" if command == "UPPER" else f"OK {len(text)}"


def malformed(rng) -> tuple[str, str]:
    """(a malformed request, how it is malformed)."""
    kind = rng.choice(MALFORMED_KINDS)
    if kind == "unknown command":
        return f"{rng.choice(UNKNOWN)} {rng.randrange(100)} {rng.randrange(100)}", kind
    if kind == "missing argument":
        return rng.choice((f"ADD {rng.randrange(1000)}", "UPPER", "LEN")), kind
    if kind == "word for a number":
        return f"ADD {rng.randrange(1000)} {word(rng)}", kind
    return rng.choice((f"UPPER {word(rng)} {word(rng)}", f"LEN {word(rng)} {word(rng)}")), kind


def script(rng, count: int = 4) -> Script:
    """count requests, one of them malformed at a drawn place (never the first, so a
    server that crashes on it has already answered something)."""
    pairs = [good(rng) for _ in range(count - 1)]
    bad = rng.randrange(1, count)
    request, kind = malformed(rng)
    pairs.insert(bad, (request, ERROR))
    return Script(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), bad, kind)


@dataclass(frozen=True)
class Drawn:
    solo_port: int
    crowd_port: int
    solo: Script
    crowd: tuple[Script, ...]


def draw(rng, clients: int = 3) -> Drawn:
    solo_port = rng.randrange(20000, 40000)
    crowd_port = solo_port + rng.randrange(1, 1000)
    return Drawn(solo_port, crowd_port, script(rng), tuple(script(rng) for _ in range(clients)))
