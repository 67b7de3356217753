"""Exercise tcp-vs-udp: read messages back out of a TCP byte stream, and count what
a lossy network delivered.

    h1 ---s1--- h2     (topologies/star.py with two hosts)
    sender             receiver: kernel sockets on both sides

Run it:    sudo python -m lab run tcp-vs-udp
Grade it:  sudo python -m lab check tcp-vs-udp

The lab sends numbered messages, b"00000\\n", b"00001\\n", ..., from h1 to h2 over TCP
and over UDP, through a link that drops packets at random. TCP hands h2 one stream
of bytes with no trace of where each send() ended: your split_messages finds the
messages again. UDP hands h2 each datagram whole, or not at all, in the order they
arrived: your tally counts what came, what did not, what came twice and what came
late. Both are plain functions: the lab calls them with what h2's applications really
received, and with buffers and lists it makes up, so they must work for any input,
not only for the numbers one run shows. Addresses, ports, messages and their number
change every run (the report shows this run's).
"""


def split_messages(buffer: bytes) -> tuple[list[bytes], bytes]:
    """TODO 1: cut a TCP byte stream into newline-framed messages.

    Each message ends with b"\\n". Return (messages, rest):
      messages  a list of the complete messages in buffer, in order, WITHOUT
                their b"\\n";
      rest      the bytes after the last b"\\n": the start of a message whose end
                has not arrived yet (b"" if buffer ends with b"\\n").
    A message may hold any byte but b"\\n" (spaces, b"\\r", b"\\x00" included). The lab
    reads the stream a few hundred bytes at a time, so a read may end in the middle
    of a message; it puts the rest in front of the next read and calls you again.
    Example: split_messages(b"one\\ntwo\\nth") == ([b"one", b"two"], b"th").
    """
    raise NotImplementedError


def tally(sent: int, received: list[int]) -> dict:
    """TODO 2: count what the receiver got, for messages numbered 0 to sent - 1.

    received lists the numbers in the order they arrived, copies included. Return
    {"delivered": ..., "lost": ..., "duplicated": ..., "out_of_order": ...}:
      delivered     how many of the numbers 0 to sent - 1 arrived at least once;
      lost          how many never arrived (sent - delivered);
      duplicated    arrivals of a number that had already arrived (a number
                    received three times counts 2);
      out_of_order  first arrivals of a number smaller than the largest number
                    received before it (a duplicate counts as duplicated only).
    Example: tally(5, [0, 2, 2, 1, 4]) == {"delivered": 4, "lost": 1,
                                           "duplicated": 1, "out_of_order": 1}
    """
    raise NotImplementedError
