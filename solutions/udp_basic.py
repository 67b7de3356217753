"""Reference solution of exercises/udp_basic.py. SPOILER: students, close this file."""
from scapy.layers.inet import ICMP, IP, UDP


def build_datagram(my_ip: str, peer_ip: str, my_port: int, peer_port: int, data: bytes):
    """The ports say which sockets; scapy fills in the length and the checksum."""
    return IP(src=my_ip, dst=peer_ip) / UDP(sport=my_port, dport=peer_port) / data


def parse_echo(reply) -> bytes:
    """The data is what follows the 8-byte UDP header."""
    return bytes(reply[UDP].payload)


def udp_length(data: bytes) -> int:
    """The length field counts the UDP header (8 bytes) and the data, not the IP header."""
    return 8 + len(data)


def is_port_unreachable(packet) -> bool:
    """Destination unreachable (type 3), and what was unreachable: the port (code 3)."""
    return ICMP in packet and packet[ICMP].type == 3 and packet[ICMP].code == 3
