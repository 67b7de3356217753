"""client-server's grading of the server and the client from the capture: each
connection's lines against the replies the drawn requests demand."""
from __future__ import annotations

from lab.definition import Verdict, blocked, failed, passed
from lab.labs._client_server_draw import BYE, ERROR, QUIT
from lab.labs._client_server_wire import Connection, connections, one_line_each, waited

STOPPED = ("your server stopped after one client: accept() in a loop, once for each of the clients "
           "it is told to serve, and close the listener only after the last")
CRASH = ("a malformed request must not end your server: check the command and the number and kind "
         "of its arguments (or catch the ValueError) and answer ERR malformed, then read on")
NEWLINE_DOWN = "end each reply with a newline (\\n): the client reads up to it"
ONE_REPLY = "send each reply as soon as its request is read, with one sendall() per reply"


def ended(connection: Connection) -> str:
    """How the server's side of a connection ended, for a detail."""
    if connection.rst_down:
        return "then reset the connection"
    return "then closed it (FIN)" if connection.fin_down is not None else "then said nothing more"


def solo(ev, wire) -> tuple[Connection | None, Verdict | None]:
    """h1's connection to the server of the first step, or the verdict why there is none."""
    found = [c for c in connections(wire, ev.server_ip, ev.solo_port) if c.client_ip == ev.client_ip]
    if not found:
        return None, blocked("h1's client never connected", "your server is graded on the requests of the "
                             "client: fix talk() first (see its check)", "talk")
    connection = found[0]
    if len(found) > 1 and len(connection.lines(True)) < len(ev.solo.requests):
        return None, blocked(f"h1's client opened {len(found)} connections for one conversation", "your server "
                             "is graded on one conversation per client: fix talk() first (see its check)", "talk")
    if not connection.synack:
        return None, failed(f"h2's kernel answered h1's SYN to port {ev.solo_port} with a reset",
                            "nothing listened on the port: bind((my_ip, port)), then listen(), then accept()")
    if connection.lines(True)[:1] != [ev.solo.requests[0]]:
        return None, blocked(f"the client sent {connection.lines(True)[:1] or 'no whole line'} instead of "
                             f"{ev.solo.requests[0]!r}", "your server is graded on the client's requests: fix "
                             "talk() first (see its check)", "talk")
    return connection, None


def grade_answers(ev, wire) -> Verdict:
    connection, verdict = solo(ev, wire)
    if verdict:
        return verdict
    requests, truths, replies = ev.solo.requests, ev.solo.truths, connection.lines(False)
    if connection.down and not replies:
        return failed(f"h2 sent {connection.rest(False)!r}, no whole line", NEWLINE_DOWN)
    for index, (request, truth) in enumerate(zip(requests, truths)):
        if index == ev.solo.bad:
            continue
        if index >= len(replies):
            return failed(f"h2 answered {len(replies)} of {len(requests)} requests, {ended(connection)}",
                          CRASH if index > ev.solo.bad else NEWLINE_DOWN if connection.rest(False)
                          else "answer every request, each with one line")
        if replies[index] != truth:
            return failed(f"for {request!r} h2 answered {replies[index]!r}",
                          f"the protocol answers {request!r} with {truth!r} (see the table in the exercise)")
    if not one_line_each(connection.down):
        return failed(f"h2's replies came in {len(connection.down)} segments for {len(replies)} lines", ONE_REPLY)
    if len(replies) <= ev.solo.bad:
        return failed(f"h2 answered {len(replies)} of {len(requests)} requests, {ended(connection)}", CRASH)
    if replies[len(requests):len(requests) + 1] != [BYE]:
        return failed(f"QUIT got {replies[len(requests):len(requests) + 1] or 'no reply'}",
                      "answer QUIT with BYE, then close the connection")
    if connection.rst_down or connection.fin_down is None:
        return failed(f"after BYE h2 {'reset the connection' if connection.rst_down else 'sent no FIN'}",
                      "close() the connection after BYE (or leave its `with` block): that sends the FIN")
    if ev.served != 1:
        return failed(f"serve() returned {ev.served!r} after serving one client", "return how many clients you served")
    return passed(f"{len(requests) + 1} requests, {len(requests) + 1} replies, each in its own segment; "
                  "BYE, then h2's FIN")


def grade_malformed(ev, wire) -> Verdict:
    connection, verdict = solo(ev, wire)
    if verdict:
        return verdict
    replies, bad = connection.lines(False), ev.solo.bad
    request = ev.solo.requests[bad]
    if len(replies) <= bad:
        return failed(f"{request!r} ({ev.solo.kind}) got no reply; h2 answered {len(replies)} requests, "
                      f"{ended(connection)}", CRASH)
    if replies[bad] != ERROR:
        return failed(f"for {request!r} ({ev.solo.kind}) h2 answered {replies[bad]!r}",
                      f"the protocol's error reply is exactly {ERROR!r}" if replies[bad].startswith("ERR") else
                      f"{request!r} is malformed ({ev.solo.kind}): answer {ERROR!r}")
    if len(replies) <= bad + 1:
        return failed(f"after {ERROR!r} h2 answered nothing more, {ended(connection)}",
                      "keep the connection after an error reply: the client may send more requests")
    return passed(f"{request!r} ({ev.solo.kind}) drew {ERROR!r}, and the next request was answered")


def grade_crowd(ev, wire) -> Verdict:
    found = connections(wire, ev.server_ip, ev.crowd_port)
    names, scripts = dict(zip(ev.crowd_ips, ev.crowd_names)), dict(zip(ev.crowd_ips, ev.crowd))
    missing = [name for ip, name in names.items() if ip not in {c.client_ip for c in found}]
    if missing:
        return blocked(f"{missing[0]}'s client never connected", "your server is graded on the clients' "
                       "requests: fix talk() first (see its check)", "talk")
    if not any(c.synack for c in found):
        return failed(f"h2's kernel refused every connection to port {ev.crowd_port} (resets)",
                      "nothing listened on the port: bind((my_ip, port)), then listen(), then accept()")
    # Counted over every connection, not only the earlier ones: two clients' SYNs a
    # moment apart may be accepted in either order.
    served = sum(c.lines(False) == [*scripts[c.client_ip].truths, BYE] for c in found if c.client_ip in names)
    for connection in found:  # in the order the clients connected
        name, script = names.get(connection.client_ip), scripts.get(connection.client_ip)
        if name is None:
            continue
        replies, expected = connection.lines(False), [*script.truths, BYE]
        if replies != expected:
            wrong = next((i for i, r in enumerate(expected) if i >= len(replies) or replies[i] != r), 0)
            asked = [*script.requests, QUIT][wrong]
            if wrong < len(replies):
                return failed(f"{name} asked {asked!r}; h2 answered {replies[wrong]!r}",
                              f"the protocol's answer is {expected[wrong]!r}: see the first client's checks")
            how = "its connection was refused (a reset)" if not connection.synack else \
                f"it got no reply to {asked!r}, h2 {ended(connection)[5:]}"
            return failed(f"{name}: {how}; {served} client{'s' * (served != 1)} served in full",
                          STOPPED if served and not replies else CRASH if wrong == script.bad else
                          "answer every request of every client, each with one line, until its QUIT")
        if connection.rst_down or connection.fin_down is None:
            return failed(f"h2 ended {name}'s connection without a FIN", "close() each connection after its BYE")
    if ev.crowd_served != len(ev.crowd):
        return failed(f"serve() returned {ev.crowd_served!r} after serving {len(ev.crowd)} clients",
                      "return how many clients you served")
    firsts = [c.down[0][0] for c in found if c.client_ip in names]
    return passed(f"{len(ev.crowd)} clients at once, every reply right, every connection closed by FIN; "
                  f"first replies {1000 * (max(firsts) - min(firsts)):.1f} ms apart")


def grade_client(ev, wire) -> Verdict:
    found = [c for c in connections(wire, ev.server_ip, ev.solo_port) if c.client_ip == ev.client_ip]
    if not found:
        return failed(f"h1 never connected to h2 port {ev.solo_port}",
                      "connect((server_ip, port)) with the address and port your function was given")
    connection, requests = found[0], list(ev.solo.requests)
    if len(found) > 1 and len(connection.lines(True)) < len(requests):
        return failed(f"h1 opened {len(found)} connections, {len(connection.lines(True))} request(s) on the first",
                      "one connection carries the whole conversation: connect once, send every request on it, "
                      "then QUIT and close()")
    if not connection.synack:
        return blocked("h2 refused the connection: nothing listened", "your client needs a server that "
                       "listens: fix serve() first (see its check)", "serve")
    sent = connection.lines(True)
    if connection.up and not sent:
        return failed(f"h1 sent {connection.rest(True)!r}, no whole line",
                      "end each request with a newline (\\n): the server answers a line once it is whole")
    if sent[:len(requests)] != requests:
        return failed(f"h1 sent {sent[:len(requests)]!r}", "send the requests exactly as given, in their order, "
                      "one line each: 'ADD 3 4\\n'")
    if connection.lines(False)[:len(requests)] != list(ev.solo.truths):
        return blocked("h2 did not answer every request right", "your client is graded against a server that "
                       "answers: fix serve() first (see its checks)", "serve")
    if not one_line_each(connection.up) or not waited(connection):
        return failed(f"h1 sent {len(sent)} lines in {len(connection.up)} segments, not each after its reply",
                      "send one request, read its reply up to the newline, and only then send the next")
    if sent[len(requests):len(requests) + 1] != [QUIT]:
        return failed("no QUIT after the requests", "send QUIT last, read the BYE, then close()")
    if connection.rst_up:
        return failed("h1 reset the connection instead of closing it",
                      "read the BYE before close(): closing with a reply still unread makes the kernel "
                      "send a reset, not a FIN")
    if connection.fin_up is None:
        return failed("h1 never sent its FIN", "close() the socket (or use a `with` block)")
    if ev.solo_reply != list(ev.solo.truths):
        return failed(f"returned {ev.solo_reply!r}", "return the reply lines without their newline, one per "
                      "request, in order (not the BYE)")
    if unserved := crowd_unserved(ev, wire):
        return blocked(f"{unserved}'s client got no right answers from h2 in the second step",
                       "your client ran there against a server that did not serve it: fix serve() first "
                       "(see its check of three clients)", "serve")
    return passed(f"{len(requests)} requests and QUIT, each sent after the reply before it; read BYE; "
                  "h1's FIN")


def crowd_unserved(ev, wire) -> str | None:
    """The first client of the second step whose connection h2 did not serve right."""
    found = {c.client_ip: c for c in connections(wire, ev.server_ip, ev.crowd_port)}
    for name, ip, script in zip(ev.crowd_names, ev.crowd_ips, ev.crowd):
        connection = found.get(ip)
        if connection is not None and (not connection.synack or connection.lines(False) != [*script.truths, BYE]):
            return name
    return None
