"""Hints for the errors students meet most, read from the error itself.

A student's call that raised is reported with its line and message; for the slips
that scapy and the socket API make cryptic (`TCP(flags="SYN")` says only "substring
not found"), the message alone is matched here to the fix it needs. The first
pattern that matches wins; an error no pattern knows gets no hint from here.
"""
from __future__ import annotations

import re

HINTS = (
    (r"ValueError: substring not found",
     "TCP flags are letters, not names: flags='S' is SYN, 'SA' SYN+ACK, 'A' ACK, 'PA' data with ACK, "
     "'FA' FIN+ACK, 'R' RST"),
    (r"unsupported operand type\(s\) for \+: '\w+' and '\w+'",
     "join layers with /, not +: IP(...) / TCP(...) / data"),
    (r"'tuple' object has no attribute '(?:recv|recv_into|send|sendall|close|shutdown|setsockopt|fileno)'",
     "accept() returns a pair, the connection and the client's address: conn, address = s.accept()"),
    (r"'tuple' object has no attribute '(?:decode|startswith|upper|lower|split|strip)'",
     "recvfrom() returns a pair, the data and the sender's address: data, address = s.recvfrom(...)"),
    (r"(connect|connect_ex|bind)\(\) takes exactly one argument \(2 given\)",
     r"\1() takes one (host, port) tuple: s.\1((ip, port)), with two pairs of parentheses"),
    (r"'str' object cannot be interpreted as an integer",
     "a port or a size must be an int (80, not '80'); sendto(data, (host, port)) takes the address as one tuple"),
    (r"a bytes-like object is required, not 'str'",
     "sockets carry bytes, not text: send b'...' or text.encode()"),
    (r"recv(?:from)?\(\) takes at least 1 argument \(0 given\)",
     "recv() needs the most bytes to read at once: s.recv(4096)"),
    (r"format requires 0 <= number <= 4294967295",
     "sequence and ACK numbers are 32 bits: wrap them with % 2**32"),
    (r"Name or service not known",
     "scapy could not read an address as IPv4: pass the address strings the function is given, like "
     "'10.0.0.2'"),
    (r"NameError: name '(\w+)' is not defined",
     r"\1 is not defined here: check its spelling, and import it (from scapy.layers.inet import IP, TCP, "
     "UDP, ICMP; from scapy.layers.l2 import Ether, ARP)"),
    (r"AttributeError: (\w+)$",
     r"\1 is not a field of the layer it was given to: ports belong to TCP or UDP (sport, dport), "
     "addresses to IP (src, dst), MACs to Ether or ARP; ls(TCP) lists a layer's fields"),
)


def for_error(detail: str) -> str:
    """The hint for an error line ('... line 4 in build_syn: ValueError: ...'), or ''."""
    for pattern, hint in HINTS:
        found = re.search(pattern, detail)
        if found:
            return found.expand(hint)
    return ""
