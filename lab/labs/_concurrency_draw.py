"""concurrency's timelines: one bar per client, the three servers on one time scale.

    h3:40122  |..S....S-----*                                  | 2.09 s

'.' the client's SYN is unanswered (SYN_SENT), 'S' its SYN sent again, '-' connected,
waiting for its reply, '*' the reply, 'x' no reply by the client's deadline.
"""
from __future__ import annotations

from lab.labs._concurrency_grading import Line

WIDTH = 50  # columns of a bar
LEGEND = ("'.' SYN sent, no answer yet   'S' SYN sent again   '-' connected, waiting "
          "for the reply   '*' the reply   'x' none")


def ends(pairs) -> float:
    """Seconds from the first client's start to the last client's end."""
    if not pairs:
        return 0.0
    start = min(v.started for v, _ in pairs)
    return max((v.answered or v.connected or v.started) - start for v, _ in pairs)


def bars(pairs, scale: float, deadline: float) -> list[str]:
    """One line per client, in the order they connected; scale: seconds the bar spans."""
    if not pairs:
        return []
    start = min(v.started for v, _ in pairs)
    per = max(scale, 0.001) / WIDTH
    column = lambda t: min(WIDTH - 1, max(0, int((t - start) / per)))  # noqa: E731
    rows = []
    for visit, line in sorted(pairs, key=lambda p: (p[0].answered or 1e18, p[0].started)):
        bar = [" "] * WIDTH
        connected = visit.connected or visit.answered
        stop = visit.answered or visit.connected or start + deadline
        for i in range(column(visit.started), column(connected or stop) + 1):
            bar[i] = "."
        if connected:
            for i in range(column(connected), column(stop) + 1):
                bar[i] = "-"
        for syn in _resent(line):
            bar[column(syn)] = "S"
        bar[column(stop)] = "*" if visit.answered else "x"
        took = f"{stop - start:.2f} s" if visit.answered else "none"
        rows.append(f"{visit.host}:{visit.port:<5} |{''.join(bar)}| {took}")
    return rows


def _resent(line: Line) -> list[float]:
    return line.syns[1:]


def axis(scale: float) -> str:
    """The time axis under the bars: 0 at the left edge, the scale's end at the right."""
    label = f"{scale:.1f} s"
    return f"{'':9}  0{'':{WIDTH - len(label) - 1}}{label}"
