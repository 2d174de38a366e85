"""The bdnex-core database: one door to processed files, album cache, sessions, history, statistics.

:class:`BDneXDB` opens the database (an SQLite file, the embedded default, or a PostgreSQL database with
``database.backend: postgresql``, shared by several machines), checks and migrates its schema, and hands
out the stores of :mod:`bdnex_core.store`, one per concern, each over the same backend connection:
``db.files``, ``db.sessions``, ``db.reviews``, ``db.albums``, ``db.plugin_state``, ``db.statistics``,
``db.catalogue``... The SQL lives in the stores; this module forwards nothing to them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.config import load_settings
from bdnex_core.errors import BdnexError, DatabaseError
from bdnex_core.hashing import sha256_file
from bdnex_core.paths import logs_folder_for
from bdnex_core.states import SessionFileState, SessionStatus
from bdnex_core.store import db_safety, migrations
from bdnex_core.store.albums import AlbumCache
from bdnex_core.store.archive_journal import ArchiveJournalStore
from bdnex_core.store.backend import (
    POSTGRESQL,
    RECONNECT_SECONDS,
    Backend,
    DatabaseLocked,
    PostgresBackend,
    SQLiteBackend,
    connect_sqlite,
)
from bdnex_core.store.backups import BackupStore
from bdnex_core.store.catalogue import CatalogueStore
from bdnex_core.store.common import (
    DONE_STATUSES,
    FILE_STATUSES,
    HISTORY_SOURCES,
    SESSION_FILE_STATES,
    SESSION_STATUSES,
    STALE_HEARTBEAT,
    from_db_time,
    normalise_score,
    to_db_time,
    utcnow,
)
from bdnex_core.store.covers import CoverStore
from bdnex_core.store.files import TRACKED_FIELDS, FileLookup, FileStore
from bdnex_core.store.library import LibraryStore
from bdnex_core.store.moves import MoveStore
from bdnex_core.store.plugin_state import PluginStateStore
from bdnex_core.store.postgres import schema
from bdnex_core.store.postgres.connection import is_postgresql_url, one_line, psycopg_privilege_errors
from bdnex_core.store.request_slots import RequestSlotStore
from bdnex_core.store.reviews import ReviewStore
from bdnex_core.store.series import SeriesStore
from bdnex_core.store.sessions import ENDED_STATUSES, SESSION_UPDATABLE, STATE_COUNTER, SessionStore
from bdnex_core.store.sqlite_files import SQLITE_DAMAGE, Inspection
from bdnex_core.store.statistics import StatisticsStore

if TYPE_CHECKING:
    from sqlite_utils import Database

    from bdnex_core.config import Settings

__all__ = [
    "DONE_STATUSES",
    "ENDED_STATUSES",
    "FILE_STATUSES",
    "HISTORY_SOURCES",
    "SESSION_FILE_STATES",
    "SESSION_STATUSES",
    "SESSION_UPDATABLE",
    "STALE_HEARTBEAT",
    "STATE_COUNTER",
    "TRACKED_FIELDS",
    "BDneXDB",
    "DatabaseLocked",
    "FileLookup",
    "SessionManager",
    "connect_sqlite",
    "from_db_time",
    "normalise_score",
    "sha256_file",
    "to_db_time",
    "utcnow",
]


class BDneXDB:
    """The database, opened and migrated; its stores do the reading and writing (seed name kept).

    ``db_path``: an SQLite file, ``":memory:"`` or a ``postgresql://`` URL; by default the
    configured database (``database.path``, or ``database.url`` with ``backend: postgresql``).
    ``schema_ready``: another connection to a database already opened here (:meth:`reopen`), whose
    schema needs no check. ``creating``: a missing SQLite file is made anew on purpose, even where signs
    say a database existed (``db reset``, ``db repair``; see :mod:`bdnex_core.store.db_safety`).
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        settings: Settings | None = None,
        schema_ready: bool = False,
        creating: bool = False,
    ):
        if db_path is None:
            if settings is None:  # the seed's BDneXDB(): the user's configuration, BDNEX_DB first
                settings = load_settings()
            database = settings.database
            db_path = database.url if database.backend == POSTGRESQL and database.url else database.path
        self.settings = settings
        location = os.fspath(db_path)
        self.url = location if is_postgresql_url(location) else None
        self.memory = location == ":memory:"
        self.path = Path(location) if not self.memory and self.url is None else None
        self.album_ttl = timedelta(days=settings.cache.album_ttl_days if settings else 7)
        self.series_ttl = timedelta(days=settings.cache.series_ttl_days if settings else 7)
        self.busy_ms = settings.database.busy_timeout_ms if settings else 30000
        self._inspection: Inspection | None = None
        self.reconnect_seconds = settings.database.reconnect_seconds if settings else RECONNECT_SECONDS
        self.backend: Backend = self._open(check=not schema_ready, creating=creating, patient=schema_ready)
        self.dialect = self.backend.dialect
        self.created = False
        if not schema_ready:
            try:
                self._prepare()
            except BaseException:
                self.backend.close()
                raise
        backend = self.backend
        self.files = FileStore(backend)
        self.albums = AlbumCache(backend, self.album_ttl)
        self.series = SeriesStore(backend, self.series_ttl)
        self.sessions = SessionStore(backend)
        self.reviews = ReviewStore(backend)
        self.plugin_state = PluginStateStore(backend)
        self.statistics = StatisticsStore(backend)
        self.catalogue = CatalogueStore(backend)
        self.library = LibraryStore(backend)
        self.request_slots = RequestSlotStore(backend)
        self.moves = MoveStore(backend)
        self.backups = BackupStore(backend)
        self.covers = CoverStore(backend)
        self.archive_journal = ArchiveJournalStore(backend)
        if not schema_ready:
            self.finish_interrupted_writes()

    # ------------------------------------------------------------------ opening

    def finish_interrupted_writes(self) -> None:
        """Take back every in-place archive write a crash interrupted (its writer is dead): each
        archive is its original again, as this database, which never recorded the write, says.
        Done by every opening of a database (not by :meth:`reopen`, the same process's threads)."""
        if self.archive_journal.is_empty():
            return
        # lazy: the archive readers and writers, for the rare opening that has a write to take back
        from bdnex_core.archives.journal import take_back_interrupted

        take_back_interrupted(self.archive_journal)

    def _open(self, *, check: bool, creating: bool, patient: bool = False) -> Backend:
        if self.url is not None:
            # ``patient``: another connection of a run under way, whose server may be restarting
            return PostgresBackend(self.url, reconnect_seconds=self.reconnect_seconds, patient=patient)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the database directory: {exc.strerror}", path=self.path.parent
                ) from None
            if not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise DatabaseError("the database directory is not writable", path=self.path.parent)
            if check:  # damaged files, and a vanished database, are named with their fix
                logs = logs_folder_for(self.settings.pipeline.logs_dir, self.path) if self.settings else None
                self._inspection = db_safety.before_open(self.path, self.settings, logs, creating=creating)
        try:
            return SQLiteBackend(self.path, self.busy_ms, settings=self.settings)
        except SQLITE_DAMAGE as exc:
            damage = db_safety.damage_error(exc, self.path, self.settings)
            if damage is not None:
                raise damage from None
            raise DatabaseError(
                f"cannot open the database ({exc}); is it a bdnex-core SQLite file?", path=self.path
            ) from None

    @property
    def location(self) -> str:
        """The database for messages: its path, or its URL with the password masked."""
        return self.backend.location

    @property
    def identity(self) -> str:
        """The same text for every connection to this database (a key for per-database state)."""
        return self.url if self.url is not None else os.path.realpath(self.path or ":memory:")

    @property
    def db(self) -> Database:
        """sqlite-utils over the SQLite connection (the migrations and the SQLite-only features)."""
        if not isinstance(self.backend, SQLiteBackend):
            raise DatabaseError("this needs an SQLite database (database.backend: sqlite)", path=self.location)
        return self.backend.database

    def reopen(self) -> BDneXDB:
        """Another ``BDneXDB`` on this database (for another thread), with the same settings."""
        if self.memory:
            raise DatabaseError("an in-memory database cannot be opened twice")
        # the schema was checked and migrated when this one opened: every worker thread and matcher
        # reader opens another, and on PostgreSQL a migration check is a locked transaction
        return BDneXDB(self.url or self.path or "", settings=self.settings, schema_ready=True)

    def _prepare(self) -> None:
        if isinstance(self.backend, PostgresBackend):
            self._prepare_postgresql(self.backend)
            return
        backend = self.backend
        assert isinstance(backend, SQLiteBackend)
        conn = backend.conn
        try:
            if self.path is not None:  # after an unclean stop: PRAGMA quick_check first
                db_safety.after_open(conn, self.path, self._inspection, self.settings)
            self.created = not backend.table_exists("processed_files")
            newer = migrations.unknown_applied(conn)
            if newer:
                raise DatabaseError(
                    f"made by a newer bdnex-core (schema changes {', '.join(newer)} unknown here); "
                    "upgrade bdnex-core to use it",
                    path=self.path,
                )
            if migrations.migrations.pending(conn):
                if self.path is not None and not self.created:  # checked and backed up before it changes
                    db_safety.before_migration(conn, self.path, self.settings)
                # one transaction: a second process opening a new database waits, then finds it done
                with self.write():
                    migrations.apply(self.db)
        except SQLITE_DAMAGE as exc:
            damage = db_safety.damage_error(exc, self.path, self.settings)
            if damage is not None:
                raise damage from None
            raise DatabaseError(f"the database is unusable ({exc})", path=self.path) from None

    def _prepare_postgresql(self, backend: PostgresBackend) -> None:
        self.created = not backend.table_exists("processed_files")
        applied = schema.applied_versions(backend.conn)
        newer = sorted(set(applied) - {m.version for m in schema.MIGRATIONS})
        if newer:
            raise DatabaseError(
                f"made by a newer bdnex-core (schema versions {', '.join(map(str, newer))} unknown here); "
                "upgrade bdnex-core to use it",
                path=self.location,
            )
        if {migration.version for migration in schema.MIGRATIONS} <= set(applied):
            return  # up to date: nothing to write (a role that may only read opens it too)
        try:
            with backend.write():
                schema.migrate(backend.conn)
        except psycopg_privilege_errors() as exc:
            raise DatabaseError(
                f"its schema needs upgrading and this role may not change it ({one_line(exc)}); "
                "run bdnex-core once with the role that owns the database",
                path=self.location,
            ) from None

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> BDneXDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[Backend]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``, waiting for other processes up to the
        busy timeout); nested calls join it. See :meth:`SQLiteBackend.write`."""
        with self.backend.write() as backend:
            yield backend

    def execute_script(self, script: str) -> None:
        """Run a multi-statement SQLite script inside the current transaction."""
        migrations.execute_script(self.db, script)

    def schema_version(self) -> list[str]:
        if isinstance(self.backend, PostgresBackend):
            names = {m.version: m.name for m in schema.MIGRATIONS}
            return [names.get(version, str(version)) for version in schema.applied_versions(self.backend.conn)]
        assert isinstance(self.backend, SQLiteBackend)
        return migrations.migrations.applied(self.backend.conn)


class SessionManager:
    """Resume and list processing sessions (seed name kept)."""

    def __init__(self, db: BDneXDB):
        self.db = db

    def remaining_files(self, session_id: int) -> list[dict[str, Any]]:
        """The files of the session that are not done yet, in their original order."""
        return self.db.sessions.files(session_id, SessionFileState.PENDING)

    def resume_session(self, session_id: int) -> list[dict[str, Any]]:
        """Take over an interrupted or paused session; return exactly the files left.

        Raises :class:`BdnexError` when the session does not exist, is complete,
        or is still running in a live process.
        """
        session = self.db.sessions.get(session_id)
        if session is None:
            raise BdnexError(f"no session {session_id}")
        if (
            session["status"] == SessionStatus.RUNNING
            and not session["interrupted"]
            and (session.get("pid"), session.get("host") or socket.gethostname()) != (os.getpid(), socket.gethostname())
        ):
            where = f" on {session['host']}" if session.get("host") not in (None, socket.gethostname()) else ""
            raise BdnexError(f"session {session_id} is still running (pid {session['pid']}{where})")
        if session["status"] == SessionStatus.COMPLETED:
            raise BdnexError(f"session {session_id} is already completed")
        if not session.get("files_unchanged") and not self.db.sessions.has_files(session_id):
            # a session whose file list was never recorded (a process killed in between, before the two
            # were one transaction): resuming it would do nothing and call that a success
            self.db.sessions.update(session_id, status=SessionStatus.FAILED)
            raise BdnexError(
                f"session {session_id} has no file list (its run was stopped before recording it): nothing to "
                f"resume; it is marked failed. Run it again: bdnex-core tag {session.get('directory') or 'PATH'}"
            )
        self.db.sessions.update(
            session_id,
            status=SessionStatus.RUNNING,
            pid=os.getpid(),
            host=socket.gethostname(),
            heartbeat=to_db_time(utcnow()),
        )
        return self.remaining_files(session_id)

    def list_sessions(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.sessions.recent(limit=limit)
