"""Reference solution of exercises/tcp_handshake.py. SPOILER: students, close this file."""
import random

from scapy.layers.inet import IP, TCP


def build_syn(my_ip: str, peer_ip: str, my_port: int, peer_port: int):
    """SYN, seq=x: x random; the SYN consumes one sequence number but carries no data."""
    isn = random.randrange(2**32)
    return IP(src=my_ip, dst=peer_ip) / TCP(sport=my_port, dport=peer_port, flags="S", seq=isn)


def build_ack(syn_ack):
    """ACK, seq=x+1 (our SYN used x), ack=y+1 (their SYN used y)."""
    return (IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src)
            / TCP(sport=syn_ack[TCP].dport, dport=syn_ack[TCP].sport, flags="A",
                  seq=syn_ack[TCP].ack, ack=syn_ack[TCP].seq + 1))


def build_data(syn_ack, data: bytes):
    """Data starts at x+1: the pure ACK before it carried no data and used no number."""
    return (IP(src=syn_ack[IP].dst, dst=syn_ack[IP].src)
            / TCP(sport=syn_ack[TCP].dport, dport=syn_ack[TCP].sport, flags="PA",
                  seq=syn_ack[TCP].ack, ack=syn_ack[TCP].seq + 1)
            / data)


def expected_ack(segment) -> int:
    """The next byte expected: the segment's seq plus the bytes it carried, plus one
    for a SYN and one for a FIN; sequence numbers wrap at 2**32."""
    tcp = segment[TCP]
    return (tcp.seq + len(bytes(tcp.payload)) + tcp.flags.S + tcp.flags.F) % 2**32
