"""A plain event-stream listener for tests: records what a ``requests`` streaming client receives."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class Frame:
    event: str | None  # None for a comment line such as ":heartbeat"
    data: Any = None
    comment: str | None = None
    at: float = field(default_factory=time.monotonic)


class EventRecorder:
    """Reads ``/sse/v1/events`` in a thread with ``iter_lines`` and keeps the frames.

    with EventRecorder(komga.url, auth=("admin@example.org", "admin-pass")) as events:
        events.wait_for(lambda f: f.event == "BookAdded")
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ):
        self.url = base_url.rstrip("/") + "/sse/v1/events"
        self.auth = auth
        self.headers = headers or {}
        self.timeout = timeout
        self.frames: list[Frame] = []
        self.status: int | None = None
        self.content_type: str | None = None
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._connected = threading.Event()
        self._changed = threading.Condition()
        self._response: requests.Response | None = None
        self._thread = threading.Thread(target=self._run, name="sse-recorder", daemon=True)

    def __enter__(self) -> EventRecorder:
        self._thread.start()
        if not self._connected.wait(self.timeout):
            raise TimeoutError(f"no answer from {self.url}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            with requests.get(
                self.url, auth=self.auth, headers=self.headers, stream=True, timeout=(5, self.timeout)
            ) as response:
                self._response = response
                self.status = response.status_code
                self.content_type = response.headers.get("Content-Type")
                self._connected.set()
                if response.status_code != 200:
                    return
                event: str | None = None
                for line in response.iter_lines(decode_unicode=True):
                    if line.startswith(":"):
                        self._add(Frame(None, comment=line[1:]))
                    elif line.startswith("event:"):
                        event = line[len("event:") :]
                    elif line.startswith("data:"):
                        self._add(Frame(event, json.loads(line[len("data:") :])))
                        event = None
        except (requests.RequestException, AttributeError, ValueError) as exc:
            # AttributeError: the response was closed under iter_lines by close()
            self.error = exc
        finally:
            self._connected.set()
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def _add(self, frame: Frame) -> None:
        with self._changed:
            self.frames.append(frame)
            self._changed.notify_all()

    def events(self, name: str | None = None) -> list[Frame]:
        with self._changed:
            return [frame for frame in self.frames if frame.event is not None and (name is None or frame.event == name)]

    def comments(self) -> list[str]:
        with self._changed:
            return [frame.comment for frame in self.frames if frame.comment is not None]

    def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 5.0, *, count: int = 1) -> list[Frame]:
        """Wait until ``count`` frames match ``predicate``; returns them (raises TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [frame for frame in self.frames if predicate(frame)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.ended.is_set() and len(found) < count):
                    raise TimeoutError(
                        f"{len(found)}/{count} matching frames; got {[f.event or f.comment for f in self.frames]}"
                    )
                self._changed.wait(timeout=remaining)
