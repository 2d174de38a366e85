"""The shared request slot of a host: when the next request to Bédéthèque may leave, and how many
left in the current hour, for every process that shares the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from bdnex_core.store.backend import Backend


class Slot(NamedTuple):
    next_at: float  # seconds since 1970, on the database's clock
    window_start: float
    window_count: int


#: given the database's clock and the stored slot: the seconds it is still held (> 0), or 0 and the
#: slot to record for the next request
SlotDecision = Callable[[float, Slot], tuple[float, Slot]]


class RequestSlotStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def take(self, host: str, decide: SlotDecision) -> float:
        """In one transaction (other processes wait): read the slot, let ``decide`` say how long it is
        still held, and when it is free record the next one. Returns the wait in seconds (0: taken)."""
        with self.backend.write() as backend:
            backend.serialize(f"request_slots:{host}")
            now = float(backend.value(backend.now_seconds_sql()))
            found = backend.tuples(
                "SELECT next_at, window_start, window_count FROM request_slots WHERE host = ?", [host]
            )
            stored = Slot(*found[0]) if found else Slot(0.0, now, 0)
            early, following = decide(now, stored)
            if early > 0:
                return early
            backend.upsert("request_slots", {"host": host, **following._asdict()}, key=("host",))
        return 0.0
