"""``bdnex-core komga serve``: an HTTP endpoint for Komga events forwarded by something else.

Komga has no outgoing webhooks; scripts and automation tools that already follow
its events can forward them here instead of running ``watch``::

    POST /hooks/komga          header X-Bdnex-Token: <komga.webhook_token>
    {"event": "BookAdded", "bookId": "...", "seriesId": "...", "libraryId": "..."}
    (or a JSON list of such events)

    GET /health                -> 200 {"status": "ok", ...counters}

The token is compared in constant time (401 otherwise); bodies over
``komga.webhook_max_body_bytes`` get 413; anything that is not the JSON above
(ids that are not Komga ids, JSON nested deeper than :data:`MAX_NESTING`) gets
400 with the reason. Accepted events go into the watcher's queue (202).

The server is built to face a hostile network: each connection has a timeout
(an idle or slow client is dropped, it does not hold a thread for ever), at most
``max_connections`` are served at once (the others wait in a listen backlog of
:data:`LISTEN_BACKLOG`), and parsing cannot recurse without bound.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bdnex_komga.events import Event
from bdnex_komga.ids import is_komga_id

logger = logging.getLogger(__name__)

HOOK_PATH = "/hooks/komga"
TOKEN_HEADER = "X-Bdnex-Token"
MAX_EVENTS = 1000
BOOK_EVENTS = ("BookAdded", "BookChanged", "BookDeleted")
KNOWN_EVENTS = (*BOOK_EVENTS, "SeriesAdded", "SeriesChanged", "SeriesDeleted", "TaskQueueStatus")
MAX_NESTING = 16  # an event is two levels deep; Python's parser recurses once per level
LISTEN_BACKLOG = 128
CONNECTION_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 32


class InvalidEvent(ValueError):
    pass


def nesting_depth(raw: bytes, limit: int) -> int:
    """How deep ``[``/``{`` nest in a JSON text (strings skipped), counting no further than ``limit + 1``."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_events(payload: Any) -> list[Event]:
    """Events from a decoded JSON body; :class:`InvalidEvent` says what is wrong."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise InvalidEvent("empty list of events")
    if len(items) > MAX_EVENTS:
        raise InvalidEvent(f"more than {MAX_EVENTS} events in one request")
    events = []
    for index, item in enumerate(items):
        where = f"event {index}: " if isinstance(payload, list) else ""
        if not isinstance(item, dict):
            raise InvalidEvent(f"{where}expected a JSON object")
        name = item.get("event")
        if not isinstance(name, str) or not name:
            raise InvalidEvent(f'{where}missing "event" (e.g. "BookAdded")')
        if name not in KNOWN_EVENTS:
            raise InvalidEvent(f"{where}unknown event {name!r} (known: {', '.join(KNOWN_EVENTS)})")
        data = {key: value for key, value in item.items() if key != "event"}
        if name in BOOK_EVENTS:
            book_id = data.get("bookId")
            if not isinstance(book_id, str) or not book_id.strip():
                raise InvalidEvent(f'{where}{name} needs a "bookId" string')
            if not is_komga_id(book_id):
                raise InvalidEvent(f'{where}"bookId" {book_id[:40]!r} is not a Komga id (13 characters, 0-9 A-Z)')
        for key in ("seriesId", "libraryId"):
            if key in data and data[key] is not None and not isinstance(data[key], str):
                raise InvalidEvent(f'{where}"{key}" must be a string')
            if isinstance(data.get(key), str) and not is_komga_id(data[key]):
                raise InvalidEvent(f'{where}"{key}" {data[key][:40]!r} is not a Komga id')
        if name == "TaskQueueStatus" and not isinstance(data.get("count"), int):
            raise InvalidEvent(f'{where}TaskQueueStatus needs an integer "count"')
        events.append(Event(name, data, origin="webhook"))
    return events


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        *,
        token: str,
        submit: Callable[[Event], None],
        health: Callable[[], dict[str, Any]],
        max_body: int = 64 * 1024,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.token = token.encode("utf-8")
        self.submit = submit
        self.health = health
        self.max_body = max_body
        self.connection_timeout = connection_timeout
        self._slots = threading.BoundedSemaphore(max(1, max_connections))
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, at most ``max_connections`` at once: past that, the accepting
        loop waits for a slot and new clients wait in the listen backlog."""
        while not self._slots.acquire(timeout=0.2):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that vanished or timed out mid-request is not worth a traceback on stderr
        logger.debug("webhook: connection from %s ended with an error", client_address, exc_info=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="bdnex-komga-webhook", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    server_version = "bdnex-komga"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.connection_timeout  # type: ignore[misc]  # each socket read and write
        super().setup()
        # a client trickling a byte now and then resets each read's timeout: its whole connection gets a deadline
        lifetime = self.server.connection_timeout * 3
        self._deadline = time.monotonic() + lifetime
        self._watchdog = threading.Timer(lifetime, self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cut(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        self._watchdog.cancel()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("webhook %s %s", self.address_string(), format % args)

    def _reply(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/health":
            self._reply(200, {"status": "ok", **self.server.health()})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != HOOK_PATH:
            self._reply(404, {"error": "not found"})
            return
        given = (self.headers.get(TOKEN_HEADER) or "").encode("utf-8")
        if not hmac.compare_digest(given, self.server.token):
            self.close_connection = True
            self._reply(401, {"error": f"missing or wrong {TOKEN_HEADER} header"})
            return
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            self._reply(411, {"error": "send a Content-Length (chunked bodies are not accepted)"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._reply(411, {"error": "missing or invalid Content-Length"})
            return
        if length < 0 or length > self.server.max_body:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            self._reply(413, {"error": f"body larger than {self.server.max_body} bytes"})
            return
        raw = self._read_body(length)
        if raw is None:
            return
        if nesting_depth(raw, MAX_NESTING) > MAX_NESTING:
            self._refuse(f"JSON nested deeper than {MAX_NESTING} levels")
            return
        try:
            payload = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self._refuse("body is not UTF-8")
            return
        except RecursionError:  # cannot happen below MAX_NESTING; kept as a guard
            self._refuse("JSON nested too deep")
            return
        except ValueError as exc:
            self._refuse(f"body is not valid JSON ({exc})")
            return
        try:
            events = parse_events(payload)
        except InvalidEvent as exc:
            self._refuse(str(exc))
            return
        for event in events:
            self.server.submit(event)
        self._reply(202, {"accepted": len(events)})

    def _read_body(self, length: int) -> bytes | None:
        """The body, read in pieces so that a client trickling bytes is cut off at the deadline."""
        chunks: list[bytes] = []
        left = length
        try:
            while left > 0:
                if time.monotonic() > self._deadline:
                    raise TimeoutError
                chunk = self.rfile.read1(min(left, 16384)) if hasattr(self.rfile, "read1") else self.rfile.read(left)
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        except (TimeoutError, OSError):
            self.close_connection = True
            logger.info("webhook: %s sent its body too slowly, connection closed", self.address_string())
            return None
        if left > 0:
            self.close_connection = True
            return None
        return b"".join(chunks)

    def _refuse(self, reason: str) -> None:
        logger.warning("webhook: request from %s refused: %s", self.address_string(), reason)
        self._reply(400, {"error": reason})


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:8765`` or ``[::1]:8765`` -> (host, port)."""
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)
