"""The local index of Bédéthèque's album sitemaps: one row per album, one per sitemap fetched."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow

ALBUM_COLUMNS = (
    "album_id",
    "url",
    "series_slug",
    "series_norm",
    "tome",
    "tome_number",
    "tome_kind",
    "title_slug",
    "title_norm",
    "lastmod",
    "sitemap",
)
_BATCH = 2000


def new_revision() -> str:
    """A sitemap revision no other replacement of any database has."""
    return os.urandom(16).hex()


class CatalogueStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def replace_sitemap(
        self,
        sitemap: str,
        rows: Iterable[Mapping[str, Any] | tuple[Any, ...]],
        *,
        lastmod: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        revision: str | None = None,
    ) -> int:
        """Replace the albums of one sitemap, all or nothing; return how many it has now. ``rows``: tuples in
        :data:`ALBUM_COLUMNS` order, or mappings of those columns. ``revision``: the sitemap's new
        revision (a new random one by default), what the index file compares to know it changed."""
        insert = (
            f"INSERT INTO catalogue_albums ({', '.join(ALBUM_COLUMNS)}) VALUES ({', '.join('?' for _ in ALBUM_COLUMNS)}) "
            # an album listed by another sitemap before moves to this one
            "ON CONFLICT (album_id) DO UPDATE SET "
            + ", ".join(f"{column} = excluded.{column}" for column in ALBUM_COLUMNS if column != "album_id")
        )
        with self.backend.write() as backend:
            backend.execute("DELETE FROM catalogue_albums WHERE sitemap = ?", [sitemap])
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row if isinstance(row, tuple) else tuple(row[column] for column in ALBUM_COLUMNS))
                if len(batch) >= _BATCH:
                    backend.executemany(insert, batch)
                    batch = []
            if batch:
                backend.executemany(insert, batch)
            count = int(backend.value("SELECT COUNT(*) FROM catalogue_albums WHERE sitemap = ?", [sitemap]))
            backend.upsert(
                "catalogue_sitemaps",
                {
                    "url": sitemap,
                    "lastmod": lastmod,
                    "etag": etag,
                    "last_modified": last_modified,
                    "fetched_at": to_db_time(utcnow()),
                    "album_count": count,
                    "revision": revision or new_revision(),
                },
                key=("url",),
            )
        return count

    def sitemaps(self) -> dict[str, dict[str, Any]]:
        return {row["url"]: row for row in self.backend.rows("SELECT * FROM catalogue_sitemaps ORDER BY url")}

    def sitemap_unchanged(self, sitemap: str, lastmod: str | None) -> None:
        """The site answered 304 for this sitemap: only its date moves."""
        with self.backend.write() as backend:
            backend.update(
                "catalogue_sitemaps", {"url": sitemap}, {"lastmod": lastmod, "fetched_at": to_db_time(utcnow())}
            )

    def count(self) -> int:
        if not self.backend.table_exists("catalogue_albums"):
            return 0
        return int(self.backend.value("SELECT COUNT(*) FROM catalogue_albums"))

    def series_count(self) -> int:
        return int(self.backend.value("SELECT COUNT(DISTINCT series_norm) FROM catalogue_albums"))

    def count_by_kind(self) -> dict[str, int]:
        return dict(
            self.backend.tuples("SELECT COALESCE(tome_kind, 'one-shot'), COUNT(*) FROM catalogue_albums GROUP BY 1")
        )

    def album_rows(
        self, columns: Iterable[str], *, sitemaps: Iterable[str] | None = None, batch: int = 20_000
    ) -> Iterator[tuple[Any, ...]]:
        """Every album (of ``sitemaps`` only, when given), in album-id order, as tuples of ``columns``
        (names of our own, never from input). Read ``batch`` rows at a time, so that the whole
        catalogue is never held in memory at once."""
        selected = ", ".join(["album_id", *columns])
        names = None if sitemaps is None else sorted(set(sitemaps))
        if names == []:
            return
        where = "" if names is None else f" AND sitemap IN ({', '.join('?' for _ in names)})"
        after = -1
        while True:
            rows = self.backend.tuples(
                f"SELECT {selected} FROM catalogue_albums WHERE album_id > ?{where} ORDER BY album_id LIMIT ?",
                [after, *(names or ()), batch],
            )
            for row in rows:
                yield row[1:]
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def revisions(self) -> dict[str, str | None]:
        """Each sitemap's revision (it changes whenever the sitemap's albums are replaced)."""
        return dict(self.backend.tuples("SELECT url, revision FROM catalogue_sitemaps"))

    def album_counts(self) -> dict[str, int]:
        """How many albums each sitemap listed when it was last read."""
        return {
            url: int(count or 0)
            for url, count in self.backend.tuples("SELECT url, album_count FROM catalogue_sitemaps")
        }

    def is_empty(self) -> bool:
        if not self.backend.table_exists("catalogue_albums"):
            return True
        return self.backend.value("SELECT 1 FROM catalogue_albums LIMIT 1") is None

    def url_of(self, album_id: int) -> str | None:
        value = self.backend.value("SELECT url FROM catalogue_albums WHERE album_id = ?", [album_id])
        return None if value is None else str(value)

    def album(self, album_id: int) -> dict[str, Any] | None:
        """What the index knows of one album (url, series_slug, tome, title_slug...)."""
        return self.backend.row("SELECT * FROM catalogue_albums WHERE album_id = ?", [album_id])

    def known(self, album_id: int) -> bool:
        return self.url_of(album_id) is not None

    def series_regular_count(self, album_id: int) -> int | None:
        """Regular tomes of the album's series (ComicInfo ``Count``); ``None`` when unknown."""
        count = self.backend.value(
            "SELECT COUNT(*) FROM catalogue_albums WHERE tome_kind = 'regular' AND series_slug = "
            "(SELECT series_slug FROM catalogue_albums WHERE album_id = ?)",
            [album_id],
        )
        return int(count) if count else None

    def series_tomes(self, album_id: int) -> tuple[int, int] | None:
        """The first and last regular tome of the album's series (``None``: it has none)."""
        row = self.backend.row(
            "SELECT MIN(tome_number) AS first, MAX(tome_number) AS last FROM catalogue_albums "
            "WHERE tome_kind = 'regular' AND series_norm = (SELECT series_norm FROM catalogue_albums WHERE album_id = ?)",
            [album_id],
        )
        return (int(row["first"]), int(row["last"])) if row and row["first"] is not None else None

    def series_has_tome(self, album_id: int, tome: str, tome_number: int | None, tome_kind: str | None) -> bool:
        """Whether the album's series has ``tome`` (as written, or the same number of the same kind)."""
        return bool(
            self.backend.value(
                "SELECT EXISTS (SELECT 1 FROM catalogue_albums WHERE series_norm = "
                "(SELECT series_norm FROM catalogue_albums WHERE album_id = ?) AND (LOWER(tome) = LOWER(?) "
                "OR (tome_number = ? AND COALESCE(tome_kind, 'regular') = ?)))",
                [album_id, tome, tome_number, tome_kind or "regular"],
            )
        )
