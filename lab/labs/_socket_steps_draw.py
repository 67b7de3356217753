"""socket-steps' inputs, drawn per run from run.rng so that `--seed` replays them: the
ports of the echoes and the experiments, and the message the clients send."""
from __future__ import annotations

from dataclasses import dataclass

WORDS = ("echo", "socket", "wire", "kernel", "frame", "port", "bytes", "stream", "datagram",
         "hello", "again", "please", "back", "loud", "clear", "quiet", "ping", "pong")


@dataclass(frozen=True)
class Drawn:
    """One run's inputs: the echoes' ports, the restart experiment's two, one where
    nobody listens (for a connected UDP socket), and the message."""

    tcp: int
    udp: int
    restart: tuple[int, int]
    nobody: int
    message: bytes


def draw(rng) -> Drawn:
    """This run's ports (all different, below Linux's ephemeral range, where clients'
    ports come from) and the message: a few words and a number, so its text and its
    length change every run."""
    tcp, udp, restart_a, restart_b, nobody = rng.sample(range(2000, 32000), 5)
    words = " ".join(rng.choices(WORDS, k=rng.randint(2, 7)))
    return Drawn(tcp, udp, (restart_a, restart_b), nobody,
                 f"{words} #{rng.randrange(10 ** rng.randint(1, 6))}".encode())
