"""How fast we may ask Bédéthèque: the rules of one request slot, as pure functions of a clock and a slot.

The slot (``store/request_slots.py``, or its in-memory twin for a client without a database) is taken
before each request and given back when the answer is in, so that:

- **one request is in flight at a time**, for every worker of every process sharing the slot: a refusal
  is known before the next request leaves, and a request whose sender stalls between its grant and its
  send (a GC pause, a slow connect) still holds everybody else back;
- the next request leaves at least ``pace`` after **the moment the previous one was written**, not after
  its grant: politeness holds where the site measures it, at arrival;
- a refusal (429, or 503 with ``Retry-After``) **raises the pace for everyone** (doubled, at least a
  ``Retry-After`` within ``catalogue.max_delay_seconds``, never above that cap), and nobody sends before
  the ``Retry-After`` has passed (a longer one is a pause, not a pace); a long run of answers without refusal lowers it again by small steps, never below
  ``catalogue.min_delay_seconds``. The slot keeps it: the next run starts at the learned pace;
- a holder that died (same machine: its pid is gone) or stayed silent past its lease loses the slot,
  and the next request then counts as if it had just sent.

Only differences of the slot's clock are used (the database's, shared by all its processes).
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from enum import StrEnum

from bdnex_core.errors import HourlyCapReached, RateLimited
from bdnex_core.liveness import process_alive
from bdnex_core.store.request_slots import Slot

HOUR = 3600.0
POLL_SECONDS = 0.02  # how often a waiter looks again while another request is in flight
LATE_SECONDS = 5.0  # a request not on the wire this long after its grant is not sent (it asks again)
LEASE_MARGIN = LATE_SECONDS + 5.0  # a holder's lease: its whole exchange (the deadline), and this
MAX_WAIT_SECONDS = 120.0  # a Retry-After longer than this stops the run instead of holding it
DAY = 86400.0  # a Retry-After or a lease further ahead than this is a clock set back
RAISE_FACTOR = 2.0  # a refusal multiplies the pace by this
RAISE_FLOOR = 0.25  # and makes it at least this (a site that refuses at a pace of 0)
DECAY_AFTER = 100  # answers without refusal before the pace is lowered one step
THIS_HOST = socket.gethostname()


class Outcome(StrEnum):
    NOT_SENT = "not sent"  # nothing went on the wire: the slot is free at once
    FAILED = "failed"  # sent (or maybe), no usable answer: a connection error, a timeout
    ANSWERED = "answered"
    REFUSED = "refused"  # 429, or 503 with Retry-After


@dataclass(frozen=True)
class PaceRules:
    """The configuration's side of the slot (``catalogue.*``), for one client."""

    min_delay: float
    jitter: float
    per_hour: int
    max_delay: float
    lease: float  # how long a silent holder keeps the slot
    decay_after: int = DECAY_AFTER

    @property
    def decay_step(self) -> float:
        return max(0.1, 0.1 * self.min_delay)

    def pace_of(self, slot: Slot) -> float:
        return max(self.min_delay, slot.pace)


@dataclass(frozen=True)
class PaceReport:
    """What a finished request left: the pace everyone keeps now, and the refusals in a row."""

    pace: float
    configured: float
    refusals: int = 0

    @property
    def slowed(self) -> bool:
        return self.pace > self.configured + 1e-9

    def describe(self) -> str:
        """The line the progress display and the summary show once the site asked us to slow down."""
        return f"the site asked us to slow down: {self.pace:.1f} s between requests"


def _holder_gone(holder: str, now: float, slot: Slot, rules: PaceRules) -> bool:
    if now >= slot.held_until or slot.held_until - now > max(DAY, rules.lease):
        return True  # a lease past its end, or one from a clock set back
    host, _, rest = holder.partition(":")
    pid = rest.split(":", 1)[0]
    return host == THIS_HOST and pid.isdigit() and not process_alive(int(pid))


def grant(now: float, slot: Slot, rules: PaceRules, me: str, *, scope: str) -> tuple[float, Slot | None]:
    """0 and the slot held by ``me``; or the seconds to wait first (and the slot, when it changed).

    Raises HourlyCapReached when the hour window is full, RateLimited (stopping the run) when the site
    asked for a wait longer than MAX_WAIT_SECONDS."""
    pace = rules.pace_of(slot)
    changed = False
    if slot.holder is not None:
        if slot.holder.split(":")[:2] == me.split(":")[:2] or _holder_gone(slot.holder, now, slot, rules):
            # its holder is gone (or is a previous life of this process): it may have sent just now
            slot = slot._replace(holder=None, next_at=max(slot.next_at, now + pace))
            changed = True
        else:
            # not before the pace from its grant; then a look every POLL_SECONDS, less often the longer
            # it is held (a slow answer), at most once a second
            wait = max(POLL_SECONDS, slot.held_at + pace - now, min(1.0, 0.1 * (now - slot.held_at)))
            return min(wait, max(POLL_SECONDS, slot.held_until - now)), None
    next_at = slot.next_at
    if next_at - now > rules.max_delay + rules.jitter + 1.0:
        next_at = now  # a slot from a clock set back, not a wait
    retry_until = slot.retry_until if slot.retry_until - now <= DAY else 0.0
    if retry_until - now > MAX_WAIT_SECONDS:
        raise RateLimited(
            f"Bédéthèque asked {scope} to wait {retry_until - now:.0f} s (Retry-After); stopping here to stay "
            "polite — resume later",
            retry_after=retry_until - now,
            stops_run=True,
        )
    early = max(next_at, retry_until) - now
    if early > 0:
        return early, slot if changed else None
    window_start, count = slot.window_start, slot.window_count
    if now - window_start >= HOUR or window_start > now:  # a new hour (or a clock set back)
        window_start, count = now, 0
    if count >= rules.per_hour:
        minutes = max(1, round((window_start + HOUR - now) / 60))
        raise HourlyCapReached(
            f"reached catalogue.max_requests_per_hour ({rules.per_hour}) for {scope}; stopping here to stay "
            f"polite — resume in about {minutes} min (cached albums are not fetched again)"
        )
    held = slot._replace(
        window_start=window_start, window_count=count, holder=me, held_at=now, held_until=now + rules.lease
    )
    return 0.0, held


def finish(
    now: float,
    slot: Slot,
    rules: PaceRules,
    me: str,
    outcome: Outcome,
    *,
    sent_ago: float | None,
    retry_after: float | None = None,
) -> tuple[PaceReport, Slot]:
    """The slot given back by ``me``: the next request at least the pace after this one was written
    (``sent_ago`` seconds ago; None: not sent), the pace raised by a refusal or lowered by calm."""
    if slot.holder == me:
        slot = slot._replace(holder=None, held_at=0.0, held_until=0.0)
    pace, calm, refusals, retry_until = slot.pace, slot.calm, slot.refusals, slot.retry_until
    if outcome == Outcome.REFUSED:
        # a Retry-After the cap admits is the gap the site wants; a longer one is a pause (held below
        # through retry_until), not a pace to keep for the rest of the run
        wanted_gap = retry_after if retry_after and retry_after <= rules.max_delay else 0.0
        pace = min(max(rules.max_delay, rules.min_delay), max(RAISE_FACTOR * rules.pace_of(slot), wanted_gap))
        pace = max(pace, min(RAISE_FLOOR, rules.max_delay))
        calm, refusals = 0, refusals + 1
        if retry_after:
            retry_until = max(retry_until, now + retry_after)
    elif outcome == Outcome.ANSWERED:
        refusals = 0
        if pace > rules.min_delay:
            calm += 1
            if calm >= rules.decay_after:
                pace, calm = max(rules.min_delay, pace - rules.decay_step), 0
        else:
            calm = 0  # nothing learned (for this configuration): nothing to lower
    next_at, count = slot.next_at, slot.window_count
    if sent_ago is not None:
        sent_at = now - max(0.0, sent_ago)
        next_at = max(next_at, sent_at + max(rules.min_delay, pace) + random.uniform(0, rules.jitter))
        count += 1
    following = slot._replace(
        next_at=next_at, window_count=count, pace=pace, calm=calm, refusals=refusals, retry_until=retry_until
    )
    return PaceReport(max(rules.min_delay, pace), rules.min_delay, refusals), following
