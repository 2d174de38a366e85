"""Komga's Server-Sent Events: frame parsing and a reader that reconnects.

Komga sends ``event:Name`` / ``data:{json}`` frames separated by a blank line,
a ``:heartbeat`` comment every 15 s, and ends connections after about an hour;
frames carry no ids, so after each (re)connection the watcher catches up by
polling (see :mod:`bdnex_komga.watcher`). The reader only turns the stream into
:class:`Event` objects on a queue; it never touches the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bdnex_komga.client import KomgaClient, KomgaError, KomgaHTTPError

logger = logging.getLogger(__name__)

# control events the reader sends to the worker (not Komga's)
CONNECTED = "_connected"
DISCONNECTED = "_disconnected"
FATAL = "_fatal"
STABLE_CONNECTION_SECONDS = 30.0


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    origin: str = "sse"


@dataclass(frozen=True)
class Frame:
    """One SSE frame; ``comment`` frames (``:heartbeat``) have ``event`` None."""

    event: str | None
    data: str
    comment: str | None = None


def parse_frames(lines: Iterable[str]) -> Iterator[Frame]:
    """SSE frames from text lines (without line endings), as the HTML living standard describes them."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield Frame(event or "message", "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            yield Frame(None, "", comment=line[1:].strip())
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        # "id" and "retry" carry nothing Komga uses; other fields are ignored by the standard
    if data:
        yield Frame(event or "message", "\n".join(data))


def iter_stream_lines(raw: Any, chunk_size: int = 8192) -> Iterator[str]:
    """Lines of a streaming HTTP body as soon as they arrive (``\\n`` or ``\\r\\n`` endings)."""
    read = getattr(raw, "read1", None) or raw.read
    buffer = b""
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r").decode("utf-8", errors="replace")
    if buffer:
        yield buffer.removesuffix(b"\r").decode("utf-8", errors="replace")


class SseReader:
    """Reads ``/sse/v1/events`` in a thread and puts events on ``put``; reconnects with capped backoff."""

    def __init__(
        self,
        client: KomgaClient,
        put: Callable[[Event], None],
        *,
        min_delay: float = 1.0,
        max_delay: float = 60.0,
        read_timeout: float = 60.0,
    ):
        self.client = client
        self.put = put
        self.min_delay = max(min_delay, 0.01)
        self.max_delay = max(max_delay, self.min_delay)
        self.read_timeout = read_timeout
        self.stop_event = threading.Event()
        self.connections = 0
        self.heartbeats = 0
        self._response: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> SseReader:
        self._thread = threading.Thread(target=self.run, name="bdnex-komga-sse", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # closing from another thread may race with the reader; it ends either way
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run(self) -> None:
        delay = self.min_delay
        while not self.stop_event.is_set():
            try:
                response = self.client.open_events(self.read_timeout)
            except KomgaHTTPError as exc:
                if exc.status in (401, 403):
                    self.put(Event(FATAL, {"message": str(exc)}, origin="reader"))
                    return
                logger.warning("Komga events: %s; retrying in %.1f s", exc, delay)
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            except KomgaError as exc:
                logger.warning("Komga events: %s; retrying in %.1f s", exc, delay)
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            self._response = response
            self.connections += 1
            connected_at = time.monotonic()
            logger.info("connected to Komga events at %s", self.client.url)
            self.put(Event(CONNECTED, {"connection": self.connections}, origin="reader"))
            try:
                self._read(response)
            except Exception as exc:  # a reset, a read timeout, a close from stop(): all mean reconnect
                if not self.stop_event.is_set():
                    logger.info("Komga events: connection lost (%s)", type(exc).__name__)
            finally:
                self._response = None
                try:
                    response.close()
                except Exception:
                    pass
            if self.stop_event.is_set():
                return
            self.put(Event(DISCONNECTED, {}, origin="reader"))
            # a connection that lived (Komga ends them after an hour) is followed by a quick reconnection;
            # one dropped at once (a proxy, a restarting server) makes the next wait longer
            if time.monotonic() - connected_at >= STABLE_CONNECTION_SECONDS:
                delay = self.min_delay
            self.stop_event.wait(delay)
            if time.monotonic() - connected_at < STABLE_CONNECTION_SECONDS:
                delay = min(delay * 2, self.max_delay)

    def _read(self, response: Any) -> None:
        for frame in parse_frames(iter_stream_lines(response.raw)):
            if self.stop_event.is_set():
                return
            if frame.event is None:
                self.heartbeats += 1
                continue
            try:
                data = json.loads(frame.data) if frame.data.strip() else {}
            except ValueError:
                logger.warning("Komga events: %s frame with data that is not JSON, ignored", frame.event)
                continue
            self.put(Event(frame.event, data if isinstance(data, dict) else {"value": data}))
