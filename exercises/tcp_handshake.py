"""Exercise tcp-handshake: open a TCP connection by hand, segment by segment.

    h1 ---s1--- h2                     (topologies/star.py with two hosts)
    your code                          a real Linux listener

Every run draws its own addresses, ports and data: take them from the arguments
(the report shows the values of each run).

Run it:    sudo python -m lab run tcp-handshake
Grade it:  sudo python -m lab check tcp-handshake

h1's kernel plays no part: the lab keeps it from answering (an nft rule drops its
resets), so every segment h1 sends is one your functions built. h2 is a real Linux
kernel with a listening socket: it answers only what it judges correct, and the lab
shows its socket states (LISTEN, SYN_RECV, ESTABLISHED) beside each segment.

Return IP(...) / TCP(...) segments; the lab adds the Ethernet header. Useful scapy:
TCP(sport=..., dport=..., flags="S", seq=..., ack=...); segment[TCP].seq reads a field
back; bytes(segment[TCP].payload) is the data a segment carries.
"""
import random  # noqa: F401  (an initial sequence number should be unpredictable)

from scapy.layers.inet import IP, TCP  # noqa: F401  (you will need both)


def build_syn(my_ip: str, peer_ip: str, my_port: int, peer_port: int):
    """TODO 1: the SYN that opens the connection, with an initial sequence number you choose.

    Pick the initial sequence number (ISN) x at random among the 2**32 possible
    values: a guessable ISN lets a stranger inject segments into the connection.
    Only the SYN flag is set, and a SYN carries no data.

    The lab also asks for SYNs it never sends (this connection again, another one):
    each must follow its arguments and have an ISN of its own.
    """
    raise NotImplementedError


def build_ack(syn_ack):
    """TODO 2: the ACK that completes the handshake, from h2's SYN-ACK.

    syn_ack is the segment h2 sent: its seq is h2's own ISN y, its ack is x + 1.
    Your ACK goes back the other way (addresses and ports swapped). Which sequence
    number comes next for you, and which one do you expect next from h2? Remember
    which segments consume a sequence number although they carry no data.
    """
    raise NotImplementedError


def build_data(syn_ack, data: bytes):
    """TODO 3: the first data segment, carrying data, sent right after your ACK.

    Flags "PA" (push, ack). Did your ACK (which carried no data) use up a
    sequence number? Every segment after the SYN also acknowledges what it has
    received so far.
    """
    raise NotImplementedError


def expected_ack(segment) -> int:
    """TODO 4: the acknowledgement number h2 must answer your data segment with.

    An acknowledgement number names the next byte the receiver expects. Write it for
    any segment, not only this one: the lab also asks about segments of its own
    making (data, a pure ACK, a SYN, a FIN, a FIN with data).
    """
    raise NotImplementedError
