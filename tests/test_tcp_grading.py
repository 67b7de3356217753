"""Grading of the TCP labs from hand-made captures: the hints for the typical mistakes,
without a network."""
from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.labs import tcp_handshake, tcp_teardown
from lab.wire import Wire

H1, H2 = "10.0.0.1", "10.0.0.2"
X, Y = 1000, 5000


def frame(src, dst, sport, dport, flags, seq, ack=0, data=b"") -> bytes:
    segment = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / (segment / data if data else segment))


def evidence(data: bytes, **extra) -> dict:
    return {"problem": "", "data": data, "sent_at": 1.0, "fallback_at": None, **extra}


def ack_verdict(seq, ack, flags="A"):
    sent = frame(H1, H2, 40000, 5000, flags, seq, ack)
    return tcp_handshake.grade_ack(evidence(sent, x=X, y=Y, h2_states="LISTEN, ESTABLISHED"),
                                   Wire([Frame(1.0, "s1-eth1", sent)]))


def test_handshake_ack():
    assert ack_verdict(X + 1, Y + 1).status == PASS
    assert "so the ACK number is y+1" in ack_verdict(X + 1, Y).hint
    assert "your SYN used up x" in ack_verdict(X, Y + 1).hint
    assert "a SYN here starts over" in ack_verdict(X + 1, Y + 1, "SA").hint


def test_handshake_syn_needs_the_syn_ack_answer():
    syn = frame(H1, H2, 40000, 5000, "S", X)
    answer = frame(H2, H1, 5000, 40000, "SA", Y, X + 1)
    wire = Wire([Frame(1.0, "s1-eth1", syn), Frame(1.001, "s1-eth1", answer)])
    assert tcp_handshake.grade_syn(evidence(syn, h2_states="LISTEN, SYN_RECV"), wire).status == PASS
    assert "did not answer" in tcp_handshake.grade_syn(
        evidence(syn, h2_states="LISTEN"), Wire([Frame(1.0, "s1-eth1", syn)])).hint
    with_data = frame(H1, H2, 40000, 5000, "S", X, data=b"hi")
    assert "carries no data" in tcp_handshake.grade_syn(
        evidence(with_data, h2_states=""), Wire([Frame(1.0, "s1-eth1", with_data)])).hint


def test_expected_ack_hints():
    base = {"h2_ack": X + 11, "seq": X + 1, "length": 10, "fallback_at": None}
    assert tcp_handshake.grade_expected({**base, "guess": X + 11}).status == PASS
    assert "next byte expected" in tcp_handshake.grade_expected({**base, "guess": X + 1}).hint
    assert "only SYN and FIN" in tcp_handshake.grade_expected({**base, "guess": X + 12}).hint


def fin_verdict(flags, seq):
    sent = frame(H1, H2, 40000, 5000, flags, seq, Y + 1)
    ev = evidence(sent, m=X + 11, y=Y, data_seq=X + 1, h2_states="LISTEN, CLOSE_WAIT", h2_ack=X + 12)
    return tcp_teardown.grade_fin(ev, Wire([Frame(1.0, "s1-eth1", sent)]))


def test_teardown_fin():
    assert fin_verdict("FA", X + 11).status == PASS
    assert "FIN without the ACK flag" in fin_verdict("F", X + 11).hint
    verdict = fin_verdict("FA", X + 1)
    assert verdict.status == FAIL and "seq not advanced after data" in verdict.hint


def test_teardown_last_ack():
    def verdict(seq, ack):
        sent = frame(H1, H2, 40000, 5000, "A", seq, ack)
        ev = evidence(sent, m=X + 11, k=Y + 1, closed=True)
        return tcp_teardown.grade_last_ack(ev, Wire([Frame(1.0, "s1-eth1", sent)]))
    assert verdict(X + 12, Y + 2).status == PASS
    assert "so the ACK number is k+1" in verdict(X + 12, Y + 1).hint
    assert "your FIN used up m" in verdict(X + 11, Y + 2).hint
