"""Processes sharing one database. Politeness is global: `tag` processes keep the minimum delay
between their requests and the hourly cap together, not each its own, measured where the site measures
it: the fake site logs when each request arrived. A process that stalls between the grant of its turn
and its send (as a GC pause or a slow connect does) still lets no request arrive too close to its own.
`sessions info` shows the workers of a session: a run killed mid-way on a library
and the process that resumed it, each with its pid, host, files done and last sign of life. On SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.cli.demo import pick_albums
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.demo.samplelib import build_library
from bdnex_testing.databases import peek_value
from bdnex_testing.pytest_plugin import database_mapping

MIN_DELAY = 0.3
# the site stamps a request when its server thread has read the request line: on a loaded machine that
# thread may wake a few milliseconds late, bringing two stamps closer than the requests arrived; runs
# that ignore each other (or space their grants, not their sends) come far closer
SCHEDULING_SLACK = 0.05
STALL = 0.29  # between grant and send: the stall that let two requests arrive 9 ms apart (issue 29)


@pytest.fixture(scope="module")
def site():
    reset_politeness()
    with FakeBedetheque() as running:
        yield running
    reset_politeness()


def index_catalogue(site, mapping: dict) -> None:
    """The catalogue index into the database of ``mapping``, through a bare client (no shared slot)."""
    settings = from_mapping({**site.settings_mapping(), **mapping})
    reset_politeness()
    with BDneXDB(settings=settings) as db:
        Catalogue(db).update_online(BedethequeClient(settings))


def prepare(site, tmp_path: Path, location: str, runs: int, files: int, **catalogue) -> list[Path]:
    """One database with the catalogue index, and per run: a library of its own albums and a config
    (its own cache and logs, the shared database); returns the configs."""
    index_catalogue(site, {"database": database_mapping(location), "cache": {"dir": str(tmp_path / "cache")}})
    present, _ = pick_albums(site, runs * files, 0, seed=7)
    assert len({album.album_id for album in present}) == runs * files
    configs = []
    for run in range(runs):
        folder = tmp_path / f"run{run}"
        build_library(folder / "library", present[run * files : (run + 1) * files], broken=0)
        config = folder / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "database": database_mapping(location),
                    "cache": {"dir": str(folder / "cache")},
                    "pipeline": {"logs_dir": str(folder / "logs"), "workers": 2},
                    **site.settings_mapping(**catalogue),
                }
            )
        )
        configs.append(config)
    return configs


def run_together(configs: list[Path], *args: str) -> list[tuple[int, str]]:
    """`bdnex-core tag LIBRARY` of every config at once; (exit code, output) of each."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bdnex_core", "--config", str(config), "tag", str(config.parent / "library"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "BDNEX_CONFIG": str(config)},
        )
        for config in configs
    ]
    return [(run.wait(timeout=300), run.communicate()[0]) for run in runs]


def site_requests(site) -> list[float]:
    """When each request arrived at the site, in order."""
    return sorted(entry.arrived for entry in site.requests() if not entry.path.startswith("/_fake"))


@pytest.mark.slow
def test_three_processes_of_two_threads_keep_the_delay_between_all_their_requests(site, tmp_path, database_location):
    configs = prepare(
        site, tmp_path, database_location, runs=3, files=4, min_delay_seconds=MIN_DELAY, jitter_seconds=0.0
    )
    site.clear_log()
    results = run_together(configs, "--batch", "--workers", "2")
    for code, output in results:
        assert code == 0, output
    times = site_requests(site)
    assert len(times) >= 3 * 3, times  # each run: the home page, an album page and a series page at least
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    print(f"{len(times)} requests, smallest arrival gap {min(gaps):.3f} s")
    assert min(gaps) >= MIN_DELAY - SCHEDULING_SLACK, sorted(gaps)[:5]


@pytest.mark.slow
def test_a_process_stalled_between_its_grant_and_its_send_lets_no_request_arrive_too_close(
    site, tmp_path, database_location
):
    configs = prepare(
        site, tmp_path, database_location, runs=2, files=3, min_delay_seconds=MIN_DELAY, jitter_seconds=0.0
    )
    stalled_albums = [str(album_id) for album_id in list(site.catalogue.albums)[-3:]]
    site.clear_log()
    stalled = subprocess.Popen(
        [sys.executable, "-m", "bdnex_testing.stalled_client", str(configs[0]), str(STALL), *stalled_albums],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    results = run_together(configs, "--batch", "--workers", "2")
    assert stalled.wait(timeout=300) == 0, stalled.communicate()[0]
    for code, output in results:
        assert code == 0, output
    assert all(site.requests(f"-{album_id}.html") for album_id in stalled_albums)  # the stalled process sent
    times = site_requests(site)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) >= 2 * 4 + 3, times
    print(f"{len(times)} requests, one process stalled {STALL} s: smallest arrival gap {min(gaps):.3f} s")
    assert min(gaps) >= MIN_DELAY - SCHEDULING_SLACK, sorted(gaps)[:5]


@pytest.mark.slow
def test_two_processes_stop_together_at_the_hourly_cap(site, tmp_path, database_location):
    """Each run alone needs fewer requests than the cap; together they need more: the cap holds for
    both (never more requests than it in the hour), and the run that meets it pauses with exit 4."""
    files = 3
    configs = prepare(site, tmp_path, database_location, runs=2, files=files, max_requests_per_hour=2 * files)
    site.clear_log()
    results = run_together(configs, "--batch", "--workers", "2")
    requests = site_requests(site)
    assert len(requests) <= 2 * files, results
    stopped = [output for code, output in results if code == 4]
    assert stopped, results
    assert all("max_requests_per_hour" in output and "--resume" in output for output in stopped), stopped
    assert all(code in (0, 4) for code, _ in results), results


FILES = 12


def command(config, *args: str) -> list[str]:
    return [sys.executable, "-m", "bdnex_core", "--config", str(config), *args]


def session_info(config, session_id: int) -> dict:
    shown = subprocess.run(
        command(config, "sessions", "info", str(session_id), "--json"), capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def files_recorded(location: str) -> int:
    return peek_value(location, "SELECT COUNT(*) FROM session_files WHERE state != 'pending'", not_yet=0)


@pytest.mark.slow
def test_a_killed_run_and_the_one_that_resumed_it_are_both_workers_of_the_session(site, tmp_path, database_location):
    database = database_location
    mapping = {
        "database": database_mapping(database),
        "cache": {"dir": str(tmp_path / "cache")},
        "pipeline": {"logs_dir": str(tmp_path / "logs"), "workers": 2},
        **site.settings_mapping(min_delay_seconds=0.4),  # slow enough to find the first run at work
    }
    index_catalogue(site, mapping)
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
        with BDneXDB(settings=from_mapping(mapping)) as db:
            (session,) = db.sessions.recent()
            while_running = db.sessions.workers(session["id"])
    finally:
        first.kill()
        first.wait()
    assert [(w.pid, w.host, w.running) for w in while_running] == [(first.pid, socket.gethostname(), True)]
    assert while_running[0].files_done >= 3 and while_running[0].last_heartbeat
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
