"""The stand-in's SignalR message hub: RFC 6455 WebSocket frames (server side) and the JSON hub protocol.

ASP.NET Core SignalR's rules as Kavita runs them: the client negotiates (``POST …/negotiate``,
which answers a ``connectionToken``), opens the WebSocket with ``?id=TOKEN&access_token=JWT``,
sends ``{"protocol":"json","version":1}`` + 0x1e and gets ``{}`` + 0x1e; a token used twice or
a wrong protocol is refused. The server then pings (``{"type":6}``) every ``ping_seconds``,
closes a client silent for ``client_timeout_seconds`` (``{"type":7,"error":…}``) and sends
invocations ``{"type":1,"target":NAME,"arguments":[SignalRMessage]}``. Every record a client sends
is recorded so tests can check it followed the protocol.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import socket
import struct
import threading
import time
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SEPARATOR = "\x1e"
TEXT, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x8, 0x9, 0xA, 0x0


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, payload: bytes) -> bytes:
    """A server frame (never masked)."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack(">H", size)
    else:
        head += bytes([127]) + struct.pack(">Q", size)
    return head + payload


class ProtocolViolation(Exception):
    pass


class HubConnection:
    """One client's WebSocket, served in the HTTP handler's thread until it ends."""

    def __init__(self, sock: socket.socket, hub: Hub, user: str):
        self.sock = sock
        self.hub = hub
        self.user = user
        self.outbox: queue.Queue[str | None] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        self.closed = threading.Event()
        self._buffer = b""

    def _parse_frame(self) -> tuple[bool, int, bytes] | None:
        """(fin, opcode, unmasked payload) of the first whole frame in the buffer, consumed; None if incomplete."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if not second & 0x80:
            raise ProtocolViolation("a client frame that is not masked")
        size, offset = second & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                return None
            size, offset = struct.unpack(">H", buffer[2:4])[0], 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            size, offset = struct.unpack(">Q", buffer[2:10])[0], 10
        if len(buffer) < offset + 4 + size:
            return None
        mask = buffer[offset : offset + 4]
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(buffer[offset + 4 : offset + 4 + size]))
        self._buffer = buffer[offset + 4 + size :]
        return bool(first & 0x80), first & 0x0F, payload

    def read_message(self) -> tuple[int, bytes]:
        """One whole message (continuations joined); client frames must be masked (RFC 6455 5.1).
        Raises ``TimeoutError`` (the socket's) when no whole frame came in time; nothing is lost."""
        opcode, parts = None, []
        while True:
            parsed = self._parse_frame()
            while parsed is None:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("client went away")
                self._buffer += chunk
                parsed = self._parse_frame()
            fin, code, data = parsed
            if code in (CLOSE, PING, PONG):
                return code, data
            opcode = code if code != CONTINUATION else opcode
            parts.append(data)
            if fin:
                return opcode or TEXT, b"".join(parts)

    def send_text(self, text: str) -> None:
        self.sock.sendall(frame(TEXT, text.encode("utf-8")))

    def serve(self) -> None:
        """Handshake, then pings, outgoing invocations and the client's records until the end."""
        self.sock.settimeout(0.05)
        try:
            handshake = self._next_records(deadline=time.monotonic() + self.hub.client_timeout_seconds)
            if not handshake or handshake[0] != {"protocol": "json", "version": 1}:
                self.hub.violations.append(f"bad handshake: {handshake!r}")
                self.send_text(json.dumps({"error": "Requested protocol is not available"}) + SEPARATOR)
                return
            self.send_text("{}" + SEPARATOR)
            self.hub.register(self)
            last_ping = last_heard = time.monotonic()
            while not self.closed.is_set():
                try:
                    outgoing = self.outbox.get_nowait()
                except queue.Empty:
                    outgoing = ""
                if outgoing is None:  # dropped by the test: no close message, as a network failure
                    return
                if outgoing:
                    self.send_text(outgoing)
                now = time.monotonic()
                if now - last_ping >= self.hub.ping_seconds:
                    self.send_text(json.dumps({"type": 6}) + SEPARATOR)
                    last_ping = now
                records = self._next_records(deadline=now + 0.05)
                if records is None:
                    return
                if records:
                    last_heard = time.monotonic()
                elif time.monotonic() - last_heard > self.hub.client_timeout_seconds:
                    self.send_text(
                        json.dumps({"type": 7, "error": "Server timeout elapsed", "allowReconnect": True}) + SEPARATOR
                    )
                    return
        except (OSError, ConnectionError, ProtocolViolation) as exc:
            if isinstance(exc, ProtocolViolation):
                self.hub.violations.append(str(exc))
        finally:
            self.closed.set()
            self.hub.unregister(self)
            try:
                self.sock.close()
            except OSError:
                pass

    def _next_records(self, deadline: float) -> list[dict[str, Any]] | None:
        """Records received before ``deadline`` ([] when none), None when the client closed."""
        text = ""
        while time.monotonic() < deadline or (text and not text.endswith(SEPARATOR)):
            try:
                opcode, data = self.read_message()
            except TimeoutError:
                if not text:
                    return []
                continue
            if opcode == CLOSE:
                return None
            if opcode == PING:
                self.sock.sendall(frame(PONG, data))
                continue
            if opcode != TEXT:
                raise ProtocolViolation(f"a binary frame on a JSON hub (opcode {opcode})")
            text += data.decode("utf-8")
            if text.endswith(SEPARATOR):
                break
        records = []
        for raw in text.split(SEPARATOR):
            if raw.strip():
                try:
                    record = json.loads(raw)
                except ValueError:
                    raise ProtocolViolation(f"a record that is not JSON: {raw[:60]!r}") from None
                if not isinstance(record, dict):
                    raise ProtocolViolation(f"a record that is not an object: {raw[:60]!r}")
                if "type" in record and record["type"] not in (1, 2, 3, 4, 5, 6, 7):
                    raise ProtocolViolation(f"unknown message type {record['type']!r}")
                self.received.append(record)
                records.append(record)
        return records


class Hub:
    """Every open connection, the negotiated tokens, and what the clients did wrong."""

    def __init__(self, *, ping_seconds: float = 15.0, client_timeout_seconds: float = 30.0):
        self.ping_seconds = ping_seconds
        self.client_timeout_seconds = client_timeout_seconds
        self.connections: list[HubConnection] = []
        self.tokens: dict[str, str] = {}  # connection token -> user, until used
        self.violations: list[str] = []
        self.negotiations = 0
        self.opened = 0
        self._lock = threading.Lock()
        self._seq = 0

    def negotiate(self, user: str) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            self.negotiations += 1
            token = base64.urlsafe_b64encode(hashlib.sha256(f"{user}:{self._seq}:{time.time()}".encode()).digest())[:22]
            connection_token = token.decode()
            self.tokens[connection_token] = user
        return {
            "negotiateVersion": 1,
            "connectionId": f"conn-{self._seq}",
            "connectionToken": connection_token,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
                {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
                {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]},
            ],
        }

    def take_token(self, token: str) -> str | None:
        with self._lock:
            return self.tokens.pop(token, None)

    def register(self, connection: HubConnection) -> None:
        with self._lock:
            self.connections.append(connection)
            self.opened += 1

    def unregister(self, connection: HubConnection) -> None:
        with self._lock:
            if connection in self.connections:
                self.connections.remove(connection)

    def send(self, target: str, message: dict[str, Any]) -> int:
        """Invoke ``target`` on every connected client; how many got it."""
        record = json.dumps({"type": 1, "target": target, "arguments": [message]}) + SEPARATOR
        with self._lock:
            connections = list(self.connections)
        for connection in connections:
            connection.outbox.put(record)
        return len(connections)

    def drop_all(self) -> None:
        """Cut every connection without a close message (a restart, a network failure)."""
        with self._lock:
            connections = list(self.connections)
        for connection in connections:
            connection.outbox.put(None)
        deadline = time.monotonic() + 5
        while any(not connection.closed.is_set() for connection in connections) and time.monotonic() < deadline:
            time.sleep(0.02)

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.connections) >= count:
                    return True
            time.sleep(0.02)
        return False
