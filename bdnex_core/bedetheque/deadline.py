"""A total deadline for one HTTP exchange made with ``requests``.

The timeout of ``requests`` applies to each read of the socket: a server that sends its status
line, its headers or its body one byte at a time never trips it, and holds the caller for as long
as it likes. Here a watchdog shuts the connection's socket down when the exchange's deadline
passes, whatever phase it is in, and the body is read as it arrives so that the deadline and a
size cap are checked between reads. Sessions get this through :class:`DeadlineAdapter`; a caller
sets the deadline of the exchange with :func:`deadline_for`. The same connections announce their
writes to the politeness slot (``wire.py``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from bdnex_core.bedetheque.wire import AnnouncedWrites

_local = threading.local()  # the deadline of this thread's exchange, and its armed watchdog


class DeadlineExceeded(requests.Timeout):
    """The answer did not arrive whole within the exchange's total deadline."""


@contextlib.contextmanager
def deadline_for(deadline: float) -> Iterator[None]:
    """Requests made by this thread inside the block are cut off at ``deadline`` (``time.monotonic()``)."""
    _local.deadline = deadline
    try:
        yield
    except requests.ConnectionError as exc:
        if time.monotonic() >= deadline:  # the watchdog shut the connection down
            raise DeadlineExceeded(f"the answer was not complete by its deadline ({exc})") from None
        raise
    finally:
        _local.deadline = None
        _disarm()


def _disarm() -> None:
    timer = getattr(_local, "timer", None)
    if timer is not None:
        timer.cancel()
        _local.timer = None


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read, in any thread
    except OSError:
        pass  # already closed


class _Watched:
    """Arms the watchdog when the request is sent, before the status line is read."""

    sock: Any

    def getresponse(self) -> Any:
        deadline = getattr(_local, "deadline", None)
        if deadline is not None and self.sock is not None:
            _disarm()  # a redirect: the previous answer is over
            # not a daemon: its exchange always cancels it on the way out, so the interpreter's exit never
            # waits for it; a daemon thread still waking while the interpreter shuts down is killed in the
            # middle of C code (pthread_exit on Python 3.11), a rare abort at the end of a run
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, args=(self.sock,))
            timer.start()
            _local.timer = timer
        return super().getresponse()  # type: ignore[misc]


class _HTTPConnection(AnnouncedWrites, _Watched, HTTPConnection):
    pass


class _HTTPSConnection(AnnouncedWrites, _Watched, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """``requests``' adapter whose connections honour :func:`deadline_for`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def read_body(
    raw: urllib3.BaseHTTPResponse, deadline: float, max_bytes: int, too_large: Callable[[], Exception]
) -> bytes:
    """The decoded body, read as it arrives (``read1``: one network read at a time), checking the
    deadline and the size cap between reads; ``too_large()`` is raised past ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise DeadlineExceeded("the answer was not complete by its deadline")
            chunk = raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise too_large()
            chunks.append(chunk)
    except requests.RequestException:
        raise  # ours (the deadline): already what the caller expects
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.Timeout(str(exc)) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.ConnectionError(str(exc)) from None
