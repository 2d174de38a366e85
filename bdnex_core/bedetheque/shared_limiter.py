"""Politeness shared by every process of one database: the request slot.

The per-process :class:`~bdnex_core.bedetheque.client.RateLimiter` keeps the threads of one
process apart, but three ``tag`` runs on one database would each keep their own pace and send
three times the allowed rate together. So a client given a database also takes, before each
request, the host's row of ``request_slots`` in one short write transaction: when the next
request may start, and how many requests the current hour window has counted. A process that is
too early learns how long to wait, sleeps outside the transaction (nobody is held up meanwhile)
and asks again; the slot is moved on only by the process that sends, at the moment it sends, so
a run that wakes late cannot let the next one go out too close behind it.

Times are read from the database's clock and only their differences are used here (how long to
sleep), so processes whose clocks disagree still keep apart once the database is shared by
several machines (PostgreSQL: ``clock_timestamp()``; the SQLite file lives on one machine).
"""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING

from bdnex_core.errors import HourlyCapReached
from bdnex_core.store.request_slots import Slot

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB

HOUR = 3600.0


class SharedRateLimiter:
    """At least ``min_delay`` (+ jitter) between two requests to ``host`` by any process of the
    database, and at most ``per_hour`` requests in an hour window; same ``wait()`` as RateLimiter."""

    def __init__(self, db: BDneXDB, host: str, min_delay: float, jitter: float, per_hour: int):
        self.db, self.host = db, host
        self.min_delay, self.jitter, self.per_hour = min_delay, jitter, per_hour
        self._lock = threading.Lock()  # the threads of this process queue here, as for RateLimiter

    def wait(self) -> None:
        with self._lock:
            while (early := self.db.request_slots.take(self.host, self._decide)) > 0:
                time.sleep(early)

    def _decide(self, now: float, slot: Slot) -> tuple[float, Slot]:
        """The seconds the slot is still held, or 0 and the slot after this request."""
        window_start, count = slot.window_start, slot.window_count
        if now - window_start >= HOUR or window_start > now:  # a new hour (or a clock set back)
            window_start, count = now, 0
        if count >= self.per_hour:
            minutes = max(1, round((window_start + HOUR - now) / 60))
            raise HourlyCapReached(
                f"reached catalogue.max_requests_per_hour ({self.per_hour}) for all the runs sharing this "
                f"database; stopping here to stay polite — resume in about {minutes} min "
                "(cached albums are not fetched again)"
            )
        early = slot.next_at - now
        if 0 < early <= self.min_delay + self.jitter:  # longer: a slot from a clock set back, not a wait
            return early, slot
        return 0.0, Slot(now + self.min_delay + random.uniform(0, self.jitter), window_start, count + 1)


_registry_lock = threading.Lock()
_limiters: dict[tuple[str, str, float, float, int], SharedRateLimiter] = {}


def database_limiter(db: BDneXDB, host: str, settings: Settings) -> SharedRateLimiter | None:
    """The shared limiter of ``host`` on ``db`` for this process (its own connection, since worker
    threads take it while the run records results); ``None`` for an in-memory database."""
    if db.memory:
        return None
    catalogue = settings.catalogue
    params = (catalogue.min_delay_seconds, catalogue.jitter_seconds, catalogue.max_requests_per_hour)
    key = (db.identity, host, *params)
    with _registry_lock:
        if key not in _limiters:
            _limiters[key] = SharedRateLimiter(db.reopen(), host, *params)
        return _limiters[key]


def reset_database_limiters() -> None:
    """Close the connections of the shared limiters (a new run in the same process, and tests);
    what they recorded stays in the database."""
    with _registry_lock:
        for limiter in _limiters.values():
            limiter.db.close()
        _limiters.clear()
