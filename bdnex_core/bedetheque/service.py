"""Albums by id, cache first: the database's album cache (TTL from config), then one page fetch.

Raw pages are kept on disk too (``<cache dir>/pages/<id>.html``), so a parser fix can be
replayed without asking the site again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.parse import parse_album_page
from bdnex_core.errors import CacheError
from bdnex_core.fileio import write_atomically

if TYPE_CHECKING:
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.db import BDneXDB


def write_to_cache(path: Path, data: bytes) -> None:
    """A file of the disk cache (``cache.dir``); a folder we cannot write is named, with the fix."""
    try:
        write_atomically(path, data)
    except OSError as exc:
        raise CacheError(
            f"cannot write the catalogue cache folder {path.parent} ({exc.strerror or exc}): "
            "make it writable, or set cache.dir in the configuration to a writable folder"
        ) from None


def series_album_count(db: BDneXDB, album_id: int) -> int | None:
    """Regular tomes of the album's series in the local catalogue index (ComicInfo ``Count``)."""
    return db.catalogue.series_regular_count(album_id)


def fetch_album(client: BedethequeClient, db: BDneXDB, album_id: int, *, force: bool = False) -> Album:
    """The album, from the cache when still valid, else fetched, parsed and cached."""
    if not force:
        cached = db.get_cached_album(album_id)
        if cached is not None:
            return Album.from_dict(cached)
    page = client.get_album_page(album_id)
    album = parse_album_page(page.content, page.url)  # a page we cannot parse is never cached
    write_to_cache(client.data_dir / "pages" / f"{album_id}.html", page.content)
    if album.series_album_count is None:
        album.series_album_count = series_album_count(db, album.album_id)
    db.cache_album(album)
    return album


def fetch_cover(client: BedethequeClient, album: Album) -> bytes:
    """The album's cover, from the disk cache when present."""
    path = client.data_dir / "covers" / f"{album.album_id}.jpg"
    if path.is_file():
        return path.read_bytes()
    data = client.get_cover(album.cover_url or album.album_id)
    write_to_cache(path, data)
    return data
