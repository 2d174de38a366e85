"""Two processes writing to one database at once: no "database is locked", no lost row (on SQLite and
on PostgreSQL); SQLite's own write lock: waited for, or a one-line error naming the setting; and one
SQLite connection used by two threads: each waits for the other's transaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

from bdnex_core.db import BDneXDB
from bdnex_core.store.backend import SQLiteBackend

WRITER = textwrap.dedent(
    """
    import sys
    from bdnex_core.db import BDneXDB
    db = BDneXDB(sys.argv[1])
    name = sys.argv[2]
    session_id = db.sessions.start(f"/{name}")
    db.sessions.add_files(session_id, [(f"/{name}/{n}.cbz", f"/{name}/{n}.cbz") for n in range(500)])
    for n in range(500):
        path = f"/{name}/{n}.cbz"
        file_id = db.files.record_processing(path, session_id, {"title": f"{name} {n}", "file_hash": f"{name}{n}"})
        db.sessions.mark_file(session_id, path, "done", file_id=file_id)
    print(session_id)
    """
)


def test_two_processes_write_500_records_each(database_location):
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, database_location, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err
    db = BDneXDB(database_location)
    assert db.backend.value("SELECT COUNT(*) FROM processed_files") == 1000
    for out, _ in outputs:
        stats = db.sessions.stats(int(out.strip()))
        assert stats["total_files"] == 500 and stats["files_successful"] == 500
    assert db.backend.value("SELECT COUNT(*) FROM metadata_history") == 1000
    db.close()


# The tests below are about SQLite's file lock (BEGIN IMMEDIATE from another process, busy_timeout_ms):
# PostgreSQL has row locks and no such setting, so they stay SQLite-only.


HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    print("holding", flush=True)
    if len(sys.argv) > 2:
        time.sleep(float(sys.argv[2]))
    else:
        sys.stdin.readline()  # until the test says so (or closes the pipe)
    connection.execute("COMMIT")
    """
)


def hold_write_lock(path, seconds=None):
    """Another process that takes the database's write lock and keeps it ``seconds``, or until
    :func:`release` (a loaded machine may take longer than any fixed time to start the command
    that must meet the lock)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), *([] if seconds is None else [str(seconds)])],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def release(holder):
    holder.stdin.close()
    holder.wait(timeout=60)


def test_a_write_waits_for_another_process_even_with_a_read_open(tmp_path):
    """SQLite answers "database is locked" at once, without the busy timeout, to a connection that
    has a read open (an unfinished cursor): the write must still wait for the other process."""
    path = tmp_path / "shared.db"
    db = BDneXDB(path)
    for number in range(3):
        db.files.record_processing(f"/lib/{number}.cbz", None, {"file_hash": str(number)})
    open_read = db.db.conn.execute("SELECT file_path FROM processed_files")
    open_read.fetchone()
    holder = hold_write_lock(path, 1.5)
    try:
        db.files.record_processing("/lib/new.cbz", None, {"file_hash": "new"})
    finally:
        release(holder)
    open_read.close()
    assert db.files.get("/lib/new.cbz") is not None


def test_a_lock_held_longer_than_the_busy_timeout_is_exit_3_with_a_hint(tmp_path):
    import json

    path = tmp_path / "shared.db"
    BDneXDB(path).close()
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"database": {"path": str(path), "busy_timeout_ms": 300}}))
    holder = hold_write_lock(path)  # held until the command has ended, however long it takes to start
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bdnex_core", "--config", str(config), "stats", "--snapshot"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        release(holder)
    assert result.returncode == 3, result.stderr
    assert "unexpected" not in result.stderr
    assert "locked" in result.stderr and "busy_timeout_ms" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


OPEN_AT_THE_SAME_MOMENTS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bdnex_core.store.backend import connect_sqlite
    folder, start, count = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    for number in range(count):
        moment = start + number * 0.05
        while time.time() < moment:
            pass
        connection = connect_sqlite(folder / f"{number}.db", 30000)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        connection.close()
    """
)


def test_processes_creating_one_database_at_the_same_moment_all_open_it(tmp_path):
    """Processes that make one new database file at the same instant both ask SQLite for WAL mode:
    it refuses one at once ("locked", without its busy wait) rather than deadlock; that one asks again.
    Three processes meet at 60 shared instants (one new file each): unhandled, ~6 % of the meetings failed."""
    start = time.time() + 2.0
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT_THE_SAME_MOMENTS, str(tmp_path), str(start), "60"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for opener in openers:
        _, err = opener.communicate(timeout=300)
        assert opener.returncode == 0, err


# One SQLite connection used by two threads of one process: each statement of the other thread waits
# for a transaction in progress (as on PostgreSQL), never runs inside it nor leaves a read open under it.


def test_a_statement_of_another_thread_never_runs_inside_a_transaction_on_the_same_connection(tmp_path):
    """Run inside the transaction, the other thread's insert would be undone with it."""
    backend = SQLiteBackend(tmp_path / "shared.db", 30000)
    backend.execute("CREATE TABLE notes (text TEXT NOT NULL)")
    about_to_insert = threading.Event()

    def insert_from_another_thread() -> None:
        about_to_insert.set()
        backend.execute("INSERT INTO notes (text) VALUES ('kept')")

    other = threading.Thread(target=insert_from_another_thread)
    with pytest.raises(RuntimeError), backend.write():
        backend.execute("INSERT INTO notes (text) VALUES ('undone')")
        other.start()
        assert about_to_insert.wait(30)
        time.sleep(0.3)  # time for its insert to land in this transaction, were the connection not guarded
        raise RuntimeError("this transaction is rolled back")
    other.join(30)
    assert [text for (text,) in backend.tuples("SELECT text FROM notes")] == ["kept"]
    backend.close()


def test_a_read_of_another_thread_on_the_same_connection_never_fails_its_writes(tmp_path):
    """A read open on the connection when a write begins, another connection having committed since,
    makes SQLite refuse the write at once: SQLITE_BUSY_SNAPSHOT, "database is locked", which a `tag`
    run met when a worker read through the runner's connection. Unguarded, this loop meets it within
    a fraction of a second."""
    path = tmp_path / "shared.db"
    shared, other = SQLiteBackend(path, 30000), SQLiteBackend(path, 30000)
    shared.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    shared.execute("INSERT INTO notes (text) VALUES ('first')")
    long_read = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) "
        "SELECT x, (SELECT text FROM notes WHERE id = 1) FROM n"
    )
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_going(action: Callable[[], object]) -> Callable[[], None]:
        def loop() -> None:
            while not stop.is_set():
                try:
                    action()
                except BaseException as exc:  # what failed is what the test reports
                    errors.append(exc)
                    stop.set()

        return loop

    def write(backend: SQLiteBackend, text: str) -> Callable[[], object]:
        def one() -> None:
            with backend.write():
                backend.execute("INSERT INTO notes (text) VALUES (?)", [text])

        return one

    threads = [
        threading.Thread(target=keep_going(lambda: shared.tuples(long_read))),
        threading.Thread(target=keep_going(write(shared, "shared"))),
        threading.Thread(target=keep_going(write(other, "other"))),
    ]
    for thread in threads:
        thread.start()
    stop.wait(1.5)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert shared.value("SELECT COUNT(*) FROM notes WHERE text = 'shared'") > 0
    shared.close()
    other.close()
