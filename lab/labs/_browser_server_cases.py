"""browser-server's drawn inputs and hidden cases, each made with its answer.

An HTTP response is made from its status, headers and body, and a redis reply from
its value, so the right parse of each is known before anyone parses it. The cases aim
at the typical mistakes: a body holding an empty line (split on \\r\\n\\r\\n only
once), bytes after the body (read Content-Length, not to the end), header names in
mixed case with spaces around values, a bulk string holding \\r\\n (use its length
prefix), the empty string and nil."""
from __future__ import annotations

import random
from dataclasses import dataclass

REASONS = {200: "OK", 201: "Created", 301: "Moved Permanently", 404: "Not Found", 503: "Service Unavailable"}
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango", "zulu")
NAMES = ("Content-Type", "X-Served-By", "Cache-Control", "Server", "X-Trace", "ETag")


@dataclass(frozen=True)
class Drawn:
    """What one run asks for: ports, the page's path, the redis key and its value."""

    lb_port: int
    web_port: int
    db_port: int
    path: str
    key: str
    value: bytes
    requests: int


def draw(rng: random.Random) -> Drawn:
    ports = rng.sample(range(8000, 9000), 2)
    word, number = rng.choice(WORDS), rng.randrange(10, 1000)
    value = f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{rng.randrange(100, 10000)}".encode()
    return Drawn(ports[0], ports[1], rng.randrange(6300, 6400), f"/{word}/{number}",
                 f"page:{word}:{number}", value, 4)


def word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randrange(3, 10)))


def response_case(rng: random.Random, body: bytes, after: bytes) -> tuple[bytes, tuple]:
    """An HTTP/1.1 response with its parse: (status, {lower-case name: value}, body)."""
    code = rng.choice(list(REASONS))
    names = rng.sample(NAMES, rng.randrange(1, 4))
    headers = {name: word(rng) for name in names}
    lines = [f"HTTP/1.1 {code} {REASONS[code]}"]
    for name, value in headers.items():
        shown = name.lower() if rng.random() < 0.5 else name.upper()
        lines.append(f"{shown}:{' ' * rng.randrange(0, 3)}{value}")
    lines.insert(rng.randrange(1, len(lines) + 1), f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body + after
    truth = {name.lower(): value for name, value in headers.items()} | {"content-length": str(len(body))}
    return raw, (code, truth, body)


def response_cases(rng: random.Random) -> tuple[list[tuple], list]:
    """Hidden cases for parse_response: argument tuples and their answers."""
    bodies = [
        (b"first line\r\n\r\nsecond part after an empty line\n", b""),
        (word(rng).encode() * 3, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),  # the next response
        (b"", b""),
        (bytes(rng.randrange(256) for _ in range(rng.randrange(5, 40))), b"trailing"),
    ]
    made = [response_case(rng, body, after) for body, after in bodies]
    rng.shuffle(made)
    return [(raw,) for raw, _ in made], [truth for _, truth in made]


def reply_cases(rng: random.Random) -> tuple[list[tuple], list]:
    """Hidden cases for parse_reply: (raw,) and the value (None for nil)."""
    values = [f"{word(rng)}\r\n{word(rng)}".encode(), b"", None, word(rng).encode() * 4,
              str(rng.randrange(10, 99999)).encode()]
    made = [(b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v), v) for v in values]
    rng.shuffle(made)
    return [(raw,) for raw, _ in made], [value for _, value in made]


def resp_mistake(sent: bytes, key: str) -> str | None:
    """What is wrong with a GET command as it crossed the wire, or None.

    Judged against RESP's grammar: an array (*2) of two bulk strings ($len), each
    length prefix the number of bytes that follow it. The key never holds \\r\\n."""
    if not sent:
        return "nothing reached redis: connect((db_ip, port)) and sendall() the command"
    if sent.upper().startswith(b"GET "):
        return ("that is redis's inline form, for people typing; a client sends an array of bulk "
                "strings: *2\\r\\n$3\\r\\nGET\\r\\n$<len>\\r\\n<key>\\r\\n")
    tokens = sent.split(b"\r\n")
    if tokens[-1] != b"" or len(tokens) != 6:
        return "RESP frames every element with \\r\\n, the last one too: *2, $3, GET, $<len>, <key>"
    if tokens[0] != b"*2":
        return f"an array of two elements starts with *2; it started with {tokens[0][:10]!r}"
    for prefix, element in ((tokens[1], tokens[2]), (tokens[3], tokens[4])):
        if not prefix.startswith(b"$") or not prefix[1:].isdigit():
            return f"each bulk string starts with $<length>; found {prefix[:10]!r}"
        if int(prefix[1:]) != len(element):
            return (f"the length prefix {prefix.decode()} does not match {element[:30]!r}, which has "
                    f"{len(element)} bytes: count the bytes of the string, without its \\r\\n")
    if tokens[2].upper() != b"GET" or tokens[4] != key.encode():
        return f"send GET and the key you were given ({key!r}); sent {tokens[2]!r} {tokens[4]!r}"
    return None
