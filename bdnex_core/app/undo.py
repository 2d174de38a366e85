"""``bdnex-core undo SESSION|FILE``: give files back the ComicInfo and the name they had before a session.

Before a run writes ComicInfo into a CBZ it keeps, in ``comicinfo_backups``, the ComicInfo the
file held and the layout of the whole archive (:mod:`bdnex_core.archives.layout`). Undoing a
session rebuilds each file it changed byte for byte (the SHA-256 is checked before the swap),
moves it back to the name it had then, and records the undo in the file's history.

A file changed since by someone else (its SHA-256 is no longer the one we recorded after our
write), or rewritten by a later session of ours, is left alone with a message unless ``force``.
Undone files are recorded as not tagged (``skipped``, decision ``none``): the next ``tag`` run
processes them again, as it would have before the session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bdnex_core import archives
from bdnex_core.app.organize import Collision, MoveJournal, move_files
from bdnex_core.archives.layout import rebuild
from bdnex_core.errors import ArchiveError, BdnexError
from bdnex_core.hashing import canonical_path, sha256_file
from bdnex_core.states import Decision, FileStatus, HistorySource

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB


@dataclass
class UndoResult:
    file: str
    restored: bool
    message: str
    restored_to: str | None = None
    failed: bool = False  # an undo was due and did not happen

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "restored": self.restored,
            "restored_to": self.restored_to,
            "failed": self.failed,
            "message": self.message,
        }


@dataclass
class _Backup:
    id: int
    file_id: int
    file_path: str  # where the file was when the session wrote into it
    session_id: int | None
    comicinfo: bytes
    reason: str
    layout: bytes | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> _Backup:
        layout = row["layout"]
        return cls(
            row["id"],
            row["file_id"],
            row["file_path"],
            row["session_id"],
            bytes(row["comicinfo"]),
            row["reason"],
            None if layout is None else bytes(layout),
        )


class RecordUndo(Protocol):
    """Records the restored file at ``final`` (inside the transaction that marks its backup undone)."""

    def __call__(self, db: BDneXDB, final: Path, backup_session_id: int | None) -> None: ...


def record_not_tagged(db: BDneXDB, final: Path, backup_session_id: int | None) -> None:
    """``bdnex-core undo``'s record: the file is not tagged, the next ``tag`` run processes it again."""
    db.files.record_processing(
        final,
        None,
        {
            "status": FileStatus.SKIPPED,
            "decision": Decision.NONE,
            "error": f"undone: session {backup_session_id}" if backup_session_id else "undone",
            "has_metadata": False,
        },
        source=HistorySource.MANUAL,
    )


def undo_session(
    settings: Settings, db: BDneXDB, session_id: int, *, dry_run: bool = False, force: bool = False
) -> list[UndoResult]:
    if db.sessions.get(session_id) is None:
        raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
    backups = [_Backup.from_row(row) for row in db.backups.first_writes_of_session(session_id)]
    if not backups:
        raise BdnexError(f"session {session_id} has nothing left to undo (already undone, or it wrote into no file)")
    return [_undo(settings, db, backup, dry_run=dry_run, force=force) for backup in backups]


def undo_file(
    settings: Settings, db: BDneXDB, path: str | os.PathLike[str], *, dry_run: bool = False, force: bool = False
) -> UndoResult:
    """Undo the last write we made into the file at ``path``."""
    row = db.files.get(path)
    if row is None:
        raise BdnexError("not in the database: nothing to undo", path=str(path))
    found = db.backups.last_write_of_file(row["id"])
    if found is None:
        raise BdnexError("nothing to undo for this file (already undone, or never written by us)", path=str(path))
    return _undo(settings, db, _Backup.from_row(found), dry_run=dry_run, force=force)


def undo_backup(
    settings: Settings, db: BDneXDB, backup_id: int, *, record: RecordUndo = record_not_tagged
) -> UndoResult:
    """Give the file back the state backup ``backup_id`` kept (what the review's ``u`` does), with
    ``record`` saying what the file's record becomes; a failure is a result with ``failed`` set."""
    row = db.backups.not_undone(backup_id)
    if row is None:
        return UndoResult("", False, "already undone", failed=True)
    return _undo(settings, db, _Backup.from_row(row), dry_run=False, force=False, record=record)


def _undo(
    settings: Settings,
    db: BDneXDB,
    backup: _Backup,
    *,
    dry_run: bool,
    force: bool,
    record: RecordUndo = record_not_tagged,
) -> UndoResult:
    row = db.files.get_by_id(backup.file_id)
    if row is None:
        return UndoResult(backup.file_path, False, "no longer in the database; left alone", failed=True)
    current, recorded_hash = Path(row["file_path"]), row["file_hash"]
    if not current.is_file():
        return UndoResult(str(current), False, "the file is not there any more", failed=True)
    later = db.backups.later_write(backup.file_id, backup.id)
    if later is not None and not force:
        return UndoResult(
            str(current),
            False,
            f"written again since by session {later['session_id']}: undo that one first (or --force)",
            failed=True,
        )
    if sha256_file(current) != recorded_hash and not force:
        return UndoResult(
            str(current),
            False,
            "changed since by another program; left alone (--force restores it anyway)",
            failed=True,
        )
    target = Path(backup.file_path)
    move_back = canonical_path(current) != canonical_path(target)
    if dry_run:
        where = f" and move it back to {target}" if move_back else ""
        return UndoResult(str(current), False, f"would restore its earlier state{where}", str(target))
    if backup.layout is not None:
        try:
            rebuild(current, backup.layout, preserve_mtime=settings.archives.preserve_mtime)
            how = "restored byte for byte"
        except ArchiveError as exc:
            if not force:
                return UndoResult(
                    str(current), False, f"{exc.reason} (--force restores only its ComicInfo.xml)", failed=True
                )
            archives.write_comicinfo(current, backup.comicinfo or None, preserve_mtime=settings.archives.preserve_mtime)
            how = "its earlier ComicInfo.xml restored (the pages changed since)"
    else:  # a backup made before layouts were kept: the ComicInfo alone
        archives.write_comicinfo(current, backup.comicinfo or None, preserve_mtime=settings.archives.preserve_mtime)
        how = "its earlier ComicInfo.xml restored"
    final = current
    if move_back:
        journal = MoveJournal(db)
        journal.finish_interrupted()
        moved = move_files([(current, target)], Collision.REFUSE, journal)[0]
        if moved.moved and moved.target is not None:
            final = moved.target
        else:
            how += f"; not moved back ({moved.message})"
    with db.write():
        db.backups.mark_undone(backup.id)
        record(db, final, backup.session_id)
    return UndoResult(str(current), True, how, str(final))


def restore_version(settings: Settings, db: BDneXDB, file_id: int, path: str, backup_id: int) -> None:
    """Put back version ``backup_id`` of the file's ComicInfo.xml (the web page's "restore"); the one it
    replaces is kept as a backup first, and the file's history says so."""
    found = db.backups.one_of_path(backup_id, path)
    if found is None:
        raise BdnexError(f"{path}: no earlier ComicInfo.xml version {backup_id} of this file")
    if archives.detect_kind(path) != "cbz":
        raise BdnexError(f"{path}: only a CBZ can have its ComicInfo.xml restored")
    wanted = None if found["reason"] == "absent" else bytes(found["comicinfo"])  # 'absent': the file had none
    with archives.open_archive(path) as comic:
        current = comic.comicinfo_bytes()
    with db.write():
        if current is None:
            db.backups.record(path, b"", file_id=file_id, session_id=None, reason="absent")
        else:
            db.backups.record(path, current, file_id=file_id, session_id=None)
        archives.write_comicinfo(path, wanted, preserve_mtime=settings.archives.preserve_mtime)
        db.files.add_history(
            file_id,
            "ComicInfo.xml",
            "(kept as a backup)" if current is not None else "(none)",
            f"restored version {backup_id}" + (" (no ComicInfo.xml)" if wanted is None else ""),
            str(HistorySource.MANUAL),
        )
