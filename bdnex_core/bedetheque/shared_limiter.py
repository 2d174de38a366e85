"""The request slot of a site, taken before each request and given back once its answer is in.

A client given a database takes the site's row of ``request_slots`` (one short write transaction each
time), so every process of that database keeps one pace together; a client without one (the ComicTagger
talker, the web review's covers) takes an in-memory slot shared by the threads of its process. The
rules are the same (``pace.py``): one request in flight at a time, the next one at least the pace after
the previous one **was written**, a pace that the site's refusals raise for everyone and that is kept.

The threads of one process queue on a lock first, so one of them at a time asks the database; a waiter
sleeps outside any transaction. A :class:`Turn` is what a granted request holds: the connection tells it
when the request is about to be written (too late after the grant: not sent, it asks again, see
``wire.py``) and when it was; :meth:`Turn.finish` gives the slot back with what the site answered.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bdnex_core.bedetheque.pace import LATE_SECONDS, THIS_HOST, Outcome, PaceReport, PaceRules, finish, grant
from bdnex_core.store.request_slots import RequestSlotStore, Slot, SlotChange, fresh_slot

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

T = TypeVar("T")


class LateForSlot(Exception):
    """The request was not on the wire in time after its grant: it was not sent, and asks again."""


class MemorySlots:
    """The request slots of one process, on its monotonic clock (a client without a database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, Slot] = {}

    def change(self, host: str, change: SlotChange[T]) -> T:
        with self._lock:
            now = time.monotonic()
            result, following = change(now, self._slots.get(host) or fresh_slot(now))
            if following is not None:
                self._slots[host] = following
        return result

    def read(self, host: str) -> Slot | None:
        with self._lock:
            return self._slots.get(host)


class PoliteLimiter:
    """The slot of ``host`` in ``slots``, for the threads of this process."""

    def __init__(self, slots: RequestSlotStore | MemorySlots, host: str, *, scope: str, db: BDneXDB | None = None):
        self.slots, self.host, self.scope, self.db = slots, host, scope, db
        self._threads = threading.Lock()  # one thread of the process at a time holds (or asks for) the slot
        self._me = f"{THIS_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.last_report: PaceReport | None = None

    def take(
        self,
        rules: PaceRules,
        *,
        sleep: Callable[[float], Any] = time.sleep,
        check: Callable[[], None] = lambda: None,
    ) -> Turn:
        """Wait for the slot and hold it. ``sleep`` waits (a breaker's, woken when the run stops);
        ``check`` raises when the run has stopped meanwhile."""
        self._threads.acquire()
        try:
            while (early := self.slots.change(self.host, lambda now, slot: self._grant(now, slot, rules))) > 0:
                sleep(early)
                check()
        except BaseException:
            self._threads.release()
            raise
        return Turn(self, rules)

    def _grant(self, now: float, slot: Slot, rules: PaceRules) -> tuple[float, Slot | None]:
        return grant(now, slot, rules, self._me, scope=self.scope)

    def _give_back(self, turn: Turn, outcome: Outcome, sent_ago: float | None, retry_after: float | None) -> PaceReport:
        try:
            report = self.slots.change(
                self.host,
                lambda now, slot: finish(
                    now, slot, turn.rules, self._me, outcome, sent_ago=sent_ago, retry_after=retry_after
                ),
            )
        finally:
            self._threads.release()
        self.last_report = report
        return report

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


class Turn:
    """A granted request: the slot is held until :meth:`finish`."""

    def __init__(self, limiter: PoliteLimiter, rules: PaceRules):
        self.limiter, self.rules = limiter, rules
        self.granted = time.monotonic()
        self.maybe_sent = False  # the connection began writing
        self.written: float | None = None  # when the request was whole on the wire
        self.report: PaceReport | None = None

    def before_write(self) -> None:
        """Called by the connection right before the request's bytes go out."""
        if self.written is not None:
            raise LateForSlot("a second request in one turn (a redirect): each request takes its own")
        if time.monotonic() - self.granted > LATE_SECONDS:
            raise LateForSlot(f"not sent within {LATE_SECONDS:.0f} s of its grant")
        self.maybe_sent = True

    def after_write(self) -> None:
        self.written = time.monotonic()

    def finish(self, outcome: Outcome, retry_after: float | None = None) -> PaceReport:
        """Give the slot back (once): the next request leaves the pace after this one was written."""
        if self.report is not None:
            return self.report
        if self.written is not None:
            sent_ago: float | None = time.monotonic() - self.written
        elif self.maybe_sent or outcome != Outcome.NOT_SENT:
            sent_ago = 0.0  # perhaps written, we do not know when: as if just now
        else:
            sent_ago = None
        if outcome == Outcome.NOT_SENT and sent_ago is not None:
            outcome = Outcome.FAILED
        self.report = self.limiter._give_back(self, outcome, sent_ago, retry_after)
        return self.report


_registry_lock = threading.Lock()
_limiters: dict[tuple[str, str], PoliteLimiter] = {}
_memory = MemorySlots()


def limiter_for(db: BDneXDB | None, host: str) -> PoliteLimiter:
    """The limiter of ``host`` for this process: over ``db``'s request slots (its own connection,
    since worker threads take it while the run records results), or in memory without a database
    (or with an in-memory one)."""
    key = ("memory", host) if db is None or db.memory else (db.identity, host)
    with _registry_lock:
        if key not in _limiters:
            if key[0] == "memory":
                _limiters[key] = PoliteLimiter(_memory, host, scope="this process")
            else:
                opened = db.reopen()  # type: ignore[union-attr]
                _limiters[key] = PoliteLimiter(
                    opened.request_slots, host, scope="all the runs sharing this database", db=opened
                )
        return _limiters[key]


def reset_limiters() -> None:
    """Forget the slots of this process and close the limiters' connections (a new run in the same
    process, and tests); what the database's slots recorded stays there."""
    global _memory
    with _registry_lock:
        for limiter in _limiters.values():
            limiter.close()
        _limiters.clear()
        _memory = MemorySlots()
