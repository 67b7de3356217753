"""The kinds a TODO may declare, checked exactly: no value the student made can pass
for another type, and the message names what came and what was wanted."""
from __future__ import annotations

import random
import typing

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from lab import kinds, topology
from lab.grading import CONSTANT_HINT, score
from lab.kinds import Frame
from lab.sandbox import DONE, RAISED


@pytest.mark.parametrize("value, kind", [
    ("a", str), (3, int), (True, bool), (b"x", bytes), (None, str | None), ("m", str | None),
    (("1.2.3.4", "aa"), tuple[str, str]), (([b"a"], b""), tuple[list[bytes], bytes]),
    ({"lost": 1}, dict[str, int]), ((1, 2, 3), tuple[int, ...]),
    (Ether() / ARP(), Frame(Ether, ARP)), (IP() / TCP(), Frame(IP, TCP)),
])
def test_right_kinds_pass(value, kind):
    assert kinds.problem(value, kind) is None


class Yes(str):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value, kind, words", [
    (1, bool, "returned int 1; wanted bool"),
    (True, int, "returned bool True; wanted int"),
    (Yes("x"), str, "returned a Yes object; wanted str"),
    (("a",), tuple[str, str], "returned a tuple of 1 item; wanted tuple[str, str]"),
    (("a", 1), tuple[str, str], "tuple of 2 items holding int 1"),
    ({"lost": "1"}, dict[str, int], "holding str '1'"),
    (0, str | None, "returned int 0; wanted str | None"),
    ("oops", Frame(IP, TCP), "returned str 'oops'; wanted a scapy packet IP(...) / TCP(...)"),
    (IP() / UDP(), Frame(IP, TCP), "without TCP"),
])
def test_wrong_kinds_name_what_came_and_what_was_wanted(value, kind, words):
    assert words in kinds.problem(value, kind)


def test_hidden_cases_are_counted_and_a_constant_is_named():
    truths = ["b", "c", "d"]
    right = score(True, (("done", "b"), ("done", "c"), ("done", "d")), truths)
    assert (right.right, right.total, right.wrong, right.constant) == (4, 4, None, False)
    constant = score(True, (("done", "a"), ("done", "a"), ("done", "a")), truths)
    assert constant.summary == "right in 1 of 4 cases" and constant.constant
    assert constant.wrong == (1, "a", "b") and "constant" in CONSTANT_HINT
    raised = score(False, (("raised", "line 3: KeyError"), ("done", "c"), ("done", "d")), truths)
    assert raised.right == 2 and raised.wrong[0] == 0 and not raised.constant


def test_a_run_draws_its_own_subnet_and_macs():
    def addresses(seed):
        topo = topology.load("star", [3])
        topology.vary(topo, random.Random(seed))
        return [(topo.nodeInfo(h)["ip"], topo.nodeInfo(h)["mac"]) for h in topo.hosts()]
    first, again, other = addresses(1), addresses(1), addresses(2)
    assert first == again != other
    assert len({ip.split("/")[0].rsplit(".", 1)[0] for ip, _ in first}) == 1  # still one subnet
    assert len({ip for ip, _ in first}) == 3 and [ip for ip, _ in first] != ["10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24"]
    assert all(ip.startswith("10.") and ip.endswith("/24") for ip, _ in first)
    assert all(int(mac[:2], 16) & 3 == 2 for _, mac in first)  # unicast, locally administered
    assert len({mac for _, mac in first}) == 3


def test_kinds_read_in_hints_as_the_lab_wrote_them():
    assert kinds.name(Frame(Ether, ARP)) == "a scapy packet Ether(...) / ARP(...)"
    assert Frame(IP, TCP).layers == (IP, TCP) and Frame(IP, TCP) == Frame(IP, TCP) != Frame(IP, UDP)
    assert kinds.name(list[bytes]) == "list[bytes]" and kinds.name(str | None) == "str | None"
    assert kinds.name(typing.Optional[str]) == "Optional[str]"
    assert kinds.name(typing.Tuple[str, None]) == "Tuple[str, None]"
    assert kinds.name(None) == kinds.name(type(None)) == "None"


@pytest.mark.parametrize("value, kind, message", [
    (None, str, "returned None; wanted str"),
    (1, None, "returned int 1; wanted None"),
    (1, type(None), "returned int 1; wanted None"),
    ("x", list[bytes], "returned str 'x'; wanted list[bytes]"),
    (("a", "b", "c"), tuple[str, str], "returned a tuple of 3 items; wanted tuple[str, str]"),
    (("a", "b"), tuple[str], "returned a tuple of 2 items; wanted tuple[str]"),
    ({"a", 1}, set[str], "returned a set object holding int 1; wanted set[str]"),
    ("x", typing.List, "returned str 'x'; wanted List"),
    ("a" * 40, int, f"returned str '{'a' * 40}'; wanted int"),
    ("a" * 41, int, f"returned str '{'a' * 37}'...; wanted int"),  # a hint stays one line
    (b"b" * 41, int, f"returned bytes b'{'b' * 37}'...; wanted int"),
])
def test_what_came_is_named_in_full_or_cut_short(value, kind, message):
    assert kinds.problem(value, kind) == message


@pytest.mark.parametrize("value, kind", [
    (None, None), (None, type(None)), (("a",), tuple[str]), ({"a", "b"}, set[str]), (["a", 1], typing.List),
    ((1, "a"), typing.Tuple),
])
def test_none_and_bare_kinds_are_kinds_too(value, kind):
    assert kinds.problem(value, kind) is None


def test_a_packet_without_the_layers_names_each_missing_one():
    assert kinds.problem(IP() / UDP(), Frame(IP, TCP, Raw)).endswith(
        ", without TCP, Raw; wanted a scapy packet IP(...) / TCP(...) / Raw(...)")
    assert kinds.problem(Ether() / ARP(), Frame(Ether, ARP)) is None


def test_a_pure_function_that_gives_no_answer_is_not_called_constant():
    raised = score(True, ((RAISED, "line 3: KeyError"), (RAISED, "line 3: KeyError")), ["b", "c"])
    assert not raised.constant and raised.right == 1
    assert raised.wrong == (1, "no answer: line 3: KeyError", "b")  # what it gave, in words
    same_truths = score(False, ((DONE, "a"), (DONE, "a")), ["b", "b"])
    assert not same_truths.constant and same_truths.wrong == (0, None, None)
