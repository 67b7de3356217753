"""osi-layers' checks: the request frame layer by layer, the layer numbers against
frames whose layers the lab knows by construction, and the router's changes against
the two captured copies of the one request."""
from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.definition import Verdict, failed, passed
from lab.exercise import DONE
from lab.grading import CONSTANT_HINT, LAB_FAULT, first_mistake, score, sent_frame
from lab.labs._osi_layers_cases import changed, request_copies
from lab.wire import header, payload

SHAPE = "Ether(src=..., dst=...) / IP(src=..., dst=...) / TCP(sport=..., dport=..., flags='PA', " \
        "seq=..., ack=...) / request"


def use(name: str) -> str:
    return f"take it from the argument {name}: it changes every run"


def grade_request(ev, wire) -> Verdict:
    seen, verdict = sent_frame(ev.request, wire, SHAPE)
    if verdict:
        return verdict
    my_mac, gateway_mac, my_ip, server_ip, my_port, server_port, seq, ack, page = ev.args
    packet = seen.packet
    ip, tcp, text = packet[IP], packet[TCP], payload(packet)
    first_line = text.split(b"\r\n")[0].split(b"\n")[0]
    detail = f"sent {packet[Ether].src} > {packet[Ether].dst}, {ip.src} > {ip.dst}, " \
             f"{tcp.sport} > {tcp.dport} {tcp.flags}, {first_line[:30]!r}"
    host = f"{server_ip}:{server_port}"
    named_host = header(text, "host")
    given_host = named_host or ""
    mistakes = [
        (packet.dst == ev.h2_mac, "the Ethernet destination is h2's MAC, but h2 is on another subnet: a frame "
                                  "only reaches the next machine, the router r1 (gateway_mac); IP carries "
                                  "h2's address the whole way"),
        (packet.dst != gateway_mac, f"the Ethernet destination must be the gateway r1's MAC {gateway_mac}; "
                                    + use("gateway_mac")),
        (packet.src != my_mac, f"the Ethernet source must be h1's MAC {my_mac}; {use('my_mac')}"),
        (ip.dst == ev.gateway_ip, "the IP destination is r1's address: only the Ethernet destination is "
                                  f"the router's; the IP one is h2's, {server_ip}"),
        ((ip.src, ip.dst) != (my_ip, server_ip), f"the IP addresses must be {my_ip} > {server_ip}; "
                                                 + use("my_ip and server_ip")),
        ((tcp.sport, tcp.dport) == (server_port, my_port), "the ports are swapped: sport is h1's port, dport "
                                                           "the server's"),
        ((tcp.sport, tcp.dport) != (my_port, server_port), f"the ports must be {my_port} > {server_port}, "
                                                           "the connection the lab opened"),
        ("A" not in str(tcp.flags), f"flags {tcp.flags}: data on an open connection carries ACK (flags='PA')"),
        (tcp.seq != seq or tcp.ack != ack, f"seq={tcp.seq} ack={tcp.ack}: the connection is at seq={seq} "
                                           f"ack={ack}; " + use("seq and ack")),
        (not text, "the segment carries no request: add the HTTP text after the TCP header"),
        (not first_line.startswith(b"GET "), "an HTTP request starts with its method: 'GET /path HTTP/1.1'"),
        (first_line.split(b" ")[1:2] != [page.encode()], f"ask for the path {page!r}; {use('path')}"),
        (not first_line.endswith(b" HTTP/1.1"), "the request line ends with the version: ' HTTP/1.1'"),
        (b"\r\n" not in text, "HTTP lines end with \\r\\n (CR LF), not \\n alone"),
        (not text.endswith(b"\r\n\r\n"), "the request ends with an empty line (\\r\\n\\r\\n): without it the "
                                         "server keeps waiting for more headers"),
        (named_host is None, f"HTTP/1.1 needs a Host: header, here 'Host: {host}' (RFC 9112, 3.2)"),
        (given_host != host, f"'Host: {given_host}': the Host: header names the server as its URL does, "
                             f"with the port when it is not 80: 'Host: {host}' (RFC 9112, 3.2)"),
    ]
    if verdict := first_mistake(detail, mistakes):
        return verdict
    if not ev.answered:
        return failed(detail, "the frame looks right but h2's server did not answer it; compare it with the "
                              "reference's in Wireshark")
    status = ev.answer.split(b"\r\n")[0].decode(errors="replace")
    return passed(f"to r1's MAC, to h2's IP; h2's http.server answered {status}")


# --- osi_layers ---

NAMES = {2: "data link", 3: "network", 4: "transport", 7: "application"}
PAYLOADS = {"Raw", "DNS", "NTPHeader"}


def layer_hint(name: str, given, truth: int) -> str:
    if name in ("IP", "IPv6") and given == 4:
        return f"{name} is the network layer, 3: it carries packets from host to host across routers; " \
               "4 is TCP and UDP, between programs"
    if name in ("TCP", "UDP") and given == 3:
        return f"{name} is the transport layer, 4: ports, between programs; 3 is IP"
    if name in ("Ether", "Dot1Q") and given == 1:
        return "Ethernet is the data link layer, 2: layer 1 is the signal on the cable and has no header"
    if name == "Dot1Q":
        return "the VLAN tag (802.1Q) is part of the Ethernet header: layer 2"
    if name == "ICMP":
        return "ICMP rides inside IP but belongs to the network layer, 3, like IP itself"
    if name in PAYLOADS and given in (5, 6):
        return f"{name} is what the application sends: count it as 7 (TCP/IP folds 5-7 into one layer)"
    return f"{name} is layer {truth}, {NAMES.get(truth, '?')}"


def grade_layers(ev, wire) -> Verdict:
    cases, given = ev.layer_cases, ev.layers
    status, value = given[0]
    if status != DONE:  # the engine's verdict, with the error, stands
        return failed(value)
    result = score(value == cases[0][1], tuple(given[1:]), [truth for _, truth in cases[1:]])
    if result.wrong is None:
        return passed(f"Ether 2, IP 3, TCP 4, HTTP 7; {result.summary}")
    index = result.wrong[0]
    (names, truth), (status, value) = cases[index], given[index]
    shown = " / ".join(names)
    detail = f"for {shown}: gave {value!r}, right is {truth}; {result.summary}"
    if status != DONE:
        return failed(f"for {shown}: gave no answer: {value}; {result.summary}",
                      "it must read any frame, not only the request")
    if result.constant:
        return failed(detail, CONSTANT_HINT)
    if not isinstance(value, list) or len(value) != len(truth):
        return failed(detail, f"one number per header, in order: frame.layers() lists {len(truth)} here")
    at = next(i for i, (a, b) in enumerate(zip(value, truth)) if a != b)
    return failed(detail, layer_hint(names[at], value[at], truth[at]))


# --- changed_fields ---

def field_hint(name: str, predicted: bool, copies) -> str:
    first, second = copies
    if name == "IP.ttl":
        return f"TTL predicted unchanged: every router takes one off (r1 made {first[IP].ttl} into " \
               f"{second[IP].ttl}), so a packet caught in a loop dies"
    if name.startswith("Ether."):
        return "the MACs are rewritten at every hop: on s2 the frame goes from r1's MAC to h2's" if not predicted \
            else f"{name} stays? compare the copies: a router makes a new frame for each hop"
    if name == "IP.chksum":
        return "the IP checksum covers the header, TTL included, so r1 recomputes it" if not predicted \
            else "the IP checksum changes with the TTL"
    if name in ("IP.src", "IP.dst"):
        return "the IP addresses stay the same end to end: r1 routes, it does not translate (no NAT here)"
    if name in ("IP.id", "IP.len"):
        return f"{name} stays: r1 did not cut the packet into fragments"
    if name == "TCP.chksum":
        return "the TCP checksum covers the addresses and the segment, not the TTL: it crosses unchanged"
    return f"a router does not open the TCP segment: {name} crosses unchanged"


ORDER = ("IP.ttl", "Ether.dst", "Ether.src", "IP.chksum", "IP.src", "IP.dst", "IP.id", "IP.len", "TCP.chksum",
         "TCP.sport", "TCP.dport", "TCP.seq", "TCP.ack", "payload")


def grade_changes(ev, wire) -> Verdict:
    status, value = ev.changes[0]
    if status != DONE:  # the engine's verdict, with the error, stands
        return failed(value)
    copies = request_copies(wire, ev)
    if None in copies:
        return failed("the request's two copies are not both in the capture", LAB_FAULT)
    truths = [set(changed(*copies, names)) for names in ev.fields]
    same = lambda given, truth: set(given) == truth  # noqa: E731
    cases = score(same(value, truths[0]), tuple(ev.changes[1:]), truths[1:], same=same)
    if cases.wrong is None:
        return passed(f"r1 changed {', '.join(sorted(truths[0]))}; the rest crossed as it was; {cases.summary}")
    index = cases.wrong[0]
    (status, value), truth, asked = ev.changes[index], truths[index], ev.fields[index]
    which = "for this run's fields" if index == 0 else f"for another list of {len(asked)} fields"
    if status != DONE:
        return failed(f"{which}: gave no answer: {value}; {cases.summary}", "it must answer any list of fields")
    said = set(value)
    detail = f"{which}: said {', '.join(sorted(said)) or 'nothing'}; the copies differ in " \
             f"{', '.join(sorted(truth))}; {cases.summary}"
    strange = sorted(said - set(asked))
    if strange:
        return failed(detail, f"{strange[0]!r} was not asked about: return names from fields only")
    name = min(truth ^ said, key=ORDER.index)
    return failed(detail, field_hint(name, name in said, copies))
