"""Exercise udp-basic: send a datagram, read the echo, recognise a port unreachable.

    h1 10.0.0.1 ---s1--- h2 10.0.0.2     (topologies/star.py with two hosts)
    your code, port 40000                a real Linux UDP echo server on port 7000;
                                         nothing bound on port 7001

Run it:    sudo python -m lab run udp-basic
Grade it:  sudo python -m lab check udp-basic

h2 runs a UDP server the way any program writes one: socket(AF_INET, SOCK_DGRAM),
bind(('10.0.0.2', 7000)), then recvfrom() and sendto() back to whoever sent. There is
no listen() and no accept(), and nothing to open before your first datagram. h1's
kernel plays no part: it has no socket on port 40000 (the lab keeps it from
complaining about h2's answer), so every datagram h1 sends is one your function built.

Return IP(...) / UDP(...) / data packets; the lab adds the Ethernet header. Useful
scapy: UDP(sport=..., dport=...) leaves len and chksum unset, and scapy fills them in
when the packet is sent; packet[UDP].len reads a field back; ICMP in packet says
whether a packet has an ICMP layer; packet[ICMP].type and packet[ICMP].code.
"""
from scapy.layers.inet import ICMP, IP, UDP  # noqa: F401  (you will need all three)


def build_datagram(my_ip: str, peer_ip: str, my_port: int, peer_port: int, data: bytes):
    """TODO 1: a UDP datagram from my_ip:my_port to peer_ip:peer_port, carrying data.

    The lab calls it twice: for h2's echo server (peer_port 7000), then for a port
    where nothing is bound (7001). h2's server answers to the address and port the
    datagram came from. Which header fields must you set, and which can scapy
    compute for you?
    """
    raise NotImplementedError


def parse_echo(reply) -> bytes:
    """TODO 2: the data h2's echo server sent back, as bytes.

    reply is the whole IP packet h1 received: IP header, UDP header, then the data.
    """
    raise NotImplementedError


def udp_length(data: bytes) -> int:
    """TODO 3: what the UDP length field says for a datagram carrying data.

    The lab compares your answer with the length field h2's kernel wrote in its
    echo. What does the length count: the data alone, or more?
    """
    raise NotImplementedError


def is_port_unreachable(packet) -> bool:
    """TODO 4: True if packet is an ICMP "port unreachable", else False.

    The lab calls it on h2's answer to your datagram for port 7001, but also on
    h2's echo (a plain UDP datagram, with no ICMP layer at all) and on other ICMP
    messages. ICMP sorts its messages by type, and within a type, by code.
    """
    raise NotImplementedError
