"""What a TODO must return, declared by its lab and checked by the engine for every lab.

Kinds are written as Python annotations, the way the exercise's signatures read:
`str`, `int`, `bool`, `bytes`, `str | None`, `tuple[str, str]`, `list[bytes]`,
`set[str]`, `dict[str, int]`, plus `Frame(ARP)` for a scapy packet holding given
layers. Types are exact: `True` is not an `int`, `1` is not a `bool`, and a subclass
of `str` is not a `str`, so no value the student made can answer a comparison with
its own code.
"""
from __future__ import annotations

import types
import typing
from dataclasses import dataclass


@dataclass(frozen=True, init=False)
class Frame:
    """A scapy packet (dissected again by the lab from its bytes) holding these layers."""

    layers: tuple

    def __init__(self, *layers):
        object.__setattr__(self, "layers", layers)

    def __str__(self) -> str:
        return "a scapy packet " + " / ".join(f"{layer.__name__}(...)" for layer in self.layers)


def name(kind) -> str:
    """How the kind reads in a hint: 'tuple[str, str]', 'str | None'."""
    if isinstance(kind, Frame):
        return str(kind)
    if kind is None or kind is type(None):
        return "None"
    if isinstance(kind, type) and typing.get_origin(kind) is None:
        return kind.__name__
    return str(kind).replace("typing.", "").replace("NoneType", "None")


def got(value) -> str:
    """What a value is, for a hint: 'a MyEq object', 'int 1', 'tuple of 3 items'."""
    kind = type(value)
    if value is None:
        return "None"
    if kind in (bool, int, float):
        return f"{kind.__name__} {value!r}"
    if kind in (str, bytes):
        shown = repr(value) if len(value) <= 40 else repr(value[:37]) + "..."
        return f"{kind.__name__} {shown}"
    if kind in (tuple, list, dict):
        return f"{kind.__name__} of {len(value)} item{'s' * (len(value) != 1)}"
    return f"a {kind.__name__} object"


def problem(value, kind) -> str | None:
    """None if value is of kind, else what is wrong, in words a student reads."""
    wrong = _mismatch(value, kind)
    return None if wrong is None else f"returned {wrong}; wanted {name(kind)}"


def _mismatch(value, kind) -> str | None:
    if isinstance(kind, Frame):
        from scapy.packet import Packet
        if not isinstance(value, Packet):
            return got(value)
        missing = [layer.__name__ for layer in kind.layers if layer not in value]
        return f"{value.summary()}, without {', '.join(missing)}" if missing else None
    if kind is None or kind is type(None):
        return None if value is None else got(value)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if any(_mismatch(value, option) is None for option in args):
            return None
        return got(value)
    if origin is None:
        return None if type(value) is kind else got(value)
    if type(value) is not origin:
        return got(value)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            return f"a tuple of {len(value)} item{'s' * (len(value) != 1)}"
        pairs = zip(value, args)
    elif origin in (tuple, list, set, frozenset) and args:
        pairs = ((item, args[0]) for item in value)
    elif origin is dict and args:
        pairs = [pair for key, item in value.items() for pair in ((key, args[0]), (item, args[1]))]
    else:
        pairs = ()
    for item, inner in pairs:
        wrong = _mismatch(item, inner)
        if wrong is not None:
            return f"{got(value)} holding {wrong}"
    return None
