"""What a student reads must be true and fit the terminal: the lab's own doings shown
where they happen, ports named when a step holds more than one connection, real
numbers never shown as relative ones, states that say which socket they belong to,
and no mention of documents the student does not have."""
from __future__ import annotations

import re

import pytest

from conftest import ROOT, lab


def run_text(tmp_path, name: str, code: str, filename: str) -> str:
    path = tmp_path / filename
    path.write_text(code)
    result = lab("run", name, "--exercise", str(path), "--pcap", str(tmp_path / "c.pcapng"), env_columns="80")
    assert result.stdout, result.stderr
    return result.stdout


def step(text: str, number: int) -> str:
    return text.split(f"\n{number}. ", 1)[1].split(f"\n{number + 1}. ", 1)[0]


@pytest.mark.root
def test_a_frame_sent_in_the_students_place_is_marked_where_it_is_drawn(tmp_path):
    code = (ROOT / "solutions" / "arp_basic.py").read_text() + \
        "\n\ndef build_gratuitous(my_mac, my_ip):\n    return 'announce'\n"
    announce = step(run_text(tmp_path, "arp-basic", code, "arp_basic.py"), 5)
    marked = announce.index("[the reference's build_gratuitous() stands in for yours]")
    assert marked < announce.index("ARP announcement:"), announce
    assert "build_gratuitous(): REFERENCE ran, because" in announce


@pytest.mark.root
def test_a_segment_to_the_wrong_port_shows_its_ports_and_real_numbers(tmp_path):
    code = (ROOT / "solutions" / "tcp_handshake.py").read_text().replace(
        "dport=peer_port, flags=\"S\"", "dport=peer_port + 1, flags=\"S\"")
    syn = step(run_text(tmp_path, "tcp-handshake", code, "tcp_handshake.py"), 2)
    arrows = [line for line in syn.splitlines() if "─" in line or "-" * 3 in line]
    wrong, reset, right, answer = arrows[:4]
    ports = [re.search(r"(\d+)>(\d+)", line).groups() for line in (wrong, reset, right, answer)]
    assert ports[0][1] != ports[2][1] and ports[1] == ports[0][::-1] and ports[3] == ports[2][::-1]
    assert "RST,ACK seq 0 ack=1" in reset  # h2's reset has no SYN to count from: its real number
    assert "[the lab sends the reference's build_syn() in place of yours]" in syn
    assert all(len(line) <= 80 for line in syn.splitlines())


@pytest.mark.root
def test_states_say_which_socket_they_belong_to(tmp_path):
    text = lab("run", "tcp-handshake", "--solution", "--pcap", str(tmp_path / "c.pcapng")).stdout
    assert "listener LISTEN, connection SYN_RECV" in text and "listener LISTEN, no connection" in text
    assert "CLOSED (no socket)" not in text


def test_no_text_points_at_a_note_the_student_does_not_have():
    files = [*(ROOT / "lab" / "labs").glob("*.py"), ROOT / "exercises" / "README.md", ROOT / "README.md",
             *(ROOT / "exercises").glob("*.py")]
    for path in files:
        assert "study note" not in path.read_text().lower(), path
