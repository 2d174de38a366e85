"""Test helpers for the review tests: the fake site, settings pointed at it, files to queue, the real CLI
in a pseudo-terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from bdnex_core.archives import open_archive
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.comicinfo import ComicInfo
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, human
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_testing.pytest_plugin import database_mapping


@pytest.fixture(scope="module")
def site():
    """The fake Bédéthèque site, one per test module (import this fixture into the module)."""
    reset_politeness()
    with FakeBedetheque() as running:
        yield running


def make_env(site, tmp_path, database: str | None = None):
    """Settings, an open database and a config file for the CLI, all pointed at the fake site;
    ``database``: an SQLite path or a PostgreSQL URL (``database_location``), by default a file in tmp_path."""
    reset_politeness()
    settings = from_mapping(
        {
            "database": database_mapping(database or str(tmp_path / "bdnex.db")),
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
            **site.settings_mapping(),
        }
    )
    db = BDneXDB(settings=settings)
    Catalogue(db).update_online(BedethequeClient(settings))
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(dict(settings.raw.items())))
    return settings, db, config


def series_entries(site, minimum=4):
    """Catalogue entries of a series with at least ``minimum`` regular numbered tomes, by tome."""
    for entries in site.catalogue.series.values():
        regular = [e for e in entries if e.tome_kind == "regular" and e.tome and e.tome.isdigit() and e.title_slug]
        if len(regular) >= minimum:
            return sorted(regular, key=lambda e: int(e.tome))
    raise AssertionError("no series with enough tomes in the fake catalogue")


def uncertain_file(folder: Path, entry, *, seed: str = "x") -> Path:
    """A file whose series and tome are right and whose title says otherwise: it goes to review."""
    name = f"{human(entry.series_slug)} - {entry.tome} - Un titre sans aucun rapport.cbz"
    return write_cbz(folder / name, sample_pages(seed, 3, 1))


def comicinfo_of(path: Path) -> ComicInfo | None:
    with open_archive(path) as comic:
        data = comic.comicinfo_bytes()
    return ComicInfo.from_xml(data) if data else None


def comicinfo_bytes(path: Path) -> bytes | None:
    with open_archive(path) as comic:
        return comic.comicinfo_bytes()


def spawn_cli(config: Path, *args: str, timeout: float = 60) -> pexpect.spawn:
    """The real ``bdnex-core`` in a pseudo-terminal (a person's keyboard and screen)."""
    env = dict(os.environ, COLUMNS="200", PYTHONUNBUFFERED="1")
    return pexpect.spawn(
        sys.executable,
        ["-m", "bdnex_core", "--config", str(config), *args],
        env=env,
        encoding="utf-8",
        timeout=timeout,
        dimensions=(50, 200),
    )
