"""A database made before the review queue had one word is migrated on both backends: a file whose match
waits for a person was ``skipped`` (decision ``review``) in its record, ``queued`` in its session and
``pending`` in the review queue; after the migration it is ``waiting`` in all three, the session counter is
``files_waiting``, the CHECKs accept the new word and refuse the old ones, and the files left as they
were (``skipped``, decision ``none``) stay ``skipped``."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlite_utils import Database

from bdnex_core.db import BDneXDB
from bdnex_core.store import migrations
from bdnex_core.store.postgres import schema as pg_schema

# the words of the previous schema, each mapped back from today's schema.sql
PREVIOUS_WORDS = (
    (
        "CHECK(status IN ('success', 'manual', 'waiting', 'skipped', 'failed'))",
        "CHECK(status IN ('success', 'manual', 'skipped', 'failed'))",
    ),
    (
        "CHECK(state IN ('pending', 'done', 'failed', 'skipped', 'waiting'))",
        "CHECK(state IN ('pending', 'done', 'failed', 'skipped', 'queued'))",
    ),
    (
        "DEFAULT 'waiting'\n        CHECK(status IN ('waiting', 'resolved', 'skipped'))",
        "DEFAULT 'pending'\n        CHECK(status IN ('pending', 'resolved', 'skipped'))",
    ),
    ("files_waiting INTEGER", "files_queued INTEGER"),
    (
        "idx_review_waiting ON review_queue(item_key) WHERE status = 'waiting'",
        "idx_review_pending ON review_queue(item_key) WHERE status = 'pending'",
    ),
)
OLD_ROWS = (
    "INSERT INTO processing_sessions (id, directory, status, files_queued) VALUES (1, '/lib', 'completed', 1)",
    "INSERT INTO processed_files (id, file_path, file_hash, status, decision, error_msg) "
    "VALUES (1, '/lib/a.cbz', 'h1', 'skipped', 'review', 'below the accept threshold')",
    "INSERT INTO processed_files (id, file_path, file_hash, status, decision) VALUES (2, '/lib/b.cbz', 'h2', 'skipped', 'none')",
    "INSERT INTO session_files (session_id, position, file_path, item_key, state) VALUES (1, 0, '/lib/a.cbz', '/lib/a.cbz', 'queued')",
    "INSERT INTO session_files (session_id, position, file_path, item_key, state) VALUES (1, 1, '/lib/b.cbz', '/lib/b.cbz', 'skipped')",
    "INSERT INTO review_queue (id, file_path, item_key, session_id, status) VALUES (1, '/lib/a.cbz', '/lib/a.cbz', 1, 'pending')",
    "INSERT INTO review_queue (id, file_path, item_key, session_id, status) VALUES (2, '/lib/c.cbz', '/lib/c.cbz', 1, 'skipped')",
)


TODAY_SCHEMA = migrations.schema_sql()


def previous_schema_sql() -> str:
    text = TODAY_SCHEMA
    for new, old in PREVIOUS_WORDS:
        assert new in text, new
        text = text.replace(new, old)
    return text


def migrated_words(db: BDneXDB) -> dict[str, object]:
    backend = db.backend
    return {
        "files": dict(backend.tuples("SELECT file_path, status FROM processed_files ORDER BY id")),
        "session_files": dict(backend.tuples("SELECT file_path, state FROM session_files ORDER BY position")),
        "reviews": dict(backend.tuples("SELECT id, status FROM review_queue ORDER BY id")),
        "waiting_counter": backend.value("SELECT files_waiting FROM processing_sessions WHERE id = 1"),
    }


EXPECTED = {
    "files": {"/lib/a.cbz": "waiting", "/lib/b.cbz": "skipped"},
    "session_files": {"/lib/a.cbz": "waiting", "/lib/b.cbz": "skipped"},
    "reviews": {1: "waiting", 2: "skipped"},
    "waiting_counter": 1,
}


def test_sqlite_database_of_the_previous_schema_is_migrated(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    with monkeypatch.context() as patched:  # the previous version's schema.sql, applied by its migrations
        patched.setattr(migrations, "schema_sql", previous_schema_sql)
        migrations.migrations.apply(old, stop_before="m018_waiting_for_review")
    for statement in OLD_ROWS:
        old.execute(statement)
    old.conn.commit()
    old.conn.close()

    with BDneXDB(path) as db:
        assert "m018_waiting_for_review" in db.schema_version()
        assert migrated_words(db) == EXPECTED
        conn = db.backend.conn
        for statement in (
            "UPDATE processed_files SET status = 'queued' WHERE id = 1",
            "UPDATE session_files SET state = 'queued' WHERE position = 0",
            "UPDATE review_queue SET status = 'pending' WHERE id = 1",
        ):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(statement)
        # one waiting entry per item: the new partial index took over the old one's rule
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "idx_review_waiting" in indexes and "idx_review_pending" not in indexes
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO review_queue (file_path, item_key) VALUES ('/lib/a.cbz', '/lib/a.cbz')")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # a second opening finds nothing left to do and the same rows
    with BDneXDB(path) as again:
        assert migrated_words(again) == EXPECTED


def test_postgresql_database_of_the_previous_schema_is_migrated(postgres_url):
    with psycopg.connect(postgres_url) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {pg_schema.VERSIONS_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for migration in pg_schema.MIGRATIONS:
            if "waiting" in migration.name:
                break
            cur.execute(migration.sql)
            cur.execute(
                f"INSERT INTO {pg_schema.VERSIONS_TABLE} (version, name) VALUES (%s, %s)",
                [migration.version, migration.name],
            )
        for statement in OLD_ROWS:
            cur.execute(statement)  # ids are BY DEFAULT identities: given ones are kept
    with BDneXDB(postgres_url) as db:
        assert migrated_words(db) == EXPECTED
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statement in (
            "UPDATE processed_files SET status = 'queued' WHERE id = 1",
            "UPDATE session_files SET state = 'queued' WHERE position = 0",
            "UPDATE review_queue SET status = 'pending' WHERE id = 1",
            "INSERT INTO review_queue (file_path, item_key) VALUES ('/lib/a.cbz', '/lib/a.cbz')",
        ):
            with pytest.raises(psycopg.errors.IntegrityError):
                conn.execute(statement)
        assert (
            conn.execute(
                "SELECT column_default FROM information_schema.columns WHERE table_name = 'review_queue' "
                "AND column_name = 'status'"
            )
            .fetchone()[0]
            .startswith("'waiting'")
        )
