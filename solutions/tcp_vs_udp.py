"""Reference solution of exercises/tcp_vs_udp.py. SPOILER: students, close this file."""


def split_messages(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Every piece before a b"\\n" is a message; the piece after the last one is the rest."""
    *messages, rest = buffer.split(b"\n")
    return messages, rest


def tally(sent: int, received: list[int]) -> dict:
    """One pass: a number seen before is a duplicate; a new one below the largest so far is late."""
    seen = set()
    largest = -1
    duplicated = out_of_order = 0
    for number in received:
        if number in seen:
            duplicated += 1
            continue
        seen.add(number)
        if number < largest:
            out_of_order += 1
        largest = max(largest, number)
    delivered = len(seen & set(range(sent)))
    return {"delivered": delivered, "lost": sent - delivered, "duplicated": duplicated,
            "out_of_order": out_of_order}
