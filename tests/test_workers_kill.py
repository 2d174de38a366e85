"""Many workers, one library (issue 17): three `tag` processes share one library of 300 files and one
database; one is SIGKILLed mid-run and the two others finish its work. Every file is then recorded
once, each taggable file carries its ComicInfo, each session's counters match its files, no file is
worked twice (the album cache is shared, so each album page is fetched once), and no two requests to
the site come closer than the politeness delay. On SQLite and on PostgreSQL.
And in one process: a file queued for review by another run after this one listed it is left alone."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from bdnex_core.archives.safefile import TEMP_PREFIX
from bdnex_core.cli.demo import pick_albums
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.samplelib import build_library
from bdnex_core.hashing import canonical_path
from bdnex_core.pipeline import TagOptions, resume_tagging, tag_locations
from bdnex_testing.databases import peek_rows, peek_value
from bdnex_testing.pytest_plugin import database_mapping
from tests import test_shared_database_processes as shared_processes
from tests.test_shared_database_processes import SCHEDULING_SLACK

PRESENT, ABSENT, BROKEN = 292, 6, 2  # 300 files: albums of the catalogue, albums it lacks, damaged archives
PROCESSES, WORKERS = 3, 2
MIN_DELAY = 0.08
KILL_AFTER = 15  # files the victim has recorded when it is killed

site = shared_processes.site  # the fake site fixture of the processes tests (one per module)


def prepare(site, tmp_path: Path, location: str) -> tuple[Path, dict[str, str], list]:
    """The catalogue indexed into the shared database, the library, and the config every process reads."""
    database = database_mapping(location)
    mapping = {
        "database": database,
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": WORKERS},
        **site.settings_mapping(min_delay_seconds=MIN_DELAY, jitter_seconds=0.0),
    }
    shared_processes.index_catalogue(site, mapping)  # before the run: its requests are not checked
    present, absent = pick_albums(site, PRESENT, ABSENT, seed=17)
    assert len({album.album_id for album in present}) == PRESENT
    library = build_library(tmp_path / "library", present, absent, broken=BROKEN, pages_per_file=1)
    env = {**os.environ}
    if database.get("backend") == "postgresql":  # the password stays out of the file
        mapping["database"] = {"backend": "postgresql"}
        env["BDNEX_DATABASE_URL"] = location
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(mapping))
    env["BDNEX_CONFIG"] = str(config)
    return config, env, library


def start_tag(config: Path, env: dict[str, str], library: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), "tag", str(library), "--batch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def recorded_by(location: str, pid: int) -> int:
    """Files ``pid`` has tagged and recorded (not the ones it found done by another run)."""
    return peek_value(location, "SELECT COUNT(*) FROM session_files WHERE worker_pid = ? AND state = 'done'", (pid,))


@pytest.mark.slow
def test_three_processes_on_one_library_finish_the_work_of_one_killed_mid_run(site, tmp_path, database_location):
    location = database_location
    config, env, library = prepare(site, tmp_path, location)
    site.clear_log()
    started = [start_tag(config, env, tmp_path / "library") for _ in range(PROCESSES)]
    victim, survivors = started[0], started[1:]
    try:
        deadline = time.monotonic() + 240
        while recorded_by(location, victim.pid) < KILL_AFTER and victim.poll() is None:
            assert time.monotonic() < deadline, "the victim recorded too few files in time"
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()  # reaped: a zombie would still look alive to the claims' liveness check
        assert victim.returncode == -signal.SIGKILL, f"the victim ended before it was killed: {victim.stdout.read()}"
        done_by_victim = recorded_by(location, victim.pid)
        results = [(run.wait(timeout=300), run.communicate()[0]) for run in survivors]
    finally:
        for run in started:
            if run.poll() is None:
                run.kill()
                run.wait()
    for code, output in results:
        assert code in (0, 1), output  # 1: the damaged archives failed, as they should
        assert "unexpected" not in output and "locked" not in output and "Traceback" not in output, output
    assert KILL_AFTER <= done_by_victim < PRESENT

    # every file recorded once, in the state its kind calls for; the matched ones with their album
    expected = {canonical_path(sample.path): sample for sample in library}
    recorded = peek_rows(location, "SELECT file_path, status, decision, bdgest_id FROM processed_files")
    assert Counter(path for path, *_ in recorded).most_common(1)[0][1] == 1
    assert {path for path, *_ in recorded} == set(expected)
    kinds = {"present": ("success", None), "absent": ("waiting", "review"), "broken": ("failed", None)}
    for path, status, decision, album_id in recorded:
        sample = expected[path]
        assert (status, decision if status == "waiting" else None) == kinds[sample.kind], (path, status, decision)
        assert album_id == sample.expected_album_id or sample.kind != "present", (path, album_id)

    # ComicInfo.xml in each tagged archive (none in the others); the killed writer left no comic behind
    for sample in library:
        if sample.kind == "broken":
            continue
        with zipfile.ZipFile(sample.path) as archive:
            assert ("ComicInfo.xml" in archive.namelist()) == (sample.kind == "present"), sample.path
    left = {canonical_path(path) for path in (tmp_path / "library").rglob("*") if path.is_file()}
    assert all(Path(path).name.startswith(TEMP_PREFIX) for path in left - set(expected)), left - set(expected)

    # each session's counters are those of its files, the killed one's too (one transaction each)
    sessions = peek_rows(
        location,
        "SELECT id, pid, status, total_files, files_processed, files_successful, files_failed, files_skipped, "
        "files_waiting, COALESCE(files_unchanged, 0) FROM processing_sessions ORDER BY id",
    )
    assert len(sessions) == PROCESSES
    states = {
        (session_id, state): count
        for session_id, state, count in peek_rows(
            location, "SELECT session_id, state, COUNT(*) FROM session_files GROUP BY session_id, state"
        )
    }
    for session_id, pid, status, total, processed, successful, failed, skipped, waiting, unchanged in sessions:
        count = {
            state: states.get((session_id, state), 0) for state in ("pending", "done", "failed", "skipped", "waiting")
        }
        assert (successful, failed, skipped - unchanged, waiting) == (
            count["done"],
            count["failed"],
            count["skipped"],
            count["waiting"],
        ), (session_id, count)
        assert total == sum(count.values()) + unchanged and processed == total - count["pending"], session_id
        assert status == ("running" if pid == victim.pid else "completed"), (pid, status)
        assert count["pending"] == 0 or pid == victim.pid, (session_id, count)

    # no file worked twice: one tagging (or review queueing) per file across the sessions, and its
    # album set once in its history; the damaged archives fail in each run that reaches them
    worked = peek_rows(
        location,
        "SELECT item_key, state, COUNT(*) FROM session_files WHERE state IN ('done', 'waiting') GROUP BY item_key, state",
    )
    assert Counter(state for _, state, _ in worked) == {"done": PRESENT, "waiting": ABSENT}
    assert [row for row in worked if row[2] != 1] == []
    album_set = peek_rows(
        location, "SELECT file_id, COUNT(*) FROM metadata_history WHERE field = 'bdgest_id' GROUP BY file_id"
    )
    assert len(album_set) == PRESENT and {count for _, count in album_set} == {1}
    assert peek_rows(location, "SELECT COUNT(*) FROM file_claims") == [(0,)]  # the killed run's claims taken, released

    # the album cache is shared: each page fetched once, but for the few the victim had in flight
    album_pages = Counter(entry.path for entry in site.requests("/BD-"))
    assert sum(count - 1 for count in album_pages.values()) <= 2 * WORKERS, album_pages.most_common(5)
    # politeness held across the three processes, at arrival (a request killed in flight included)
    logged = sorted(
        (entry for entry in site.requests() if not entry.path.startswith("/_fake")), key=lambda e: e.arrived
    )
    close = [
        (round(later.arrived - earlier.arrived, 3), earlier.path, later.path)
        for earlier, later in itertools.pairwise(logged)
        if later.arrived - earlier.arrived < MIN_DELAY - SCHEDULING_SLACK
    ]
    assert close == [], f"(gap, request, next request): {close}"


def test_a_file_queued_for_review_by_another_run_meanwhile_is_not_matched_again(site, tmp_path, database_location):
    """A run lists a file; before it gets there, another run queues it for review: the first finds
    it recorded and unchanged, and leaves it (and its review entry) alone."""
    mapping = {"database": database_mapping(database_location), "cache": {"dir": str(tmp_path / "cache")}}
    shared_processes.index_catalogue(site, mapping)
    settings = from_mapping({**mapping, **site.settings_mapping()})
    _, absent = pick_albums(site, 1, 1, seed=5)
    (sample,) = build_library(tmp_path / "library", [], absent, broken=0, pages_per_file=1)
    options = TagOptions(workers=1, locations=(str(tmp_path / "library"),))
    with BDneXDB(settings=settings) as db:
        first = db.sessions.start(str(tmp_path / "library"), options=options.to_dict())
        db.sessions.add_files(first, [sample.path])
        db.sessions.update(first, status="paused")
        second = tag_locations(settings, db, options)
        assert second.counts["waiting"] == 1, second.counts
        resumed = resume_tagging(settings, db, first)
        assert resumed.counts["skipped"] == 1 and resumed.counts["waiting"] == 0, resumed.counts
        assert [entry["session_id"] for entry in db.reviews.waiting()] == [second.session_id]


def test_a_killed_runs_claim_on_a_file_every_live_run_has_passed_is_swept_when_a_run_ends(
    site, tmp_path, database_location
):
    """The race the kill test met on a loaded machine: the victim claims a file the live runs have already
    recorded (or never listed, finding it done), then dies. No live run reaches that file again to take the
    claim over; the next run to end sweeps it. A live run's claim stays (here, and on another machine)."""
    mapping = {"database": database_mapping(database_location), "cache": {"dir": str(tmp_path / "cache")}}
    shared_processes.index_catalogue(site, mapping)
    settings = from_mapping({**mapping, **site.settings_mapping()})
    _, absent = pick_albums(site, 1, 1, seed=5)
    (sample,) = build_library(tmp_path / "library", [], absent, broken=0, pages_per_file=1)
    options = TagOptions(workers=1, locations=(str(tmp_path / "library"),))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with BDneXDB(settings=settings) as db:
        assert tag_locations(settings, db, options).counts["waiting"] == 1
        killed, live, elsewhere = (db.sessions.start(folder) for folder in (str(tmp_path / "library"), "/live", "/far"))
        assert db.sessions.claim(killed, canonical_path(sample.path)) is None
        db.backend.execute("UPDATE file_claims SET pid = ? WHERE session_id = ?", [int(dead.stdout), killed])
        assert db.sessions.claim(live, "/live/a.cbz") is None  # this process: alive
        assert db.sessions.claim(elsewhere, "/far/a.cbz") is None
        db.backend.execute("UPDATE file_claims SET host = 'another-machine' WHERE session_id = ?", [elsewhere])
        again = tag_locations(settings, db, options)
        assert again.unchanged == 1  # the claimed file was never claimed again by this run
    left = peek_rows(database_location, "SELECT session_id, item_key FROM file_claims ORDER BY session_id")
    assert left == [(live, "/live/a.cbz"), (elsewhere, "/far/a.cbz")]
