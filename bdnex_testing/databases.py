"""Tests' own looks into a database that other processes are using, SQLite file or PostgreSQL URL.

A test that watches a run in another process (has its session started, how many files has it
recorded) must not open the database through ``BDneXDB``: that would create or migrate it under
the run's feet. These open a bare connection, read, and close it. And a test that needs a database
already holding the catalogue index, once per trial, copies one made earlier (a file copy for
SQLite, ``db copy`` into PostgreSQL) rather than fetching the site again.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from bdnex_core.store.postgres.connection import is_postgresql_url


def peek_rows(location: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``?`` placeholders) on the database at ``location``, read-only."""
    if is_postgresql_url(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as connection:
            return [tuple(row) for row in connection.execute(sql.replace("?", "%s"), params).fetchall()]
    with closing(sqlite3.connect(f"file:{location}?mode=ro", uri=True, timeout=5)) as connection:
        return connection.execute(sql, params).fetchall()


def peek_value(location: str, sql: str, params: tuple[Any, ...] = (), *, not_yet: Any = None) -> Any:
    """The first value of ``sql``; ``not_yet`` while the database or its tables do not exist yet."""
    missing: tuple[type[Exception], ...] = (sqlite3.OperationalError,)
    if is_postgresql_url(location):
        import psycopg

        missing = (psycopg.errors.UndefinedTable,)
    try:
        return peek_rows(location, sql, params)[0][0]
    except missing:
        return not_yet


def copy_into(source: Path, location: str) -> None:
    """The SQLite database ``source``, copied to ``location`` (a path, or an empty PostgreSQL database)."""
    if is_postgresql_url(location):
        from bdnex_core.store.postgres.copy import copy_database

        copy_database(str(source), location)
    else:
        shutil.copyfile(source, location)
