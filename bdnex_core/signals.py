"""Ctrl-C (SIGINT) and SIGTERM as a request to stop cleanly: an event long loops look at.

Handlers can only be installed from the main thread; elsewhere the block runs without them (the
caller's own handling applies). The previous handlers come back when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, *, second_interrupt_raises: bool = False) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGINT or SIGTERM. ``second_interrupt_raises``: a second Ctrl-C once ``stop``
    is set raises ``KeyboardInterrupt`` (a person who insists wants out now)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, frame: Any) -> None:
        if second_interrupt_raises and stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
