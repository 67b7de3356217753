"""The errors students meet most get a hint that names the fix, read from the error
message itself; these are the messages Python 3.11 and scapy 2.5 really give."""
from __future__ import annotations

import socket

import pytest
from scapy.layers.inet import IP, TCP

from conftest import ROOT, graded, student_file
from lab.hints import for_error
from lab.sandbox import describe_exception


def raised(action) -> str:
    """The error line the sandbox reports for action()."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - any error is what is being described
        return describe_exception(exc)
    raise AssertionError("it did not raise")


@pytest.fixture
def tcp():
    sock = socket.socket()
    yield sock
    sock.close()


@pytest.fixture
def udp():
    sock = socket.socket(type=socket.SOCK_DGRAM)
    yield sock
    sock.close()


def test_scapy_slips_are_named(tcp):
    assert "flags='S' is SYN" in for_error(raised(lambda: bytes(TCP(flags="SYN"))))
    assert "join layers with /" in for_error(raised(lambda: IP() + TCP()))
    assert for_error(raised(lambda: IP(sport=80))).startswith("sport is not a field of the layer")
    assert "% 2**32" in for_error(raised(lambda: bytes(TCP(seq=2**32))))
    assert "could not read an address" in for_error(raised(lambda: bytes(IP(dst="10.0.0.300"))))
    assert for_error(raised(lambda: eval("TPC()"))).startswith("TPC is not defined here")


def test_socket_slips_are_named(tcp, udp):
    assert for_error(raised(lambda: tcp.connect("10.0.0.1", 80))) == \
        "connect() takes one (host, port) tuple: s.connect((ip, port)), with two pairs of parentheses"
    assert "s.bind((ip, port))" in for_error(raised(lambda: tcp.bind("10.0.0.1", 80)))
    assert "sockets carry bytes" in for_error(raised(lambda: tcp.send("hello")))
    assert "sendto(data, (host, port))" in for_error(raised(lambda: udp.sendto(b"x", "10.0.0.1", 80)))
    assert "s.recv(4096)" in for_error(raised(lambda: tcp.recv()))
    pair = (tcp, ("10.0.0.1", 5000))
    assert "conn, address = s.accept()" in for_error(raised(lambda: pair.recv(100)))
    assert "data, address = s.recvfrom" in for_error(raised(lambda: (b"hi", ("10.0.0.1", 1)).decode()))


def test_an_error_no_pattern_knows_gets_no_hint():
    assert for_error(raised(lambda: {}["key"])) == ""
    assert for_error(raised(lambda: 1 / 0)) == ""
    assert for_error("line 3 in f: AttributeError: 'NoneType' object has no attribute 'src'") == ""


TCP_SOLUTION = (ROOT / "solutions" / "tcp_handshake.py").read_text()
SOCKET_SOLUTION = (ROOT / "solutions" / "socket_steps.py").read_text()


@pytest.mark.root
def test_a_flag_name_fails_its_check_with_the_letters_to_use(tmp_path):
    path = student_file(tmp_path, TCP_SOLUTION.replace('flags="S", seq=isn', 'flags="SYN", seq=isn'),
                        "tcp_handshake.py")
    code, document = graded("tcp-handshake", path)
    check = next(c for c in document["checks"] if c["id"] == "syn")
    assert code == 1 and check["status"] == "fail", check
    assert "ValueError: substring not found" in check["detail"] and "flags='S' is SYN" in check["hint"]
    assert document["status_of"]["ack"] == "pass"  # the reference's SYN stood in: the rest went on


@pytest.mark.root
def test_connect_with_two_arguments_gets_the_tuple_hint(tmp_path):
    path = student_file(tmp_path, SOCKET_SOLUTION.replace("client.connect((server_ip, port))",
                                                          "client.connect(server_ip, port)"), "socket_steps.py")
    code, document = graded("socket-steps", path)
    check = next(c for c in document["checks"] if c["id"] == "tcp-client")
    assert code == 1 and check["status"] == "fail", check
    assert check["hint"].startswith("connect() takes one (host, port) tuple"), check


@pytest.mark.root
def test_a_client_that_never_connects_is_blamed_in_the_servers_check(tmp_path):
    """The correct server waits in accept() for a client that failed: its check names
    the client; the client's check names its own error."""
    path = student_file(tmp_path, SOCKET_SOLUTION.replace("client.connect((server_ip, port))",
                                                          "client.connect(server_ip, port)"), "socket_steps.py")
    _, document = graded("socket-steps", path)
    server = next(c for c in document["checks"] if c["id"] == "tcp-server")
    assert server["status"] == "fail" and server["blocked_by"] == "tcp_echo_client"
    assert server["detail"].startswith("the client never connected") and "fix tcp_echo_client()" in server["hint"]
    assert document["status_of"]["udp-server"] == document["status_of"]["udp-client"] == "pass"
