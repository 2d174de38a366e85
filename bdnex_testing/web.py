"""Test helpers for the web page: a sample library on the fake site, with files queued for review,
tagged files of a series with a tome missing, and the app served on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bdnex_core.cli import main
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_testing.review import make_env, series_entries, uncertain_file


@dataclass
class WebLibrary:
    settings: Any
    db: Any
    config: Path
    entries: list[Any]  # a series' catalogue entries, by tome
    queued: list[Path]  # files waiting for review (series and tome right, title wrong)
    tagged: list[Path]  # files tagged automatically (tomes 1 and 2 of the series)


def exact_file(folder: Path, entry: Any, seed: str = "e") -> Path:
    name = f"{human(entry.series_slug)} - {entry.tome} - {human(entry.title_slug)}.cbz"
    return write_cbz(folder / name, sample_pages(seed, 3, int(entry.tome)))


def web_library(site: Any, tmp_path: Path, database: str | None = None) -> WebLibrary:
    """``database``: an SQLite path or a PostgreSQL URL (``database_location``), by default a file in tmp_path."""
    settings, db, config = make_env(site, tmp_path, database)
    entries = series_entries(site, minimum=6)
    library = tmp_path / "library"
    tagged = [exact_file(library / "tagged", entry) for entry in entries[:2]]
    queued = [uncertain_file(library / "queue", entry, seed=f"q{entry.tome}") for entry in entries[2:4]]
    code = main(["--config", str(config), "tag", str(library), "--batch"])
    assert code == 0, code
    return WebLibrary(settings, db, config, entries, queued, tagged)


@pytest.fixture
def library(site: Any, tmp_path: Path) -> Any:
    """The sample library of :func:`web_library` (import this fixture and ``site`` into the module)."""
    lib = web_library(site, tmp_path)
    yield lib
    lib.db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """The app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
