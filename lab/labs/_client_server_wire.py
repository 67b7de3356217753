"""client-server's reading of the capture: each TCP connection to the server's port,
with the data segments each side sent (a retransmission counted once), who sent a FIN
and who a reset. Grading compares these with the drawn requests and replies."""
from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP

from lab.wire import payload


@dataclass
class Connection:
    """One client's connection: (time, bytes) of each data segment each way."""

    client_ip: str
    client_port: int
    synack: bool = False
    up: list = field(default_factory=list)      # client -> server
    down: list = field(default_factory=list)    # server -> client
    fin_up: float | None = None
    fin_down: float | None = None
    rst_up: bool = False
    rst_down: bool = False

    def lines(self, up: bool) -> list[str]:
        """The complete lines one side sent, in order, without their newline."""
        data = b"".join(d for _, d in (self.up if up else self.down))
        return [line.decode("utf-8", "replace") for line in data.split(b"\n")[:-1]]

    def rest(self, up: bool) -> bytes:
        """What one side sent after its last newline: a line never ended."""
        return b"".join(d for _, d in (self.up if up else self.down)).split(b"\n")[-1]


def connections(wire, server_ip: str, port: int) -> list[Connection]:
    """Every connection a client opened to server_ip:port, in the order of their SYNs."""
    found: dict[tuple[str, int], Connection] = {}
    seen: set[tuple] = set()
    for frame in wire.frames:
        packet = frame.packet
        if IP not in packet or TCP not in packet:
            continue
        ip, tcp = packet[IP], packet[TCP]
        if (ip.dst, tcp.dport) == (server_ip, port):
            key, up = (ip.src, tcp.sport), True
        elif (ip.src, tcp.sport) == (server_ip, port):
            key, up = (ip.dst, tcp.dport), False
        else:
            continue
        flags = str(tcp.flags)
        if "S" in flags and up and "A" not in flags and key not in found:
            found[key] = Connection(*key)
        connection = found.get(key)
        if connection is None:
            continue
        data = payload(packet)
        if data and (key, up, tcp.seq) not in seen:  # a retransmission, once
            seen.add((key, up, tcp.seq))
            (connection.up if up else connection.down).append((frame.time, data))
        if "S" in flags and "A" in flags and not up:
            connection.synack = True
        if "F" in flags:
            if up and connection.fin_up is None:
                connection.fin_up = frame.time
            elif not up and connection.fin_down is None:
                connection.fin_down = frame.time
        if "R" in flags:
            connection.rst_up, connection.rst_down = connection.rst_up or up, connection.rst_down or not up
    return list(found.values())


def one_line_each(segments: list) -> bool:
    """Every data segment holds exactly one whole line."""
    return all(data.count(b"\n") == 1 and data.endswith(b"\n") for _, data in segments)


def waited(connection: Connection) -> bool:
    """Each request after the first left only once the reply before it had arrived."""
    replies = [t for t, _ in connection.down]
    return all(i == 0 or (i - 1 < len(replies) and t >= replies[i - 1])
               for i, (t, _) in enumerate(connection.up))
