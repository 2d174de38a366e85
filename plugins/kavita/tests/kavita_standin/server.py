"""A stand-in Kavita 0.8.3 server for tests (127.0.0.1 only, standard library HTTP).

It serves what a metadata tagger uses of Kavita's REST API and its SignalR hub: plugin
authentication (API key -> JWT with an expiry and the user's roles), libraries, the series
filter (``POST /api/Series/v2``, paged through the ``Pagination`` header), series, volumes,
chapters, series metadata, ``Chapter/update`` and ``Series/metadata`` with Kavita's rules
(:mod:`.model`), scans (asynchronous, as Kavita's task queue runs them) that read ComicInfo.xml,
cover uploads, and the message hub (:mod:`.hub`). Routes are matched case-insensitively, as
ASP.NET matches them. Given Kavita's OpenAPI description, every request is checked against it
first (:mod:`.openapi`); a request it does not allow is answered 400 and kept in ``violations``.

    with KavitaStandIn(openapi=path) as kavita:
        library_id = kavita.add_library("BD", folder=tmp_path, server_root="/comics/BD")
        kavita.scan_library(library_id)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kavita_standin import model
from kavita_standin.hub import Hub, HubConnection, accept_key
from kavita_standin.model import PEOPLE, Chapter, Library, People, Series, User, Volume
from kavita_standin.openapi import OpenApi
from kavita_standin.parser import normalize, parse_file

KAVITA_VERSION = "0.8.3.2"
ADMIN_KEY = "admin-api-key-0001"
READER_KEY = "reader-api-key-0002"
COMIC_EXTENSIONS = (".cbz", ".zip", ".cbr", ".cb7")
# routes Kavita marks [AllowAnonymous]
ANONYMOUS = {("POST", "/api/plugin/authenticate"), ("GET", "/api/plugin/version"), ("POST", "/api/library/scan-folder")}
# routes behind Kavita's "RequireAdminRole" policy (among those served here)
ADMIN_ONLY = {
    ("POST", "/api/chapter/update"),
    ("POST", "/api/series/scan"),
    ("POST", "/api/library/scan"),
    ("POST", "/api/upload/chapter"),
    ("POST", "/api/upload/series"),
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


class KavitaStandIn:
    """The server; use as a context manager: ``with KavitaStandIn() as kavita: kavita.url``."""

    def __init__(
        self,
        *,
        openapi: Path | None = None,
        token_seconds: float = 10 * 24 * 3600,
        scan_delay_seconds: float = 0.05,
        ping_seconds: float = 15.0,
        client_timeout_seconds: float = 30.0,
    ):
        self.openapi = OpenApi(openapi) if openapi is not None else None
        self.token_seconds = token_seconds
        self.scan_delay_seconds = scan_delay_seconds
        self.hub = Hub(ping_seconds=ping_seconds, client_timeout_seconds=client_timeout_seconds)
        self.lock = threading.RLock()
        self.secret = hashlib.sha256(str(time.time()).encode()).digest()
        self.users: list[User] = [
            User(1, "admin", ADMIN_KEY, ("Admin", "Pleb")),
            User(2, "reader", READER_KEY, ("Pleb",)),
        ]
        self.libraries: dict[int, Library] = {}
        self.series: dict[int, Series] = {}
        self.volumes: dict[int, Volume] = {}
        self.chapters: dict[int, Chapter] = {}
        self.people = People()
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.tokens_issued: list[str] = []
        self.hub_down = False  # tests: the hub refuses new connections
        self._ids = {"library": 0, "series": 0, "volume": 0, "chapter": 0}
        self._tasks: queue.Queue[tuple[str, int, int] | None] = queue.Queue()
        self._busy = 0
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> KavitaStandIn:
        standin = self

        class BoundHandler(Handler):
            kavita = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), BoundHandler)
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._task_loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.hub.drop_all()
        self._tasks.put(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> KavitaStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # ------------------------------------------------------------------ tokens

    def issue_token(self, user: User) -> str:
        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        claims = {
            "name": user.username,
            "nameid": str(user.id),
            "role": list(user.roles),
            "exp": int(time.time() + self.token_seconds),
            "iat": int(time.time()),
        }
        unsigned = part({"alg": "HS512", "typ": "JWT"}) + "." + part(claims)
        signature = base64.urlsafe_b64encode(hmac.new(self.secret, unsigned.encode(), "sha512").digest()).rstrip(b"=")
        token = unsigned + "." + signature.decode()
        with self.lock:
            self.tokens_issued.append(token)
        return token

    def user_of(self, token: str | None) -> User | None:
        """The token's user, when it is ours and not expired."""
        if not token or token.count(".") != 2:
            return None
        unsigned, _, signature = token.rpartition(".")
        expected = base64.urlsafe_b64encode(hmac.new(self.secret, unsigned.encode(), "sha512").digest()).rstrip(b"=")
        if not hmac.compare_digest(expected.decode(), signature):
            return None
        payload = unsigned.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if claims["exp"] < time.time():
            return None
        return next((user for user in self.users if str(user.id) == claims["nameid"]), None)

    # ------------------------------------------------------------------ libraries and scans

    def add_library(self, name: str, folder: Path, server_root: str) -> int:
        with self.lock:
            library = Library(self._next("library"), name, Path(folder), server_root.rstrip("/"))
            self.libraries[library.id] = library
            return library.id

    def scan_library(self, library_id: int, *, events: bool = True) -> list[int]:
        """Scan now (tests); the ids of the new chapters."""
        return self._scan(library_id, None, events=events)

    def _task_loop(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            kind, library_id, series_id = task
            time.sleep(self.scan_delay_seconds)
            try:
                self._scan(library_id, series_id if kind == "series" else None, events=True, force=kind == "series")
            finally:
                with self.lock:
                    self._busy -= 1

    def queue_scan(self, library_id: int, series_id: int | None = None) -> None:
        with self.lock:
            self._busy += 1
        self._tasks.put(("series" if series_id else "library", library_id, series_id or 0))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self._busy == 0:
                    return True
            time.sleep(0.02)
        return False

    def _scan(self, library_id: int, only_series: int | None, *, events: bool, force: bool = False) -> list[int]:
        with self.lock:
            library = self.libraries[library_id]
            files = sorted(p for p in library.folder.rglob("*") if p.is_file() and p.suffix.lower() in COMIC_EXTENSIONS)
            known = {chapter.file_local.resolve(): chapter for chapter in self.chapters.values()}
            new_chapters: list[int] = []
            added_series: list[Series] = []
            touched: set[int] = set()
            for path in files:
                stat = path.stat()
                chapter = known.get(path.resolve())
                info = model.read_comicinfo(path)
                if chapter is not None:
                    series = self._series_of(chapter)
                    if only_series is not None and series.id != only_series:
                        continue
                    if force or chapter.mtime_ns != stat.st_mtime_ns or chapter.size != stat.st_size:
                        chapter.mtime_ns, chapter.size = stat.st_mtime_ns, stat.st_size
                        if info:
                            model.chapter_from_comicinfo(chapter, info, self.people)
                        touched.add(series.id)
                    continue
                parsed = parse_file(library.kavita_path(path), info, path.parent.name)
                key = normalize(parsed.series)
                series = next(
                    (s for s in self.series.values() if s.library_id == library_id and s.normalized == key), None
                )
                if only_series is not None and (series is None or series.id != only_series):
                    continue
                if series is None:
                    created = model.now_local()
                    series = Series(
                        self._next("series"),
                        library_id,
                        parsed.series,
                        key,
                        path.parent,
                        library.kavita_path(path.parent),
                        created,
                        created,
                    )
                    self.series[series.id] = series
                    added_series.append(series)
                volume = next(
                    (v for v in self.volumes.values() if v.series_id == series.id and v.name == parsed.volume), None
                )
                if volume is None:
                    volume = Volume(self._next("volume"), series.id, parsed.volume, model.now_local())
                    self.volumes[volume.id] = volume
                created = model.now_local()
                chapter = Chapter(
                    self._next("chapter"),
                    volume.id,
                    parsed.chapter,
                    path,
                    library.kavita_path(path),
                    created,
                    size=stat.st_size,
                    mtime_ns=stat.st_mtime_ns,
                    pages=model.page_count(path),
                    is_special=parsed.is_special,
                    title_name=parsed.title if parsed.is_special else None,
                    last_modified=created,
                )
                chapter.sort_order = chapter.min_number
                if info:
                    model.chapter_from_comicinfo(chapter, info, self.people)
                self.chapters[chapter.id] = chapter
                series.last_chapter_added = created
                new_chapters.append(chapter.id)
                touched.add(series.id)
            for series_id in touched:
                series = self.series[series_id]
                model.series_from_chapters(series, self.chapters_of(series_id), self.volumes)
            library.last_scanned = model.now_local()
        if events:
            for series in added_series:
                self.emit("SeriesAdded", {"seriesId": series.id, "seriesName": series.name, "libraryId": library_id})
            if only_series is not None:
                name = self.series[only_series].name if only_series in self.series else ""
                self.emit(
                    "ScanSeries", {"libraryId": library_id, "seriesId": only_series, "seriesName": name}, stage="single"
                )
            else:
                self.emit(
                    "NotificationProgress",
                    {"seriesName": "", "libraryName": library.name, "leftToProcess": 0},
                    stage="ended",
                    name="ScanProgress",
                )
        return new_chapters

    def emit(self, target: str, body: dict[str, Any], *, stage: str = "updated", name: str | None = None) -> int:
        """Send a SignalR message as Kavita's ``EventHub.SendMessageAsync`` does (one ``SignalRMessage``)."""
        message = {
            "name": name or target,
            "title": "",
            "subTitle": "",
            "eventType": stage,
            "progress": "none",
            "body": body,
        }
        return self.hub.send(target, message)

    # ------------------------------------------------------------------ lookups

    def _series_of(self, chapter: Chapter) -> Series:
        return self.series[self.volumes[chapter.volume_id].series_id]

    def chapters_of(self, series_id: int) -> list[Chapter]:
        volumes = {v.id for v in self.volumes.values() if v.series_id == series_id}
        return [chapter for chapter in self.chapters.values() if chapter.volume_id in volumes]

    def series_named(self, name: str) -> Series:
        return next(series for series in self.series.values() if series.name == name)

    def posts(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.lower() == path.lower()]

    # ------------------------------------------------------------------ DTOs

    def library_dto(self, library: Library) -> dict[str, Any]:
        return {
            "id": library.id,
            "name": library.name,
            "lastScanned": library.last_scanned,
            "type": 1,
            "coverImage": None,
            "folderWatching": True,
            "includeInDashboard": True,
            "includeInRecommended": True,
            "manageCollections": True,
            "manageReadingLists": True,
            "includeInSearch": True,
            "allowScrobbling": True,
            "folders": [library.server_root],
            "collapseSeriesRelationships": False,
            "libraryFileTypes": [1],
            "excludePatterns": [],
        }

    def series_dto(self, series: Series) -> dict[str, Any]:
        pages = sum(chapter.pages for chapter in self.chapters_of(series.id))
        return {
            "id": series.id,
            "name": series.name,
            "originalName": series.name,
            "localizedName": "",
            "sortName": series.name,
            "pages": pages,
            "coverImageLocked": series.cover_locked,
            "pagesRead": 0,
            "latestReadDate": model.NO_DATE,
            "lastChapterAdded": series.last_chapter_added,
            "userRating": 0.0,
            "hasUserRated": False,
            "format": 1,
            "created": series.created,
            "nameLocked": False,
            "sortNameLocked": False,
            "localizedNameLocked": False,
            "wordCount": 0,
            "libraryId": series.library_id,
            "libraryName": self.libraries[series.library_id].name,
            "minHoursToRead": 0,
            "maxHoursToRead": 0,
            "avgHoursToRead": 0.0,
            "folderPath": series.folder_kavita,
            "lowestFolderPath": series.folder_kavita,
            "lastFolderScanned": self.libraries[series.library_id].last_scanned,
            "coverImage": f"series{series.id}.png",
            "primaryColor": None,
            "secondaryColor": None,
        }

    def chapter_dto(self, chapter: Chapter) -> dict[str, Any]:
        volume = self.volumes[chapter.volume_id]
        dto: dict[str, Any] = {
            "id": chapter.id,
            "range": chapter.range,
            "number": chapter.range,
            "minNumber": chapter.min_number,
            "maxNumber": chapter.min_number,
            "sortOrder": chapter.sort_order,
            "pages": chapter.pages,
            "isSpecial": chapter.is_special,
            "title": chapter.title_name or chapter.range,
            "files": [
                {
                    "id": chapter.id,
                    "filePath": chapter.file_kavita,
                    "pages": chapter.pages,
                    "bytes": chapter.size,
                    "format": 1,
                    "created": chapter.created,
                    "extension": chapter.file_local.suffix.lower(),
                }
            ],
            "pagesRead": 0,
            "lastReadingProgressUtc": model.NO_DATE,
            "lastReadingProgress": model.NO_DATE,
            "coverImageLocked": chapter.cover_locked,
            "volumeId": chapter.volume_id,
            "createdUtc": model.utc(chapter.created),
            "lastModifiedUtc": model.utc(chapter.last_modified or chapter.created),
            "created": chapter.created,
            "releaseDate": chapter.release_date,
            "titleName": chapter.title_name,
            "summary": chapter.summary,
            "ageRating": chapter.age_rating,
            "wordCount": 0,
            "volumeTitle": volume.name,
            "minHoursToRead": 0,
            "maxHoursToRead": 0,
            "avgHoursToRead": 0.0,
            "webLinks": chapter.web_links,
            "isbn": chapter.isbn,
            "genres": [{"id": index + 1, "title": title} for index, title in enumerate(chapter.genres)],
            "tags": [{"id": index + 1, "title": title} for index, title in enumerate(chapter.tags)],
            "publicationStatus": 0,
            "language": chapter.language,
            "count": chapter.count,
            "totalCount": chapter.total_count,
            "coverImage": f"chapter{chapter.id}.png",
            "primaryColor": None,
            "secondaryColor": None,
        }
        for _element, name, _lock, role in PEOPLE:
            dto[name] = self.people.dtos(chapter.people.get(name, []), role)
        for lock in model.CHAPTER_LOCKS:
            if lock not in model.HIDDEN_CHAPTER_LOCKS:  # 0.8.3's ChapterDto does not carry these four
                dto[lock] = chapter.locks.get(lock, False)
        return dto

    def volume_dto(self, volume: Volume) -> dict[str, Any]:
        chapters = sorted(
            (c for c in self.chapters.values() if c.volume_id == volume.id), key=lambda c: (c.min_number, c.id)
        )
        number = volume.min_number
        return {
            "id": volume.id,
            "minNumber": number,
            "maxNumber": number,
            "name": volume.name,
            "number": int(number) if math.isfinite(number) else 0,
            "pages": sum(c.pages for c in chapters),
            "pagesRead": 0,
            "lastModifiedUtc": model.utc(volume.created),
            "createdUtc": model.utc(volume.created),
            "created": volume.created,
            "lastModified": volume.created,
            "seriesId": volume.series_id,
            "chapters": [self.chapter_dto(chapter) for chapter in chapters],
            "minHoursToRead": 0,
            "maxHoursToRead": 0,
            "avgHoursToRead": 0.0,
            "wordCount": 0,
            "coverImage": f"volume{volume.id}.png",
            "primaryColor": None,
            "secondaryColor": None,
        }

    def volumes_of(self, series_id: int) -> list[Volume]:
        return sorted(
            (v for v in self.volumes.values() if v.series_id == series_id), key=lambda v: (v.min_number, v.id)
        )

    def series_metadata_dto(self, series: Series) -> dict[str, Any]:
        meta = series.metadata
        dto: dict[str, Any] = {
            "id": series.id,
            "summary": meta.summary,
            "genres": [{"id": index + 1, "title": title} for index, title in enumerate(meta.genres)],
            "tags": [{"id": index + 1, "title": title} for index, title in enumerate(meta.tags)],
            "ageRating": meta.age_rating,
            "releaseYear": meta.release_year,
            "language": meta.language,
            "maxCount": meta.max_count,
            "totalCount": meta.total_count,
            "publicationStatus": meta.publication_status,
            "webLinks": meta.web_links,
            "seriesId": series.id,
        }
        for _element, name, _lock, role in PEOPLE:
            dto[name] = self.people.dtos(meta.people.get(name, []), role)
        for lock in model.SERIES_LOCKS:
            dto[lock] = meta.locks.get(lock, False)
        return dto


class Handler(BaseHTTPRequestHandler):
    kavita: KavitaStandIn
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without TCP_NODELAY the body waits for the client's delayed ACK
    # (40 ms on Linux) on each kept-alive answer, a stall the real server does not add
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # ------------------------------------------------------------------ plumbing

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._status = status

    def _dispatch(self, method: str) -> None:
        kavita = self.kavita
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        key = (method, path.lower().rstrip("/"))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        self._status = 0
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._answer(400, {"title": "One or more validation errors occurred.", "status": 400})
            if key == ("GET", "/hubs/messages") and self.headers.get("Upgrade", "").lower() == "websocket":
                return self._websocket(query)
            problems = []
            if kavita.openapi is not None and not key[1].startswith("/hubs/"):
                problems = kavita.openapi.check_request(method, path, query, body, bool(raw))
            if problems:
                with kavita.lock:
                    kavita.violations.extend(problems)
                return self._answer(
                    400,
                    {
                        "title": "One or more validation errors occurred.",
                        "status": 400,
                        "errors": {"request": problems},
                    },
                )
            user = None
            if key not in ANONYMOUS:
                authorization = self.headers.get("Authorization") or ""
                user = kavita.user_of(authorization[7:] if authorization.startswith("Bearer ") else None)
                if user is None:
                    return self._answer(401)
                if key in ADMIN_ONLY and "Admin" not in user.roles:
                    return self._answer(403)
            route = ROUTES.get(key)
            if route is None and key[1].startswith("/api/series/") and key[1][12:].isdigit() and method == "GET":
                return self._series(int(key[1][12:]))
            if route is None:
                return self._answer(404)
            self.user = user
            with kavita.lock:
                route(self, query, body)
        finally:
            with kavita.lock:
                kavita.requests.append(Recorded(method, path, query, body, self._status))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _int(self, query: dict[str, list[str]], name: str, default: int = 0) -> int:
        for key, values in query.items():
            if key.lower() == name.lower() and values and values[0].lstrip("-").isdigit():
                return int(values[0])
        return default

    # ------------------------------------------------------------------ routes

    def _authenticate(self, query: dict[str, list[str]], body: Any) -> None:
        key = next((values[0] for name, values in query.items() if name.lower() == "apikey"), "")
        user = next((user for user in self.kavita.users if user.api_key == key), None)
        if user is None:
            return self._answer(401, {"status": 401, "message": "Unauthorized", "details": None})
        self._answer(
            200,
            {
                "username": user.username,
                "email": None,
                "token": self.kavita.issue_token(user),
                "refreshToken": "refresh-" + hashlib.sha1(user.api_key.encode()).hexdigest()[:16],
                "apiKey": user.api_key,
                "kavitaVersion": KAVITA_VERSION,
            },
        )

    def _libraries(self, query: dict[str, list[str]], body: Any) -> None:
        self._answer(200, [self.kavita.library_dto(library) for library in self.kavita.libraries.values()])

    def _series_v2(self, query: dict[str, list[str]], body: Any) -> None:
        kavita = self.kavita
        found = list(kavita.series.values())
        for statement in (body or {}).get("statements") or []:
            field, comparison, value = (
                statement.get("field"),
                statement.get("comparison"),
                str(statement.get("value") or ""),
            )
            if field == 19 and comparison == 0:
                wanted = {int(part) for part in value.split(",") if part.strip().isdigit()}
                found = [series for series in found if series.library_id in wanted]
            elif field == 24 and comparison == 0:
                found = [series for series in found if series.folder_kavita == value]
            else:
                return self._answer(
                    500, {"message": f"stand-in: filter field {field} / comparison {comparison} not served"}
                )
        sort = (body or {}).get("sortOptions") or {"sortField": 1, "isAscending": True}
        sort_key = {1: lambda s: s.name.lower(), 2: lambda s: s.created, 4: lambda s: s.last_chapter_added}.get(
            sort.get("sortField")
        )
        if sort_key is None:
            return self._answer(500, {"message": f"stand-in: sort field {sort.get('sortField')} not served"})
        found.sort(key=sort_key, reverse=not sort.get("isAscending", True))
        page = max(self._int(query, "PageNumber", 1), 1)
        size = self._int(query, "PageSize", 0) or 2**31 - 1
        total_pages = max(math.ceil(len(found) / size), 1) if found else 0
        chosen = found[(page - 1) * size : page * size]
        header = {"currentPage": page, "itemsPerPage": size, "totalItems": len(found), "totalPages": total_pages}
        self._answer(
            200,
            [kavita.series_dto(series) for series in chosen],
            {"Pagination": json.dumps(header), "Access-Control-Expose-Headers": "Pagination"},
        )

    def _series(self, series_id: int) -> None:
        with self.kavita.lock:
            series = self.kavita.series.get(series_id)
            if series is None:
                return self._answer(204)
            self._answer(200, self.kavita.series_dto(series))

    def _volumes(self, query: dict[str, list[str]], body: Any) -> None:
        series_id = self._int(query, "seriesId")
        self._answer(200, [self.kavita.volume_dto(volume) for volume in self.kavita.volumes_of(series_id)])

    def _volume(self, query: dict[str, list[str]], body: Any) -> None:
        volume = self.kavita.volumes.get(self._int(query, "volumeId"))
        self._answer(200, self.kavita.volume_dto(volume)) if volume else self._answer(204)

    def _chapter(self, query: dict[str, list[str]], body: Any) -> None:
        chapter = self.kavita.chapters.get(self._int(query, "chapterId"))
        if chapter is None:
            return self._answer(400, "Chapter does not exist")
        self._answer(200, self.kavita.chapter_dto(chapter))

    def _chapter_update(self, query: dict[str, list[str]], body: Any) -> None:
        chapter = self.kavita.chapters.get(int(body.get("id") or 0))
        if chapter is None:
            return self._answer(400, "Chapter does not exist")
        model.update_chapter(chapter, body, self.kavita.people)
        self._answer(200)

    def _series_metadata(self, query: dict[str, list[str]], body: Any) -> None:
        series = self.kavita.series.get(self._int(query, "seriesId"))
        self._answer(200, self.kavita.series_metadata_dto(series) if series else None)

    def _series_metadata_update(self, query: dict[str, list[str]], body: Any) -> None:
        metadata = (body or {}).get("seriesMetadata") or {}
        series = self.kavita.series.get(int(metadata.get("seriesId") or 0))
        if series is None:
            return self._answer(400, "There was an error with updating the series")
        model.update_series_metadata(series, metadata, self.kavita.people)
        self._answer(200, "Series metadata updated")

    def _series_scan(self, query: dict[str, list[str]], body: Any) -> None:
        series = self.kavita.series.get(int(body.get("seriesId") or 0))
        if series is not None and series.library_id == int(body.get("libraryId") or 0):
            self.kavita.queue_scan(series.library_id, series.id)
        self._answer(200)

    def _library_scan(self, query: dict[str, list[str]], body: Any) -> None:
        library_id = self._int(query, "libraryId")
        if library_id <= 0:
            return self._answer(400, "libraryId must be greater than 0")
        if library_id in self.kavita.libraries:
            self.kavita.queue_scan(library_id)
        self._answer(200)

    def _upload_chapter(self, query: dict[str, list[str]], body: Any) -> None:
        chapter = self.kavita.chapters.get(int(body.get("id") or 0))
        if chapter is None:
            return self._answer(400, "Chapter does not exist")
        try:
            image = base64.b64decode(body.get("url") or "", validate=True)
        except ValueError:
            return self._answer(400, "Unable to save cover image to Chapter")
        if image:
            chapter.cover, chapter.cover_locked = image, bool(body.get("lockCover"))
        else:
            chapter.cover, chapter.cover_locked = None, False
        self.kavita.emit("CoverUpdate", {"id": chapter.id, "entityType": "chapter"})
        self._answer(200)

    def _negotiate(self, query: dict[str, list[str]], body: Any) -> None:
        if self.kavita.hub_down:  # a restarting server, a proxy in between
            return self._answer(503)
        if self._int(query, "negotiateVersion") != 1:
            return self._answer(400, {"error": "negotiateVersion 1 expected by this stand-in"})
        self._answer(200, self.kavita.hub.negotiate(self.user.username))

    def _websocket(self, query: dict[str, list[str]]) -> None:
        kavita = self.kavita
        user = kavita.user_of((query.get("access_token") or [""])[0])
        token_user = kavita.hub.take_token((query.get("id") or [""])[0])
        if user is None:
            return self._answer(401)
        if token_user is None:
            return self._answer(404)  # SignalR: "No Connection with that ID"
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(key))
        self.end_headers()
        self.wfile.flush()
        self._status = 101
        self.close_connection = True
        connection = HubConnection(self.connection, kavita.hub, user.username)
        kavita.emit("OnlineUsers", {"users": [user.username]})
        connection.serve()


ROUTES = {
    ("POST", "/api/plugin/authenticate"): Handler._authenticate,
    ("GET", "/api/library/libraries"): Handler._libraries,
    ("POST", "/api/series/v2"): Handler._series_v2,
    ("GET", "/api/series/volumes"): Handler._volumes,
    ("GET", "/api/series/volume"): Handler._volume,
    ("GET", "/api/chapter"): Handler._chapter,
    ("POST", "/api/chapter/update"): Handler._chapter_update,
    ("GET", "/api/series/metadata"): Handler._series_metadata,
    ("POST", "/api/series/metadata"): Handler._series_metadata_update,
    ("POST", "/api/series/scan"): Handler._series_scan,
    ("POST", "/api/library/scan"): Handler._library_scan,
    ("POST", "/api/upload/chapter"): Handler._upload_chapter,
    ("POST", "/hubs/messages/negotiate"): Handler._negotiate,
}
