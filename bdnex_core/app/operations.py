"""What plugins (and any front-end) ask of the core, one call each: the file's kind and ComicInfo, writing
it, an album from the cache or the site, its cover and series, the catalogue's rows, how a name matches,
the service upkeep of a long-running command.

``bdnex_core.api`` hands these to plugins by name, importing this module on first use: a plugin that
imports the API with every command does not load the archive code, the HTTP client or the matcher.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bdnex_core import archives
from bdnex_core.app.match import match_name
from bdnex_core.archives import WritePolicy
from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.catalogue_row import CatalogueRow
from bdnex_core.bedetheque.client import BedethequeClient, reset_breakers
from bdnex_core.bedetheque.series import SeriesRecord
from bdnex_core.bedetheque.service import fetch_album as fetch_album_through
from bdnex_core.bedetheque.service import fetch_cover
from bdnex_core.comicinfo import ComicInfo, read_comicinfo_safely
from bdnex_core.config import Settings, load_settings
from bdnex_core.db import BDneXDB
from bdnex_core.library import LibraryItem
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex, title_key
from bdnex_core.matching.normalize import TRAILING_ARTICLE_SET, move_article, normalize, strip_articles
from bdnex_core.service.upkeep import ServiceUpkeep

# besides the calls below: what a metadata source that searches the catalogue itself (the ComicTagger
# talker) uses, handed out through bdnex_core.api
__all__ = [
    "TRAILING_ARTICLE_SET",
    "Album",
    "BedethequeClient",
    "Catalogue",
    "CatalogueIndex",
    "album_cover",
    "catalogue_rows",
    "comic_kind",
    "comicinfo_for",
    "fetch_album_through",
    "load_settings",
    "match_name",
    "move_article",
    "normalize",
    "parse_filename",
    "read_comicinfo",
    "retry_site_now",
    "series_of_album",
    "service_upkeep",
    "strip_articles",
    "title_key",
    "write_comicinfo",
]


def comic_kind(path: str | Path) -> str:
    """What a comic file really is, by content: ``cbz``, ``cbr``, ``cb7``... whatever its extension says."""

    return str(archives.detect_kind(path))


def write_comicinfo(
    item: LibraryItem, metadata: Any, settings: Settings, *, delete_original: bool | None = None
) -> Path:
    """Write ``metadata`` (a :class:`bdnex_core.comicinfo.ComicInfo`) into the item's local file, atomically.

    A CBZ is written in place (its modification time kept when ``archives.preserve_mtime``), inside a
    tagging run's journal when a writer calls this (``archives.write``), else through an atomic copy;
    a CBR/CB7 is converted to a CBZ beside it, the original removed only when
    ``delete_original`` (default: ``archives.delete_converted_originals``). Returns the CBZ written.
    Raises :class:`bdnex_core.errors.ArchiveError` when the file cannot be written safely.
    """

    if item.path is None:
        raise ValueError(f"{item.name}: no local file to write ComicInfo into")
    xml = metadata.to_xml(settings.comicinfo.version)
    if comic_kind(item.path) == "cbz":
        policy = WritePolicy.from_settings(settings.archives)
        archives.write_comicinfo(item.path, xml, preserve_mtime=settings.archives.preserve_mtime, policy=policy)
        return item.path
    delete = settings.archives.delete_converted_originals if delete_original is None else delete_original
    return Path(archives.convert_to_cbz(item.path, xml, delete_original=delete))


def album_cover(settings: Settings, album: Mapping[str, Any]) -> bytes:
    """The cover image of an album (``Album.to_dict()``, as ``file_tagged`` receives it), fetched
    through the polite Bédéthèque client and kept in the cache. Raises a ``CatalogueError`` when
    the site has none or cannot answer."""

    return fetch_cover(BedethequeClient(settings), Album.from_dict(dict(album)))


def comicinfo_for(settings: Settings, item: LibraryItem, album: Any) -> Any:
    """The ``ComicInfo`` the writers get for ``item`` and ``album`` (a ``RunSummary`` outcome's): the
    album's, merged into the file's own ComicInfo.xml as ``comicinfo.merge_policy`` says (what a
    dry run's writer-side preview needs)."""

    pages: list[str] = []
    existing = None
    if item.path is not None and item.path.is_file():
        with archives.open_archive(item.path) as comic:
            pages = comic.pages()
            existing, _problem = read_comicinfo_safely(comic.comicinfo_bytes())
    new_info = ComicInfo.from_album(
        album, pages=pages, page_count=len(pages) or None, version=settings.comicinfo.version
    )
    return ComicInfo.merge(existing, new_info, settings.comicinfo.merge_policy, settings.comicinfo.locked_fields)


def retry_site_now() -> None:
    """Forget that Bédéthèque stopped the last run (a tripped breaker holds for the process): for a
    long-running plugin (a watcher) that paused on its own and now tries again. Hourly counts stay."""

    reset_breakers()


def service_upkeep(
    settings: Settings,
    db: BDneXDB,
    *,
    command: str,
    stop: threading.Event,
    status: Callable[[], Mapping[str, Any]] | None = None,
) -> ServiceUpkeep:
    """What a long-running command does beside its events, in one place for every adapter: use it as
    ``with service_upkeep(...) as upkeep:`` around the loop and call ``upkeep.tick(paused=...)`` on each
    turn (``paused``: your queue holds its work because Bédéthèque cannot be used now).

    It refreshes the catalogue index every ``service.catalogue_refresh_days`` (polite, resumable, never
    while paused; stopped by ``stop``) and, when ``BDNEX_HEALTH_FILE`` is set, writes the heartbeat that
    ``bdnex-core health`` checks, with what ``status()`` returns (your counters; called from another
    thread). ``command`` names the service in the heartbeat (``"komga watch"``).
    """

    return ServiceUpkeep(settings, db, command=command, stop=stop, status=status)


def catalogue_rows(db: BDneXDB) -> Iterator[CatalogueRow]:
    """Every album of the local catalogue, as named rows."""

    yield from Catalogue(db).rows()


def series_of_album(settings: Settings, album_id: int | str | None) -> dict[str, Any] | None:
    """The series record of an album, as its series page gave it: ``series_id``, ``title``, ``summary``,
    ``genres``, ``status`` (the site's words) and ``normal_status`` (``ended``, ``ongoing``,
    ``abandoned``, ``hiatus`` or ``None``), ``tome_count``, ``origin``, ``language``, ``publishers`` and
    ``publisher`` (chosen once per series, never changed after), ``albums``. ``None`` when no page of
    the album's series was read (series-level fields must then not come from the album). Reads the
    configured database; asks the site nothing."""

    if album_id is None or not str(album_id).isdigit():
        return None
    with BDneXDB(settings=settings, schema_ready=True) as db:
        if not db.backend.table_exists("bdgest_series"):
            return None  # a database this version has not opened yet: no series was read into it
        series_id = db.series.of_album(int(album_id))
        data = db.series.get(series_id, fresh=False) if series_id is not None else None
    return None if data is None else SeriesRecord.from_dict(data).summary_dict()


def read_comicinfo(path: str | Path) -> dict[str, str] | None:
    """The fields of a comic file's ComicInfo.xml (``{"Series": ..., "Web": ...}``), or ``None`` when it
    has none or an unusable one. Raises ``ArchiveError`` when the archive itself cannot be read."""

    with archives.open_archive(path) as comic:
        info, _problem = read_comicinfo_safely(comic.comicinfo_bytes())
    return None if info is None else dict(info.fields)
