"""Killing a batch (SIGKILL) or interrupting it (Ctrl-C): resume finishes exactly what was left."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import CatalogueAlbum, sample_pages, write_cbz
from bdnex_testing.processes import start_cli
from bdnex_testing.shared import fake_bedetheque

FILES = 300


@pytest.fixture(scope="module")
def site():
    with fake_bedetheque() as running:
        yield running


@pytest.fixture(scope="module")
def template(site, tmp_path_factory):
    """A 300-file library (series folders, 'Série - T01 - Titre.cbz') and a catalogue database to copy."""
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
    db.close()
    return folder


def prepare(template: Path, target: Path, site) -> tuple[Path, Path, Path]:
    library = target / "library"
    shutil.copytree(template / "library", library)
    shutil.copyfile(template / "catalogue.db", target / "bdnex.db")
    config = target / "config.yaml"
    mapping = site.settings_mapping()
    mapping.update(
        {
            "database": {"path": str(target / "bdnex.db")},
            "cache": {"dir": str(target / "cache")},
            "pipeline": {"logs_dir": str(target / "logs"), "workers": 2},
        }
    )
    config.write_text(json.dumps(mapping))
    return library, config, target / "bdnex.db"


def cli(config: Path, *args: str) -> subprocess.Popen:
    return start_cli(config, *args, new_session=True)  # its own group: the test kills the whole group


def pages_of(path: Path) -> dict[str, tuple[int, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: (info.CRC, archive.read(info.filename))
            for info in archive.infolist()
            if info.filename != "ComicInfo.xml"
        }


def check_finished(library: Path, db_path: Path, session_id: int, expected_pages) -> None:
    files = sorted(library.rglob("*.cbz"))
    assert len(files) == FILES
    assert not list(library.rglob(".bdnex-tmp-*")), "a temporary file was left behind"
    db = BDneXDB(db_path)
    rows = db.db.execute("SELECT file_path, COUNT(*) FROM processed_files GROUP BY file_path").fetchall()
    assert len(rows) == FILES and all(count == 1 for _, count in rows)
    stats = db.get_session_stats(session_id)
    assert stats["status"] == "completed" and stats["remaining"] == 0
    states = dict(
        db.db.execute(
            "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", [session_id]
        ).fetchall()
    )
    assert stats["total_files"] == FILES == sum(states.values())
    assert stats["files_successful"] == states.get("done", 0) and stats["files_failed"] == states.get("failed", 0)
    assert stats["files_queued"] == states.get("queued", 0) and stats["files_skipped"] == states.get("skipped", 0)
    assert states.get("done", 0) >= FILES * 0.95
    for path in files:
        assert pages_of(path) == expected_pages  # opens, pages byte-identical
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
    db.close()


def wait_for_session(db_path: Path, timeout: float = 30.0) -> None:
    """Until the run has started its session (start-up time varies with the machine's load)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db_path.exists():
            try:
                with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as connection:
                    if connection.execute("SELECT COUNT(*) FROM processing_sessions").fetchone()[0]:
                        return
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.02)
    raise AssertionError(f"no session started in {timeout} s")


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(site, template, tmp_path):
    expected_pages = pages_of(next((template / "library").rglob("*.cbz")))
    rng = random.Random(2026)
    for trial in range(10):
        target = tmp_path / f"trial{trial}"
        target.mkdir()
        library, config, db_path = prepare(template, target, site)
        run = cli(config, "tag", str(library), "--batch", "--json")
        wait_for_session(db_path)
        time.sleep(rng.uniform(0.0, 2.6))
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        session_id = BDneXDB(db_path).list_sessions(limit=1)[0]["id"]
        resumed = cli(config, "--debug", "tag", "--resume", str(session_id), "--batch", "--json")
        started = time.monotonic()
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, f"trial {trial} after {time.monotonic() - started:.1f}s: {err[-2000:]}"
        assert json.loads(out)["status"] == "completed"
        check_finished(library, db_path, session_id, expected_pages)


@pytest.mark.slow
def test_ctrl_c_pauses_then_resume_completes(site, template, tmp_path):
    library, config, db_path = prepare(template, tmp_path, site)
    run = cli(config, "tag", str(library), "--batch", "--json")
    time.sleep(1.5)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "paused"
    db = BDneXDB(db_path)
    session = db.get_session_stats(summary["session_id"])
    assert session["status"] == "paused" and 0 < session["remaining"] < FILES
    done_before = session["files_processed"]
    db.close()
    resumed = cli(config, "tag", "--resume", str(summary["session_id"]), "--batch", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert json.loads(out)["status"] == "completed"
    check_finished(library, db_path, summary["session_id"], pages_of(next((tmp_path / "library").rglob("*.cbz"))))
    assert done_before > 0
