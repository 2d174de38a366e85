"""The checks made before SQLite opens a database (bdnex_core.store.sqlite_files), against real processes.

A database another process has open is left to it (its -wal and -shm are live: never judged, never
set aside); the same files after that process was killed are an unclean stop, checked; a -wal that
lost frames the -shm says it held is damage.
"""

from __future__ import annotations

import os
import signal
import sqlite3
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


GROWER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA wal_autocheckpoint = 0")  # every new page stays in the -wal
for number in range(300):
    conn.execute("INSERT INTO plugin_state (plugin, key, value, updated_at) VALUES ('test', ?, ?, '2026-01-01')",
                 [str(number), '"' + "x" * 2000 + '"'])
print("ready", flush=True)
sys.stdin.read()
"""


def _grown_then_killed(tmp_path: Path) -> tuple[Path, bytes]:
    """A database whose new pages are all in the -wal of a killed process, and page 1 as that -wal says."""
    path = tmp_path / "bdnex.db"
    BDneXDB(path).close()
    process = subprocess.Popen(
        [sys.executable, "-c", GROWER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGKILL)
    process.wait()
    data = companion(path, "-wal").read_bytes()
    page_size = int.from_bytes(data[8:12], "big")
    frame_size, page_one, offset = 24 + page_size, b"", 32
    while offset + frame_size <= len(data):  # the frames of this test are all committed: the last one
        if int.from_bytes(data[offset : offset + 4], "big") == 1:
            page_one = data[offset + 24 : offset + frame_size]
        offset += frame_size
    assert page_one, "page 1 is in the -wal"
    return path, page_one


def test_a_run_killed_in_the_middle_of_a_checkpoint_is_no_damage(tmp_path):
    """A checkpoint copies page 1 first: killed before it copied the pages past the file's end, the file
    is shorter than its header says, and the -wal still holds those pages (seen in CI under load: a resume
    refused as "cut short (1299 of its 1350 pages are left)")."""
    path, page_one = _grown_then_killed(tmp_path)
    with open(path, "r+b") as database:  # what the checkpoint wrote before the kill: page 1 only
        database.write(page_one)
    pages_said = int.from_bytes(page_one[28:32], "big")
    assert pages_said * len(page_one) > path.stat().st_size, "the file is shorter than its header says"

    found = inspect(path)
    assert found.unclean and not found.findings, found.findings
    with BDneXDB(path) as db:
        assert db.plugin_state.get("test", "299") == "x" * 2000, "the changes the -wal held are all there"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


@pytest.mark.parametrize("cut", ["pages the -wal never held", "a size no commit of the -wal made"])
def test_a_file_cut_short_beyond_what_its_wal_holds_is_still_damage(tmp_path, cut):
    path, page_one = _grown_then_killed(tmp_path)
    with open(path, "r+b") as database:
        if cut == "pages the -wal never held":  # the pages written before the -wal began are gone too
            database.write(page_one)
            database.truncate(2 * len(page_one))
        else:
            database.write(page_one[:28] + (10_000_000).to_bytes(4, "big") + page_one[32:])
    (finding,) = inspect(path).findings
    assert finding.file == path and finding.problem == Problem.DAMAGED and "cut short" in finding.what
