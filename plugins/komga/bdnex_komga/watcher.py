"""The queue ``watch`` and ``serve`` share: Komga events in, tagging runs out.

Only ``BookAdded`` starts work. Added books wait in a buffer until Komga's task
queue is idle (a ``TaskQueueStatus`` with ``count`` 0: the books are analysed)
or until ``komga.idle_timeout_seconds`` passed, then go through the core's
tagging pipeline together (one session per batch: review queue, resume, logs
as with ``tag``). ``BookChanged`` never starts work: Komga sends it several
times per book, including after our own writes.

State kept in the database (``plugin_state``, plugin ``komga``):

- ``watch.checkpoint``: creation date and id of the newest book seen; on each
  (re)connection, ``GET /api/v1/books/latest`` is read back to it, so books
  added while disconnected are not missed;
- ``watch.pending``: books buffered and not processed yet (survive a restart);
- ``book:<id>``: each book processed, so it is processed once.

Book ids from events are checked (Komga ids only) before they are buffered: a
poison event is dropped with a log line, never retried, and never stops the
service. When Bédéthèque cannot be used (a run ends with exit code 4: a ban, the
site gone, the hourly cap), the queue pauses with a growing delay and the books
wait; none is marked failed for it.

All database work happens in the thread that calls :meth:`KomgaWorker.run`;
other threads (the SSE reader, the webhook server) only call :meth:`submit`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import BdnexError, SiteUnavailable
from bdnex_core.library import LibraryItem
from bdnex_komga.client import KomgaClient, KomgaError, KomgaHTTPError
from bdnex_komga.errors import InvalidKomgaId
from bdnex_komga.events import CONNECTED, DISCONNECTED, FATAL, Event
from bdnex_komga.ids import is_komga_id
from bdnex_komga.settings import KomgaSettings
from bdnex_komga.source import item_from_book
from bdnex_komga.writeback import recent_writes

if TYPE_CHECKING:
    from bdnex_core.api import BDneXDB, RunSummary, Settings

logger = logging.getLogger(__name__)

PLUGIN = "komga"
CHECKPOINT_KEY = "watch.checkpoint"
PENDING_KEY = "watch.pending"
CATCH_UP_PAGE_SIZE = 100
CATCH_UP_MAX_PAGES = 100
# a run stopped because Bédéthèque cannot be used now (errors with ``stops_run``)
SITE_UNUSABLE_EXIT = SiteUnavailable.exit_code
MAX_PAUSE_SECONDS = 3600.0


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class WorkerStats:
    events: int = 0
    added: int = 0
    duplicates: int = 0
    own_changes_ignored: int = 0
    changes_ignored: int = 0
    caught_up: int = 0
    dropped: int = 0
    connections: int = 0
    pauses: int = 0
    runs: int = 0
    processed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "added": self.added,
            "duplicates": self.duplicates,
            "own_changes_ignored": self.own_changes_ignored,
            "changes_ignored": self.changes_ignored,
            "caught_up": self.caught_up,
            "dropped": self.dropped,
            "connections": self.connections,
            "pauses": self.pauses,
            "runs": self.runs,
            "processed": len(self.processed),
            "failures": len(self.failures),
        }


class KomgaWorker:
    """Buffers added books and tags them, each once."""

    def __init__(
        self,
        settings: Settings,
        db: BDneXDB,
        config: KomgaSettings,
        client: KomgaClient,
        *,
        workers: int = 2,
        download_dir: Path | None = None,
        on_summary: Callable[[RunSummary], None] | None = None,
    ):
        self.settings = settings
        self.db = db
        self.config = config
        self.client = client
        self.workers = workers
        self.download_dir = download_dir
        self.on_summary = on_summary
        self.queue: queue.Queue[Event] = queue.Queue()
        self.pending: dict[str, float] = {}  # book id -> when it was buffered (monotonic)
        self.retry_at: dict[str, float] = {}  # book id -> not before (after a failure)
        self.attempts: dict[str, int] = {}
        # the whole queue waits (Bédéthèque unusable: a ban, the site gone, the hourly cap)
        self.paused_until = 0.0
        self.pause_delay = 0.0
        self.stats = WorkerStats()
        self.stop_event = threading.Event()
        self.command = "komga watch"  # what the heartbeat names (serve sets its own)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ input (any thread)

    def submit(self, event: Event) -> None:
        self.queue.put(event)

    def snapshot(self) -> dict[str, Any]:
        """Counters for ``GET /health`` (any thread)."""
        with self._lock:
            data = self.stats.to_dict()
            data["pending"] = len(self.pending)
        data["queued_events"] = self.queue.qsize()
        data["paused_for_seconds"] = round(max(0.0, self.paused_until - time.monotonic()), 1)
        return data

    # ------------------------------------------------------------------ the loop (one thread)

    def run(self, *, exit_after: float | None = None, poll: float = 0.2) -> None:
        """Handle events until :attr:`stop_event` is set (or ``exit_after`` seconds passed)."""
        from bdnex_core.api import service_upkeep

        deadline = time.monotonic() + exit_after if exit_after else None
        self._restore_pending()
        # the catalogue refresh and the heartbeat, as every long-running command has them
        with service_upkeep(
            self.settings, self.db, command=self.command, stop=self.stop_event, status=self.snapshot
        ) as upkeep:
            while not self.stop_event.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    event = self.queue.get(timeout=poll)
                except queue.Empty:
                    event = None
                if event is not None and event.name == FATAL:
                    raise KomgaError(str(event.data.get("message") or "Komga refused the event stream"))
                # one bad event or one failed batch is logged and dropped: the service goes on
                try:
                    if event is not None:
                        self.handle(event)
                    self.flush_if_due()
                    upkeep.tick(paused=self.paused())
                except Exception as exc:
                    self._survive(event, exc)

    def _survive(self, event: Event | None, exc: Exception) -> None:
        what = f"{event.name} event from {event.origin}" if event is not None else "processing the added books"
        if isinstance(exc, BdnexError):
            logger.error("Komga %s: %s (dropped)", what, exc)
        else:  # a bug: its traceback goes to the log, the service keeps serving
            logger.exception("Komga %s failed (dropped)", what)
        with self._lock:
            self.stats.dropped += 1

    def _drop(self, event: Event, reason: str) -> None:
        """A poison event: logged once and forgotten (never buffered, never retried)."""
        logger.warning("Komga %s event from %s dropped: %s", event.name, event.origin, reason)
        with self._lock:
            self.stats.dropped += 1

    def handle(self, event: Event) -> None:
        with self._lock:
            self.stats.events += 1
        if event.name == FATAL:
            raise KomgaError(str(event.data.get("message") or "Komga refused the event stream"))
        if event.name == CONNECTED:
            with self._lock:
                self.stats.connections += 1
            try:
                self.catch_up()
            except KomgaError as exc:  # the connection dropped again: the next one catches up
                logger.warning("Komga watch: catching up failed (%s)", exc)
        elif event.name == DISCONNECTED:
            logger.info("Komga events: disconnected, reconnecting")
        elif event.name == "BookAdded":
            self._book_added(event)
        elif event.name == "TaskQueueStatus":
            count = event.data.get("count")
            if isinstance(count, int) and count == 0 and self.pending and not self.paused():
                logger.info("Komga's task queue is idle: processing the added books")
                self.process_pending()
        elif event.name == "BookChanged":
            book_id, series_id = event.data.get("bookId"), event.data.get("seriesId")
            own = recent_writes.is_recent(
                book_id=book_id, series_id=series_id, window=self.config.own_write_window_seconds
            )
            with self._lock:
                if own:
                    self.stats.own_changes_ignored += 1
                else:
                    self.stats.changes_ignored += 1
        # SeriesAdded, SeriesChanged, BookDeleted, ReadProgress...: nothing to do

    def _wanted_library(self, library_id: Any) -> bool:
        return not self.config.libraries or library_id is None or str(library_id) in self.config.libraries

    def _book_added(self, event: Event) -> None:
        book_id = event.data.get("bookId")
        if not is_komga_id(book_id):
            self._drop(event, f"bookId {str(book_id)[:60]!r} is not a Komga id")
            return
        if not self._wanted_library(event.data.get("libraryId")):
            return
        if book_id in self.pending or self.is_processed(book_id):
            with self._lock:
                self.stats.duplicates += 1
            return
        with self._lock:
            self.pending[book_id] = time.monotonic()
            self.stats.added += 1
        self._save_pending()

    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def flush_if_due(self) -> None:
        if not self.pending or self.paused():
            return
        now = time.monotonic()
        ready = self._eligible(now)
        if ready and now - self.pending[ready[0]] >= self.config.idle_timeout_seconds:
            logger.info(
                "Komga's task queue not idle after %g s: processing %d added book(s) anyway",
                self.config.idle_timeout_seconds,
                len(ready),
            )
            self.process_pending(ready)

    # ------------------------------------------------------------------ state

    def is_processed(self, book_id: str) -> bool:
        return self.db.plugin_state.get(PLUGIN, f"book:{book_id}") is not None

    def _mark_processed(self, book_id: str, state: str, reason: str = "") -> None:
        self.db.plugin_state.set(
            PLUGIN, f"book:{book_id}", {"state": state, "reason": reason, "at": datetime.now(UTC).isoformat()}
        )
        with self._lock:
            self.stats.processed.append(book_id)
            if state == "failed":
                self.stats.failures[book_id] = reason

    def _save_pending(self) -> None:
        self.db.plugin_state.set(PLUGIN, PENDING_KEY, sorted(self.pending))

    def _restore_pending(self) -> None:
        saved = self.db.plugin_state.get(PLUGIN, PENDING_KEY, []) or []
        for book_id in saved if isinstance(saved, list) else []:
            if not is_komga_id(book_id):
                # saved by an older version that took any string: dropped, or every restart fails again
                logger.warning("Komga watch: pending book id %r is not a Komga id, dropped", str(book_id)[:60])
                continue
            if not self.is_processed(book_id):
                self.pending.setdefault(book_id, time.monotonic())
        if len(self.pending) != len(saved if isinstance(saved, list) else []):
            self._save_pending()

    def checkpoint(self) -> dict[str, Any] | None:
        return self.db.plugin_state.get(PLUGIN, CHECKPOINT_KEY)

    def _advance_checkpoint(self, books: list[dict[str, Any]]) -> None:
        current = self.checkpoint() or {}
        best = parse_time(current.get("created"))
        newest = None
        for book in books:
            created = parse_time(book.get("created"))
            if created is not None and (best is None or created > best):
                best, newest = created, book
        if newest is not None:
            self.db.plugin_state.set(PLUGIN, CHECKPOINT_KEY, {"created": newest.get("created"), "id": newest.get("id")})
        elif not current:
            self.db.plugin_state.set(PLUGIN, CHECKPOINT_KEY, {"created": None, "id": None})

    # ------------------------------------------------------------------ catching up

    def catch_up(self) -> None:
        """Buffer the books added since the checkpoint (those missed while disconnected).

        The first time (no checkpoint yet) only records the newest book: the books already
        in the library are for ``bdnex-core komga sync``.
        """
        checkpoint = self.checkpoint()
        if checkpoint is None:
            # newest first by modification date: the newest creation date is among the first few
            self._advance_checkpoint(self._latest(0)[0])
            logger.info("Komga watch: first start, checkpoint set; run `bdnex-core komga sync` for existing books")
            return
        since = parse_time(checkpoint.get("created"))
        seen: list[dict[str, Any]] = []
        for page in range(CATCH_UP_MAX_PAGES):
            content, last = self._latest(page)
            reached = False
            for book in content:
                created = parse_time(book.get("created"))
                touched = parse_time(book.get("lastModified")) or created
                # Komga's dates have a one-second resolution: a book of the checkpoint's second may
                # still be new (the processed-book records sort that out)
                if since is not None and touched is not None and touched < since:
                    reached = True  # sorted newest first: the rest is older than the checkpoint
                    break
                seen.append(book)
            if reached or not content or last:
                break
        missed = 0
        for book in seen:
            created = parse_time(book.get("created"))
            if since is not None and (created is None or created < since):
                continue  # an old book modified lately, not an added one
            book_id = book.get("id")
            if not is_komga_id(book_id):
                logger.warning("Komga watch: a recent book with id %r is not a Komga id, ignored", str(book_id)[:60])
                continue
            if book.get("deleted") or not self._wanted_library(book.get("libraryId")):
                continue
            if book_id in self.pending or self.is_processed(book_id):
                continue
            with self._lock:
                self.pending[book_id] = time.monotonic()
                self.stats.caught_up += 1
            missed += 1
        if missed:
            logger.info("Komga watch: %d book(s) added while disconnected, buffered", missed)
            self._save_pending()
        self._advance_checkpoint(seen)

    def _latest(self, page: int) -> tuple[list[dict[str, Any]], bool]:
        """(books, last page?) of ``/books/latest``; entries that are not objects are left out."""
        data = self.client.latest_books(page, CATCH_UP_PAGE_SIZE)
        if not isinstance(data, dict):
            raise KomgaError(f"Komga at {self.client.url} answered /api/v1/books/latest with something not a page")
        content = data.get("content")
        books = [book for book in content if isinstance(book, dict)] if isinstance(content, list) else []
        return books, data.get("last") is True

    # ------------------------------------------------------------------ processing

    def _eligible(self, now: float) -> list[str]:
        with self._lock:
            return sorted(
                (book_id for book_id in self.pending if self.retry_at.get(book_id, 0.0) <= now),
                key=self.pending.__getitem__,
            )

    def process_pending(self, book_ids: list[str] | None = None) -> RunSummary | None:
        book_ids = self._eligible(time.monotonic()) if book_ids is None else book_ids
        if not book_ids:
            return None
        try:
            summary = self.process_books(book_ids)
        except Exception as exc:  # the run itself could not happen (database, Komga, a bug): each book waits its retry
            if not isinstance(exc, BdnexError):
                logger.exception("Komga watch: tagging %d book(s) failed", len(book_ids))
            for book_id in book_ids:
                if not self.is_processed(book_id):
                    self._failed(book_id, str(exc) or type(exc).__name__)
            summary = None
        done = {book_id for book_id in book_ids if self.is_processed(book_id)}
        now = time.monotonic()
        with self._lock:
            for book_id in book_ids:
                if book_id in done:
                    self.pending.pop(book_id, None)
                    self.retry_at.pop(book_id, None)
                elif book_id in self.pending:
                    self.pending[book_id] = now  # failed or not reached (run paused): tried again later
        self._save_pending()
        return summary

    def _failed(self, book_id: str, reason: str) -> None:
        """A failure: tried again after ``komga.retry_delay_seconds``, given up after ``komga.max_attempts``."""
        attempts = self.attempts[book_id] = self.attempts.get(book_id, 0) + 1
        what = reason if book_id in reason else f"Komga book {book_id}: {reason}"
        if attempts >= self.config.max_attempts:
            logger.error(
                "%s (given up after %d attempts; `bdnex-core komga sync --book %s` tries again)",
                what,
                attempts,
                book_id,
            )
            self._mark_processed(book_id, "failed", reason)
            self.retry_at.pop(book_id, None)
            return
        logger.warning(
            "%s (attempt %d of %d, retried in %g s)",
            what,
            attempts,
            self.config.max_attempts,
            self.config.retry_delay_seconds,
        )
        with self._lock:
            self.retry_at[book_id] = time.monotonic() + self.config.retry_delay_seconds

    def process_books(self, book_ids: list[str]) -> RunSummary | None:
        """Tag these books (those not processed yet) in one session."""
        from bdnex_core.api import TagOptions, run_tagging

        items: list[LibraryItem] = []
        books = []
        for book_id in book_ids:
            if self.is_processed(book_id):
                continue
            try:
                book = self.client.book(book_id)
            except InvalidKomgaId as exc:  # Komga answered with another book, or not a book: never retried
                logger.warning("Komga watch: book %s dropped: %s", book_id, exc)
                self._mark_processed(book_id, "dropped", str(exc))
                continue
            except KomgaHTTPError as exc:
                if exc.status == 404:
                    self._mark_processed(book_id, "gone", "deleted from Komga before it was processed")
                else:
                    self._failed(book_id, str(exc))
                continue
            except KomgaError as exc:
                self._failed(book_id, str(exc))
                continue
            if book.get("deleted"):
                self._mark_processed(book_id, "gone", "deleted from Komga before it was processed")
                continue
            try:
                items.append(item_from_book(book, self.config, self.client, self.download_dir))
                books.append(book)
            except BdnexError as exc:
                self._failed(book_id, str(exc))
        if not items:
            return None
        if self.pause_delay:
            from bdnex_core.api import retry_site_now

            retry_site_now()  # the pause is over: Bédéthèque gets a new chance
        options = TagOptions(
            workers=self.workers, source="komga", locations=tuple(f"book:{item.external_id}" for item in items)
        )
        try:
            summary = run_tagging(self.settings, self.db, items, options)
        finally:
            _remove_downloads(items)
        with self._lock:
            self.stats.runs += 1
        if summary.status == "blocked":  # the site, or the database, cannot be used now
            self._pause_queue(summary)
        else:
            self.pause_delay = 0.0
        for outcome in summary.outcomes:
            book_id = str(outcome.item.external_id)
            if outcome.state == "failed":
                self._failed(book_id, outcome.reason)
            else:
                self._mark_processed(book_id, outcome.state, outcome.reason)
        self._advance_checkpoint(books)
        if self.on_summary is not None:
            self.on_summary(summary)
        if summary.status == "paused" and summary.exit_code != SITE_UNUSABLE_EXIT:
            self.stop_event.set()  # Ctrl-C / SIGTERM during the run
        return summary

    def _pause_queue(self, summary: RunSummary) -> None:
        """Bédéthèque (ban, site gone, hourly cap) or the database (its disk full, its server gone) is
        not usable now: every book stays pending, none is marked failed for it, and the queue waits,
        longer each time, before trying again."""
        self.pause_delay = min(
            max(self.pause_delay * 2, self.config.retry_delay_seconds, 0.1), max(MAX_PAUSE_SECONDS, 0.1)
        )
        self.paused_until = time.monotonic() + self.pause_delay
        with self._lock:
            self.stats.pauses += 1
        logger.warning(
            "Komga queue paused for %g s: %s (%d book(s) wait)",
            self.pause_delay,
            summary.message or "Bédéthèque is not usable now",
            len(self.pending),
        )


def _remove_downloads(items: list[LibraryItem]) -> None:
    """Downloaded copies (API-only writing, no local file) are not needed once the run is over."""
    for item in items:
        if item.write_back.downloaded and item.path is not None:
            item.path.unlink(missing_ok=True)
            try:
                item.path.parent.rmdir()
            except OSError:
                pass
