"""The moment a request goes on the wire, told to the politeness slot that allowed it.

The slot is granted before ``requests`` looks up a pooled connection, opens a new one or writes
anything; spacing the grants would let a sender that stalls in between (a GC pause, a slow connect, a
descheduled thread) arrive right behind the next one. So our connections tell the turn of this thread
(:func:`on_the_wire`) right before the request's bytes are written, once connected (too late after the
grant, the turn refuses and nothing is sent), and right after they were: the next request is spaced from
that moment.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol

_local = threading.local()


class WriteObserver(Protocol):
    def before_write(self) -> None: ...

    def after_write(self) -> None: ...


@contextlib.contextmanager
def on_the_wire(observer: WriteObserver) -> Iterator[None]:
    """Requests this thread writes inside the block are announced to ``observer``."""
    _local.observer = observer
    try:
        yield
    finally:
        _local.observer = None


class AnnouncedWrites:
    """A urllib3 connection mixin: connect, tell the observer, write the request, tell it again."""

    sock: Any

    def request(self, *args: Any, **kwargs: Any) -> None:
        observer: WriteObserver | None = getattr(_local, "observer", None)
        if observer is None:
            super().request(*args, **kwargs)  # type: ignore[misc]
            return
        if self.sock is None:
            self.connect()  # type: ignore[attr-defined]  # the connection's time is not the request's: connect before the check
        observer.before_write()
        super().request(*args, **kwargs)  # type: ignore[misc]
        observer.after_write()
