"""The local catalogue index: Bédéthèque's album sitemaps stored in our database.

``update_online`` fetches ``/sitemap.xml`` and only the album sitemaps that changed
(their ``lastmod``, then a conditional request with the stored ETag/Last-Modified);
each changed sitemap's albums are replaced in one transaction. ``import_files`` does
the same from saved sitemap files, offline.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from bdnex_core.bedetheque.catalogue_index import SOURCE_COLUMNS, full_build_for_import, update_index
from bdnex_core.bedetheque.catalogue_row import CatalogueRow, catalogue_rows
from bdnex_core.bedetheque.sitemaps import (
    AlbumEntry,
    iter_album_entries,
    iter_locations,
    parse_sitemap_index,
    split_album_url,
)
from bdnex_core.db import BDneXDB
from bdnex_core.errors import CatalogueError
from bdnex_core.fileio import collector_paused
from bdnex_core.matching.normalize import slug_words
from bdnex_core.store.catalogue import ALBUM_COLUMNS, new_revision

if TYPE_CHECKING:
    from bdnex_core.config import Settings


@dataclass
class UpdateReport:
    fetched: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    albums: int = 0
    interrupted: bool = False  # stopped between two sitemaps; the next update goes on from there

    def as_dict(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "unchanged": self.unchanged,
            "albums_written": self.albums,
            "interrupted": self.interrupted,
        }


class UpdateProgress(Protocol):
    """Told how an online update goes (a progress bar on a terminal): the real first update reads some
    60 sitemaps of ~2 MB at the site's pace, minutes of waiting a person should see."""

    def index_read(self, sitemaps: int) -> None:
        """The sitemap index is read: ``sitemaps`` album sitemaps to look at."""

    def sitemap_done(self, name: str, albums: int, *, fetched: bool) -> None:
        """One sitemap is done: fetched and stored (``albums`` in it), or unchanged since the last update."""


def _rows(entries: Iterable[AlbumEntry], sitemap: str) -> Iterator[tuple[Any, ...]]:
    """Rows of ``catalogue_albums`` in the store's column order (:data:`~bdnex_core.store.catalogue.ALBUM_COLUMNS`)."""
    for entry in entries:
        yield (
            entry.album_id,
            entry.url,
            entry.series_slug,
            slug_words(entry.series_slug),
            entry.tome,
            entry.tome_number,
            entry.tome_kind,
            entry.title_slug,
            slug_words(entry.title_slug),
            entry.lastmod,
            sitemap,
        )


def _read_rows(path: Path) -> list[tuple[Any, ...]]:
    try:
        with open(path, "rb") as handle:
            return list(sitemap_rows(handle, path.name))
    except OSError as exc:
        raise CatalogueError(f"cannot read the sitemap: {exc.strerror}", path=path) from None
    except Exception as exc:  # lxml's XMLSyntaxError and friends
        raise CatalogueError(f"not a readable sitemap ({exc})", path=path) from None


def _read_ahead(files: list[Path]) -> Iterator[tuple[Path, list[tuple[Any, ...]]]]:
    """Each file with its rows, the next one read in a thread meanwhile: storing one sitemap is mostly
    SQLite's work, which leaves the interpreter free, and reading the next is mostly ours."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bdnex-sitemap") as reader:
        upcoming: Future[list[tuple[Any, ...]]] | None = reader.submit(_read_rows, files[0]) if files else None
        for number, path in enumerate(files):
            assert upcoming is not None
            rows = upcoming.result()
            upcoming = reader.submit(_read_rows, files[number + 1]) if number + 1 < len(files) else None
            yield path, rows


def sitemap_rows(source: str | os.PathLike[str] | IO[bytes], sitemap: str) -> Iterator[tuple[Any, ...]]:
    """The rows of one sitemap's albums, read straight from its ``<loc>`` (the same as :func:`_rows` of
    its entries, without making them: a full update reads 300,000)."""
    series_norms: dict[str, str] = {}  # a series' albums are listed together: its name normalised once
    for url, lastmod in iter_locations(source):
        parts = split_album_url(url)
        if parts is None:
            continue
        album_id, series, tome, number, kind, title = parts
        series_norm = series_norms.get(series)
        if series_norm is None:
            series_norm = series_norms[series] = slug_words(series)
        title_norm = series_norm if title == series else slug_words(title)  # one-shots: the same slug
        yield (album_id, url, series, series_norm, tome, number, kind, title, title_norm, lastmod, sitemap)


class Catalogue:
    def __init__(self, db: BDneXDB):
        self.db = db

    def replace_sitemap(
        self,
        sitemap: str,
        entries: Iterable[AlbumEntry],
        *,
        lastmod: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> int:
        """Replace the albums of one sitemap, all or nothing."""
        return self.db.catalogue.replace_sitemap(
            sitemap, _rows(entries, sitemap), lastmod=lastmod, etag=etag, last_modified=last_modified
        )

    def import_files(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        settings: Settings | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> UpdateReport:
        """Offline: import saved ``albums_*_map.xml`` files (each replaces its sitemap's albums). When the
        index file is to be built anew anyway, it is fed the albums as they are stored."""
        files = [Path(raw) for raw in paths]
        report = UpdateReport()
        build = (
            None
            if self.db.memory
            else full_build_for_import(self.db, settings, [path.name for path in files], announce=announce)
        )
        for_index = itemgetter(*(ALBUM_COLUMNS.index(column) for column in ("album_id", *SOURCE_COLUMNS)))
        try:
            with collector_paused():
                for path, rows in _read_ahead(files):
                    revision = new_revision()
                    report.albums += self.db.catalogue.replace_sitemap(path.name, rows, revision=revision)
                    if build is not None:
                        build.add(path.name, revision, map(for_index, rows))
                    report.fetched.append(str(path))
                if build is not None:
                    build.finish(self.db)
        finally:
            if build is not None:
                build.abort()
        return report

    def update_online(
        self,
        client: Any,
        *,
        force: bool = False,
        should_stop: Callable[[], bool] | None = None,
        progress: UpdateProgress | None = None,
    ) -> UpdateReport:
        """Online: fetch the sitemap index, then only the album sitemaps that changed.

        ``should_stop`` is asked before each sitemap: an update stopped there has stored the
        sitemaps it fetched, and the next one skips them (their ``lastmod`` is recorded).
        ``progress`` is told how it goes (a bar on a terminal).
        """
        from bdnex_core.bedetheque.client import SITEMAP_MAX_BYTES  # lazy: requests; importing files stays offline

        report = UpdateReport()
        # sitemaps are larger than pages: their own size cap (the client's default is for pages)
        index = client.get("/sitemap.xml", max_bytes=SITEMAP_MAX_BYTES)
        refs = parse_sitemap_index(io.BytesIO(index.content))
        if not refs:
            raise CatalogueError("the sitemap index lists no album sitemap", path=index.url)
        known = self.db.catalogue.sitemaps()
        if progress is not None:
            progress.index_read(len(refs))
        for ref in refs:
            if should_stop is not None and should_stop():
                report.interrupted = True
                break
            name = ref.url.rsplit("/", 1)[-1]
            stored = known.get(name)
            if stored and not force and ref.lastmod and stored["lastmod"] == ref.lastmod:
                report.unchanged.append(name)
                if progress is not None:
                    progress.sitemap_done(name, 0, fetched=False)
                continue
            conditional = (stored["etag"], stored["last_modified"]) if stored and not force else None
            response = client.get(ref.url, conditional=conditional, max_bytes=SITEMAP_MAX_BYTES)
            if response.status == 304:
                self.db.catalogue.sitemap_unchanged(name, ref.lastmod)
                report.unchanged.append(name)
                if progress is not None:
                    progress.sitemap_done(name, 0, fetched=False)
                continue
            try:
                entries = list(iter_album_entries(io.BytesIO(response.content)))
            except Exception as exc:
                raise CatalogueError(f"not a readable sitemap ({exc})", path=ref.url) from None
            stored_albums = self.replace_sitemap(
                name,
                entries,
                lastmod=ref.lastmod,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
            report.albums += stored_albums
            report.fetched.append(name)
            if progress is not None:
                progress.sitemap_done(name, stored_albums, fetched=True)
        return report

    def update_index(self, settings: Settings | None = None, *, announce: Callable[[str], None] | None = None) -> str:
        """Bring the catalogue's index file up to date with what was just stored (nothing for a database in
        memory, which matches with an index built in memory). Returns what was done."""
        if self.db.memory:
            return "in memory"

        return update_index(self.db, settings, announce=announce)

    def count(self) -> int:
        return self.db.catalogue.count()

    def stats(self) -> dict[str, Any]:
        store = self.db.catalogue
        return {
            "albums": self.count(),
            "series": store.series_count(),
            "by_kind": store.count_by_kind(),
            "sitemaps": [
                {key: row[key] for key in ("url", "lastmod", "fetched_at", "album_count")}
                for row in store.sitemaps().values()
            ],
        }

    def rows(self) -> Iterator[CatalogueRow]:
        """Every album of the catalogue, as a named row."""
        return catalogue_rows(self.db.catalogue)
