"""`db check`, `db repair`, `db restore` and `db reset` on damaged SQLite databases, and `db check` on PostgreSQL.

Each SQLite database is real and filled through the stores (files, sessions, catalogue); the damage
is done to its bytes where it hurts (a page of a table, the text of one row, the second half of the
file, everything) and the commands run as a user runs them, in a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.config import Settings
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import synthetic_sitemap
from bdnex_core.paths import owner_of
from bdnex_core.store.db_backups import list_backups, make_backup

ALBUMS = 305  # the synthetic sitemap of 300 albums, and the five the docs name
FILES = 400  # processed_files then spans many pages: one damaged page is a part of it, not all


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "share"), "XDG_CONFIG_HOME": str(home / "cfg")}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def fill(path: Path, tmp_path: Path, *, files: int = FILES) -> None:
    """A database as a few runs leave it: sessions, processed files with their text, the catalogue."""
    sitemap = tmp_path / "albums_900001_910000_map.xml"
    sitemap.write_bytes(synthetic_sitemap(300))
    with BDneXDB(path) as db:
        Catalogue(db).import_files([sitemap])
        session = db.sessions.start(str(tmp_path / "library"))
        with db.write():
            for number in range(files):
                db.files.record_processing(
                    f"/library/Série {number // 10}/Album {number:04d}.cbz",
                    session,
                    {"status": "success", "series": f"Série {number // 10}", "title": f"Titre numéro {number}"},
                )
        db.sessions.update(session, status="completed")


def rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def pages_of(path: Path, table: str) -> list[int]:
    """Where the leaf pages of ``table`` start in the file (SQLite's dbstat), in page order."""
    with closing(sqlite3.connect(path)) as conn:
        found = conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", [table]
        ).fetchall()
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return [(page - 1) * size for (page,) in found]  # byte offsets


def check(db: Path, home: Path) -> tuple[int, dict]:
    result = run_cli("--db", str(db), "db", "check", "--json", home=home)
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def table(report: dict, name: str) -> dict:
    return next(entry for entry in report["tables"] if entry["table"] == name)


def one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "bdnex.db"
    path.parent.mkdir()
    fill(path, tmp_path)
    return path


def test_a_sound_database_is_healthy(database, tmp_path):
    code, report = check(database, tmp_path)
    assert code == 0 and report["healthy"], report
    assert table(report, "processed_files")["readable"] == FILES
    assert table(report, "catalogue_albums")["readable"] == ALBUMS
    assert report["remedy"] is None


def test_text_that_is_no_longer_utf8_is_reported_by_table_and_count_and_repair_keeps_the_other_rows(database, tmp_path):
    data = bytearray(database.read_bytes())
    leaves = pages_of(database, "processed_files")
    victim = b"Album 0123.cbz"
    at = data.index(victim)
    while not any(start <= at < start + 4096 for start in leaves):  # the row's copy, not an index's
        at = data.index(victim, at + 1)
    data[at : at + 5] = bytes(byte ^ 0xFF for byte in data[at : at + 5])  # the name's first bytes, as a disk flips them
    database.write_bytes(bytes(data))

    listing = run_cli("--db", str(database), "ls", "--json", "--limit", "100000", home=tmp_path)
    line = one_error_line(listing, str(database), "not UTF-8", "db repair`")
    assert "file_path" in line  # the column, never the garbage itself

    code, report = check(database, tmp_path)
    assert code == 3 and not report["healthy"]
    assert table(report, "processed_files")["undecodable"] == 1
    assert table(report, "processed_files")["readable"] == FILES - 1
    assert "db repair" in report["remedy"]

    repaired = run_cli("--db", str(database), "db", "repair", home=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert rows(database, "SELECT COUNT(*) FROM processed_files") == [(FILES - 1,)]
    assert rows(database, "SELECT COUNT(*) FROM catalogue_albums") == [(ALBUMS,)]
    assert list(database.parent.glob("bdnex.db.damaged-*")), "the damaged file is kept aside"
    listing = run_cli("--db", str(database), "ls", "--json", "--limit", "100000", home=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert len(json.loads(listing.stdout)) == FILES - 1
    assert check(database, tmp_path)[0] == 0


@pytest.mark.parametrize("where", [b"CREATE TABLE processed_files", b"file_hash"])
def test_a_damaged_schema_is_named_never_a_traceback(database, tmp_path, where):
    """Bytes flipped in the description of the tables: SQLite's own message then quotes bytes that are not
    UTF-8 (once "unexpected UnicodeDecodeError"), or says the schema is malformed."""
    data = bytearray(database.read_bytes())
    at = data.index(where) + 3
    data[at : at + 4] = bytes(byte ^ 0xFF for byte in data[at : at + 4])
    database.write_bytes(bytes(data))
    for command in (["stats", "--json"], ["identify", "Nains - T01.cbz"]):
        line = one_error_line(run_cli("--db", str(database), *command, home=tmp_path), str(database), "schema")
        assert "db repair`" in line, line
    code, report = check(database, tmp_path)  # ends, whatever it finds
    assert code == 3 and "schema" in report["integrity"][0] and "db repair" in report["remedy"]
    repaired = run_cli("--db", str(database), "db", "repair", "--json", home=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    saved = {entry["table"]: entry for entry in json.loads(repaired.stdout)["tables"]}
    assert saved["catalogue_albums"]["readable"] == ALBUMS and saved["metadata_history"]["readable"] == 2 * FILES
    files = saved["processed_files"]  # its description is what was damaged: said lost, never made up
    assert files["error"] or files["rejected"] == files["readable"] or files["unreachable"], files
    assert run_cli("--db", str(database), "stats", "--json", home=tmp_path).returncode == 0


def test_a_damaged_page_costs_the_rows_on_it_not_the_table(database, tmp_path):
    before = dict(rows(database, "SELECT id, file_path FROM processed_files"))
    leaves = pages_of(database, "processed_files")
    assert len(leaves) > 4
    offset = leaves[len(leaves) // 2]
    with database.open("r+b") as handle:  # one page in the middle of the table, zeroed
        handle.seek(offset)
        handle.write(bytes(4096))

    code, report = check(database, tmp_path)
    assert code == 3
    files = table(report, "processed_files")
    assert files["unreachable"] and 0 < FILES - files["readable"] < FILES // 2, files
    assert report["integrity"], "quick_check names the damage"

    listing = run_cli("--db", str(database), "ls", "--json", "--limit", "100000", home=tmp_path)
    one_error_line(listing, str(database), "damaged", "db repair`")

    assert run_cli("--db", str(database), "db", "repair", home=tmp_path).returncode == 0
    settings = Settings().with_database_path(database)
    for kept in database.parent.iterdir():  # what the repair set aside is a file the README describes
        assert owner_of(kept, settings) is not None, kept.name
    after = dict(rows(database, "SELECT id, file_path FROM processed_files"))
    assert len(after) == files["readable"]
    assert all(before[key] == value for key, value in after.items()), "every saved row is the row it was"
    assert check(database, tmp_path)[0] == 0


def test_a_database_cut_in_half_is_named_and_its_first_half_saved(database, tmp_path):
    os.truncate(database, database.stat().st_size // 2 + 100)  # not even a whole number of pages
    line = one_error_line(run_cli("--db", str(database), "stats", home=tmp_path), str(database), "cut short")
    assert "db repair`" in line
    code, report = check(database, tmp_path)
    assert code == 3 and report["damage"][0]["what"].startswith("it is cut short")
    repaired = run_cli("--db", str(database), "db", "repair", home=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert check(database, tmp_path)[0] == 0
    saved = (
        rows(database, "SELECT COUNT(*) FROM processed_files")[0][0]
        + rows(database, "SELECT COUNT(*) FROM catalogue_albums")[0][0]
    )
    assert saved > 0, "what the first half holds is saved"
    assert run_cli("--db", str(database), "stats", "--json", home=tmp_path).returncode == 0


def test_an_emptied_database_is_never_taken_for_a_new_one(database, tmp_path):
    with BDneXDB(database) as db:
        backup = make_backup(db.backend.conn, Settings().with_database_path(database), "manual")
    assert backup is not None
    os.truncate(database, 0)
    for command in (["stats", "--json"], ["sessions", "list"]):
        line = one_error_line(run_cli("--db", str(database), *command, home=tmp_path), str(database), "empty")
        assert "db restore`" in line and f"{FILES} files" in line
    assert database.stat().st_size == 0, "nothing was written into it"

    listed = run_cli("--db", str(database), "db", "restore", "--list", home=tmp_path)
    assert listed.returncode == 0 and backup.path.name in listed.stdout and f"{FILES} files" in listed.stdout
    restored = run_cli("--db", str(database), "db", "restore", "--yes", home=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert rows(database, "SELECT COUNT(*) FROM processed_files") == [(FILES,)]
    kept = [path for path in database.parent.iterdir() if path.name.startswith("bdnex.db.replaced-")]
    assert kept and kept[0].stat().st_size == 0, "the emptied file is kept aside"


def test_without_a_backup_the_fix_is_an_explicit_reset(database, tmp_path):
    database.write_bytes(bytes(8192))
    line = one_error_line(run_cli("--db", str(database), "stats", home=tmp_path), str(database), "zeros")
    assert "no backup" in line and "db reset`" in line
    refused = run_cli("--db", str(database), "db", "reset", home=tmp_path)  # no terminal to ask on: --yes needed
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert run_cli("--db", str(database), "db", "reset", "--yes", home=tmp_path).returncode == 0
    figures = json.loads(run_cli("--db", str(database), "stats", "--json", home=tmp_path).stdout)
    assert figures["total_files"] == 0
    assert [p for p in database.parent.iterdir() if p.name.startswith("bdnex.db.replaced-")]


def test_restore_lists_each_backup_with_its_date_and_counts_and_puts_back_the_one_chosen(database, tmp_path):
    settings = Settings().with_database_path(database)
    with BDneXDB(database) as db:
        older = make_backup(db.backend.conn, settings, "manual")
        with db.write():
            for number in range(5):
                db.files.record_processing(f"/library/late/{number}.cbz", None, {"status": "success"})
    assert older is not None
    with BDneXDB(database) as db:
        newer = make_backup(db.backend.conn, settings, "manual")
    assert newer is not None
    listed = json.loads(run_cli("--db", str(database), "db", "restore", "--list", "--json", home=tmp_path).stdout)
    assert [entry["path"] for entry in listed] == [str(newer.path), str(older.path)]
    assert [entry["counts"]["file"] for entry in listed] == [FILES + 5, FILES]

    sample = "SELECT id, file_path, series, title, file_hash FROM processed_files ORDER BY id"
    expected = rows(older.path, sample)
    restored = run_cli("--db", str(database), "db", "restore", "2", "--yes", home=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert rows(database, sample) == expected
    assert rows(database, "SELECT COUNT(*) FROM catalogue_albums") == rows(
        older.path, "SELECT COUNT(*) FROM catalogue_albums"
    )


def test_a_damaged_backup_is_listed_as_unusable_and_skipped(database, tmp_path):
    settings = Settings().with_database_path(database)
    with BDneXDB(database) as db:
        backup = make_backup(db.backend.conn, settings, "manual")
    assert backup is not None
    backup.path.write_bytes(b"\0" * 4096)
    assert list_backups(settings)[0].problem
    os.truncate(database, 0)
    line = one_error_line(run_cli("--db", str(database), "stats", home=tmp_path), str(database))
    assert "no backup" in line and "db reset`" in line  # an unusable backup is never offered


def test_db_check_on_postgresql_says_the_server_backups_apply(postgres_url, tmp_path):
    with BDneXDB(postgres_url) as db:
        db.files.record_processing("/library/a.cbz", None, {"status": "success"})
    result = run_cli("--db", postgres_url, "db", "check", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the server's backups apply" in result.stdout and "healthy" in result.stdout
    report = json.loads(run_cli("--db", postgres_url, "db", "check", "--json", home=tmp_path).stdout)
    assert report["backend"] == "postgresql" and table(report, "processed_files")["readable"] == 1
    for command in (["db", "restore"], ["db", "repair"], ["db", "reset", "--yes"]):
        refused = run_cli("--db", postgres_url, *command, home=tmp_path)
        line = one_error_line(refused, "PostgreSQL", "server's own backups")
        assert "Traceback" not in line
