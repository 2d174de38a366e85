"""Series records (the series pages read, with a TTL like albums), which series holds which album,
and the series id learned for each series slug of the catalogue index.

The sitemaps give album ids and series slugs, never a series id: the first album page read of a
series names it, and ``catalogue_series_ids`` keeps it, so later runs and other processes go
straight to the series page. A slug whose album page named no series is kept too (``NULL``): its
albums are fetched one by one without asking again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow

_CHUNK = 500  # ids per IN (...) list


class SeriesStore:
    def __init__(self, backend: Backend, ttl: timedelta):
        self.backend, self.ttl = backend, ttl

    # ------------------------------------------------------------------ records

    def put(self, record: Mapping[str, Any], *, tome_count: int | None, now: datetime | None = None) -> str | None:
        """Store a series page's record (``SeriesRecord.to_dict()``, fresh for the TTL) and which albums it
        lists, in one transaction; return the series' publisher as stored: one chosen by an earlier read
        is kept (see :mod:`bdnex_core.bedetheque.series`)."""
        moment = now or utcnow()
        series_id = int(record["series_id"])
        album_ids = [int(album["album_id"]) for album in record.get("albums") or []]
        with self.backend.write() as backend:
            chosen = backend.value("SELECT publisher FROM bdgest_series WHERE id = ?", [series_id])
            publisher = str(chosen) if chosen else record.get("publisher")
            backend.upsert(
                "bdgest_series",
                {
                    "id": series_id,
                    "title": record.get("title") or "",
                    "slug": record.get("slug"),
                    "url": record.get("url"),
                    "summary": record.get("summary"),
                    "genres": json.dumps(record.get("genres") or [], ensure_ascii=False),
                    "status": record.get("status"),
                    "tome_count": tome_count,
                    "origin": record.get("origin"),
                    "language": record.get("language"),
                    "publishers": json.dumps(record.get("publishers") or [], ensure_ascii=False),
                    "publisher": publisher,
                    "template": record.get("template"),
                    "cached_date": to_db_time(moment),
                    "cache_valid_until": to_db_time(moment + self.ttl),
                    "metadata": json.dumps({**record, "publisher": publisher}, ensure_ascii=False),
                },
                key=("id",),
            )
            backend.execute("DELETE FROM bdgest_series_albums WHERE series_id = ?", [series_id])
            backend.executemany(
                "INSERT INTO bdgest_series_albums (album_id, series_id, position) VALUES (?, ?, ?) "
                "ON CONFLICT (album_id) DO UPDATE SET series_id = excluded.series_id, position = excluded.position",
                [(album_id, series_id, position) for position, album_id in enumerate(album_ids)],
            )
            if record.get("slug"):
                self.learn_slug(str(record["slug"]), series_id, now=moment)
        return publisher

    def get(self, series_id: int, *, fresh: bool = True, now: datetime | None = None) -> dict[str, Any] | None:
        """The record of a series (as :meth:`put` took it); with ``fresh``, only while its TTL runs."""
        sql = "SELECT metadata FROM bdgest_series WHERE id = ?"
        parameters: list[Any] = [int(series_id)]
        if fresh:
            sql += f" AND {self.backend.time_sql('cache_valid_until')} > {self.backend.time_sql('?')}"
            parameters.append(to_db_time(now or utcnow()))
        metadata = self.backend.value(sql, parameters)
        return None if metadata is None else dict(json.loads(metadata))

    def of_album(self, album_id: int) -> int | None:
        """The series whose page lists this album, as last read."""
        value = self.backend.value("SELECT series_id FROM bdgest_series_albums WHERE album_id = ?", [int(album_id)])
        return None if value is None else int(value)

    def records(self, series_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The records (however old) of these series, by id."""
        wanted = sorted({int(series_id) for series_id in series_ids})
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for series_id, metadata in self.backend.tuples(
                f"SELECT id, metadata FROM bdgest_series WHERE id IN ({', '.join('?' for _ in chunk)})", chunk
            ):
                found[int(series_id)] = dict(json.loads(metadata))
        return found

    def series_of_albums(self, album_ids: Iterable[int]) -> dict[int, int]:
        """album id -> series id, for those of ``album_ids`` a series page lists."""
        wanted = sorted({int(album_id) for album_id in album_ids})
        found: dict[int, int] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found.update(
                (int(album_id), int(series_id))
                for album_id, series_id in self.backend.tuples(
                    "SELECT album_id, series_id FROM bdgest_series_albums "
                    f"WHERE album_id IN ({', '.join('?' for _ in chunk)})",
                    chunk,
                )
            )
        return found

    def count(self) -> int:
        return int(self.backend.value("SELECT COUNT(*) FROM bdgest_series"))

    # ------------------------------------------------------------------ slug -> series id

    def learn_slug(self, slug: str, series_id: int | None, *, now: datetime | None = None) -> None:
        """The series id an album page (or a series page) gave for ``slug``; ``None``: it named no series."""
        with self.backend.write() as backend:
            backend.upsert(
                "catalogue_series_ids",
                {"series_slug": slug, "series_id": series_id, "learned_at": to_db_time(now or utcnow())},
                key=("series_slug",),
            )

    def id_of_slug(self, slug: str) -> tuple[bool, int | None]:
        """(learned, series id) for ``slug``: (False, None) when nothing was learned yet; (True, None)
        when its album page named no series."""
        row = self.backend.row("SELECT series_id FROM catalogue_series_ids WHERE series_slug = ?", [slug])
        if row is None:
            return False, None
        return True, None if row["series_id"] is None else int(row["series_id"])
