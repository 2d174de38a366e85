"""Cover thumbnails for the web page, kept on disk so that a page of covers costs one read each.

A file's cover is its first page (or ComicInfo's FrontCover), read from the archive alone —
nothing else is extracted. An album's cover comes from Bédéthèque through the polite client and
its cover cache. Both are shrunk once with Pillow and kept under ``<cache dir>/thumbs/``; a file's
thumbnail is keyed by its path, size and modification time, so a rewritten file gets a new one.
A damaged thumbnail (not a whole image any more) is dropped and made again.

Callers pass ids the database knows; nothing here takes a path from a request.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from bdnex_core.archives import open_archive
from bdnex_core.bedetheque.service import fetch_album, fetch_cover, image_damage, write_atomically
from bdnex_core.errors import BdnexError
from bdnex_core.fileio import read_cache_file

if TYPE_CHECKING:
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.db import BDneXDB

THUMB_SIZE = (240, 340)
THUMB_MAX_BYTES = 2 * 1024 * 1024  # a 240x340 JPEG is some 20 KB: a larger file is not one we wrote


class ThumbnailError(BdnexError):
    """No cover can be shown (the archive has no page, the image is not one Pillow reads, ...)."""


def shrink(data: bytes, origin: str) -> bytes:
    """A JPEG no larger than THUMB_SIZE."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail(THUMB_SIZE)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ThumbnailError(f"{origin}: not a readable image ({exc})") from None


class Thumbnails:
    def __init__(self, cache_dir: Path):
        self.dir = Path(cache_dir) / "thumbs"

    def file_cover(self, path: str) -> bytes:
        """The thumbnail of the comic at ``path`` (a path read from the database)."""
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise ThumbnailError(f"{path}: {exc.strerror or exc}") from None
        key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:32]
        cached = self.dir / f"file-{key}.jpg"
        kept = read_cache_file(cached, max_bytes=THUMB_MAX_BYTES, check=image_damage)
        if kept is not None:
            return kept

        with open_archive(path) as comic:
            page = comic.cover_page()
            if page is None:
                raise ThumbnailError(f"{path}: the archive has no page")
            data = shrink(comic.read_member(page), f"{path}: {page}")
        write_atomically(cached, data)
        return data

    def cached_album_cover(self, album_id: int) -> bytes | None:
        return read_cache_file(self.dir / f"album-{album_id}.jpg", max_bytes=THUMB_MAX_BYTES, check=image_damage)

    def album_cover(self, client: BedethequeClient, db: BDneXDB, album_id: int) -> bytes:
        """The thumbnail of a Bédéthèque album's cover (album page and cover from cache when there)."""
        cached = self.cached_album_cover(album_id)
        if cached is not None:
            return cached

        album = fetch_album(client, db, album_id, read_series=False)
        data = shrink(fetch_cover(client, album), f"album {album_id} cover")
        write_atomically(self.dir / f"album-{album_id}.jpg", data)
        return data
