"""concurrency: one server, many clients: served in turn, one thread per connection,
and event-driven; the kernel's accept queue filling, and SYNs dropped and sent again.

        h1   h3   h4   h5         the lab's clients, 2 in each host, started together
          \\   \\  /   /
               s1 --- h2          the student's server    (topologies/star.py, 5 hosts)

Each request waits DELAY for a slow backend before its reply, so the servers differ
without a loaded CPU. The lab's own clients (lab/labs/_concurrency_clients.py) time
each answer; meanwhile the lab reads h2's LISTEN socket (sock_diag), the server's
thread count (/proc/PID/task) and h2's ListenOverflows and ListenDrops. Grading reads
each connection from the capture (lab/labs/_concurrency_grading.py).
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field

from lab.exchange import poll
from lab.labs._concurrency_clients import Watch, netstat, visit_all
from lab.labs._concurrency_draw import LEGEND, axis, bars, ends
from lab.labs._concurrency_grading import (BLOCKED, DELAY, SPLIT, Trial, accepted_at, closed_by_code,
                                           judge_events, judge_in_turn, judge_queue, judge_threads, matched,
                                           queued)
from lab.labs._socket_steps_experiments import listening
from lab.definition import CheckSpec, Lab

CLIENT_HOSTS = ("h1", "h3", "h4", "h5")
PER_HOST = 2
BACKLOG = 2       # the served-in-turn server's: its accept queue holds 3
WIDE = 32         # the concurrent servers' backlog: every client fits
LATER = 1         # clients per host that come once the first ones are served (event-driven)
EXPONENTIAL = 8.0  # s the served-in-turn clients wait where SYN resends back off at once (1, 3, 7 s)
TRIALS = (  # (todo, evidence field, backlog, the clients' deadline in s)
    ("serve_in_turn", "in_turn", BACKLOG, 4.0),
    ("serve_threads", "threads", WIDE, 1.5),
    ("serve_events", "events", WIDE, 1.5),
)

INTRO = """\
One server, many clients. Served in turn, each client waits for every client before
it; with a thread per connection, or an event loop in one thread, they are served
at once. Each request waits for a slow backend (DELAY), so the difference shows
without a busy CPU. Before accept() the kernel has already finished each handshake
and queued the connection; when that accept queue is full, it drops new SYNs, and
the clients send them again a second later."""

TEXTS = {
    "serve_in_turn": "Your serve_in_turn() in h2 with listen(2): one client at a time. The lab's\n"
                     "clients all start now; the kernel finishes up to 3 handshakes, queues them\n"
                     "(backlog 2, plus one) while you serve the first, and drops the other SYNs.",
    "serve_threads": "Your serve_threads() in h2: a thread per connection, the same clients.",
    "serve_events": "Your serve_events() in h2: one thread, an event loop, the same clients; then\n"
                    "4 more once those are served: the loop goes on (on the same file descriptors).",
}


@dataclass
class Evidence:
    """What the scenario saw; the checks read the capture's connections against it."""

    server_ip: str = ""
    hosts: dict = field(default_factory=dict)   # name -> ip
    linear: int = -1     # net.ipv4.tcp_syn_linear_timeouts in the clients (-1: no such sysctl)
    in_turn: Trial = Trial()
    threads: Trial = Trial()
    events: Trial = Trial()


def scenario(run) -> None:
    hosts = {name: run.host(name) for name in ("h1", "h2", *CLIENT_HOSTS[1:])}
    h2, ev = hosts["h2"], run.evidence
    clients = [hosts[name] for name in CLIENT_HOSTS]
    ev.server_ip, ev.hosts = h2.ip, {name: host.ip for name, host in hosts.items()}
    ports = run.rng.sample(range(20000, 30000), len(TRIALS))
    with run.step("Set-up: the hosts know each other's MAC, so only TCP speaks"):
        run.introduce(*hosts.values())
        h2.kernel.sysctl("net.ipv4.tcp_syncookies", 0)  # a SYN the queues cannot take is dropped
        run.note("h2: net.ipv4.tcp_syncookies = 0, so a SYN that finds the queues full is "
                 "dropped, not answered with a cookie")
        ev.linear = syn_linear(hosts["h1"])
        run.note(f"{len(clients) * PER_HOST} clients ({PER_HOST} in each of "
                 f"{', '.join(CLIENT_HOSTS)}), backend {DELAY:g} s, ports {', '.join(map(str, ports))}")
    for (todo, name, backlog, deadline), port in zip(TRIALS, ports):
        title = {"in_turn": "Served in turn, listen(2)", "threads": "One thread per connection",
                 "events": "Event-driven, one thread"}[name]
        more = f", then {len(clients) * LATER} more" if todo == "serve_events" else ""
        with run.step(f"{title}: {len(clients) * PER_HOST} clients at once{more}", TEXTS[todo], draw=False):
            if todo == "serve_in_turn" and ev.linear < 3:  # SYNs resent at 1, 3, 7 s: room for the third
                deadline = EXPONENTIAL
            trial = one_trial(run, todo, h2, clients, port, backlog, deadline)
            setattr(ev, name, trial)
            for line in notes(ev, trial, run.wire()):
                run.note(line)
    with run.step("The three servers side by side: each client's time to its answer", LEGEND):
        wire = run.wire()
        trials = [(name, matched(getattr(ev, name), ev.server_ip, wire, ev.hosts)) for _, name, _, _ in TRIALS]
        scale = max((ends(pairs) for _, pairs in trials), default=1.0) or 1.0
        for (todo, name, backlog, deadline), (_, pairs) in zip(TRIALS, trials):
            run.note(f"{todo} (backlog {backlog}):")
            for line in bars(pairs, scale, deadline):
                run.note(f"  {line}")
            run.note(f"  {axis(scale)}")


def one_trial(run, todo: str, h2, clients, port: int, backlog: int, deadline: float) -> Trial:
    """The student's todo serving the clients in h2; the lab's clients; what was read."""
    before = netstat(h2.netns)
    rounds = [clients * PER_HOST] + ([clients * LATER] if todo == "serve_events" else [])
    words = [[draw_word(run.rng) for _ in hosts] for hosts in rounds]
    pending = run.start(todo, h2, h2.ip, port, backlog, sum(map(len, rounds)), timeout=deadline * len(rounds) + 0.5,
                        trace="sleep")
    listened = bool(poll(lambda: listening(h2, "tcp", port), 1.0))
    watch = Watch(h2, port, (run.exercise.sandbox.pid,), clients, queue=todo == "serve_in_turn")
    visits = ()
    for hosts, drawn in zip(rounds, words) if listened else ():
        pairs = [(host, f"WORK {word}") for host, word in zip(hosts, drawn)]
        visits += visit_all(pairs, h2.ip, port, deadline, SPLIT, tick=watch)
    outcome = run.finish(pending)
    after = netstat(h2.netns)
    blocking = tuple((call[3] if call[2] == "sleep" else f"{call[2]}()", call[1] - call[0])
                     for call in outcome.calls if call[1] - call[0] >= BLOCKED) if todo == "serve_events" else ()
    return Trial(todo, port, backlog, listened, visits, tuple(watch.threads), watch.fullest,
                 after.get("ListenOverflows", 0) - before.get("ListenOverflows", 0),
                 after.get("ListenDrops", 0) - before.get("ListenDrops", 0), blocking,
                 closed_by_code(outcome.calls), accepted_at(outcome.calls),
                 "" if outcome.status in ("done", "todo") else outcome.detail)


def draw_word(rng) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 8)))


def syn_linear(host) -> int:
    try:
        return int(host.kernel.sysctl("net.ipv4.tcp_syn_linear_timeouts"))
    except (OSError, ValueError):
        return -1


def notes(ev: Evidence, trial: Trial, wire) -> list[str]:
    """What the lab saw of one server: its time, its threads, the accept queue."""
    pairs = matched(trial, ev.server_ip, wire, ev.hosts)
    answered = [v for v, _ in pairs if v.answered]
    out = [f"{len(answered)} of {len(pairs)} clients answered; the last "
           f"{ends(pairs):.2f} s after the first connect()"]
    out += [f"{v.host}:{v.port} {v.error}" for v, _ in pairs if v.error]
    if trial.threads:
        out.append(f"threads in the server's process: up to {max(trial.threads)} "
                   "(/proc/PID/task, read while it served)")
    if trial.todo != "serve_in_turn":
        return out
    queue = trial.queue
    out.append(f"h2's LISTEN socket at its fullest: rqueue {queue.waiting} (handshakes done, "
               f"waiting for accept), wqueue {queue.backlog} (the backlog)")
    out.append(f"the clients' sockets then: {queue.established} ESTABLISHED (served or waiting "
               f"for accept()), {queue.syn_sent} SYN_SENT (their SYN dropped)")
    waits = queued(trial, pairs)
    if waits:
        out.append(f"accept() took each connection {min(waits):.2f} to {max(waits):.2f} s after the "
                   "kernel had finished its handshake")
    out.append(f"h2's /proc/net/netstat: ListenOverflows +{trial.overflows}, ListenDrops +{trial.drops}")
    if trial.drops > trial.overflows:
        out.append(f"(ListenDrops counts {trial.drops - trial.overflows} more: SYNs that came while "
                   "half-open handshakes filled the SYN queue, as long as the backlog)")
    rounds: dict[int, list[float]] = {}
    for _, line in pairs:
        for k, syn in enumerate(line.syns[1:], 1):
            rounds.setdefault(k, []).append(syn - line.syns[k - 1])
    for k, gaps in sorted(rounds.items()):
        after = f"{min(gaps):.2f}" if max(gaps) - min(gaps) < 0.005 else f"{min(gaps):.2f} to {max(gaps):.2f}"
        out.append(f"SYN resent, round {k}: by {len(gaps)} client{'s' if len(gaps) > 1 else ''}, "
                   f"{after} s after the SYN before")
    if ev.linear > 0:
        out.append(f"(this kernel waits 1 s before each of the first {ev.linear} resends: "
                   "net.ipv4.tcp_syn_linear_timeouts; without it 1 s, 2 s, 4 s ...)")
    else:
        out.append("(the wait doubles each time: resent 1 s, 3 s, 7 s after the first SYN)")
    return out


def grade_turn(ev: Evidence, wire):
    return judge_in_turn(ev.in_turn, matched(ev.in_turn, ev.server_ip, wire, ev.hosts))


def grade_queue(ev: Evidence, wire):
    return judge_queue(ev.in_turn, matched(ev.in_turn, ev.server_ip, wire, ev.hosts))


def grade_threads(ev: Evidence, wire):
    return judge_threads(ev.threads, matched(ev.threads, ev.server_ip, wire, ev.hosts))


def grade_events(ev: Evidence, wire):
    return judge_events(ev.events, matched(ev.events, ev.server_ip, wire, ev.hosts))


LAB = Lab(
    name="concurrency",
    title="One server, many clients: in turn, with threads, event-driven",
    topology="star",
    topology_args=(5,),
    exercise="concurrency",
    todos=("serve_in_turn", "serve_threads", "serve_events"),
    returns={"serve_in_turn": int, "serve_threads": int, "serve_events": int},
    checks=(
        CheckSpec("turn", "serve_in_turn", "in turn: every client answered, one at a time, then FIN",
                  grade_turn),
        CheckSpec("queue", "serve_in_turn", "in turn: the accept queue fills, SYNs dropped and resent",
                  grade_queue),
        CheckSpec("threads", "serve_threads", "threads: every client answered at once, then FIN",
                  grade_threads),
        CheckSpec("events", "serve_events", "event-driven: at once, in one thread, then FIN",
                  grade_events),
    ),
    intro=INTRO,
    scenario=scenario,
    evidence=Evidence,
)
