"""concurrency's grading, check by check, on clients and connections made up by hand:
the right shapes pass, and each typical mistake fails with its own hint. No root."""
from __future__ import annotations

import dataclasses

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.capture import Frame
from lab.definition import FAIL, PASS
from lab.labs import concurrency as lab
from lab.labs._concurrency_clients import Queue, Visit
from lab.labs._concurrency_draw import WIDTH, axis, bars, ends
from lab.labs._concurrency_grading import (DELAY, Line, Trial, accepted_at, closed_by_code, expected, judge_events,
                                           judge_in_turn, judge_queue, judge_threads, lines, matched)
from lab.wire import Wire

SERVER, PORT = "10.9.0.2", 25000
HOSTS = {"h1": "10.9.0.1", "h2": SERVER, "h3": "10.9.0.3"}
T0 = 1000.0


def client(i: int, reply_at: float, request_at: float = 0.01, resent: int = 0, fin_after: float = 0.001,
           word: str = "tomato") -> tuple[Visit, Line]:
    """Client i: its SYN at T0 (and resent ones 1 s apart), its request line, the reply."""
    host = ("h1", "h3")[i % 2]
    visit = Visit(host, 40000 + i, f"WORK {word}", T0, T0 + 0.001 + resent, T0 + reply_at,
                  expected(f"WORK {word}"), T0 + reply_at + fin_after)
    line = Line((HOSTS[host], 40000 + i), [T0 + k for k in range(resent + 1)], T0 + request_at + resent,
                T0 + reply_at, (expected(f"WORK {word}") + "\n").encode(), T0 + reply_at + fin_after,
                T0 + reply_at + fin_after + 0.001)
    return visit, line


def trial(pairs, **fields) -> Trial:
    closed = tuple(line.client for _, line in pairs)
    base = Trial("serve_x", PORT, 2, True, tuple(v for v, _ in pairs), threads=(1, 1), closed=closed)
    return dataclasses.replace(base, **fields)


def in_turn(k: int = 8) -> list:
    return [client(i, 0.01 + DELAY * (i + 1)) for i in range(k)]


def together(k: int = 8) -> list:
    return [client(i, 0.01 + DELAY + 0.002 * i) for i in range(k)]


def test_the_protocol_reverses_the_word():
    assert expected("WORK tomato") == "DONE otamot"


def test_served_in_turn_passes_and_served_at_once_fails_the_turn_check():
    pairs = in_turn()
    assert judge_in_turn(trial(pairs), pairs).status == PASS
    verdict = judge_in_turn(trial(together()), together())
    assert verdict.status == FAIL and "accept one client" in verdict.hint


def test_nothing_listening_fails_every_check():
    pairs = in_turn()
    for judge in (judge_in_turn, judge_queue, judge_threads, judge_events):
        verdict = judge(trial(pairs, listened=False), pairs)
        assert verdict.status == FAIL and "create_server" in verdict.hint


def test_a_starved_client_fails_and_no_answer_at_all_says_answer_each_request():
    pairs = in_turn()
    visit, line = pairs[-1]
    starved = pairs[:-1] + [(visit, dataclasses.replace(line, reply=None, reply_data=b""))]
    verdict = judge_in_turn(trial(starved), starved)
    assert verdict.status == FAIL and "1 of 8 clients got no answer" in verdict.detail
    assert "serve all the clients" in verdict.hint
    silent = [(v, dataclasses.replace(line, reply=None, reply_data=b"")) for v, line in pairs]
    assert "sendall()" in judge_threads(trial(silent), silent).hint


def test_a_made_up_reply_and_a_half_read_line_have_their_own_hints():
    pairs = together()
    visit, line = pairs[0]
    made_up = [(visit, dataclasses.replace(line, reply_data=b"DONE ok\n"))] + pairs[1:]
    assert "backwards" in judge_threads(trial(made_up), made_up).hint
    half = [(visit, dataclasses.replace(line, reply_data=b"DONE \n"))] + pairs[1:]
    assert "read until the newline" in judge_threads(trial(half), half).hint


def test_a_reply_sooner_than_the_backend_fails():
    pairs = [client(i, 0.05) for i in range(8)]
    verdict = judge_threads(trial(pairs, threads=(9,)), pairs)
    assert verdict.status == FAIL and "sooner than the backend" in verdict.detail and "backend(request)" in verdict.hint


def test_a_connection_the_client_closed_first_or_the_code_never_closed_fails():
    pairs = together()
    visit, line = pairs[0]
    late = [(visit, dataclasses.replace(line, fin_client=line.reply + 0.3, fin_server=line.reply + 0.31))] + pairs[1:]
    verdict = judge_threads(trial(late, threads=(9,)), late)
    assert verdict.status == FAIL and "the client closed first" in verdict.detail and "FIN" in verdict.hint
    freed = judge_threads(trial(pairs, threads=(9,), closed=()), pairs)
    assert freed.status == FAIL and "never close()d" in freed.detail and "with conn:" in freed.hint


def test_threads_pass_at_once_and_a_join_after_each_start_gets_the_join_hint():
    assert judge_threads(trial(together(), threads=(1, 9)), together()).status == PASS
    joined = judge_threads(trial(in_turn(), threads=(1, 2)), in_turn())
    assert joined.status == FAIL and "join() waits" in joined.hint and "one after another" in joined.detail
    no_thread = judge_threads(trial(in_turn(), threads=(1,)), in_turn())
    assert "threading.Thread" in no_thread.hint
    one = judge_threads(trial(together(), threads=(1,)), together())
    assert one.status == FAIL and "never had more than 1 thread" in one.detail


def test_the_event_loop_passes_in_one_thread_and_fails_with_more():
    assert judge_events(trial(together()), together()).status == PASS
    verdict = judge_events(trial(together(), threads=(1, 2)), together())
    assert verdict.status == FAIL and "2 threads" in verdict.detail and "start_server the ip" in verdict.hint
    assert judge_events(trial(together(), threads=()), together()).status == FAIL
    # Threads that block each in turn do not hold a loop up: the threads are the finding.
    threaded = judge_events(trial(together(), threads=(1, 9), blocking=(("time.sleep(0.15)", 0.15),) * 8),
                            together())
    assert threaded.detail == "the server's process had up to 9 threads" and "no threading" in threaded.hint


def test_a_blocked_event_loop_names_the_call_that_blocked():
    slept = trial(in_turn(), blocking=(("time.sleep(0.15)", 0.15),) * 8)
    verdict = judge_events(slept, in_turn())
    assert verdict.status == FAIL and "time.sleep(0.15) blocked the event loop 8 times" in verdict.hint
    assert verdict.detail == "8 calls held the loop up; the clients waited up to 1.20 s for their reply"
    assert "asyncio.sleep" in verdict.hint
    received = judge_events(trial(together(), blocking=(("recv()", 0.08),)), together())
    assert received.status == FAIL and "recv() blocked the event loop 1 times" in received.hint
    unknown = judge_events(trial(in_turn()), in_turn())
    assert unknown.status == FAIL and "something in the loop waits" in unknown.hint


def test_a_selector_that_keeps_closed_sockets_gets_the_unregister_hint():
    error = "serve_events() line 9 in serve_events: KeyError: '<socket> (FD 7) is already registered'"
    verdict = judge_events(trial(together(), error=error), together())
    assert verdict.status == FAIL and "unregister()" in verdict.hint


def test_the_accept_queue_check_reads_the_backlog_the_wait_for_accept_and_the_resent_syns():
    pairs = [client(i, 0.01 + DELAY * (i + 1) + (1 if i >= 4 else 0), resent=1 if i >= 4 else 0)
             for i in range(8)]
    full = Queue(3, 2, T0 + 0.01, 4, 4)
    late = tuple((line.client, visit.answered - DELAY) for visit, line in pairs)  # accept(), then the backend
    passing = judge_queue(trial(pairs, queue=full, overflows=4, drops=4, accepted=late), pairs)
    assert passing.status == PASS and "connections waited for accept()" in passing.detail
    wrong_backlog = judge_queue(trial(pairs, queue=Queue(3, 128), overflows=4, drops=4, accepted=late), pairs)
    assert wrong_backlog.status == FAIL and "backlog=backlog" in wrong_backlog.hint
    at_once = tuple((line.client, visit.connected + 0.001) for visit, line in pairs)
    everyone_first = judge_queue(trial(pairs, queue=Queue(1, 2), overflows=4, drops=4, accepted=at_once), pairs)
    assert everyone_first.status == FAIL and "accept queue" in everyone_first.hint
    assert everyone_first.detail.startswith("0 connections waited")
    assert judge_queue(trial(pairs, queue=Queue(2, 2), drops=3, accepted=late), pairs).status == PASS
    no_drop = judge_queue(trial(pairs, queue=full, overflows=0, drops=0, accepted=late), pairs)
    assert no_drop.status == FAIL and "no SYN was dropped" in no_drop.detail


def test_accepted_at_reads_when_accept_returned_each_client():
    calls = [(1.0, 1.1, "accept", "TCP from ('10.9.0.1', 40000)", 1, 7),
             (1.2, 1.3, "accept", "TCP raised Resource temporarily unavailable", 1),
             (1.4, 1.5, "recv", "TCP", 7)]
    assert accepted_at(calls) == ((("10.9.0.1", 40000), 1.1),)


def test_closed_by_code_ties_each_close_to_the_connection_accept_gave():
    calls = [(1.0, 1.1, "accept", "TCP from ('10.9.0.1', 40000)", 1, 7),
             (1.2, 1.2, "accept", "TCP from ('10.9.0.3', 40001)", 1, 8),
             (1.3, 1.3, "close", "TCP", 7),
             (1.4, 1.4, "close", "TCP raised Bad file descriptor", 8),
             (1.5, 1.5, "sleep", "time.sleep(0.15)", 0)]
    assert closed_by_code(calls) == (("10.9.0.1", 40000),)


def test_closed_by_code_follows_a_socket_id_python_reused_while_accept_waited():
    """A thread closes (and frees) client 1's socket while accept() waits for client 2,
    which then gets the same id."""
    calls = [(1.0, 1.1, "accept", "TCP from ('10.9.0.1', 40000)", 1, 7),
             (1.15, 1.6, "accept", "TCP from ('10.9.0.3', 40001)", 1, 7),
             (1.3, 1.3, "close", "TCP", 7),
             (1.7, 1.7, "close", "TCP", 7)]
    assert closed_by_code(calls) == (("10.9.0.1", 40000), ("10.9.0.3", 40001))


def segment(up: bool, flags: str, at: float, data: bytes = b"", cport: int = 40000) -> Frame:
    src, dst, sport, dport = (HOSTS["h1"], SERVER, cport, PORT) if up else (SERVER, HOSTS["h1"], PORT, cport)
    packet = Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=int(at * 1000)) / data
    return Frame(at, "s1-eth1", bytes(packet))


def test_lines_reads_syns_the_request_the_reply_and_who_closed_first_from_the_wire():
    frames = [segment(True, "S", T0), segment(True, "S", T0 + 1), segment(False, "SA", T0 + 1.001),
              segment(True, "PA", T0 + 1.002, b"WORK "), segment(True, "PA", T0 + 1.08, b"tomato\n"),
              segment(False, "PA", T0 + 1.23, b"DONE otamot\n"), segment(False, "FA", T0 + 1.231),
              segment(True, "FA", T0 + 1.232)]
    line = lines(Wire(frames), SERVER, PORT)[(HOSTS["h1"], 40000)]
    assert line.syns == [T0, T0 + 1] and line.request == T0 + 1.08 and line.reply == T0 + 1.23
    assert line.reply_data == b"DONE otamot\n" and line.fin_server < line.fin_client
    visit = Visit("h1", 40000, "WORK tomato", T0)
    assert matched(Trial(port=PORT, visits=(visit,)), SERVER, Wire(frames), HOSTS)[0][1] is not None


def test_the_bars_fit_80_columns_and_mark_resent_syns_and_missing_replies():
    pairs = [client(i, 0.2 + i, resent=i) for i in range(3)]
    visit, line = pairs[2]
    pairs[2] = (dataclasses.replace(visit, answered=None, connected=None), line)
    rows = bars(pairs, ends(pairs), deadline=4.0)
    assert len(rows) == 3 and all(len(f"     {row}") <= 80 for row in rows)
    assert rows[1].count("S") == 1 and rows[2].endswith("| none") and "x" in rows[2]
    assert len(axis(2.3)) <= 80 - 5 and axis(2.3).rstrip().endswith("2.3 s")
    assert all(row.index("|") + WIDTH + 1 == row.rindex("|") for row in rows)


def test_the_lab_declares_four_checks_on_three_servers():
    assert [c.id for c in lab.LAB.checks] == ["turn", "queue", "threads", "events"]
    assert lab.LAB.todos == ("serve_in_turn", "serve_threads", "serve_events")
    assert lab.Evidence().in_turn == Trial()


def test_the_exercise_the_reference_and_the_grader_wait_the_same_delay():
    """The backend's wait is written in three files (a student's copy replaces the
    exercise's): a change to one alone would fail the reference or mislead the student."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    for path in (root / "exercises" / "concurrency.py", root / "solutions" / "concurrency.py"):
        found = [node.value.value for node in ast.parse(path.read_text()).body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", "") == "DELAY" for t in node.targets)]
        assert found == [DELAY], path
