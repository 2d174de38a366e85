"""Fixtures of the Komga adapter's tests: the fake Bédéthèque, the stand-in Komga, a library of real albums."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

FIRST_ALBUM = 245127
SERVER_ROOT = "/data/bd"


@pytest.fixture(autouse=True)
def _fresh_recent_writes() -> Iterator[None]:
    from bdnex_komga.writeback import recent_writes

    recent_writes.clear()
    yield
    recent_writes.clear()


@pytest.fixture(autouse=True)
def _no_komga_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BDNEX_KOMGA_API_KEY", "BDNEX_KOMGA_PASSWORD", "BDNEX_KOMGA_WEBHOOK_TOKEN", "BDNEX_KOMGA_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def site() -> Iterator[Any]:
    from bdnex_testing.shared import fake_bedetheque

    with fake_bedetheque() as fake:
        yield fake


@pytest.fixture(scope="session")
def catalogue_db(tmp_path_factory: pytest.TempPathFactory, site: Any) -> Path:
    """A database with the fake site's catalogue index, built once and copied per test."""
    from bdnex_core.bedetheque.catalogue import Catalogue
    from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
    from bdnex_core.config import from_mapping
    from bdnex_core.db import BDneXDB

    folder = tmp_path_factory.mktemp("catalogue")
    mapping = {
        "database": {"path": str(folder / "bdnex.db")},
        "cache": {"dir": str(folder / "cache")},
        **site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0),
    }
    reset_politeness()
    settings = from_mapping(mapping)
    db = BDneXDB(settings=settings)
    Catalogue(db).update_online(BedethequeClient(settings))
    db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return folder / "bdnex.db"


@pytest.fixture
def komga() -> Iterator[Any]:
    from komga_standin.standin import KomgaStandIn

    with KomgaStandIn(heartbeat_seconds=0.5, task_status_seconds=0.3, analysis_seconds=0.05) as server:
        yield server


OTHER_SERIES = "Rokka-Melt-Mes-adorables-hommes-des-neiges"


def series_albums(site: Any, count: int) -> list[tuple[int, str, str]]:
    """(album id, series, tome): album 245127 (Nains T1), other regular tomes of its series, then of another series."""
    from bdnex_core.demo.fakesite import human

    entry = site.catalogue.albums[FIRST_ALBUM]
    same = [e for e in site.catalogue.series[entry.series_slug] if e.tome_kind == "regular"]
    others = [e for e in site.catalogue.series[OTHER_SERIES] if e.tome_kind == "regular"]
    chosen = ([entry] + [e for e in same if e.album_id != FIRST_ALBUM] + others)[:count]
    assert len(chosen) == count, "not enough albums in the fake catalogue"
    return [(e.album_id, human(e.series_slug), e.tome) for e in chosen]


def add_album(folder: Path, album: tuple[int, str, str]) -> Path:
    """A generated CBZ named as collectors name the album: ``Series/Series T01.cbz``."""
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    album_id, series, tome = album
    return write_cbz(folder / series / f"{series} T{int(tome):02d}.cbz", sample_pages(series, 3, album_id))


class Env:
    """One test's world: folders, config file, and helpers to run the CLI and read the database."""

    def __init__(self, tmp_path: Path, site: Any, komga: Any, catalogue_db: Path, database: str | None = None):
        from bdnex_testing.databases import copy_into

        self.tmp_path = tmp_path
        self.site = site
        self.komga = komga
        self.library_folder = tmp_path / "bd"
        self.library_folder.mkdir()
        self.db_path = tmp_path / "bdnex.db"
        self.database = database or str(self.db_path)  # a PostgreSQL URL, or the SQLite file db_path
        copy_into(catalogue_db, self.database)
        self.komga_section: dict[str, Any] = {
            "url": komga.url,
            "api_key": "admin-key",
            "path_map": [{"komga": SERVER_ROOT, "local": str(self.library_folder)}],
            "write": ["api"],
            "idle_timeout_seconds": 5,
            "reconnect_min_seconds": 0.05,
            "reconnect_max_seconds": 0.5,
            "sse_read_timeout_seconds": 3,
            "timeout_seconds": 10,
        }
        self.library_id = komga.add_library("BD", folder=self.library_folder, server_root=SERVER_ROOT)

    def mapping(self) -> dict[str, Any]:
        from bdnex_testing.pytest_plugin import database_mapping

        return {
            "database": database_mapping(self.database),
            "cache": {"dir": str(self.tmp_path / "cache")},
            "pipeline": {"logs_dir": str(self.tmp_path / "logs"), "workers": 2},
            **self.site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0),
            "komga": self.komga_section,
        }

    def config(self, **komga: Any) -> Path:
        self.komga_section.update(komga)
        path = self.tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(self.mapping(), allow_unicode=True), encoding="utf-8")
        return path

    def settings(self, **komga: Any) -> Any:
        from bdnex_core.bedetheque.client import reset_politeness
        from bdnex_core.config import from_mapping

        self.komga_section.update(komga)
        reset_politeness()
        return from_mapping(self.mapping())

    def cli(self, *args: str, **komga: Any) -> tuple[int, str, str]:
        """Run ``bdnex-core --config CONFIG ARGS`` in-process: (exit code, stdout, stderr)."""
        import io
        from contextlib import redirect_stderr, redirect_stdout

        from bdnex_core import cli as core_cli
        from bdnex_core.bedetheque.client import reset_politeness

        config = self.config(**komga)
        reset_politeness()
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = core_cli.main(["--config", str(config), *args])
        return code, out.getvalue(), err.getvalue()

    def add_albums(self, albums: list[tuple[int, str, str]]) -> list[Path]:
        return [add_album(self.library_folder, album) for album in albums]


@pytest.fixture
def env(request: pytest.FixtureRequest, tmp_path: Path, site: Any, komga: Any, catalogue_db: Path) -> Env:
    """On SQLite; on PostgreSQL for a test marked ``@pytest.mark.parametrize("env", [...], indirect=True)``."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return Env(tmp_path, site, komga, catalogue_db, request.getfixturevalue("postgres_url"))
    return Env(tmp_path, site, komga, catalogue_db)


@pytest.fixture
def books(env: Env) -> list[dict[str, Any]]:
    """Two albums of one series, scanned and analysed by the stand-in Komga (their BookDtos)."""
    env.add_albums(series_albums(env.site, 2))
    ids = env.komga.scan(env.library_id)
    assert env.komga.wait_idle(10)
    return [env.komga.book(book_id) for book_id in ids]


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
        self.result: Any = None

        def run() -> None:
            try:
                self.result = target()
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 20.0) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background task did not stop"
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def running_service(env: Env, *, events: bool, listen: tuple[str, int] | None = None, **komga: Any) -> Iterator[Any]:
    """The Komga service (watch and/or webhook) running in a thread, as the commands run it."""
    from bdnex_core.db import BDneXDB
    from bdnex_komga.service import komga_service

    settings = env.settings(**komga)
    db = BDneXDB(settings=settings)
    try:
        with komga_service(settings, db, events=events, listen=listen) as service:
            task = Background(service.worker.run)
            try:
                yield service
            finally:
                service.stop()
                task.join()
    finally:
        db.close()
