"""Albums by id, cache first: the database's album cache (TTL from config), then one page fetch.

Raw pages are kept on disk too (``<cache dir>/pages/<id>.html``), so a parser fix can be
replayed without asking the site again. Covers are cached there too; a cached cover that is no longer a
whole image is dropped and fetched again (:mod:`bdnex_core.fileio`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.client import PAGE_MAX_BYTES
from bdnex_core.bedetheque.parse import parse_album_page
from bdnex_core.errors import CacheError
from bdnex_core.fileio import read_cache_file, write_atomically

# a cover is fetched under the page cap: a cached one larger than that is not one we wrote
COVER_MAX_BYTES = PAGE_MAX_BYTES

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


def image_damage(data: bytes) -> str | None:
    """What is wrong with a cached image (``None``: it decodes whole)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return f"not a whole image ({exc})"
    return None


def fetch_cover(client: BedethequeClient, album: Album) -> bytes:
    """The album's cover, from the disk cache when present and whole (a damaged one is fetched again)."""
    path = client.data_dir / "covers" / f"{album.album_id}.jpg"
    cached = read_cache_file(path, max_bytes=COVER_MAX_BYTES, check=image_damage)
    if cached is not None:
        return cached
    data = client.get_cover(album.cover_url or album.album_id)
    write_to_cache(path, data)
    return data
