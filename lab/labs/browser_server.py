"""browser-server: three tiers, each a real server. The browser's request goes to a
haproxy load balancer, which hands it round robin to one of two web servers; the web
server asks redis for the page's text and answers.

    h1 (browser) -- lb (haproxy) --+-- web1 (Python app) --+-- db (redis-server)
                                   +-- web2 (Python app) --+
    all on s1, one subnet          topologies/tiers.py

The student writes the browser's side (an HTTP/1.1 request by hand over a socket, and
the parser of the response) and the web tier's side (a GET in redis's wire protocol,
RESP, by hand over a socket, and the parser of its reply). Every run draws its
addresses, ports, the page's path, the redis key and its value. Grading reads the
request and the command as they crossed the wire, and what haproxy and redis answered.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from lab.definition import CheckSpec, Lab, Verdict, failed, passed
from lab.exercise import DONE
from lab.grading import CONSTANT_HINT, score
from lab.labs._browser_server_cases import Drawn, draw, reply_cases, resp_mistake, response_cases
from lab.labs._browser_server_tiers import Ports, Tiers
from lab.labs._browser_server_wire import connections, read_response, request_mistake, status, whole
from lab.wire import header

TIMEOUT = 2.5

INTRO = """\
A page seen in a browser usually crosses three tiers: the browser asks a load
balancer, which passes the request to one of several web servers, which ask a
database. Each hop is its own TCP connection with its own handshake: the balancer
is a server to the browser and a client to the web servers. HTTP/1.1 is text: a
request line, headers (Host is required), an empty line. redis speaks RESP: a
command is an array of bulk strings, each with its length in bytes."""


@dataclass
class Evidence:
    """What the scenario saw; the checks read only this and the capture."""

    drawn: Drawn | None = None
    lb: str = ""
    webs: tuple[str, ...] = ()
    db: str = ""
    got: tuple[bytes, ...] = ()           # what http_get returned, call by call
    reply: bytes = b""                    # what redis_get returned
    response_cases: list = field(default_factory=list)
    reply_cases: list = field(default_factory=list)
    live_response: tuple = ()             # (raw, right parse) of one real response
    live_reply: tuple = ()
    started: dict = field(default_factory=dict)
    query_at: float = 0.0                 # when redis_get was called


def scenario(run) -> None:
    h1, lb, db = run.host("h1"), run.host("lb"), run.host("db")
    webs = (run.host("web1"), run.host("web2"))
    drawn = draw(run.rng)
    ev = run.evidence
    ev.drawn, ev.lb, ev.webs, ev.db = drawn, lb.ip, tuple(w.ip for w in webs), db.ip
    ports = Ports(drawn.lb_port, drawn.web_port, drawn.db_port)
    with run.step("Set-up: redis-server in db, the web app in web1 and web2, haproxy in lb"):
        run.introduce(h1, lb, *webs, db)
        tiers = Tiers(lb, webs, db, ports, drawn.key.encode(), drawn.value)
        tiers.__enter__()
    try:
        ev.started = dict(tiers.started)
        run.note("started and answering after: " + ", ".join(
            f"{name} {1000 * s:.0f} ms" for name, s in tiers.started.items()))
        run.note(f"this run: haproxy on {lb.ip}:{ports.lb}, web apps on port {ports.web}, "
                 f"redis on {db.ip}:{ports.db}")
        browse(run, h1, lb, drawn)
        query(run, webs[0], db, drawn)
        shown(run, ev)
    finally:
        tiers.stop()


def browse(run, h1, lb, drawn: Drawn) -> None:
    with run.step(f"The browser asks for {drawn.path} (your http_get)",
                  "A new connection to the balancer, which opens its own to a web server, which\n"
                  "opens one to redis: three TCP connections for one page, each hop between its\n"
                  "own two columns.", ladder=("h1", "lb", "web1", "web2", "db")):
        got = [ask(run, h1, lb, drawn)]
    with run.step(f"{drawn.requests - 1} more requests: haproxy takes turns (your http_get)",
                  "The same three hops each time, in the capture; here, who served each.", draw=False):
        got += [ask(run, h1, lb, drawn) for _ in range(drawn.requests - 1)]
    run.evidence.got = tuple(got)
    with run.step("The browser reads the answer (your parse_response)"):
        args, truths = response_cases(run.rng)
        raw = next((g for g in got if whole(g)), b"")
        if raw:
            right = read_response(raw)
        else:  # no whole response came back: a made-up one stands in as the live case
            (raw,), right = args.pop(), truths.pop()
            run.note("no whole response came back to h1: parse_response reads a made-up one")
        outcome = run.student("parse_response", h1, raw, extra=args)
        run.evidence.live_response = (raw, right)
        run.evidence.response_cases = [(outcome.value, outcome.status == DONE), list(outcome.cases), truths]
        run.note(f"parse_response gave {shown_parse(outcome.value)}")


def shown_parse(value) -> str:
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], dict):
        return f"status {value[0]!r}, {len(value[1])} headers, body {value[2][:60]!r}"
    return repr(value)[:120]


def named(ev: Evidence, ip: str | None) -> str:
    names = {ip: f"web{i}" for i, ip in enumerate(ev.webs, 1)}
    return f"{names[ip]} ({ip})" if ip in names else str(ip)


def ask(run, h1, lb, drawn: Drawn) -> bytes:
    """One call of the student's http_get; the reference's response where theirs did not come."""
    value = run.student("http_get", h1, lb.ip, drawn.lb_port, drawn.path, timeout=TIMEOUT).value
    served = header(value, "x-served-by") if whole(value) else None
    run.note(f"{len(value)} bytes back, status {status(value)}, served by {named(run.evidence, served)}")
    return value


def query(run, web, db, drawn: Drawn) -> None:
    with run.step(f"{web.name} asks redis for {drawn.key} (your redis_get)", ladder=(web.name, "db")):
        run.evidence.query_at = time.time()
        outcome = run.student("redis_get", web, db.ip, drawn.db_port, drawn.key, timeout=TIMEOUT)
        run.evidence.reply = outcome.value
        run.note(f"redis_get returned {outcome.value!r}")
    with run.step("The web server reads redis's reply (your parse_reply)"):
        args, truths = reply_cases(run.rng)
        live = b"$%d\r\n%s\r\n" % (len(drawn.value), drawn.value)
        outcome = run.student("parse_reply", web, live, extra=args)
        run.evidence.live_reply = (live, drawn.value)
        run.evidence.reply_cases = [(outcome.value, outcome.status == DONE), list(outcome.cases), truths]
        run.note(f"parse_reply gave {outcome.value!r}")


def shown(run, ev: Evidence) -> None:
    with run.step("Who served each request, and how long each tier took"):
        wire = run.wire()
        drawn = ev.drawn
        browser = connections(wire, ev.lb, drawn.lb_port)
        served = [header(c.answered, "x-served-by") or "?" for c in browser]
        for web in ev.webs:
            run.note(f"{named(ev, web)} served {served.count(web)} of {len(browser)} requests")
        hops = {"browser-balancer": browser,
                "balancer-web": [c for w in ev.webs for c in connections(wire, w, drawn.web_port)],
                "web-db": connections(wire, ev.db, drawn.db_port)}
        for name, found in hops.items():
            if found:
                took = sorted(1000 * (c.closed - c.opened) for c in found)
                run.note(f"{name}: {len(found)} connections, median {took[len(took) // 2]:.2f} ms "
                         "from SYN to last frame")


# --- grading: the wire and the servers' answers ---

def grade_http_get(ev: Evidence, wire) -> Verdict:
    drawn = ev.drawn
    mine = [c for c in connections(wire, ev.lb, drawn.lb_port)]
    if not mine:
        return failed("no connection reached the balancer",
                      "connect((lb_ip, port)) with the address and port your function was given")
    for conn in mine:
        if mistake := request_mistake(conn.asked, drawn.path, ev.lb):
            return failed(f"sent {conn.asked[:60]!r}", mistake)
    codes = [status(c.answered) for c in mine]
    if any(code != 200 for code in codes):
        return failed(f"haproxy answered {codes}", "see the balancer's answer: the request was not understood")
    for conn, got in zip(mine, ev.got):
        if got != conn.answered:
            return failed(f"returned {len(got)} bytes; haproxy sent {len(conn.answered)}",
                          "read until recv() returns b'' (the server closes): one recv() may hold only "
                          "part of the response")
    return passed(f"{len(mine)} requests, each `GET {drawn.path} HTTP/1.1` with Host and an empty line; "
                  "haproxy answered 200 and you returned the whole response")


def same_response(value, truth) -> bool:
    return (isinstance(value, tuple) and len(value) == 3 and value[0] == truth[0] and value[2] == truth[2]
            and {str(k).lower(): v for k, v in value[1].items()} == truth[1])


def grade_parse(case_list, live, label: str, hints, same=lambda a, b: a == b) -> Verdict:
    (value, done), cases, truths = case_list
    right = done and same(value, live[1])
    result = score(right, tuple(cases), truths, same)
    if result.wrong is None:
        return passed(f"{label}: {result.right}/{result.total} cases right, {len(truths)} hidden")
    index, got, want = result.wrong
    case = live[0] if index == 0 else None
    detail = f"case {index}: gave {got!r}, wanted {want!r}"[:150]
    if result.constant:
        return failed(detail, CONSTANT_HINT)
    for test, hint in hints:
        if test(got, want, case):
            return failed(detail, hint)
    return failed(detail, hints[-1][1])


def grade_parse_response(ev: Evidence, wire) -> Verdict:
    hints = [
        (lambda got, want, _: isinstance(got, tuple) and len(got) == 3 and len(got[2]) > len(want[2]),
         "read exactly Content-Length bytes of body: what follows them is not this response's"),
        (lambda got, want, _: isinstance(got, tuple) and len(got) == 3 and len(got[2]) < len(want[2]),
         "split the head from the body at the first \\r\\n\\r\\n only: the body may hold an empty line"),
        (lambda got, want, _: isinstance(got, tuple) and len(got) == 3 and got[1] != want[1],
         "headers: name before the first ':', value stripped of spaces, names in lower case"),
        (lambda *_: True, "the status code is the second word of the status line, as an int"),
    ]
    return grade_parse(ev.response_cases, ev.live_response, "parse_response", hints, same_response)


def grade_redis_get(ev: Evidence, wire) -> Verdict:
    drawn = ev.drawn
    # the web apps' own queries came earlier, in the browser's step
    mine = [c for c in connections(wire, ev.db, drawn.db_port) if c.opened >= ev.query_at]
    if not mine:
        return failed("no connection reached redis from your redis_get",
                      "nothing reached redis: connect((db_ip, port)) with the address and port your "
                      "function was given, send the command, and return what redis answers")
    conn = mine[0]
    if mistake := resp_mistake(conn.asked, drawn.key):
        answer = conn.answered[:50] or b"nothing"
        return failed(f"sent {conn.asked[:60]!r}; redis answered {answer!r}", mistake)
    if ev.reply != conn.answered:
        return failed(f"returned {ev.reply!r}; redis sent {conn.answered!r}",
                      "return every byte of redis's reply: read until you have the whole bulk string")
    return passed(f"sent an array of two bulk strings; redis answered {conn.answered!r}")


def grade_parse_reply(ev: Evidence, wire) -> Verdict:
    hints = [
        (lambda got, want, _: want is None, "$-1 is nil, redis's answer for a missing key: return None"),
        (lambda got, want, _: isinstance(got, bytes) and want is not None and b"\r\n" in want,
         "read as many bytes as the length prefix says: a bulk string may hold \\r\\n"),
        (lambda *_: True, "a bulk string is $<length>\\r\\n<bytes>\\r\\n: return the bytes, without the framing"),
    ]
    return grade_parse(ev.reply_cases, ev.live_reply, "parse_reply", hints)


LAB = Lab(
    name="browser-server",
    title="Three tiers: a browser, haproxy, two web servers and redis",
    topology="tiers",
    exercise="browser_server",
    todos=("http_get", "parse_response", "redis_get", "parse_reply"),
    returns={"http_get": bytes, "parse_response": tuple[int, dict[str, str], bytes],
             "redis_get": bytes, "parse_reply": bytes | None},
    checks=(
        CheckSpec("http-request", "http_get", "the browser's HTTP/1.1 request, answered by haproxy",
                  grade_http_get),
        CheckSpec("http-parse", "parse_response", "status, headers and a body by Content-Length",
                  grade_parse_response),
        CheckSpec("resp-command", "redis_get", "a GET in RESP that redis answers", grade_redis_get),
        CheckSpec("resp-parse", "parse_reply", "a bulk string read by its length, nil as None",
                  grade_parse_reply),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
