"""A fresh PostgreSQL database per test, on the server named by ``BDNEX_TEST_POSTGRES_URL``.

The server is a throwaway one (``.ci/postgres start DIR`` prints its URL); its role may create
databases, so every test gets its own and tests run in parallel (pytest-xdist) without meeting.
Without the variable the tests skip with the reason, or fail when ``BDNEX_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

SERVER_VARIABLE = "BDNEX_TEST_POSTGRES_URL"
REQUIRED_VARIABLE = "BDNEX_REQUIRE_POSTGRES"


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards (even with sessions left open)."""
    import psycopg
    from psycopg import sql

    name = f"bdnex_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(server_url, autocommit=True) as admin:
            # an autovacuum worker on the database is not ours to terminate (PostgreSQL 15 refuses
            # with "must be a member of the role..."): it ends within moments, so try again
            for attempt in range(20):
                try:
                    admin.execute(drop)
                    break
                except psycopg.errors.InsufficientPrivilege:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)


def server_url() -> str | None:
    return os.environ.get(SERVER_VARIABLE) or None
