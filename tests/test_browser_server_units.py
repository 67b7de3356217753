"""browser-server's grading without a network: the request and the RESP command as
they would cross the wire, right and with each typical mistake; the made-up cases
against their construction; each check's grade function on a hand-made capture or
on hand-made results, the right answer passing and each typical wrong one failing
with its hint; and a missing server program ending with exit 3 and the set-up command."""
from __future__ import annotations

import random

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.errors import SetupError
from lab.labs import _browser_server_tiers as tiers
from lab.labs._browser_server_cases import Drawn, reply_cases, resp_mistake, response_cases
from lab.labs._browser_server_wire import read_response, request_mistake, whole
from lab.labs.browser_server import (Evidence, grade_http_get, grade_parse_reply, grade_parse_response,
                                     grade_redis_get)
from lab.wire import Wire

PATH, LB, H1, WEB, DB = "/kilo/42", "10.1.2.3", "10.1.2.9", "10.1.2.4", "10.1.2.5"
KEY, VALUE = "page:kilo:42", b"tango lima #77"
DRAWN = Drawn(8080, 8181, 6379, PATH, KEY, VALUE, 1)
REQUEST = f"GET {PATH} HTTP/1.1\r\nHost: {LB}\r\nConnection: close\r\n\r\n".encode()
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Served-By: 10.1.2.4\r\n\r\nhello"
COMMAND = b"*2\r\n$3\r\nGET\r\n$12\r\npage:kilo:42\r\n"
REPLY = b"$14\r\ntango lima #77\r\n"


# --- the request and the command, judged by their grammar ---

@pytest.mark.parametrize("request_bytes, hint", [
    (REQUEST, None),
    (REQUEST.replace(b"\r\n\r\n", b"\r\n"), "must end with an empty line"),
    (REQUEST.replace(f"Host: {LB}\r\n".encode(), b""), "requires a Host: header"),
    (REQUEST.replace(b"\r\n", b"\n"), "not a bare \\n"),
    (REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"), "the request line must be"),
    (REQUEST.replace(PATH.encode(), b"/"), "the request line must be"),
    (b"", "nothing reached the balancer"),
])
def test_request_mistakes(request_bytes, hint):
    found = request_mistake(request_bytes, PATH, LB)
    assert (found is None) if hint is None else (hint in found)


@pytest.mark.parametrize("command, hint", [
    (COMMAND, None),
    (COMMAND.replace(b"$12", b"$14"), "the length prefix $14 does not match"),
    (COMMAND.replace(b"$3", b"$4"), "the length prefix $4 does not match"),
    (f"GET {KEY}\r\n".encode(), "inline form"),
    (COMMAND[:-2], "the last one too"),
    (COMMAND.replace(b"*2", b"*3"), "starts with *2"),
    (COMMAND.replace(b"$12", b"12"), "starts with $<length>"),
    (COMMAND.replace(b"GET", b"SET"), "send GET and the key"),
    (b"", "nothing reached redis"),
])
def test_resp_mistakes(command, hint):
    found = resp_mistake(command, KEY)
    assert (found is None) if hint is None else (hint in found)


# --- the made-up cases hold their construction ---

def test_response_cases_are_whole_and_end_with_their_body():
    args, truths = response_cases(random.Random(3))
    assert len(args) == len(truths) == 4
    for (raw,), (code, headers, body) in zip(args, truths):
        assert whole(raw) and raw.startswith(f"HTTP/1.1 {code} ".encode())
        assert headers["content-length"] == str(len(body)) and all(k == k.lower() for k in headers)
        assert body in raw and raw.index(b"\r\n\r\n") < raw.index(body) if body else True
    assert any(b"\r\n\r\n" in t[2] for t in truths)  # a body holding an empty line
    assert any(raw.count(b"HTTP/1.1") == 2 for (raw,) in args)  # bytes after the body


def test_reply_cases_frame_their_value():
    args, truths = reply_cases(random.Random(5))
    assert None in truths and b"" in truths and any(t and b"\r\n" in t for t in truths)
    for (raw,), value in zip(args, truths):
        assert raw == (b"$-1\r\n" if value is None else b"$" + str(len(value)).encode() + b"\r\n" + value + b"\r\n")


def test_read_response_takes_content_length_bytes():
    assert read_response(RESPONSE + b"extra") == (200, {"content-length": "5", "x-served-by": WEB}, b"hello")
    assert not whole(RESPONSE[:-1]) and not whole(b"HTTP/1.1 200 OK\r\n")


# --- grade functions on a hand-made capture ---

def conversation(client: tuple[str, int], server: tuple[str, int], asked: bytes, answered: bytes,
                 start: float) -> list[Frame]:
    (cip, cport), (sip, sport) = client, server
    out = lambda flags, seq, ack, data=b"": Ether() / IP(src=cip, dst=sip) / TCP(
        sport=cport, dport=sport, flags=flags, seq=seq, ack=ack) / data
    back = lambda flags, seq, ack, data=b"": Ether() / IP(src=sip, dst=cip) / TCP(
        sport=sport, dport=cport, flags=flags, seq=seq, ack=ack) / data
    packets = [out("S", 100, 0), back("SA", 500, 101), out("A", 101, 501), out("PA", 101, 501, asked),
               back("PA", 501, 101 + len(asked), answered), back("FA", 501 + len(answered), 101 + len(asked)),
               out("FA", 101 + len(asked), 502 + len(answered))]
    return [Frame(start + i / 1000, "s1-eth1", bytes(p)) for i, p in enumerate(packets)]


def browser_wire(asked: bytes, answered: bytes = RESPONSE) -> Wire:
    return Wire(conversation((H1, 40000), (LB, DRAWN.lb_port), asked, answered, 10.0))


def evidence(**fields) -> Evidence:
    ev = Evidence(drawn=DRAWN, lb=LB, webs=(WEB, "10.1.2.6"), db=DB, got=(RESPONSE,), reply=REPLY,
                  query_at=20.0)
    for key, value in fields.items():
        setattr(ev, key, value)
    return ev


def test_http_get_right_passes():
    verdict = grade_http_get(evidence(), browser_wire(REQUEST))
    assert verdict.status == PASS and PATH in verdict.detail


@pytest.mark.parametrize("asked, answered, got, hint", [
    (REQUEST.replace(b"\r\n\r\n", b"\r\n"), b"", b"", "must end with an empty line"),
    (REQUEST.replace(f"Host: {LB}\r\n".encode(), b""), b"HTTP/1.1 400 Bad", b"", "requires a Host: header"),
    (REQUEST, RESPONSE, RESPONSE[:20], "read until recv() returns b''"),
    (REQUEST, b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", b"", "not understood"),
])
def test_http_get_mistakes(asked, answered, got, hint):
    verdict = grade_http_get(evidence(got=(got,)), browser_wire(asked, answered))
    assert verdict.status == FAIL and hint in verdict.hint


def test_http_get_without_any_connection_fails():
    assert "connect((lb_ip, port))" in grade_http_get(evidence(), Wire([])).hint


def redis_wire(asked: bytes, answered: bytes, start: float = 21.0) -> Wire:
    return Wire(conversation((WEB, 41000), (DB, DRAWN.db_port), asked, answered, start))


def test_redis_get_right_passes():
    assert grade_redis_get(evidence(), redis_wire(COMMAND, REPLY)).status == PASS


@pytest.mark.parametrize("asked, answered, reply, hint", [
    (COMMAND.replace(b"$12", b"$13"), b"", b"", "the length prefix $13"),
    (f"GET {KEY}\r\n".encode(), REPLY, REPLY, "inline form"),
    (COMMAND, REPLY, REPLY[:6], "return every byte"),
])
def test_redis_get_mistakes(asked, answered, reply, hint):
    verdict = grade_redis_get(evidence(reply=reply), redis_wire(asked, answered))
    assert verdict.status == FAIL and hint in verdict.hint


def test_redis_get_made_up_reply_fails():
    """A reply returned without asking: the only connection to redis is the web app's, earlier."""
    verdict = grade_redis_get(evidence(reply=b"$5\r\nhello\r\n"), redis_wire(COMMAND, REPLY, start=5.0))
    assert verdict.status == FAIL and "nothing reached redis" in verdict.hint


# --- the parsers on hand-made results ---

def test_parse_response_right_and_typical_wrong():
    args, truths = response_cases(random.Random(8))
    live_truth = read_response(RESPONSE)
    ev = evidence(response_cases=[(live_truth, True), [("done", t) for t in truths], truths],
                  live_response=(RESPONSE, live_truth))
    assert grade_parse_response(ev, Wire([])).status == PASS
    to_end = [(t[0], t[1], raw[raw.index(b"\r\n\r\n") + 4:]) for (raw,), t in zip(args, truths)]
    ev.response_cases = [(live_truth, True), [("done", v) for v in to_end], truths]
    verdict = grade_parse_response(ev, Wire([]))
    assert verdict.status == FAIL and "exactly Content-Length bytes" in verdict.hint
    ev.response_cases = [(live_truth, True), [("done", (200, {}, b"")) for _ in truths], truths]
    assert grade_parse_response(ev, Wire([])).status == FAIL


def test_parse_reply_right_and_typical_wrong():
    args, truths = reply_cases(random.Random(9))
    ev = evidence(reply_cases=[(VALUE, True), [("done", t) for t in truths], truths], live_reply=(REPLY, VALUE))
    assert grade_parse_reply(ev, Wire([])).status == PASS
    split = [None if raw == b"$-1\r\n" else raw.split(b"\r\n")[1] for (raw,) in args]
    ev.reply_cases = [(VALUE, True), [("done", v) for v in split], truths]
    verdict = grade_parse_reply(ev, Wire([]))
    assert verdict.status == FAIL and "as many bytes as the length prefix" in verdict.hint
    nil = [b"" if t is None else t for t in truths]
    ev.reply_cases = [(VALUE, True), [("done", v) for v in nil], truths]
    verdict = grade_parse_reply(ev, Wire([]))
    assert verdict.status == FAIL and "return None" in verdict.hint
    ev.reply_cases = [(VALUE, True), [("done", VALUE) for _ in truths], truths]
    assert grade_parse_reply(ev, Wire([])).status == FAIL


def test_a_missing_server_program_is_a_setup_error(monkeypatch):
    monkeypatch.setattr(tiers.shutil, "which", lambda name: None if name == "haproxy" else "/usr/bin/" + name)
    with pytest.raises(SetupError) as raised:
        tiers.require()
    assert raised.value.exit_code == 3 and "scripts/setup.sh" in str(raised.value) and "haproxy" in str(raised.value)
