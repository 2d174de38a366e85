"""Catalogue indexes for tests: the same albums in memory or in the persisted index file, so that the
accuracy tests run on both and a test compares their decisions name by name."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.catalogue_index import PersistedIndex, open_catalogue_index
from bdnex_core.bedetheque.sitemaps import AlbumEntry
from bdnex_core.db import BDneXDB
from bdnex_core.matching.evaluation import in_memory_index
from bdnex_core.matching.index import CatalogueLookup

INDEX_KINDS = ("memory", "file")


def store_entries(db: BDneXDB, entries: Sequence[AlbumEntry]) -> None:
    """The albums stored as the site's sitemaps list them: one sitemap per 10,000 ids."""
    by_sitemap = itertools.groupby(
        sorted(entries, key=lambda entry: entry.album_id), lambda entry: entry.album_id // 10_000
    )
    catalogue = Catalogue(db)
    for block, albums in by_sitemap:
        first = block * 10_000 + 1
        catalogue.replace_sitemap(f"albums_{first}_{first + 9_999}_map.xml", albums)


def persisted_index(entries: Sequence[AlbumEntry], location: str) -> PersistedIndex:
    """The index file of a database at ``location`` (an SQLite path or a PostgreSQL URL) holding ``entries``."""
    with BDneXDB(location) as db:
        store_entries(db, entries)
        return open_catalogue_index(db, announce=lambda _line: None)


def index_factory(kind: str, folder: Path) -> Callable[[Sequence[AlbumEntry]], CatalogueLookup]:
    """``make_index(entries)`` for the evaluation: in memory, or the index file of a database in ``folder``."""
    if kind == "memory":
        return in_memory_index
    made = itertools.count()

    def make(entries: Sequence[AlbumEntry]) -> CatalogueLookup:
        return persisted_index(entries, str(folder / f"catalogue-{next(made)}.db"))

    return make
