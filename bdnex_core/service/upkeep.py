"""What a service loop does between events: the scheduled catalogue refresh and the heartbeat.

``komga watch``/``serve`` and ``kavita watch`` open a :class:`ServiceUpkeep` around their loop (through
``bdnex_core.api.service_upkeep``) and call :meth:`ServiceUpkeep.tick` on each turn. The catalogue
index is refreshed every ``service.catalogue_refresh_days`` (default 7; 0: never), with no cron:

- polite: the same client, request slots and hourly cap as tagging (one request at a time per site);
- incremental and resumable: only the sitemaps whose ``lastmod`` changed are fetched, each stored
  in its own transaction, so a refresh stopped halfway (SIGTERM, a failure) is finished by the next
  one, which starts at the next start of the service instead of a period later;
- skipped while Bédéthèque pauses us (the loop's own pause, or the client's breaker): tried again
  once the pause is over.

When it last ran is kept in the database (``plugin_state``, ``service``/``catalogue_refresh``);
before the first one, the newest sitemap fetch of ``catalogue update`` counts, so a catalogue filled
by hand yesterday is not fetched again at the service's first start. The refresh runs in the loop's
thread, between two batches: events wait in their queue meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, shared_breaker
from bdnex_core.errors import BdnexError
from bdnex_core.service import notifications
from bdnex_core.service.health import Heartbeat, health_file

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB

logger = logging.getLogger(__name__)

STATE_PLUGIN, STATE_KEY = "service", "catalogue_refresh"
RETRY_AFTER_FAILURE = timedelta(hours=1)  # a refresh that failed is tried again this long after (at most the period)
CHECK_EVERY_SECONDS = 1.0  # how often tick() looks at the schedule (it reads the clock only)


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace(" ", "T"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ServiceUpkeep:
    def __init__(
        self,
        settings: Settings,
        db: BDneXDB,
        *,
        command: str,
        stop: threading.Event,
        status: Callable[[], Mapping[str, Any]] | None = None,
    ):
        section = settings.section("service")
        days = float(section.get("catalogue_refresh_days") or 0)
        self.settings = settings
        self.db = db
        self.stop = stop
        self.period = timedelta(days=days) if days > 0 else None
        self.activity = "waiting for events"
        self.refreshes = 0
        self._status = status
        self._next_check = 0.0
        self._loop_paused = False
        path = health_file()
        self.heartbeat = (
            Heartbeat(path, command, float(section.get("heartbeat_seconds") or 10), self.status) if path else None
        )

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ServiceUpkeep:
        if self.heartbeat is not None:
            self.heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()

    def status(self) -> dict[str, Any]:
        """What the heartbeat says (any thread)."""
        details = dict(self._status()) if self._status is not None else {}
        return {
            "activity": self.activity,
            "site_paused": self._loop_paused or notifications.site_pause.paused,
            "catalogue_refreshes": self.refreshes,
            **details,
        }

    # ------------------------------------------------------------------ the schedule

    def tick(self, *, paused: bool = False) -> None:
        """Called on each turn of the loop; ``paused``: the loop holds its work because Bédéthèque
        cannot be used now. Refreshes the catalogue when due (and not paused)."""
        self._loop_paused = paused
        now = time.monotonic()
        if self.period is None or now < self._next_check or self.stop.is_set():
            return
        self._next_check = now + CHECK_EVERY_SECONDS
        if paused or self.site_stopped():
            return
        if self.due():
            self.refresh()

    def state(self) -> dict[str, Any]:
        value = self.db.plugin_state.get(STATE_PLUGIN, STATE_KEY)
        return value if isinstance(value, dict) else {}

    def last_refresh(self) -> datetime | None:
        """When the catalogue was last refreshed completely (by this schedule, else by ``catalogue update``)."""
        state = self.state()
        if state:
            return _parse(state.get("completed"))
        fetched = [_parse(row.get("fetched_at")) for row in self.db.catalogue.sitemaps().values()]
        known = [moment for moment in fetched if moment is not None]
        return max(known) if known else None

    def due(self, now: datetime | None = None) -> bool:
        if self.period is None:
            return False
        now = now or datetime.now(UTC)
        state = self.state()
        attempted = _parse(state.get("attempted"))
        recently_failed = attempted is not None and now - attempted < min(RETRY_AFTER_FAILURE, self.period)
        if state.get("result") == "failed" and recently_failed:
            return False
        if state.get("result") == "interrupted":
            return True  # go on where the last one stopped
        last = self.last_refresh()
        return last is None or now - last >= self.period

    def site_stopped(self) -> bool:
        """The client's breaker holds every request to the site now (a ban, an outage's cooldown)."""
        try:
            shared_breaker(urlparse(self.settings.catalogue.base_url).netloc).check()
        except BdnexError:
            return True
        return False

    def _update_index_file(self) -> None:
        """The catalogue's index file brought up to the sitemaps just stored (only those re-read), so that
        the next run opens it ready; a failure here leaves the next run to do it."""
        try:
            done = Catalogue(self.db).update_index(self.settings, announce=logger.info)
        except BdnexError as exc:
            logger.warning("catalogue refresh: the index file not updated (%s); the next run updates it", exc)
        else:
            logger.info("catalogue refresh: index file %s", done)

    def refresh(self) -> str:
        """One refresh now: ``completed``, ``interrupted`` (stopped) or ``failed``. Never raises."""
        started = datetime.now(UTC)
        previous = self.state()
        self.activity = "refreshing the catalogue"
        logger.info("catalogue refresh: starting (every %s)", self.period)
        result, detail = "failed", ""
        try:
            client = BedethequeClient(self.settings, database=self.db)
            report = Catalogue(self.db).update_online(client, should_stop=self.stop.is_set)
        except BdnexError as exc:
            detail = str(exc)
            logger.warning("catalogue refresh failed: %s (tried again later)", exc)
        except Exception as exc:  # a bug: logged with its traceback; the service goes on
            detail = f"{type(exc).__name__}: {exc}"
            logger.exception("catalogue refresh failed")
        else:
            result = "interrupted" if report.interrupted else "completed"
            detail = f"{len(report.fetched)} sitemap(s) fetched, {len(report.unchanged)} unchanged"
            logger.info("catalogue refresh %s: %s, %d albums written", result, detail, report.albums)
            if report.fetched and not self.db.memory:
                self._update_index_file()
        finally:
            self.activity = "waiting for events"
        finished = datetime.now(UTC).isoformat()
        state = {
            "attempted": started.isoformat(),
            "finished": finished,
            "result": result,
            "detail": detail,
            "completed": finished if result == "completed" else previous.get("completed"),
        }
        try:
            self.db.plugin_state.set(STATE_PLUGIN, STATE_KEY, state)
        except BdnexError as exc:
            logger.warning("catalogue refresh: its state not recorded (%s)", exc)
        if result == "completed":
            self.refreshes += 1
        return result
