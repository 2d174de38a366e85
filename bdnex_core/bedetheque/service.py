"""Albums by id, cache first: the database's album cache (TTL from config), then one page fetch.

Raw pages are kept on disk too (``<cache dir>/pages/<id>.html``), so a parser fix can be
replayed without asking the site again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.parse import parse_album_page
from bdnex_core.errors import CacheError

if TYPE_CHECKING:
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.db import BDneXDB


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
    if not db.db.table("catalogue_albums").exists():
        return None
    row = db.db.execute(
        "SELECT COUNT(*) FROM catalogue_albums WHERE tome_kind = 'regular' AND series_slug = "
        "(SELECT series_slug FROM catalogue_albums WHERE album_id = ?)",
        [album_id],
    ).fetchone()
    return int(row[0]) if row and row[0] else None


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
