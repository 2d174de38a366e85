"""``bdnex-core komga serve``: an HTTP endpoint for Komga events forwarded by something else.

Komga has no outgoing webhooks; scripts and automation tools that already follow
its events can forward them here instead of running ``watch``::

    POST /hooks/komga          header X-Bdnex-Token: <komga.webhook_token>
    {"event": "BookAdded", "bookId": "...", "seriesId": "...", "libraryId": "..."}
    (or a JSON list of such events)

    GET /health                -> 200 {"status": "ok", ...counters}

The token is compared in constant time (401 otherwise); bodies over
``komga.webhook_max_body_bytes`` get 413; anything that is not the JSON above
gets 400 with the reason. Accepted events go into the watcher's queue (202).
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bdnex_komga.events import Event

logger = logging.getLogger(__name__)

HOOK_PATH = "/hooks/komga"
TOKEN_HEADER = "X-Bdnex-Token"
MAX_EVENTS = 1000
BOOK_EVENTS = ("BookAdded", "BookChanged", "BookDeleted")
KNOWN_EVENTS = (*BOOK_EVENTS, "SeriesAdded", "SeriesChanged", "SeriesDeleted", "TaskQueueStatus")


class InvalidEvent(ValueError):
    pass


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
            if not isinstance(book_id, str) or not book_id.strip() or len(book_id) > 200:
                raise InvalidEvent(f'{where}{name} needs a "bookId" string')
        for key in ("seriesId", "libraryId"):
            if key in data and data[key] is not None and not isinstance(data[key], str):
                raise InvalidEvent(f'{where}"{key}" must be a string')
        if name == "TaskQueueStatus" and not isinstance(data.get("count"), int):
            raise InvalidEvent(f'{where}TaskQueueStatus needs an integer "count"')
        events.append(Event(name, data, origin="webhook"))
    return events


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        token: str,
        submit: Callable[[Event], None],
        health: Callable[[], dict[str, Any]],
        max_body: int = 64 * 1024,
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.token = token.encode("utf-8")
        self.submit = submit
        self.health = health
        self.max_body = max_body
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="bdnex-komga-webhook", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    server_version = "bdnex-komga"
    sys_version = ""

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
        raw = self.rfile.read(length)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self._reply(400, {"error": "body is not UTF-8"})
            return
        except ValueError as exc:
            self._reply(400, {"error": f"body is not valid JSON ({exc})"})
            return
        try:
            events = parse_events(payload)
        except InvalidEvent as exc:
            self._reply(400, {"error": str(exc)})
            return
        for event in events:
            self.server.submit(event)
        self._reply(202, {"accepted": len(events)})


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:8765`` or ``[::1]:8765`` -> (host, port)."""
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)
