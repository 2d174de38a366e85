"""The two ends of a copy: an SQLite file or a PostgreSQL database, seen the same way.

Each side lists its tables (ours only: no internal, migration or full-text tables), their
columns with a :class:`~.values.Kind`, primary keys and references; reads rows in primary-key
order as backend-neutral values and writes them back in its own storage. The SQLite side is
read through ``sqlite3`` (a source is opened read-only) and created through
:mod:`bdnex_core.store.migrations`; the PostgreSQL side through psycopg and :mod:`.schema`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlite_utils import Database

from bdnex_core import paths
from bdnex_core.config import mask_url_password
from bdnex_core.errors import DatabaseError
from bdnex_core.store import migrations
from bdnex_core.store.postgres.connection import connect, is_postgresql_url, one_line
from bdnex_core.store.postgres.schema import VERSIONS_TABLE, migrate
from bdnex_core.store.postgres.values import BadValue, Column, JsonDocument, Kind, parse_json, parse_time

try:  # the optional [postgresql] extra: a copy between SQLite files goes without it
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb
except ImportError:  # the PostgreSQL side says so when it opens (connect)
    pass

BATCH_ROWS = 2000


class Side(Protocol):
    location: str  # for messages: a path, or a URL with its password masked

    def tables(self) -> list[str]: ...
    def columns(self, table: str) -> list[Column]: ...
    def primary_key(self, table: str) -> list[str]: ...
    def references(self, table: str) -> set[str]: ...
    def count(self, table: str) -> int: ...
    def rows(self, table: str, columns: list[Column]) -> Iterator[tuple[Any, ...]]: ...
    def insert(self, table: str, columns: list[Column], rows: Iterable[tuple[Any, ...]]) -> None: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...


def _row_error(side: Side, table: str, row: tuple[Any, ...], column: Column, reason: str) -> DatabaseError:
    key = ", ".join(f"{name}={row[i]!r}" for i, name in enumerate(side.primary_key(table)) if i < len(row))
    return DatabaseError(f"{table} ({key or 'a row'}): column {column.name}: {reason}", path=side.location)


# ----------------------------------------------------------------------------- SQLite


def sqlite_kind(declared: str) -> Kind:
    """SQLite's declared type (free text) to a kind, in the spirit of SQLite's affinity rules."""
    upper = declared.upper()
    for marker, kind in (
        ("INT", Kind.INTEGER),
        ("TIMESTAMP", Kind.TIMESTAMP),
        ("DATETIME", Kind.TIMESTAMP),
        ("DATE", Kind.DATE),
        ("BOOL", Kind.BOOLEAN),
        ("JSON", Kind.JSON),
        ("REAL", Kind.REAL),
        ("FLOA", Kind.REAL),
        ("DOUB", Kind.REAL),
        ("BLOB", Kind.BLOB),
        ("CHAR", Kind.TEXT),
        ("TEXT", Kind.TEXT),
        ("CLOB", Kind.TEXT),
    ):
        if marker in upper:
            return kind
    return Kind.ANY


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_decode(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.TIMESTAMP:
        if not isinstance(value, str):
            raise BadValue(f"{value!r} is not a time")
        return parse_time(value)
    if kind is Kind.DATE:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise BadValue(f"{value!r} is not a date") from None
    if kind is Kind.BOOLEAN:
        if value in (0, 1):
            return bool(value)
        raise BadValue(f"{value!r} is not a boolean (0 or 1)")
    if kind is Kind.JSON:
        return parse_json(value)
    if kind is Kind.REAL and isinstance(value, int):
        return float(value)
    return value


def _sqlite_time(moment: datetime) -> str:
    """The format db.py writes (SQLite's CURRENT_TIMESTAMP, UTC), so times still compare as text."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if moment.microsecond else "%Y-%m-%d %H:%M:%S")


def _sqlite_encode(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return _sqlite_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, JsonDocument):
        return json.dumps(value.value, ensure_ascii=False)
    return value


class SqliteSide:
    def __init__(self, path: Path, *, create: bool):
        self.location = str(path)
        self.path = path
        # a target file this copy creates is removed again if the copy is not kept
        self.made_here = create and not path.exists()
        self.committed = False
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
                schema_db = Database(path)
                migrations.apply(schema_db)
                schema_db.close()
                self.conn = sqlite3.connect(path, isolation_level=None)
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                if not path.is_file():
                    raise DatabaseError("no such database file", path=path)
                self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open the SQLite database: {exc}", path=path) from None
        except OSError as exc:
            raise DatabaseError(f"cannot create the SQLite database: {exc.strerror}", path=path) from None

    def tables(self) -> list[str]:
        rows = self.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
        virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
        return [
            name
            for name, _ in rows
            if not name.startswith(("sqlite_", "_"))
            and name not in virtual
            and not any(name.startswith(f"{table}_") for table in virtual)  # full-text shadow tables
        ]

    def columns(self, table: str) -> list[Column]:
        info = self.conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        return [Column(name, sqlite_kind(declared or "")) for _, name, declared, *_ in info]

    def primary_key(self, table: str) -> list[str]:
        info = self.conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        return [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5] > 0]

    def references(self, table: str) -> set[str]:
        return {row[2] for row in self.conn.execute(f"PRAGMA foreign_key_list({_quote(table)})")} - {table}

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0])

    def rows(self, table: str, columns: list[Column]) -> Iterator[tuple[Any, ...]]:
        order = ", ".join(_quote(name) for name in self.primary_key(table)) or "rowid"
        names = ", ".join(_quote(column.name) for column in columns)
        cursor = self.conn.execute(f"SELECT {names} FROM {_quote(table)} ORDER BY {order}")
        while batch := cursor.fetchmany(BATCH_ROWS):
            for raw in batch:
                decoded = []
                for column, value in zip(columns, raw, strict=True):
                    try:
                        decoded.append(_sqlite_decode(column.kind, value))
                    except BadValue as exc:
                        raise _row_error(self, table, raw, column, str(exc)) from None
                yield tuple(decoded)

    def insert(self, table: str, columns: list[Column], rows: Iterable[tuple[Any, ...]]) -> None:
        names = ", ".join(_quote(column.name) for column in columns)
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})"
        try:
            self.conn.executemany(statement, (tuple(_sqlite_encode(value) for value in row) for row in rows))
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot write {table}: {exc}", path=self.path) from None

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self.committed = True

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()
        if self.made_here and not self.committed:
            for leftover in (self.path, *(self.path.with_name(self.path.name + end) for end in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- PostgreSQL

_POSTGRES_KINDS = {
    "bigint": Kind.INTEGER,
    "integer": Kind.INTEGER,
    "smallint": Kind.INTEGER,
    "double precision": Kind.REAL,
    "real": Kind.REAL,
    "text": Kind.TEXT,
    "character varying": Kind.TEXT,
    "timestamp with time zone": Kind.TIMESTAMP,
    "timestamp without time zone": Kind.TIMESTAMP,
    "date": Kind.DATE,
    "boolean": Kind.BOOLEAN,
    "jsonb": Kind.JSON,
    "json": Kind.JSON,
    "bytea": Kind.BLOB,
}


class PostgresSide:
    def __init__(self, url: str, *, create: bool):
        self.location = mask_url_password(url)
        self._versions_table = VERSIONS_TABLE
        self.conn = connect(url)
        if create:
            self._guard(lambda: migrate(self.conn), "cannot create the schema")

    def _guard(self, action: Any, what: str) -> Any:
        try:
            return action()
        except psycopg.Error as exc:
            self.conn.rollback()
            raise DatabaseError(f"{what}: {one_line(exc)}", path=self.location) from None

    def _query(self, statement: Any, params: Any = None) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self.conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()

        return self._guard(run, "cannot read the database")

    def tables(self) -> list[str]:
        rows = self._query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        return [name for (name,) in rows if name != self._versions_table]

    def columns(self, table: str) -> list[Column]:
        rows = self._query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return [Column(name, _POSTGRES_KINDS.get(data_type, Kind.ANY)) for name, data_type in rows]

    def primary_key(self, table: str) -> list[str]:
        rows = self._query(
            "SELECT a.attname FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY k.n",
            [table],
        )
        return [name for (name,) in rows]

    def references(self, table: str) -> set[str]:
        rows = self._query(
            "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'f'",
            [table],
        )
        return {name for (name,) in rows} - {table}

    def count(self, table: str) -> int:
        return int(self._query(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))[0][0])

    def rows(self, table: str, columns: list[Column]) -> Iterator[tuple[Any, ...]]:
        kinds = {column.name: column.kind for column in self.columns(table)}
        # byte order for text keys, as SQLite's BINARY collation sorts them (the checksum follows it)
        order = sql.SQL(", ").join(
            sql.SQL('{} COLLATE "C"' if kinds.get(name) is Kind.TEXT else "{}").format(sql.Identifier(name))
            for name in self.primary_key(table)
        )
        # JSON as text: the document null stays apart from SQL NULL
        selected = sql.SQL(", ").join(
            sql.SQL("{}::text" if column.kind is Kind.JSON else "{}").format(sql.Identifier(column.name))
            for column in columns
        )
        statement = sql.SQL("SELECT {} FROM {}").format(selected, sql.Identifier(table))
        if self.primary_key(table):
            statement = sql.SQL("{} ORDER BY {}").format(statement, order)
        cursor = self.conn.cursor(name=f"bdnex_copy_{table}")
        try:
            self._guard(lambda: cursor.execute(statement), f"cannot read {table}")
            while batch := self._guard(lambda: cursor.fetchmany(BATCH_ROWS), f"cannot read {table}"):
                for raw in batch:
                    yield tuple(self._decode(column.kind, value) for column, value in zip(columns, raw, strict=True))
        finally:
            cursor.close()

    @staticmethod
    def _decode(kind: Kind, value: Any) -> Any:
        if value is None:
            return None
        if kind is Kind.JSON:
            return parse_json(value)
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        if isinstance(value, memoryview):
            return bytes(value)
        return value

    def insert(self, table: str, columns: list[Column], rows: Iterable[tuple[Any, ...]]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
        )

        def run() -> None:
            with self.conn.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row([Jsonb(value.value) if isinstance(value, JsonDocument) else value for value in row])
            self._advance_identities(table)

        self._guard(run, f"cannot write {table}")

    def _advance_identities(self, table: str) -> None:
        """Rows copied with their ids: the next id the table hands out comes after them."""
        identities = self._query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND is_identity = 'YES'",
            [table],
        )
        for (column,) in identities:
            self._query(
                sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), max({})) FROM {} HAVING count(*) > 0").format(
                    sql.Literal(table), sql.Literal(column), sql.Identifier(column), sql.Identifier(table)
                )
            )

    def commit(self) -> None:
        self._guard(self.conn.commit, "cannot commit the copy")

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()


def open_side(location: str, *, create: bool) -> SqliteSide | PostgresSide:
    """A ``postgresql://`` URL or an SQLite file path; ``create``: the copy's target (schema made)."""
    if is_postgresql_url(location):
        return PostgresSide(location, create=create)
    return SqliteSide(paths.expand(location), create=create)
