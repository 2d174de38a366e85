"""One way for the stores to talk to SQLite or PostgreSQL: rows as dicts, one write transaction.

The stores write their SQL once, with ``?`` placeholders and the SQL both databases share
(``ON CONFLICT … DO UPDATE``, ``RETURNING``, ``COUNT(*) FILTER``); where the two differ a store asks
:attr:`Backend.dialect`. Values come back the same on both: times as SQLite's
``YYYY-MM-DD HH:MM:SS`` text (UTC), dates as ISO text, booleans as 0/1 and JSON documents as text,
so that a caller never knows which database it reads.

SQLite (through :mod:`sqlite3`, with sqlite-utils for the migrations) serialises writers with
``BEGIN IMMEDIATE`` and a per-process lock; PostgreSQL (psycopg 3, autocommit outside
transactions) gives every statement of a write one transaction. A PostgreSQL connection serves one
thread at a time here: a statement of another thread would otherwise land inside a transaction it
does not belong to.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import DatabaseError

if TYPE_CHECKING:
    import psycopg
    from sqlite_utils import Database

Params = Sequence[Any] | None

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class DatabaseLocked(DatabaseError):
    """Another process kept the database's write lock longer than the busy timeout."""

    def __init__(self, path: Path | str | None, busy_ms: int):
        super().__init__(
            f"the database stayed locked by another process for {busy_ms / 1000:g} s; another bdnex-core "
            "run may be writing to it: try again when it is done, or raise database.busy_timeout_ms",
            path=path,
        )


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
    def write(self) -> Iterator[Backend]:
        """One write transaction; nested calls join it (savepoints)."""
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
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


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


class SQLiteBackend(Backend):
    dialect = SQLITE

    def __init__(self, path: Path | None, busy_ms: int):
        self.path, self.busy_ms = path, busy_ms
        self.location = str(path) if path is not None else ":memory:"
        self.conn = connect_sqlite(path, busy_ms)
        self._write_lock = _process_write_lock(path)
        self._database: Database | None = None
        self._savepoints = 0

    @property
    def database(self) -> Database:
        """sqlite-utils over the same connection (the migrations and the SQLite-only features use it),
        made on first use: an ordinary command never imports sqlite-utils (nor pandas, which it imports
        when installed beside it)."""
        if self._database is None:
            from bdnex_core.migrations import open_database

            self._database = open_database(self.conn)
        return self._database

    def _cursor(self, sql: str, params: Params) -> sqlite3.Cursor:
        return self.conn.execute(sql, params or ())

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        cursor = self._cursor(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def tuples(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self._cursor(sql, params).fetchall()

    def execute(self, sql: str, params: Params = None) -> int:
        return self._cursor(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self.conn.executemany(sql, rows).rowcount

    def table_exists(self, table: str) -> bool:
        return self.value("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [table]) == 1

    def table_names(self) -> list[str]:
        return [name for (name,) in self.tuples("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    @contextlib.contextmanager
    def write(self) -> Iterator[Backend]:
        """``BEGIN IMMEDIATE``: the write lock is taken up front.

        One writer at a time in this process: every connection of this process to this database
        takes the same lock first, so threads never race each other for SQLite's write lock. Other
        processes are waited for up to the busy timeout, retried here too, since SQLite returns
        "database is locked" at once, without waiting, to a connection that has a read open.
        A lock held longer than the timeout is a :class:`DatabaseLocked` (exit 3).
        """
        conn = self.conn
        if conn.in_transaction:
            with self._savepoint():
                yield self
            return
        deadline = time.monotonic() + self.busy_ms / 1000.0
        if not self._write_lock.acquire(timeout=max(0.0, self.busy_ms / 1000.0)):
            raise DatabaseLocked(self.path, self.busy_ms)
        try:
            self._begin_immediate(deadline)
            try:
                yield self
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
        return SQLiteBackend(self.path, self.busy_ms)

    def close(self) -> None:
        self.conn.close()


# ----------------------------------------------------------------------------- PostgreSQL


@lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """Our ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled). Our statements
    never hold a ``?`` inside a string literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def _sqlite_forms(conn: psycopg.Connection[Any]) -> None:
    """Have ``conn`` give values in the form SQLite gives them back (see the module's docstring),
    straight from PostgreSQL's text output: no datetime, bool or dict is built only to be
    converted again (a listing of 10,000 files reads 300,000 values)."""
    from psycopg.adapt import Loader

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

    def __init__(self, url: str):
        from bdnex_core.config import mask_url_password
        from bdnex_core.postgres.connection import connect

        self.url = url
        self.location = mask_url_password(url)
        self.conn: psycopg.Connection[Any] = connect(url)
        self.conn.autocommit = True  # a statement outside write() is its own transaction
        _sqlite_forms(self.conn)
        self._lock = threading.RLock()

    def _run(self, sql: str, params: Params, many: Iterable[Sequence[Any]] | None = None) -> tuple[Any, int]:
        import psycopg

        with self._lock:
            try:
                cursor = self.conn.cursor()
                if many is not None:
                    cursor.executemany(postgres_sql(sql), list(many))
                else:
                    cursor.execute(postgres_sql(sql), list(params or ()))
                rows = cursor.fetchall() if cursor.description else None
                names = [column.name for column in cursor.description or ()]
                return (names, rows), cursor.rowcount
            except psycopg.OperationalError as exc:
                from bdnex_core.postgres.connection import one_line

                raise DatabaseError(f"PostgreSQL: {one_line(exc)}", path=self.location) from None

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
    def write(self) -> Iterator[Backend]:
        with self._lock, self.conn.transaction():
            yield self

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
        return PostgresBackend(self.url)

    def close(self) -> None:
        self.conn.close()
