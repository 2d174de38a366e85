"""An album for a plugin: from the album cache when it has it, else from the site.

Apart from :mod:`.operations` because a calibre lookup runs it once per album, each in a process of
its own: a cached album costs neither the HTTP stack nor the page parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bdnex_core.bedetheque.album import Album

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB


def fetch_album(settings: Settings, db: BDneXDB, album_id: int) -> Any:
    """An album (``Album``; ``to_dict()`` for JSON): from the cache while valid, else fetched through
    the polite client and cached. Raises a ``CatalogueError`` when the site cannot answer."""
    cached = db.albums.get(album_id)
    if cached is not None:
        return Album.from_dict(cached)
    from bdnex_core.app import operations  # lazy: the HTTP stack and the page parser, only for an album not cached

    return operations.fetch_album_through(operations.BedethequeClient(settings), db, album_id)
