"""socket-steps graded as an instructor grades a class: cheats fail the check they
target, with a hint that says why, and correct solutions in other styles and with
other equivalent APIs pass every check. First the grading itself on hand-made
captures and call traces (no network), then whole student files on real networks."""
from __future__ import annotations

import ast
import dataclasses
import re

import pytest

from conftest import ROOT, graded, student_file
from lab.definition import FAIL, PASS
from lab.labs import socket_steps
from lab.labs._socket_steps_draw import draw
from test_socket_steps import CONNECTION, MESSAGE, call, client_calls, evidence, server_calls, tcp_wire, \
    udp_client_calls, udp_server_calls, udp_wire

REFERENCE = ROOT / "solutions" / "socket_steps.py"


# --- grading on hand-made evidence (traces and captures built in test_socket_steps) ---

def test_a_whole_tcp_echo_passes_both_checks():
    ev, wire = evidence(server_calls(), client_calls()), tcp_wire()
    server, client = socket_steps.grade_tcp_server(ev, wire), socket_steps.grade_tcp_client(ev, wire)
    assert server.status == PASS and "close() on the connection sent the FIN" in server.detail
    assert client.status == PASS and "connect() sent the SYN" in client.detail


def test_connect_ex_send_and_recv_into_are_the_same_steps():
    ev = evidence(server_calls(), client_calls("connect_ex", "recv_into", "send"))
    verdict = socket_steps.grade_tcp_client(ev, tcp_wire())
    assert verdict.status == PASS and "connect_ex() sent the SYN" in verdict.detail


def test_a_connection_python_freed_instead_of_close_fails():
    # The FIN came when the function returned and CPython freed the socket.
    verdict = socket_steps.grade_tcp_server(evidence(server_calls(close_connection=False), client_calls()),
                                            tcp_wire(server_fin=1.060))
    assert verdict.status == FAIL and "close() was never called on the connection" in verdict.detail
    assert "with connection:" in verdict.hint


def test_a_shutdown_before_close_sends_the_fin_and_passes():
    calls = server_calls() + [call(1.034, 1.0345, "shutdown", sid=CONNECTION)]
    verdict = socket_steps.grade_tcp_server(evidence(calls, client_calls()), tcp_wire(server_fin=1.0342))
    assert verdict.status == PASS and "shutdown() on the connection sent the FIN" in verdict.detail


def test_a_fin_before_any_close_fails():
    verdict = socket_steps.grade_tcp_server(evidence(server_calls(), client_calls()), tcp_wire(server_fin=1.035))
    assert verdict.status == FAIL and "FIN left before close()" in verdict.detail


def test_a_close_on_a_new_socket_with_the_freed_connections_id_does_not_count():
    calls = server_calls(close_connection=False) + [call(1.035, 1.035, "socket", sid=CONNECTION),
                                                    call(1.039, 1.040, "close", sid=CONNECTION)]
    verdict = socket_steps.grade_tcp_server(evidence(calls, client_calls()), tcp_wire())
    assert verdict.status == FAIL and "never called on the connection" in verdict.detail


def test_a_client_that_never_sends_fails_and_the_server_is_not_blamed():
    ev = evidence(server_calls(), client_calls(send=""), server_value=b"")
    wire = tcp_wire(sent=b"", echo=b"")
    client, server = socket_steps.grade_tcp_client(ev, wire), socket_steps.grade_tcp_server(ev, wire)
    assert client.status == FAIL and "never crossed the wire; h1 sent nothing" in client.detail
    assert server.status == FAIL and "fix tcp_echo_client() first" in server.hint
    assert "recv" not in server.hint


def test_a_client_that_sends_other_bytes_fails_and_says_what_crossed():
    ev, wire = evidence(server_calls(), client_calls()), tcp_wire(sent=b"echo me, please", echo=b"echo me, please")
    client, server = socket_steps.grade_tcp_client(ev, wire), socket_steps.grade_tcp_server(ev, wire)
    assert client.status == FAIL and "b'echo me, please'" in client.detail and "sendall(message)" in client.hint
    assert server.status == FAIL and "could not be checked" in server.detail


def test_a_server_that_returns_what_it_did_not_echo_fails():
    ev = evidence(server_calls(), client_calls(), server_value=b"echo me, please")
    verdict = socket_steps.grade_tcp_server(ev, tcp_wire())
    assert verdict.status == FAIL and "return the bytes recv() gave you" in verdict.hint


def udp_exchange(sent: bytes = MESSAGE, connect: bool = False):
    """(evidence, wire) of a UDP echo whose client sent `sent`, echoed as it came."""
    return evidence(udp_server_calls(), udp_client_calls(connect), kind="udp"), udp_wire(sent=(sent,), echo=sent)


def test_a_connected_udp_client_passes():
    verdict = socket_steps.grade_udp_client(*udp_exchange(connect=True))
    assert verdict.status == PASS and "connect() sent nothing" in verdict.detail and "send()" in verdict.detail


def test_a_udp_client_sending_other_bytes_fails_and_the_server_is_not_blamed():
    ev, wire = udp_exchange(sent=b"hello")
    client, server = socket_steps.grade_udp_client(ev, wire), socket_steps.grade_udp_server(ev, wire)
    assert client.status == FAIL and "h1 sent b'hello'" in client.detail
    assert server.status == FAIL and "fix udp_echo_client() first" in server.hint


def test_no_socket_call_recorded_says_how_the_lab_sees_them():
    ev, wire = udp_exchange()
    ev.udp = dataclasses.replace(ev.udp, client=dataclasses.replace(ev.udp.client, calls=()))
    verdict = socket_steps.grade_udp_client(ev, wire)
    assert verdict.status == FAIL and "import socket" in verdict.hint


def test_every_run_draws_its_ports_and_message():
    import random
    draws = [draw(random.Random(seed)) for seed in range(20)]
    assert len({d.message for d in draws}) == 20 and len({len(d.message) for d in draws}) > 5
    assert len({d.tcp for d in draws}) == 20 and len({d.udp for d in draws}) == 20
    for d in draws:
        assert len({d.tcp, d.udp, *d.restart, d.nobody}) == 5
    assert draw(random.Random(7)) == draw(random.Random(7))


# --- whole student files on real networks ---

ALTERNATIVE_A = '''
"""create_server / create_connection, send, recv_into, a connected UDP client, and a
helper module next to this file."""
import socket

from echo_helpers import echo_one_datagram


def tcp_echo_server(my_ip, port):
    with socket.create_server((my_ip, port)) as listener:
        conn, _peer = listener.accept()
        with conn:
            data = conn.recv(4096)
            conn.send(data)
    return data


def tcp_echo_client(server_ip, port, message):
    buffer = bytearray(4096)
    with socket.create_connection((server_ip, port)) as sock:
        sock.sendall(message)
        size = sock.recv_into(buffer)
    return bytes(buffer[:size])


def udp_echo_server(my_ip, port):
    sock = socket.socket(family=socket.AF_INET, type=socket.SOCK_DGRAM)
    try:
        sock.bind((my_ip, port))
        return echo_one_datagram(sock)
    finally:
        sock.close()


def udp_echo_client(server_ip, port, message):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((server_ip, port))
        sock.send(message)
        return sock.recv(65535)
'''

HELPER = '''
def echo_one_datagram(sock):
    data, sender = sock.recvfrom(65535)
    sock.sendto(data, sender)
    return data
'''

ALTERNATIVE_B = '''
import contextlib
import socket as sk


def tcp_echo_server(my_ip: str, port: int) -> bytes:
    server = sk.socket()
    server.setsockopt(sk.SOL_SOCKET, sk.SO_REUSEADDR, True)
    server.bind((my_ip, port))
    server.listen(1)
    conn = server.accept()[0]
    reader, writer = conn.makefile("rb"), conn.makefile("wb")
    data = reader.read1(65535)
    writer.write(data)
    writer.flush()
    reader.close()
    writer.close()
    conn.close()
    server.close()
    return data


def tcp_echo_client(server_ip: str, port: int, message: bytes) -> bytes:
    client = sk.socket(sk.AF_INET, sk.SOCK_STREAM)
    if client.connect_ex((server_ip, port)) != 0:
        raise ConnectionError("no server")
    sent = 0
    while sent < len(message):
        sent += client.send(message[sent:])
    client.shutdown(sk.SHUT_WR)    # the FIN goes now: nothing more to send
    answer = client.recv(65535)
    client.close()
    return answer


def udp_echo_server(my_ip: str, port: int) -> bytes:
    with contextlib.closing(sk.socket(sk.AF_INET, sk.SOCK_DGRAM)) as server:
        server.bind(("", port))
        data, (ip, their_port) = server.recvfrom(2048)
        server.sendto(data, (ip, their_port))
    return data


def udp_echo_client(server_ip: str, port: int, message: bytes) -> bytes:
    client = sk.socket(sk.AF_INET, sk.SOCK_DGRAM)
    client.settimeout(2)
    client.sendto(message, (server_ip, port))
    echo, _ = client.recvfrom(len(message) + 100)
    client.close()
    return echo
'''


def this_run(document: dict) -> dict:
    """The ports and the message one run drew, read from its report, as a cheat would copy them."""
    notes = "\n".join(note for step in document["steps"] for note in step["notes"])
    found = re.search(r"TCP port (\d+), UDP port (\d+); the clients send \d+ bytes: (b'.*')", notes)
    return {"tcp": int(found[1]), "udp": int(found[2]), "message": ast.literal_eval(found[3]),
            "server_ip": document["hosts"]["h2"]["ip"]}


def attempt(tmp_path, code: str, name: str):
    """The reference with some functions redefined, graded: (exit code, status_of, checks by id)."""
    path = student_file(tmp_path, REFERENCE.read_text() + "\n\n" + code, name)
    code, document = graded("socket-steps", path)
    return code, document["status_of"], {c["id"]: c for c in document["checks"]}


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
    """One run of a correct file in another style: its document, and what a cheat copies from it."""
    folder = tmp_path_factory.mktemp("alternative_a")
    student_file(folder, HELPER, "echo_helpers.py")
    code, document = graded("socket-steps", student_file(folder, ALTERNATIVE_A, "alternative_a.py"))
    return code, document


@pytest.mark.root
def test_create_server_create_connection_recv_into_and_a_connected_udp_client_pass(copied):
    code, document = copied
    assert code == 0 and set(document["status_of"].values()) == {"pass"}, document["checks"]
    details = {c["id"]: c["detail"] for c in document["checks"]}
    assert "send() sent the echo" in details["tcp-server"] and "recv_into()" in details["tcp-client"]
    assert "connect() sent nothing" in details["udp-client"]


@pytest.mark.root
def test_makefile_connect_ex_send_loop_shutdown_and_closing_pass(tmp_path):
    code, document = graded("socket-steps", student_file(tmp_path, ALTERNATIVE_B, "alternative_b.py"))
    assert code == 0 and set(document["status_of"].values()) == {"pass"}, document["checks"]
    client = {c["id"]: c["detail"] for c in document["checks"]}["tcp-client"]
    assert "connect_ex() sent the SYN" in client and "shutdown() sent the FIN" in client


@pytest.mark.root
def test_clients_that_never_send_their_message_fail_and_the_servers_are_not_blamed(tmp_path):
    code, status, checks = attempt(tmp_path, '''
def tcp_echo_client(server_ip, port, message):
    with socket.create_connection((server_ip, port)):
        pass                       # connects, never sends
    return message


def udp_echo_client(server_ip, port, message):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"echo me, please", (server_ip, port))   # an old run's message
        client.recvfrom(65535)
    return message
''', "fake_clients.py")
    assert code == 1 and set(status.values()) == {"fail"}
    assert "h1 sent nothing" in checks["tcp-client"]["detail"] and "sendall(message)" in checks["tcp-client"]["hint"]
    assert "h1 sent b'echo me, please'" in checks["udp-client"]["detail"]
    for server, client in (("tcp-server", "tcp_echo_client"), ("udp-server", "udp_echo_client")):
        assert f"fix {client}() first" in checks[server]["hint"] and "missing" not in checks[server]["hint"]


@pytest.mark.root
def test_a_server_python_closes_and_one_returning_an_old_message_fail(tmp_path):
    code, status, checks = attempt(tmp_path, '''
def tcp_echo_server(my_ip, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((my_ip, port))
    server.listen()
    connection, _ = server.accept()
    data = connection.recv(65535)
    connection.sendall(data)
    server.close()                 # the listener only: Python frees the connection, its FIN follows
    return data


def udp_echo_server(my_ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((my_ip, port))
        data, sender = server.recvfrom(65535)
        server.sendto(data, sender)
    return b"echo me, please"      # an old run's message
''', "server_faults.py")
    assert status == {"tcp-server": "fail", "tcp-client": "pass", "udp-server": "fail", "udp-client": "pass"}
    assert "close() was never called on the connection" in checks["tcp-server"]["detail"]
    assert "returned b'echo me, please'" in checks["udp-server"]["detail"]


@pytest.mark.root
def test_a_server_echoing_without_receiving_and_objects_equal_to_anything_fail(tmp_path):
    code, status, checks = attempt(tmp_path, '''
def tcp_echo_server(my_ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((my_ip, port))
        server.listen()
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"echo me, please")   # never receives
    return b"echo me, please"


class Always:
    def __eq__(self, other):
        return True


class AlwaysBytes(bytes):
    def __eq__(self, other):
        return True

    __hash__ = bytes.__hash__


def udp_echo_server(my_ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((my_ip, port))
        data, sender = server.recvfrom(65535)
        server.sendto(data, sender)
    return AlwaysBytes(data)


def udp_echo_client(server_ip, port, message):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(message, (server_ip, port))
        client.recvfrom(65535)
    return Always()
''', "no_recv_and_always_equal.py")
    assert set(status.values()) == {"fail"}
    assert "recv() on the connection is missing" in checks["tcp-server"]["hint"]
    assert "h2 sent back b'echo me, please'" in checks["tcp-client"]["detail"]
    assert "see the TCP server's check" in checks["tcp-client"]["hint"]
    assert "AlwaysBytes" in checks["udp-server"]["detail"] and checks["udp-server"]["hint"] == "return bytes"
    assert "Always" in checks["udp-client"]["detail"] and checks["udp-client"]["hint"] == "return bytes"


@pytest.mark.root
def test_importing_or_reading_the_reference_fails(tmp_path):
    code, status, checks = attempt(tmp_path, f'''
def tcp_echo_server(my_ip, port):
    import solutions.socket_steps as reference
    return reference.tcp_echo_server(my_ip, port)


def tcp_echo_client(server_ip, port, message):
    import importlib.util
    spec = importlib.util.spec_from_file_location("ref", {str(REFERENCE)!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tcp_echo_client(server_ip, port, message)


def udp_echo_client(server_ip, port, message):
    space = {{}}
    exec(open({str(REFERENCE)!r}).read(), space)
    return space["udp_echo_client"](server_ip, port, message)
''', "reference.py")
    assert set(status.values()) == {"fail"}
    assert "ModuleNotFoundError" in checks["tcp-server"]["detail"]
    assert "FileNotFoundError" in checks["tcp-client"]["detail"]
    assert "FileNotFoundError" in checks["udp-client"]["detail"]
    assert "fix udp_echo_client() first" in checks["udp-server"]["hint"]  # it waited for a datagram


@pytest.mark.root
def test_an_address_and_ports_copied_from_another_run_fail(tmp_path, copied):
    old = this_run(copied[1])
    code, status, checks = attempt(tmp_path, f'''
def tcp_echo_client(server_ip, port, message):
    with socket.create_connection(({old["server_ip"]!r}, {old["tcp"]})) as client:
        client.sendall(message)
        return client.recv(65535)


def udp_echo_server(my_ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((my_ip, {old["udp"]}))
        data, sender = server.recvfrom(65535)
        server.sendto(data, sender)
    return data
''', "copied.py")
    assert set(status.values()) == {"fail"}
    assert "Network is unreachable" in checks["tcp-client"]["detail"]
    assert "the address and port your function was given" in checks["tcp-client"]["hint"]
    assert "fix tcp_echo_client() first" in checks["tcp-server"]["hint"]  # it waited in accept()
    assert "no socket was bound to the port the client wrote to" in checks["udp-server"]["hint"]
    assert "see the UDP server's check" in checks["udp-client"]["hint"]
