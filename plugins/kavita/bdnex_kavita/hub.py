"""Kavita's SignalR message hub (``/hubs/messages``), read with the JSON hub protocol over a WebSocket.

Why not the ``signalrcore`` package: it pins ``msgpack`` to one exact version, brings its own
reconnection loop (we must catch up by listing after every reconnection, with a fresh token),
and is 4,000 lines for what we use of SignalR: the negotiation, the handshake, invocations
(type 1), pings (type 6) and close messages (type 7). Those few records are read here over
``websocket-client``, which does the WebSocket framing.

The protocol (ASP.NET Core SignalR, JSON): ``POST /hubs/messages/negotiate?negotiateVersion=1``
returns a ``connectionToken``; the WebSocket opens at ``/hubs/messages?id=TOKEN&access_token=JWT``;
the client sends ``{"protocol":"json","version":1}`` and the server answers ``{}``; every record
ends with the byte 0x1e. Kavita then invokes ``SeriesAdded``, ``ScanSeries``… with one argument,
its ``SignalRMessage`` (``{"name", "body", …}``). The server pings every 15 s and drops a client
silent for 30 s, so we ping too. The reader only puts :class:`Event` objects on a queue; it never
touches the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import websocket

from bdnex_kavita.client import KavitaClient
from bdnex_kavita.errors import KavitaAuthError, KavitaError

logger = logging.getLogger(__name__)

RECORD_SEPARATOR = "\x1e"
HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + RECORD_SEPARATOR
INVOCATION, PING, CLOSE = 1, 6, 7
PING_RECORD = json.dumps({"type": PING}) + RECORD_SEPARATOR
PING_EVERY_SECONDS = 15.0
STABLE_CONNECTION_SECONDS = 30.0
# control events the reader sends to the worker (not Kavita's)
CONNECTED = "_connected"
DISCONNECTED = "_disconnected"
FATAL = "_fatal"


@dataclass(frozen=True)
class Event:
    """A hub invocation: ``name`` is its target (``SeriesAdded``), ``data`` its message's body; ``message``
    and ``stage`` are the message's own name and event type (``ScanProgress``, ``ended``)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    origin: str = "hub"
    message: str = ""
    stage: str = ""


class HubProtocolError(KavitaError):
    """The server broke the hub protocol (a bad handshake, a record that is not JSON)."""


def split_records(buffer: str) -> tuple[list[str], str]:
    """Complete records of ``buffer`` and what is left of an unfinished one."""
    *records, rest = buffer.split(RECORD_SEPARATOR)
    return [record for record in records if record.strip()], rest


def parse_record(record: str) -> dict[str, Any]:
    try:
        message = json.loads(record)
    except ValueError:
        raise HubProtocolError(f"a hub record that is not JSON: {record[:80]!r}") from None
    if not isinstance(message, dict):
        raise HubProtocolError(f"a hub record that is not an object: {record[:80]!r}")
    return message


def hub_url(base: str, connection_token: str, access_token: str) -> str:
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/hubs/messages?" + urlencode(
        {"id": connection_token, "access_token": access_token}
    )


class HubConnection:
    """One connection to the hub: negotiated, opened, handshaken; ``records()`` yields its messages."""

    def __init__(self, client: KavitaClient, *, timeout: float):
        self.client = client
        self.timeout = timeout
        self.socket: websocket.WebSocket | None = None
        self._buffer = ""
        self._last_sent = 0.0

    def open(self) -> HubConnection:
        negotiation = self.client.negotiate()
        transports = {str(entry.get("transport")) for entry in negotiation.get("availableTransports") or []}
        if transports and "WebSockets" not in transports:
            raise HubProtocolError(f"Kavita at {self.client.url} offers no WebSocket transport ({sorted(transports)})")
        token = negotiation.get("connectionToken") or negotiation.get("connectionId")
        if not isinstance(token, str) or not token:
            raise HubProtocolError(f"Kavita at {self.client.url} negotiated no connection token")
        try:
            self.socket = websocket.create_connection(
                hub_url(self.client.url, token, self.client.token()),
                timeout=self.timeout,
                header=["User-Agent: bdnex-kavita/0.1"],
                sslopt=None if self.client.config.verify_tls is True else _sslopt(self.client.config.verify_tls),
            )
            self.socket.send(HANDSHAKE)
            self._last_sent = time.monotonic()
            answer = self._next_record(deadline=time.monotonic() + self.timeout)
        except (OSError, websocket.WebSocketException) as exc:
            self.close()
            raise KavitaError(f"cannot open Kavita's message hub at {self.client.url} ({type(exc).__name__})") from None
        if answer is None or answer.get("error"):
            self.close()
            raise HubProtocolError(f"Kavita's message hub refused the handshake ({(answer or {}).get('error')})")
        return self

    def close(self) -> None:
        if self.socket is not None:
            try:
                self.socket.close(timeout=1)
            except Exception:  # closing a broken socket: nothing more to do
                pass
            self.socket = None

    def _next_record(self, deadline: float) -> dict[str, Any] | None:
        """The next record, or None when the connection stays silent until ``deadline``."""
        assert self.socket is not None
        while True:
            records, self._buffer = split_records(self._buffer)
            if records:
                first, *more = records
                self._buffer = RECORD_SEPARATOR.join([*more, self._buffer]) if more else self._buffer
                return parse_record(first)
            if time.monotonic() >= deadline:
                return None
            try:
                data = self.socket.recv()
            except websocket.WebSocketTimeoutException:
                return None
            if isinstance(data, bytes):
                data = data.decode("utf-8", errors="replace")
            if not data:
                raise websocket.WebSocketConnectionClosedException("closed by the server")
            self._buffer += data

    def records(self, stop: threading.Event, *, poll: float = 0.5) -> Iterator[dict[str, Any]]:
        """Messages until the server closes, goes silent for ``timeout`` or ``stop`` is set; pings on the way."""
        assert self.socket is not None
        self.socket.settimeout(poll)
        last_heard = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now - self._last_sent >= PING_EVERY_SECONDS:
                self.socket.send(PING_RECORD)
                self._last_sent = now
            message = self._next_record(deadline=now + poll)
            if message is None:
                if time.monotonic() - last_heard > self.timeout:
                    raise TimeoutError(f"no word from Kavita's message hub for {self.timeout:g} s")
                continue
            last_heard = time.monotonic()
            yield message


def _sslopt(verify: bool | str) -> dict[str, Any]:
    import ssl

    return {"cert_reqs": ssl.CERT_NONE} if verify is False else {"ca_certs": str(verify)}


class HubReader:
    """Reads the hub in a thread and puts events on ``put``; reconnects with capped backoff."""

    def __init__(
        self,
        client: KavitaClient,
        put: Callable[[Event], None],
        *,
        min_delay: float = 1.0,
        max_delay: float = 60.0,
        timeout: float = 30.0,
    ):
        self.client = client
        self.put = put
        self.min_delay = max(min_delay, 0.01)
        self.max_delay = max(max_delay, self.min_delay)
        self.timeout = timeout
        self.stop_event = threading.Event()
        self.connections = 0
        self._connection: HubConnection | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> HubReader:
        self._thread = threading.Thread(target=self.run, name="bdnex-kavita-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run(self) -> None:
        delay = self.min_delay
        while not self.stop_event.is_set():
            try:
                connection = HubConnection(self.client, timeout=self.timeout).open()
            except KavitaAuthError as exc:
                self.put(Event(FATAL, {"message": str(exc)}, origin="reader"))
                return
            except KavitaError as exc:
                logger.warning("Kavita events: %s; retrying in %.1f s", exc, delay)
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            self._connection = connection
            self.connections += 1
            connected_at = time.monotonic()
            logger.info("connected to Kavita's message hub at %s", self.client.url)
            self.put(Event(CONNECTED, {"connection": self.connections}, origin="reader"))
            try:
                self._read(connection)
            except Exception as exc:  # a reset, a silent hub, a protocol error: all mean reconnect
                if not self.stop_event.is_set():
                    logger.info("Kavita events: connection lost (%s: %s)", type(exc).__name__, exc)
            finally:
                self._connection = None
                connection.close()
            if self.stop_event.is_set():
                return
            self.put(Event(DISCONNECTED, {}, origin="reader"))
            if time.monotonic() - connected_at >= STABLE_CONNECTION_SECONDS:
                delay = self.min_delay
            self.stop_event.wait(delay)
            if time.monotonic() - connected_at < STABLE_CONNECTION_SECONDS:
                delay = min(delay * 2, self.max_delay)

    def _read(self, connection: HubConnection) -> None:
        for message in connection.records(self.stop_event):
            kind = message.get("type")
            if kind == INVOCATION:
                target = message.get("target")
                arguments = message.get("arguments") or []
                payload = arguments[0] if arguments and isinstance(arguments[0], dict) else {}
                body = payload.get("body")
                body = body if isinstance(body, dict) else {}
                if isinstance(target, str):
                    self.put(
                        Event(
                            target,
                            body,
                            message=str(payload.get("name") or ""),
                            stage=str(payload.get("eventType") or ""),
                        )
                    )
            elif kind == CLOSE:
                logger.info("Kavita's message hub closed the connection (%s)", message.get("error") or "no reason")
                return
            # pings (6) and anything else: nothing to do
