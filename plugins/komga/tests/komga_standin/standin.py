"""A stand-in Komga 1.26 server for tests and demos (127.0.0.1 only, standard library HTTP).

It serves the part of Komga's REST API and event stream that a metadata tagger uses:
authentication (HTTP Basic or ``X-API-Key``; ADMIN for writes, FILE_DOWNLOAD for
files), libraries, the book search (``POST /api/v1/books/list``, Spring ``Page`` JSON),
``/books/latest``, books and series with their ``PATCH …/metadata`` rules, file
download, library scan and book analysis (a background task queue reading
ComicInfo.xml from the CBZ), and Server-Sent Events at ``/sse/v1/events``
(``BookAdded``/``BookChanged``/``SeriesAdded``/…, ``TaskQueueStatus`` for admins,
``:heartbeat`` comments).

    with KomgaStandIn() as komga:
        library_id = komga.add_library("BD", folder=tmp_path, server_root="/data/bd")
        book_ids = komga.scan(library_id)
        komga.wait_idle()

    python -m komga_standin.standin --port 25600 --library BD=/path/to/comics
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from komga_standin.handler import ABORT, CLOSE, KOMGA_VERSION, Handler, Server, SseClient
from komga_standin.model import (
    COMIC_EXTENSIONS,
    Book,
    Library,
    Series,
    SeriesThumbnail,
    User,
    apply_unlocked,
    book_dto,
    comicinfo_patches,
    default_book_metadata,
    default_series_metadata,
    library_dto,
    natural_key,
    new_id,
    now,
    patch_book_metadata,
    patch_series_metadata,
    read_archive,
    series_dto,
    thumbnail_series_dto,
    unknown_media,
)

__all__ = ["KOMGA_VERSION", "KomgaStandIn"]

ADMIN = ("admin@example.org", "admin-pass", ("ADMIN", "FILE_DOWNLOAD"), "admin-key")
READER = ("reader@example.org", "reader-pass", ("FILE_DOWNLOAD",), "reader-key")


class KomgaStandIn:
    """The server; use as a context manager: ``with KomgaStandIn() as komga: komga.url``."""

    def __init__(
        self,
        *,
        port: int = 0,
        heartbeat_seconds: float = 15.0,
        task_status_seconds: float = 10.0,
        analysis_seconds: float = 0.2,
        sse_timeout_seconds: float | None = None,
        users: bool = True,
    ):
        """``sse_timeout_seconds``: end each event stream cleanly after that long (Komga: about an hour)."""
        self.heartbeat_seconds = heartbeat_seconds
        self.sse_timeout_seconds = sse_timeout_seconds
        self.task_status_seconds = task_status_seconds
        self.analysis_seconds = analysis_seconds
        self._port = port
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._users: dict[str, User] = {}
        self._libraries: dict[str, Library] = {}
        self._series: dict[str, Series] = {}
        self._books: dict[str, Book] = {}
        self._seq = 0
        self._tasks: deque[tuple[str, str]] = deque()  # (task type, book or library id)
        self._running_task: tuple[str, str] | None = None
        self._paused = False
        self._task_ready = threading.Condition(self._lock)
        self._sse_clients: list[SseClient] = []
        self._sse_connections = 0
        self._requests: list[tuple[str, str, int]] = []
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        if users:
            for email, password, roles, api_key in (ADMIN, READER):
                self.add_user(email, password, roles=roles, api_key=api_key)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> KomgaStandIn:
        standin = self

        class BoundHandler(Handler):
            komga = standin

        self._stopping.clear()
        self._server = Server(("127.0.0.1", self._port), BoundHandler)
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="komga-standin-http",
                daemon=True,
            ),
            threading.Thread(target=self._task_worker, name="komga-standin-tasks", daemon=True),
            threading.Thread(target=self._task_status_loop, name="komga-standin-taskstatus", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._task_ready.notify_all()
        self.disconnect_sse(clean=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> KomgaStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the stand-in first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ users and libraries

    def add_user(
        self,
        email: str,
        password: str,
        roles: tuple[str, ...] | list[str] = ("ADMIN", "FILE_DOWNLOAD"),
        api_key: str | None = None,
    ) -> str:
        user = User(new_id(), email, password, tuple(roles), api_key)
        with self._lock:
            if any(existing.email.lower() == email.lower() for existing in self._users.values()):
                raise ValueError(f"a user {email!r} already exists")
            self._users[user.id] = user
        return user.id

    def user_for(
        self, *, email: str | None = None, api_key: str | None = None, password: str | None = None
    ) -> User | None:
        with self._lock:
            for user in self._users.values():
                if api_key is not None and user.api_key is not None and user.api_key == api_key:
                    return user
                if email is not None and user.email.lower() == email.lower() and user.password == password:
                    return user
        return None

    def add_library(self, name: str, folder: Path | str, server_root: str | None = None) -> str:
        """A library over ``folder``; Komga reports paths as ``server_root`` + relative path (None: the real path)."""
        library = Library(new_id(), name, Path(folder), server_root)
        with self._lock:
            self._libraries[library.id] = library
        self.emit("LibraryAdded", {"libraryId": library.id})
        return library.id

    def library(self, library_id: str) -> dict[str, Any]:
        with self._lock:
            return library_dto(self._libraries[library_id])

    # ------------------------------------------------------------------ scan and analysis

    def scan(self, library_id: str) -> list[str]:
        """Scan the library's folder like Komga: new series and books, changed and vanished files.

        Returns the ids of the new books, in scan order. New and changed books get an
        ``AnalyzeBook`` task; events go out on the event stream.
        """
        with self._lock:
            library = self._libraries.get(library_id)
            if library is None:
                raise KeyError(library_id)
            files = sorted(
                (
                    path
                    for path in library.folder.rglob("*")
                    if path.is_file()
                    and path.suffix.lower() in COMIC_EXTENSIONS
                    and not any(part.startswith(".") for part in path.relative_to(library.folder).parts)
                ),
                key=lambda p: [natural_key(part) for part in p.relative_to(library.folder).parts],
            )
            known = {book.path.resolve(): book for book in self._books.values() if book.library_id == library_id}
            series_by_folder = {
                series.folder.resolve(): series for series in self._series.values() if series.library_id == library_id
            }
            new_ids: list[str] = []
            touched: set[str] = set()
            seen: set[Path] = set()
            for path in files:
                resolved = path.resolve()
                seen.add(resolved)
                stat = path.stat()
                book = known.get(resolved)
                if book is not None:
                    if book.deleted or book.mtime_ns != stat.st_mtime_ns or book.size_bytes != stat.st_size:
                        self._file_changed(book, stat)
                        touched.add(book.series_id)
                    continue
                series = series_by_folder.get(resolved.parent)
                if series is None:
                    series = self._new_series(library, path.parent)
                    series_by_folder[resolved.parent] = series
                book = self._new_book(library, series, path, stat)
                new_ids.append(book.id)
                touched.add(series.id)
            for resolved, book in known.items():
                if resolved not in seen and not book.deleted:
                    book.deleted = True
                    book.last_modified = now()
                    touched.add(book.series_id)
                    self._emit_book("BookChanged", book)
            for series_id in touched:
                self._renumber(series_id)
            for book_id in new_ids:
                self._queue_task("AnalyzeBook", book_id)
            for series_id in touched:
                if not any(book.id in new_ids for book in self._books.values() if book.series_id == series_id):
                    self._emit_series("SeriesChanged", self._series[series_id])
            return new_ids

    def _new_series(self, library: Library, folder: Path) -> Series:
        moment = now()
        self._seq += 1
        stat = folder.stat()
        series = Series(
            new_id(),
            library.id,
            folder,
            folder.name,
            moment,
            moment,
            dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
            default_series_metadata(folder.name, moment),
            self._seq,
        )
        self._series[series.id] = series
        self._emit_series("SeriesAdded", series)
        return series

    def _new_book(self, library: Library, series: Series, path: Path, stat: Any) -> Book:
        moment = now()
        self._seq += 1
        number = 1 + sum(1 for book in self._books.values() if book.series_id == series.id and not book.deleted)
        book = Book(
            new_id(),
            series.id,
            library.id,
            path,
            moment,
            moment,
            dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
            stat.st_mtime_ns,
            stat.st_size,
            number,
            unknown_media(),
            default_book_metadata(path.stem, number, moment),
            self._seq,
        )
        self._books[book.id] = book
        self._emit_book("BookAdded", book)
        return book

    def _file_changed(self, book: Book, stat: Any) -> None:
        book.deleted = False
        book.mtime_ns = stat.st_mtime_ns
        book.size_bytes = stat.st_size
        book.file_last_modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        book.last_modified = now()
        book.media = {**book.media, "status": "OUTDATED"}
        book.file_hash = ""
        self._emit_book("BookChanged", book)
        self._queue_task("AnalyzeBook", book.id)

    def _renumber(self, series_id: str) -> None:
        books = sorted(
            (book for book in self._books.values() if book.series_id == series_id and not book.deleted),
            key=lambda b: natural_key(b.path.name),
        )
        for position, book in enumerate(books, start=1):
            if book.number != position:
                book.number = position
                # like Komga, the default number follows the position unless locked
                apply_unlocked(book.metadata, {"number": str(position), "numberSort": float(position)})

    def analyze(self, book_id: str) -> None:
        """Queue an ``AnalyzeBook`` task (what ``POST /api/v1/books/{id}/analyze`` does)."""
        with self._lock:
            if book_id not in self._books:
                raise KeyError(book_id)
            self._queue_task("AnalyzeBook", book_id)

    def refresh_metadata(self, book_id: str) -> None:
        """Queue a ``RefreshBookMetadata`` task (``POST /api/v1/books/{id}/metadata/refresh``)."""
        with self._lock:
            if book_id not in self._books:
                raise KeyError(book_id)
            self._queue_task("RefreshBookMetadata", book_id)

    def _queue_task(self, kind: str, target_id: str, *, first: bool = False) -> None:
        with self._lock:
            if (kind, target_id) not in self._tasks:
                if first:
                    self._tasks.appendleft((kind, target_id))
                else:
                    self._tasks.append((kind, target_id))
            self._task_ready.notify_all()

    def scan_later(self, library_id: str) -> None:
        """Queue a ``ScanLibrary`` task ahead of the others (``POST /api/v1/libraries/{id}/scan``)."""
        with self._lock:
            if library_id not in self._libraries:
                raise KeyError(library_id)
            self._queue_task("ScanLibrary", library_id, first=True)

    def _task_worker(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                while (not self._tasks or self._paused) and not self._stopping.is_set():
                    self._task_ready.wait(timeout=0.5)
                if self._stopping.is_set():
                    return
                task = self._tasks.popleft()
                self._running_task = task
            try:
                kind, target_id = task
                if kind == "ScanLibrary":
                    self.scan(target_id)
                elif kind == "AnalyzeBook":
                    if self.analysis_seconds:
                        self._stopping.wait(self.analysis_seconds)
                    self._run_analysis(target_id)
                elif kind == "RefreshBookMetadata":
                    self._run_metadata_refresh(target_id)
            finally:
                with self._lock:
                    self._running_task = None
                    self._idle.notify_all()

    def _run_analysis(self, book_id: str) -> None:
        with self._lock:
            book = self._books.get(book_id)
            path = book.path if book else None
        if book is None or path is None:
            return
        analysis = read_archive(path)  # outside the lock: file I/O
        with self._lock:
            book.media = analysis.media
            book.file_hash = analysis.file_hash
            book.has_comicinfo = analysis.comicinfo is not None
            book.extra["comicinfo"] = analysis.comicinfo
            book.last_modified = now()
            self._emit_book("BookChanged", book)
            if analysis.media["status"] == "READY":
                # Komga also generates the cover thumbnail: an event a client has to ignore
                self.emit("ThumbnailBookAdded", {"bookId": book.id, "seriesId": book.series_id, "selected": True})
                self._queue_task("RefreshBookMetadata", book_id)

    def _run_metadata_refresh(self, book_id: str) -> None:
        with self._lock:
            book = self._books.get(book_id)
            if book is None:
                return
            # Komga reads ComicInfo.xml only when the last analysis listed it among the archive's files
            xml = book.extra.get("comicinfo") if book.has_comicinfo else None
        if xml is not None:
            try:
                fresh = read_archive(book.path).comicinfo
            except OSError:
                fresh = None
            xml = fresh or xml
        book_fields, series_fields = comicinfo_patches(xml) if xml else ({}, {})
        with self._lock:
            if apply_unlocked(book.metadata, book_fields):
                book.last_modified = now()
            self._emit_book("BookChanged", book)
            series = self._series[book.series_id]
            if apply_unlocked(series.metadata, series_fields):
                series.last_modified = now()
            self._emit_series("SeriesChanged", series)

    @contextlib.contextmanager
    def tasks_paused(self) -> Iterator[None]:
        """Hold the task queue (tasks pile up, ``TaskQueueStatus`` shows them) until the block ends."""
        with self._lock:
            self._paused = True
        try:
            yield
        finally:
            with self._lock:
                self._paused = False
                self._task_ready.notify_all()

    def task_count(self) -> dict[str, Any]:
        """``TaskQueueStatus``: queued tasks plus the running one, by type."""
        with self._lock:
            tasks = list(self._tasks) + ([self._running_task] if self._running_task else [])
        by_type: dict[str, int] = {}
        for kind, _ in tasks:
            by_type[kind] = by_type.get(kind, 0) + 1
        return {"count": len(tasks), "countByType": by_type}

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the task queue is empty and no task runs; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._tasks or self._running_task:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(timeout=min(remaining, 0.1))
        return True

    # ------------------------------------------------------------------ direct access for tests

    def book(self, book_id: str) -> dict[str, Any]:
        """The stored BookDto, as an admin sees it."""
        with self._lock:
            book = self._books[book_id]
            return book_dto(book, self._series[book.series_id], self._libraries[book.library_id], restrict_url=False)

    def series(self, series_id: str) -> dict[str, Any]:
        with self._lock:
            series = self._series[series_id]
            books = [book for book in self._books.values() if book.series_id == series_id]
            return series_dto(series, books, self._libraries[series.library_id], restrict_url=False)

    def book_ids(self, library_id: str | None = None) -> list[str]:
        with self._lock:
            return [
                book.id
                for book in sorted(self._books.values(), key=lambda b: b.seq)
                if library_id is None or book.library_id == library_id
            ]

    def lock(self, book_id: str, field_name: str, locked: bool = True) -> None:
        """Set a BookMetadataDto lock: ``lock(book_id, "title")`` sets ``titleLock``."""
        with self._lock:
            metadata = self._books[book_id].metadata
            key = field_name if field_name.endswith("Lock") else f"{field_name}Lock"
            if key not in metadata:
                raise KeyError(f"book metadata has no {key}")
            metadata[key] = locked

    def lock_series(self, series_id: str, field_name: str, locked: bool = True) -> None:
        with self._lock:
            metadata = self._series[series_id].metadata
            key = field_name if field_name.endswith("Lock") else f"{field_name}Lock"
            if key not in metadata:
                raise KeyError(f"series metadata has no {key}")
            metadata[key] = locked

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path with query, status) of every answered request, logged before the answer went out."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append((method, path, status))

    # ------------------------------------------------------------------ events

    @property
    def sse_connections(self) -> int:
        """How many event-stream connections were accepted so far."""
        with self._lock:
            return self._sse_connections

    @property
    def sse_open(self) -> int:
        """How many event streams are open now."""
        with self._lock:
            return len(self._sse_clients)

    def emit(self, event_name: str, data: dict[str, Any], *, admin_only: bool = False) -> None:
        """Send an event to every open event stream (admins only with ``admin_only``)."""
        frame = f"event:{event_name}\ndata:{json.dumps(data, separators=(',', ':'))}\n\n".encode()
        with self._lock:
            clients = [client for client in self._sse_clients if client.user.is_admin or not admin_only]
        for client in clients:
            client.queue.put(frame)

    def disconnect_sse(self, *, clean: bool = False) -> None:
        """End every open event stream now: abruptly (default) or with the final chunk (``clean``)."""
        with self._lock:
            clients = list(self._sse_clients)
            self._sse_clients.clear()  # sse_open is 0 as soon as this returns
        for client in clients:
            client.queue.put(CLOSE if clean else ABORT)
            if not clean:
                try:
                    client.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _forget(self, client: SseClient) -> None:
        with self._lock:
            if client in self._sse_clients:
                self._sse_clients.remove(client)

    def _emit_book(self, name: str, book: Book) -> None:
        self.emit(name, {"bookId": book.id, "seriesId": book.series_id, "libraryId": book.library_id})

    def _emit_series(self, name: str, series: Series) -> None:
        self.emit(name, {"seriesId": series.id, "libraryId": series.library_id})

    def _task_status_loop(self) -> None:
        while not self._stopping.wait(self.task_status_seconds):
            if self.sse_open:
                self.emit("TaskQueueStatus", self.task_count(), admin_only=True)

    # ------------------------------------------------------------------ API operations (used by the handler)

    def _visible_books(self) -> list[Book]:
        return sorted(self._books.values(), key=lambda b: b.seq)

    def _book_dto(self, book: Book, user: User) -> dict[str, Any]:
        return book_dto(
            book, self._series[book.series_id], self._libraries[book.library_id], restrict_url=not user.is_admin
        )

    def _patch_book(self, book_id: str, body: Any) -> None:
        with self._lock:
            book = self._books[book_id]
            book.metadata = patch_book_metadata(book.metadata, body)
            book.last_modified = now()
            self._emit_book("BookChanged", book)
            # Komga then re-aggregates the series' book metadata
            series = self._series[book.series_id]
            self._emit_series("SeriesChanged", series)

    def _add_series_thumbnail(
        self, series: Series, data: bytes, info: tuple[str, int, int], kind: str, selected: bool
    ) -> SeriesThumbnail:
        """A new poster for ``series``; selecting it unselects the others (Komga shows one)."""
        with self._lock:
            media_type, width, height = info
            if selected:
                for other in series.thumbnails:
                    other.selected = False
            thumbnail = SeriesThumbnail(new_id(), series.id, kind, data, media_type, width, height, selected)
            series.thumbnails.append(thumbnail)
            self.emit("ThumbnailSeriesAdded", {"seriesId": series.id, "selected": selected})
            return thumbnail

    def series_thumbnails(self, series_id: str) -> list[dict[str, Any]]:
        """The series' posters as ``GET /api/v1/series/{id}/thumbnails`` lists them (with ``data`` for tests)."""
        with self._lock:
            return [
                {**thumbnail_series_dto(thumbnail), "data": thumbnail.data}
                for thumbnail in self._series[series_id].thumbnails
            ]

    def _patch_series(self, series_id: str, body: Any) -> None:
        with self._lock:
            series = self._series[series_id]
            series.metadata = patch_series_metadata(series.metadata, body)
            series.last_modified = now()
            self._emit_series("SeriesChanged", series)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A stand-in Komga server (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=25600)
    parser.add_argument(
        "--library",
        action="append",
        default=[],
        metavar="NAME=FOLDER[:SERVER_ROOT]",
        help="a library to create and scan (repeatable)",
    )
    arguments = parser.parse_args(argv)
    komga = KomgaStandIn(port=arguments.port).start()
    for spec in arguments.library:
        name, _, rest = spec.partition("=")
        folder, _, server_root = rest.partition(":")
        library_id = komga.add_library(name, Path(folder), server_root or None)
        print(f"library {name} ({library_id}): {len(komga.scan(library_id))} books", flush=True)
    print(
        f"stand-in Komga on {komga.url}; admin@example.org/admin-pass (X-API-Key admin-key); Ctrl-C to stop", flush=True
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        komga.stop()


if __name__ == "__main__":
    main()
