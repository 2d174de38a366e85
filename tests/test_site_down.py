"""The site goes away (or our hourly cap is used up) in the middle of a library: the run stops, the
session is paused with every file not done still pending (none failed for it), exit code 4 with
the resume command; once the site is back, ``tag --resume`` finishes the library.

Real processes (the CLI in a subprocess), the fake site stopped for real (its port closed, its
open connections cut), real archives and a real database.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, human
from bdnex_core.demo.samplelib import CatalogueAlbum, build_library
from bdnex_testing.processes import start_cli
from bdnex_testing.pytest_plugin import database_mapping

FILES = 60


@pytest.fixture
def site():
    reset_politeness()
    running = FakeBedetheque(network_delay=0.05).start()  # slow enough that the library takes a few seconds
    yield running
    running.stop()
    reset_politeness()


@pytest.fixture
def library(site, tmp_path, database_location):
    """60 files of regular tomes, an indexed catalogue, and a configuration for the CLI (2 workers),
    on SQLite then on PostgreSQL. Every album is read from its own page (``album_pages: always``): a
    run of one request per file is long enough to stop in its middle."""
    tomes = [e for e in site.catalogue.albums.values() if e.tome_kind == "regular" and (e.tome or "").isdigit()]
    chosen = random.Random(15).sample(tomes, FILES)
    folder = tmp_path / "library"
    build_library(
        folder,
        [CatalogueAlbum(e.album_id, human(e.series_slug), e.tome, human(e.title_slug) or None) for e in chosen],
        broken=0,
        pages_per_file=2,
    )
    mapping = {
        "database": database_mapping(database_location),
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 2},
        **site.settings_mapping(album_pages="always"),
    }
    db = BDneXDB(settings=from_mapping(mapping))
    Catalogue(db).update_online(BedethequeClient(from_mapping(mapping)))
    db.close()
    reset_politeness()
    site.clear_log()
    return folder, mapping, tmp_path, database_location


def write_config(tmp_path: Path, mapping: dict) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(mapping))
    return config


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


def states(location: str, session_id: int) -> dict[str, int]:
    db = BDneXDB(location)
    try:
        return dict(
            db.backend.tuples(
                "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", [session_id]
            )
        )
    finally:
        db.close()


def check_stopped(out: str, code: int, location: str, *, because: str) -> int:
    """Exit 4, paused, one line with the resume command, no file failed; returns the session id."""
    assert code == 4, out
    summary = json.loads(out)
    session_id = summary["session_id"]
    message = summary["message"]
    assert because in message and f"bdnex-core tag --resume {session_id}" in message and "\n" not in message
    assert summary["counts"]["failed"] == 0, summary["failures"]
    counted = states(location, session_id)
    assert counted.get("failed", 0) == 0 and 0 < counted.get("pending", 0) < FILES, counted
    db = BDneXDB(location)
    try:
        assert db.sessions.get(session_id)["status"] == "paused"
        assert db.backend.value("SELECT COUNT(*) FROM processed_files WHERE status = 'failed'") == 0
    finally:
        db.close()
    return session_id


def check_resumed(config: Path, location: str, session_id: int) -> None:
    resumed = start_cli(config, "tag", "--resume", str(session_id), "--batch", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    assert json.loads(out)["status"] == "completed"
    counted = states(location, session_id)
    assert sum(counted.values()) == FILES and not counted.get("pending") and not counted.get("failed"), counted
    assert counted.get("done", 0) >= FILES * 0.8, counted  # the others wait in the review queue


def test_site_stopped_mid_library_pauses_the_run_then_resume_completes(site, library):
    folder, mapping, tmp_path, location = library
    config = write_config(tmp_path, mapping)
    run = start_cli(config, "tag", str(folder), "--batch", "--json")
    try:
        wait_until(lambda: len(site.requests("/BD-")) >= 12, 120, "twelve album pages fetched")
        site.stop()
        stopped_at = time.monotonic()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    took = time.monotonic() - stopped_at
    assert took < 60, f"the run went on {took:.0f} s after the site went away"
    session_id = check_stopped(out, run.returncode, location, because="not usable now")
    site.start()  # back, on the same address
    check_resumed(config, location, session_id)


def test_hourly_cap_pauses_the_run_then_resume_completes(site, library):
    folder, mapping, tmp_path, location = library
    capped = {**mapping, "catalogue": {**mapping["catalogue"], "max_requests_per_hour": 15}}
    config = write_config(tmp_path, capped)
    run = start_cli(config, "tag", str(folder), "--batch", "--json")
    out, err = run.communicate(timeout=300)
    session_id = check_stopped(out, run.returncode, location, because="max_requests_per_hour")
    assert len(site.requests()) <= 15
    write_config(tmp_path, mapping)  # a new hour, as far as the cap knows
    check_resumed(config, location, session_id)


def test_the_summary_carries_the_error_that_stopped_the_run(site, library):
    """For callers that pause and retry (a Komga watcher): the error itself, with its fields."""
    from bdnex_core.errors import HourlyCapReached
    from bdnex_core.pipeline import TagOptions, collect_items, run_tagging

    folder, mapping, tmp_path, _location = library
    settings = from_mapping({**mapping, "catalogue": {**mapping["catalogue"], "max_requests_per_hour": 5}})
    db = BDneXDB(settings=settings)
    try:
        items = collect_items(settings, "folder", [str(folder)])
        summary = run_tagging(settings, db, items, TagOptions(workers=2))
    finally:
        db.close()
    assert summary.exit_code == 4 and isinstance(summary.stopped_by, HourlyCapReached)
    assert summary.stopped_by.stops_run and summary.count("failed") == 0


def test_catalogue_update_with_the_site_gone_is_one_line_and_exit_4(tmp_path, capsys):
    from bdnex_core.cli import main

    reset_politeness()
    site = FakeBedetheque().start()
    mapping = {"database": {"path": str(tmp_path / "bdnex.db")}, "cache": {"dir": str(tmp_path / "cache")}}
    config = write_config(tmp_path, {**mapping, **site.settings_mapping()})
    site.stop()
    try:
        code = main(["--config", str(config), "catalogue", "update"])
    finally:
        reset_politeness()
    err = capsys.readouterr().err
    assert code == 4, err
    assert "not usable now" in err and "unexpected" not in err and len(err.strip().splitlines()) == 1
