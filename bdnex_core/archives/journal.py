"""The journal of in-place archive writes, and taking back the writes a crash interrupted.

The entries live in the database (table ``archive_journal``, :mod:`bdnex_core.store.archive_journal`),
not beside the archives: every command opens the database, so finding the interrupted writes is
one query instead of a walk through the library's folders; the entry of a tagging run's write is
deleted in the very transaction that records the file's new state, so after a crash an entry
left means "never recorded", and taking that write back is what makes the file and the database
agree; and nothing appears in the library's folders for a Komga or Kavita watcher to see (nor is
a writable folder needed). The price is a durable commit per write; a write without a database
takes the copy path.

This module knows the store only through :class:`JournalStore` (archives do not import the
storage layer). The journal a write uses is passed to ``write_comicinfo`` or set for a block of
code with :func:`journalled`, which is how the tagging pipeline reaches the CBZ writer and the
plugins' writers through the unchanged ``MetadataWriter`` protocol.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from bdnex_core.archives.inplace import JournalEntry, TakeBack, take_back
from bdnex_core.liveness import process_alive

logger = logging.getLogger(__name__)

# A write of another machine (a database shared through PostgreSQL) is taken back only when its
# entry is this old: its writer records it within seconds, and the claims' rule is the same.
OTHER_HOST_STALE_NS = 10 * 60 * 10**9


class JournalStore(Protocol):
    def begin(self, row: dict[str, Any]) -> int:
        """Keep ``row`` durably (on disk when this returns); its id. A second entry for one path fails."""
        ...

    def end(self, journal_ids: Sequence[int]) -> int:
        """Delete these entries; how many there were."""
        ...

    def pending(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        ...

    def pending_for(self, file_path: str) -> dict[str, Any] | None:
        """The entry of the archive at this absolute path, if any."""
        ...


class WriteJournal:
    """The journal ``write_comicinfo`` writes its entries to.

    ``defer_end``: an entry stays after its write until the caller deletes it along with its own
    record of the write (the pipeline); otherwise it is deleted as soon as the write is flushed.
    """

    def __init__(self, store: JournalStore, *, defer_end: bool = False):
        self.store = store
        self.defer_end = defer_end
        self._open: dict[int, JournalEntry] = {}

    def begin(self, entry: JournalEntry) -> int:
        journal_id = self.store.begin({**entry.as_row(), "host": socket.gethostname(), "pid": os.getpid()})
        self._open[journal_id] = entry
        return journal_id

    def entry(self, journal_id: int) -> JournalEntry:
        return self._open[journal_id]

    def end(self, journal_id: int) -> None:
        """The write of ``journal_id`` is complete and flushed."""
        if not self.defer_end:
            self.store.end([journal_id])
            del self._open[journal_id]

    def abandon(self, journal_id: int) -> None:
        """The write of ``journal_id`` was taken back by its writer: the entry goes."""
        self.store.end([journal_id])
        self._open.pop(journal_id, None)

    def pending_ids(self) -> list[int]:
        """The entries of complete writes waiting for the caller's record (``defer_end``)."""
        return list(self._open)

    def forget(self, journal_ids: Sequence[int]) -> None:
        """The caller deleted these entries with its record."""
        for journal_id in journal_ids:
            self._open.pop(journal_id, None)

    def take_back_all(self) -> None:
        """Give back the original of every write still open here (a later step failed: nothing is recorded)."""
        for journal_id, entry in list(self._open.items()):
            take_back(entry)
            self.abandon(journal_id)


_current: contextvars.ContextVar[WriteJournal | None] = contextvars.ContextVar("bdnex_write_journal", default=None)


@contextmanager
def journalled(journal: WriteJournal) -> Iterator[WriteJournal]:
    """In this block (this thread), ``write_comicinfo`` calls without a journal of their own use ``journal``."""
    token = _current.set(journal)
    try:
        yield journal
    finally:
        _current.reset(token)


def current_journal() -> WriteJournal | None:
    return _current.get()


@dataclass(frozen=True)
class TakenBack:
    path: str
    result: TakeBack | None  # None: it could not be done now (error), the entry stays for the next run
    error: str = ""


def _writer_may_be_running(row: dict[str, Any], now_ns: int) -> bool:
    if row["host"] == socket.gethostname():
        return int(row["pid"]) == os.getpid() or process_alive(int(row["pid"]))
    return now_ns - int(row["started_ns"]) < OTHER_HOST_STALE_NS


def take_back_interrupted(store: JournalStore) -> list[TakenBack]:
    """Give every archive whose in-place write was interrupted (its writer is dead) its original
    bytes back, and delete the entries done with. Called by every opening of a database."""
    now_ns = time.time_ns()
    return [_take_back_row(store, row) for row in store.pending() if not _writer_may_be_running(row, now_ns)]


def take_back_abandoned(store: JournalStore, path: str | os.PathLike[str]) -> TakenBack | None:
    """The same for one archive, before it is read: a run that takes over the files of a run killed
    since it started (their claims) finds them as they were, not half written."""
    row = store.pending_for(os.path.abspath(path))
    if row is None or _writer_may_be_running(row, time.time_ns()):
        return None
    return _take_back_row(store, row)


def _take_back_row(store: JournalStore, row: dict[str, Any]) -> TakenBack:
    entry = JournalEntry.from_row(row)
    try:
        result = take_back(entry)
    except OSError as exc:
        logger.warning("%s: an interrupted write could not be taken back yet: %s", entry.path, exc.strerror or exc)
        return TakenBack(entry.path, None, str(exc.strerror or exc))
    store.end([int(row["id"])])
    if result is TakeBack.REPLACED:
        logger.warning("%s: changed since an interrupted write of ours; left as it is", entry.path)
    elif result is TakeBack.RESTORED:
        logger.info("%s: an interrupted write was taken back (the file is as it was)", entry.path)
    return TakenBack(entry.path, result)
