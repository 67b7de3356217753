"""concurrency on real networks, as an instructor grades a class: the reference and a
selectors-based event loop pass; typical mistakes fail the check they make wrong, with
their hint; cheats fail; a server that never answers ends with a verdict, not a hang;
and tshark counts the same SYN retransmissions as the report."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, graded, lab, student_file

pytestmark = pytest.mark.root
REFERENCE = (ROOT / "solutions" / "concurrency.py").read_text()
ALL_PASS = {"turn": "pass", "queue": "pass", "threads": "pass", "events": "pass"}

SELECTORS = '''

def serve_events(ip, port, backlog, clients):
    """A selector loop: the backend's wait is a deadline the loop keeps."""
    import selectors
    chooser = selectors.DefaultSelector()
    listener = socket.create_server((ip, port), backlog=backlog)
    listener.setblocking(False)
    chooser.register(listener, selectors.EVENT_READ)
    lines, due, served = {}, [], 0
    while served < clients:
        wait = max(0.0, min(t for t, _ in due) - time.monotonic()) if due else None
        for key, _ in chooser.select(wait):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                conn.setblocking(False)
                chooser.register(conn, selectors.EVENT_READ)
                lines[conn] = b""
                continue
            conn = key.fileobj
            data = conn.recv(1024)
            lines[conn] += data
            if lines[conn].endswith(b"\\n") or not data:
                chooser.unregister(conn)
                due.append((time.monotonic() + DELAY, conn))
        for item in [d for d in due if d[0] <= time.monotonic()]:
            due.remove(item)
            conn = item[1]
            conn.send(reply_to(lines.pop(conn)))
            conn.close()
            served += 1
    chooser.close()
    listener.close()
    return served
'''


OTHER_STYLES = '''

def serve_in_turn(ip, port, backlog, clients):
    """The socket API's steps one by one, each connection closed by hand."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ip, port))
    listener.listen(backlog)
    for _ in range(clients):
        conn, _ = listener.accept()
        request = b""
        while b"\\n" not in request:
            chunk = conn.recv(64)
            if not chunk:
                break
            request += chunk
        conn.sendall(backend(request))
        conn.close()
    listener.close()
    return clients


def serve_threads(ip, port, backlog, clients):
    """A pool of threads as large as the crowd."""
    from concurrent.futures import ThreadPoolExecutor
    with socket.create_server((ip, port), backlog=backlog) as listener, ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(serve_one, listener.accept()[0])
    return clients


def serve_events(ip, port, backlog, clients):
    """asyncio's low-level socket calls, one task per connection."""
    async def main():
        loop = asyncio.get_running_loop()
        listener = socket.create_server((ip, port), backlog=backlog)
        listener.setblocking(False)

        async def one(conn):
            conn.setblocking(False)
            data = b""
            while not data.endswith(b"\\n"):
                chunk = await loop.sock_recv(conn, 1024)
                if not chunk:
                    break
                data += chunk
            await loop.sock_sendall(conn, await backend_async(data))
            conn.close()

        tasks = []
        for _ in range(clients):
            conn, _ = await loop.sock_accept(listener)
            tasks.append(asyncio.create_task(one(conn)))
        await asyncio.gather(*tasks)
        listener.close()
        return clients

    return asyncio.run(main())
'''

def run(tmp_path, code: str, *args: str) -> tuple[int, dict]:
    return graded("concurrency", student_file(tmp_path, code, "concurrency.py"), "--seed", "11", *args)


def changed(old: str, new: str, source: str = REFERENCE) -> str:
    assert old in source, old
    return source.replace(old, new)


def check(document: dict, id: str) -> dict:
    return next(c for c in document["checks"] if c["id"] == id)


def test_the_reference_passes_every_check(tmp_path):
    code, document = run(tmp_path, REFERENCE)
    assert code == 0 and document["status_of"] == ALL_PASS, [c for c in document["checks"] if c["status"] != "pass"]


def test_a_selector_loop_with_deadlines_passes(tmp_path):
    code, document = run(tmp_path, REFERENCE + SELECTORS)
    assert code == 0 and document["status_of"] == ALL_PASS, [c for c in document["checks"] if c["status"] != "pass"]


def test_other_correct_styles_pass_on_a_fresh_seed(tmp_path):
    """The socket API's steps by hand, a thread pool, asyncio's low-level socket calls;
    no --seed, so each run of the suite draws its own words, ports and timings."""
    code, document = graded("concurrency", student_file(tmp_path, REFERENCE + OTHER_STYLES, "concurrency.py"))
    assert code == 0 and document["status_of"] == ALL_PASS, [c for c in document["checks"] if c["status"] != "pass"]


def test_each_server_written_the_wrong_way_round_fails_its_check(tmp_path):
    """In turn with threads, threads with an event loop, the event loop with threads:
    each one's own check catches it, from the reply times and the thread count read in h2."""
    swapped = REFERENCE + """
with_threads, with_events = serve_threads, serve_events
serve_in_turn, serve_threads, serve_events = with_threads, with_events, with_threads
"""
    code, document = run(tmp_path, swapped)
    turn, threads, events = check(document, "turn"), check(document, "threads"), check(document, "events")
    assert code == 1 and turn["status"] == "fail" and "served at once" in turn["detail"], turn
    assert threads["status"] == "fail" and "never had more than 1 thread" in threads["detail"], threads
    assert events["status"] == "fail" and re.search(r"had up to \d+ threads", events["detail"]), events


def test_a_thread_server_joining_each_thread_before_the_next_accept_fails_with_the_join_hint(tmp_path):
    code, document = run(tmp_path, changed("            thread.start()\n",
                                           "            thread.start()\n            thread.join()\n"))
    threads = check(document, "threads")
    assert code == 1 and threads["status"] == "fail" and "join() waits" in threads["hint"], threads
    assert "served one after another" in threads["detail"]
    assert document["status_of"]["events"] == "pass"


def test_a_selector_loop_that_never_unregisters_fails_with_the_unregister_hint(tmp_path):
    code, document = run(tmp_path, REFERENCE + SELECTORS.replace("                chooser.unregister(conn)\n", ""))
    events = check(document, "events")
    assert code == 1 and events["status"] == "fail", events
    assert "already registered" in events["detail"] and "unregister()" in events["hint"], events


def test_a_thread_server_that_forgets_to_close_fails_even_though_python_frees_the_socket(tmp_path):
    code, document = run(tmp_path, changed("def serve_one(conn: socket.socket) -> None:\n    with conn:\n"
                                           "        conn.sendall(backend(read_request(conn)))",
                                           "def serve_one(conn: socket.socket) -> None:\n"
                                           "    conn.sendall(backend(read_request(conn)))"))
    threads = check(document, "threads")
    assert code == 1 and threads["status"] == "fail" and "never close()d" in threads["detail"], threads
    assert "with conn:" in threads["hint"]
    assert document["status_of"]["turn"] == "pass"


def test_an_event_loop_that_forgets_to_close_keeps_the_first_clients_waiting_for_its_fin(tmp_path):
    code, document = run(tmp_path, changed("        writer.close()\n        await writer.wait_closed()\n", ""))
    events = check(document, "events")
    assert code == 1 and events["status"] == "fail" and "the client closed first" in events["detail"], events
    assert "close() each connection" in events["hint"]


def test_an_event_loop_on_a_host_name_has_a_second_thread_and_the_hint_says_why(tmp_path):
    code, document = run(tmp_path, changed("asyncio.start_server(serve_client, ip, port, backlog=backlog)",
                                           "asyncio.start_server(serve_client, port=port, backlog=backlog)"))
    events = check(document, "events")
    assert code == 1 and events["status"] == "fail", events
    assert re.search(r"had up to [2-9] threads", events["detail"]), events  # getaddrinfo in a helper thread or two
    assert "give start_server the ip" in events["hint"]


def test_accepting_everyone_first_serves_in_turn_but_never_fills_the_accept_queue(tmp_path):
    code, document = run(tmp_path, changed("        for _ in range(clients):\n            conn, _ = listener.accept()\n"
                                           "            with conn:\n",
                                           "        for conn in [listener.accept()[0] for _ in range(clients)]:\n"
                                           "            with conn:\n"))
    queue = check(document, "queue")
    assert code == 1 and queue["status"] == "fail", queue
    assert queue["detail"].startswith("0 connections waited") and "handshake and accept()" in queue["detail"]
    assert "accept queue" in queue["hint"] and document["status_of"]["turn"] == "pass"


def test_time_sleep_in_the_event_loop_fails_with_a_hint_naming_it(tmp_path):
    code, document = run(tmp_path, changed("writer.write(await backend_async(request))",
                                           "writer.write(backend(request))"))
    events = check(document, "events")
    assert code == 1 and events["status"] == "fail", events
    assert "time.sleep(0.15) blocked the event loop" in events["hint"], events


def test_a_blocking_recv_in_the_selector_loop_fails_with_a_hint_naming_it(tmp_path):
    blocking = SELECTORS.replace("                conn.setblocking(False)\n                chooser.register(conn, "
                                 "selectors.EVENT_READ)\n                lines[conn] = b\"\"\n",
                                 "                lines[conn] = read_request(conn)\n"
                                 "                due.append((time.monotonic() + DELAY, conn))\n")
    assert blocking != SELECTORS
    code, document = run(tmp_path, REFERENCE + blocking)
    events = check(document, "events")
    assert code == 1 and events["status"] == "fail", events
    assert "recv() blocked the event loop" in events["hint"], events


def test_a_made_up_reply_fails(tmp_path):
    code, document = run(tmp_path, changed("    return f\"DONE {word[::-1]}\\n\".encode()",
                                           "    return b\"DONE ok\\n\""))
    turn = check(document, "turn")
    assert code == 1 and turn["status"] == "fail" and "backwards" in turn["hint"], turn


def test_a_reply_before_the_backend_is_done_fails(tmp_path):
    code, document = run(tmp_path, changed("def backend(request: bytes) -> bytes:\n    time.sleep(DELAY)",
                                           "def backend(request: bytes) -> bytes:\n    time.sleep(0.01)"))
    turn, threads = check(document, "turn"), check(document, "threads")
    assert code == 1 and turn["status"] == "fail" and "sooner than the backend" in turn["detail"], turn
    assert threads["status"] == "fail" and "backend(request)" in threads["hint"], threads


def test_a_server_that_never_answers_gets_a_verdict_in_bounded_time(tmp_path):
    silent = changed("                conn.sendall(backend(read_request(conn)))",
                     "                read_request(conn)\n                time.sleep(60)")
    started = time.monotonic()
    code, document = run(tmp_path, silent)
    assert time.monotonic() - started < 20
    turn = check(document, "turn")
    assert code == 1 and turn["status"] == "fail" and "did not return" in turn["detail"], turn
    assert "answer each request" in turn["hint"], turn
    assert document["status_of"]["threads"] == "pass"


def test_tshark_counts_the_syn_retransmissions_the_report_counts():
    folder = Path(tempfile.mkdtemp(prefix="lab-concurrency-"))
    try:
        capture = folder / "capture.pcapng"
        result = lab("check", "concurrency", "--solution", "--json", "--pcap", str(capture))
        document = json.loads(result.stdout)
        assert document["status"] == "passed", document["checks"]
        queue = next(c for c in document["checks"] if c["id"] == "queue")
        reported = int(re.search(r"(\d+) SYNs sent again", queue["detail"])[1])
        shown = subprocess.run(["tshark", "-r", str(capture), "-Y",
                                "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.analysis.retransmission",
                                "-T", "fields", "-e", "tcp.srcport"], capture_output=True, text=True, check=True)
        assert reported > 0 and len(shown.stdout.split()) == reported, (reported, shown.stdout)
        syns = subprocess.run(["tshark", "-r", str(capture), "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                               "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport", "-e", "tcp.dstport"],
                              capture_output=True, text=True, check=True).stdout.splitlines()
        assert len(syns) - len(set(syns)) == reported  # the same client port's SYN again
    finally:
        shutil.rmtree(folder)
