"""A long-running service's upkeep: the catalogue refreshed on its schedule (not while paused, resumed
after a stop), the heartbeat ``bdnex-core health`` checks, and SIGTERM taken as Ctrl-C."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.catalogue_index import open_catalogue_index
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, synthetic_sitemap
from bdnex_core.errors import BlockedError
from bdnex_core.service import notifications
from bdnex_core.service.health import HEALTH_FILE_VARIABLE
from bdnex_core.service.upkeep import CHECK_EVERY_SECONDS, STATE_KEY, STATE_PLUGIN, ServiceUpkeep

NEW_ALBUM = "BD-Les-Tuniques-Bleues-Tome-99-Le-retour-999999.html"


@pytest.fixture
def site(tmp_path):
    """The generated catalogue in three sitemaps (a refresh can stop between two)."""
    lines = synthetic_sitemap(120).decode().splitlines()
    head, urls, tail = lines[:2], lines[2:-1], lines[-1:]
    paths = []
    for part in range(3):
        path = tmp_path / f"albums_{part}_map.xml"
        path.write_text("\n".join(head + urls[part::3] + tail))
        paths.append(path)
    reset_politeness()
    with FakeBedetheque(paths) as running:
        yield running
    reset_politeness()
    notifications.site_pause.resume()


def settings_for(tmp_path, site, *, days):
    return from_mapping(
        {
            "database": {"path": str(tmp_path / "bdnex.db")},
            "cache": {"dir": str(tmp_path / "cache")},
            "service": {"catalogue_refresh_days": days, "heartbeat_seconds": 0.2},
            **site.settings_mapping(max_retries=0),
        }
    )


def index_requests(site):
    return [entry.time for entry in site.requests("/sitemap.xml")]


def test_the_catalogue_is_refreshed_on_its_schedule(tmp_path, site):
    period = 4.0
    settings = settings_for(tmp_path, site, days=period / 86400)
    db = BDneXDB(settings=settings)
    stop = threading.Event()
    upkeep = ServiceUpkeep(settings, db, command="test", stop=stop)
    upkeep.tick()  # an empty catalogue: refreshed at once
    assert Catalogue(db).count() == 125 and len(index_requests(site)) == 1
    assert db.plugin_state.get(STATE_PLUGIN, STATE_KEY)["result"] == "completed"

    # the site publishes an album in one sitemap (and says so in the index); the next refresh takes it
    name = "albums_1_map.xml"
    site.catalogue.sitemaps[name] = site.catalogue.sitemaps[name].replace(
        b"</urlset>", f"<url><loc>https://www.bedetheque.com/{NEW_ALBUM}</loc></url></urlset>".encode()
    )
    site.sitemap_lastmod = lambda sitemap: "2026-12-01" if sitemap == name else "2026-11-01"
    deadline = time.monotonic() + 3 * period + 1
    while time.monotonic() < deadline:
        upkeep.tick()
        time.sleep(0.05)
    arrivals = index_requests(site)
    # refreshed on schedule (at 0, then about every period), never more often than the period
    assert 3 <= len(arrivals) <= 4, arrivals
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= period, gaps
    assert db.catalogue.known(999999)
    # only the sitemap that changed was fetched again, once
    assert len(site.requests(name)) == 2 and len(site.requests("albums_0_map.xml")) == 1
    # the catalogue's index file kept up to date by the service: the next run only opens it
    assert Catalogue(db).update_index(settings) == "up to date"
    index = open_catalogue_index(db, settings, announce=pytest.fail)
    assert [album.album_id for album in index.albums_titled("retour")] == [999999]
    index.close()
    db.close()


def test_no_refresh_while_paused(tmp_path, site):
    settings = settings_for(tmp_path, site, days=1)
    db = BDneXDB(settings=settings)
    upkeep = ServiceUpkeep(settings, db, command="test", stop=threading.Event())
    upkeep.tick(paused=True)  # the service's queue waits for Bédéthèque: no refresh either
    assert index_requests(site) == [] and upkeep.due()

    site.set_mode("ban")
    with pytest.raises(BlockedError):
        BedethequeClient(settings).get("/BD-x-Tome-1-x-900001.html")
    site.set_mode(None)
    site.clear_log()
    time.sleep(CHECK_EVERY_SECONDS)  # tick() looks at the schedule once a second
    upkeep.tick()  # the client's breaker holds every request: skipped
    assert site.requests() == [] and upkeep.status()["site_paused"]

    reset_politeness()  # the pause is over (a watcher: api.retry_site_now)
    time.sleep(CHECK_EVERY_SECONDS)
    upkeep.tick()
    assert len(index_requests(site)) == 1 and Catalogue(db).count() == 125
    db.close()


def test_a_stopped_refresh_goes_on_at_the_next_start(tmp_path, site):
    settings = settings_for(tmp_path, site, days=7)
    db = BDneXDB(settings=settings)
    # stopped after its first sitemap: that one is kept, the state says "interrupted"
    asked = []
    report = Catalogue(db).update_online(
        BedethequeClient(settings), should_stop=lambda: len(asked) > 0 or asked.append(1)
    )
    assert report.interrupted and report.fetched == ["albums_0_map.xml"]
    stop = threading.Event()
    stop.set()  # SIGTERM came: a refresh started now stops before its first sitemap
    first = ServiceUpkeep(settings, db, command="test", stop=stop)
    assert first.refresh() == "interrupted"
    assert db.plugin_state.get(STATE_PLUGIN, STATE_KEY)["result"] == "interrupted"

    site.clear_log()
    again = ServiceUpkeep(settings, db, command="test", stop=threading.Event())  # the service restarted
    assert again.due()  # at once, not a week later
    again.tick()
    assert [entry.path for entry in site.requests("_map.xml")] == ["/albums_1_map.xml", "/albums_2_map.xml"]
    assert Catalogue(db).count() == 125 and not again.due()
    db.close()


def test_a_catalogue_filled_by_hand_counts_as_refreshed(tmp_path, site):
    settings = settings_for(tmp_path, site, days=7)
    db = BDneXDB(settings=settings)
    Catalogue(db).update_online(BedethequeClient(settings))
    site.clear_log()
    upkeep = ServiceUpkeep(settings, db, command="test", stop=threading.Event())
    upkeep.tick()
    assert site.requests() == [] and not upkeep.due()
    never = ServiceUpkeep(settings_for(tmp_path, site, days=0), db, command="test", stop=threading.Event())
    assert never.period is None and not never.due()
    db.close()


def health(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", "health", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_heartbeat_and_the_health_check(tmp_path, site, monkeypatch):
    beat = tmp_path / "run" / "health.json"
    monkeypatch.setenv(HEALTH_FILE_VARIABLE, str(beat))
    env = {**os.environ}
    settings = settings_for(tmp_path, site, days=0)
    db = BDneXDB(settings=settings)
    with ServiceUpkeep(settings, db, command="komga watch", stop=threading.Event(), status=lambda: {"pending": 3}):
        first = json.loads(beat.read_text())
        assert first["command"] == "komga watch" and first["pending"] == 3 and first["pid"] == os.getpid()
        time.sleep(1.0)
        assert json.loads(beat.read_text())["at"] > first["at"]  # beating from its own thread
        result = health(env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith(f"komga watch (pid {os.getpid()}): waiting for events; last heartbeat")
    assert not beat.exists()  # a clean stop takes it away
    db.close()

    result = health(env)  # no heartbeat: a one-shot command ran here
    assert result.returncode == 0 and "no long-running command" in result.stdout

    beat.write_text(json.dumps({"command": "kavita watch", "pid": 1, "at": time.time() - 600, "every": 10}))
    result = health(env, "--json")
    assert result.returncode == 1
    (check,) = json.loads(result.stdout)["checks"]
    assert not check["ok"] and re.search(r"last heartbeat 6\d\d s ago \(more than 60 s\)$", check["detail"])

    result = health(env, "--max-age", "900")
    assert result.returncode == 0, result.stdout


def test_health_checks_an_address(tmp_path, site):
    env = {key: value for key, value in os.environ.items() if key != HEALTH_FILE_VARIABLE}
    result = health(env, "--url", f"{site.base_url}/")
    assert result.returncode == 0 and "answered HTTP 200" in result.stdout
    result = health(env, "--url", f"{site.base_url}/nowhere.html")
    assert result.returncode == 1 and "answered HTTP 404" in result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sigterm_stops_a_long_running_command_as_ctrl_c_does(tmp_path):
    """SIGTERM raises KeyboardInterrupt: the demo's site stops as it does on Ctrl-C; without the handler
    it died by the signal (and, as PID 1 in a container, did not stop at all)."""
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / ".bdnex-demo").write_text("test\n")
    port = free_port()
    (folder / "config.yaml").write_text(json.dumps({"catalogue": {"base_url": f"http://127.0.0.1:{port}"}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "bdnex_core", "demo", "--serve", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = process.stderr.readline()  # said once the site listens and the command waits
        assert started.startswith("fake Bédéthèque on"), started
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    # 0: stopped in its wait, as Ctrl-C stops it; 130 ("Aborted."): the signal came a moment earlier,
    # as a Ctrl-C would have; never killed by the signal itself (-15)
    assert process.returncode in (0, 130), started + err
    assert Path(folder / "config.yaml").exists()


def test_one_folder_for_everything_with_bdnex_home(tmp_path, monkeypatch):
    """BDNEX_HOME (the image's /data): config, database, cache and logs in one folder, the volume."""
    monkeypatch.setenv("BDNEX_HOME", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "config.yaml").write_text("pipeline: {workers: 3}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bdnex_core", "config", "show", "--json"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["source"] == str(tmp_path / "data" / "config.yaml")
    settings = shown["settings"]
    assert settings["pipeline"]["workers"] == 3
    assert settings["database"]["path"] == str(tmp_path / "data" / "bdnex.db")
    assert settings["cache"]["dir"] == str(tmp_path / "data" / "cache")
    assert settings["pipeline"]["logs_dir"] == str(tmp_path / "data" / "logs")


def test_secrets_from_files_for_containers(tmp_path, monkeypatch):
    """The web page's token and the database URL from files (compose secrets), never from the image."""

    from bdnex_core.errors import BdnexError
    from bdnex_core.service.health import token_from_environment

    secret = tmp_path / "web_token"
    secret.write_text("s3cret-token\n")
    monkeypatch.setenv("BDNEX_WEB_TOKEN_FILE", str(secret))
    assert token_from_environment() == "s3cret-token"
    monkeypatch.setenv("BDNEX_WEB_TOKEN", "from-the-environment")
    assert token_from_environment() == "from-the-environment"
    monkeypatch.delenv("BDNEX_WEB_TOKEN")
    secret.write_text("")
    with pytest.raises(BdnexError, match="the web token file is empty"):
        token_from_environment()

    url = tmp_path / "database_url"
    url.write_text("postgresql://bdnex:pw@db.example:5432/bdnex\n")
    monkeypatch.setenv("BDNEX_DATABASE_URL_FILE", str(url))
    settings = from_mapping({"database": {"backend": "postgresql"}})
    assert settings.database.url == "postgresql://bdnex:pw@db.example:5432/bdnex"
    monkeypatch.setenv("BDNEX_DATABASE_URL_FILE", str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="cannot read BDNEX_DATABASE_URL_FILE"):
        from_mapping({})
