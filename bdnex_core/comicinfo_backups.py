"""The ComicInfo.xml a file held before we touched it, kept byte for byte in the database.

Every time a run replaces an existing ComicInfo.xml, the bytes it had go to the
``comicinfo_backups`` table in the same transaction that records the file's result; a
ComicInfo we cannot read faithfully (left for review, never replaced silently) is kept
there too. Undoing a session needs the state of a file before that session:
:func:`comicinfo_before_session` finds it (the first backup of the file taken in that
session or a later one; none means the file had no ComicInfo, or was never rewritten since).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    from bdnex_core.db import BDneXDB


@dataclass(frozen=True)
class ComicInfoBackup:
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


def backups_of(db: BDneXDB, file_path: str | os.PathLike[str]) -> list[ComicInfoBackup]:
    """Every backup of the file at ``file_path``, oldest first."""
    return [ComicInfoBackup.from_row(row) for row in db.backups.of_path(file_path)]


def comicinfo_before_session(db: BDneXDB, file_path: str | os.PathLike[str], session_id: int) -> ComicInfoBackup | None:
    """The ComicInfo the file held before ``session_id`` rewrote it: its first backup taken in that
    session or a later one (``None``: nothing of it was replaced since)."""
    row = db.backups.replaced_since_session(file_path, session_id)
    return ComicInfoBackup.from_row(row) if row else None
