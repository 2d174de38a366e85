"""Albums by id, cache first, series first: the database's album cache (TTL from config), then the
album's series page, which fills every album of the series at once, and an album page only where
the series page cannot serve.

A first pass over a library of 10,000 new albums cost 10,000 album pages (5.6 hours at the polite
2 s per request). Bédéthèque's desktop series page with the full list
(``serie-{id}-BD-{slug}__10000.html``) holds, for every album of the series, its id, tome, title,
cover, writers, artists, publisher, ISBN, pages and date, and the series' own summary, genres,
status and tome count. So, with ``catalogue.album_pages: never`` (the default):

- an album of a series whose id we know costs its series page once (within ``cache.series_ttl_days``),
  shared by every album of the series (the page fills the album cache for all of them);
- the first album of a series whose id we do not know yet costs its album page (the sitemaps name
  no series id; the album page does, and the id is kept for the series slug in the database), then
  its series page: about two requests per series;
- an album its series page does not list (or lists on a mobile page, without the album's facts)
  costs its album page, as before; so does a one-shot (no tome), whose series page is itself.

``missing`` also fetches the album page of an album its series page gave without the facts only
album pages have (summary, colorist, rating, collection); ``always`` fetches every album from its
own page (and the series page once per series, for the series record). Threads of one process wait
for each other per series, so two albums of one series never both pay for it; the requests go
through the client, so politeness, the hourly cap, the breaker and ``--dry-run`` behave as for
album pages. Raw pages are kept on disk too (``<cache dir>/pages/<id>.html``,
``<cache dir>/series/<id>.html``), so a parser fix can be replayed without asking the site again.
Covers are cached there too; a cached cover that is no longer a whole image is dropped and fetched
again (:mod:`bdnex_core.fileio`).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from bdnex_core.bedetheque.album import ALBUM_PAGE, SERIES_PAGE, Album
from bdnex_core.bedetheque.client import PAGE_MAX_BYTES
from bdnex_core.bedetheque.parse import parse_album_page, parse_series_page
from bdnex_core.bedetheque.series import SERIES_SLUG_IN_URL, SeriesRecord, count_not_below
from bdnex_core.errors import BlockedError, CacheError, NotFound, ParseError
from bdnex_core.fileio import read_cache_file, write_atomically

# a cover is fetched under the page cap: a cached one larger than that is not one we wrote
COVER_MAX_BYTES = PAGE_MAX_BYTES

if TYPE_CHECKING:
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.db import BDneXDB

logger = logging.getLogger(__name__)

NEVER, MISSING, ALWAYS = "never", "missing", "always"  # catalogue.album_pages

_series_locks: dict[str, threading.Lock] = {}
_series_locks_guard = threading.Lock()
# series pages this process could not have or read, with when: not asked again for an hour
_unreadable_series: dict[int, float] = {}
UNREADABLE_FOR = 3600.0


def _series_lock(key: str) -> threading.Lock:
    """Workers of one process fetching albums of one series take turns: the first fetches, the others
    find the album cache filled."""
    with _series_locks_guard:
        return _series_locks.setdefault(key, threading.Lock())


def write_to_cache(path: Path, data: bytes) -> None:
    """A file of the disk cache (``cache.dir``); a folder we cannot write is named, with the fix."""
    try:
        write_atomically(path, data)
    except OSError as exc:
        raise CacheError(
            f"cannot write the catalogue cache folder {path.parent} ({exc.strerror or exc}): "
            "make it writable, or set cache.dir in the configuration to a writable folder"
        ) from None


def series_album_count(db: BDneXDB, album: Album) -> int | None:
    """ComicInfo ``Count`` of an album without a series record: the page's count, else the regular tomes
    of its series in the local catalogue index; never a count below the album's own tome number."""
    return count_not_below(album.tome, album.series_album_count, db.catalogue.series_regular_count(album.album_id))


def lacks_album_page_facts(album: Album) -> bool:
    """An album read from its series page without what only its own page has (``album_pages: missing``)."""
    return album.filled_from == SERIES_PAGE and (
        not album.summary or not album.colorists or album.rating is None or not album.collection
    )


def _usable(data: dict | None, mode: str) -> Album | None:
    """A cached album, if it serves in this ``catalogue.album_pages`` mode."""
    if data is None:
        return None
    album = Album.from_dict(data)
    if album.filled_from == SERIES_PAGE and (mode == ALWAYS or (mode == MISSING and lacks_album_page_facts(album))):
        return None
    return album


def fetch_album(
    client: BedethequeClient,
    db: BDneXDB,
    album_id: int,
    *,
    force: bool = False,
    read_series: bool = True,
    album_pages: str | None = None,
) -> Album:
    """The album, with what it takes from its series record (genres, tome count): from the cache when
    still valid, else from its series page or its own page (module docstring). ``force``: its own
    page, fetched again. ``read_series``: read its series page too when no record of the series was
    ever stored (``False`` for an album looked at alone: a review card, a cover). ``album_pages``:
    instead of ``catalogue.album_pages`` (``always`` for a caller that shows one album in full)."""
    mode = album_pages or client.settings.catalogue.album_pages
    slug = _series_slug(db, album_id) if force else None
    if force:
        album = _album_page(client, db, album_id, slug=slug)
    else:
        album = _cached_or_fetched(client, db, album_id, mode, read_series=read_series)
    if read_series and album.tome and album.series_id is not None and db.series.of_album(album_id) is None:
        with _series_lock(slug or _series_slug(db, album_id) or f"album-{album_id}"):
            _series_record_for(client, db, album, slug, fresh=False)  # an album cached before its series
    return with_series(db, album)


def _cached_or_fetched(client: BedethequeClient, db: BDneXDB, album_id: int, mode: str, *, read_series: bool) -> Album:
    """The album from the cache, its series page or its own page, as ``mode`` (album_pages) says."""
    cached = _usable(db.albums.get(album_id), mode)
    if cached is not None:
        return cached
    slug = _series_slug(db, album_id)
    lock = _series_lock(slug or f"album-{album_id}")
    if mode == ALWAYS:  # the album page needs no turn; the series record does
        album = _album_page(client, db, album_id, slug=slug)
        if read_series:
            with lock:
                _series_record_for(client, db, album, slug)
        return album
    with lock:
        cached = _usable(db.albums.get(album_id), mode)  # filled by another worker meanwhile
        if cached is not None:
            return cached
        from_series = _from_series_page(client, db, album_id, slug)
        if from_series is None:
            # a series we cannot read yet: its album page (which names the series), then its series page,
            # before another worker of the series comes in (it then finds its album cached)
            album = _album_page(client, db, album_id, slug=slug)
            if read_series:
                _series_record_for(client, db, album, slug)
            return album
    if mode == MISSING and lacks_album_page_facts(from_series):
        return _album_page(client, db, album_id, slug=slug)
    return from_series


def _series_record_for(
    client: BedethequeClient, db: BDneXDB, album: Album, slug: str | None, *, fresh: bool = True
) -> None:
    """The series page of an album read from its own page, unless its record is there (``fresh``: and
    within its TTL), or it is a one-shot (whose series page tells nothing its album page did not):
    the series record, and every other album of the series, in one request. Called in the series' turn."""
    if album.series_id is not None and album.tome and db.series.get(album.series_id, fresh=fresh) is None:
        _series_page_or_none(client, db, album.series_id, _slug_of(album) or slug, album.album_id)


def with_series(db: BDneXDB, album: Album) -> Album:
    """``album`` with its series record applied (genres, tome count, series name), when one is known."""
    series_id = db.series.of_album(album.album_id) or album.series_id
    data = db.series.get(series_id, fresh=False) if series_id is not None else None
    if data is not None:
        SeriesRecord.from_dict(data).apply_to(album)
    else:
        album.series_album_count = series_album_count(db, album)
    return album


def _series_slug(db: BDneXDB, album_id: int) -> str | None:
    entry = db.catalogue.album(album_id)
    return str(entry["series_slug"]) if entry else None


def _slug_of(album: Album) -> str | None:
    """The series slug of an album's series link (``…/serie-47467-BD-Nains.html`` -> ``Nains``)."""
    found = SERIES_SLUG_IN_URL.search(album.series_url or "")
    return found["slug"] if found else None


def _album_page(client: BedethequeClient, db: BDneXDB, album_id: int, *, slug: str | None) -> Album:
    """The album from its own page, cached; the series id it names is kept for its series slug."""
    page = client.get_album_page(album_id)
    album = parse_album_page(page.content, page.url)  # a page we cannot parse is never cached
    write_to_cache(client.data_dir / "pages" / f"{album_id}.html", page.content)
    album.filled_from = ALBUM_PAGE
    db.albums.put(album)
    if slug:
        db.series.learn_slug(slug, album.series_id)
    return album


def _from_series_page(client: BedethequeClient, db: BDneXDB, album_id: int, slug: str | None) -> Album | None:
    """The album from its series page (read within its TTL, or fetched now); ``None`` when we do not know
    its series, or its series page does not give it."""
    series_id = db.series.of_album(album_id)
    if series_id is None and slug:
        _learned, series_id = db.series.id_of_slug(slug)
    if series_id is None:
        return None
    cached = db.albums.get(album_id)
    record = db.series.get(series_id)
    if record is not None:
        if cached is not None:
            return Album.from_dict(cached)
        listed = album_id in SeriesRecord.from_dict(record).album_ids
        if not listed or record.get("template") != "desktop":
            return None  # read within its TTL, and it does not give this album
        # listed, but gone from the album cache since: the page again (it serves the whole series)
    if _series_page_or_none(client, db, series_id, slug or (record or {}).get("slug"), album_id) is None:
        return None
    cached = db.albums.get(album_id)
    return Album.from_dict(cached) if cached is not None else None


def _series_page_or_none(
    client: BedethequeClient, db: BDneXDB, series_id: int, slug: str | None, album_id: int
) -> SeriesRecord | None:
    """:func:`_series_page`, or ``None`` (logged) when the site has no such series page or we cannot
    read it: the album is then read from its own page, and the page is not asked for again by this
    process for an hour (a template we cannot read would otherwise cost it once per album). What stops
    the run (a block, the cap) is raised."""
    if time.monotonic() - _unreadable_series.get(series_id, -UNREADABLE_FOR) < UNREADABLE_FOR:
        return None
    try:
        return _series_page(client, db, series_id, slug)
    except (NotFound, ParseError) as exc:
        if isinstance(exc, BlockedError) or exc.stops_run:
            raise
        _unreadable_series[series_id] = time.monotonic()
        logger.warning("series %s: %s; album %s is read from its own page", series_id, exc.reason, album_id)
        return None


def _series_page(client: BedethequeClient, db: BDneXDB, series_id: int, slug: str | None) -> SeriesRecord:
    """Fetch and read a series page; store its record and, in one transaction, every album it gives
    whole into the album cache (an album read from its own page and still valid is kept as it is)."""
    page = client.get_series_page(series_id, slug)
    series = parse_series_page(page.content, page.url)
    series.series_id = series.series_id or series_id
    write_to_cache(client.data_dir / "series" / f"{series_id}.html", page.content)
    record = SeriesRecord.from_page(series, slug=slug)
    with db.write():
        record.publisher = db.series.put(record.to_dict(), tome_count=record.tome_count)
        # read in the transaction that writes, the rows held: an album page another worker stores
        # meanwhile is either seen here and kept, or written after this and wins (it says more)
        db.albums.hold(album.album_id for album in series.full_albums)
        kept = db.albums.fresh_many(album.album_id for album in series.full_albums)
        for album in series.full_albums:
            cached = kept.get(album.album_id)
            if cached is not None and cached.get("filled_from", ALBUM_PAGE) == ALBUM_PAGE:
                continue  # read from its own page, which says more
            db.albums.put(album)
    return record


def image_damage(data: bytes) -> str | None:
    """What is wrong with a cached image (``None``: it decodes whole)."""
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
