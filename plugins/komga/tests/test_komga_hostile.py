"""Hostile events and requests against ``komga serve`` / ``watch``: nothing hangs, nothing crashes,
nothing is retried for ever, nothing reaches a Komga endpoint it was not meant for."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

import pytest
import requests

from conftest import Env, running_service, wait_for

pytestmark = pytest.mark.timeout(120)

TOKEN = "h0stile-t0ken"
GOOD_ID = "0HT4VCG8Z1P5N"
# ids that once went into Komga URLs as they were
BAD_IDS = [
    "../libraries",
    "..",
    f"{GOOD_ID}/../{GOOD_ID}",
    f"{GOOD_ID}?page=1",
    f"{GOOD_ID}#x",
    f"{GOOD_ID}%2F..",
    "0ht4vcg8z1p5n",
    f"{GOOD_ID}0",
    " " + GOOD_ID,
    GOOD_ID + "\n",
    "ＯＨＴ４ＶＣＧ８Ｚ１Ｐ５Ｎ",
    "x" * 5000,
    "",
]
NESTED = b"[" * 5000 + b"]" * 5000
HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    *[
        (f"bookId {bad[:20]!r}", json.dumps({"event": "BookAdded", "bookId": bad}).encode(), "bookId")
        for bad in BAD_IDS
    ],
    ("seriesId '..'", json.dumps({"event": "BookAdded", "bookId": GOOD_ID, "seriesId": ".."}).encode(), "seriesId"),
    (
        "libraryId with a query",
        json.dumps({"event": "BookAdded", "bookId": GOOD_ID, "libraryId": "A?b=c"}).encode(),
        "libraryId",
    ),
    ("a poison event in a list", json.dumps([{"event": "BookAdded", "bookId": "../x"}]).encode(), "event 0"),
    ("nested arrays", NESTED, "nested deeper"),
    ("nested objects", b'{"a":' * 3000 + b"1" + b"}" * 3000, "nested deeper"),
    (
        "nesting inside an event",
        json.dumps({"event": "BookAdded", "bookId": GOOD_ID, "x": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}).encode(),
        "nested deeper",
    ),
    (
        "brackets inside strings are not nesting",
        json.dumps({"event": "BookAdded", "bookId": "[" * 100}).encode(),
        "bookId",
    ),
    ("NaN count", b'{"event": "TaskQueueStatus", "count": NaN}', "count"),
    ("huge number", b'{"event": "TaskQueueStatus", "count": 1e999999}', "count"),
    ("lone surrogate", b'{"event": "BookAdded", "bookId": "\\ud800"}', "bookId"),
    ("null", b"null", "JSON object"),
    ("a number", b"12", "JSON object"),
    ("empty body", b"", "not valid JSON"),
    ("truncated", b'{"event": "BookAdded", "bookId": "', "not valid JSON"),
    ("latin-1", '{"event": "BookAddé"}'.encode("latin-1"), "UTF-8"),
    ("event name is an object", b'{"event": {"a": 1}}', 'missing "event"'),
    ("too many events", json.dumps([{"event": "TaskQueueStatus", "count": 1}] * 1001).encode(), "more than"),
]


def post_raw(url: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        f"{url}/hooks/komga",
        data=body,
        headers={"Content-Type": "application/json", "X-Bdnex-Token": TOKEN, **headers},
        timeout=20,
    )


def serving(env: Env, **komga: Any):
    return running_service(
        env,
        events=False,
        listen=("127.0.0.1", 0),
        **{"webhook_token": TOKEN, "idle_timeout_seconds": 0.3, "webhook_max_body_bytes": 256 * 1024, **komga},
    )


def reached_other_endpoints(env: Env) -> list[tuple[str, str, int]]:
    """Requests the worker made that are not about a book or series it was given (its own checks aside)."""
    allowed = ("/api/v2/users/me", "/api/v1/books/", "/api/v1/series/", "/sse/v1/events")
    return [request for request in env.komga.requests if not request[1].startswith(allowed)]


def test_hostile_webhook_bodies_get_400_with_the_reason(env: Env, books, caplog) -> None:
    caplog.set_level(logging.INFO)
    with serving(env) as service:
        url, worker = service.webhook.url, service.worker
        for label, body, reason in HOSTILE_BODIES:
            started = time.monotonic()
            response = post_raw(url, body)
            assert response.status_code == 400, (label, response.status_code, response.text)
            assert reason in response.json()["error"], (label, response.json())
            assert time.monotonic() - started < 10, label
        assert len(HOSTILE_BODIES) >= 25
        # still serving, and a good event after all that is processed
        assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"
        assert post_raw(url, json.dumps({"event": "BookAdded", "bookId": books[0]["id"]}).encode()).status_code == 202
        assert wait_for(lambda: worker.stats.processed == [books[0]["id"]], 20), worker.snapshot()
        assert worker.stats.events == 1 and worker.pending == {}
    assert reached_other_endpoints(env) == []
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text
    assert "refused" in caplog.text  # each refusal is a log line


def test_poison_events_from_the_event_stream_are_dropped(env: Env, books, caplog) -> None:
    """``watch``: Komga's stream (or something in between) sends ids that are not Komga ids."""
    caplog.set_level(logging.INFO)
    with running_service(env, events=True, idle_timeout_seconds=0.3) as service:
        worker = service.worker
        assert wait_for(lambda: worker.checkpoint() is not None and env.komga.sse_open == 1, 10)
        env.komga.clear_requests()
        for bad in BAD_IDS:
            env.komga.emit("BookAdded", {"bookId": bad, "seriesId": books[0]["seriesId"]})
        env.komga.emit("BookAdded", {"bookId": ["not", "a", "string"]})
        env.komga.emit("BookAdded", {"bookId": books[1]["id"], "libraryId": books[1]["libraryId"]})
        assert wait_for(lambda: worker.stats.processed == [books[1]["id"]], 20), worker.snapshot()
        assert worker.stats.dropped == len(BAD_IDS) + 1
        time.sleep(0.8)
        assert worker.pending == {} and worker.stats.runs == 1
    assert reached_other_endpoints(env) == []
    assert "dropped" in caplog.text and "Traceback" not in caplog.text


def test_saved_poison_pending_ids_do_not_crash_each_restart(env: Env, books) -> None:
    """An id saved as pending by an older version: the service starts, drops it, and says so once."""
    from bdnex_core.db import BDneXDB
    from bdnex_komga.watcher import PENDING_KEY, PLUGIN

    settings = env.settings()
    with BDneXDB(settings=settings) as db:
        db.plugin_state.set(PLUGIN, PENDING_KEY, ["../libraries", f"{GOOD_ID}/../{books[0]['id']}", books[1]["id"]])
    for _ in range(2):
        code, out, err = env.cli(
            "komga",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--exit-after",
            "3",
            webhook_token=TOKEN,
            idle_timeout_seconds=0.2,
        )
        assert code == 0, out + err
        assert "unexpected" not in (out + err) and "Traceback" not in err
    with BDneXDB(settings=settings) as db:
        assert db.plugin_state.get(PLUGIN, PENDING_KEY) == []
        assert db.plugin_state.get(PLUGIN, f"book:{books[1]['id']}")["state"] == "done"
        sessions = db.db.execute("SELECT COUNT(*) FROM processing_sessions").fetchone()[0]
    assert sessions == 1  # the good book, once; the bad ids started nothing
    assert not [request for request in env.komga.requests if "libraries" in request[1]]
    assert env.komga.book(books[0]["id"])["metadata"]["links"] == []  # X/../Y did not write book Y


def test_an_answer_for_another_book_is_not_retried_for_ever(env: Env, books) -> None:
    """Komga (or a proxy) answers a book id with another book: the id is dropped, not pending for ever."""
    komga = env.komga
    alias = "0HT4VCG8Z1P5Z"
    with komga._lock:
        komga._books[alias] = komga._books[books[0]["id"]]  # GET /books/alias answers book 0
    with serving(env, retry_delay_seconds=0.1) as service:
        url, worker = service.webhook.url, service.worker
        assert post_raw(url, json.dumps({"event": "BookAdded", "bookId": alias}).encode()).status_code == 202
        assert wait_for(lambda: alias in worker.stats.processed, 20), worker.snapshot()
        time.sleep(1.5)
        assert worker.pending == {} and worker.stats.runs == 0
        assert worker.is_processed(alias)
    assert not [request for request in komga.requests if request[0] == "PATCH"]
    logs = list((env.tmp_path / "logs").glob("*")) if (env.tmp_path / "logs").exists() else []
    assert logs == []


def test_cli_refuses_bad_ids_in_one_line(env: Env) -> None:
    for option, bad in (("--book", "../libraries"), ("--series", f"{GOOD_ID}?x=1"), ("--library", "..")):
        code, out, err = env.cli("komga", "sync", option, bad)
        assert code != 0
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "is not a Komga" in lines[0], err
        assert "unexpected" not in err and "Traceback" not in err
    assert not [request for request in env.komga.requests if "libraries" in request[1] and request[0] != "GET"]


# ---------------------------------------------------------------------- the server itself


@pytest.fixture
def server():
    from bdnex_komga.webhook import WebhookServer

    received: list[Any] = []
    webhook = WebhookServer(
        ("127.0.0.1", 0),
        token=TOKEN,
        submit=received.append,
        health=lambda: {"received": len(received)},
        connection_timeout=1.0,
    ).start()
    try:
        yield webhook
    finally:
        webhook.stop()


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server ends the connection (or answers and ends it) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        sock.recv(1024)
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


def _trickle_until_cut(sock: socket.socket, data: bytes, seconds: float) -> bool:
    """Send ``data`` a byte every 0.4 s (each read on the server gets its byte in time); True when cut."""
    deadline = time.monotonic() + seconds
    for byte in data:
        if time.monotonic() > deadline:
            return False
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return True
        sock.settimeout(0.4)
        try:
            sock.recv(1024)
            return True  # an answer or the end of the stream, before the data was all sent
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_idle_connections_are_dropped_and_do_not_starve_the_others(server) -> None:
    host, port = server.server_address[:2]
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(40)]
    trickle = socket.create_connection((host, port), timeout=5)
    try:
        # a real request gets through while 40 idle connections are open
        started = time.monotonic()
        response = requests.get(f"{server.url}/health", timeout=30)
        assert response.status_code == 200
        assert time.monotonic() - started < 20
        closed = [_closed_by_server(sock, 15) for sock in idle]
        assert all(closed), closed.count(False)
        # a client trickling header bytes resets each read's timeout; its connection's deadline still cuts it
        assert _trickle_until_cut(trickle, b"POST /hooks/komga HTTP/1.1\r\nX-Long: " + b"x" * 100, 20)
    finally:
        for sock in [*idle, trickle]:
            sock.close()


@pytest.fixture
def serve_defaults():
    """The webhook as ``komga serve`` runs it (its own deadline and bounds)."""
    from bdnex_komga.webhook import WebhookServer

    webhook = WebhookServer(("127.0.0.1", 0), token=TOKEN, submit=lambda event: None, health=lambda: {}).start()
    try:
        yield webhook
    finally:
        webhook.stop()


def test_200_concurrent_requests_are_all_answered(serve_defaults) -> None:
    """200 clients of one address at once, on a machine loaded enough that some connect long before
    they send: each is answered (the 1 s deadline of ``server`` would cut those, rightly)."""
    server = serve_defaults
    results: list[Any] = []
    lock = threading.Lock()
    start = threading.Event()

    def one() -> None:
        start.wait()
        try:
            status: Any = requests.get(f"{server.url}/health", timeout=60).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(200)]
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join(90)
    assert len(results) == 200
    assert [status for status in results if status != 200] == []


def test_a_body_sent_too_slowly_is_cut(server) -> None:
    host, port = server.server_address[:2]
    body = json.dumps({"event": "TaskQueueStatus", "count": 0, "padding": "x" * 60}).encode()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /hooks/komga HTTP/1.1\r\nHost: x\r\nX-Bdnex-Token: "
            + TOKEN.encode()
            + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert _trickle_until_cut(sock, body, 20)
    assert server.health() == {"received": 0}


def test_the_serve_process_survives_the_whole_corpus(env: Env, books) -> None:
    """The real ``bdnex-core komga serve`` process: every hostile body, then a good event; it ends on
    SIGTERM with exit code 0 and nothing unexpected on stderr."""
    import signal
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = env.config(webhook_token=TOKEN, idle_timeout_seconds=0.3, webhook_max_body_bytes=256 * 1024)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bdnex_core",
            "--config",
            str(config),
            "komga",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return proc.poll() is not None

    try:
        assert wait_for(up, 20) and proc.poll() is None, proc.communicate(timeout=5)
        for label, body, _reason in HOSTILE_BODIES:
            assert post_raw(url, body).status_code == 400, label
        assert post_raw(url, json.dumps({"event": "BookAdded", "bookId": books[0]["id"]}).encode()).status_code == 202
        assert wait_for(lambda: requests.get(f"{url}/health", timeout=5).json()["processed"] == 1, 30)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "unexpected" not in (out + err), err
    assert env.komga.book(books[0]["id"])["metadata"]["links"]


# ---------------------------------------------------------------------- stalled connections (issue 29)


def _stalled(address: tuple[str, int], count: int, *, source: str = "127.0.0.1") -> list[socket.socket]:
    """``count`` real connections that send half a request header and then wait."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
        sock.sendall(b"POST /hooks/komga HTTP/1.1\r\nHost: x\r\nX-Bdnex-To")
        sockets.append(sock)
    return sockets


def _ended_by_server(sock: socket.socket) -> bool:
    """True when the server has closed this connection (without waiting for it)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_400_stalled_connections_never_keep_health_or_a_valid_event_out(env: Env, books) -> None:
    """Issue 29, case 1: 400 connections sending half a header and waiting (the serve command's own
    settings: a 10 s deadline per request). /health and a valid event are answered at once beside
    them, the event is processed, and the server ends every stalled connection at its deadline."""
    with serving(env) as service:
        url, worker = service.webhook.url, service.worker
        host, port = service.webhook.server_address[:2]
        stalled = _stalled((host, port), 400)
        try:
            started = time.monotonic()
            assert requests.get(f"{url}/health", timeout=10).json()["status"] == "ok"
            health_seconds = time.monotonic() - started
            started = time.monotonic()
            answer = post_raw(url, json.dumps({"event": "BookAdded", "bookId": books[0]["id"]}).encode())
            event_seconds = time.monotonic() - started
            assert answer.status_code == 202, answer.text
            # at once, not after a stalled connection's deadline (10 s): margins for a loaded machine
            assert health_seconds < 3 and event_seconds < 3, (health_seconds, event_seconds)
            assert wait_for(lambda: worker.stats.processed == [books[0]["id"]], 30), worker.snapshot()
            # none held for ever: all closed by the server once their 10 s have passed
            assert wait_for(lambda: all(_ended_by_server(sock) for sock in stalled), 25)
            # and the server holds none of them (nor the idle keep-alive ones, closed at their deadline)
            assert wait_for(lambda: service.webhook.open_connections == 0, 15), service.webhook.open_connections
        finally:
            for sock in stalled:
                sock.close()


@pytest.fixture
def patient_server():
    """A webhook whose deadline (30 s) never ends a connection during the test: what closes one is
    the bound on the connections waiting."""
    from bdnex_komga.webhook import WebhookServer

    webhook = WebhookServer(
        ("127.0.0.1", 0),
        token=TOKEN,
        submit=lambda event: None,
        health=lambda: {},
        connection_timeout=30.0,
        max_connections=120,
        max_per_client=32,
    ).start()
    try:
        yield webhook
    finally:
        webhook.stop()


def test_each_client_keeps_a_bounded_number_of_connections_waiting(patient_server) -> None:
    """Past 32 waiting connections of one client address, each new one ends that client's
    longest-waiting one (once it waited past the grace): another client's are not touched."""
    address = patient_server.server_address[:2]
    first = _stalled(address, 40, source="127.0.0.2")
    other = _stalled(address, 10, source="127.0.0.3")
    later: list[socket.socket] = []
    try:
        time.sleep(patient_server.eviction_grace + 0.5)
        assert not any(_ended_by_server(sock) for sock in [*first, *other])  # a burst is let in whole
        later = _stalled(address, 10, source="127.0.0.2")
        assert wait_for(lambda: all(_ended_by_server(sock) for sock in first[:10]), 10)
        assert not any(_ended_by_server(sock) for sock in [*first[10:], *other, *later])
        assert patient_server.open_connections == 50
    finally:
        for sock in [*first, *other, *later]:
            sock.close()


def test_at_the_total_bound_the_longest_waiting_connection_gives_way(patient_server) -> None:
    address = patient_server.server_address[:2]
    stalled = [sock for source in range(2, 8) for sock in _stalled(address, 20, source=f"127.0.0.{source + 10}")]
    try:
        time.sleep(patient_server.eviction_grace + 0.5)
        assert patient_server.open_connections == 120
        started = time.monotonic()
        assert requests.get(f"{patient_server.url}/health", timeout=10).status_code == 200
        assert time.monotonic() - started < 3
        assert wait_for(lambda: _ended_by_server(stalled[0]), 5)  # the oldest gave way
        assert patient_server.open_connections <= 120
    finally:
        for sock in stalled:
            sock.close()


def test_a_token_in_the_query_is_never_logged(env: Env, caplog) -> None:
    """A client that puts the token in ``?token=`` (where it does not belong): ``-vv`` logs the
    request without its query."""
    secret = "QueryT0kenNeverLogged"
    caplog.set_level(logging.DEBUG, logger="bdnex_komga")
    with serving(env) as service:
        url = service.webhook.url
        assert requests.get(f"{url}/health?token={secret}", timeout=10).status_code == 200
        assert requests.post(f"{url}/hooks/komga?token={secret}", data=b"{}", timeout=10).status_code == 401
        assert requests.get(f"{url}/nowhere?token={secret}&x=1", timeout=10).status_code == 404
        with socket.create_connection(service.webhook.server_address[:2], timeout=10) as sock:
            sock.sendall(f"BROKEN /health?token={secret} HTTP/1.1\r\n\r\n".encode())  # a request line refused
            sock.recv(1024)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/health?…" in logged and "/hooks/komga?…" in logged
    assert secret not in logged and secret not in caplog.text


def test_a_komga_url_with_a_space_in_the_environment_is_one_line(env: Env, monkeypatch) -> None:
    monkeypatch.setenv("BDNEX_KOMGA_URL", "http://exa mple.org")
    code, out, err = env.cli("komga", "sync")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "BDNEX_KOMGA_URL" in lines[0] and "expected an http(s) URL" in lines[0]
    assert "unexpected" not in (out + err)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_secret_file_that_never_ends_is_refused_at_once(env: Env, tmp_path, kind) -> None:
    """``komga.api_key_file`` naming a FIFO or /dev/zero: refused before any read (no hang)."""
    import os

    secret = tmp_path / "api-key"
    if kind == "fifo":
        os.mkfifo(secret)
    else:
        secret.symlink_to("/dev/zero")
    started = time.monotonic()
    code, out, err = env.cli("komga", "sync", api_key=None, api_key_file=str(secret))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "komga.api_key_file" in lines[0] and "not a regular file" in lines[0]
    assert time.monotonic() - started < 30 and "unexpected" not in (out + err)


def test_the_serve_process_never_logs_a_token_sent_in_the_query_even_at_vv(env: Env) -> None:
    """The real ``bdnex-core -vv komga serve``: its debug log shows each request, never a query."""
    import signal
    import subprocess
    import sys

    secret = "Vv-QueryT0ken-NotInTheLog"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = env.config(webhook_token=TOKEN)
    command = [sys.executable, "-m", "bdnex_core", "--config", str(config), "-vv", "komga", "serve"]
    proc = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return proc.poll() is not None

    try:
        assert wait_for(up, 30) and proc.poll() is None, proc.communicate(timeout=5)
        assert requests.get(f"{url}/health?token={secret}", timeout=10).status_code == 200
        assert requests.post(f"{url}/hooks/komga?token={secret}", data=b"{}", timeout=10).status_code == 401
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "/health?…" in err and "/hooks/komga?…" in err  # the requests are logged, at -vv
    assert secret not in err
