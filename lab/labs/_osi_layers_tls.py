"""osi-layers' TLS step: a self-signed certificate made at run time, the page fetched
twice over TLS from h1's kernel (the second time resuming the first session), and the
TLS records read back from the capture: the hellos in clear, the rest encrypted."""
from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, TCP

from lab.wire import payload

RECORD = {20: "change cipher spec", 21: "alert", 22: "handshake", 23: "application data"}
HANDSHAKE = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket"}


def make_certificate(folder: Path, ip: str) -> tuple[Path, Path]:
    """A self-signed certificate for ip (and its key), made now: by the `cryptography`
    package if it is there, else by the openssl command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={ip}",
                        "-addext", f"subjectAltName=IP:{ip}"], check=True, capture_output=True)
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = x509.CertificateBuilder().subject_name(name).issuer_name(name) \
        .public_key(private.public_key()).serial_number(x509.random_serial_number()) \
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)) \
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False) \
        .sign(private, hashes.SHA256())
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


@dataclass(frozen=True)
class Fetch:
    """One page fetched over TLS by h1's kernel and Python's ssl."""

    port: int            # h1's port
    status: str          # the response's status line
    version: str
    cipher: str
    resumed: bool


def client_context(cert: Path) -> ssl.SSLContext:
    """What h1 trusts: the run's own certificate, and nothing else."""
    return ssl.create_default_context(cafile=str(cert))


def fetch(host, server_ip: str, server_port: int, context: ssl.SSLContext, path: str,
          session=None) -> tuple[Fetch, object]:
    """GET path over TLS from host; returns what it saw and the TLS session to resume
    (resumable with the same context only)."""
    sock = host.socket()
    sock.settimeout(2.0)
    sock.connect((server_ip, server_port))
    with context.wrap_socket(sock, server_hostname=server_ip, session=session) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {server_ip}:{server_port}\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
        seen = Fetch(tls.getsockname()[1], answer.split(b"\r\n")[0].decode(errors="replace"), tls.version() or "",
                     tls.cipher()[0], tls.session_reused)
        return seen, tls.session


def records(wire, client: tuple[str, int], server: tuple[str, int]) -> list[tuple[str, str, int]]:
    """(direction, what, length) of each TLS record of one connection, as it crossed s1,
    each direction's stream put together in sequence order."""
    streams: dict[str, dict[int, bytes]] = {"h1 → h2": {}, "h2 → h1": {}}
    for frame in wire.frames:
        packet = frame.packet
        if not frame.interfaces[0].startswith("s1-") or TCP not in packet or not payload(packet):
            continue
        ends = ((packet[IP].src, packet[TCP].sport), (packet[IP].dst, packet[TCP].dport))
        if ends in ((client, server), (server, client)):
            streams["h1 → h2" if ends[0] == client else "h2 → h1"][packet[TCP].seq] = payload(packet)
    found = []
    for direction, pieces in streams.items():
        if not pieces:
            continue
        start = min(pieces)  # a handful of segments, far from the 2**32 wrap in practice
        data = b"".join(pieces[seq] for seq in sorted(pieces, key=lambda seq: (seq - start) % 2**32))
        while len(data) >= 5:
            kind, length = data[0], int.from_bytes(data[3:5], "big")
            body = data[5:5 + length]
            what = RECORD.get(kind, f"type {kind}")
            if kind == 22 and body:
                what += f", {HANDSHAKE.get(body[0], f'type {body[0]}')} (readable)"
            elif kind == 23:
                what += " (encrypted)"
            found.append((direction, what, length))
            data = data[5 + length:]
    return found
