"""osi-layers: a web page fetched from h2 across the router r1, read layer by layer.

    h1 ---s1--- r1 ---s2--- h2      two subnets; r1 forwards between them

Run:    sudo python -m lab run osi-layers
Check:  sudo python -m lab check osi-layers

Every run draws its addresses, MACs, ports and the page: use the arguments.
"""
from scapy.layers.inet import IP, TCP  # noqa: F401
from scapy.layers.l2 import Ether  # noqa: F401


def build_request(my_mac: str, gateway_mac: str, my_ip: str, server_ip: str, my_port: int,
                  server_port: int, seq: int, ack: int, path: str):
    """TODO 1: the frame that asks h2's web server for `path`, on the TCP connection the
    lab opened from my_port to server_port (h1 is at seq, and acknowledges ack).

    Build it layer by layer: Ether / IP / TCP / the HTTP request's text (bytes).
    h2 is on another subnet: which machine does the Ethernet frame go to?
    """
    raise NotImplementedError


def osi_layers(frame) -> list:
    """TODO 2: the OSI layer number (1-7) of each header of a scapy frame, in order.

    frame.layers() lists its header classes: Ether, IP, TCP, Raw, and others (the lab
    also asks about frames of other protocols). Count what the application sends as 7.
    """
    raise NotImplementedError


def changed_fields(fields: list) -> list:
    """TODO 3: which of these fields r1 changes when it forwards h1's request to h2.

    fields names header fields like 'Ether.src', 'IP.ttl', 'TCP.seq' or 'payload'.
    Return the names (from fields) whose value differs between the frame h1 sent
    across s1 and the one r1 sent across s2.
    """
    raise NotImplementedError
