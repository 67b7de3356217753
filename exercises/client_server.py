"""Exercise client-server: a small text protocol over TCP, its server and its client.

    h1   h3   h4          your client (h1 first, then h1, h3 and h4 at once)
      \\  |  /
         s1 --- h2        your server       (topologies/star.py with four hosts)

Run it:    sudo python -m lab run client-server
Grade it:  sudo python -m lab check client-server

The protocol. Each request is one line of text ending in a newline (\\n); the server
answers each with one line ending in a newline, before the client sends the next:

    ADD a b       ->  OK <a + b>             a and b whole numbers, like ADD 3 4 -> OK 7
    UPPER word    ->  OK <WORD>              UPPER hello -> OK HELLO
    LEN word      ->  OK <number of letters> LEN hello -> OK 5
    QUIT          ->  BYE                    and the server closes the connection
    anything else ->  ERR malformed          an unknown command, an argument missing or
                                             one too many, a word where a number belongs

Commands are upper case, words are separated by one space. Every run draws new
addresses, ports and requests, one of them malformed: use your arguments. Grading
reads every connection from the capture. Each function gets 3 seconds.
"""
import socket  # noqa: F401  (the only module you need)


def answer(request: str) -> str:
    """TODO 1: the reply to one request line (without its newline), itself without newline.

    answer("ADD 3 4") == "OK 7"; answer("QUIT") == "BYE"; answer("ADD 3") ==
    answer("ADD 3 four") == answer("MUL 2 3") == "ERR malformed". Never raise: a
    malformed request gets the protocol's error reply.
    """
    raise NotImplementedError


def serve(my_ip: str, port: int, clients: int) -> int:
    """TODO 2: serve `clients` connections, one after another; return how many you served.

    socket(AF_INET, SOCK_STREAM); setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    bind((my_ip, port)); listen(clients). Then, once per client: accept(); recv()
    bytes until you have whole lines (a line ends in b"\\n"); for each line, sendall()
    answer(line) and a newline at once; after answering QUIT with BYE (or when recv()
    gives b"", the client closed), close() the connection: that sends the FIN.
    Clients wait in the listen queue while you serve the one before them.
    """
    raise NotImplementedError


def talk(server_ip: str, port: int, requests: list) -> list:
    """TODO 3: the client. Send each request, read its reply; return the replies.

    connect((server_ip, port)); for each request: sendall() it with a newline, then
    recv() until the reply's newline has come, and only then send the next. Last, send
    QUIT and read the BYE before close(). Return the reply lines without their newline,
    one per request, in order (not the BYE).
    """
    raise NotImplementedError
