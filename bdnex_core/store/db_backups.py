"""Rolling backups of the SQLite database, restoring one, and starting afresh on purpose.

A backup is a whole copy made with SQLite's online backup API (consistent while other processes
keep writing), before every migration and, while tagging, when the newest is older than
``database.backups_every_hours``; the newest ``database.backups_keep`` are kept, in
``database.backups_dir`` (default: a folder ``<database file>-backups`` beside the database). Its
name says when and why it was made, so listing them opens nothing; ``db restore`` opens each to
count what it holds.

Restoring or resetting never deletes the current database: its files (with their -wal and -shm)
are set aside beside it as ``bdnex.db.replaced-TIME`` (or ``.damaged-TIME``), for the user to
delete once sure. On PostgreSQL none of this applies: the server's own backups do.

These are not the ComicInfo.xml backups of :mod:`bdnex_core.store.backups` (what ``undo`` restores).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import DatabaseError
from bdnex_core.paths import backups_folder
from bdnex_core.store.sqlite_files import MIN_FREE_BYTES, ROOM_HELD_BYTES, companion, set_aside

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.store.backend import SQLiteBackend

BACKUP_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}T\d{6}Z)-(?P<reason>[a-z-]+)\.db$")
STAMP = "%Y%m%dT%H%M%SZ"
#: what a listing counts in each backup (table: what one row is called)
logger = logging.getLogger(__name__)

COUNTED = {"processed_files": "file", "processing_sessions": "session", "catalogue_albums": "catalogue album"}
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


@dataclass
class Backup:
    path: Path
    made: datetime
    reason: str
    counts: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # the backup itself cannot be read

    @property
    def label(self) -> str:
        return self.made.astimezone().strftime("%Y-%m-%d %H:%M")

    def summary(self) -> str:
        if self.problem:
            return f"{self.path.name}: {self.label}, unusable ({self.problem})"
        return f"{self.path.name}: {self.label}, {self.reason.replace('-', ' ')}: {self.holds}"

    @property
    def holds(self) -> str:
        return ", ".join(f"{count} {name}{'' if count == 1 else 's'}" for name, count in self.counts.items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "made": self.made.strftime("%Y-%m-%d %H:%M:%S"),
            "reason": self.reason,
            "counts": self.counts,
            "problem": self.problem,
        }


def _backups(settings: Settings) -> list[Backup]:
    """The backups of this database, newest first, from their names only."""
    folder = backups_folder(settings)
    stem = Path(settings.database.path).stem
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise DatabaseError(f"cannot read the backups folder: {exc.strerror or exc}", path=folder) from None
    found = []
    for name in names:
        match = BACKUP_NAME.match(name)
        if match and match["stem"] == stem:
            made = datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC)
            found.append(Backup(folder / name, made, match["reason"]))
    return sorted(found, key=lambda backup: (backup.made, backup.path.name), reverse=True)


def count_rows(path: Path) -> dict[str, int]:
    """What a database file holds (the counts of :data:`COUNTED`); raises ``sqlite3.Error`` or ``OSError``."""
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError("not a database file")
    # immutable: a backup has no -wal and must not get one; nothing is locked or written
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            label: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table, label in COUNTED.items()
            if table in present
        }
    finally:
        conn.close()


def list_backups(settings: Settings, *, counted: bool = True) -> list[Backup]:
    """The backups, newest first; with ``counted`` each is opened to say what it holds (or why it cannot)."""
    backups = _backups(settings)
    if counted:
        for backup in backups:
            try:
                backup.counts = count_rows(backup.path)
            except (sqlite3.Error, UnicodeDecodeError, OSError) as exc:
                backup.problem = str(exc) or type(exc).__name__
    return backups


def newest_usable(settings: Settings) -> Backup | None:
    return next((backup for backup in list_backups(settings) if backup.problem is None), None)


def backup_due(settings: Settings, *, now: datetime | None = None) -> bool:
    """Whether a tag run should make a backup now (the newest is older than ``backups_every_hours``)."""
    database = settings.database
    if database.backend != "sqlite" or database.backups_keep == 0 or database.backups_every_hours == 0:
        return False
    newest = next(iter(_backups(settings)), None)
    now = now or datetime.now(UTC)
    return newest is None or now - newest.made >= timedelta(hours=database.backups_every_hours)


def make_backup(conn: sqlite3.Connection, settings: Settings, reason: str) -> Backup | None:
    """Copy the database behind ``conn`` into the backups folder (SQLite's online backup API), then
    keep the newest ``backups_keep``. ``None`` when backups are off."""
    if settings.database.backups_keep == 0:
        return None
    folder = backups_folder(settings)
    made = datetime.now(UTC).replace(microsecond=0)
    stem = Path(settings.database.path).stem
    newest = next(iter(_backups(settings)), None)
    if newest is not None and newest.made >= made:  # two in one second: names keep their order
        made = newest.made + timedelta(seconds=1)
    target = folder / f"{stem}-{made.strftime(STAMP)}-{reason}.db"
    # its own name per process: runs sharing the database may make theirs in the same second
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
        finally:
            copy.close()
        os.replace(partial, target)
    except (OSError, sqlite3.Error, UnicodeDecodeError) as exc:
        partial.unlink(missing_ok=True)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DatabaseError(
            f"cannot write a backup of the database there ({detail}): make the folder writable, "
            "or set database.backups_dir (database.backups_keep: 0 turns backups off)",
            path=folder,
        ) from None
    prune(settings)
    return Backup(target, made, reason)


def prune(settings: Settings) -> list[Path]:
    """Delete the backups beyond the newest ``backups_keep``; return them."""
    removed = []
    for backup in _backups(settings)[settings.database.backups_keep :]:
        try:
            backup.path.unlink()
            removed.append(backup.path)
        except OSError:
            pass  # kept: the next backup tries again
    return removed


def set_aside_database(db_path: Path, label: str) -> list[Path]:
    """Move the database file and its -wal/-shm aside, the database first (``bdnex.db.LABEL-TIME``, then
    ``bdnex.db.LABEL-TIME-wal``: SQLite still finds its -wal there); return where they went."""
    if not (db_path.exists() or db_path.is_symlink()):
        return []
    aside = set_aside(db_path, label)
    moved = [aside]
    for suffix in SQLITE_COMPANIONS:
        path = companion(db_path, suffix)
        if path.exists() or path.is_symlink():
            os.rename(path, companion(aside, suffix))
            moved.append(companion(aside, suffix))
    return moved


def restore_backup(settings: Settings, backup: Backup, *, label: str = "replaced") -> list[Path]:
    """Put a copy of ``backup`` in place of the database (set aside first); return what was set aside."""
    db_path = Path(settings.database.path)
    incoming = db_path.with_name(f".{db_path.name}.restoring")
    try:
        source = sqlite3.connect(f"{backup.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            check = source.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise DatabaseError(f"this backup is damaged too ({check})", path=backup.path)
            incoming.unlink(missing_ok=True)
            target = sqlite3.connect(incoming)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        moved = set_aside_database(db_path, label)
        os.replace(incoming, db_path)
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        incoming.unlink(missing_ok=True)
        raise DatabaseError(f"cannot restore this backup ({exc})", path=backup.path) from None
    except OSError as exc:
        incoming.unlink(missing_ok=True)
        raise DatabaseError(f"cannot restore the backup there ({exc.strerror or exc})", path=db_path.parent) from None
    return moved


def evidence_of_a_database(settings: Settings, logs_folder: Path | None) -> list[str]:
    """Signs that a database existed at the configured path (its backups, its session logs)."""
    signs = []
    backups = _backups(settings)
    if backups:
        signs.append(f"{len(backups)} backup(s) of it, the newest of {backups[0].label}")
    if logs_folder is not None and logs_folder.is_dir() and any(logs_folder.glob("session_*.json")):
        signs.append(f"its session logs in {logs_folder}")
    return signs


class RollingBackups:
    """A tag run's backups: one whenever the newest is older than ``backups_every_hours``, looked at
    now and then (at most once a minute) between two recorded files, so a run of days keeps a recent one."""

    def __init__(self, backend: SQLiteBackend | None, settings: Settings):
        self.backend, self.settings = backend, settings
        hours = settings.database.backups_every_hours
        self.look_every = min(60.0, hours * 360.0)  # a tenth of the interval, for short test intervals
        self._next_look = 0.0
        self._said_no_room = False

    def maybe(self) -> Backup | None:
        if self.backend is None or self.settings.database.backups_every_hours == 0:
            return None
        now = time.monotonic()
        if now < self._next_look:
            return None
        self._next_look = now + self.look_every
        if not backup_due(self.settings):
            return None
        # the run's workers read through the same connection: the copy is made while none of them does
        with self.backend.connection() as conn:
            if not self._room_for_a_copy(conn):
                return None
            return make_backup(conn, self.settings, "while-tagging")

    def _room_for_a_copy(self, conn: sqlite3.Connection) -> bool:
        """A copy that would leave its disk short of what the run needs to record its files is not
        made: on a nearly full disk the backup would be what stops the run (said once in the log)."""
        folder = backups_folder(self.settings)
        probe = folder if folder.exists() else folder.parent
        try:
            status = os.statvfs(probe)
            pages, page_size = (conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size"))
        except (OSError, sqlite3.Error):
            return True  # cannot tell: the copy itself will say
        left_after = status.f_bavail * status.f_frsize - pages * page_size
        if left_after >= 2 * MIN_FREE_BYTES + ROOM_HELD_BYTES:
            return True
        if not self._said_no_room:
            self._said_no_room = True
            logger.warning(
                "%s: no backup of the database made: the disk would keep only %d KB; free some space",
                folder,
                max(0, left_after) // 1024,
            )
        return False
