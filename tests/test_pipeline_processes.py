"""The README's flow as a user runs it: `catalogue update`, then `tag LIBRARY`, each its own process,
on a new database, against the fake site with no delay: no "database is locked", every file recorded.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bdnex_core.bedetheque.client import reset_politeness
from bdnex_core.cli.demo import pick_albums
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.demo.samplelib import build_library
from bdnex_testing.databases import peek_rows, peek_value
from bdnex_testing.pytest_plugin import database_mapping

FILES = 30


@pytest.fixture(scope="module")
def site():
    reset_politeness()
    with FakeBedetheque() as running:
        yield running


def make_library(site, folder: Path, *, seed: int = 2026) -> list[Path]:
    """A library like the demo's: mostly albums of the catalogue, a few absent ones, one broken file
    (which fails at once, while the first worker may still be building the matcher's index)."""
    present, absent = pick_albums(site, FILES - 4, 3, seed=seed)
    return [sample.path for sample in build_library(folder, present, absent, broken=1)]


def write_config(site, folder: Path, workers: int, location: str) -> Path:
    config = folder / "config.yaml"
    mapping = {
        "database": database_mapping(location),
        "cache": {"dir": str(folder / "cache")},
        "pipeline": {"logs_dir": str(folder / "logs"), "workers": workers},
        **site.settings_mapping(),
    }
    config.write_text(json.dumps(mapping))
    return config


def cli(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BDNEX_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("database_location", "workers", "attempts"),
    # "database is locked" was SQLite's failure: PostgreSQL gets one case, for CI's time
    [("sqlite", 2, 5), ("sqlite", 4, 5), ("postgresql", 4, 2)],
    indirect=["database_location"],
)
def test_catalogue_update_then_tag_in_separate_processes(site, tmp_path, new_database, workers, attempts):
    for attempt in range(attempts):
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        library = make_library(site, folder / "library", seed=attempt)
        location = new_database(folder)
        config = write_config(site, folder, workers, location)
        update = cli(config, "catalogue", "update")
        assert update.returncode == 0, update.stderr
        run = cli(config, "tag", str(folder / "library"), "--batch")
        output = run.stdout + run.stderr
        assert "locked" not in output and "unexpected" not in output, output
        assert run.returncode in (0, 1), output
        recorded = peek_value(location, "SELECT COUNT(*) FROM processed_files")
        states = dict(peek_rows(location, "SELECT state, COUNT(*) FROM session_files GROUP BY state"))
        status = peek_rows(location, "SELECT status FROM processing_sessions")
        assert recorded == len(library), (states, output)
        assert "pending" not in states, states
        assert status == [("completed",)]


@pytest.mark.slow
def test_two_simultaneous_runs_never_tag_a_file_twice(site, tmp_path, database_location):
    """Two `tag` processes on one library and database at once: each file is written by one run only;
    the other finds it done (skipped), none is reported failed."""
    library = make_library(site, tmp_path / "library")
    config = write_config(site, tmp_path, 2, database_location)
    assert cli(config, "catalogue", "update").returncode == 0
    site.network_delay = 0.05  # requests take a while: the two runs overlap
    try:
        env = {**os.environ, "BDNEX_CONFIG": str(config)}
        command = [sys.executable, "-m", "bdnex_core", "--config", str(config), "tag", str(tmp_path / "library")]
        runs = [
            subprocess.Popen([*command, "--batch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
    finally:
        site.network_delay = 0.0
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert "unexpected" not in out + err and "locked" not in out + err, out + err
    done = peek_rows(
        database_location, "SELECT item_key, COUNT(*) FROM session_files WHERE state = 'done' GROUP BY item_key"
    )
    failed = peek_rows(database_location, "SELECT file_path, error_msg FROM session_files WHERE state = 'failed'")
    statuses = dict(peek_rows(database_location, "SELECT status, COUNT(*) FROM processed_files GROUP BY status"))
    claims = peek_value(database_location, "SELECT COUNT(*) FROM file_claims")
    twice = [key for key, count in done if count > 1]
    assert twice == []
    # the broken archive fails in each run (each run tries it, one after the other); nothing else
    assert {Path(path).name for path, _ in failed} <= {"Archive abimee 1 - T01.cbz"}, failed
    assert statuses.get("success", 0) == len(done) and statuses.get("failed", 0) == 1, statuses
    assert sum(statuses.values()) == len(library)
    assert claims == 0
