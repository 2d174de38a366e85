"""Rows of a query on a bdnex-core database, SQLite or PostgreSQL, read outside the code under test.

Tests and benchmarks check what processes recorded with a connection of their own; the
``database`` argument is the configuration's ``database`` section (``path`` or ``url``).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any


def rows(database: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    """All rows of ``sql`` (no parameters, so both drivers read it as written)."""
    if database.get("backend") == "postgresql":
        import psycopg

        with psycopg.connect(database["url"]) as connection:
            return [tuple(row) for row in connection.execute(sql).fetchall()]
    with closing(sqlite3.connect(database["path"])) as connection:
        return connection.execute(sql).fetchall()
