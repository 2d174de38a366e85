"""Damaged caches are dropped and made again; a damaged file of the user's is named with what to fix (issue 37).

Our cookie jar, cached covers and thumbnails, and the files we replace (pages, session logs) are
ours: whatever a disk or a sync tool did to them, the next run drops them with one warning and
makes them again. The cookies file the user exported (``catalogue.cookies_file``) is theirs: a
damaged one stops the client with one line naming it and what to do, never a hang on /dev/zero.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest
from PIL import Image

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.bedetheque.service import fetch_cover
from bdnex_core.config import from_mapping
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.errors import ConfigError
from bdnex_core.fileio import write_atomically
from bdnex_core.web.thumbs import Thumbnails
from bdnex_testing.damage import DAMAGES

ROOT_READS_ANYTHING = os.geteuid() == 0  # then "made unreadable" is no damage in this process


@pytest.fixture(scope="module")
def site():
    reset_politeness()
    with FakeBedetheque() as running:
        yield running


@pytest.fixture
def settings(site, tmp_path):
    reset_politeness()
    site.set_mode(None)
    site.clear_log()
    return from_mapping({**site.settings_mapping(), "cache": {"dir": str(tmp_path / "cache")}})


def damages(*, reading: bool) -> list[str]:
    """The seven damages; "made unreadable" only where it means something for this process."""
    return [name for name in DAMAGES if not (reading and name == "made unreadable" and ROOT_READS_ANYTHING)]


def a_cookie_jar(settings) -> Path:
    """Our jar, as a first visit of the site leaves it."""
    client = BedethequeClient(settings)
    client.get("/")
    client.save_cookies()
    jar = settings.cache.dir / "cookies.txt"
    assert "csrf_cookie_bel" in jar.read_text()
    return jar


@pytest.mark.parametrize("damage", damages(reading=True))
def test_our_damaged_cookie_jar_is_dropped_and_made_again(settings, site, damage, caplog):
    jar = a_cookie_jar(settings)
    DAMAGES[damage](jar)
    caplog.set_level(logging.WARNING)
    site.clear_log()
    client = BedethequeClient(settings)  # never an error
    album = f"/BD-x-{next(iter(site.catalogue.albums))}.html"
    assert client.get(album).status == 200
    client.save_cookies()
    assert jar.is_file() and not jar.is_symlink() and "csrf_cookie_bel" in jar.read_text()
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    if damage == "cut in half":  # its comment lines are left: a jar still, without the cookie, got again
        assert not warnings and site.requests()[0].path == "/", warnings
    else:
        assert len(warnings) == 1 and str(jar) in warnings[0] and "dropped" in warnings[0], warnings


@pytest.mark.parametrize("damage", damages(reading=True))
def test_the_users_damaged_cookies_file_is_named_with_what_to_do(settings, tmp_path, damage):
    exported = tmp_path / "exported-cookies.txt"
    exported.write_text(
        "# Netscape HTTP Cookie File\n"
        + "".join(f"127.0.0.1\tFALSE\t/\tFALSE\t0\tname{n}\tvalue{n}\n" for n in range(40))
    )
    DAMAGES[damage](exported)
    users = from_mapping({**settings.raw, "catalogue": {**settings.raw["catalogue"], "cookies_file": str(exported)}})
    if damage == "cut in half" and exported.read_text().splitlines()[-1].count("\t") == 6:
        # cut inside the last field, a value: what is left is still a cookies file (one value shorter): used
        assert len(list(BedethequeClient(users).session.cookies)) < 40
        return
    with pytest.raises(ConfigError) as raised:
        BedethequeClient(users)
    message = str(raised.value)
    assert message.startswith(str(exported)) and "\n" not in message
    assert "export the cookies of bedetheque.com from your browser again" in message


def test_a_cached_cover_that_is_no_longer_a_whole_image_is_fetched_again(settings, site, caplog):
    client = BedethequeClient(settings)
    album_id = next(iter(site.catalogue.albums))
    album = Album.from_dict({"album_id": album_id, "url": f"{site.base_url}/BD-x-{album_id}.html"})
    first = fetch_cover(client, album)
    cached = settings.cache.dir / "covers" / f"{album_id}.jpg"
    for damage in ("cut in half", "first 4 KiB zeroed", "replaced by a folder", "linked to /dev/zero"):
        DAMAGES[damage](cached)
        site.clear_log()
        with caplog.at_level(logging.WARNING):
            assert fetch_cover(client, album) == first
        assert site.requests("Couv_"), f"{damage}: the cover was fetched again"
        assert cached.is_file() and not cached.is_symlink() and cached.read_bytes() == first
    site.clear_log()
    assert fetch_cover(client, album) == first and not site.requests("Couv_"), "a whole cover is read from the cache"


def test_a_damaged_thumbnail_is_made_again(tmp_path):
    comic = tmp_path / "comic.cbz"
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    write_cbz(comic, sample_pages("thumb", 2, 1))
    thumbs = Thumbnails(tmp_path / "cache")
    first = thumbs.file_cover(str(comic))
    (cached,) = (tmp_path / "cache" / "thumbs").iterdir()
    for damage in ("emptied", "cut in half", "replaced by a folder", "linked to /dev/zero"):
        DAMAGES[damage](cached)
        again = thumbs.file_cover(str(comic))
        Image.open(io.BytesIO(again)).load()
        assert again == first and cached.is_file() and not cached.is_symlink(), damage


@pytest.mark.parametrize("standing", ["replaced by a folder", "linked to /dev/zero", "made unreadable"])
def test_a_file_we_replace_is_replaced_whatever_stands_in_its_place(tmp_path, standing):
    log = tmp_path / "logs" / "session_1.json"
    write_atomically(log, "{}")
    DAMAGES[standing](log)
    write_atomically(log, '{"session": 1}')
    assert log.is_file() and not log.is_symlink() and log.read_text() == '{"session": 1}'
    assert Path("/dev/zero").exists(), "a link is replaced, never written through"


@pytest.mark.parametrize(
    "damage", [name for name in damages(reading=True) if name != "linked to /dev/zero"]
)  # /dev/zero as the configuration: bounded reads of issue 29 (branch h-harden)
def test_the_users_damaged_configuration_is_named_with_what_to_do(tmp_path, damage):
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  path: {tmp_path / 'bdnex.db'}\npipeline:\n  workers: 2\n  logs_dir: {tmp_path / 'logs'}\n"
        "catalogue:\n  min_delay_seconds: 2.0\n  jitter_seconds: 1.0\n  max_retries: 4\n"
    )
    DAMAGES[damage](config)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "home" / "share")}
    result = subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), "stats", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    lines = result.stderr.strip().splitlines()
    if damage == "cut in half" and config.stat().st_size and still_a_configuration(config):
        assert result.returncode == 0, result.stderr  # a cut between two settings leaves a valid file: used
        return
    assert len(lines) == 1 and str(config) in lines[0] and "Traceback" not in result.stderr, result.stderr
    if damage == "emptied":  # valid (every default), but said: the defaults choose another database
        assert result.returncode == 0 and "is empty: every setting has its default" in lines[0]
    else:
        assert result.returncode == 2 and ("fix" in lines[0] or "invalid configuration at" in lines[0]), lines[0]


def still_a_configuration(path: Path) -> bool:
    import yaml

    from bdnex_core.config import from_mapping as settings_from

    try:
        settings_from(yaml.safe_load(path.read_text()) or {})
    except Exception:  # any refusal means: not a valid configuration any more
        return False
    return True
