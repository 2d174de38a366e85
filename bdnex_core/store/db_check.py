"""``db check`` and ``db repair``: what is damaged in the database, what can be saved, and saving it.

The check reads the database's files (:mod:`bdnex_core.store.sqlite_files`), runs
``PRAGMA quick_check`` (``integrity_check`` with ``full``), then reads every table row by row the way
a repair would copy it: rows that come back are *readable*, rows whose text is not UTF-8 are
*undecodable* (reported by table and count, never a traceback), and the part of a table behind a
damaged page is *unreachable*. A row walk that fails jumps ahead by growing steps of rowid until it
finds readable rows again, so one damaged page costs the rows on it, not the rest of the table.

The repair keeps what can be read: a -wal whose end is damaged is kept aside and SQLite takes the
changes before the damage; a damaged database file is set aside (with its -wal and -shm) and every
readable row is copied into a new database with the current schema (indexes and the ``ls``
full-text index rebuilt). When catalogue rows were lost, the sitemaps' validators are forgotten, so
that the next ``catalogue update`` fetches the whole catalogue again.

On PostgreSQL the server keeps its pages consistent and its own backups apply: the check says so,
checks that every table answers, and reports the schema version.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.db import BDneXDB
from bdnex_core.errors import DatabaseError
from bdnex_core.store import db_safety
from bdnex_core.store.db_backups import Backup, list_backups, set_aside_database
from bdnex_core.store.sqlite_files import (
    SQLITE_DAMAGE,
    Finding,
    Problem,
    _held_by_another_process,
    companion,
    inspect,
    set_aside,
)

if TYPE_CHECKING:
    from bdnex_core.config import Settings

MIGRATIONS_TABLE = "_sqlite_migrations"
FULL_TEXT_INDEX = "library_search"
BATCH = 500
LARGEST_ROWID = 2**63 - 1


class Undecodable(bytes):
    """A stored text whose bytes are not UTF-8."""


def _text(data: bytes) -> str | Undecodable:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return Undecodable(data)


@dataclass
class TableReport:
    table: str
    readable: int = 0
    undecodable: int = 0
    unreachable: list[tuple[int, int]] = field(default_factory=list)  # rowid ranges behind damaged pages
    error: str | None = None  # the table cannot be read at all
    rejected: int = 0  # a repair: rows read but refused by the schema (a value lost to the damage)

    def lost(self, first: int, last: int) -> None:
        """Rows ``first`` to ``last`` cannot be read (joined to the range before when they follow it)."""
        if self.unreachable and self.unreachable[-1][1] + 1 == first:
            self.unreachable[-1] = (self.unreachable[-1][0], last)
        else:
            self.unreachable.append((first, last))

    @property
    def damaged(self) -> bool:
        return bool(self.undecodable or self.unreachable or self.error or self.rejected)

    def summary(self) -> str:
        parts = [f"{self.readable} rows readable"]
        if self.undecodable:
            parts.append(f"{self.undecodable} with text that is not UTF-8 (lost)")
        if self.unreachable:
            ranges = ", ".join(
                f"{start}-{end}" if end != LARGEST_ROWID else f"{start} on" for start, end in self.unreachable
            )
            parts.append(f"rows with ids {ranges} behind damaged pages (lost)")
        if self.rejected:
            parts.append(f"{self.rejected} of them refused by the schema (a value is missing: lost)")
        if self.error:
            parts.append(f"unreadable: {self.error}")
        return f"{self.table}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "readable": self.readable,
            "undecodable": self.undecodable,
            "unreachable": [list(r) for r in self.unreachable],
            "error": self.error,
            "rejected": self.rejected,
        }


@dataclass
class CheckReport:
    location: str
    backend: str
    findings: list[Finding] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)  # quick_check's complaints
    tables: list[TableReport] = field(default_factory=list)
    backups: list[Backup] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    remedy: str | None = None

    @property
    def healthy(self) -> bool:
        return not self.findings and not self.integrity and not any(t.damaged for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.location,
            "backend": self.backend,
            "healthy": self.healthy,
            "damage": [{"file": str(f.file), "what": f.what, "problem": f.problem.value} for f in self.findings],
            "integrity": self.integrity,
            "tables": [t.as_dict() for t in self.tables],
            "backups": [b.as_dict() for b in self.backups],
            "notes": self.notes,
            "remedy": self.remedy,
        }


# --------------------------------------------------------------------------- reading what can be read


def _reader(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.text_factory = _text
    # a file shorter than its header says is refused as corrupt, unless the schema is "writable": then
    # SQLite reads the pages that are there (nothing is written through this connection)
    conn.execute("PRAGMA writable_schema = ON")
    return conn


# SQLite's virtual machine steps one read of ours may take before it is taken for damage: a b-tree whose
# pages were cut off or overwritten can lead a read round in circles (seen on a file cut in half)
STEPS_PER_READ = 50_000_000
_STEPS_PER_CALL = 10_000


def _fetch_bounded(conn: sqlite3.Connection, sql: str, parameters: list) -> list:
    """``conn.execute(sql, parameters).fetchall()``, interrupted (an OperationalError, as for any damage)
    past STEPS_PER_READ steps."""
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return int(calls * _STEPS_PER_CALL > STEPS_PER_READ)

    conn.set_progress_handler(count, _STEPS_PER_CALL)
    try:
        return conn.execute(sql, parameters).fetchall()
    finally:
        conn.set_progress_handler(None, 0)


def _open_for_reading(path: Path) -> sqlite3.Connection:
    return _reader(sqlite3.connect(path, isolation_level=None))


def _tables(conn: sqlite3.Connection) -> list[str]:
    """Our tables: not SQLite's own, not the full-text index (rebuilt), not the migrations' record."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = {name for name, sql in rows if str(sql or "").upper().startswith("CREATE VIRTUAL")}
    return [
        str(name)
        for name, _sql in rows
        if not str(name).startswith("sqlite_")
        and name != MIGRATIONS_TABLE
        and name not in virtual
        and not any(str(name).startswith(f"{v}_") for v in virtual)
    ]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in conn.execute(f"PRAGMA table_info([{table}])").fetchall()]


class _Unreachable(Exception):
    """The b-tree of a table cannot be walked to a row."""


def _first_rowid(conn: sqlite3.Connection, table: str, at_least: int) -> int | None:
    """The first rowid from ``at_least`` on (``None``: no more rows); raises :class:`_Unreachable`."""
    try:
        found = _fetch_bounded(conn, f"SELECT rowid FROM [{table}] WHERE rowid >= ? ORDER BY rowid LIMIT 1", [at_least])
    except SQLITE_DAMAGE:
        raise _Unreachable from None
    if not found:
        return None
    if int(found[0][0]) < at_least:  # a damaged b-tree that leads back: as unreachable as a cut one
        raise _Unreachable
    return int(found[0][0])


def _next_reachable(conn: sqlite3.Connection, table: str, after: int) -> int | None:
    """The first rowid past a damaged part of the b-tree that starts after ``after`` (``None``: nothing
    more can be reached), probing ever further: after + 2, + 4, + 8..."""
    step = 2
    while after + step <= LARGEST_ROWID:
        try:
            return _first_rowid(conn, table, after + step)
        except _Unreachable:
            step *= 2
    return None


def readable_rows(
    conn: sqlite3.Connection, table: str, columns: list[str] | None, report: TableReport
) -> Iterator[tuple]:
    """Every row of ``table`` that can be read (``columns`` in order; ``None``: all, in the table's
    order), counting what cannot in ``report``. Each step moves past at least one rowid: a walk ends."""
    selected = "*" if columns is None else ", ".join(f"[{c}]" for c in columns)
    after, batch = -LARGEST_ROWID - 1, BATCH
    while True:
        try:
            rows = _fetch_bounded(
                conn, f"SELECT rowid, {selected} FROM [{table}] WHERE rowid > ? ORDER BY rowid LIMIT ?", [after, batch]
            )
        except SQLITE_DAMAGE as exc:
            if batch > 1:
                batch = 1  # the damage is in this batch: row by row up to it
                continue
            try:  # which row is it? its record is damaged, the b-tree that leads to it may not be
                failing = _first_rowid(conn, table, after + 1)
            except _Unreachable:
                following = _next_reachable(conn, table, after)
                if following is None and report.readable == 0 and not report.unreachable:
                    report.error = str(exc)  # not one row of the table can be reached
                    return
                report.lost(after + 1, LARGEST_ROWID if following is None else following - 1)
                if following is None:
                    return
                after = following - 1
                continue
            if failing is None:
                return
            if failing <= after:  # a damaged b-tree leading back: go on past it as past unreachable rows
                following = _next_reachable(conn, table, after)
                if following is None:
                    return
                report.lost(after + 1, following - 1)
                after = following - 1
                continue
            report.lost(failing, failing)
            after = failing
            continue
        rows = [row for row in rows if int(row[0]) > after]  # a damaged b-tree may lead back: never walk back
        if not rows:
            following = _next_reachable(conn, table, after)
            if following is None:
                return
            report.lost(after + 1, following - 1)
            after = following - 1
            continue
        for _rowid, *values in rows:
            if any(isinstance(value, Undecodable) for value in values):
                report.undecodable += 1
                continue
            report.readable += 1
            yield tuple(values)
        after, batch = int(rows[-1][0]), BATCH


# --------------------------------------------------------------------------- check


def check_database(settings: Settings, *, full: bool = False) -> CheckReport:
    database = settings.database
    if database.backend == "postgresql":
        return _check_postgresql(settings)
    path = Path(database.path)
    report = CheckReport(str(path), "sqlite", backups=list_backups(settings))
    if not path.exists() and not path.is_symlink():
        report.notes.append("no database file here yet (a command that needs one creates it)")
        return report
    if _open_elsewhere(path):
        report.notes.append("another process has it open: its -wal and -shm were not examined")
    inspection = inspect(path)
    report.findings.extend(inspection.findings)
    if not any(f.file == path and f.problem in (Problem.GONE, Problem.PERMISSIONS) for f in report.findings):
        _check_content(path, report, full=full)
    report.remedy = _remedy(report, settings)
    return report


def _open_elsewhere(path: Path) -> bool:
    return bool(_held_by_another_process(companion(path, "-shm")))


def _check_content(path: Path, report: CheckReport, *, full: bool) -> None:
    # a -wal in trouble is left alone (SQLite would drop what follows its damage): the file as of its
    # last checkpoint is read instead
    plain = _open_without_log(path, lenient=False) if report.findings else sqlite3.connect(path, isolation_level=None)
    try:  # as the commands open it: a schema SQLite cannot read stops them all
        pragma = "integrity_check" if full else "quick_check"
        found = [str(row[0]) for row in plain.execute(f"PRAGMA {pragma}(20)").fetchall()]
        report.integrity = [] if found == ["ok"] else found
    except SQLITE_DAMAGE as exc:
        report.integrity = [db_safety.describe_damage(exc)]
    finally:
        plain.close()
    conn = _open_without_log(path) if report.findings else _open_for_reading(path)
    try:
        try:
            tables = _tables(conn)
        except SQLITE_DAMAGE as exc:
            report.integrity.append(f"its list of tables cannot be read ({db_safety.describe_damage(exc)})")
            return
        for table in tables:
            table_report = TableReport(table)
            try:
                for _row in readable_rows(conn, table, None, table_report):
                    pass
            except SQLITE_DAMAGE as exc:
                table_report.error = db_safety.describe_damage(exc)
            report.tables.append(table_report)
    finally:
        conn.close()


def _open_without_log(path: Path, *, lenient: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return _reader(conn) if lenient else conn


def _remedy(report: CheckReport, settings: Settings) -> str | None:
    if report.healthy:
        return None
    path = Path(settings.database.path)
    if report.findings:
        first = report.findings[0]
        if first.problem in (Problem.GONE, Problem.PERMISSIONS):
            return db_safety.remedy(first.problem, first.file, settings)
    nothing = report.tables and all(t.readable == 0 for t in report.tables)
    if nothing or (not report.tables and report.integrity):
        return db_safety.remedy(Problem.GONE, path, settings)
    return db_safety.remedy(Problem.DAMAGED, path, settings)


def _check_postgresql(settings: Settings) -> CheckReport:
    report = CheckReport("", "postgresql")
    with BDneXDB(settings=settings) as db:
        report.location = db.location
        report.notes.append(
            "PostgreSQL keeps its pages consistent itself, and bdnex-core makes no backups of it: "
            "the server's backups apply (pg_dump, or its base backups and WAL archive)"
        )
        report.notes.append(f"schema: {len(db.schema_version())} migrations applied")
        for table in sorted(name for name in db.backend.table_names() if not name.startswith("bdnex_schema")):
            table_report = TableReport(table)
            try:
                table_report.readable = int(db.backend.value(f"SELECT COUNT(*) FROM {table}") or 0)
            except DatabaseError as exc:
                table_report.error = exc.reason
            report.tables.append(table_report)
    return report


# --------------------------------------------------------------------------- repair


@dataclass
class RepairReport:
    location: str
    set_aside: list[Path] = field(default_factory=list)
    tables: list[TableReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.location,
            "set_aside": [str(p) for p in self.set_aside],
            "tables": [t.as_dict() for t in self.tables],
            "notes": self.notes,
        }


def repair_database(settings: Settings) -> RepairReport:
    """Keep what can be read (see the module's docstring); the damaged files are set aside, never deleted."""
    if settings.database.backend == "postgresql":
        raise DatabaseError(
            "bdnex-core does not repair a PostgreSQL database: the server keeps it consistent; "
            "restore it with the server's backups (pg_restore)"
        )
    path = Path(settings.database.path)
    report = RepairReport(str(path))
    if _open_elsewhere(path):
        raise DatabaseError("another process has it open: stop it first, then repair", path=path)
    inspection = inspect(path)
    if inspection.shm_set_aside is not None:
        report.set_aside.append(inspection.shm_set_aside)
    for finding in inspection.findings:
        if finding.problem in (Problem.GONE, Problem.PERMISSIONS):
            raise db_safety.DamagedDatabase(finding, db_safety.remedy(finding.problem, finding.file, settings))
    if any(f.problem == Problem.LOG_DAMAGED for f in inspection.findings):
        _keep_the_log_before_its_damage(path, report)
    conn = _open_for_reading(path)
    try:
        sound = not db_safety.quick_check(conn) and not _undecodable_anywhere(conn)
        if sound:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    if sound:
        report.notes.append("the database file itself is sound")
        return report
    _copy_what_can_be_read(path, settings, report)
    return report


def _keep_the_log_before_its_damage(path: Path, report: RepairReport) -> None:
    """A copy of the damaged -wal is kept; a -wal that is no file is set aside; the -shm goes (rebuilt)."""
    wal, shm = companion(path, "-wal"), companion(path, "-shm")
    if wal.is_file() and not wal.is_symlink():
        kept = set_aside(wal)  # kept as it is; SQLite reads the copy left in its place
        shutil.copyfile(kept, wal)
        report.set_aside.append(kept)
    elif wal.exists() or wal.is_symlink():
        report.set_aside.append(set_aside(wal))
    if shm.exists() or shm.is_symlink():
        report.set_aside.append(set_aside(shm))
    report.notes.append("the -wal was damaged: the changes it held before the damage are kept, the rest is lost")


def _undecodable_anywhere(conn: sqlite3.Connection) -> bool:
    for table in _tables(conn):
        table_report = TableReport(table)
        for _row in readable_rows(conn, table, _columns(conn, table), table_report):
            pass
        if table_report.damaged:
            return True
    return False


def _copy_what_can_be_read(path: Path, settings: Settings, report: RepairReport) -> None:
    """Every readable row into a new database built beside, which replaces the damaged one only once
    complete: a repair that fails leaves the damaged database where it was, never an empty one."""
    building = path.with_name(f".{path.name}.repairing")
    for leftover in (building, companion(building, "-wal"), companion(building, "-shm")):
        leftover.unlink(missing_ok=True)
    old = _open_for_reading(path)
    try:
        try:
            old_tables = set(_tables(old))
        except SQLITE_DAMAGE as exc:
            raise DatabaseError(
                f"nothing can be saved: its list of tables is unreadable ({db_safety.describe_damage(exc)}); "
                + db_safety.remedy(Problem.GONE, path, settings),
                path=path,
            ) from None
        with BDneXDB(building, settings=db_safety.settings_for(building, settings), creating=True) as new:
            conn = new.db.conn
            conn.execute("PRAGMA foreign_keys = OFF")
            for table in _tables(conn):
                table_report = TableReport(table)
                report.tables.append(table_report)
                if table in old_tables:
                    with new.write():
                        _copy_table(old, new, table, table_report)
            with new.write():
                if new.backend.table_exists(FULL_TEXT_INDEX):
                    conn.execute(f"INSERT INTO {FULL_TEXT_INDEX}({FULL_TEXT_INDEX}) VALUES ('rebuild')")
                if any(t.damaged for t in report.tables if t.table.startswith("catalogue_")):
                    conn.execute("DELETE FROM catalogue_sitemaps")
                    report.notes.append("catalogue rows were lost: the next `catalogue update` fetches it all again")
            conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        for leftover in (building, companion(building, "-wal"), companion(building, "-shm")):
            leftover.unlink(missing_ok=True)
        raise
    finally:
        old.close()
    report.set_aside.extend(set_aside_database(path, "damaged"))
    os.replace(building, path)


def _copy_table(old: sqlite3.Connection, new: Any, table: str, report: TableReport) -> None:
    """The readable rows of ``table``, column by column name. A row that needs a value the damage took
    (a column whose name in the damaged schema is no longer readable) is refused by the new schema:
    counted as rejected, never invented."""
    conn = new.db.conn
    try:
        present = set(_columns(old, table))
    except SQLITE_DAMAGE as exc:
        report.error = db_safety.describe_damage(exc)
        return
    columns = [column for column in _columns(conn, table) if column in present]
    insert = (
        f"INSERT OR IGNORE INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    conn.execute(f"DELETE FROM [{table}]")  # what the new schema seeded gives way to the old rows
    try:
        conn.executemany(insert, readable_rows(old, table, columns, report))
    except SQLITE_DAMAGE as exc:
        report.error = db_safety.describe_damage(exc)
    stored = conn.execute(f"SELECT COUNT(*) FROM [{table}]").fetchone()[0]
    report.rejected = max(0, report.readable - stored)
