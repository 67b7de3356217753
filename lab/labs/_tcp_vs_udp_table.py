"""tcp-vs-udp's table: one row per protocol (and one for the late step), each with
the counts the lab knows without a tally of its own, the student's tally asked on
every row and on made-up lists, and the lines the report shows.

TCP's row comes from the stream h2 read (checked against the messages h1 sent),
UDP's from nft's counter and h2's socket drops, the late row from the lab's own
hand. A row the lab cannot count (netem reordered or copied at random) is shown as
the tally counted it, and left out of grading.
"""
from __future__ import annotations

import dataclasses

from lab.labs._tcp_vs_udp_cases import (TALLY_KEYS, WIDTH, Counts, Plan, SplitCase, TallyCase, answered,
                                        made_up_tallies, whose)
from lab.labs._tcp_vs_udp_experiments import TcpResult, UdpResult
from lab.sandbox import DONE

ROWS = ("TCP", "UDP", "UDP, late + twice")


def tcp_row(plan: Plan, tcp: TcpResult) -> TallyCase:
    """TCP hands h2 the bytes h1 sent, in order, or nothing yet (stream_pieces checks
    it): every whole message in the stream was delivered once, in order."""
    arrived = sum(map(len, tcp.chunks)) // WIDTH
    return TallyCase("the TCP row", plan.messages, list(range(arrived)), [],
                     Counts(arrived, plan.messages - arrived))


def udp_row(plan: Plan, udp: UdpResult) -> TallyCase:
    """Without netem, one datagram crosses the link once, in order; each lost one was
    dropped by nft (its counter) or by h2's full socket (sock_diag's drops). The truth
    stands only if h2 received exactly what those counters leave (None otherwise)."""
    received, lost = list(udp.received), (udp.dropped or 0) + udp.buffer_drops
    fits = udp.complete and received == sorted(set(received)) and len(received) == plan.messages - lost
    return TallyCase("the UDP row", plan.messages, received, [],
                     Counts(plan.messages - lost, lost) if fits else None)


def late_row(plan: Plan, received: list[int]) -> TallyCase:
    """By the lab's hand: all delivered, one twice, the held two late."""
    return TallyCase("the late + twice row", plan.late, received, list(plan.held),
                     Counts(plan.late, 0, 1, len(plan.held)))


def count_rows(plan: Plan, tcp: TcpResult, udp: UdpResult, late: list[int]) -> dict[str, TallyCase]:
    """The table's rows by name, in ROWS order, each with the counts the lab knows."""
    return dict(zip(ROWS, (tcp_row(plan, tcp), udp_row(plan, udp), late_row(plan, late))))


def ask_tally(run, rows: dict[str, TallyCase]) -> tuple[dict[str, dict], list[str], list[TallyCase]]:
    """The student's tally on every row the lab can count (the late one is the live
    case), on the made-up lists, and last, ungraded, on a row the lab cannot count.
    Returns the figures the table shows for each row, what to say about them, and the
    graded cases, answered."""
    known = [name for name in ("UDP, late + twice", "TCP", "UDP") if rows[name].truth is not None]
    unknown = [name for name in rows if rows[name].truth is None]
    cases = [rows[name] for name in known] + made_up_tallies(run.rng) + [rows[name] for name in unknown]
    outcome = run.student("tally", run.host("h2"), cases[0].sent, cases[0].received,
                          extra=[(case.sent, case.received) for case in cases[1:]])
    given = answered(cases, outcome)
    figures = {name: dataclasses.asdict(rows[name].truth) for name in known}
    remarks = agreement(outcome, given[:len(known)])
    for name, row in zip(unknown, given[len(given) - len(unknown):]):
        figures[name] = by_tally(run, outcome, row)
        remarks.append(f"the {name} row is {whose(outcome)}'s count: netem reordered and duplicated at random "
                       "(or h2 missed datagrams the counters do not explain), so the lab has no count of its own")
    return figures, remarks, given[:len(given) - len(unknown)]


def by_tally(run, outcome, row: TallyCase) -> dict:
    """A row the lab cannot count itself, as the student's tally (or the reference's) counted it."""
    if outcome.by_student and row.status == DONE:
        return row.output
    return run.exercise.reference_value("tally", run.host("h2").netns, (row.sent, row.received))


def agreement(outcome, rows: list[TallyCase]) -> list[str]:
    """Whether the student's tally agrees with the lab on the rows it counted."""
    if not outcome.by_student:
        return []
    wrong = [row.where for row in rows if row.status != DONE or not row.truth.matches(row.output)]
    return [f"your tally disagrees with {', '.join(wrong)} (see the check)" if wrong
            else "your tally gives the same counts for every row"]


def lines(rows: dict[str, TallyCase], figures: dict[str, dict], again: int, tcp_took: float,
          udp_took: float) -> list[str]:
    """The table's header and one line per row: again is TCP's resends, UDP has none."""
    resends = {"TCP": again, "UDP": 0, "UDP, late + twice": 0}
    took = {"TCP": tcp_took, "UDP": udp_took, "UDP, late + twice": None}
    shown = [f"{'':17} {'sent':>4} {'delivered':>9} {'lost':>4} {'duplicated':>10} "
             f"{'out of order':>12} {'resent':>6} {'time':>7}"]
    for name in ROWS:
        seconds = f"{took[name] * 1000:.0f} ms" if took[name] is not None else ""
        row = [figures[name].get(key, "?") for key in TALLY_KEYS]
        shown.append(f"{name:<17} {rows[name].sent:>4} {row[0]:>9} {row[1]:>4} {row[2]:>10} {row[3]:>12} "
                     f"{resends[name]:>6} {seconds:>7}".rstrip())
    return shown


def losses(plan: Plan, tcp: TcpResult, udp: UdpResult, rows: dict[str, TallyCase], again: int,
           h1_segments: int, wait: float) -> list[str]:
    """What the loss figures under the table mean, one note each: nft's drops against
    the rows' losses, and TCP's resends against its drops."""
    first = h1_segments - again
    said = [f"nft at h2's door dropped {tcp.dropped} of the {first} TCP data segments h1 sent for the "
            f"first time ({percent(tcp.dropped, first)}) and {udp.dropped} of the {plan.messages} "
            f"datagrams ({percent(udp.dropped, plan.messages)})"]
    if rows["UDP"].truth is not None:
        said.append(f"UDP: {rows['UDP'].truth.lost} lost: the rule dropped {udp.dropped}"
                    + (f", h2's socket {udp.buffer_drops} (receive buffer full)" if udp.buffer_drops else
                       ", each loss is one of the rule's drops"))
    unfinished = "" if tcp.complete else f" (NOT complete after {wait:g} s)"
    said.append(f"TCP: the rule dropped {tcp.dropped} segments, h1 sent {again} again, and h2's application "
                f"got {rows['TCP'].truth.delivered} messages, in order{unfinished}")
    if tcp.dropped is not None and again > tcp.dropped:
        said.append(f"({again - tcp.dropped} resent without a loss: a tail loss probe, or a segment h1 judged "
                    "lost when it was only late)")
    if not tcp.complete or not udp.complete:
        said.append(f"the lab stopped waiting after {wait:g} s")
    return said


def stream_note(plan: Plan, split, pieces: list[SplitCase]) -> str:
    """The experiment's stream as split_messages saw it, piece by piece."""
    messages = sum(len(piece.truth[0]) for piece in pieces)
    text = (f"the experiment's TCP stream, read {plan.chunk} bytes at a time: {len(pieces)} pieces, "
            f"each after the rest of the one before, {messages} messages in all")
    if split.by_student:
        right = sum(piece.status == DONE and piece.output == piece.truth for piece in pieces)
        text += f"; your split_messages split {right} of the {len(pieces)} pieces right"
    return text


def percent(part, whole) -> str:
    return f"{100 * part / whole:.1f} %" if part is not None and whole else "?"
