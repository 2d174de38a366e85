"""The album cache: parsed Bédéthèque albums kept for a while, so a re-run asks the site nothing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bdnex_core.errors import BdnexError
from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow


class AlbumCache:
    def __init__(self, backend: Backend, ttl: timedelta):
        self.backend, self.ttl = backend, ttl

    def put(
        self, album_data: Mapping[str, Any] | Any, *, ttl: timedelta | None = None, now: datetime | None = None
    ) -> None:
        """Cache a parsed album (an ``Album`` or its dict) for ``ttl`` (the configured one by default)."""
        data = album_data.to_dict() if hasattr(album_data, "to_dict") else dict(album_data)
        album_id = data.get("album_id", data.get("id"))
        if album_id is None:
            raise BdnexError("cannot cache an album without an id")
        moment = now or utcnow()
        tome = data.get("tome", data.get("volume"))
        release = data.get("release_date") or data.get("legal_deposit") or ""
        year = data.get("year") or (int(release[:4]) if str(release)[:4].isdigit() else None)
        row = {
            "id": int(album_id),
            "title": data.get("title") or data.get("series") or "",
            "series": data.get("series"),
            "volume": int(tome) if tome is not None and str(tome).isdigit() else None,
            "editor": data.get("publisher", data.get("editor")),
            "year": year,
            "isbn": data.get("isbn"),
            "pages": data.get("planches", data.get("pages")),
            "cover_url": data.get("cover_url"),
            "url": data.get("url"),
            "cached_date": to_db_time(moment),
            "cache_valid_until": to_db_time(moment + (ttl or self.ttl)),
            "metadata": json.dumps(data, ensure_ascii=False),
        }
        with self.backend.write() as backend:
            self.hold([int(album_id)])
            if row["url"]:
                # the same url under an old id (renumbered album) would break the UNIQUE constraint
                backend.execute("DELETE FROM bdgest_albums WHERE url = ? AND id != ?", [row["url"], row["id"]])
            backend.upsert("bdgest_albums", row, key=("id",))

    def hold(self, bdgest_ids: Iterable[int]) -> None:
        """Inside a write: wait until no other transaction writes these albums' rows, and keep them to
        this one's end, so that a read-then-write of the cache (a series page filling the albums not read
        from their own page) never meets an album page stored in between. SQLite's writer is alone already."""
        for bdgest_id in sorted({int(bdgest_id) for bdgest_id in bdgest_ids}):  # one order: no deadlock
            self.backend.serialize(f"bdgest_albums:{bdgest_id}")

    def get(self, bdgest_id: int, *, now: datetime | None = None) -> dict[str, Any] | None:
        """The cached album if still valid, else ``None``."""
        backend = self.backend
        metadata = backend.value(
            f"SELECT metadata FROM bdgest_albums WHERE id = ? AND {backend.time_sql('cache_valid_until')} > "
            f"{backend.time_sql('?')}",
            [int(bdgest_id), to_db_time(now or utcnow())],
        )
        return json.loads(metadata) if metadata else None

    def fresh_many(self, bdgest_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, dict[str, Any]]:
        """The cached albums still valid among ``bdgest_ids``, by id."""
        backend = self.backend
        wanted = sorted({int(bdgest_id) for bdgest_id in bdgest_ids})
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for album_id, metadata in backend.tuples(
                f"SELECT id, metadata FROM bdgest_albums WHERE id IN ({', '.join('?' for _ in chunk)}) "
                f"AND {backend.time_sql('cache_valid_until')} > {backend.time_sql('?')}",
                [*chunk, to_db_time(now or utcnow())],
            ):
                found[int(album_id)] = json.loads(metadata)
        return found

    def latest(self, bdgest_id: int) -> dict[str, Any] | None:
        """The album as last fetched, however old."""
        metadata = self.backend.value("SELECT metadata FROM bdgest_albums WHERE id = ?", [int(bdgest_id)])
        return json.loads(metadata) if metadata else None

    def purge_expired(self, *, now: datetime | None = None) -> int:
        with self.backend.write() as backend:
            return backend.execute(
                f"DELETE FROM bdgest_albums WHERE {backend.time_sql('cache_valid_until')} <= {backend.time_sql('?')}",
                [to_db_time(now or utcnow())],
            )

    def count(self) -> int:
        return int(self.backend.value("SELECT COUNT(*) FROM bdgest_albums"))
