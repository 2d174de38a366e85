"""The shared request slot of a site: when the next request to Bédéthèque may leave, which request is
in flight, the pace the site taught us, and how many requests the current hour has counted, for every
process that shares the database. What to do with the slot is the limiter's decision
(``bedetheque/pace.py``); this store only reads and writes it in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

from bdnex_core.store.backend import Backend

T = TypeVar("T")


class Slot(NamedTuple):
    next_at: float  # seconds since 1970, on the database's clock
    window_start: float
    window_count: int
    pace: float = 0.0  # seconds between requests learned from the site's refusals (0: none)
    calm: int = 0  # answers without refusal since the pace last changed
    refusals: int = 0  # refusals in a row
    retry_until: float = 0.0  # no request before this (the site's Retry-After)
    holder: str | None = None  # the request in flight: granted, not answered yet
    held_at: float = 0.0
    held_until: float = 0.0  # past this, a silent holder loses the slot


#: given the clock and the stored slot (a fresh one when there is none): what to return, and the slot
#: to record (None: leave it as it is)
SlotChange = Callable[[float, Slot], tuple[T, Slot | None]]

COLUMNS = ", ".join(Slot._fields)


def fresh_slot(now: float) -> Slot:
    return Slot(0.0, now, 0)


class RequestSlotStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def change(self, host: str, change: SlotChange[T]) -> T:
        """In one transaction (other processes wait): read the slot, let ``change`` decide, record
        what it returns as the new slot."""
        with self.backend.write() as backend:
            backend.serialize(f"request_slots:{host}")
            now = float(backend.value(backend.now_seconds_sql()))
            found = backend.tuples(f"SELECT {COLUMNS} FROM request_slots WHERE host = ?", [host])
            stored = Slot(*found[0]) if found else fresh_slot(now)
            result, following = change(now, stored)
            if following is not None and following != stored:
                backend.upsert("request_slots", {"host": host, **following._asdict()}, key=("host",))
        return result

    def read(self, host: str) -> Slot | None:
        """The slot as it is (``stats``); None when no request was ever made to ``host``."""
        found = self.backend.tuples(f"SELECT {COLUMNS} FROM request_slots WHERE host = ?", [host])
        return Slot(*found[0]) if found else None
