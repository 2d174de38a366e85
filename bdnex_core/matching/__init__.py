"""Matching file names to Bédéthèque albums: parsing, candidates, scores, decisions (no network)."""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.matching.matcher import Matcher


def load_matcher(settings: Settings, db: BDneXDB) -> Matcher:
    """A matcher over the catalogue index stored in ``db``; a clear error when it is empty."""
    from bdnex_core.bedetheque.catalogue import Catalogue
    from bdnex_core.errors import CatalogueError
    from bdnex_core.matching.index import CatalogueIndex
    from bdnex_core.matching.matcher import Matcher

    catalogue = Catalogue(db)
    if catalogue.count() == 0:
        raise CatalogueError("the catalogue index is empty: run `bdnex-core catalogue update` first")
    index = CatalogueIndex.build(catalogue.rows())

    # the matcher runs in worker threads: each reads through its own connection, never the caller's
    local = threading.local()

    def url_of(album_id: int) -> str | None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = sqlite3.connect(db.path) if db.path else db.db.conn
        rows = connection.execute("SELECT url FROM catalogue_albums WHERE album_id = ?", [album_id]).fetchall()
        return rows[0][0] if rows else None

    return Matcher(index, settings.matching, url_of=url_of)
