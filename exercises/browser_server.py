"""Exercise browser-server: a browser's HTTP request and a web server's redis query,
both by hand over a socket.

    h1 (browser) -- lb (haproxy) --+-- web1 (Python app) --+-- db (redis-server)
                                   +-- web2 (Python app) --+
                                   (topologies/tiers.py)

Run it:    sudo python -m lab run browser-server
Grade it:  sudo python -m lab check browser-server

The lab starts a real redis-server in db, a small Python web app in web1 and web2
(it asks redis for the page's text on every request) and a real haproxy in lb, in
round robin. Your http_get runs in h1, several times; your redis_get in web1.
Every run draws new addresses, ports, a path, a key and its value: use your
arguments. Grading reads your request and your command as they crossed the wire.
"""
import socket  # noqa: F401  (the only module you need)


def http_get(lb_ip: str, port: int, path: str) -> bytes:
    """TODO 1: fetch path from the balancer with HTTP/1.1, by hand; return the raw response.

    Connect to (lb_ip, port) and send the request's head as bytes:
        GET <path> HTTP/1.1\\r\\n
        Host: <lb_ip>\\r\\n
        Connection: close\\r\\n
        \\r\\n                      <- the empty line that ends the head
    Then recv() until it returns b'' (the server closed) and return all the bytes.
    """
    raise NotImplementedError


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """TODO 2: split an HTTP/1.1 response into (status code, headers, body).

    The head ends at the first \\r\\n\\r\\n. Its first line is `HTTP/1.1 200 OK`: the
    code is the second word, as an int. Each other line is `Name: value`: the
    headers dict maps the name in lower case to the value without surrounding
    spaces. The body is exactly Content-Length bytes after the head (what follows
    them belongs to something else).
    """
    raise NotImplementedError


def redis_get(db_ip: str, port: int, key: str) -> bytes:
    """TODO 3: ask redis for key in its wire protocol (RESP), by hand; return the raw reply.

    A command is an array of bulk strings: `*2\\r\\n`, then for GET and for the key,
    `$<number of bytes>\\r\\n<the bytes>\\r\\n`. For the key "page:7":
        *2\\r\\n$3\\r\\nGET\\r\\n$6\\r\\npage:7\\r\\n
    Redis answers with a bulk string `$<len>\\r\\n<value>\\r\\n` (or `$-1\\r\\n` for a
    missing key): recv() until you have all of it, and return those bytes.
    """
    raise NotImplementedError


def parse_reply(raw: bytes) -> bytes | None:
    """TODO 4: the value of a RESP bulk string reply, or None for nil ($-1).

    `$11\\r\\nhello world\\r\\n` is b"hello world". The value may itself hold \\r\\n:
    read as many bytes as the length says.
    """
    raise NotImplementedError
