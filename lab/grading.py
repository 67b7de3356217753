"""Small pieces every lab's grade() uses: find what the student's code sent in the
capture, and turn the first mistake found into a verdict with its hint."""
from __future__ import annotations

from .definition import FAIL, Verdict

LAB_FAULT = "this is a fault of the lab, not yours: please report it"


def sent_frame(check: str, ev: dict, wire, shape: str):
    """(the captured copy of the student's frame, None) or (None, the verdict why not).

    ev holds what the scenario recorded: 'problem' (why the returned value could not
    be sent), 'data' (the bytes sent) and 'sent_at'.
    """
    if ev["problem"]:
        return None, Verdict(check, FAIL, ev["problem"], f"return a whole packet: {shape}")
    seen = wire.find(ev["data"], after=ev["sent_at"])
    if seen is None:
        return None, Verdict(check, FAIL, "the frame never appeared in the capture", LAB_FAULT)
    return seen, None


def first_mistake(check: str, detail: str, mistakes: list[tuple[bool, str]]) -> Verdict | None:
    """A failing verdict with the hint of the first mistake found, if any."""
    for wrong, hint in mistakes:
        if wrong:
            return Verdict(check, FAIL, detail, hint)
    return None


def before(frames: list, moment: float | None) -> list:
    """The frames earlier than moment (all of them if moment is None)."""
    return [f for f in frames if moment is None or f.time < moment]
