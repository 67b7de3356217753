"""Reference solution of exercises/tcp_teardown.py. SPOILER: students, close this file."""
from scapy.layers.inet import IP, TCP


def _length(segment) -> int:
    return len(bytes(segment[TCP].payload))


def build_fin(my_last, peer_last):
    """FIN,ACK seq=m: right after the last byte sent; ack: h2's next byte."""
    return (IP(src=my_last[IP].src, dst=my_last[IP].dst)
            / TCP(sport=my_last[TCP].sport, dport=my_last[TCP].dport, flags="FA",
                  seq=my_last[TCP].seq + _length(my_last),
                  ack=peer_last[TCP].seq + _length(peer_last)))


def expected_fin_ack(fin) -> int:
    """A FIN consumes one sequence number, like a SYN: h2 acknowledges m+1. Any other
    segment: its seq, plus its data, plus one for a SYN; numbers wrap at 2**32."""
    flags = fin[TCP].flags
    return (fin[TCP].seq + _length(fin) + flags.S + flags.F) % 2**32


def build_last_ack(peer_fin):
    """ACK seq=m+1 (our FIN used m), ack=k+1 (their FIN used k)."""
    return (IP(src=peer_fin[IP].dst, dst=peer_fin[IP].src)
            / TCP(sport=peer_fin[TCP].dport, dport=peer_fin[TCP].sport, flags="A",
                  seq=peer_fin[TCP].ack, ack=peer_fin[TCP].seq + _length(peer_fin) + 1))
