"""Exercise tcp-teardown: close a TCP connection by hand, with the four-way teardown.

    h1 ---s1--- h2                     (topologies/star.py with two hosts)
    your code                          a real Linux socket

Every run draws its own addresses, ports, ISN and data: take them from the
arguments (the report shows the values of each run).

Run it:    sudo python -m lab run tcp-teardown
Grade it:  sudo python -m lab check tcp-teardown

The lab opens the connection for you (the handshake of tcp-handshake) and sends
a few bytes from h1; h2's kernel acknowledges them. Then it is your turn to close:
your FIN, h2's ACK (h2 goes CLOSE_WAIT), h2's own FIN when its application closes
(LAST_ACK), and your last ACK, after which h2's socket is gone (CLOSED).
h2's states are read live and shown beside each segment.

Return IP(...) / TCP(...) segments; the lab adds the Ethernet header.
"""
from scapy.layers.inet import IP, TCP  # noqa: F401  (you will need both)


def build_fin(my_last, peer_last):
    """TODO 1: your FIN, which says "I have nothing more to send".

    my_last is the last segment you sent (it carried data), peer_last the last one h2
    sent (its acknowledgement of that data). The FIN's seq is the number of the next
    byte you would send; its ack, like every segment after the handshake, says what
    you expect next from h2, with the ACK flag set.
    """
    raise NotImplementedError


def expected_fin_ack(fin) -> int:
    """TODO 2: the acknowledgement number h2 must answer your FIN with.

    Write it for any segment, not only this FIN: the lab also asks about segments
    of its own making (data, a pure ACK, a SYN, a FIN, a FIN with data).
    """
    raise NotImplementedError


def build_last_ack(peer_fin):
    """TODO 3: the ACK of h2's FIN, the last segment of the connection."""
    raise NotImplementedError
