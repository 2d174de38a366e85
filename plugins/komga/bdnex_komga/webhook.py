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

The server is built to face a hostile network: it is one thread over non-blocking
sockets, and a request is handled only once it has wholly arrived, so stalled or
trickling clients hold a socket, never a thread; each connection must deliver its
request within a deadline (idle connections are closed too); the connections waiting
per client address and in all are bounded, the longest-waiting one giving way to a new
one; parsing cannot recurse without bound. The log (``-vv``) shows request paths
without their query, so a token sent as ``?token=`` by mistake is never written.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
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
# a connection delivers its next request whole within this many seconds, or is closed
CONNECTION_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 512  # open at once, all clients together (each costs a socket, no thread)
MAX_CONNECTIONS_PER_CLIENT = 32  # waiting at once per client address, past which the oldest gives way
EVICTION_GRACE_SECONDS = 2.0  # a real client's request arrives within this, even on a loaded machine
MAX_HEADER_BYTES = 16 * 1024
RECEIVE_BYTES = 64 * 1024
SWEEP_SECONDS = 0.1  # how often late connections are looked for


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


class _Connection:
    """One client connection: the bytes of its request so far, or the answer being sent."""

    def __init__(self, sock: socket.socket, address: Any, now: float):
        self.sock = sock
        self.address = address
        self.client = str(address[0])
        self.received = bytearray()
        self.outgoing = b""
        self.close_after_answer = False
        self.waiting_since = now  # since when its next request (or the rest of its answer) is awaited

    @property
    def reading(self) -> bool:
        return not self.outgoing


class WebhookServer:
    """The webhook's HTTP server: one thread, non-blocking sockets.

    A request is handled only once it has fully arrived (its headers and its ``Content-Length``
    body), so a client that sends nothing, or half a header, or trickles a body, holds a socket and
    a few bytes, never a thread. Each connection must deliver its next request within
    ``connection_timeout`` seconds of its opening or of its previous answer (an idle keep-alive
    connection is closed then too); each client address keeps at most ``max_per_client``
    connections waiting and all clients ``max_connections``: past either bound the connection
    waiting longest is closed, so a flood of stalled connections from anywhere never keeps
    ``/health`` or a valid event out.
    """

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
        max_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
    ):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.create_server(address, family=family, backlog=LISTEN_BACKLOG)
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self.token = token.encode("utf-8")
        self.submit = submit
        self.health = health
        self.max_body = max_body
        self.connection_timeout = connection_timeout
        self.max_connections = max(1, max_connections)
        self.max_per_client = max(1, min(max_per_client, self.max_connections))
        # a real client's request arrives within this of its connection: one waiting longer may give way
        self.eviction_grace = min(EVICTION_GRACE_SECONDS, connection_timeout / 4)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ, None)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._connections: dict[socket.socket, _Connection] = {}
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host if ':' not in host else f'[{host}]'}:{port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(target=self._serve, name="bdnex-komga-webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        for connection in list(self._connections.values()):
            self._close(connection)
        for sock in (self.socket, self._wake_reader, self._wake_writer):
            sock.close()
        self._selector.close()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    # ------------------------------------------------------------------ the loop (one thread)

    def _serve(self) -> None:
        while not self._closing.is_set():
            for key, events in self._selector.select(timeout=SWEEP_SECONDS):
                if key.fileobj is self.socket:
                    self._accept()
                elif key.fileobj is self._wake_reader:
                    continue
                else:
                    connection = self._connections.get(key.fileobj)  # type: ignore[call-overload]
                    if connection is None:
                        continue
                    if events & selectors.EVENT_READ and connection.reading:
                        self._receive(connection)
                    elif events & selectors.EVENT_WRITE and not connection.reading:
                        self._send(connection)
            self._close_late(time.monotonic())

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of file descriptors: make room, the client stays in the backlog
                logger.warning("webhook: cannot accept a connection (%s)", exc.strerror or exc)
                if not self._evict(None, time.monotonic(), grace=0.0):
                    return
                continue
            sock.setblocking(False)
            connection = _Connection(sock, address, time.monotonic())
            if not self._admit(connection):
                logger.warning("webhook: %d connections waiting, none for long: refused one", len(self._connections))
                sock.close()
                continue
            self._connections[sock] = connection
            self._selector.register(sock, selectors.EVENT_READ, None)

    def _admit(self, connection: _Connection) -> bool:
        """Past a bound, the connection waiting longest (of this client, then of anyone) gives way,
        if it has waited longer than a request takes to arrive (a burst of real requests is served
        whole). Only at the total bound, with none to give way, is the new one refused."""
        now = time.monotonic()
        if sum(1 for other in self._connections.values() if other.client == connection.client) >= self.max_per_client:
            self._evict(connection.client, now, grace=self.eviction_grace)
        if len(self._connections) >= self.max_connections:
            return self._evict(None, now, grace=self.eviction_grace)
        return True

    def _evict(self, client: str | None, now: float, *, grace: float) -> bool:
        waiting = [
            connection
            for connection in self._connections.values()
            if connection.reading
            and now - connection.waiting_since >= grace
            and (client is None or connection.client == client)
        ]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda connection: connection.waiting_since)
        logger.info(
            "webhook: too many connections%s: closed the one waiting longest", f" from {client}" if client else ""
        )
        self._close(oldest)
        return True

    def _close_late(self, now: float) -> None:
        for connection in list(self._connections.values()):
            if now - connection.waiting_since > self.connection_timeout:
                if connection.received:
                    logger.info("webhook: %s sent its request too slowly, connection closed", connection.client)
                self._close(connection)

    def _close(self, connection: _Connection) -> None:
        if self._connections.pop(connection.sock, None) is None:
            return
        try:
            self._selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass
        connection.sock.close()

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            return
        except OSError:
            self._close(connection)
            return
        if not data:
            self._close(connection)
            return
        connection.received += data
        self._answer_complete_requests(connection)

    def _answer_complete_requests(self, connection: _Connection) -> None:
        while connection.reading and connection in self._connections.values():
            request = self._complete_request(connection)
            if request is None:
                return
            answer, close = self._handle(request, connection.address)
            connection.close_after_answer = close
            connection.outgoing = answer
            connection.waiting_since = time.monotonic()
            self._selector.modify(connection.sock, selectors.EVENT_WRITE, None)
            self._send(connection)

    def _complete_request(self, connection: _Connection) -> bytes | None:
        """The first request of the buffer once it has wholly arrived (taken out of the buffer)."""
        received = connection.received
        ends = [found + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (found := received.find(mark)) >= 0]
        if not ends:
            if len(received) > MAX_HEADER_BYTES:
                connection.received = bytearray()
                return b"GET /too-large-header HTTP/1.0\r\n\r\n"  # answered 431 by the handler
            return None
        head_end = min(ends)
        if head_end > MAX_HEADER_BYTES:
            connection.received = bytearray()
            return b"GET /too-large-header HTTP/1.0\r\n\r\n"
        length = self._body_length(bytes(received[:head_end]))
        if len(received) < head_end + length:
            return None
        request = bytes(received[: head_end + length])
        del received[: head_end + length]
        return request

    def _body_length(self, head: bytes) -> int:
        """How many body bytes to wait for: the Content-Length when it is one the handler will read;
        0 otherwise (the handler refuses such a request from its headers alone)."""
        lines = head.split(b"\n")
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if colon and name.strip().lower() == b"content-length":
                text = value.strip()
                if text.isdigit() and int(text) <= self.max_body:
                    return int(text)
                return 0
        return 0

    def _handle(self, request: bytes, address: Any) -> tuple[bytes, bool]:
        handler = _Handler(request, address, self)
        return handler.answer.getvalue(), handler.close_connection

    def _send(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.outgoing)
        except BlockingIOError:
            return
        except OSError:
            self._close(connection)
            return
        connection.outgoing = connection.outgoing[sent:]
        if connection.outgoing:
            return
        if connection.close_after_answer:
            self._close(connection)
            return
        connection.waiting_since = time.monotonic()
        self._selector.modify(connection.sock, selectors.EVENT_READ, None)
        if connection.received:  # a request sent right behind the last one (pipelining)
            self._answer_complete_requests(connection)


class _Handler(BaseHTTPRequestHandler):
    """One request, already received whole, answered into a buffer the server then sends."""

    server: WebhookServer  # type: ignore[assignment]
    server_version = "bdnex-komga"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def __init__(self, request: bytes, client_address: Any, server: WebhookServer):
        self.rfile = io.BytesIO(request)
        self.answer = self.wfile = io.BytesIO()
        self.client_address = client_address
        self.server = server
        self.close_connection = True
        try:
            self.handle_one_request()
        except Exception:  # a bug must not end the server: the client gets a 500 and a closed connection
            logger.exception("webhook: request from %s failed", self.address_string())
            self.answer = self.wfile = io.BytesIO()
            self.close_connection = True
            self._reply(500, {"error": "internal error"})

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("webhook %s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # the request line without its query: a token put in ?token= by mistake is never logged
        method, _, rest = getattr(self, "requestline", "").partition(" ")
        target, _, version = rest.partition(" ")
        query = "?…" if "?" in target else ""
        self.log_message('"%s %s%s %s" %s %s', method, target.split("?", 1)[0], query, version, code, size)

    def log_error(self, format: str, *args: Any) -> None:
        self.log_message(format, *(_without_query(arg) if isinstance(arg, str) else arg for arg in args))

    def _reply(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._reply(200, {"status": "ok", **self.server.health()})
        elif path == "/too-large-header":
            self.close_connection = True
            self._reply(431, {"error": f"request header larger than {MAX_HEADER_BYTES} bytes"})
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
        raw = self.rfile.read(length)
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

    def _refuse(self, reason: str) -> None:
        logger.warning("webhook: request from %s refused: %s", self.address_string(), reason)
        self._reply(400, {"error": reason})


def _without_query(text: str) -> str:
    """A request line or path as logged: its query (which may hold a token) left out."""
    return re.sub(r"\?[^\s\"]*", "?…", text)


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:8765`` or ``[::1]:8765`` -> (host, port)."""
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)
