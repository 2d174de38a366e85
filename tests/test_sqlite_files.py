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
        assert db.get_plugin_state("test", "199") == {}
    assert companion(path, "-shm").is_file() and companion(path, "-wal").stat().st_size > 0


def test_after_a_kill_the_changes_in_the_wal_are_kept_and_checked(held):
    path, process = held
    process.send_signal(signal.SIGKILL)
    process.wait()
    found = inspect(path)
    assert found.in_use_elsewhere is False and found.unclean and not found.findings
    with BDneXDB(path) as db:
        assert db.get_plugin_state("test", "199") == {}, "what the killed process committed is there"


def test_a_wal_cut_after_a_kill_is_named_with_what_it_lost(held):
    path, process = held
    process.send_signal(signal.SIGKILL)
    process.wait()
    wal = companion(path, "-wal")
    os.truncate(wal, wal.stat().st_size // 2)
    (finding,) = inspect(path).findings
    assert finding.file == wal and finding.problem == Problem.LOG_DAMAGED
    assert "cannot be read back" in finding.what
