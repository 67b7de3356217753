"""Exercise udp-basic: send a datagram, read the echo, recognise a port unreachable.

    h1 ---s1--- h2                        (topologies/star.py with two hosts)
    your code, on a client port           a real Linux UDP echo server on a port;
                                          nothing bound on another port

Run it:    sudo python -m lab run udp-basic
Grade it:  sudo python -m lab check udp-basic

Every run draws its own addresses, ports and data (the report prints the seed;
--seed N replays a run): use the arguments, never values copied from a report.

h2 runs a UDP server the way any program writes one: socket(AF_INET, SOCK_DGRAM),
bind((its address, its port)), then recvfrom() and sendto() back to whoever sent.
There is no listen() and no accept(), and nothing to open before your first datagram.
h1's kernel plays no part: it has no socket on your client port (the lab keeps it
from complaining about h2's answer), so every datagram h1 sends is one your function
built.

Return IP(...) / UDP(...) / data packets; the lab adds the Ethernet header. Useful
scapy: UDP(sport=..., dport=...) leaves len and chksum unset, and scapy fills them in
when the packet is sent; packet[UDP].len reads a field back; ICMP in packet says
whether a packet has an ICMP layer (True or False); packet[ICMP].type and
packet[ICMP].code.

parse_echo, udp_length and is_port_unreachable are also called on cases the lab makes
itself, in an order drawn for the run; the report says in how many of them your
answer was right. Return exactly the type each function names: True, not 1.
"""
from scapy.layers.inet import ICMP, IP, UDP  # noqa: F401  (you will need all three)


def build_datagram(my_ip: str, peer_ip: str, my_port: int, peer_port: int, data: bytes):
    """TODO 1: a UDP datagram from my_ip:my_port to peer_ip:peer_port, carrying data.

    The lab calls it twice: for h2's echo server's port, then for a port where
    nothing is bound, with data of its own each time. h2's server answers to the
    address and port the datagram came from. Which header fields must you set, and
    which can scapy compute for you?
    """
    raise NotImplementedError


def parse_echo(reply) -> bytes:
    """TODO 2: the data h2's echo server sent back, as bytes.

    reply is the whole IP packet h1 received: IP header, UDP header, then the data.
    The lab also hands you echoes it made, carrying data of other lengths.
    """
    raise NotImplementedError


def udp_length(data: bytes) -> int:
    """TODO 3: what the UDP length field says for a datagram carrying data.

    The lab compares your answer with the length field h2's kernel wrote in its
    echo, and tries data of other lengths. What does the length count: the data
    alone, or more?
    """
    raise NotImplementedError


def is_port_unreachable(packet) -> bool:
    """TODO 4: True if packet is an ICMP "port unreachable", else False.

    The lab calls it on h2's answer to your datagram for the unbound port, but
    also on h2's echo (a plain UDP datagram, with no ICMP layer at all), a TCP
    segment and other ICMP messages. ICMP sorts its messages by type, and within a
    type, by code. Return True or False (packet.haslayer() answers 0 for a missing
    layer, which is not False).
    """
    raise NotImplementedError
