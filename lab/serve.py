"""`lab serve`: the runs in captures/ for a browser, over HTTP, read-only.

The VM's synced folder only copies the host's files in, so a student in the VM opens
their reports through this server and Vagrant's forwarded port instead. What it serves
is the folder's web pages and captures and an index of them, nothing else: a path is
resolved (symlinks included) and must stay inside the folder and be a regular file of
a served kind, or the answer is 404. It listens on one address of this machine, never
on all of them, writes nothing, and needs no root.
"""
from __future__ import annotations

import errno
import fcntl
import html
import ipaddress
import os
import re
import signal
import socket
import stat
import struct
import sys
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote

from .errors import UsageError

# What a run leaves in captures/, by suffix: the longest suffix names the file's part.
KINDS = {
    ".ports.pcapng": ("ports", "application/vnd.tcpdump.pcap"),
    ".pcapng": ("capture", "application/vnd.tcpdump.pcap"),
    ".pcap": ("capture", "application/vnd.tcpdump.pcap"),
    ".html": ("page", "text/html; charset=utf-8"),
}
SIOCGIFADDR = 0x8915  # <linux/sockios.h>: an interface's IPv4 address
TITLE = re.compile(rb"<title>([^<]{1,200})</title>", re.IGNORECASE)


def kind_of(name: str) -> tuple[str, str, str] | None:
    """(run name, part, MIME type) of a file name, or None for a file not served."""
    for suffix, (part, mime) in KINDS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], part, mime
    return None


def inside(folder: Path, relative: str) -> Path | None:
    """The served file a URL path names, or None: no `..`, no hidden part, no
    absolute path, resolved through symlinks to a regular file inside the folder."""
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p or "\0" in p
                           for p in parts):
        return None
    if kind_of(parts[-1]) is None:
        return None
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, target]) != root:
        return None
    try:
        if not stat.S_ISREG(os.stat(target).st_mode):
            return None
    except OSError:
        return None
    return Path(target)


@dataclass
class Run:
    name: str
    files: dict[str, Path] = field(default_factory=dict)  # part -> file
    time: float = 0.0  # the newest file's modification time

    def title(self) -> str:
        """The page's own <title>, which says more than the file name."""
        try:
            with self.files["page"].open("rb") as stream:
                found = TITLE.search(stream.read(4096))
        except (KeyError, OSError):
            return ""
        return html.unescape(found.group(1).decode("utf-8", "replace")).strip() if found else ""


def runs(folder: Path) -> list[Run]:
    """The runs in the folder, newest first: each page with its captures."""
    found: dict[str, Run] = {}
    if not folder.is_dir():
        return []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        kind = kind_of(relative)
        if kind is None or inside(folder, relative) is None:
            continue
        try:
            mtime = path.stat().st_mtime
        except OSError:  # removed since the listing: a run being rewritten
            continue
        run = found.setdefault(kind[0], Run(kind[0]))
        run.files[kind[1]] = path
        run.time = max(run.time, mtime)
    return sorted(found.values(), key=lambda run: run.time, reverse=True)


STYLE = """
:root { color-scheme: light dark; --line: #8884; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 1rem auto; max-width: 60rem; padding: 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.when, td:first-child { white-space: nowrap; } td.when { font-variant-numeric: tabular-nums; }
a { color: LinkText; } a:focus { outline: 2px solid Highlight; }
@media (max-width: 40rem) { th.title, td.title { display: none; } }
"""


def index_page(folder: Path) -> bytes:
    """The one page made here: a table of the runs, readable on a phone, light or dark."""
    rows = []
    for run in runs(folder):
        page = run.files.get("page")
        name = html.escape(run.name)
        link = f'<a href="/{quote(link_path(folder, page))}">{name}</a>' if page else name
        downloads = " ".join(
            f'<a href="/{quote(link_path(folder, run.files[part]))}" download>'
            f'{html.escape(run.files[part].name)}</a> ({size(run.files[part])})'
            for part in ("capture", "ports") if part in run.files) or "none"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.time))
        rows.append(f'<tr><td>{link}</td><td class="title">{html.escape(run.title())}</td>'
                    f'<td class="when"><time>{when}</time></td><td>{downloads}</td></tr>')
    body = ("<table><thead><tr><th>Lab</th><th class=\"title\">Report</th><th>When</th>"
            f"<th>Captures</th></tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows else
            "<p>No runs yet: <code>sudo python -m lab run arp-basic</code> writes one.</p>")
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Lab runs</title><style>{STYLE}</style></head><body>"
            f"<h1>Lab runs, newest first</h1>{body}</body></html>\n").encode()


def link_path(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def size(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:  # removed since the listing
        return "gone"
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MB"


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of the index and of the folder's served files; 404 for the rest."""

    folder: Path
    server_version = "lab-serve"
    sys_version = ""

    def do_GET(self) -> None:
        self.answer(body=True)

    def do_HEAD(self) -> None:
        self.answer(body=False)

    def answer(self, body: bool) -> None:
        # Not urlsplit: it would read "//etc/passwd" as a host name and a path.
        raw = self.path.split("?", 1)[0].split("#", 1)[0]
        if raw == "/":
            self.send_bytes(index_page(self.folder), "text/html; charset=utf-8", body)
            return
        if raw == "/favicon.ico":  # asked by every browser: no icon, and no error either
            self.send_response(HTTPStatus.NO_CONTENT)
            self.common_headers()
            return
        # Judged once decoded, so %2e%2e is the `..` it stands for.
        target = inside(self.folder, unquote(raw)[1:]) if raw.startswith("/") else None
        if target is None:
            self.send_bytes(b"404 not found\n", "text/plain; charset=utf-8", body, HTTPStatus.NOT_FOUND)
            return
        _, part, mime = kind_of(target.name)
        try:
            stream = target.open("rb")
        except OSError:
            self.send_bytes(b"404 not found\n", "text/plain; charset=utf-8", body, HTTPStatus.NOT_FOUND)
            return
        with stream:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(os.fstat(stream.fileno()).st_size))
            if part != "page":
                self.send_header("Content-Disposition", f'attachment; filename="{target.name}"')
            self.common_headers()
            if body:
                while chunk := stream.read(65536):
                    self.wfile.write(chunk)

    def send_bytes(self, data: bytes, mime: str, body: bool, status=HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        self.common_headers()
        if body:
            self.wfile.write(data)

    def common_headers(self) -> None:
        # A new run rewrites its page under the same name: never show a stale one.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:
        """Quiet: the one line at start is all the terminal shows."""


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A browser that hangs up mid-download is no error; anything else is one line."""
        kind, value = sys.exc_info()[:2]
        if not isinstance(value, (BrokenPipeError, ConnectionResetError)):
            print(f"lab serve: {client_address[0]}: {kind.__name__}: {value}", file=sys.stderr)


def local_addresses() -> dict[str, list[str]]:
    """This machine's addresses by interface: each one's IPv4 address and its IPv6
    ones. Read without root and without netlink libraries, so any python serves."""
    found: dict[str, list[str]] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on it
                continue
            found.setdefault(name, []).append(socket.inet_ntoa(answer[20:24]))
    try:
        with open("/proc/net/if_inet6") as table:  # hex address, index, prefix, scope, flags, name
            for line in table:
                hexa, *_, name = line.split()
                found.setdefault(name, []).append(str(ipaddress.IPv6Address(bytes.fromhex(hexa))))
    except OSError:  # IPv6 disabled
        pass
    return found


def listen_address(bind: str) -> str:
    """The address --bind names (an address, or an interface whose IPv4 address is
    taken), refused unless it is one address of this machine."""
    addresses = local_addresses()
    choices = ", ".join(f"{address} ({name})" for name, found in addresses.items() for address in found)
    if bind in addresses:
        ipv4 = [a for a in addresses[bind] if ipaddress.ip_address(a).version == 4]
        if not ipv4:
            raise UsageError(f"--bind {bind}: that interface has no IPv4 address; this machine has: {choices}")
        return ipv4[0]
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        raise UsageError(f"--bind {bind}: give an address or an interface of this machine: {choices}") from None
    if address.is_unspecified:
        raise UsageError(f"--bind {bind} would listen on every network this machine is on; "
                         f"give one address: {choices}")
    if not address.is_loopback and str(address) not in {a for found in addresses.values() for a in found}:
        raise UsageError(f"--bind {bind} is not an address of this machine; it has: {choices}")
    return str(address)


def start(folder: Path, port: int, bind: str) -> Server:
    """A server bound and listening (port 0: any free one), not yet serving."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: a TCP port is 1 to 65535")
    address = listen_address(bind)
    handler = type("FolderHandler", (Handler,), {"folder": folder})
    server_class = type("Server6", (Server,), {"address_family": socket.AF_INET6}) \
        if ipaddress.ip_address(address).version == 6 else Server
    try:
        return server_class((address, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {address} is in use (another lab serve?); "
                             f"choose another: --port {port + 1}") from None
        if error.errno == errno.EACCES:
            raise UsageError(f"port {port} needs root; choose one above 1023: --port 8000") from None
        raise UsageError(f"cannot listen on {address} port {port}: {error.strerror}") from None


def url(server: Server) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def serve(folder: Path, port: int, bind: str) -> int:
    """Serve until Ctrl-C, then release the port and return 0."""
    server = start(folder, port, bind)
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        where = url(server)
        if ipaddress.ip_address(server.server_address[0]).is_loopback:
            print(f"lab serve: open {where} (Ctrl-C stops it)", flush=True)
        else:
            print(f"lab serve: listening on {where}; from the machine that forwards port "
                  f"{server.server_address[1]} here (the Vagrant VM's host), open "
                  f"http://localhost:{server.server_address[1]}/ (Ctrl-C stops it)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("lab serve: stopped", flush=True)
    finally:
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
    return 0


def stop(signum, frame) -> None:
    """SIGTERM (kill, a service manager) stops the server as Ctrl-C does."""
    raise KeyboardInterrupt
