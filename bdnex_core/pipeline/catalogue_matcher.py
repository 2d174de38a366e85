"""The matcher a command uses: over the database's persisted catalogue index, opened once, lazily.

Matching itself does no I/O (:mod:`bdnex_core.matching`); this is where it meets the database and
the index file (:mod:`bdnex_core.bedetheque.catalogue_index`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bdnex_core.bedetheque.catalogue_index import open_catalogue_index
from bdnex_core.bedetheque.catalogue_row import catalogue_rows
from bdnex_core.errors import CatalogueError
from bdnex_core.matching.index import CatalogueIndex
from bdnex_core.matching.matcher import Matcher

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.matching.filename import ParsedName
    from bdnex_core.matching.matcher import MatchResult


def require_catalogue(db: BDneXDB) -> None:
    """A clear error when the catalogue index is empty (nothing could ever match)."""
    if db.catalogue.is_empty():
        raise CatalogueError("the catalogue index is empty: run `bdnex-core catalogue update` first")


def load_matcher(settings: Settings, db: BDneXDB) -> Matcher:
    """A matcher over ``db``'s catalogue index; a clear error when it is empty.

    A database file has its index file (:mod:`bdnex_core.bedetheque.catalogue_index`), opened, not
    built; a database in memory gets the index built in memory.

    ``db``'s own connection is not read here (but in memory, where there is no other): a run loads
    its matcher in a worker thread while its main thread writes through that connection, and a read
    of another thread open on it when a write begins fails that write ("database is locked").
    """
    if db.memory:
        require_catalogue(db)
        return Matcher(
            CatalogueIndex.build(catalogue_rows(db.catalogue)), settings.matching, url_of=db.catalogue.url_of
        )

    reader = db.reopen()
    try:
        require_catalogue(reader)
        index = open_catalogue_index(reader, settings)
    finally:
        reader.close()

    # the matcher runs in worker threads: each reads through its own connection, never the caller's
    local = threading.local()

    def url_of(album_id: int) -> str | None:
        reader = getattr(local, "reader", None)
        if reader is None:
            reader = local.reader = db.reopen()
        return reader.catalogue.url_of(album_id)

    return Matcher(index, settings.matching, url_of=url_of)


class LazyMatcher:
    """Builds the matcher (the in-memory index of the whole catalogue) on first use, once, from
    any thread: a re-scan that finds nothing new never pays for it."""

    def __init__(self, settings: Settings, db: BDneXDB):
        require_catalogue(db)
        self._settings, self._db = settings, db
        self._lock = threading.Lock()
        self._matcher: Matcher | None = None

    def _get(self) -> Matcher:
        if self._matcher is None:
            with self._lock:
                if self._matcher is None:
                    self._matcher = load_matcher(self._settings, self._db)
        return self._matcher

    def match(self, parsed: ParsedName) -> MatchResult:
        return self._get().match(parsed)

    def __getattr__(self, name: str):
        return getattr(self._get(), name)
