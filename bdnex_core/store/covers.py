"""Cover fingerprints kept: a file's front cover per content hash, an album's Bédéthèque cover per id.

Computing a fingerprint costs a decode (a few to a few hundred milliseconds) and an album's costs a
request to the site, so each is computed once: a file's is found again by its SHA-256 when it is
renamed, moved or scanned again; an album's serves every file compared with that album.
"""

from __future__ import annotations

from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow


class CoverStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def file_cover(self, file_hash: str) -> str | None:
        """The stored fingerprint text of the file whose content has this SHA-256."""
        return self.backend.value("SELECT fingerprint FROM file_covers WHERE file_hash = ?", [file_hash])

    def keep_file_cover(self, file_hash: str, fingerprint: str, page: str) -> None:
        with self.backend.write() as backend:
            backend.upsert(
                "file_covers",
                {"file_hash": file_hash, "fingerprint": fingerprint, "page": page, "computed_at": to_db_time(utcnow())},
                key=("file_hash",),
            )

    def album_cover(self, album_id: int) -> str | None:
        """The stored fingerprint text of the album's Bédéthèque cover."""
        return self.backend.value("SELECT fingerprint FROM album_covers WHERE album_id = ?", [album_id])

    def keep_album_cover(self, album_id: int, fingerprint: str, cover_url: str | None) -> None:
        with self.backend.write() as backend:
            backend.upsert(
                "album_covers",
                {
                    "album_id": album_id,
                    "cover_url": cover_url,
                    "fingerprint": fingerprint,
                    "computed_at": to_db_time(utcnow()),
                },
                key=("album_id",),
            )
