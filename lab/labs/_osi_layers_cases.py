"""osi-layers' own pieces: the web server the lab starts in h2, the rows of the
header-by-header table, the fields compared across the router, and the made-up
frames the layer mapping is also graded on (each with its layers known because the
lab stacked it from them)."""
from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.ntp import NTP
from scapy.packet import Raw

from lab.wire import payload

# Python's http.server in h2: one page, its text drawn per run; HTTP/1.0 replies, so the
# server closes the connection after its answer and the exchange ends by itself.
SERVER = """\
import http.server, socketserver, sys
body = sys.argv[3].encode()
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == sys.argv[4] else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):  # a stalled connection blocks no other
    server_bind = socketserver.TCPServer.server_bind  # no reverse DNS look-up of its own name
context = None
if len(sys.argv) > 5:  # the same page over TLS: certificate and key read before listening
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[5], sys.argv[6])
server = Server((sys.argv[1], int(sys.argv[2])), Page)
if context is not None:
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""

PAGES = ("index.html", "hello.txt", "layers.html", "osi.txt", "page.html", "wire.txt")
WORDS = ("frame", "packet", "segment", "header", "router", "layer", "switch", "payload")

OSI = {1: "physical", 2: "data link", 3: "network", 4: "transport", 5: "session", 6: "presentation",
       7: "application"}
TCP_IP = {1: "link", 2: "link", 3: "internet", 4: "transport", 5: "application", 6: "application",
          7: "application"}


@dataclass(frozen=True)
class Page:
    """What h2 serves this run: its path and its text."""

    path: str
    body: str


def draw_page(rng, server_ip: str) -> Page:
    words = " ".join(rng.choices(WORDS, k=rng.randint(2, 5)))
    return Page("/" + rng.choice(PAGES), f"hello from h2 ({server_ip}): {words}\n")


def request_text(path: str, host: str) -> bytes:
    """A right GET request, for the lab's own connection check (not the student's)."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


# --- the fields a router may change, as TODO 3 names them ---

FIELDS = {
    "Ether.src": lambda p: p[Ether].src, "Ether.dst": lambda p: p[Ether].dst,
    "IP.src": lambda p: p[IP].src, "IP.dst": lambda p: p[IP].dst, "IP.ttl": lambda p: p[IP].ttl,
    "IP.chksum": lambda p: p[IP].chksum, "IP.id": lambda p: p[IP].id, "IP.len": lambda p: p[IP].len,
    "TCP.sport": lambda p: p[TCP].sport, "TCP.dport": lambda p: p[TCP].dport,
    "TCP.seq": lambda p: p[TCP].seq, "TCP.ack": lambda p: p[TCP].ack, "TCP.chksum": lambda p: p[TCP].chksum,
    "payload": payload,
}
ALWAYS_ASKED = ("Ether.dst", "IP.ttl", "IP.src", "TCP.seq")  # one of each kind of mistake, every run


def draw_fields(rng) -> list[str]:
    """The fields asked about this run: a drawn handful beside ALWAYS_ASKED, shuffled."""
    others = [name for name in FIELDS if name not in ALWAYS_ASKED]
    asked = list(ALWAYS_ASKED) + rng.sample(others, rng.randint(4, len(others)))
    rng.shuffle(asked)
    return asked


def quiet_fields(rng) -> list[str]:
    """A list without Ether.src and IP.chksum: an answer that ignores its fields fails it."""
    others = [name for name in FIELDS if name not in ALWAYS_ASKED and name not in ("Ether.src", "IP.chksum")]
    asked = list(ALWAYS_ASKED) + rng.sample(others, rng.randint(2, len(others)))
    rng.shuffle(asked)
    return asked


def changed(first, second, names: list[str]) -> list[str]:
    """The names among names whose values differ between two captured copies."""
    return [name for name in names if FIELDS[name](first) != FIELDS[name](second)]


def request_copies(wire, ev) -> tuple:
    """The answered request as it crossed s1 (from h1) and s2 (from r1), or Nones."""
    my_port, server_port, seq = ev.connection or (0, 0, 0)
    copies = wire.select(lambda p: TCP in p and p[TCP].sport == my_port and p[TCP].dport == server_port
                         and p[TCP].seq == seq and bool(payload(p)))
    on = {switch: next((c.packet for c in copies if c.interfaces[0].startswith(switch + "-")), None)
          for switch in ("s1", "s2")}
    return on["s1"], on["s2"]


# --- the layer mapping's made-up frames: stacked from (layer, OSI number) pieces ---

def made_up_frames(rng, my_ip: str, peer_ip: str, my_mac: str, peer_mac: str) -> list[tuple[bytes, list[int]]]:
    """Frames of other protocols, as bytes, each with its OSI numbers by construction."""
    port = rng.randrange(1024, 61000)
    eth = (Ether(src=my_mac, dst=peer_mac), 2)
    ip = (IP(src=my_ip, dst=peer_ip, ttl=rng.randint(2, 64)), 3)
    shapes = [
        [eth, ip, (UDP(sport=port, dport=53), 4), (DNS(rd=1, qd=DNSQR(qname=rng.choice(PAGES))), 7)],
        [eth, ip, (ICMP(type=8, id=rng.randrange(65536), seq=rng.randrange(65536)), 3)],
        [eth, (Dot1Q(vlan=rng.randint(2, 4094)), 2), ip, (TCP(sport=port, dport=80, flags="S"), 4)],
        [eth, ip, (UDP(sport=123, dport=123), 4), (NTP(), 7)],
        [eth, (IPv6(src="fd00::1", dst="fd00::2"), 3), (TCP(sport=port, dport=443, flags="PA"), 4),
         (Raw(rng.choice(WORDS).encode()), 7)],
        [eth, ip, (UDP(sport=port, dport=rng.randrange(1024, 61000)), 4), (Raw(rng.choice(WORDS).encode()), 7)],
    ]
    frames = []
    for layers in rng.sample(shapes, len(shapes)):
        frame = layers[0][0]
        for layer, _ in layers[1:]:
            frame = frame / layer
        frames.append((bytes(frame), [number for _, number in layers]))
    return frames
