"""One way for the stores to talk to SQLite or PostgreSQL: rows as dicts, one write transaction.

The stores write their SQL once, with ``?`` placeholders and the SQL both databases share
(``ON CONFLICT … DO UPDATE``, ``RETURNING``, ``COUNT(*) FILTER``); where the two differ a store asks
:attr:`Backend.dialect`. Values come back the same on both: times as SQLite's
``YYYY-MM-DD HH:MM:SS`` text (UTC), dates as ISO text, booleans as 0/1 and JSON documents as text,
so that a caller never knows which database it reads.

SQLite (through :mod:`sqlite3`, with sqlite-utils for the migrations) serialises writers with
``BEGIN IMMEDIATE`` and a per-process lock; PostgreSQL (psycopg 3, autocommit outside
transactions) gives every statement of a write one transaction. A connection, of either, serves one
thread at a time here: a statement of another thread would otherwise land inside a transaction it
does not belong to (or, on SQLite, hold a read open that makes the next write fail at once).
Each thread should still have its own (:meth:`Backend.reopen`): one connection shared makes its
threads wait for each other's transactions.

When the database itself fails, the stores raise our errors, never the driver's: a full disk
(:class:`DatabaseFull`), a lock held too long (:class:`DatabaseLocked`), a PostgreSQL server that
went away. A PostgreSQL connection found lost is opened again, waiting up to
``database.reconnect_seconds`` for a server that restarts: a read is then simply run again, a
transaction cut in the middle raises :class:`ConnectionLost` (the connection is usable again; the
caller may run the transaction again, see :func:`run_again_if_disconnected`), and a server that does
not come back in time is a :class:`DatabaseUnreachable`. Writes go through :meth:`Backend.write`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bdnex_core.config import mask_url_password
from bdnex_core.errors import DatabaseError
from bdnex_core.liveness import process_alive
from bdnex_core.store.db_safety import damage_error
from bdnex_core.store.postgres.connection import (
    connect,
    not_allowed,
    one_line,
    psycopg_module,
    psycopg_privilege_errors,
)
from bdnex_core.store.sqlite_files import MIN_FREE_BYTES, ROOM_HELD_BYTES, SQLITE_DAMAGE, opened_here

if TYPE_CHECKING:
    import psycopg
    from sqlite_utils import Database

    from bdnex_core.config import Settings

logger = logging.getLogger(__name__)

Params = Sequence[Any] | None
T = TypeVar("T")

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
#: how long a lost PostgreSQL connection is tried again by default (``database.reconnect_seconds``)
RECONNECT_SECONDS = 60.0


class DatabaseLocked(DatabaseError):
    """Another process kept the database's write lock longer than the busy timeout."""

    def __init__(self, path: Path | str | None, busy_ms: int):
        super().__init__(
            f"the database stayed locked by another process for {busy_ms / 1000:g} s; another bdnex-core "
            "run may be writing to it: try again when it is done, or raise database.busy_timeout_ms",
            path=path,
        )


class DatabaseFull(DatabaseError):
    """The disk (or the quota) holding the database has no room left for a write (``left``: the
    bytes it still had when the run stopped before it was full)."""

    def __init__(self, path: Path | str | None, left: int | None = None):
        state = "is full" if left is None else f"has only {left // 1024} KB left"
        super().__init__(f"the disk holding the database {state}: free some space on it, then run again", path=path)


class ConnectionLost(DatabaseError):
    """The PostgreSQL connection was lost in the middle of a transaction, and opened again: the
    transaction was not made (or, when the answer to its COMMIT was lost, perhaps made): the caller
    may run it again, in a way that does the work once (:func:`run_again_if_disconnected`)."""

    def __init__(self, location: str):
        super().__init__("the connection to PostgreSQL was lost in the middle of a write", path=location)


class DatabaseUnreachable(DatabaseError):
    """The PostgreSQL server went away and did not come back within ``database.reconnect_seconds``."""

    def __init__(self, location: str, seconds: float, reason: str):
        super().__init__(
            f"PostgreSQL stopped answering and did not come back within {seconds:g} s ({reason}); "
            "when the server is back, run again (database.reconnect_seconds sets how long to wait)",
            path=location,
        )


def run_again_if_disconnected(operation: Callable[[bool], T], *, attempts: int = 3) -> T:
    """``operation(again)``, run again when a lost connection cut it (and was opened again).

    ``again`` is true on the later attempts: the earlier one may have committed without our hearing
    (its COMMIT's answer lost), so an operation that is not idempotent checks first whether its work
    is already there."""
    for attempt in range(attempts):
        try:
            return operation(attempt > 0)
        except ConnectionLost:
            if attempt == attempts - 1:
                raise
            logger.warning("database connection lost during a write; writing again")
    raise AssertionError("unreachable")


class Backend:
    """What every store uses; :class:`SQLiteBackend` and :class:`PostgresBackend` implement it."""

    dialect: str
    location: str  # for messages: a path, or a URL with its password masked

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def tuples(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def row(self, sql: str, params: Params = None) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Params = None) -> Any:
        found = self.tuples(sql, params)
        return found[0][0] if found else None

    def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement; return how many rows it changed."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        raise NotImplementedError

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        """Insert one row (our own table and column names only); return its ``id``."""
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        new_id = self.value(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", list(values.values()))
        if new_id is None:
            raise DatabaseError("the database gave no id for a new row", path=self.location)
        return int(new_id)

    def update(self, table: str, key: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        """``UPDATE table SET values WHERE key`` (our own table and column names only)."""
        if not values:
            return 0
        sets = ", ".join(f"{column} = ?" for column in values)
        where = " AND ".join(f"{column} = ?" for column in key)
        return self.execute(f"UPDATE {table} SET {sets} WHERE {where}", [*values.values(), *key.values()])

    def upsert(self, table: str, values: Mapping[str, Any], key: Sequence[str]) -> None:
        """Insert ``values``, or update the row with the same ``key`` columns."""
        columns = list(values)
        changed = [column for column in columns if column not in key] or list(key)
        self.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{column} = excluded.{column}" for column in changed),
            list(values.values()),
        )

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    def table_names(self) -> list[str]:
        """The tables of the database, by name (SQLite's internal and full-text shadow tables too)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Backend]:
        """One write transaction; nested calls join it (savepoints). ``durable``: on disk when the
        block ends, whatever the connection's settings (what must be there after a power cut)."""
        raise NotImplementedError
        yield self  # pragma: no cover

    def serialize(self, name: str) -> None:
        """Inside :meth:`write`: wait until no other process holds ``name`` (to the transaction's end).

        SQLite has one writer at a time already; PostgreSQL takes a transaction advisory lock, for a
        read-then-write that concurrent transactions must not interleave (a shared request slot)."""

    @property
    def skip_locked(self) -> str:
        """The clause that locks selected rows and skips those another transaction holds (``""`` on
        SQLite, whose writer is alone)."""
        return ""

    def byte_order(self, expression: str) -> str:
        """``expression`` compared and sorted by its bytes (SQLite's way; PostgreSQL follows the
        database's collation otherwise, and a locale's order would break path ranges)."""
        return expression

    def now_seconds_sql(self) -> str:
        """A query giving the database server's clock, in seconds since 1970."""
        raise NotImplementedError

    def time_sql(self, expression: str) -> str:
        """``expression`` (a column or ``?``) compared as a time, whatever its text form."""
        raise NotImplementedError

    def reopen(self) -> Backend:
        """Another connection to the same database, with the same settings (for another thread)."""
        raise NotImplementedError

    def reclaim_space(self) -> None:
        """After a write found the disk full: give back what room can be given back, so that a small
        write (a session marked paused) may still fit. Nothing to do on a server."""

    def check_room(self) -> None:
        """Raise :class:`DatabaseFull` when the disk holding the database is nearly full (less than
        :data:`MIN_FREE_BYTES`): a run stops there, while it can still record what it did. A server
        keeps its own disk."""

    @contextlib.contextmanager
    def room_held(self) -> Iterator[None]:
        """While a run lasts, hold some room on the database's disk, which :meth:`reclaim_space`
        gives back: should another program fill the disk, the run can still record its end."""
        yield

    def close(self) -> None:
        raise NotImplementedError


# ----------------------------------------------------------------------------- SQLite

SQLITE_BUSY_SNAPSHOT = 517  # sqlite3 names it only from Python 3.13
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def connect_sqlite(path: Path | None, busy_ms: int) -> sqlite3.Connection:
    """A connection with the pragmas every connection to a bdnex-core database gets.

    ``isolation_level=None``: no implicit transactions (the driver's would hold a read or a write
    open between statements); writes are explicit, in :meth:`SQLiteBackend.write`.
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
        _enter_wal_mode(conn, busy_ms)
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _enter_wal_mode(conn: sqlite3.Connection, busy_ms: int) -> None:
    """``PRAGMA journal_mode = WAL``, tried again until ``busy_ms`` have passed: on a file another
    process is creating at the same moment, SQLite answers "locked" at once, without its busy wait
    (both hold a read lock and want the write lock: it refuses rather than deadlock)."""
    deadline = time.monotonic() + busy_ms / 1000.0
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


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


def sqlite_failure(exc: sqlite3.OperationalError, location: Path | str | None, busy_ms: int) -> DatabaseError | None:
    """Our error for what SQLite said about the database itself (its disk is full or failing, it is
    read-only, it stayed locked), or ``None`` for anything else (which is a bug: raised as it is)."""
    extended = getattr(exc, "sqlite_errorcode", 0) or 0
    code = extended & 0xFF  # the primary code of an extended one
    if extended == SQLITE_BUSY_SNAPSHOT:  # a read left open where a write was due: a bug, not a wait
        return None
    if code == sqlite3.SQLITE_FULL:
        return DatabaseFull(location)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return DatabaseLocked(location, busy_ms)
    if code == sqlite3.SQLITE_IOERR:
        return DatabaseError(f"the disk failed to read or write the database ({exc}); check the disk", path=location)
    if code == sqlite3.SQLITE_READONLY:
        return DatabaseError(
            "the database cannot be written (a read-only file, folder or disk): make it writable", path=location
        )
    return None


class SQLiteBackend(Backend):
    dialect = SQLITE

    def __init__(self, path: Path | None, busy_ms: int, *, settings: Settings | None = None):
        self.path, self.busy_ms, self.settings = path, busy_ms, settings
        self.location = str(path) if path is not None else ":memory:"
        with self._database_errors():
            self.conn = connect_sqlite(path, busy_ms)
        if path is not None:
            opened_here(path, +1)
        self._write_lock = _process_write_lock(path)
        # one thread at a time on this connection, a whole transaction long: another thread's statement
        # would run inside the transaction (and be undone with it), or leave a read open that makes
        # the next write fail at once ("database is locked", SQLITE_BUSY_SNAPSHOT)
        self._lock = threading.RLock()
        self._database: Database | None = None
        self._savepoints = 0

    @property
    def database(self) -> Database:
        """sqlite-utils over the same connection (the migrations and the SQLite-only features use it),
        made on first use: an ordinary command never imports sqlite-utils (nor pandas, which it imports
        when installed beside it)."""
        if self._database is None:
            from bdnex_core.store.migrations import open_database  # lazy: sqlite-utils (and pandas beside it)

            self._database = open_database(self.conn)
        return self._database

    @contextlib.contextmanager
    def _database_errors(self) -> Iterator[None]:
        """SQLite's errors about the database itself as ours: damage (a malformed page, text that is not
        UTF-8, a -wal that became a folder) as one line naming the file and the command that fixes it
        (``db_safety``); a full, failing, read-only or locked database as :func:`sqlite_failure` says."""
        try:
            yield
        except SQLITE_DAMAGE as exc:
            error = damage_error(exc, self.path, self.settings)
            if error is None and isinstance(exc, sqlite3.OperationalError):
                error = sqlite_failure(exc, self.location, self.busy_ms)
            if error is None:
                raise
            raise error from None

    def _cursor(self, sql: str, params: Params) -> sqlite3.Cursor:
        with self._database_errors():
            return self.conn.execute(sql, params or ())

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        with self._lock, self._database_errors():
            cursor = self._cursor(sql, params)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def tuples(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        with self._lock, self._database_errors():
            return self._cursor(sql, params).fetchall()

    def execute(self, sql: str, params: Params = None) -> int:
        with self._lock, self._database_errors():
            return self._cursor(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        with self._lock, self._database_errors():
            return self.conn.executemany(sql, rows).rowcount

    def table_exists(self, table: str) -> bool:
        return self.value("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [table]) == 1

    def table_names(self) -> list[str]:
        return [name for (name,) in self.tuples("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Backend]:
        """``BEGIN IMMEDIATE``: the write lock is taken up front.

        One writer at a time in this process: every connection of this process to this database
        takes the same lock first, so threads never race each other for SQLite's write lock. Other
        processes are waited for up to the busy timeout, retried here too, since SQLite returns
        "database is locked" at once, without waiting, to a connection that has a read open.
        A lock held longer than the timeout is a :class:`DatabaseLocked` (exit 3).

        ``durable``: this commit is synced to disk (``synchronous = FULL``; NORMAL, the usual
        setting in WAL mode, syncs at checkpoints only). Not inside another transaction.

        The connection serves the writing thread alone until the transaction ends: a statement of
        another thread waits for it, never runs inside it (the process lock first, then the
        connection's: a thread holding this connection's lock never waits for the process lock).
        """
        deadline = time.monotonic() + self.busy_ms / 1000.0
        if not self._write_lock.acquire(timeout=max(0.0, self.busy_ms / 1000.0)):  # at once when nested
            raise DatabaseLocked(self.path, self.busy_ms)
        try:
            with self._lock:
                conn = self.conn
                if conn.in_transaction:  # this thread's own transaction: nested calls join it
                    if durable:
                        raise DatabaseError("a durable write cannot join a transaction in progress", path=self.location)
                    with self._savepoint():
                        yield self
                elif durable and self.path is not None:
                    conn.execute("PRAGMA synchronous = FULL")
                    try:
                        with self._transaction(deadline):
                            yield self
                    finally:
                        conn.execute("PRAGMA synchronous = NORMAL")
                else:
                    with self._transaction(deadline):
                        yield self
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def _transaction(self, deadline: float) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` (waiting for other processes until ``deadline``), then COMMIT, or
        ROLLBACK when the block raises. The caller holds the process's and the connection's locks."""
        conn = self.conn
        with self._database_errors():
            self._begin_immediate(deadline)
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk does)
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = sqlite_failure(exc, self.location, self.busy_ms)
            if error is None:
                raise
            raise error from None

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A write nested in another: a savepoint, undone alone when it raises."""
        self._savepoints += 1
        name = f"bdnex_{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._savepoints -= 1

    def _begin_immediate(self, deadline: float) -> None:
        pause = 0.005
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # a read left open on a connection others wrote since can never write: a bug, not a wait
                if not _is_lock_error(exc) or exc.sqlite_errorcode == SQLITE_BUSY_SNAPSHOT:
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseLocked(self.path, self.busy_ms) from None
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.2)

    def now_seconds_sql(self) -> str:
        return "SELECT (julianday('now') - 2440587.5) * 86400.0"  # millisecond resolution

    def time_sql(self, expression: str) -> str:
        # as times, not text: a time written as ISO with a "T" still compares right
        return f"julianday({expression})"

    def reopen(self) -> SQLiteBackend:
        if self.path is None:
            raise DatabaseError("an in-memory database cannot be opened twice")
        return SQLiteBackend(self.path, self.busy_ms, settings=self.settings)

    def check_room(self) -> None:
        if self.path is None:
            return
        try:
            status = os.statvfs(self.path.parent)
        except OSError:
            return  # cannot tell: the writes themselves will say
        left = status.f_bavail * status.f_frsize
        if left < MIN_FREE_BYTES:
            raise DatabaseFull(self.location, left)

    @property
    def _room_file(self) -> Path | None:
        # one per process: two runs on one database each hold their own
        return None if self.path is None else self.path.with_name(f"{self.path.name}-room-{os.getpid()}")

    @contextlib.contextmanager
    def room_held(self) -> Iterator[None]:
        room = self._room_file
        if room is not None:
            self._remove_rooms_of_dead_runs()
            try:
                with open(room, "wb") as handle:  # random bytes: a compressing filesystem keeps them
                    handle.write(os.urandom(ROOM_HELD_BYTES))
            except OSError:  # no room to hold: the disk is nearly full, check_room stops the run
                with contextlib.suppress(OSError):
                    room.unlink(missing_ok=True)
        try:
            yield
        finally:
            if room is not None:
                with contextlib.suppress(OSError):
                    room.unlink(missing_ok=True)

    def _remove_rooms_of_dead_runs(self) -> None:
        """A run killed before it could remove its room leaves it: removed by the next one."""

        assert self.path is not None
        for left in self.path.parent.glob(f"{self.path.name}-room-*"):
            pid = left.name.rsplit("-", 1)[1]
            if pid.isdigit() and not process_alive(int(pid)):
                with contextlib.suppress(OSError):
                    left.unlink()

    def reclaim_space(self) -> None:
        room = self._room_file
        if room is not None:
            with contextlib.suppress(OSError):
                room.unlink(missing_ok=True)
        # the WAL written back into the database file and emptied: its room is free for the next write
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            logger.debug("checkpoint after a full disk failed: %s", exc)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection itself, for what only SQLite's API does (an online backup), this thread's alone
        meanwhile: another thread's statement waits, as for a transaction."""
        with self._lock:
            yield self.conn

    def close(self) -> None:
        with self._lock:  # never under a statement of another thread
            if self.path is not None and not self._closed:
                opened_here(self.path, -1)
            self._closed = True
            self.conn.close()

    _closed = False


# ----------------------------------------------------------------------------- PostgreSQL


def _is_read(sql: str) -> bool:
    """A statement that changes nothing, so running it twice is harmless."""
    return sql.lstrip()[:6].upper() == "SELECT"


@lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """Our ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled). Our statements
    never hold a ``?`` inside a string literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def _sqlite_forms(conn: psycopg.Connection[Any]) -> None:
    """Have ``conn`` give values in the form SQLite gives them back (see the module's docstring),
    straight from PostgreSQL's text output: no datetime, bool or dict is built only to be
    converted again (a listing of 10,000 files reads 300,000 values)."""
    from psycopg.adapt import Loader  # lazy: the optional [postgresql] extra, which no SQLite command imports

    class UtcTimeText(Loader):
        def load(self, data: Any) -> str:
            text = bytes(data).decode()
            if len(text) == 22 and text.endswith("+00"):  # the session runs in UTC, whole seconds
                return text[:19]
            moment = datetime.fromisoformat(text if text[-3] == ":" or text[-5:-4] == ":" else text + ":00")
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    class Text(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode()

    class ZeroOrOne(Loader):
        def load(self, data: Any) -> int:
            return 1 if bytes(data) == b"t" else 0

    class Real(Loader):
        def load(self, data: Any) -> float:
            return float(bytes(data))

    for name, loader in (
        ("timestamptz", UtcTimeText),
        ("date", Text),
        ("json", Text),
        ("jsonb", Text),
        ("bool", ZeroOrOne),
        ("numeric", Real),
    ):
        conn.adapters.register_loader(name, loader)


class PostgresBackend(Backend):
    dialect = POSTGRESQL

    def __init__(self, url: str, *, reconnect_seconds: float = RECONNECT_SECONDS, patient: bool = False):
        """``patient``: a first connection that fails is tried again as a lost one is (a worker
        opening its connection in the middle of a run, while the server restarts)."""

        self.url = url
        self.location = mask_url_password(url)
        self.reconnect_seconds = reconnect_seconds
        self._lock = threading.RLock()
        self._writing = False  # inside write(): a lost connection cannot go on with the transaction
        self.conn: psycopg.Connection[Any]
        if patient:
            self._reconnect()
        else:
            self.conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:

        conn = connect(self.url)
        conn.autocommit = True  # a statement outside write() is its own transaction
        _sqlite_forms(conn)
        return conn

    def _is_lost(self, exc: BaseException | None = None) -> bool:
        """The connection is gone (the server stopped, restarted, or ended our session)."""
        conn = getattr(self, "conn", None)
        if conn is None or conn.closed or conn.broken:
            return True
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(("08", "57P"))  # connection exceptions; admin or crash shutdown

    def _reconnect(self) -> None:
        """A new connection, tried for up to ``reconnect_seconds`` (a server that restarts refuses
        connections, then says it is starting up, then answers)."""
        deadline = time.monotonic() + self.reconnect_seconds
        pause = 0.1
        while True:
            try:
                conn = self._connect()
                break
            except DatabaseError as exc:
                if time.monotonic() + pause > deadline:
                    raise DatabaseUnreachable(self.location, self.reconnect_seconds, exc.reason) from None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        old = getattr(self, "conn", None)
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
            logger.warning("PostgreSQL connection to %s lost; connected again", self.location)
        self.conn = conn

    def _run(self, sql: str, params: Params, many: Iterable[Sequence[Any]] | None = None) -> tuple[Any, int]:

        with self._lock:
            if not self._writing and self._is_lost():
                self._reconnect()
            rows = list(many) if many is not None else None
            try:
                return self._execute(sql, params, rows)
            except psycopg_privilege_errors() as exc:
                raise not_allowed(exc, self.location) from None
            except psycopg_module().OperationalError as exc:
                if not self._is_lost(exc):
                    raise self._failure(exc) from None
                if self._writing:  # the transaction is gone with the connection: write() says so
                    raise ConnectionLost(self.location) from None
                self._reconnect()
                if rows is not None or not _is_read(sql):  # a write cut midway may or may not have been made
                    raise ConnectionLost(self.location) from None
            try:
                return self._execute(sql, params, None)  # a read, run again on the new connection
            except psycopg_module().OperationalError as exc:
                raise self._failure(exc) from None

    def _execute(self, sql: str, params: Params, many: list[Sequence[Any]] | None) -> tuple[Any, int]:
        cursor = self.conn.cursor()
        if many is not None:
            cursor.executemany(postgres_sql(sql), many)
        else:
            cursor.execute(postgres_sql(sql), list(params or ()))
        rows = cursor.fetchall() if cursor.description else None
        names = [column.name for column in cursor.description or ()]
        return (names, rows), cursor.rowcount

    def _failure(self, exc: BaseException) -> DatabaseError:

        return DatabaseError(f"PostgreSQL: {one_line(exc)}", path=self.location)

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        (names, rows), _ = self._run(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows or ()]

    def tuples(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        (_, rows), _ = self._run(sql, params)
        return list(rows or ())

    def execute(self, sql: str, params: Params = None) -> int:
        return self._run(sql, params)[1]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self._run(sql, None, many=rows)[1]

    def table_exists(self, table: str) -> bool:
        return bool(self.value("SELECT to_regclass(?) IS NOT NULL", [table]))

    def table_names(self) -> list[str]:
        return [
            name
            for (name,) in self.tuples(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            )
        ]

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Backend]:
        """One transaction (a savepoint when nested). A connection found lost at its start is opened
        again and the transaction begun there; lost after that, :class:`ConnectionLost`."""

        with self._lock:
            if self._writing:
                with self.conn.transaction():
                    yield self
                return
            for attempt in (1, 2):
                if self._is_lost():
                    self._reconnect()
                begun = False
                self._writing = True
                try:
                    with self.conn.transaction():
                        begun = True
                        if durable:  # whatever the server's default: this commit waits for its WAL flush
                            self.execute("SET LOCAL synchronous_commit = on")
                        yield self
                    return
                except (psycopg_module().OperationalError, ConnectionLost) as exc:
                    if not self._is_lost(exc):
                        raise self._failure(exc) from None
                    if begun or attempt == 2:
                        self._reconnect()
                        raise ConnectionLost(self.location) from None
                    # BEGIN met a connection lost while idle: nothing ran, begin again on a new one
                finally:
                    self._writing = False

    def serialize(self, name: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [name])

    @property
    def skip_locked(self) -> str:
        return " FOR UPDATE SKIP LOCKED"

    def byte_order(self, expression: str) -> str:
        return f'{expression} COLLATE "C"'

    def now_seconds_sql(self) -> str:
        return "SELECT extract(epoch FROM clock_timestamp())::float8"

    def time_sql(self, expression: str) -> str:
        return f"({expression})::timestamptz"

    def reopen(self) -> PostgresBackend:
        return PostgresBackend(self.url, reconnect_seconds=self.reconnect_seconds, patient=True)

    def close(self) -> None:
        self.conn.close()
