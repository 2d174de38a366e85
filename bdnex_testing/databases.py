"""Tests' own looks into a database that other processes are using, SQLite file or PostgreSQL URL.

A test that watches a run in another process (has its session started, how many files has it
recorded) must not open the database through ``BDneXDB``: that would create or migrate it under
the run's feet. These open a bare connection, read, and close it. And a test that needs a database
already holding the catalogue index, once per trial, copies one made earlier (a file copy for
SQLite, ``db copy`` into PostgreSQL) rather than fetching the site again, and with it the catalogue
index file built beside it (the first run then opens that file instead of building its own: a second
of work per run that no trial is about).
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


def copy_into(source: Path, location: str, *, cache_dir: Path | None = None) -> None:
    """The SQLite database ``source``, copied to ``location`` (a path, or an empty PostgreSQL database).

    When ``source`` has its catalogue index file beside it, that file goes where the database at
    ``location`` keeps its own: beside it, or with PostgreSQL in ``cache_dir`` (the run's
    ``cache.dir``; without it, the index is left to the first run to build)."""
    if is_postgresql_url(location):
        from bdnex_core.store.postgres.copy import copy_database

        copy_database(str(source), location)
    else:
        shutil.copyfile(source, location)
    index = catalogue_index_beside(source)
    if index.is_file() and (cache_dir is not None or not is_postgresql_url(location)):
        from bdnex_core.bedetheque.catalogue_index import index_path
        from bdnex_core.config import from_mapping
        from bdnex_core.db import BDneXDB

        database = {"backend": "postgresql", "url": location} if is_postgresql_url(location) else {"path": location}
        settings = from_mapping({"database": database, "cache": {"dir": str(cache_dir or Path(location).parent)}})
        with BDneXDB(settings=settings) as db:
            target = index_path(db, settings)
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(index, target)


def catalogue_index_beside(database: Path) -> Path:
    """Where the catalogue index file of the SQLite database ``database`` is (it may not exist yet)."""
    from bdnex_core.bedetheque.catalogue_index import FORMAT

    return database.with_name(f"{database.name}-catalogue-v{FORMAT}.sqlite")
