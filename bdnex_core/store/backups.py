"""The ComicInfo.xml and archive layout a file had before we wrote into it (``comicinfo_backups``).

Kept so that ``bdnex-core undo``, the review's ``u`` and the web page's "restore" can give a file
back as it was. A backup of reason ``replaced`` or ``absent`` stands for one write of ours (what
undo takes back); ``unreadable`` keeps a ComicInfo we left alone because we could not read it
faithfully. The bytes come back as :class:`bytes` on both backends (BLOB or BYTEA).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from bdnex_core.hashing import canonical_path
from bdnex_core.store.backend import Backend
from bdnex_core.store.common import to_db_time, utcnow

# a backup that stands for one of our writes (undo takes it back)
_WRITES = "reason IN ('replaced', 'absent')"
_UNDO_COLUMNS = "id, file_id, file_path, session_id, comicinfo, reason, layout"


@dataclass(frozen=True)
class ComicInfoBackup:
    """One kept ComicInfo.xml: its bytes (``b""`` for reason ``absent``), the file and session it was
    taken from, and why (``replaced``, ``absent``, ``unreadable``)."""

    id: int
    file_path: str
    session_id: int | None
    comicinfo: bytes
    sha256: str
    reason: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ComicInfoBackup:
        return cls(
            row["id"], row["file_path"], row["session_id"], bytes(row["comicinfo"]), row["sha256"], row["reason"]
        )


class BackupStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def record(
        self,
        file_path: str | os.PathLike[str],
        comicinfo: bytes,
        *,
        file_id: int | None,
        session_id: int | None,
        reason: str = "replaced",
        layout: bytes | None = None,
    ) -> int:
        """Keep ``comicinfo`` (``b""`` with reason ``absent``) and the archive's ``layout``; the id."""
        with self.backend.write() as backend:  # joins the transaction recording the file
            return backend.insert(
                "comicinfo_backups",
                {
                    "file_id": file_id,
                    "file_path": canonical_path(file_path),
                    "session_id": session_id,
                    "comicinfo": comicinfo,
                    "sha256": hashlib.sha256(comicinfo).hexdigest(),
                    "reason": reason,
                    "layout": layout,
                },
            )

    def of_path(self, file_path: str | os.PathLike[str]) -> list[ComicInfoBackup]:
        """Every backup of the file at ``file_path``, oldest first (with its bytes, without its layout)."""
        rows = self.backend.rows(
            "SELECT id, file_path, session_id, comicinfo, sha256, reason FROM comicinfo_backups "
            "WHERE file_path = ? ORDER BY id",
            [canonical_path(file_path)],
        )
        return [ComicInfoBackup.from_row(row) for row in rows]

    def summaries_of_path(self, file_path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """The file's backups, newest first, with their size in ``bytes`` instead of the bytes."""
        return self.backend.rows(
            "SELECT id, session_id, reason, created_at, length(comicinfo) AS bytes FROM comicinfo_backups "
            "WHERE file_path = ? ORDER BY id DESC",
            [canonical_path(file_path)],
        )

    def one_of_path(self, backup_id: int, file_path: str | os.PathLike[str]) -> dict[str, Any] | None:
        """Backup ``backup_id`` if it belongs to the file at ``file_path``."""
        return self.backend.row(
            "SELECT id, session_id, comicinfo, reason FROM comicinfo_backups WHERE id = ? AND file_path = ?",
            [backup_id, canonical_path(file_path)],
        )

    def before_session(self, file_path: str | os.PathLike[str], session_id: int) -> ComicInfoBackup | None:
        """The ComicInfo the file held before ``session_id`` rewrote it: its first backup replaced by that
        session or a later one (``None``: the file had none, or nothing of it was replaced since)."""
        row = self.backend.row(
            "SELECT id, file_path, session_id, comicinfo, sha256, reason FROM comicinfo_backups "
            "WHERE file_path = ? AND session_id >= ? AND reason = 'replaced' ORDER BY id LIMIT 1",
            [canonical_path(file_path), session_id],
        )
        return ComicInfoBackup.from_row(row) if row else None

    # ------------------------------------------------------------------ undo

    def first_writes_of_session(self, session_id: int) -> list[dict[str, Any]]:
        """For each file the session wrote into, its state before (its first backup in the session),
        unless already undone."""
        return self.backend.rows(
            f"SELECT {_UNDO_COLUMNS} FROM comicinfo_backups WHERE undone_at IS NULL AND id IN "
            f"(SELECT MIN(id) FROM comicinfo_backups WHERE session_id = ? AND {_WRITES} GROUP BY file_id) "
            "ORDER BY id",
            [session_id],
        )

    def last_write_of_file(self, file_id: int) -> dict[str, Any] | None:
        """The backup taken before the last write of ours into the file not undone yet."""
        return self.backend.row(
            f"SELECT {_UNDO_COLUMNS} FROM comicinfo_backups WHERE file_id = ? AND {_WRITES} "
            "AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
            [file_id],
        )

    def not_undone(self, backup_id: int) -> dict[str, Any] | None:
        return self.backend.row(
            f"SELECT {_UNDO_COLUMNS} FROM comicinfo_backups WHERE id = ? AND undone_at IS NULL", [backup_id]
        )

    def later_write(self, file_id: int, after_id: int) -> dict[str, Any] | None:
        """The newest write of ours into the file after backup ``after_id``, not undone (its ``session_id``)."""
        return self.backend.row(
            f"SELECT id, session_id FROM comicinfo_backups WHERE file_id = ? AND id > ? AND {_WRITES} "
            "AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
            [file_id, after_id],
        )

    def mark_undone(self, backup_id: int) -> None:
        with self.backend.write() as backend:
            backend.execute(
                "UPDATE comicinfo_backups SET undone_at = ? WHERE id = ?", [to_db_time(utcnow()), backup_id]
            )

    # ------------------------------------------------------------------ the review's own writes

    def last_id(self) -> int:
        """The newest backup's id (0 when none): what a write after this moment adds is above it."""
        return int(self.backend.value("SELECT COALESCE(MAX(id), 0) FROM comicinfo_backups") or 0)

    def last_write_after(self, backup_id: int) -> int | None:
        """The newest write of ours recorded after backup ``backup_id`` (None: nothing was kept)."""
        found = self.backend.value(f"SELECT MAX(id) FROM comicinfo_backups WHERE id > ? AND {_WRITES}", [backup_id])
        return None if found is None else int(found)
