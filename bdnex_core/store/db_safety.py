"""What opening an SQLite database does to protect it: checks, backups, and errors that say the fix.

Called by :class:`bdnex_core.db.BDneXDB` at four moments:

* before SQLite opens the file (:func:`before_open`): the cheap checks of
  :mod:`bdnex_core.store.sqlite_files`; a database that vanished while it left backups or session
  logs behind is never replaced by a new empty one in silence;
* after it opened (:func:`after_open`): ``PRAGMA quick_check`` when the last process stopped without
  closing (a power cut, a kill);
* before a migration (:func:`before_migration`): ``quick_check``, then a backup;
* when SQLite reports damage in the middle of a command (:func:`damage_error`): one line naming the
  file, the damage and the command that fixes it, never a traceback.

The remedy is always one command (:func:`remedy`), written with the options the user ran with
(:data:`COMMAND`, set by the CLI): ``--config`` or ``--db`` pointed at this database.
"""

from __future__ import annotations

import logging
import shlex
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from bdnex_core.config import Settings
from bdnex_core.errors import DatabaseError
from bdnex_core.store.db_backups import evidence_of_a_database, make_backup, newest_usable
from bdnex_core.store.sqlite_files import (
    SQLITE_DAMAGE,
    DamagedDatabase,
    Finding,
    Inspection,
    Problem,
    _kind,
    _unreadable,
    companion,
    inspect,
)

if TYPE_CHECKING:
    from bdnex_core.config import Settings

logger = logging.getLogger(__name__)

#: how the user calls bdnex-core, for the commands a message gives (the CLI adds --config/--db)
COMMAND = "bdnex-core"

SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_NOTADB = 8, 10, 11, 14, 26


class DatabaseMissing(DatabaseError):
    """The configured database is gone, and signs say it existed: never start a new one in silence."""


def settings_for(path: Path, settings: Settings | None) -> Settings:
    """The settings of this database (its backups folder): the caller's, or the defaults for ``path``."""
    if settings is not None and Path(settings.database.path) == path:
        return settings
    return (settings or Settings()).with_database_path(path)


def command(*words: str) -> str:
    return "`" + " ".join([COMMAND, *words]) + "`"


def remedy(problem: Problem, file: Path, settings: Settings) -> str:
    """The one command that fixes ``problem`` (with what it costs)."""
    if problem == Problem.PERMISSIONS:
        return f"give your user read and write access: `chmod u+rw {shlex.quote(str(file))}`"
    backup = newest_usable(settings)
    held = f"{backup.label}, {backup.holds}" if backup else ""
    if problem == Problem.GONE:
        if backup is not None:
            return f"{command('db', 'restore')} puts back the newest backup ({held}); the damaged file is kept aside"
        return (
            f"no backup of it exists: {command('db', 'reset')} starts a new database (the damaged file is kept aside)"
        )
    fix = f"{command('db', 'repair')} keeps everything that can still be read (the damaged files are kept aside)"
    if backup is not None:
        fix += f", or {command('db', 'restore')} goes back to the backup of {held}"
    return fix


def _raise(finding: Finding, settings: Settings) -> None:
    raise DamagedDatabase(finding, remedy(finding.problem, finding.file, settings))


def before_open(
    path: Path, settings: Settings | None, logs_folder: Path | None, *, creating: bool = False
) -> Inspection:
    """Check the files of ``path`` before SQLite opens it; raise what is wrong with the fix.
    ``creating``: a new database is made on purpose (``db reset``, ``db repair``)."""
    own = settings_for(path, settings)
    inspection = inspect(path)
    if inspection.shm_set_aside is not None:
        logger.warning(
            "%s was damaged; set aside as %s (SQLite rebuilds it from the -wal: nothing is lost)",
            companion(path, "-shm"),
            inspection.shm_set_aside.name,
        )
    if inspection.findings:
        _raise(inspection.findings[0], own)
    if not creating and not path.exists() and not path.is_symlink():
        _refuse_a_silent_new_start(path, own, logs_folder)
    return inspection


def _refuse_a_silent_new_start(path: Path, settings: Settings, logs_folder: Path | None) -> None:
    signs = evidence_of_a_database(settings, logs_folder)
    if not signs:
        return
    backup = remedy(Problem.GONE, path, settings)
    raise DatabaseMissing(
        f"the database is missing, but it existed ({'; '.join(signs)}); if it was moved, point "
        f"database.path (or --db) at it; else {backup}".replace("the damaged file is kept aside", "nothing is deleted"),
        path=path,
    )


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA quick_check``'s complaints (empty: sound). Damage that stops it is a complaint too."""
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check(20)").fetchall()]
    except SQLITE_DAMAGE as exc:
        return [str(exc)]
    return [] if found == ["ok"] else found


def after_open(conn: sqlite3.Connection, path: Path, inspection: Inspection | None, settings: Settings | None) -> None:
    """After an unclean stop, a ``quick_check`` before anything is read or written."""
    if inspection is None or not inspection.unclean:
        return
    logger.info("%s: the last process using it did not close it; checking it (PRAGMA quick_check)", path)
    complaints = quick_check(conn)
    if complaints:
        finding = Finding(path, f"it is damaged ({complaints[0]})", Problem.DAMAGED)
        _raise(finding, settings_for(path, settings))


def before_migration(conn: sqlite3.Connection, path: Path, settings: Settings | None) -> None:
    """A database about to be migrated is checked, then backed up (a failed upgrade loses nothing)."""
    own = settings_for(path, settings)
    complaints = quick_check(conn)
    if complaints:
        _raise(Finding(path, f"it is damaged ({complaints[0]}); it was not upgraded", Problem.DAMAGED), own)
    backup = make_backup(conn, own, "before-migration")
    if backup is not None:
        logger.info("backed up %s to %s before upgrading its schema", path, backup.path)


def describe_damage(exc: BaseException) -> str:
    """SQLite's complaint in a line that quotes none of the damaged bytes."""
    if isinstance(exc, UnicodeDecodeError) or str(exc).startswith("malformed database schema"):
        return "its schema (the description of its tables) cannot be read"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _unusable_file(path: Path) -> Finding | None:
    """Which of the database's files cannot be opened, by ``stat`` alone (safe while it is open here)."""
    for file in (path, companion(path, "-wal"), companion(path, "-shm")):
        kind = _kind(file)
        if kind == "missing":
            continue
        if kind is not None:
            role = "the database file" if file == path else "a file SQLite keeps beside the database"
            problem = Problem.GONE if file == path else Problem.LOG_DAMAGED
            return Finding(file, f"it is {kind}, not {role}", problem)
        if _unreadable(file):
            return Finding(file, "you cannot read and write it", Problem.PERMISSIONS)
    return None


def damage_error(exc: Exception, path: Path | None, settings: Settings | None) -> DatabaseError | None:
    """The error to report for an SQLite error that means damage or files out of reach (``None``:
    another kind of error, such as a constraint, a lock or a full disk, handled where it happens)."""
    if path is None:
        return None
    own = settings_for(path, settings)
    if isinstance(exc, UnicodeDecodeError) or str(exc).startswith("malformed database schema"):
        # the description of its tables is damaged: SQLite opens none through it (a repair reads around it)
        finding = Finding(path, f"it is damaged: {describe_damage(exc)}", Problem.DAMAGED)
        return DamagedDatabase(finding, remedy(Problem.DAMAGED, path, own))
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc)
    if text.startswith("Could not decode to UTF-8"):
        column = text.split("column", 1)[-1].split("with text", 1)[0].strip(" '")
        what = f"it is damaged: a stored text is not readable (column {column} holds bytes that are not UTF-8)"
        return DamagedDatabase(Finding(path, what, Problem.DAMAGED), remedy(Problem.DAMAGED, path, own))
    if code in (SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_IOERR):
        unusable = _unusable_file(path)
        if unusable is not None:
            return DamagedDatabase(unusable, remedy(unusable.problem, unusable.file, own))
        if code == SQLITE_IOERR:
            what = f"reading or writing it failed ({text}); check the disk, then run {command('db', 'check')}"
            return DatabaseError(what, path=path)
        return None
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        problem = Problem.GONE if code == SQLITE_NOTADB else Problem.DAMAGED
        finding = Finding(path, f"it is damaged ({text})", problem)
        return DamagedDatabase(finding, remedy(problem, path, own))
    return None
