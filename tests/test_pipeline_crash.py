"""Killing a batch (SIGKILL) or interrupting it (Ctrl-C): resume finishes exactly what was left,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.catalogue_index import update_index
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import CatalogueAlbum, sample_pages, write_cbz
from bdnex_testing.databases import copy_into, peek_rows, peek_value
from bdnex_testing.processes import start_cli
from bdnex_testing.pytest_plugin import database_mapping
from bdnex_testing.shared import fake_bedetheque

# the kills land in the first 2.6 s after the session appears (at most 29 files recorded in 3 trials of 300 on
# a loaded 2-core machine): more files than the run needs to outlast that only lengthen each resume; each
# trial checks that its kill came before the end of the run
FILES = 200
# SIGKILL trials per backend: PostgreSQL's are fewer (CI time); SQLite's file locks are the riskier side
TRIALS = {"sqlite": 10, "postgresql": 3}


@pytest.fixture(scope="module")
def site():
    with fake_bedetheque() as running:
        yield running


@pytest.fixture(scope="module")
def template(site, tmp_path_factory):
    """A library (series folders, 'Série - T01 - Titre.cbz') and a catalogue database with its index
    file, both copied into each trial."""
    folder = tmp_path_factory.mktemp("template")
    rng = random.Random(99)
    pool = [
        entry
        for entries in site.catalogue.series.values()
        for entry in entries
        if entry.tome_kind == "regular" and entry.tome and entry.tome.isdigit()
    ]
    albums = [
        CatalogueAlbum(e.album_id, human(e.series_slug), e.tome, human(e.title_slug) or None)
        for e in rng.sample(pool, FILES)
    ]
    pages = sample_pages("page", 3, 7)
    library = folder / "library"
    for album in albums:
        name = f"{album.series} - T{int(album.tome):02d}" + (f" - {album.title}" if album.title else "") + ".cbz"
        write_cbz(library / album.series.replace("/", " ")[:60] / name.replace("/", " "), pages)
    reset_politeness()
    settings = from_mapping(
        {
            "database": {"path": str(folder / "catalogue.db")},
            "cache": {"dir": str(folder / "cache")},
            **site.settings_mapping(),
        }
    )
    db = BDneXDB(settings=settings)
    Catalogue(db).update_online(BedethequeClient(settings))
    update_index(db, settings, announce=lambda _line: None)
    db.close()
    return folder


def files_recorded(location: str) -> int:
    return peek_value(location, "SELECT COUNT(*) FROM session_files WHERE state != 'pending'", not_yet=0)


def prepare(template: Path, target: Path, site, location: str) -> tuple[Path, Path]:
    library = target / "library"
    shutil.copytree(template / "library", library)
    copy_into(template / "catalogue.db", location, cache_dir=target / "cache")
    config = target / "config.yaml"
    mapping = site.settings_mapping()
    mapping.update(
        {
            "database": database_mapping(location),
            "cache": {"dir": str(target / "cache")},
            "pipeline": {"logs_dir": str(target / "logs"), "workers": 2},
        }
    )
    config.write_text(json.dumps(mapping))
    return library, config


def cli(config: Path, *args: str) -> subprocess.Popen:
    return start_cli(config, *args, new_session=True)  # its own group: the test kills the whole group


def pages_of(path: Path) -> dict[str, tuple[int, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: (info.CRC, archive.read(info.filename))
            for info in archive.infolist()
            if info.filename != "ComicInfo.xml"
        }


def check_finished(library: Path, location: str, session_id: int, expected_pages) -> None:
    files = sorted(library.rglob("*.cbz"))
    assert len(files) == FILES
    assert not list(library.rglob(".bdnex-tmp-*")), "a temporary file was left behind"
    db = BDneXDB(location)
    rows = db.backend.tuples("SELECT file_path, COUNT(*) FROM processed_files GROUP BY file_path")
    assert len(rows) == FILES and all(count == 1 for _, count in rows)
    stats = db.sessions.stats(session_id)
    assert stats["status"] == "completed" and stats["remaining"] == 0
    states = dict(
        db.backend.tuples("SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", [session_id])
    )
    assert stats["total_files"] == FILES == sum(states.values())
    assert stats["files_successful"] == states.get("done", 0) and stats["files_failed"] == states.get("failed", 0)
    assert stats["files_waiting"] == states.get("waiting", 0) and stats["files_skipped"] == states.get("skipped", 0)
    assert states.get("done", 0) >= FILES * 0.95
    for path in files:
        assert pages_of(path) == expected_pages  # opens, pages byte-identical
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
    db.close()


def wait_for_session(location: str, timeout: float = 30.0) -> None:
    """Until the run has started its session (start-up time varies with the machine's load)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if peek_value(location, "SELECT COUNT(*) FROM processing_sessions", not_yet=0):
            return
        time.sleep(0.02)
    raise AssertionError(f"no session started in {timeout} s")


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(site, template, tmp_path, new_database, database_location):
    expected_pages = pages_of(next((template / "library").rglob("*.cbz")))
    rng = random.Random(2026)
    recorded_at_kills = []
    backend = "postgresql" if database_location.startswith("postgresql://") else "sqlite"
    for trial in range(TRIALS[backend]):
        target = tmp_path / f"trial{trial}"
        target.mkdir()
        location = new_database(target)
        library, config = prepare(template, target, site, location)
        run = cli(config, "tag", str(library), "--batch", "--json")
        wait_for_session(location)
        time.sleep(rng.uniform(0.0, 2.6))
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        (session_id, status) = peek_rows(location, "SELECT id, status FROM processing_sessions")[0]
        recorded = files_recorded(location)
        assert status == "running" and recorded < FILES, f"trial {trial}: the kill came after the run ({recorded})"
        recorded_at_kills.append(recorded)
        resumed = cli(config, "--debug", "tag", "--resume", str(session_id), "--batch", "--json")
        started = time.monotonic()
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, f"trial {trial} after {time.monotonic() - started:.1f}s: {err[-2000:]}"
        assert json.loads(out)["status"] == "completed"
        check_finished(library, location, session_id, expected_pages)
    print(f"files recorded at each kill: {recorded_at_kills} of {FILES}")


@pytest.mark.slow
def test_ctrl_c_pauses_then_resume_completes(site, template, tmp_path, database_location):
    library, config = prepare(template, tmp_path, site, database_location)
    run = cli(config, "tag", str(library), "--batch", "--json")
    # interrupt once the run is under way (on a loaded machine, 1.5 s may still be start-up)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not files_recorded(database_location):
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "paused"
    db = BDneXDB(database_location)
    session = db.sessions.stats(summary["session_id"])
    assert session["status"] == "paused" and 0 < session["remaining"] < FILES
    done_before = session["files_processed"]
    db.close()
    resumed = cli(config, "tag", "--resume", str(summary["session_id"]), "--batch", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert json.loads(out)["status"] == "completed"
    check_finished(
        library, database_location, summary["session_id"], pages_of(next((tmp_path / "library").rglob("*.cbz")))
    )
    assert done_before > 0
