"""The checks made before SQLite opens a database (bdnex_core.store.sqlite_files), against real processes.

A database another process has open is left to it (its -wal and -shm are live: never judged, never
set aside); the same files after that process was killed are an unclean stop, checked; a -wal that
lost frames the -shm says it held is damage.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bdnex_core.db import BDneXDB
from bdnex_core.store.sqlite_files import Problem, companion, inspect

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA wal_autocheckpoint = 0")  # the changes stay in the -wal, as between two checkpoints
for number in range(200):
    conn.execute("INSERT INTO plugin_state (plugin, key, value, updated_at) VALUES ('test', ?, '{}', '2026-01-01')", [str(number)])
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held(tmp_path: Path):
    """A database with changes in its -wal, open in another process (killed at the end of the test)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("telling a live -shm from a left one reads POSIX locks the Linux way")
    path = tmp_path / "bdnex.db"
    BDneXDB(path).close()
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield path, process
    process.kill()
    process.wait()


def test_a_database_another_process_has_open_is_left_to_it(held):
    path, _process = held
    found = inspect(path)
    assert found.in_use_elsewhere is True and not found.unclean and not found.findings
    with BDneXDB(path) as db:  # opened beside it, as a second run does
        assert db.plugin_state.get("test", "199") == {}
    assert companion(path, "-shm").is_file() and companion(path, "-wal").stat().st_size > 0


def test_after_a_kill_the_changes_in_the_wal_are_kept_and_checked(held):
    path, process = held
    process.send_signal(signal.SIGKILL)
    process.wait()
    found = inspect(path)
    assert found.in_use_elsewhere is False and found.unclean and not found.findings
    with BDneXDB(path) as db:
        assert db.plugin_state.get("test", "199") == {}, "what the killed process committed is there"


def test_a_wal_cut_after_a_kill_is_named_with_what_it_lost(held):
    path, process = held
    process.send_signal(signal.SIGKILL)
    process.wait()
    wal = companion(path, "-wal")
    os.truncate(wal, wal.stat().st_size // 2)
    (finding,) = inspect(path).findings
    assert finding.file == wal and finding.problem == Problem.LOG_DAMAGED
    assert "cannot be read back" in finding.what


MAKER = """
import sqlite3, sys, time
handle = open(sys.argv[1], "wb")  # made empty and held open, as SQLite does before its first page
print("made", flush=True)
time.sleep(float(sys.argv[2]))
connection = sqlite3.connect(sys.argv[1])
connection.execute("CREATE TABLE t (x)")
connection.commit()
print("written", flush=True)
sys.stdin.read()
"""


def test_an_empty_database_another_process_is_making_is_waited_for(tmp_path):
    """Two runs started at once on a new database: the second sees the file its maker has not written yet."""
    path = tmp_path / "bdnex.db"
    maker = subprocess.Popen(
        [sys.executable, "-c", MAKER, str(path), "1.0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert maker.stdout is not None and maker.stdout.readline() == "made\n"
        assert path.stat().st_size == 0
        assert inspect(path).findings == []  # waited for the first page, found a database
        assert maker.stdout.readline() == "written\n"
    finally:
        maker.kill()
        maker.wait()


def test_an_emptied_database_nobody_holds_is_reported_at_once(tmp_path):
    path = tmp_path / "bdnex.db"
    path.write_bytes(b"")
    findings = inspect(path).findings
    assert [finding.what for finding in findings] == ["it is empty (a bdnex-core database never is)"]
