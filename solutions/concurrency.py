"""Reference solution of exercises/concurrency.py (spoilers)."""
import asyncio
import socket
import threading
import time

DELAY = 0.15


def reply_to(request: bytes) -> bytes:
    word = request.decode("ascii", "replace").strip().partition(" ")[2]
    return f"DONE {word[::-1]}\n".encode()


def backend(request: bytes) -> bytes:
    time.sleep(DELAY)
    return reply_to(request)


async def backend_async(request: bytes) -> bytes:
    await asyncio.sleep(DELAY)
    return reply_to(request)


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def serve_in_turn(ip: str, port: int, backlog: int, clients: int) -> int:
    with socket.create_server((ip, port), backlog=backlog) as listener:
        for _ in range(clients):
            conn, _ = listener.accept()
            with conn:
                conn.sendall(backend(read_request(conn)))
    return clients


def serve_one(conn: socket.socket) -> None:
    with conn:
        conn.sendall(backend(read_request(conn)))


def serve_threads(ip: str, port: int, backlog: int, clients: int) -> int:
    threads = []
    with socket.create_server((ip, port), backlog=backlog) as listener:
        for _ in range(clients):
            conn, _ = listener.accept()
            thread = threading.Thread(target=serve_one, args=(conn,))
            thread.start()
            threads.append(thread)
    for thread in threads:
        thread.join()
    return clients


def serve_events(ip: str, port: int, backlog: int, clients: int) -> int:
    return asyncio.run(serve_all(ip, port, backlog, clients))


async def serve_all(ip: str, port: int, backlog: int, clients: int) -> int:
    served = 0
    everyone = asyncio.Event()

    async def serve_client(reader, writer):
        nonlocal served
        request = await reader.readline()
        writer.write(await backend_async(request))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        served += 1
        if served == clients:
            everyone.set()

    server = await asyncio.start_server(serve_client, ip, port, backlog=backlog)
    async with server:
        await everyone.wait()
    return served
