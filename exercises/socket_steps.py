"""Exercise socket-steps: a TCP and a UDP echo, with Python's socket module.

    h1 ---s1--- h2                       (topologies/star.py with two hosts)
    your clients                         your servers, on a TCP and a UDP port

Run it:    sudo python -m lab run socket-steps
Grade it:  sudo python -m lab check socket-steps

The lab runs your servers in h2 and your clients in h1, at the same time, and
records every socket call they make (when it started, when it returned, and on which
socket) next to the frames on the wire, so you can see which call puts what on the
wire, and which puts nothing at all. Use `import socket` and `socket.socket(...)` as
below (socket.create_connection and socket.create_server are seen too), so the lab
can see your calls. Each function gets 3 seconds.

Every run draws new addresses, new ports and a new message (its text and its
length): use the arguments your functions get. Grading reads the message and its
echo from the capture, so it must really cross the wire, both ways.
"""
import socket  # noqa: F401  (the only module you need)


def tcp_echo_server(my_ip: str, port: int) -> bytes:
    """TODO 1: serve one TCP client: send back what it sends, then close. Return the bytes.

    The steps: socket(AF_INET, SOCK_STREAM); setsockopt(SOL_SOCKET, SO_REUSEADDR, 1),
    so the server can be restarted at once (the lab shows why); bind((my_ip, port));
    listen(); accept() gives a new socket for the connection; recv() from it and
    sendall() the same bytes back; close() the connection (its FIN must come from your
    close(), not from Python freeing the socket), then close() the listener.
    `with` blocks close them for you.
    """
    raise NotImplementedError


def tcp_echo_client(server_ip: str, port: int, message: bytes) -> bytes:
    """TODO 2: connect to the TCP echo server, send message, return the echo.

    socket(AF_INET, SOCK_STREAM); connect((server_ip, port)); sendall(message);
    recv() the answer; close(). (connect_ex() or socket.create_connection() work as well.)
    """
    raise NotImplementedError


def udp_echo_server(my_ip: str, port: int) -> bytes:
    """TODO 3: answer one UDP datagram with the same bytes. Return them.

    socket(AF_INET, SOCK_DGRAM); bind((my_ip, port)); recvfrom() gives the data and
    the sender's address: sendto() the data back to that address; close().
    There is no listen() and no accept(): there is no connection.
    """
    raise NotImplementedError


def udp_echo_client(server_ip: str, port: int, message: bytes) -> bytes:
    """TODO 4: send message in one datagram to the UDP echo server, return the echo.

    socket(AF_INET, SOCK_DGRAM); sendto(message, (server_ip, port)); recvfrom();
    close(). No connect() is needed: every sendto names its destination. (A connected
    UDP socket works too: connect() only chooses the peer, then send() and recv().)
    """
    raise NotImplementedError
