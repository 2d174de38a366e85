"""The ComicInfo.xml a file held before we touched it, kept byte for byte in the database.

Every time a run replaces an existing ComicInfo.xml, the bytes it had go to the
``comicinfo_backups`` table in the same transaction that records the file's result; a
ComicInfo we cannot read faithfully (left for review, never replaced silently) is kept
there too. Undoing a session needs the state of a file before that session:
:func:`comicinfo_before_session` finds it (the first backup of the file taken in that
session or a later one; none means the file had no ComicInfo, or was never rewritten since).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bdnex_core.hashing import canonical_path

if TYPE_CHECKING:
    import os

    from bdnex_core.db import BDneXDB

TABLE = "comicinfo_backups"


@dataclass(frozen=True)
class ComicInfoBackup:
    id: int
    file_path: str
    session_id: int | None
    comicinfo: bytes
    sha256: str
    reason: str


def record_backup(
    db: BDneXDB,
    file_path: str | os.PathLike[str],
    comicinfo: bytes,
    *,
    file_id: int | None,
    session_id: int | None,
    reason: str = "replaced",
    layout: bytes | None = None,
) -> int:
    """Keep ``comicinfo`` (the bytes the file held; ``b""`` with reason ``absent``) and the archive's
    ``layout`` (:func:`bdnex_core.archives.layout.capture`); call inside the transaction recording the file."""
    cursor = db.db.execute(
        f"INSERT INTO {TABLE} (file_id, file_path, session_id, comicinfo, sha256, reason, layout) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            file_id,
            canonical_path(file_path),
            session_id,
            comicinfo,
            hashlib.sha256(comicinfo).hexdigest(),
            reason,
            layout,
        ],
    )
    return int(cursor.lastrowid or 0)


def backups_of(db: BDneXDB, file_path: str | os.PathLike[str]) -> list[ComicInfoBackup]:
    """Every backup of the file at ``file_path``, oldest first."""
    rows = db.db.execute(
        f"SELECT id, file_path, session_id, comicinfo, sha256, reason FROM {TABLE} WHERE file_path = ? ORDER BY id",
        [canonical_path(file_path)],
    ).fetchall()
    return [ComicInfoBackup(*row) for row in rows]


def comicinfo_before_session(db: BDneXDB, file_path: str | os.PathLike[str], session_id: int) -> ComicInfoBackup | None:
    """The ComicInfo the file held before ``session_id`` rewrote it: its first backup taken in that
    session or a later one (``None``: nothing of it was replaced since)."""
    row = db.db.execute(
        f"SELECT id, file_path, session_id, comicinfo, sha256, reason FROM {TABLE} "
        "WHERE file_path = ? AND session_id >= ? AND reason = 'replaced' ORDER BY id LIMIT 1",
        [canonical_path(file_path), session_id],
    ).fetchone()
    return ComicInfoBackup(*row) if row else None
