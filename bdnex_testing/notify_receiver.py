"""A local receiver of Apprise's ``json://`` notifications, for tests (127.0.0.1 only).

Apprise's JSON service POSTs ``{"version", "title", "message", "type", ...}`` to
``http://HOST:PORT/PATH`` for a URL ``json://HOST:PORT/PATH``; this server keeps every message.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NotificationReceiver:
    """``with NotificationReceiver() as receiver:`` then ``receiver.url`` in ``notifications.urls``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    receiver.messages.append({"path": self.path, **body})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/notify"

    def __enter__(self) -> NotificationReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The messages, once there are at least ``count`` (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received()) < count:
            time.sleep(0.05)
        return self.received()


def closed_port_url() -> str:
    """A ``json://`` URL nobody listens on (the port was free a moment ago)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"json://127.0.0.1:{port}/notify"
