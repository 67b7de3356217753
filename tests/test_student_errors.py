"""When a student's function breaks the code it talks to, the report names the
student's error, not the lab's: the reference standing in for an unwritten client
may fail because the student's server broke the connection, and the run still ends
with a report, the student's error and prints, and exit 1. The outcome used to
depend on timing, so it is tried ten times."""
from __future__ import annotations

import pytest

from conftest import graded, student_file

pytestmark = pytest.mark.root

SERVER_TAKES_THE_PAIR_FOR_THE_SOCKET = '''
import socket


def tcp_echo_server(my_ip, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((my_ip, port))
    s.listen()
    conn = s.accept()
    print("accepted", conn[1])
    data = conn.recv(1024)
    conn.sendall(data)
    return data


def tcp_echo_client(server_ip, port, message):
    raise NotImplementedError


def udp_echo_server(my_ip, port):
    raise NotImplementedError


def udp_echo_client(server_ip, port, message):
    raise NotImplementedError
'''


@pytest.mark.parametrize("attempt", range(10))
def test_a_broken_server_is_named_whatever_becomes_of_the_stand_in_client(tmp_path, attempt):
    code, document = graded("socket-steps", student_file(tmp_path, SERVER_TAKES_THE_PAIR_FOR_THE_SOCKET))
    assert code == 1, (document.get("error"), document["stderr"][-800:])
    server = next(c for c in document["checks"] if c["id"] == "tcp-server")
    assert server["status"] == "fail" and "AttributeError: 'tuple' object has no attribute 'recv'" in server["detail"]
    assert server["hint"].startswith("accept() returns a pair")
    assert document["status_of"]["tcp-client"] == "not done"
    assert any("'tuple' object has no attribute 'recv'" in error for error in document["student_errors"])
    calls = [call for step in document["steps"] for call in step["calls"] if call["todo"] == "tcp_echo_server"]
    assert "accepted ('" in calls[0]["printed"]
