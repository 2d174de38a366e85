"""Helpers of the Kavita adapter's tests (a module of its own: ``conftest`` is a name every suite has)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml

FIRST_ALBUM = 245127
SERVER_ROOT = "/comics/BD"

OTHER_SERIES = "Rokka-Melt-Mes-adorables-hommes-des-neiges"


def series_albums(site: Any, count: int) -> list[tuple[int, str, str]]:
    """(album id, series, tome): album 245127 (Nains T1), other regular tomes of its series, then another series."""
    from bdnex_core.demo.fakesite import human

    entry = site.catalogue.albums[FIRST_ALBUM]
    same = [e for e in site.catalogue.series[entry.series_slug] if e.tome_kind == "regular"]
    others = [e for e in site.catalogue.series[OTHER_SERIES] if e.tome_kind == "regular"]
    chosen = ([entry] + [e for e in same if e.album_id != FIRST_ALBUM] + others)[:count]
    assert len(chosen) == count, "not enough albums in the fake catalogue"
    return [(e.album_id, human(e.series_slug), e.tome) for e in chosen]


def site_album(site: Any, album_id: int) -> Any:
    """The album as the fake site shows it (recorded or generated): what a sync should write."""
    from bdnex_core.bedetheque.parse import parse_album_page

    page = site.album_page(album_id)
    assert page is not None, album_id
    return parse_album_page(page, f"https://www.bedetheque.com/BD-x-{album_id}.html")


def add_album(folder: Path, album: tuple[int, str, str]) -> Path:
    """A generated CBZ named as collectors name the album: ``Series/Series T01.cbz``."""
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    album_id, series, tome = album
    return write_cbz(folder / series / f"{series} T{int(tome):02d}.cbz", sample_pages(series, 3, album_id))


class Env:
    """One test's world: folders, config file, and helpers to run the CLI."""

    def __init__(self, tmp_path: Path, site: Any, kavita: Any, catalogue_db: Path, database: str | None = None):
        from bdnex_testing.databases import copy_into
        from kavita_standin.server import ADMIN_KEY

        self.tmp_path = tmp_path
        self.site = site
        self.kavita = kavita
        self.library_folder = tmp_path / "bd"
        self.library_folder.mkdir()
        self.db_path = tmp_path / "bdnex.db"
        self.database = database or str(self.db_path)
        copy_into(catalogue_db, self.database)
        self.kavita_section: dict[str, Any] = {
            "url": kavita.url,
            "api_key": ADMIN_KEY,
            "path_map": [{"kavita": SERVER_ROOT, "local": str(self.library_folder)}],
            "write": ["api"],
            "settle_seconds": 0.3,
            "reconnect_min_seconds": 0.05,
            "reconnect_max_seconds": 0.5,
            "hub_timeout_seconds": 5,
            "timeout_seconds": 10,
        }
        self.library_id = kavita.add_library("BD", folder=self.library_folder, server_root=SERVER_ROOT)

    def mapping(self) -> dict[str, Any]:
        from bdnex_testing.pytest_plugin import database_mapping

        return {
            "database": database_mapping(self.database),
            "cache": {"dir": str(self.tmp_path / "cache")},
            "pipeline": {"logs_dir": str(self.tmp_path / "logs"), "workers": 2},
            **self.site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0),
            "kavita": self.kavita_section,
        }

    def config(self, **kavita: Any) -> Path:
        self.kavita_section.update(kavita)
        path = self.tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(self.mapping(), allow_unicode=True), encoding="utf-8")
        return path

    def settings(self, **kavita: Any) -> Any:
        from bdnex_core.bedetheque.client import reset_politeness
        from bdnex_core.config import from_mapping

        self.kavita_section.update(kavita)
        reset_politeness()
        return from_mapping(self.mapping())

    def cli(self, *args: str, **kavita: Any) -> tuple[int, str, str]:
        """Run ``bdnex-core --config CONFIG ARGS`` in-process: (exit code, stdout, stderr)."""
        from bdnex_core import cli as core_cli
        from bdnex_core.bedetheque.client import reset_politeness

        config = self.config(**kavita)
        reset_politeness()
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = core_cli.main(["--config", str(config), *args])
        return code, out.getvalue(), err.getvalue()

    def add_albums(self, albums: list[tuple[int, str, str]]) -> list[Path]:
        return [add_album(self.library_folder, album) for album in albums]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class Background:
    """Runs a callable in a thread and keeps its exception for the test."""

    def __init__(self, target: Callable[[], Any]):
        self.error: BaseException | None = None

        def run() -> None:
            try:
                target()
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 20.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background task did not stop"
        if self.error is not None:
            raise self.error


@contextmanager
def running_watch(env: Env, **kavita: Any) -> Iterator[Any]:
    """``kavita watch`` running in a thread, as the command runs it."""
    from bdnex_core.db import BDneXDB
    from bdnex_kavita.service import kavita_service

    settings = env.settings(**kavita)
    db = BDneXDB(settings=settings)
    try:
        with kavita_service(settings, db) as service:
            task = Background(service.worker.run)
            try:
                yield service
            finally:
                service.stop()
                task.join()
    finally:
        db.close()


def make_cbz(path: Path, *, pages: int = 2, comicinfo: dict[str, str | int] | None = None) -> Path:
    """A small CBZ at ``path`` (parents made), with a ComicInfo.xml of these fields when given."""
    from xml.sax.saxutils import escape

    from bdnex_testing.archives import build_cbz

    path.parent.mkdir(parents=True, exist_ok=True)
    xml = None
    if comicinfo is not None:
        body = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in comicinfo.items())
        xml = f'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo>{body}</ComicInfo>'.encode()
    return build_cbz(path, pages, page_size=2_000, comicinfo=xml)
