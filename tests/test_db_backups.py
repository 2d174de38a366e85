"""Automatic backups of the SQLite database, and never starting over in silence (issue 37).

A backup is made before a migration and while tagging; restoring one gives back the same rows. A
database that vanished while its backups or session logs remain, or a new database on a library
bdnex-core tagged before, stops the commands with the ways out instead of starting afresh.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import Settings, from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.demo.samplelib import build_library
from bdnex_core.paths import backups_folder
from bdnex_core.pipeline import TagOptions, collect_items, run_tagging
from bdnex_core.store.db_backups import RollingBackups, list_backups, make_backup
from tests.test_db_damage import fill

SAMPLE = "SELECT id, file_path, series, title, status, session_id FROM processed_files ORDER BY id"
COUNTS = ("processed_files", "processing_sessions", "catalogue_albums", "session_files")


def content(path: Path) -> dict[str, object]:
    """What a restore must give back: the row counts of the main tables and a sample of rows."""
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        found: dict[str, object] = {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in COUNTS
        }
        found["sample"] = conn.execute(SAMPLE + " LIMIT 50").fetchall()
        found["last"] = conn.execute(SAMPLE.replace("ORDER BY id", "ORDER BY id DESC") + " LIMIT 5").fetchall()
    return found


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "share"), "XDG_CONFIG_HOME": str(home / "cfg")}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_migration_is_preceded_by_a_backup_that_restores_the_same_rows(tmp_path):
    path = tmp_path / "bdnex.db"
    fill(path, tmp_path, files=120)
    with closing(sqlite3.connect(path)) as conn:  # the database as an older bdnex-core left it
        conn.execute("ALTER TABLE processing_sessions DROP COLUMN host")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm014_session_host'")
        conn.commit()
    before = content(path)
    settings = Settings().with_database_path(path)

    with BDneXDB(path, settings=settings) as db:  # opening it upgrades it
        assert "host" in db.db["processing_sessions"].columns_dict
    backups = list_backups(settings)
    assert [backup.reason for backup in backups] == ["before-migration"]
    assert content(backups[0].path) == before
    with closing(sqlite3.connect(backups[0].path)) as conn:
        assert "host" not in {row[1] for row in conn.execute("PRAGMA table_info(processing_sessions)")}

    restored = run_cli("--db", str(path), "db", "restore", "--yes", home=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert content(path) == before
    assert run_cli("--db", str(path), "stats", "--json", home=tmp_path).returncode == 0  # and upgraded again


def test_no_backup_is_made_when_backups_are_off(tmp_path):
    path = tmp_path / "bdnex.db"
    fill(path, tmp_path, files=3)
    settings = from_mapping({"database": {"path": str(path), "backups_keep": 0}})
    with BDneXDB(path, settings=settings) as db:
        assert make_backup(db.backend.conn, settings, "manual") is None
    assert not backups_folder(settings).exists()


@pytest.fixture(scope="module")
def slow_site():
    """Each answer takes a while: a run over a few files lasts seconds, long enough for its backups."""
    reset_politeness()
    with FakeBedetheque(network_delay=0.4) as running:
        yield running


def albums(site, count):
    from bdnex_core.cli.demo import pick_albums

    return pick_albums(site, count, 0)[0]


def test_a_long_run_makes_backups_as_it_goes_and_keeps_the_newest(slow_site, tmp_path):
    path = tmp_path / "bdnex.db"
    settings = from_mapping(
        {
            # a backup when the newest is older than 1.1 s, looked at every 0.11 s; the newest two kept
            "database": {"path": str(path), "backups_every_hours": 0.0003, "backups_keep": 2},
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
            **slow_site.settings_mapping(),
        }
    )
    library = tmp_path / "library"
    build_library(library, albums(slow_site, 10), broken=0)
    with BDneXDB(settings=settings) as db:
        client = BedethequeClient(settings)
        Catalogue(db).update_online(client)
        options = TagOptions(locations=(str(library),), workers=2)
        summary = run_tagging(
            settings, db, collect_items(settings, "folder", options.locations), options, client=client
        )
    assert summary.count("done") + summary.count("waiting") == 10

    backups = list_backups(settings)
    assert len(backups) == 2, "older ones were pruned"
    assert {backup.reason for backup in backups} == {"while-tagging"}
    during = [backup for backup in backups if 0 < backup.counts["file"] < 10]
    assert during, f"a backup made while the run was recording its files: {[b.counts for b in backups]}"
    with closing(sqlite3.connect(during[0].path)) as conn:
        assert conn.execute("SELECT status FROM processing_sessions").fetchall() == [("running",)]

    expected = content(during[0].path)
    restored = run_cli("--db", str(path), "db", "restore", during[0].path.name, "--yes", home=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert content(path) == expected


def test_a_vanished_database_with_backups_is_reported_never_replaced(tmp_path):
    path = tmp_path / "bdnex.db"
    fill(path, tmp_path, files=20)
    with BDneXDB(path) as db:
        make_backup(db.backend.conn, Settings().with_database_path(path), "manual")
    path.unlink()
    for command in (["stats", "--json"], ["identify", "Nains - T01.cbz"]):
        result = run_cli("--db", str(path), *command, home=tmp_path)
        assert result.returncode == 3, result.stdout + result.stderr
        line = result.stderr.strip()
        assert "\n" not in line and str(path) in line and "missing, but it existed" in line, line
        assert "db restore`" in line and "20 files" in line, line
        assert not path.exists(), "no new empty database was made in its place"
    assert run_cli("--db", str(path), "db", "restore", "--yes", home=tmp_path).returncode == 0
    figures = json.loads(run_cli("--db", str(path), "stats", "--json", home=tmp_path).stdout)
    assert figures["total_files"] == 20


def test_a_vanished_database_that_left_session_logs_is_reported(tmp_path):
    from bdnex_core.paths import logs_folder_for

    path = tmp_path / "bdnex.db"
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"database": {"path": str(path)}, "pipeline": {"logs_dir": str(tmp_path / "logs")}}))
    logs = logs_folder_for(tmp_path / "logs", path)
    logs.mkdir(parents=True)
    (logs / "session_1.json").write_text("{}")
    result = run_cli("--config", str(config), "stats", home=tmp_path)
    assert result.returncode == 3 and "its session logs in" in result.stderr and "db reset`" in result.stderr
    assert not path.exists()
    assert run_cli("--config", str(config), "db", "reset", "--yes", home=tmp_path).returncode == 0
    assert run_cli("--config", str(config), "stats", home=tmp_path).returncode == 0


def test_a_new_database_on_a_library_tagged_before_stops_until_reset(tmp_path):
    site = FakeBedetheque().start()
    try:
        refused_until_reset(site, tmp_path)
    finally:
        site.stop()


def refused_until_reset(site, tmp_path):
    library = tmp_path / "library"
    build_library(library, albums(site, 2), broken=0)
    base = {"cache": {"dir": str(tmp_path / "cache")}, "pipeline": {"logs_dir": str(tmp_path / "logs")}}
    base.update(site.settings_mapping())
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(json.dumps({**base, "database": {"path": str(tmp_path / "first.db")}}))
    second.write_text(json.dumps({**base, "database": {"path": str(tmp_path / "second.db")}}))
    with BDneXDB(settings=(settings := from_mapping({**base, "database": {"path": str(tmp_path / "first.db")}}))) as db:
        Catalogue(db).update_online(BedethequeClient(settings))
    shutil.copyfile(tmp_path / "first.db", tmp_path / "second.db")  # the catalogue alone: a new database
    tagged = run_cli("--config", str(first), "tag", str(library), "--batch", home=tmp_path)
    assert tagged.returncode == 0, tagged.stderr

    refused = run_cli("--config", str(second), "tag", str(library), "--batch", home=tmp_path)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    line = refused.stderr.strip()
    assert "this database is new, but bdnex-core tagged this library before" in line, line
    assert "db reset`" in line and "db restore`" in line and str(tmp_path / "second.db") in line
    with closing(sqlite3.connect(tmp_path / "second.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM processing_sessions").fetchone() == (0,), "nothing was recorded"

    assert run_cli("--config", str(second), "db", "reset", "--yes", home=tmp_path).returncode == 0
    with BDneXDB(
        settings=(settings := from_mapping({**base, "database": {"path": str(tmp_path / "second.db")}}))
    ) as db:
        Catalogue(db).update_online(BedethequeClient(settings))
    again = run_cli("--config", str(second), "tag", str(library), "--batch", home=tmp_path)
    assert again.returncode == 0, again.stderr


def test_a_backup_while_tagging_waits_for_another_threads_transaction_on_the_connection(tmp_path):
    """The run's workers use the runner's SQLite connection one at a time; the backups made as the run
    goes take their turn too (the copy once ran beside a worker's statement on the same connection)."""
    path = tmp_path / "bdnex.db"
    settings = from_mapping({"database": {"path": str(path), "backups_every_hours": 1, "backups_keep": 2}})
    in_transaction, release, copied = threading.Event(), threading.Event(), threading.Event()

    with BDneXDB(settings=settings) as db:
        backups = RollingBackups(db.backend, settings)  # no backup yet: one is due

        def worker() -> None:
            with db.write():
                db.plugin_state.set("test", "key", {"written": True})
                in_transaction.set()
                release.wait(10)

        holder = threading.Thread(target=worker)
        holder.start()
        assert in_transaction.wait(10)
        backing_up = threading.Thread(target=lambda: (backups.maybe(), copied.set()))
        backing_up.start()
        waited = not copied.wait(0.5)
        release.set()
        holder.join(10)
        backing_up.join(30)
    assert waited, "the backup did not wait for the transaction of another thread on its connection"
    (backup,) = list_backups(settings)
    with closing(sqlite3.connect(backup.path)) as conn:
        rows = conn.execute("SELECT value FROM plugin_state WHERE plugin = 'test'").fetchall()
    assert rows == [('{"written": true}',)], "the copy holds the transaction it waited for, committed"
