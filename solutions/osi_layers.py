"""Reference for exercises/osi_layers.py."""
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

LAYER = {"Ether": 2, "Dot1Q": 2, "IP": 3, "IPv6": 3, "ICMP": 3, "TCP": 4, "UDP": 4}
ROUTER_CHANGES = {"Ether.src", "Ether.dst", "IP.ttl", "IP.chksum"}


def build_request(my_mac: str, gateway_mac: str, my_ip: str, server_ip: str, my_port: int,
                  server_port: int, seq: int, ack: int, path: str):
    request = f"GET {path} HTTP/1.1\r\nHost: {server_ip}:{server_port}\r\n\r\n".encode()
    return Ether(src=my_mac, dst=gateway_mac) / IP(src=my_ip, dst=server_ip) / \
        TCP(sport=my_port, dport=server_port, flags="PA", seq=seq, ack=ack) / request


def osi_layers(frame) -> list:
    return [LAYER.get(layer.__name__, 7) for layer in frame.layers()]


def changed_fields(fields: list) -> list:
    return [name for name in fields if name in ROUTER_CHANGES]
