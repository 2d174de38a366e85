"""``db copy``: SQLite -> PostgreSQL -> SQLite keeps every row, verified; bad input changes nothing.

Against a real PostgreSQL server (BDNEX_TEST_POSTGRES_URL; see bdnex_testing/postgres.py),
each test in its own database.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import psycopg
import pytest

from bdnex_core.db import BDneXDB
from bdnex_core.errors import DatabaseError
from bdnex_core.store.postgres.copy import copy_database
from tests.test_cli_errors import assert_one_line_error, run_cli


def _filled_database(folder):
    """A real database made by the application, plus values that test the edges of each type."""
    path = folder / "library.db"
    db = BDneXDB(path)
    session_id = db.sessions.start(str(folder), options={"workers": 2, "dry_run": False, "pattern": "*.cbz"})
    for index, name in enumerate(["Astérix - T01.cbz", "Les Nains - T02.cbz", "Blake et Mortimer - HS1.cbz"]):
        comic = folder / name
        comic.write_bytes(b"comic bytes %d" % index)
        db.files.record_processing(
            comic,
            session_id,
            {"title": f"Titre {index} « été »", "series": name.split(" - ")[0], "tome": str(index + 1), "score": 0.9},
        )
    db.sessions.add_files(session_id, [str(folder / "Astérix - T01.cbz"), str(folder / "later.cbz")])
    db.sessions.mark_file(session_id, str(folder / "Astérix - T01.cbz"), "done", file_id=1)
    db.albums.put({"id": 4242, "title": "Le Tour de Gaule", "series": "Astérix", "volume": 5, "authors": ["Goscinny"]})
    db.reviews.queue(
        "later.cbz", "later.cbz", session_id, {"series": "Later"}, [{"album_id": 1, "score": 0.6, "explain": {}}]
    )
    db.plugin_state.set("komga", "checkpoint", {"last_event": 17, "seen": [1, 2, 3]})
    db.statistics.snapshot(date(2026, 11, 28))
    db.sessions.update(session_id, status="completed")
    db.close()
    with sqlite3.connect(path) as conn:  # the edges: a big mtime, a time with microseconds, JSON null, no JSON
        conn.execute(
            "UPDATE processed_files SET mtime_ns = 1764428400123456789, has_metadata = 1, "
            "last_modified = '2026-11-29 15:00:00.250000' WHERE id = 1"
        )
        conn.execute("UPDATE processing_sessions SET options = 'null' WHERE id = ?", [session_id])
        conn.execute("INSERT INTO processing_sessions (directory, status, options) VALUES ('/empty', 'failed', NULL)")
        xml = "<?xml version='1.0'?><ComicInfo><Title>Été</Title></ComicInfo>".encode() + bytes(range(256))
        conn.execute(
            "INSERT INTO comicinfo_backups (file_id, file_path, session_id, comicinfo, sha256) "
            "VALUES (1, 'Astérix - T01.cbz', ?, ?, 'abc')",
            [session_id, xml],
        )
        conn.execute(
            "INSERT INTO file_moves (source, target, started_at) VALUES ('a.cbz', 'b.cbz', '2026-11-29 15:00:00')"
        )
    return path


def _rows(path):
    """Every table's rows in key order; JSON as parsed documents (JSONB keeps no key order)."""
    conn = sqlite3.connect(path)
    result = {}
    listed = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    full_text = [name for name, sql in listed if sql.startswith("CREATE VIRTUAL TABLE")]  # compared by searching
    tables = [
        name
        for name, _ in listed
        if not name.startswith(("_", "sqlite_")) and not any(name.startswith(fts) for fts in full_text)
    ]
    for table in tables:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        json_columns = {row[0] for row in info if row[2].upper() == "JSON"}
        order = ", ".join(row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]) or "rowid"
        rows = []
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
            rows.append(
                tuple(
                    ("json", json.loads(value)) if index in json_columns and value is not None else value
                    for index, value in enumerate(row)
                )
            )
        result[table] = rows
    conn.close()
    return result


def test_round_trip_sqlite_postgresql_sqlite_gives_identical_rows(tmp_path, postgres_url):
    original = _filled_database(tmp_path)
    there = copy_database(str(original), postgres_url)
    back_path = tmp_path / "back.db"
    back = copy_database(postgres_url, str(back_path))

    assert _rows(back_path) == _rows(original)
    assert {"comicinfo_backups", "file_moves", "processed_files"} <= set(_rows(original))
    with sqlite3.connect(back_path) as conn:  # the full-text index is rebuilt in the copy
        found = conn.execute("SELECT rowid FROM library_search WHERE library_search MATCH 'asterix'").fetchall()
        assert found == [(1,)]
    assert sum(len(rows) for rows in _rows(original).values()) == there.rows == back.rows > 10
    assert [(t.table, t.rows, t.checksum) for t in there.tables] == [(t.table, t.rows, t.checksum) for t in back.tables]

    with psycopg.connect(postgres_url) as conn:  # real PostgreSQL types, usable as such
        album_series = conn.execute("SELECT metadata->>'series' FROM bdgest_albums WHERE id = 4242").fetchone()
        assert album_series == ("Astérix",)
        kinds = conn.execute(
            "SELECT pg_typeof(last_modified)::text, pg_typeof(has_metadata)::text, has_metadata, mtime_ns "
            "FROM processed_files WHERE id = 1"
        ).fetchone()
        assert kinds == ("timestamp with time zone", "boolean", True, 1764428400123456789)
        json_null, sql_null = conn.execute(
            "SELECT options IS NULL, jsonb_typeof(options) FROM processing_sessions ORDER BY id"
        ).fetchall()
        assert json_null == (False, "null") and sql_null == (True, None)
        # ids were copied as they were; the next new row gets the next id
        next_id = conn.execute("INSERT INTO processing_sessions (directory) VALUES ('/new') RETURNING id").fetchone()[0]
        assert next_id == max(row[0] for row in _rows(original)["processing_sessions"]) + 1


def test_the_command_copies_the_configured_database_and_refuses_a_filled_target(tmp_path, postgres_url):
    original = _filled_database(tmp_path)
    first = run_cli("--db", str(original), "db", "copy", "--to", postgres_url, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["rows"] > 10 and {t["table"] for t in report["tables"]} >= {"processed_files", "bdgest_albums"}
    password = psycopg.conninfo.conninfo_to_dict(postgres_url).get("password")
    assert password and password not in first.stdout + first.stderr

    again = run_cli("--db", str(original), "db", "copy", "--to", postgres_url)
    assert_one_line_error(again, "already holds rows", "processed_files: 3", code=3)
    assert password not in again.stderr

    back = tmp_path / "back.db"
    assert run_cli("db", "copy", "--from", postgres_url, "--to", str(back)).returncode == 0
    into_filled = run_cli("db", "copy", "--from", postgres_url, "--to", str(back))
    assert_one_line_error(into_filled, str(back), "already holds rows", code=3)


def test_a_value_that_does_not_fit_names_its_row_and_nothing_is_copied(tmp_path, postgres_url):
    original = _filled_database(tmp_path)
    with sqlite3.connect(original) as conn:
        conn.execute("UPDATE processed_files SET processed_date = 'yesterday' WHERE id = 2")
    with pytest.raises(DatabaseError) as caught:
        copy_database(str(original), postgres_url)
    assert "processed_files (id=2): column processed_date" in str(caught.value) and "not a time" in str(caught.value)
    with psycopg.connect(postgres_url) as conn:
        for table in ("processing_sessions", "bdgest_albums", "processed_files"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    new_file = tmp_path / "new.db"  # an SQLite target made for the copy does not stay behind
    with pytest.raises(DatabaseError, match="column processed_date"):
        copy_database(str(original), str(new_file))
    assert list(tmp_path.glob("new.db*")) == []


def test_a_reference_to_a_missing_row_is_refused_by_postgresql_and_rolled_back(tmp_path, postgres_url):
    original = _filled_database(tmp_path)
    with sqlite3.connect(original) as conn:  # SQLite without foreign_keys=ON lets this in
        conn.execute("INSERT INTO metadata_history (file_id, field, source) VALUES (999, 'title', 'auto')")
    result = run_cli("db", "copy", "--from", str(original), "--to", postgres_url)
    assert_one_line_error(result, "cannot write metadata_history", "foreign key", code=3)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM processed_files").fetchone() == (0,)


def test_an_sqlite_file_that_is_not_a_database(tmp_path, postgres_url):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    result = run_cli("db", "copy", "--from", str(junk), "--to", postgres_url)
    assert_one_line_error(result, str(junk), code=3)
    missing = run_cli("db", "copy", "--from", str(tmp_path / "nope.db"), "--to", postgres_url)
    assert_one_line_error(missing, "nope.db", "no such database file", code=3)
