"""schema.sql carries every table, column, CHECK and index of the seed design, and migrations upgrade old databases."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from bdnex_core.db import BDneXDB
from tests.conftest import REPO_ROOT

# The seed ("BDneX Architecture - Phase 1"): tables with their columns, and six indexes.
SEED_TABLES = {
    "processed_files": [
        "id",
        "file_path",
        "file_hash",
        "file_size",
        "processed_date",
        "last_modified",
        "bdgest_id",
        "bdgest_url",
        "confidence_score",
        "title",
        "series",
        "volume",
        "editor",
        "year",
        "isbn",
        "pages",
        "status",
        "error_msg",
        "has_metadata",
        "metadata_hash",
        "session_id",
        "processing_time_ms",
    ],
    "bdgest_albums": [
        "id",
        "title",
        "series",
        "volume",
        "editor",
        "year",
        "isbn",
        "pages",
        "cover_url",
        "url",
        "cached_date",
        "cache_valid_until",
        "metadata",
    ],
    "processing_sessions": [
        "id",
        "session_start",
        "session_end",
        "directory",
        "pattern",
        "batch_mode",
        "strict_mode",
        "num_workers",
        "total_files",
        "files_processed",
        "files_successful",
        "files_failed",
        "files_skipped",
        "status",
        "log_file_path",
        "json_log_path",
        "csv_log_path",
    ],
    "metadata_history": ["id", "file_id", "timestamp", "field", "old_value", "new_value", "source"],
    "statistics": ["id", "date", "total_files", "total_series", "total_editors", "avg_pages", "avg_processing_time_ms"],
}
SEED_INDEXES = {
    "idx_file_path": ("processed_files", ["file_path"]),
    "idx_status": ("processed_files", ["status"]),
    "idx_session_id": ("processed_files", ["session_id"]),
    "idx_bdgest_id": ("processed_files", ["bdgest_id"]),
    "idx_series": ("processed_files", ["series"]),
    "idx_editor": ("processed_files", ["editor"]),
}
SEED_CHECKS = {  # the seed's, but for 'waiting' (a file waiting for review; the seed said 'skipped')
    "processed_files": ("status", ["success", "manual", "waiting", "skipped", "failed"]),
    "processing_sessions": ("status", ["running", "paused", "completed", "failed"]),
}
# The seed's own DDL, as a database made by the prototype would have it (for the upgrade test).
SEED_DDL = """
CREATE TABLE processed_files (id INTEGER PRIMARY KEY AUTOINCREMENT, file_path TEXT NOT NULL UNIQUE,
  file_hash TEXT NOT NULL, file_size INTEGER, processed_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  last_modified TIMESTAMP, bdgest_id INTEGER, bdgest_url TEXT, confidence_score REAL, title TEXT, series TEXT,
  volume INTEGER, editor TEXT, year INTEGER, isbn TEXT, pages INTEGER,
  status TEXT CHECK(status IN ('success', 'manual', 'skipped', 'failed')), error_msg TEXT,
  has_metadata BOOLEAN DEFAULT FALSE, metadata_hash TEXT, session_id INTEGER, processing_time_ms INTEGER,
  FOREIGN KEY (session_id) REFERENCES processing_sessions(id));
CREATE TABLE bdgest_albums (id INTEGER PRIMARY KEY, title TEXT NOT NULL, series TEXT, volume INTEGER, editor TEXT,
  year INTEGER, isbn TEXT, pages INTEGER, cover_url TEXT, url TEXT UNIQUE,
  cached_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP, cache_valid_until TIMESTAMP, metadata JSON);
CREATE TABLE processing_sessions (id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_start TIMESTAMP DEFAULT CURRENT_TIMESTAMP, session_end TIMESTAMP, directory TEXT NOT NULL,
  pattern TEXT DEFAULT '*.cbz|*.cbr', batch_mode BOOLEAN DEFAULT TRUE, strict_mode BOOLEAN DEFAULT FALSE,
  num_workers INTEGER DEFAULT 4, total_files INTEGER DEFAULT 0, files_processed INTEGER DEFAULT 0,
  files_successful INTEGER DEFAULT 0, files_failed INTEGER DEFAULT 0, files_skipped INTEGER DEFAULT 0,
  status TEXT CHECK(status IN ('running', 'paused', 'completed', 'failed')), log_file_path TEXT,
  json_log_path TEXT, csv_log_path TEXT);
CREATE TABLE metadata_history (id INTEGER PRIMARY KEY AUTOINCREMENT, file_id INTEGER NOT NULL,
  timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, field TEXT, old_value TEXT, new_value TEXT, source TEXT,
  FOREIGN KEY (file_id) REFERENCES processed_files(id));
CREATE TABLE statistics (id INTEGER PRIMARY KEY AUTOINCREMENT, date DATE DEFAULT CURRENT_DATE, total_files INTEGER,
  total_series INTEGER, total_editors INTEGER, avg_pages INTEGER, avg_processing_time_ms INTEGER);
CREATE INDEX idx_file_path ON processed_files(file_path);
CREATE INDEX idx_status ON processed_files(status);
CREATE INDEX idx_session_id ON processed_files(session_id);
CREATE INDEX idx_bdgest_id ON processed_files(bdgest_id);
CREATE INDEX idx_series ON processed_files(series);
CREATE INDEX idx_editor ON processed_files(editor);
INSERT INTO processing_sessions (directory, status) VALUES ('/old', 'completed');
INSERT INTO processed_files (file_path, file_hash, title, status, session_id) VALUES ('/old/a.cbz', 'abc', 'Old', 'success', 1);
"""


def _check_seed(conn: sqlite3.Connection) -> None:
    for table, columns in SEED_TABLES.items():
        present = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        missing = [column for column in columns if column not in present]
        assert not missing, f"{table} lacks {missing}"
    for index, (table, columns) in SEED_INDEXES.items():
        row = conn.execute("SELECT tbl_name FROM sqlite_master WHERE type='index' AND name=?", [index]).fetchone()
        assert row and row[0] == table, f"index {index} missing"
        assert [info[2] for info in conn.execute(f"PRAGMA index_info({index})")] == columns
    for table, (column, values) in SEED_CHECKS.items():
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", [table]).fetchone()[0]
        assert f"CHECK({column} IN ({', '.join(repr(v) for v in values)}))" in sql
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                f"INSERT INTO {table} ({column}{', file_path, file_hash' if table == 'processed_files' else ', directory'}) "
                f"VALUES ('bogus', 'x', 'y')"
                if table == "processed_files"
                else f"INSERT INTO {table} ({column}, directory) VALUES ('bogus', 'x')"
            )


def test_sqlite3_cli_creates_every_seed_table_column_and_index(tmp_path):
    sqlite3_binary = subprocess.run(["which", "sqlite3"], capture_output=True, text=True).stdout.strip()
    target = tmp_path / "fromcli.db"
    if sqlite3_binary:
        with open(REPO_ROOT / "schema.sql", "rb") as script:
            subprocess.run([sqlite3_binary, str(target)], stdin=script, check=True)
        conn = sqlite3.connect(target)
    else:  # the sqlite3 shell is optional; the library runs the same script
        conn = sqlite3.connect(":memory:")
        conn.executescript((REPO_ROOT / "schema.sql").read_text("utf-8"))
    _check_seed(conn)


def test_schema_is_idempotent():
    conn = sqlite3.connect(":memory:")
    script = (REPO_ROOT / "schema.sql").read_text("utf-8")
    conn.executescript(script)
    conn.executescript(script)
    _check_seed(conn)


def test_database_applies_migrations_and_pragmas(tmp_path):
    db = BDneXDB(tmp_path / "bdnex.db")
    assert db.created
    assert db.schema_version()[:2] == ["m001_upgrade_seed_tables", "m002_schema"]
    assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    _check_seed(db.db.conn)
    db.close()
    again = BDneXDB(tmp_path / "bdnex.db")
    assert not again.created
    assert again.db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == len(again.schema_version())


def test_seed_era_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "seed.db"
    conn = sqlite3.connect(path)
    conn.executescript(SEED_DDL)
    conn.close()
    db = BDneXDB(path)
    columns = {column.name for column in db.db.table("processed_files").columns}
    assert {"mtime_ns", "tome", "decision", "source", "external_id"} <= columns
    assert {"options", "pid", "heartbeat", "imported_from", "files_waiting"} <= {
        column.name for column in db.db.table("processing_sessions").columns
    }
    assert db.db.table("session_files").exists() and db.db.table("review_queue").exists()
    assert db.files.page()[0]["title"] == "Old"
    assert db.schema_version()[:2] == ["m001_upgrade_seed_tables", "m002_schema"]
    # files recorded before the full-text index existed are found by `ls` (m008 fills it)
    from bdnex_core.app.query import list_files

    assert [row["title"] for row in list_files(db, ["old"])] == ["Old"]
    assert "m008_library_search" in db.schema_version()
