"""Reference solution of exercises/socket_steps.py. SPOILER: students, close this file."""
import socket


def tcp_echo_server(my_ip: str, port: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((my_ip, port))
        server.listen()
        connection, _ = server.accept()
        with connection:
            data = connection.recv(65535)
            connection.sendall(data)
    return data


def tcp_echo_client(server_ip: str, port: int, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.connect((server_ip, port))
        client.sendall(message)
        return client.recv(65535)


def udp_echo_server(my_ip: str, port: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((my_ip, port))
        data, sender = server.recvfrom(65535)
        server.sendto(data, sender)
    return data


def udp_echo_client(server_ip: str, port: int, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(message, (server_ip, port))
        data, _ = client.recvfrom(65535)
    return data
