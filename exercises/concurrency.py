"""Exercise concurrency: one server, many clients, written three ways.

    h1  h3  h4  h5        the lab's 8 clients, 2 in each host, started together
      \\  \\ /  /
          s1 --- h2       your server                (topologies/star.py, five hosts)

Run it:    sudo python -m lab run concurrency
Grade it:  sudo python -m lab check concurrency

The protocol. A client sends one line, WORK and a word: b"WORK tomato\\n". The
server asks its slow backend, which takes DELAY seconds, and answers one line,
DONE and the word backwards: b"DONE otamot\\n"; then it closes the connection.
backend() and backend_async() below are that backend: use them, as given.

Each server gets its host's address `ip`, a `port`, the `backlog` to give
listen(), and how many `clients` to serve: serve that many, then return how many
you served. Each function has a few seconds; every run draws new addresses,
ports and words.
"""
import asyncio
import selectors  # noqa: F401  (if you write the event-driven server with selectors)
import socket
import threading  # noqa: F401
import time

DELAY = 0.15  # seconds the backend takes for each request


def reply_to(request: bytes) -> bytes:
    """The protocol's reply to one request line: b'WORK abc\\n' -> b'DONE cba\\n'."""
    word = request.decode("ascii", "replace").strip().partition(" ")[2]
    return f"DONE {word[::-1]}\n".encode()


def backend(request: bytes) -> bytes:
    """The slow backend, blocking: the reply, DELAY seconds later (time.sleep)."""
    time.sleep(DELAY)
    return reply_to(request)


async def backend_async(request: bytes) -> bytes:
    """The slow backend for an event loop: await it; other clients go on meanwhile."""
    await asyncio.sleep(DELAY)
    return reply_to(request)


def read_request(conn: socket.socket) -> bytes:
    """recv() on a blocking socket until the request's newline (or the client closed)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def serve_in_turn(ip: str, port: int, backlog: int, clients: int) -> int:
    """TODO 1: serve the clients one after another.

    socket.create_server((ip, port), backlog=backlog) makes the listening socket
    (bind and listen). Then, once per client: accept(), read_request(),
    sendall(backend(request)), close() the connection: the next client waits.
    """
    raise NotImplementedError


def serve_threads(ip: str, port: int, backlog: int, clients: int) -> int:
    """TODO 2: one thread per connection.

    The same listener; after each accept(), start a threading.Thread that reads
    the request, sends backend()'s reply and closes the connection, and go back to
    accept() at once. join() the threads only after the last accept().
    """
    raise NotImplementedError


def serve_events(ip: str, port: int, backlog: int, clients: int) -> int:
    """TODO 3: event-driven, in one thread: asyncio (or selectors).

    With asyncio: asyncio.run() a coroutine that calls asyncio.start_server(
    handler, ip, port, backlog=backlog) and waits until `clients` have been
    served; the handler reads a line (await reader.readline()), writes
    await backend_async(request), drains, closes the writer. Never call
    something that blocks in the loop (time.sleep, backend(), a blocking recv):
    every other client would wait. Give start_server the ip itself: a name like
    '' or 'localhost' is looked up in a helper thread.
    """
    raise NotImplementedError
