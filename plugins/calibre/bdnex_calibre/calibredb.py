"""Talking to calibre through the ``calibredb`` program.

A library is a local folder or a content-server URL (``http://host:port#library_id``).
Local calls share calibre's per-user lock with the GUI and ``calibre-server``, so
they are serialised in this process and retried while the lock is busy; when it
stays busy the error says to use the content server instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bdnex_core.errors import BdnexError

LOCK_MESSAGE = "Another calibre program"
COMIC_FORMATS = ("cbz", "cbr")
LIST_FIELDS = "id,title,series,series_index,identifiers,formats,authors,publisher,tags,size"

# One local calibredb at a time: parallel local calls fight over calibre's lock.
_LOCAL_LOCK = threading.Lock()


class CalibreError(BdnexError):
    """calibredb failed or is unavailable."""


class CalibreLockedError(CalibreError):
    """The library is held by the calibre GUI or a content server."""


class NoCalibreLibraryError(CalibreError):
    """The local path given as a library is not one (calibredb would create an empty library there)."""

    exit_code = 2


@dataclass(frozen=True)
class CalibreLibrary:
    """Where the library is and how to log in (the password is never shown)."""

    location: str
    username: str | None = None
    password: str | None = None
    calibredb: str = "calibredb"

    @property
    def is_remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"CalibreLibrary({self.location!r}, username={self.username!r})"


def library_from_settings(location: str, calibre_section: dict[str, Any] | None = None) -> CalibreLibrary:
    """Build a library handle; credentials come from config section ``calibre`` or the environment."""
    section = dict(calibre_section or {})
    username = section.get("username") or os.environ.get("BDNEX_CALIBRE_USERNAME")
    password = section.get("password") or os.environ.get("BDNEX_CALIBRE_PASSWORD")
    command = section.get("calibredb") or "calibredb"
    return CalibreLibrary(location, username=username, password=password, calibredb=command)


def check_library(library: CalibreLibrary) -> None:
    """Refuse a local path that holds no calibre library: calibredb would quietly create one there."""
    if library.is_remote:
        return
    folder = Path(library.location).expanduser()
    if not folder.is_dir():
        raise NoCalibreLibraryError("no such folder", path=library.location)
    if not (folder / "metadata.db").is_file():
        raise NoCalibreLibraryError("not a calibre library (no metadata.db in this folder)", path=library.location)


def calibredb_available(command: str = "calibredb") -> bool:
    return shutil.which(command) is not None


def run_calibredb(library: CalibreLibrary, args: list[str], *, retries: int = 5, retry_delay: float = 0.5) -> str:
    """Run one calibredb command against ``library`` and return its stdout."""
    if not calibredb_available(library.calibredb):
        raise CalibreError(f"{library.calibredb}: calibre is not installed (calibredb not found on PATH)")
    command = [library.calibredb, *args, "--with-library", library.location]
    if library.username:
        command += ["--username", library.username]
    if library.password:
        command += ["--password", library.password]
    if library.is_remote:
        return _run_once(library, command)
    for attempt in range(retries + 1):
        with _LOCAL_LOCK:
            try:
                return _run_once(library, command)
            except CalibreLockedError:
                if attempt == retries:
                    raise
        time.sleep(retry_delay * (attempt + 1))
    raise AssertionError("unreachable")


def _run_once(library: CalibreLibrary, command: list[str]) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode == 0:
        return proc.stdout
    output = (proc.stderr or "") + (proc.stdout or "")
    if LOCK_MESSAGE in output:
        raise CalibreLockedError(
            f"{library.location}: the library is in use by the calibre GUI or calibre-server; "
            "close it, or use the content server instead (--library 'http://127.0.0.1:8080#LIBRARY_ID')"
        )
    last_line = next((line for line in reversed(output.strip().splitlines()) if line.strip()), "no output")
    raise CalibreError(f"{library.location}: calibredb {command[1]} failed: {last_line.strip()}")


@dataclass(frozen=True)
class CalibreBook:
    """One book from ``calibredb list`` that has a comic format."""

    book_id: int
    title: str
    series: str | None
    series_index: float | None
    identifiers: dict[str, str]
    formats: list[str]  # full paths locally, format names through a server
    tags: tuple[str, ...] = ()
    authors: str = ""  # calibre's "A & B"

    def comic_format(self) -> str | None:
        """The CBZ when there is one (a CBR we converted has one beside it now), else the CBR."""
        for wanted in COMIC_FORMATS:
            for fmt in self.formats:
                if fmt.lower().rsplit(".", 1)[-1] == wanted:
                    return fmt
        return None


def list_comics(library: CalibreLibrary) -> list[CalibreBook]:
    """The library's books that have a CBZ or CBR format."""
    raw = run_calibredb(library, ["list", "--for-machine", "--fields", LIST_FIELDS])
    books = []
    for row in json.loads(raw or "[]"):
        book = CalibreBook(
            book_id=int(row["id"]),
            title=row.get("title") or "",
            series=row.get("series") or None,
            series_index=row.get("series_index") if row.get("series") else None,
            identifiers=dict(row.get("identifiers") or {}),
            formats=list(row.get("formats") or []),
            tags=tuple(row.get("tags") or ()),
            authors=str(row.get("authors") or ""),
        )
        if book.comic_format():
            books.append(book)
    return books


def export_comic(library: CalibreLibrary, book: CalibreBook, target_dir: Path) -> Path:
    """A local copy (or the local file itself) of the book's comic format."""
    fmt = book.comic_format()
    if fmt is None:
        raise CalibreError(f"{library.location}: book {book.book_id} has no CBZ/CBR format")
    if not library.is_remote:
        return Path(fmt)
    out = target_dir / str(book.book_id)
    out.mkdir(parents=True, exist_ok=True)
    run_calibredb(
        library,
        [
            "export",
            "--dont-save-cover",
            "--dont-write-opf",
            "--single-dir",
            "--formats",
            fmt.lower(),
            "--to-dir",
            str(out),
            str(book.book_id),
        ],
    )
    found = [p for p in out.iterdir() if p.suffix.lower().lstrip(".") in COMIC_FORMATS]
    if not found:
        raise CalibreError(f"{library.location}: export of book {book.book_id} produced no comic file")
    return found[0]
