"""client-server on real networks, as an instructor grades a class: the reference
passes, typical mistakes fail the check they make wrong with its hint (and a client is
never blamed for its server), other correct styles pass, and cheats fail."""
from __future__ import annotations

import pytest

from conftest import ROOT, graded, student_file
from lab.labs._client_server_grading import CRASH, STOPPED

pytestmark = pytest.mark.root
REFERENCE = (ROOT / "solutions" / "client_server.py").read_text()
ALL_PASS = {"rule": "pass", "answers": "pass", "malformed": "pass", "crowd": "pass", "client": "pass"}


def run(tmp_path, code: str) -> tuple[int, dict]:
    return graded("client-server", student_file(tmp_path, code, "client_server.py"), "--seed", "11")


def changed(old: str, new: str) -> str:
    assert old in REFERENCE, old
    return REFERENCE.replace(old, new)


def test_the_reference_passes_every_check(tmp_path):
    code, document = run(tmp_path, REFERENCE)
    assert code == 0 and document["status_of"] == ALL_PASS, document["checks"]


def test_a_server_that_stops_after_one_client_fails_crowd_and_the_client_is_not_blamed(tmp_path):
    code, document = run(tmp_path, changed("while served < clients:", "while served < 1:"))
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and checks["crowd"]["status"] == "fail" and checks["crowd"]["hint"] == STOPPED, checks
    assert checks["answers"]["status"] == "pass" and checks["malformed"]["status"] == "pass"
    assert checks["client"]["status"] == "fail" and checks["client"]["blocked_by"] == "serve", checks["client"]


def test_a_server_crashing_on_a_malformed_request_fails_with_the_crash_hint(tmp_path):
    crashing = changed('    if request == "QUIT":', '    if request != "QUIT":\n'
                       '        int(request.split(" ")[2])\n    if request == "QUIT":')
    code, document = run(tmp_path, crashing)
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and checks["malformed"]["status"] == "fail", checks
    assert checks["malformed"]["hint"] == CRASH and checks["answers"]["hint"] == CRASH, checks
    assert checks["rule"]["status"] == "fail"


def test_a_client_sending_everything_at_once_fails(tmp_path):
    at_once = changed('        for request in list(requests) + ["QUIT"]:\n'
                      '            client.sendall(request.encode() + b"\\n")',
                      '        client.sendall("".join(r + "\\n" for r in list(requests) + ["QUIT"]).encode())\n'
                      '        for request in list(requests) + ["QUIT"]:')
    code, document = run(tmp_path, at_once)
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and checks["client"]["status"] == "fail", checks
    assert checks["client"]["hint"] == ("send one request, read its reply up to the newline, and only then "
                                        "send the next"), checks["client"]
    assert checks["answers"]["status"] == "pass"


def test_a_client_closing_before_the_bye_sends_a_reset(tmp_path):
    early = changed('    return replies[:-1]', '    return replies')
    early = early.replace('        for request in list(requests) + ["QUIT"]:',
                          '        for request in list(requests):')
    early = early.replace('    return replies\n', '        client.sendall(b"QUIT\\n")\n    return replies\n')
    code, document = run(tmp_path, early)
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and checks["client"]["status"] == "fail", checks
    assert "reset" in checks["client"]["hint"], checks["client"]


def test_another_style_passes(tmp_path):
    """makefile() lines and a server that answers from a dict of handlers."""
    code = REFERENCE.replace('''    with socket.create_connection((server_ip, port)) as client:
        buffered = b""
        for request in list(requests) + ["QUIT"]:
            client.sendall(request.encode() + b"\\n")
            while b"\\n" not in buffered:
                data = client.recv(4096)
                if not data:
                    raise ConnectionError("the server closed the connection before replying")
                buffered += data
            line, buffered = buffered.split(b"\\n", 1)
            replies.append(line.decode())''', '''    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((server_ip, port))
    reader = client.makefile("rb")
    for request in [*requests, "QUIT"]:
        client.send(f"{request}\\n".encode())
        replies.append(reader.readline().decode().rstrip("\\n"))
    reader.close()
    client.close()''')
    assert code != REFERENCE
    result, document = run(tmp_path, code)
    assert result == 0 and document["status_of"] == ALL_PASS, document["checks"]


def test_cheats_fail(tmp_path):
    local = REFERENCE + '''

def talk(server_ip, port, requests):
    return [answer(r) for r in requests]
'''
    code, document = run(tmp_path, local)
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and checks["client"]["status"] == "fail", checks
    assert checks["client"]["hint"].startswith("connect((server_ip, port))"), checks["client"]
    lying = REFERENCE + '''

def serve(my_ip, port, clients):
    return clients
'''
    code, document = run(tmp_path, lying)
    checks = {c["id"]: c for c in document["checks"]}
    assert code == 1 and all(checks[i]["status"] == "fail" for i in ("answers", "malformed", "crowd")), checks
    assert checks["answers"]["hint"].startswith("nothing listened"), checks["answers"]


def test_tshark_agrees_with_the_report_and_sees_one_line_per_segment(tmp_path):
    import json
    import subprocess

    from conftest import lab, reported_segments, tshark_segments
    pcap = tmp_path / "c.pcapng"
    result = lab("check", "client-server", "--solution", "--json", "--pcap", str(pcap), "--seed", "5")
    document = json.loads(result.stdout)
    assert result.returncode == 0, document.get("checks")
    assert tshark_segments(pcap) == reported_segments(document)
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.payload"],
                         capture_output=True, text=True, check=True).stdout.split()
    lines = [bytes.fromhex(p.replace(":", "")) for p in out]
    assert all(line.count(b"\n") == 1 and line.endswith(b"\n") for line in lines), lines
    # 4 requests and QUIT for h1 alone, then for each of three clients; each answered
    assert len(lines) == 2 * 4 * 5
    assert lines.count(b"QUIT\n") == 4 and lines.count(b"BYE\n") == 4 and lines.count(b"ERR malformed\n") == 4
