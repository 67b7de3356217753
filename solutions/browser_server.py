"""Reference for browser-server."""
import socket


def receive_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def http_get(lb_ip: str, port: int, path: str) -> bytes:
    request = f"GET {path} HTTP/1.1\r\nHost: {lb_ip}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((lb_ip, port)) as sock:
        sock.sendall(request)
        return receive_all(sock)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    code = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return code, headers, rest[:int(headers.get("content-length", "0"))]


def redis_get(db_ip: str, port: int, key: str) -> bytes:
    parts = [b"GET", key.encode()]
    command = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection((db_ip, port)) as sock:
        sock.sendall(command)
        reply = b""
        while not complete(reply):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def complete(reply: bytes) -> bool:
    """A whole reply: its first line, and for a bulk string its bytes and \\r\\n."""
    if b"\r\n" not in reply:
        return False
    first = reply.split(b"\r\n", 1)[0]
    if not first.startswith(b"$") or first == b"$-1":
        return True
    return len(reply) >= len(first) + 2 + int(first[1:]) + 2


def parse_reply(raw: bytes) -> bytes | None:
    first, _, rest = raw.partition(b"\r\n")
    length = int(first[1:])
    if length < 0:
        return None
    return rest[:length]
