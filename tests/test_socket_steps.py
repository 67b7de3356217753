"""socket-steps on real networks: the reference's calls line up with the wire, the
untouched exercise is not done, typical mistakes fail with their hint, and the two
experiments report what Linux really does."""
from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, lab, reported_segments, tshark_segments

pytestmark = pytest.mark.root
REFERENCE = ROOT / "solutions" / "socket_steps.py"


def check_json(*args: str) -> tuple[int, dict]:
    result = lab("check", "socket-steps", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def notes(document: dict) -> str:
    return "\n".join(note for step in document["steps"] for note in step["notes"])


def test_reference_passes_and_the_experiments_show_linux(tmp_path):
    pcap = tmp_path / "c.pcapng"
    code, document = check_json("--solution", "--pcap", str(pcap))
    assert code == 0 and {c["status"] for c in document["checks"]} == {"pass"}
    assert tshark_segments(pcap) == reported_segments(document)  # the report agrees with tshark
    checks = {c["id"]: c["detail"] for c in document["checks"]}
    assert "listen() sent nothing" in checks["tcp-server"]
    assert "close() on the connection sent the FIN" in checks["tcp-server"]
    assert "connect() sent the SYN" in checks["tcp-client"] and "the message crossed" in checks["tcp-client"]
    text = notes(document)
    first = re.search(r"first server without SO_REUSEADDR, port (\d+) in TIME_WAIT; bind again with: (\w+)", text)
    second = re.search(r"first server with SO_REUSEADDR, port (\d+) in TIME_WAIT; bind again without: (\w+)", text)
    assert first[2] == "EADDRINUSE" and second[2] == "EADDRINUSE" and first[1] != second[1]
    assert f"first server with SO_REUSEADDR, port {second[1]} in TIME_WAIT; bind again with: bound" in text
    assert "shutdown() on an unconnected UDP socket: failed with ENOTCONN" in text
    assert "on a connected one (connect() only chose the peer, nothing was sent): succeeded; " \
           "frames it put on the wire: 0" in text
    assert "send() after shutdown(SHUT_WR): failed with EPIPE" in text
    # the calls are on the right host: the server's on h2, the client's on h1
    states = [(s["host"], s["state"]) for step in document["steps"] for s in step["states"]]
    assert ("h2", "listen()") in states and ("h1", "connect()") not in states
    assert ("h2", "close() the connection") in states and ("h2", "close() the listener") in states
    assert any(host == "h1" and state.startswith("connect() (") for host, state in states)


def test_untouched_exercise_is_not_done(tmp_path):
    code, document = check_json("--pcap", str(tmp_path / "c.pcapng"))
    assert code == 1 and {c["status"] for c in document["checks"]} == {"not done"}


def attempt(tmp_path, code: str):
    path = tmp_path / "attempt.py"
    path.write_text(REFERENCE.read_text() + "\n\n" + code)
    return check_json("--exercise", str(path), "--pcap", str(tmp_path / "c.pcapng"))


def test_server_that_never_listens(tmp_path):
    status, document = attempt(tmp_path, """
def tcp_echo_server(my_ip, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((my_ip, port))
    connection, _ = server.accept()
    return connection.recv(100)
""")
    checks = {c["id"]: c for c in document["checks"]}
    assert status == 1
    assert checks["tcp-server"]["status"] == "fail" and "call listen() after bind()" in checks["tcp-server"]["hint"]
    assert "OSError" in checks["tcp-server"]["detail"]
    assert "connect() was refused" in checks["tcp-client"]["hint"]
    assert checks["udp-server"]["status"] == checks["udp-client"]["status"] == "pass"


def test_udp_reply_to_the_wrong_port(tmp_path):
    status, document = attempt(tmp_path, """
def udp_echo_server(my_ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((my_ip, port))
        data, sender = server.recvfrom(65535)
        server.sendto(data, (sender[0], port))
    return data
""")
    checks = {c["id"]: c for c in document["checks"]}
    assert checks["udp-server"]["status"] == "fail"
    assert "reply to the address recvfrom() returned" in checks["udp-server"]["hint"]
    assert "went elsewhere" in checks["udp-client"]["hint"]
    assert checks["tcp-server"]["status"] == checks["tcp-client"]["status"] == "pass"
