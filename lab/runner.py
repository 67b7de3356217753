"""One run of a lab: build the network, run the scenario, capture, grade, tear down.

Everything the run makes lives in its private network namespace or is a child process
listed in the registry, and the teardown sits in `finally` blocks, so a run that ends
by a failed check, an exception, a timeout, Ctrl-C or SIGTERM leaves nothing behind
(SIGKILL is covered by the namespace itself).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import topology
from .capture import Capture, Frame, owned_by_caller, ports_path
from .definition import FAIL, NOT_DONE, PASS, Lab, Verdict
from .exchange import WAIT, Exchange, exchange
from .exercise import DONE, RAISED, TIMEOUT, TODO, WRONG, Exercise, Outcome
from .firewall import Firewall
from .netns import entered, netns_path
from .network import Network
from .paths import shown
from .registry import RunRecord, clean
from .sandbox import Sandbox
from .port import HostPort
from .wire import IP, TCP, UDP, Wire


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, turned into an exception so every finally block runs."""


def _interrupt(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


@dataclass
class Step:
    """A stretch of the scenario with its explanation, its notes and its frames.

    With ladder=(left, right), the report draws the segments between those two hosts
    as arrows, with each host's socket states (recorded by Run.state) beside them;
    with three hosts or more, one column per host and an arrow for every hop between
    any two of them.
    """

    title: str
    text: str
    start: float
    end: float = 0.0
    notes: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    ladder: tuple[str, ...] | None = None
    draw: bool = True  # False: the frames are counted, not drawn (the same exchange again)
    states: list[tuple[float, str, str]] = field(default_factory=list)


class HostHandle:
    """One Mininet host as a lab sees it: names, addresses, its kernel and its wire."""

    def __init__(self, node):
        self.node = node
        self.name = node.name
        self.netns = netns_path(node.shell.pid)
        self.kernel = node.kernel  # the netlink view that configured the host reads and writes it
        interface = node.defaultIntf()
        self.interface = interface.name
        link = interface.link
        self.switch_port = (link.intf2 if link.intf1 is interface else link.intf1).name
        self.ip = node.IP()
        self.mac = self.kernel.link(self.interface).mac
        # every interface's MAC: a router's frames on each of its links are its own
        self.macs = [link.mac for link in self.kernel.links() if link.name != "lo"]
        self._port: HostPort | None = None
        self._firewall: Firewall | None = None
        self._sockets: list[socket.socket] = []

    @property
    def port(self) -> HostPort:
        """A raw socket on the host's interface, opened on first use."""
        if self._port is None:
            self._port = HostPort(self.netns, self.interface)
        return self._port

    @property
    def firewall(self) -> Firewall:
        """The lab's nft table in this host, made on first use."""
        if self._firewall is None:
            self._firewall = Firewall(self.netns)
        return self._firewall

    def socket(self, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """An IPv4 socket of this host's kernel (opened in its namespace), for a lab's peer."""
        with entered(self.netns):
            sock = socket.socket(socket.AF_INET, kind)
        self._sockets.append(sock)
        return sock

    def tcp_states(self, port: int) -> list[str]:
        """States of this host's TCP sockets with port at either end, listener first."""
        found = [s for s in self.kernel.sockets("tcp") if port in (s.local[1], s.remote[1])]
        return [s.state for s in sorted(found, key=lambda s: s.state != "LISTEN")]

    def cmd(self, *args) -> str:
        return self.node.cmd(*args)

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        if self._firewall is not None:
            self._firewall.close()
        if self._port is not None:
            self._port.close()


def with_checksums(packet) -> bytes:
    """The frame's bytes with its IP and TCP/UDP checksums computed.

    Hosts compute their checksums in software (network.checksums_in_software), but a
    kernel that kept its offload would leave a partial one in the frame; sent again as
    it was, the receiver would drop it as corrupt.
    """
    packet = packet.copy()  # the wire's dissected frames are shared
    for layer in (IP, TCP, UDP):
        if layer in packet:
            del packet[layer].chksum
    return bytes(packet)


class Run:
    """What a lab's scenario works with."""

    def __init__(self, lab: Lab, exercise: Exercise, network: Network, capture: Capture,
                 rng: random.Random):
        self.lab = lab
        self.rng = rng  # every value a lab draws comes from here, so --seed replays a run
        self.capture = capture
        self.exercise = exercise
        self.network = network
        self.evidence = lab.evidence()  # the scenario fills it in, the checks read it
        self.steps: list[Step] = []
        self.started = time.time()
        self.hosts = {node.name: HostHandle(node) for node in network.hosts}

    def host(self, name: str) -> HostHandle:
        return self.hosts[name]

    @contextlib.contextmanager
    def step(self, title: str, text: str = "", ladder: tuple[str, ...] | None = None, draw: bool = True):
        """Group what happens in the block under one numbered heading of the report;
        draw=False: its frames are only counted there (they are in the capture)."""
        unknown = [name for name in ladder or () if name not in self.hosts]
        if ladder is not None and (len(ladder) < 2 or unknown):
            raise ValueError(f"ladder={ladder!r}: name two or more of the hosts {', '.join(self.hosts)}")
        current = Step(title, text, time.time(), ladder=ladder, draw=draw)
        self.steps.append(current)
        try:
            yield current
        finally:
            current.end = time.time()
            self.capture.collect()

    def introduce(self, *hosts: HostHandle) -> None:
        """Write each host's MAC into the others' ARP tables (permanent entries, over
        netlink), so that no ARP question comes between the frames a lab is about."""
        for host in hosts:
            for other in hosts:
                if other is not host:
                    host.kernel.set_neighbour(other.ip, other.mac, host.interface)

    def note(self, line: str) -> None:
        self.steps[-1].notes.append(line)

    def state(self, host: HostHandle, text: str, at: float | None = None) -> None:
        """Record what host's kernel says (a socket state, usually) at this moment, or at
        the Unix time `at` (a socket call the student's code made, say)."""
        self.steps[-1].states.append((time.time() if at is None else at, host.name, text))

    def event(self, text: str) -> None:
        """Record something the lab itself did, shown in the middle of a ladder."""
        self.steps[-1].states.append((time.time(), "", text))

    def wire(self) -> Wire:
        """Every frame captured so far."""
        self.capture.collect()
        return Wire(self.capture.frames)

    def hold(self, receiver: HostHandle, match: str, name: str) -> None:
        """Keep frames matching an nft expression from reaching receiver's kernel."""
        receiver.firewall.add(name, "input", match)
        self.event(f"the lab holds back, at {receiver.name}'s door: {match}")

    def release(self, receiver: HostHandle, name: str, wanted) -> bytes | None:
        """Stop holding, and deliver the last held frame for which wanted(packet) holds.

        The frame crossed the switch and was dropped at the receiver's door; the
        lab sends the same bytes again from the switch port, so the receiver's
        kernel gets exactly what it was kept from.
        """
        receiver.firewall.remove(name)
        held = [f for f in self.wire().frames
                if receiver.switch_port in f.interfaces and f.packet.dst == receiver.mac and wanted(f.packet)]
        if not held:
            return None
        frame = with_checksums(held[-1].packet)
        self.event(f"the lab delivers the held frame to {receiver.name}")
        with HostPort(f"/proc/{os.getpid()}/ns/net", receiver.switch_port) as port:
            port.send(frame)
        return frame

    def student(self, todo: str, host: HostHandle, *args, timeout: float = 2.0,
                extra: list[tuple] = ()) -> Outcome:
        """Call the student's todo(*args) as host; the reference stands in if needed.

        extra: more argument tuples for a pure function, graded as hidden cases; their
        results come back in Outcome.cases (see Exercise.call).
        """
        outcome = self.exercise.call(todo, host.netns, *args, timeout=timeout, extra=extra)
        self.steps[-1].outcomes.append(outcome)
        return outcome

    def exchange(self, todo: str, source: HostHandle, target: HostHandle | None, *args,
                 answer: Callable[[], Any], wait: float = WAIT, extra: list[tuple] = (),
                 fallback: bool = True) -> Exchange:
        """One exchange on the wire: the frame the student's todo(*args) builds goes out
        from source to target, and the lab polls answer() until it returns the answer.

        The engine checks the kind the student returned. When no answer comes (or
        answer() returns a Refusal), the reference's frame goes out instead, labelled,
        unless fallback is False. extra: hidden cases of the same call (Outcome.cases),
        never sent. See lab/exchange.py.
        """
        return exchange(self, todo, source, target, args, answer, wait, extra, fallback)

    def start(self, todo: str, host: HostHandle, *args, timeout: float = 2.0, trace: bool | str = False):
        """Start the student's todo(*args) as host without waiting; finish() collects it.
        trace=True records its socket calls (Outcome.calls); trace="sleep" time.sleep too."""
        return self.exercise.start(todo, host.netns, *args, timeout=timeout, trace=trace)

    def finish(self, pending) -> Outcome:
        outcome = pending.result()
        self.steps[-1].outcomes.append(outcome)
        return outcome

    def outcomes(self) -> dict[str, Outcome]:
        """The least successful outcome of each TODO that was called."""
        rank = {DONE: 0, TODO: 1, WRONG: 2, TIMEOUT: 3, RAISED: 4}
        worst: dict[str, Outcome] = {}
        for step in self.steps:
            for outcome in step.outcomes:
                if outcome.todo not in worst or rank[outcome.status] > rank[worst[outcome.todo].status]:
                    worst[outcome.todo] = outcome
        return worst

    def close(self) -> None:
        for host in self.hosts.values():
            host.close()


@dataclass
class Result:
    lab: Lab
    solution: bool
    steps: list[Step]
    frames: list[Frame]
    verdicts: list[Verdict]
    outcomes: dict[str, Outcome]
    capture: Path
    started: float
    hosts: dict[str, tuple[str, str]]  # name -> (ip, mac)
    timings: dict[str, float]
    seed: int
    ports_capture: Path | None = None  # every copy on every port, when asked for
    macs: dict[str, str] = field(default_factory=dict)  # every interface's MAC -> its host
    page: Path | None = None  # the report as a web page, once written (lab/page.py)

    @property
    def passed(self) -> bool:
        return all(v.status == PASS for v in self.verdicts)

    @property
    def student_errors(self) -> list[str]:
        return [o.detail for o in self.outcomes.values() if o.status in (RAISED, TIMEOUT, WRONG)]


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 1_000_000)


def execute(lab: Lab, *, solution: bool, capture_path: Path, exercise_path: Path | None = None,
            seed: int | None = None, sandbox: Sandbox | None = None, every_port: bool = False) -> Result:
    """Run lab once, end to end. The caller has checked root and entered a private netns.

    Every input the run draws (addresses, MACs, ports, payloads, the order of hidden
    cases) comes from one generator seeded with seed, so `--seed` replays a run.
    sandbox: the process student code runs in, if the caller started it early (it
    imports scapy while the lab imports the rest); closed here in any case.
    every_port: also write every copy of every frame on every switch port, beside the
    capture (capture.ports_path); the capture itself holds each frame once.
    """
    timings = {"start": time.perf_counter()}
    seed = new_seed() if seed is None else seed
    rng = random.Random(seed)
    topo = topology.load(lab.topology, lab.topology_args)
    topology.vary(topo, rng)
    clean()
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    record = RunRecord()
    try:
        with contextlib.ExitStack() as stack:
            exercise = Exercise(lab.exercise, lab.todos, lab.returns, solution, exercise_path, rng, sandbox)
            stack.callback(exercise.close)
            network = Network(topo)
            stack.callback(network.stop)
            for pid in network.pids():
                record.add_process(pid)
            capture = Capture(capture_path, network.switch_ports(), ports_path(capture_path) if every_port else None)
            stack.callback(capture.stop)
            capture.start()
            exercise.imported()
            run = Run(lab, exercise, network, capture, rng)
            stack.callback(run.close)
            # Stop capturing before the lab's sockets close: their goodbyes are not the lab's.
            stack.callback(capture.stop)
            timings["network"] = time.perf_counter()
            lab.scenario(run)
            timings["scenario"] = time.perf_counter()
    finally:
        record.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    timings["teardown"] = time.perf_counter()
    owned_by_caller(capture_path)
    if every_port:
        owned_by_caller(ports_path(capture_path))
    frames = capture.frames  # every copy on every port: Wire reads which ports a frame crossed
    outcomes = run.outcomes()
    verdicts = grade(lab, run.evidence, frames, outcomes, shown(exercise.path))
    timings["grade"] = time.perf_counter()
    hosts = {name: (h.ip, h.mac) for name, h in run.hosts.items()}
    macs = {mac: name for name, h in run.hosts.items() for mac in h.macs}
    return Result(lab, solution, run.steps, frames, verdicts, outcomes, capture_path,
                  run.started, hosts, timings, seed, ports_path(capture_path) if every_port else None, macs)


def grade(lab: Lab, evidence, frames: list[Frame], outcomes: dict[str, Outcome],
          exercise_file: str) -> list[Verdict]:
    """Each check's verdict, from its grade function, except where the student's code
    did not run or failed: then the engine's verdict, with the lab's hint if it has one."""
    wire = Wire(frames)
    verdicts = []
    for spec in lab.checks:
        outcome = outcomes.get(spec.todo)
        if outcome is None:
            verdicts.append(Verdict(spec.id, FAIL, "the scenario never reached this check"))
        elif outcome.status == TODO:
            verdicts.append(Verdict(spec.id, NOT_DONE, outcome.detail,
                                    f"write {spec.todo}() in {exercise_file}; the reference ran in its place"))
        elif outcome.status in (RAISED, TIMEOUT, WRONG):
            # The lab may know what the error means (accept() without listen(), ...).
            known = spec.grade(evidence, wire)
            if known.blocked_by:  # its call failed because another TODO's did: name that one
                verdicts.append(Verdict(spec.id, FAIL, f"{known.detail} ({outcome.detail})", known.hint,
                                        known.blocked_by))
                continue
            lab_hint = known.hint if known.status == FAIL else ""
            hint = outcome.hint or lab_hint or "fix the error above and run again"
            verdicts.append(Verdict(spec.id, FAIL, outcome.detail, hint))
        else:
            verdicts.append(dataclasses.replace(spec.grade(evidence, wire), id=spec.id))
    return verdicts
