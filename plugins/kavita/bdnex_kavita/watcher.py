"""``kavita watch``: Kavita's hub events in, tagging runs out, each new chapter once.

Kavita says ``SeriesAdded`` when a scan creates a series and ``ScanSeries`` when a series scan
ends; a library scan that adds chapters to series it already had says only that the scan
ended (``NotificationProgress`` / ``ScanProgress`` / ``ended``). So: a named series is
inspected (its chapters listed), and an ended library scan, like every (re)connection, makes
the worker catch up by listing: the series of the watched libraries, newest chapter first,
down to the checkpoint. A chapter is new when Kavita created it after the watcher first started
(``watch.checkpoint``'s ``since``, in Kavita's clock) and it was never processed. New chapters
wait ``kavita.settle_seconds`` after the last event (a scan adds them in bursts), then go through
the core's pipeline together, one session per batch.

State (``plugin_state``, plugin ``kavita``): ``watch.checkpoint`` (``since``, and the newest
``lastChapterAdded`` seen), ``watch.pending`` (chapters waiting, kept across restarts) and
``chapter:<id>`` (each chapter processed). When Bédéthèque cannot be used (a run ends with exit
code 4: a ban, the site gone, the hourly cap), the queue pauses with a growing delay and the
chapters wait; none is marked failed for it. All database work happens in the thread that calls
:meth:`KavitaWorker.run`; the hub reader only calls :meth:`submit`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import BdnexError, SiteUnavailable
from bdnex_core.library import LibraryItem
from bdnex_kavita.client import SORT_BY_LAST_CHAPTER_ADDED, KavitaClient
from bdnex_kavita.errors import KavitaError, KavitaHTTPError
from bdnex_kavita.hub import CONNECTED, DISCONNECTED, FATAL, Event
from bdnex_kavita.settings import KavitaSettings
from bdnex_kavita.source import item_from_chapter, resolve_libraries, series_chapters

if TYPE_CHECKING:
    from bdnex_core.api import BDneXDB, RunSummary, Settings

logger = logging.getLogger(__name__)

PLUGIN = "kavita"
CHECKPOINT_KEY = "watch.checkpoint"
PENDING_KEY = "watch.pending"
SITE_UNUSABLE_EXIT = SiteUnavailable.exit_code
MAX_PAUSE_SECONDS = 3600.0
SERIES_EVENTS = ("SeriesAdded", "ScanSeries")


def kavita_time(value: Any) -> str:
    """Kavita's date-times compared as text: ``2024-05-01T10:00:00.123`` (no offset, its own clock)."""
    return str(value or "")[:26]


@dataclass
class WorkerStats:
    events: int = 0
    series_inspected: int = 0
    added: int = 0
    caught_up: int = 0
    catch_ups: int = 0
    connections: int = 0
    dropped: int = 0
    pauses: int = 0
    runs: int = 0
    processed: int = 0
    failures: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class KavitaWorker:
    """Finds new chapters from events and listings, and tags them, each once."""

    def __init__(
        self,
        settings: Settings,
        db: BDneXDB,
        config: KavitaSettings,
        client: KavitaClient,
        *,
        workers: int = 2,
        on_summary: Callable[[RunSummary], None] | None = None,
    ):
        self.settings = settings
        self.db = db
        self.config = config
        self.client = client
        self.workers = workers
        self.on_summary = on_summary
        self.queue: queue.Queue[Event] = queue.Queue()
        self.pending: dict[int, int] = {}  # chapter id -> series id
        self.last_event = 0.0  # monotonic time new chapters were last found
        self.retry_at: dict[int, float] = {}
        self.attempts: dict[int, int] = {}
        self.paused_until = 0.0
        self.pause_delay = 0.0
        self.stats = WorkerStats()
        self.stop_event = threading.Event()
        self._libraries: set[int] | None = None

    # ------------------------------------------------------------------ input (any thread)

    def submit(self, event: Event) -> None:
        self.queue.put(event)

    # ------------------------------------------------------------------ the loop (one thread)

    def run(self, *, exit_after: float | None = None, poll: float = 0.2) -> None:
        """Handle events until :attr:`stop_event` is set (or ``exit_after`` seconds passed)."""
        from bdnex_core.api import service_upkeep

        deadline = time.monotonic() + exit_after if exit_after else None
        self._restore_pending()
        # the catalogue refresh and the heartbeat, as every long-running command has them
        with service_upkeep(
            self.settings, self.db, command="kavita watch", stop=self.stop_event, status=self.stats.to_dict
        ) as upkeep:
            while not self.stop_event.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    event = self.queue.get(timeout=poll)
                except queue.Empty:
                    event = None
                if event is not None and event.name == FATAL:
                    raise KavitaError(str(event.data.get("message") or "Kavita refused the message hub"))
                try:  # one bad event or one failed batch is logged: the service goes on
                    if event is not None:
                        self.handle(event)
                    self.flush_if_due()
                    upkeep.tick(paused=self.paused())
                except Exception as exc:
                    what = f"{event.name} event" if event is not None else "processing the new chapters"
                    if isinstance(exc, BdnexError):
                        logger.error("Kavita %s: %s", what, exc)
                    else:
                        logger.exception("Kavita %s failed", what)
                    self.stats.dropped += 1

    def handle(self, event: Event) -> None:
        self.stats.events += 1
        if event.name == CONNECTED:
            self.stats.connections += 1
            self._catch_up_logged()
        elif event.name == DISCONNECTED:
            logger.info("Kavita events: disconnected, reconnecting")
        elif event.name in SERIES_EVENTS:
            series_id, library_id = event.data.get("seriesId"), event.data.get("libraryId")
            if not isinstance(series_id, int) or isinstance(series_id, bool):
                logger.warning("Kavita %s event without a series id dropped: %r", event.name, event.data)
                self.stats.dropped += 1
                return
            if isinstance(library_id, int) and not self._wanted_library(library_id):
                return
            self.inspect_series(series_id)
        elif event.name == "NotificationProgress" and event.message == "ScanProgress" and event.stage == "ended":
            self._catch_up_logged()  # a library scan may have added chapters to series it already had

    def _catch_up_logged(self) -> None:
        try:
            self.catch_up()
        except KavitaError as exc:  # the connection dropped again: the next one catches up
            logger.warning("Kavita watch: catching up failed (%s)", exc)

    def _wanted_library(self, library_id: int) -> bool:
        if self._libraries is None:
            self._libraries = {int(library["id"]) for library in resolve_libraries(self.client, self.config.libraries)}
        return library_id in self._libraries

    # ------------------------------------------------------------------ state

    def checkpoint(self) -> dict[str, Any] | None:
        return self.db.plugin_state.get(PLUGIN, CHECKPOINT_KEY)

    def is_processed(self, chapter_id: int) -> bool:
        return self.db.plugin_state.get(PLUGIN, f"chapter:{chapter_id}") is not None

    def _mark_processed(self, chapter_id: int, state: str, reason: str = "") -> None:
        self.db.plugin_state.set(
            PLUGIN, f"chapter:{chapter_id}", {"state": state, "reason": reason, "at": datetime.now(UTC).isoformat()}
        )
        self.stats.processed += 1
        if state == "failed":
            self.stats.failures += 1

    def _save_pending(self) -> None:
        self.db.plugin_state.set(PLUGIN, PENDING_KEY, {str(key): value for key, value in sorted(self.pending.items())})

    def _restore_pending(self) -> None:
        saved = self.db.plugin_state.get(PLUGIN, PENDING_KEY, {}) or {}
        for chapter_id, series_id in saved.items() if isinstance(saved, dict) else []:
            if str(chapter_id).isdigit() and isinstance(series_id, int) and not self.is_processed(int(chapter_id)):
                self.pending[int(chapter_id)] = series_id
        if self.pending:
            self.last_event = time.monotonic()

    # ------------------------------------------------------------------ finding new chapters

    def catch_up(self) -> None:
        """Inspect the series whose newest chapter came after the checkpoint (missed while away).

        The first time (no checkpoint) only records where Kavita stands: the chapters already
        there are for ``bdnex-core kavita sync``."""
        self.stats.catch_ups += 1
        checkpoint = self.checkpoint()
        libraries = [int(library["id"]) for library in resolve_libraries(self.client, self.config.libraries)]
        self._libraries = set(libraries)
        newest = kavita_time(checkpoint.get("newest")) if checkpoint else ""
        touched: list[dict[str, Any]] = []
        for library_id in libraries:
            for series in self.client.iter_series(
                library_id, page_size=self.config.page_size, sort_field=SORT_BY_LAST_CHAPTER_ADDED, ascending=False
            ):
                added = kavita_time(series.get("lastChapterAdded"))
                if checkpoint is None or added < newest:
                    touched.append(series)
                    break  # newest first: the rest is older than the checkpoint
                touched.append(series)
        latest = max((kavita_time(series.get("lastChapterAdded")) for series in touched), default="")
        if checkpoint is None:
            since = latest or "0001-01-01T00:00:00"
            self.db.plugin_state.set(PLUGIN, CHECKPOINT_KEY, {"since": since, "newest": since})
            logger.info("Kavita watch: first start, checkpoint set; run `bdnex-core kavita sync` for existing chapters")
            return
        found = 0
        for series in touched:
            if kavita_time(series.get("lastChapterAdded")) >= newest:
                found += self.inspect_series(int(series["id"]), series=series, counter="caught_up")
        if latest > newest:
            self.db.plugin_state.set(PLUGIN, CHECKPOINT_KEY, {**checkpoint, "newest": latest})
        if found:
            logger.info("Kavita watch: %d chapter(s) added while away, buffered", found)

    def inspect_series(self, series_id: int, *, series: dict[str, Any] | None = None, counter: str = "added") -> int:
        """Buffer the series' chapters created since the watcher started and never processed."""
        checkpoint = self.checkpoint() or {}
        since = kavita_time(checkpoint.get("since"))
        try:
            series = series or self.client.series(series_id)
            chapters = list(series_chapters(self.client, series))
        except KavitaHTTPError as exc:
            if exc.status == 404:
                return 0  # removed since
            raise
        self.stats.series_inspected += 1
        found = 0
        for _volume, chapter in chapters:
            chapter_id = chapter["id"]
            # a chapter of the checkpoint's own instant was there at the first start (Kavita's series date is
            # its newest chapter's creation)
            if chapter_id in self.pending or kavita_time(chapter.get("created")) <= since:
                continue
            if self.is_processed(chapter_id):
                continue
            self.pending[chapter_id] = series_id
            found += 1
        if found:
            setattr(self.stats, counter, getattr(self.stats, counter) + found)
            self.last_event = time.monotonic()
            self._save_pending()
        newest = kavita_time(series.get("lastChapterAdded"))
        if checkpoint and newest > kavita_time(checkpoint.get("newest")):
            self.db.plugin_state.set(PLUGIN, CHECKPOINT_KEY, {**checkpoint, "newest": newest})
        return found

    # ------------------------------------------------------------------ processing

    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def flush_if_due(self) -> None:
        now = time.monotonic()
        if not self.pending or self.paused() or now - self.last_event < self.config.settle_seconds:
            return
        ready = [chapter for chapter in sorted(self.pending) if self.retry_at.get(chapter, 0.0) <= now]
        if ready:
            self.process(ready)

    def process(self, chapter_ids: list[int]) -> RunSummary | None:
        """Tag these chapters (those not processed yet) in one session."""
        from bdnex_core.api import TagOptions, run_tagging

        items: list[LibraryItem] = []
        by_series: dict[int, list[int]] = {}
        for chapter_id in chapter_ids:
            by_series.setdefault(self.pending[chapter_id], []).append(chapter_id)
        for series_id, wanted in by_series.items():
            try:
                series = self.client.series(series_id)
                found = {chapter["id"]: (volume, chapter) for volume, chapter in series_chapters(self.client, series)}
            except KavitaHTTPError as exc:
                if exc.status != 404:
                    raise
                series, found = {}, {}
            for chapter_id in wanted:
                if chapter_id not in found:
                    self._mark_processed(chapter_id, "gone", "removed from Kavita before it was processed")
                    self.pending.pop(chapter_id, None)
                    continue
                volume, chapter = found[chapter_id]
                items.append(item_from_chapter(series, volume, chapter, self.config, force=False))
        self._save_pending()
        if not items:
            return None
        if self.pause_delay:
            from bdnex_core.api import retry_site_now

            retry_site_now()  # the pause is over: Bédéthèque gets a new chance
        options = TagOptions(
            workers=self.workers, source="kavita", locations=tuple(f"chapter:{item.external_id}" for item in items)
        )
        summary = run_tagging(self.settings, self.db, items, options)
        self.stats.runs += 1
        if summary.exit_code == SITE_UNUSABLE_EXIT:
            self._pause_queue(summary)
        else:
            self.pause_delay = 0.0
        for outcome in summary.outcomes:
            chapter_id = int(str(outcome.item.external_id))
            if outcome.state == "failed":
                self._failed(chapter_id, outcome.reason)
            else:
                self._mark_processed(chapter_id, outcome.state, outcome.reason)
                self.pending.pop(chapter_id, None)
                self.retry_at.pop(chapter_id, None)
        self._save_pending()
        if self.on_summary is not None:
            self.on_summary(summary)
        if summary.status == "paused" and summary.exit_code != SITE_UNUSABLE_EXIT:
            self.stop_event.set()  # Ctrl-C / SIGTERM during the run
        return summary

    def _failed(self, chapter_id: int, reason: str) -> None:
        """Tried again after ``kavita.retry_delay_seconds``, given up after ``kavita.max_attempts``."""
        attempts = self.attempts[chapter_id] = self.attempts.get(chapter_id, 0) + 1
        if attempts >= self.config.max_attempts:
            logger.error(
                "Kavita chapter %s: %s (given up after %d attempts; `bdnex-core kavita sync --chapter %s` tries again)",
                chapter_id,
                reason,
                attempts,
                chapter_id,
            )
            self._mark_processed(chapter_id, "failed", reason)
            self.pending.pop(chapter_id, None)
            self.retry_at.pop(chapter_id, None)
            return
        logger.warning(
            "Kavita chapter %s: %s (attempt %d of %d, retried in %g s)",
            chapter_id,
            reason,
            attempts,
            self.config.max_attempts,
            self.config.retry_delay_seconds,
        )
        self.retry_at[chapter_id] = time.monotonic() + self.config.retry_delay_seconds

    def _pause_queue(self, summary: RunSummary) -> None:
        """Bédéthèque is not usable now: every chapter stays pending, none is marked failed for it, and the
        queue waits, longer each time, before trying again."""
        self.pause_delay = min(
            max(self.pause_delay * 2, self.config.retry_delay_seconds, 0.1), max(MAX_PAUSE_SECONDS, 0.1)
        )
        self.paused_until = time.monotonic() + self.pause_delay
        self.stats.pauses += 1
        logger.warning(
            "Kavita queue paused for %g s: %s (%d chapter(s) wait)",
            self.pause_delay,
            summary.message or "Bédéthèque is not usable now",
            len(self.pending),
        )
