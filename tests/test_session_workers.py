"""`sessions info` shows the workers of a session: here a run killed mid-way on a library and the
process that resumed it, each with its pid, host, files done and last sign of life."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.cli.demo import pick_albums
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.demo.samplelib import build_library
from bdnex_core.session_workers import session_workers

FILES = 12


@pytest.fixture(scope="module")
def site():
    reset_politeness()
    with FakeBedetheque() as running:
        yield running
    reset_politeness()


def command(config, *args: str) -> list[str]:
    return [sys.executable, "-m", "bdnex_core", "--config", str(config), *args]


def session_info(config, session_id: int) -> dict:
    shown = subprocess.run(
        command(config, "sessions", "info", str(session_id), "--json"), capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def files_recorded(database) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM session_files WHERE state != 'pending'").fetchone()[0]


@pytest.mark.slow
def test_a_killed_run_and_the_one_that_resumed_it_are_both_workers_of_the_session(site, tmp_path):
    database = tmp_path / "bdnex.db"
    mapping = {
        "database": {"path": str(database)},
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 2},
        **site.settings_mapping(min_delay_seconds=0.4),  # slow enough to find the first run at work
    }
    with BDneXDB(database, settings=from_mapping(mapping)) as db:
        Catalogue(db).update_online(BedethequeClient(from_mapping(mapping)))
    present, _ = pick_albums(site, FILES, 0, seed=11)
    build_library(tmp_path / "library", present, broken=0)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(mapping))
    env = {**os.environ, "BDNEX_CONFIG": str(config)}

    first = subprocess.Popen(
        command(config, "tag", str(tmp_path / "library"), "--batch"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while files_recorded(database) < 3 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with BDneXDB(database, settings=from_mapping(mapping)) as db:
            (session,) = db.list_sessions()
            while_running = session_workers(db, session["id"])
    finally:
        first.kill()
        first.wait()
    assert [(w["pid"], w["host"], w["running"]) for w in while_running] == [(first.pid, socket.gethostname(), True)]
    assert while_running[0]["files_done"] >= 3 and while_running[0]["last_heartbeat"]
    done_by_first = files_recorded(database)
    assert done_by_first < FILES, "the first run finished before it was killed"

    second = subprocess.run(
        command(config, "tag", "--resume", str(session["id"]), "--batch"), capture_output=True, text=True, env=env
    )
    assert second.returncode == 0, second.stdout + second.stderr
    info = session_info(config, session["id"])
    workers = info["workers"]
    assert len(workers) == 2 and workers[0]["pid"] == first.pid, workers
    killed, resumer = workers
    assert killed["files_done"] == done_by_first and not killed["running"]
    assert resumer["files_done"] == FILES - done_by_first and not resumer["running"]
    assert killed["in_flight"] == resumer["in_flight"] == 0  # claims of the killed run were taken over, then released
    assert info["files_successful"] == FILES

    text = subprocess.run(command(config, "sessions", "info", str(session["id"])), capture_output=True, text=True)
    assert f"worker pid {first.pid} on {socket.gethostname()}: {done_by_first} files done" in text.stdout
    assert f"worker pid {resumer['pid']} on {socket.gethostname()}: {FILES - done_by_first} files done" in text.stdout
