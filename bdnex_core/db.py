"""The bdnex-core database: processed files, album cache, sessions, history, statistics.

Built on sqlite-utils. Every multi-step write runs in one ``BEGIN IMMEDIATE``
transaction (see :meth:`BDneXDB.write`) so that several processes can share a
database: the busy timeout makes them wait for each other instead of failing.
Public names follow the seed design (``BDneXDB``, ``SessionManager``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.db import Table

from bdnex_core import migrations
from bdnex_core.errors import BdnexError, DatabaseError
from bdnex_core.hashing import Fingerprint, canonical_path, sha256_file
from bdnex_core.liveness import process_alive
from bdnex_core.states import FileStatus, HistorySource, SessionFileState, SessionStatus

if TYPE_CHECKING:
    from bdnex_core.config import Settings

E = TypeVar("E", bound=StrEnum)

# the value lists of the enums, for messages and the seed's names
FILE_STATUSES = tuple(FileStatus)
SESSION_STATUSES = tuple(SessionStatus)
SESSION_FILE_STATES = tuple(SessionFileState)
HISTORY_SOURCES = tuple(HistorySource)
# Fields whose changes are written to metadata_history.
TRACKED_FIELDS = ("bdgest_id", "bdgest_url", "title", "series", "volume", "tome", "editor", "year", "isbn", "pages")
# Session columns update_session may change; nothing else is ever put into SQL.
SESSION_UPDATABLE = frozenset(
    {
        "total_files",
        "files_processed",
        "files_successful",
        "files_failed",
        "files_skipped",
        "files_queued",
        "status",
        "log_file_path",
        "json_log_path",
        "csv_log_path",
        "session_end",
        "heartbeat",
        "pid",
        "options",
    }
)
# session_files.state -> the processing_sessions counter that counts it
STATE_COUNTER = {
    SessionFileState.PENDING: None,
    SessionFileState.DONE: "files_successful",
    SessionFileState.FAILED: "files_failed",
    SessionFileState.SKIPPED: "files_skipped",
    SessionFileState.QUEUED: "files_queued",
}
ENDED_STATUSES = frozenset({SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.PAUSED})
DONE_STATUSES = (FileStatus.SUCCESS, FileStatus.MANUAL)
# A running session whose process has given no sign of life for this long is interrupted.
STALE_HEARTBEAT = timedelta(minutes=10)


class DatabaseLocked(DatabaseError):
    """Another process kept the database's write lock longer than the busy timeout."""

    def __init__(self, path: Path | None, busy_ms: int):
        super().__init__(
            f"the database stayed locked by another process for {busy_ms / 1000:g} s; another bdnex-core "
            "run may be writing to it: try again when it is done, or raise database.busy_timeout_ms",
            path=path,
        )


def connect(path: Path | None, busy_ms: int) -> sqlite3.Connection:
    """A connection with the pragmas every connection to a bdnex-core database gets.

    ``isolation_level=None``: no implicit transactions (the driver's would hold a read or a write
    open between statements); writes are explicit, in :meth:`BDneXDB.write`.
    """
    conn = sqlite3.connect(
        ":memory:" if path is None else str(path),
        timeout=busy_ms / 1000.0,
        check_same_thread=False,
        isolation_level=None,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    if path is not None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


SQLITE_BUSY_SNAPSHOT = 517  # sqlite3 names it only from Python 3.13
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _process_write_lock(path: Path | None) -> threading.RLock:
    """The lock every connection of this process to ``path`` takes before writing."""
    if path is None:
        return threading.RLock()  # an in-memory database has one connection
    key = os.path.realpath(path)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    # the extended code's low byte is the primary one (SQLITE_BUSY_SNAPSHOT is a SQLITE_BUSY)
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _member(enum: type[E], value: Any, what: str) -> E:
    """``value`` as a member of ``enum`` (its string form too); a clear error for anything else."""
    try:
        return enum(value)
    except ValueError:
        expected = ", ".join(member.value for member in enum)
        raise BdnexError(f"unknown {what} {value!r} (expected one of {expected})") from None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_db_time(moment: datetime) -> str:
    """SQLite's CURRENT_TIMESTAMP format (UTC), so stored times compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def from_db_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalise_score(score: Any) -> float | None:
    """Scores come as 0..1 (ours) or 0..100 (legacy logs); store 0..1."""
    if score is None or score == "":
        return None
    value = float(score)
    return round(value / 100.0, 4) if value > 1.0 else value


def _inserted_id(table: Table) -> int:
    """The id of the row ``table`` has just inserted (sqlite-utils types it as optional)."""
    if table.last_pk is None:
        raise DatabaseError("the database gave no id for a new row")
    return int(table.last_pk)


@dataclass(frozen=True)
class FileLookup:
    """What the database knows about a file on disk.

    ``state`` is ``new`` (never seen), ``unchanged`` (same size and mtime, or same
    hash), ``changed`` (same path, different content) or ``moved`` (same content
    known under another path that no longer exists).
    """

    state: str
    row: dict[str, Any] | None
    file_hash: str | None
    fingerprint: Fingerprint


class BDneXDB:
    """Main database interface (seed name kept)."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None):
        if db_path is None:
            if settings is None:  # the seed's BDneXDB(): the user's configuration, BDNEX_DB first
                from bdnex_core.config import load_settings

                settings = load_settings()
            db_path = settings.database.path
        self.settings = settings
        self.memory = str(db_path) == ":memory:"
        self.path = Path(db_path) if not self.memory else None
        self.album_ttl = timedelta(days=settings.cache.album_ttl_days if settings else 7)
        busy_ms = settings.database.busy_timeout_ms if settings else 30000
        self.db = self._open(busy_ms)
        self.created = False
        self._prepare()

    # ------------------------------------------------------------------ opening

    def _open(self, busy_ms: int) -> Database:
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the database directory: {exc.strerror}", path=self.path.parent
                ) from None
            if not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise DatabaseError("the database directory is not writable", path=self.path.parent)
            if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
                raise DatabaseError("the database file is not readable and writable", path=self.path)
        try:
            conn = connect(self.path, busy_ms)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot open the database ({exc}); is it a bdnex-core SQLite file?", path=self.path
            ) from None
        self.busy_ms = busy_ms
        self._write_lock = _process_write_lock(self.path)
        return Database(conn)

    def reopen(self) -> BDneXDB:
        """Another ``BDneXDB`` on this file (for another thread), with the same settings."""
        if self.path is None:
            raise DatabaseError("an in-memory database cannot be opened twice")
        return BDneXDB(self.path, settings=self.settings)

    def connect(self) -> sqlite3.Connection:
        """Another connection to this database, with the same pragmas and busy timeout (a reader for
        another thread: it must not write, writes go through :meth:`write` of a ``BDneXDB``)."""
        if self.path is None:
            return self.db.conn
        return connect(self.path, self.busy_ms)

    def _prepare(self) -> None:
        try:
            self.created = not self.db.table("processed_files").exists()
            newer = migrations.unknown_applied(self.db)
            if newer:
                raise DatabaseError(
                    f"made by a newer bdnex-core (schema changes {', '.join(newer)} unknown here); "
                    "upgrade bdnex-core to use it",
                    path=self.path,
                )
            if migrations.migrations.pending(self.db):
                # one transaction: a second process opening a new database waits, then finds it done
                with self.write():
                    migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"the database is unusable ({exc})", path=self.path) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> BDneXDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction taken up front (``BEGIN IMMEDIATE``).

        One writer at a time in this process: every connection of this process to this database
        takes the same lock first, so threads never race each other for SQLite's write lock. Other
        processes are waited for up to the busy timeout, retried here too, since SQLite returns
        "database is locked" at once, without waiting, to a connection that has a read open.
        Nested calls become savepoints. A lock held longer than the timeout is a
        :class:`DatabaseLocked` (exit 3), never a bare ``OperationalError``.
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        deadline = time.monotonic() + self.busy_ms / 1000.0
        if not self._write_lock.acquire(timeout=max(0.0, self.busy_ms / 1000.0)):
            raise DatabaseLocked(self.path, self.busy_ms)
        try:
            self._begin_immediate(conn, deadline)
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if _is_lock_error(exc):
                    raise DatabaseLocked(self.path, self.busy_ms) from None
                raise
        finally:
            self._write_lock.release()

    def _begin_immediate(self, conn: sqlite3.Connection, deadline: float) -> None:
        pause = 0.005
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # a read left open on a connection others wrote since can never write: a bug, not a wait
                if not _is_lock_error(exc) or exc.sqlite_errorcode == SQLITE_BUSY_SNAPSHOT:
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseLocked(self.path, self.busy_ms) from None
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.2)

    def execute_script(self, script: str) -> None:
        """Run a multi-statement script inside the current transaction."""
        migrations.execute_script(self.db, script)

    def schema_version(self) -> list[str]:
        return [migration.name for migration in migrations.migrations.applied(self.db)]

    # ------------------------------------------------------------------ files

    def has_processed_files(self) -> bool:
        return self.db.execute("SELECT EXISTS (SELECT 1 FROM processed_files)").fetchone()[0] == 1

    def get_file_hash(self, file_path: str | os.PathLike[str]) -> str:
        """SHA-256 of a file (seed name)."""
        return sha256_file(file_path)

    def get_file(self, file_path: str | os.PathLike[str]) -> dict[str, Any] | None:
        rows = list(self.db.table("processed_files").rows_where("file_path = ?", [canonical_path(file_path)], limit=1))
        return rows[0] if rows else None

    def lookup_file(self, file_path: str | os.PathLike[str]) -> FileLookup:
        """Classify a file on disk against what is recorded, hashing only when needed."""
        path = canonical_path(file_path)
        fingerprint = Fingerprint.of(path)
        row = self.get_file(path)
        if row and row["file_size"] == fingerprint.size and row["mtime_ns"] == fingerprint.mtime_ns:
            return FileLookup("unchanged", row, row["file_hash"], fingerprint)
        file_hash = sha256_file(path)
        if row:
            state = "unchanged" if row["file_hash"] == file_hash else "changed"
            return FileLookup(state, row, file_hash, fingerprint)
        for candidate in self.db.table("processed_files").rows_where("file_hash = ?", [file_hash]):
            if not os.path.exists(candidate["file_path"]):
                return FileLookup("moved", candidate, file_hash, fingerprint)
        return FileLookup("new", None, file_hash, fingerprint)

    def is_processed(self, file_path: str | os.PathLike[str], force_check: bool = False) -> bool:
        """True when the file was processed successfully and has not changed since.

        A file moved or renamed (same content) counts as processed: its record
        follows it (see :meth:`record_move`). ``force_check`` re-hashes even when
        size and mtime match.
        """
        path = canonical_path(file_path)
        if not os.path.exists(path):
            row = self.get_file(path)
            return bool(row and row["status"] in DONE_STATUSES)
        lookup = self.lookup_file(path)
        if force_check and lookup.row and lookup.state == "unchanged" and sha256_file(path) != lookup.row["file_hash"]:
            return False
        if lookup.state == "moved" and lookup.row:
            self.record_move(lookup.row["file_path"], path, lookup.fingerprint)
        elif lookup.state == "unchanged" and lookup.row and lookup.row["mtime_ns"] != lookup.fingerprint.mtime_ns:
            with self.write():
                self.db.table("processed_files").update(
                    lookup.row["id"], {"mtime_ns": lookup.fingerprint.mtime_ns, "file_size": lookup.fingerprint.size}
                )
        return bool(lookup.row and lookup.state in ("unchanged", "moved") and lookup.row["status"] in DONE_STATUSES)

    def record_move(
        self, old_path: str, new_path: str | os.PathLike[str], fingerprint: Fingerprint | None = None
    ) -> None:
        """The file at ``old_path`` now lives at ``new_path``: its row and history follow it."""
        new = canonical_path(new_path)
        fingerprint = fingerprint or Fingerprint.of(new)
        with self.write():
            # plain statements: renaming a thousand files calls this a thousand times
            found = self.db.execute("SELECT id FROM processed_files WHERE file_path = ?", [old_path]).fetchone()
            if found is None:
                return
            self.db.execute(
                "UPDATE processed_files SET file_path = ?, mtime_ns = ?, file_size = ?, updated_date = ? WHERE id = ?",
                [new, fingerprint.mtime_ns, fingerprint.size, to_db_time(utcnow()), found[0]],
            )
            self.db.execute(
                "INSERT INTO metadata_history (file_id, field, old_value, new_value, source) VALUES (?, ?, ?, ?, ?)",
                [found[0], "file_path", old_path, new, HistorySource.AUTO],
            )

    def record_processing(
        self,
        file_path: str | os.PathLike[str],
        session_id: int | None,
        result: Mapping[str, Any],
        *,
        source: str = HistorySource.AUTO,
    ) -> int:
        """Record (insert or update) a processed file; return its id.

        Re-processing a file updates its row and writes one ``metadata_history``
        row per changed field, with ``source`` ``auto``, ``manual`` or ``api``.
        ``result`` uses the seed's keys (``editor`` and ``publisher`` are both
        accepted; ``score`` may be 0..1 or 0..100).
        """
        source = _member(HistorySource, source, "history source")
        status = _member(FileStatus, result.get("status", FileStatus.SUCCESS), "file status")
        path = canonical_path(file_path)
        values = self._file_values(path, session_id, result, status)
        with self.write():
            existing = self.get_file(path)
            table = self.db.table("processed_files")
            if existing is None:
                file_id = _inserted_id(table.insert(values))
                previous: Mapping[str, Any] = {}
            else:
                file_id = existing["id"]
                values["updated_date"] = to_db_time(utcnow())
                table.update(file_id, values)
                previous = existing
            history = [
                {
                    "file_id": file_id,
                    "field": field,
                    "old_value": None if previous.get(field) is None else str(previous.get(field)),
                    "new_value": None if values.get(field) is None else str(values.get(field)),
                    "source": source,
                }
                for field in TRACKED_FIELDS
                if field in values
                and values[field] != previous.get(field)
                and not (previous.get(field) is None and values[field] is None)
            ]
            if history:
                self.db.table("metadata_history").insert_all(history)
        return int(file_id)

    @staticmethod
    def _file_values(path: str, session_id: int | None, result: Mapping[str, Any], status: str) -> dict[str, Any]:
        file_hash = result.get("file_hash")
        size, mtime_ns = result.get("file_size"), result.get("mtime_ns")
        if os.path.isfile(path):  # a regular file: a FIFO or a device would never finish hashing
            fingerprint = Fingerprint.of(path)
            size = fingerprint.size if size is None else size
            mtime_ns = fingerprint.mtime_ns if mtime_ns is None else mtime_ns
            file_hash = file_hash or sha256_file(path)
        tome = result.get("tome")
        volume = result.get("volume")
        if volume is None and tome is not None and str(tome).isdigit():
            volume = int(tome)
        values: dict[str, Any] = {
            "file_path": path,
            "file_hash": file_hash or "",
            "file_size": size,
            "mtime_ns": mtime_ns,
            "last_modified": to_db_time(datetime.fromtimestamp(mtime_ns / 1e9, UTC)) if mtime_ns else None,
            "processed_date": to_db_time(utcnow()),
            "bdgest_id": result.get("bdgest_id"),
            "bdgest_url": result.get("bdgest_url"),
            "confidence_score": normalise_score(result.get("confidence_score", result.get("score"))),
            "title": result.get("title"),
            "series": result.get("series"),
            "volume": volume,
            "tome": None if tome is None else str(tome),
            # the seed's prototype never matched the editor: it was spelled two ways
            "editor": result.get("editor", result.get("publisher")),
            "year": result.get("year"),
            "isbn": result.get("isbn"),
            "pages": result.get("pages"),
            "status": status,
            "error_msg": result.get("error_msg", result.get("error")),
            "has_metadata": bool(result.get("has_metadata", False)),
            "metadata_hash": result.get("metadata_hash"),
            "session_id": session_id,
            "processing_time_ms": result.get("processing_time_ms"),
            "decision": result.get("decision"),
            "source": result.get("source", "folder"),
            "external_id": result.get("external_id"),
        }
        return values

    def get_processed_files(
        self,
        status: str | None = None,
        series: str | None = None,
        limit: int = 100,
        *,
        session_id: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Processed files, filtered by status, series and session, a page at a time."""
        clauses, params = [], []
        for column, value in (("status", status), ("series", series), ("session_id", session_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return list(
            self.db.table("processed_files").rows_where(
                " AND ".join(clauses) or None, params, order_by="id", limit=limit, offset=offset
            )
        )

    def get_history(self, file_id: int) -> list[dict[str, Any]]:
        return list(self.db.table("metadata_history").rows_where("file_id = ?", [file_id], order_by="id"))

    # ------------------------------------------------------------------ album cache

    def cache_album(
        self, album_data: Mapping[str, Any] | Any, *, ttl: timedelta | None = None, now: datetime | None = None
    ) -> None:
        """Cache a parsed album (an ``Album`` or its dict) for the configured TTL."""
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
            "cache_valid_until": to_db_time(moment + (ttl or self.album_ttl)),
            "metadata": json.dumps(data, ensure_ascii=False),
        }
        with self.write():
            if row["url"]:
                # the same url under an old id (renumbered album) would break the UNIQUE constraint
                self.db.execute("DELETE FROM bdgest_albums WHERE url = ? AND id != ?", [row["url"], row["id"]])
            self.db.table("bdgest_albums").upsert(row, pk="id")

    def get_cached_album(self, bdgest_id: int, *, now: datetime | None = None) -> dict[str, Any] | None:
        """The cached album if still valid, else ``None``."""
        row = self.db.execute(
            # as times, not text: a row written as ISO with a "T" still compares right
            "SELECT metadata FROM bdgest_albums WHERE id = ? AND julianday(cache_valid_until) > julianday(?)",
            [int(bdgest_id), to_db_time(now or utcnow())],
        ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def purge_expired_albums(self, *, now: datetime | None = None) -> int:
        with self.write():
            cursor = self.db.execute(
                "DELETE FROM bdgest_albums WHERE julianday(cache_valid_until) <= julianday(?)",
                [to_db_time(now or utcnow())],
            )
        return cursor.rowcount

    # ------------------------------------------------------------------ sessions

    def start_session(
        self,
        directory: str,
        batch_mode: bool = True,
        strict_mode: bool = False,
        num_workers: int = 4,
        *,
        options: Mapping[str, Any] | None = None,
        source: str = "folder",
        pattern: str | None = None,
    ) -> int:
        """Start a new processing session owned by this process; return its id. ``pattern``: the
        globs of the file names taken, ``|``-separated (the column's default when ``None``)."""
        now = to_db_time(utcnow())
        with self.write():
            return _inserted_id(
                self.db.table("processing_sessions").insert(
                    {
                        "session_start": now,
                        "directory": directory,
                        "batch_mode": batch_mode,
                        "strict_mode": strict_mode,
                        "num_workers": num_workers,
                        "status": SessionStatus.RUNNING,
                        "options": json.dumps(dict(options or {}), ensure_ascii=False),
                        "pid": os.getpid(),
                        "heartbeat": now,
                        "source": source,
                        **({"pattern": pattern} if pattern else {}),
                    }
                )
            )

    def update_session(self, session_id: int, **fields: Any) -> None:
        """Update whitelisted session fields. Unknown names are refused, never put into SQL."""
        unknown = set(fields) - SESSION_UPDATABLE
        if unknown:
            raise BdnexError(f"cannot update session field(s): {', '.join(sorted(unknown))}")
        values = dict(fields)
        if "status" in values:
            values["status"] = _member(SessionStatus, values["status"], "session status")
        if isinstance(values.get("options"), Mapping):
            values["options"] = json.dumps(values["options"], ensure_ascii=False)
        if values.get("status") in ENDED_STATUSES and "session_end" not in values:
            values["session_end"] = to_db_time(utcnow())
        if values.get("status") == SessionStatus.RUNNING:
            values.setdefault("session_end", None)
        if not values:
            return
        with self.write():
            if not self.db.table("processing_sessions").count_where("id = ?", [session_id]):
                raise BdnexError(f"no session {session_id}")
            self.db.table("processing_sessions").update(session_id, values)

    def add_session_files(
        self,
        session_id: int,
        files: Iterable[str | os.PathLike[str] | tuple[Any, ...]],
        *,
        unchanged: int = 0,
    ) -> int:
        """Register the files a session will process, in order: paths, or tuples (path, item key,
        first state, the item's record as :meth:`LibraryItem.to_record` gives it).
        ``unchanged`` files (processed before, not modified since) are only counted: a re-scan of a
        large library must not write a row per file. Returns how many files are new."""
        with self.write():
            if unchanged:
                self.db.execute(
                    "UPDATE processing_sessions SET files_unchanged = COALESCE(files_unchanged, 0) + ? WHERE id = ?",
                    [unchanged, session_id],
                )
            start = self.db.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM session_files WHERE session_id = ?", [session_id]
            ).fetchall()[0][0]
            now = to_db_time(utcnow())
            rows = []
            for offset, entry in enumerate(files):
                if isinstance(entry, tuple):
                    file_path, item_key, state, record = (*entry, SessionFileState.PENDING, None, None)[:4]
                else:
                    file_path, item_key, state, record = canonical_path(entry), None, SessionFileState.PENDING, None
                item = None if record is None else json.dumps(record, ensure_ascii=False, default=str)
                rows.append((session_id, start + offset, str(file_path), item_key or str(file_path), state, now, item))
            cursor = self.db.conn.executemany(
                "INSERT OR IGNORE INTO session_files "
                "(session_id, position, file_path, item_key, state, updated_at, item) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = cursor.rowcount
            self._refresh_counters(session_id)
        return added

    def mark_session_file(
        self,
        session_id: int,
        item_key: str,
        state: str,
        *,
        file_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome of one file of a session and keep the counters in step (O(1))."""
        state = _member(SessionFileState, state, "session file state")
        with self.write():
            previous = self.db.execute(
                "SELECT state FROM session_files WHERE session_id = ? AND item_key = ?", [session_id, item_key]
            ).fetchall()
            if not previous:
                return
            # who recorded it: the workers of a session (`sessions info`) outlive their released claims
            worker = (None, None) if state == SessionFileState.PENDING else (os.getpid(), socket.gethostname())
            self.db.execute(
                "UPDATE session_files SET state = ?, file_id = COALESCE(?, file_id), error_msg = ?, updated_at = ?, "
                "worker_pid = ?, worker_host = ? WHERE session_id = ? AND item_key = ?",
                [state, file_id, error, to_db_time(utcnow()), *worker, session_id, item_key],
            )
            old = SessionFileState(previous[0][0])
            if old != state:
                changes = [
                    f"{column} = {column} {sign} 1"
                    for column, sign in ((STATE_COUNTER[old], "-"), (STATE_COUNTER[state], "+"))
                    if column
                ]
                if old == SessionFileState.PENDING:
                    changes.append("files_processed = files_processed + 1")
                elif state == SessionFileState.PENDING:
                    changes.append("files_processed = files_processed - 1")
                # column names come from STATE_COUNTER only, never from input
                self.db.execute(
                    f"UPDATE processing_sessions SET {', '.join(changes)}, heartbeat = ? WHERE id = ?",
                    [to_db_time(utcnow()), session_id],
                )

    def _refresh_counters(self, session_id: int) -> None:
        """Session counters are derived from its files, so they always match them."""
        counts = dict(
            self.db.execute(
                "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", [session_id]
            ).fetchall()
        )
        unchanged = self.db.execute(
            "SELECT COALESCE(files_unchanged, 0) FROM processing_sessions WHERE id = ?", [session_id]
        ).fetchall()[0][0]
        total = sum(counts.values()) + unchanged
        self.db.table("processing_sessions").update(
            session_id,
            {
                "total_files": total,
                "files_processed": total - counts.get(SessionFileState.PENDING, 0),
                "files_successful": counts.get(SessionFileState.DONE, 0),
                "files_failed": counts.get(SessionFileState.FAILED, 0),
                "files_skipped": counts.get(SessionFileState.SKIPPED, 0) + unchanged,
                "files_queued": counts.get(SessionFileState.QUEUED, 0),
                "heartbeat": to_db_time(utcnow()),
            },
        )

    def session_files(self, session_id: int, state: str | None = None) -> list[dict[str, Any]]:
        where = "session_id = ?"
        params: list[object] = [session_id]
        if state is not None:
            where += " AND state = ?"
            params.append(state)
        return list(self.db.table("session_files").rows_where(where, params, order_by="position"))

    def get_session(self, session_id: int) -> dict[str, Any] | None:
        rows = list(self.db.table("processing_sessions").rows_where("id = ?", [session_id]))
        return self._with_liveness(rows[0]) if rows else None

    def _with_liveness(self, row: dict[str, Any]) -> dict[str, Any]:
        """Add ``interrupted``: a running session whose process died or went silent."""
        row = dict(row)
        row["options"] = json.loads(row["options"]) if row.get("options") else {}
        interrupted = False
        if row.get("status") == SessionStatus.RUNNING:
            heartbeat = from_db_time(row.get("heartbeat"))
            same_host_dead = row.get("pid") and not process_alive(row["pid"])
            stale = heartbeat is None or utcnow() - heartbeat > STALE_HEARTBEAT
            interrupted = bool(same_host_dead or stale)
        row["interrupted"] = interrupted
        return row

    def get_session_stats(self, session_id: int) -> dict[str, Any]:
        """A session with its counters, duration and failures (``{}`` if unknown)."""
        session = self.get_session(session_id)
        if session is None:
            return {}
        start, end = from_db_time(session["session_start"]), from_db_time(session["session_end"])
        reference = end or (
            utcnow()
            if session["status"] == SessionStatus.RUNNING and not session["interrupted"]
            else from_db_time(session.get("heartbeat"))
        )
        session["duration_seconds"] = (reference - start).total_seconds() if start and reference else None
        session["remaining"] = self.db.table("session_files").count_where(
            "session_id = ? AND state = 'pending'", [session_id]
        )
        session["failures"] = [
            {"file_path": row["file_path"], "error": row["error_msg"]}
            for row in self.session_files(session_id, SessionFileState.FAILED)
        ]
        session["display_status"] = "interrupted" if session["interrupted"] else session["status"]
        return session

    def list_sessions(self, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.table("processing_sessions").rows_where(
            "status = ?" if status else None, [status] if status else [], order_by="id desc", limit=limit
        )
        sessions = [self._with_liveness(row) for row in rows]
        for session in sessions:
            session["display_status"] = "interrupted" if session["interrupted"] else session["status"]
        return sessions

    def interrupted_sessions(self) -> list[dict[str, Any]]:
        return [
            session
            for session in self.list_sessions(limit=1000, status=SessionStatus.RUNNING)
            if session["interrupted"]
        ]

    def heartbeat(self, session_id: int) -> None:
        with self.write():
            self.db.table("processing_sessions").update(session_id, {"heartbeat": to_db_time(utcnow())})

    # ------------------------------------------------------------------ file claims

    def claim_file(self, session_id: int, item_key: str) -> dict[str, Any] | None:
        """Claim ``item_key`` for ``session_id``; ``None`` when the claim is ours, else the live
        claim of another run (its row). Claims of dead or silent owners are taken over."""
        now = utcnow()
        with self.write():
            for claim in list(self.db.table("file_claims").rows_where("item_key = ?", [item_key])):
                if claim["session_id"] != session_id and not self._claim_expired(claim, now):
                    return claim
            self.db.execute(
                "INSERT INTO file_claims (item_key, session_id, pid, host, claimed_at, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(item_key) DO UPDATE SET session_id = excluded.session_id, "
                "pid = excluded.pid, host = excluded.host, claimed_at = excluded.claimed_at, "
                "heartbeat = excluded.heartbeat",
                [item_key, session_id, os.getpid(), socket.gethostname(), to_db_time(now), to_db_time(now)],
            )
        return None

    @staticmethod
    def _claim_expired(claim: Mapping[str, Any], now: datetime) -> bool:
        heartbeat = from_db_time(claim["heartbeat"])
        dead_here = claim["host"] == socket.gethostname() and not process_alive(claim["pid"])
        return dead_here or heartbeat is None or now - heartbeat > STALE_HEARTBEAT

    def release_claims(self, session_id: int, item_keys: Iterable[str] | None = None) -> None:
        """Give up claims of ``session_id`` (all of them, or those of ``item_keys``)."""
        with self.write():
            if item_keys is None:
                self.db.execute("DELETE FROM file_claims WHERE session_id = ?", [session_id])
            else:
                self.db.conn.executemany(
                    "DELETE FROM file_claims WHERE session_id = ? AND item_key = ?",
                    [(session_id, key) for key in item_keys],
                )

    def refresh_claims(self, session_id: int) -> None:
        """The owner is alive: its claims stay valid (called as results are recorded)."""
        with self.write():
            self.db.execute(
                "UPDATE file_claims SET heartbeat = ? WHERE session_id = ?", [to_db_time(utcnow()), session_id]
            )

    # ------------------------------------------------------------------ review queue

    def queue_for_review(
        self,
        file_path: str,
        item_key: str,
        session_id: int | None,
        parsed: Mapping[str, Any],
        candidates: Sequence[Mapping[str, Any]],
        item: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue a file whose match needs a person; one pending entry per item."""
        with self.write():
            self.db.execute("DELETE FROM review_queue WHERE item_key = ? AND status = 'pending'", [item_key])
            return _inserted_id(
                self.db.table("review_queue").insert(
                    {
                        "file_path": file_path,
                        "item_key": item_key,
                        "session_id": session_id,
                        "parsed": json.dumps(dict(parsed), ensure_ascii=False, default=str),
                        "candidates": json.dumps(list(candidates), ensure_ascii=False, default=str),
                        "item": None if item is None else json.dumps(dict(item), ensure_ascii=False, default=str),
                        "status": "pending",
                        "created_at": to_db_time(utcnow()),
                    }
                )
            )

    def pending_reviews(self, limit: int | None = None) -> list[dict[str, Any]]:
        rows = self.db.table("review_queue").rows_where("status = 'pending'", order_by="id", limit=limit)
        return [
            {
                **row,
                "parsed": json.loads(row["parsed"] or "{}"),
                "candidates": json.loads(row["candidates"] or "[]"),
                "item": json.loads(row["item"]) if row.get("item") else None,
            }
            for row in rows
        ]

    def resolve_review(self, review_id: int, *, album_id: int | None, status: str = "resolved") -> None:
        if status not in ("resolved", "skipped"):
            raise BdnexError(f"unknown review status {status!r}")
        with self.write():
            self.db.table("review_queue").update(
                review_id, {"status": status, "chosen_album_id": album_id, "resolved_at": to_db_time(utcnow())}
            )

    # ------------------------------------------------------------------ plugin state

    def get_plugin_state(self, plugin: str, key: str, default: Any = None) -> Any:
        """A JSON value a plugin stored with :meth:`set_plugin_state` (``default`` when absent)."""
        row = self.db.execute("SELECT value FROM plugin_state WHERE plugin = ? AND key = ?", [plugin, key]).fetchone()
        return default if row is None else json.loads(row[0])

    def set_plugin_state(self, plugin: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` for ``plugin`` under ``key`` (replacing the old one)."""
        with self.write() as db:
            db.table("plugin_state").upsert(
                {
                    "plugin": plugin,
                    "key": key,
                    "value": json.dumps(value, ensure_ascii=False),
                    "updated_at": to_db_time(utcnow()),
                },
                pk=("plugin", "key"),
            )

    # ------------------------------------------------------------------ statistics

    def get_statistics(self) -> dict[str, Any]:
        """Library statistics computed from the processed files."""
        row = self.db.execute(
            """
            SELECT
              COUNT(*) FILTER (WHERE status IN ('success', 'manual')),
              COUNT(DISTINCT series) FILTER (WHERE status IN ('success', 'manual')),
              COUNT(DISTINCT editor) FILTER (WHERE status IN ('success', 'manual')),
              CAST(AVG(pages) FILTER (WHERE status IN ('success', 'manual')) AS INTEGER),
              CAST(AVG(processing_time_ms) AS INTEGER),
              COUNT(*) FILTER (WHERE status = 'failed')
            FROM processed_files
            """
        ).fetchone()
        by_status = dict(self.db.execute("SELECT status, COUNT(*) FROM processed_files GROUP BY status").fetchall())
        return {
            "total_files": row[0],
            "total_series": row[1],
            "total_editors": row[2],
            "avg_pages": row[3],
            "avg_processing_time_ms": row[4],
            "files_failed": row[5],
            "files_pending_review": self.db.table("review_queue").count_where("status = 'pending'"),
            "total_sessions": self.db.table("processing_sessions").count,
            "by_status": by_status,
            "albums_cached": self.db.table("bdgest_albums").count,
        }

    def snapshot_statistics(self, day: date | None = None) -> dict[str, Any]:
        """Store today's statistics (one row per day; a later snapshot replaces it)."""
        stats = self.get_statistics()
        columns = (
            "total_files",
            "total_series",
            "total_editors",
            "avg_pages",
            "avg_processing_time_ms",
            "files_failed",
            "files_pending_review",
            "total_sessions",
        )
        values = [(day or datetime.now(UTC).date()).isoformat(), *(stats[name] for name in columns)]
        with self.write():
            self.db.execute(
                f"INSERT INTO statistics (date, {', '.join(columns)}) VALUES ({', '.join('?' * len(values))}) "
                f"ON CONFLICT(date) DO UPDATE SET {', '.join(f'{name} = excluded.{name}' for name in columns)}",
                values,
            )
        return stats

    def statistics_history(self, limit: int = 30) -> list[dict[str, Any]]:
        return list(self.db.table("statistics").rows_where(order_by="date desc", limit=limit))


class SessionManager:
    """Resume and list processing sessions (seed name kept)."""

    def __init__(self, db: BDneXDB):
        self.db = db

    def remaining_files(self, session_id: int) -> list[dict[str, Any]]:
        """The files of the session that are not done yet, in their original order."""
        return self.db.session_files(session_id, SessionFileState.PENDING)

    def resume_session(self, session_id: int) -> list[dict[str, Any]]:
        """Take over an interrupted or paused session; return exactly the files left.

        Raises :class:`BdnexError` when the session does not exist, is complete,
        or is still running in a live process.
        """
        session = self.db.get_session(session_id)
        if session is None:
            raise BdnexError(f"no session {session_id}")
        if (
            session["status"] == SessionStatus.RUNNING
            and not session["interrupted"]
            and session.get("pid") != os.getpid()
        ):
            raise BdnexError(f"session {session_id} is still running (pid {session['pid']})")
        if session["status"] == SessionStatus.COMPLETED:
            raise BdnexError(f"session {session_id} is already completed")
        self.db.update_session(
            session_id, status=SessionStatus.RUNNING, pid=os.getpid(), heartbeat=to_db_time(utcnow())
        )
        return self.remaining_files(session_id)

    def list_sessions(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.list_sessions(limit=limit)
