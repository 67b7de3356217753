"""Reference solution of exercises/client_server.py. SPOILER: students, close this file."""
import socket


def answer(request: str) -> str:
    words = request.split(" ")
    command, arguments = words[0], words[1:]
    if command == "ADD" and len(arguments) == 2 and all(a.isdigit() for a in arguments):
        return f"OK {int(arguments[0]) + int(arguments[1])}"
    if command == "UPPER" and len(arguments) == 1 and arguments[0]:
        return f"OK {arguments[0].upper()}"
    if command == "LEN" and len(arguments) == 1 and arguments[0]:
        return f"OK {len(arguments[0])}"
    if request == "QUIT":
        return "BYE"
    return "ERR malformed"


def serve(my_ip: str, port: int, clients: int) -> int:
    served = 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((my_ip, port))
        server.listen(clients)
        while served < clients:
            connection, _ = server.accept()
            with connection:
                buffered = b""
                while True:
                    data = connection.recv(4096)
                    if not data:
                        break
                    buffered += data
                    while b"\n" in buffered:
                        line, buffered = buffered.split(b"\n", 1)
                        reply = answer(line.decode("utf-8", "replace"))
                        connection.sendall(reply.encode() + b"\n")
                        if reply == "BYE":
                            break
                    else:
                        continue
                    break
            served += 1
    return served


def talk(server_ip: str, port: int, requests: list) -> list:
    replies = []
    with socket.create_connection((server_ip, port)) as client:
        buffered = b""
        for request in list(requests) + ["QUIT"]:
            client.sendall(request.encode() + b"\n")
            while b"\n" not in buffered:
                data = client.recv(4096)
                if not data:
                    raise ConnectionError("the server closed the connection before replying")
                buffered += data
            line, buffered = buffered.split(b"\n", 1)
            replies.append(line.decode())
    return replies[:-1]
