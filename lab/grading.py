"""Small pieces every lab's grade() uses: find what the student's code sent in the
capture, and turn the first mistake found into a verdict with its hint."""
from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from .definition import Verdict, failed
from .exchange import Sent
from .sandbox import DONE

LAB_FAULT = "this is a fault of the lab, not yours: please report it"


def sent_frame(sent: Sent, wire, shape: str):
    """(the captured copy of the student's frame, None) or (None, the verdict why not)."""
    if sent.problem:
        return None, failed(sent.problem, f"return a whole packet: {shape}")
    seen = wire.find(sent.data, after=sent.sent_at)
    if seen is None:
        return None, failed("the frame never appeared in the capture", LAB_FAULT)
    return seen, None


def first_mistake(detail: str, mistakes: list[tuple[bool, str]]) -> Verdict | None:
    """A failing verdict with the hint of the first mistake found, if any."""
    for wrong, hint in mistakes:
        if wrong:
            return failed(detail, hint)
    return None


def before(frames: list, moment: float | None) -> list:
    """The frames earlier than moment (all of them if moment is None)."""
    return [f for f in frames if moment is None or f.time < moment]


@dataclass(frozen=True)
class Cases:
    """How a pure function did on the live case and the hidden ones."""

    right: int
    total: int
    wrong: tuple | None   # the first case it got wrong: (index, what it gave, what was right)
    constant: bool        # one answer for cases whose right answers differ

    @property
    def summary(self) -> str:
        return f"right in {self.right} of {self.total} cases"


def score(live_right: bool, results: tuple, truths: list, same: Callable = operator.eq) -> Cases:
    """Score Outcome.cases (one (status, value) per hidden case) against their right
    answers, which the lab made itself when it made the case. Index 0 is the live case."""
    right, wrong, answers = int(live_right), None if live_right else (0, None, None), []
    for index, ((status, value), truth) in enumerate(zip(results, truths), 1):
        good = status == DONE and same(value, truth)
        right += good
        answers.append(repr(value) if status == DONE else None)
        if not good and wrong is None:
            wrong = (index, value if status == DONE else f"no answer: {value}", truth)
    constant = len(truths) > 1 and None not in answers and len(set(answers)) == 1 \
        and len({repr(t) for t in truths}) > 1
    return Cases(right, len(truths) + 1, wrong, constant)


CONSTANT_HINT = ("it gives the same answer whatever its arguments: compute the answer from them "
                 "instead of returning a constant")
