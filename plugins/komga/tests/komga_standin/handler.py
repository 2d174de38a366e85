"""The stand-in Komga's HTTP side: authentication, routes, Spring ``Page`` JSON, the event stream.

Every request is answered by :class:`Handler` from the state of a
:class:`~komga_standin.standin.KomgaStandIn`; routes are listed in ``ROUTES``.
"""

from __future__ import annotations

import base64
import binascii
import json
import queue
import re
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from komga_standin.model import (
    MEDIA_STATUSES,
    Book,
    Series,
    SeriesThumbnail,
    User,
    ValidationFailed,
    image_info,
    library_dto,
    natural_key,
    now,
    series_dto,
    stamp,
    thumbnail_series_dto,
    user_dto,
)

if TYPE_CHECKING:
    from komga_standin.standin import KomgaStandIn

KOMGA_VERSION = "1.26.3"
MAX_PAGE_SIZE = 2000
DEFAULT_PAGE_SIZE = 20
ABORT = object()  # SSE: drop the connection without the final chunk
CLOSE = object()  # SSE: end the stream cleanly (what Komga does when the emitter times out)

# sort properties of the book search → key functions (None sorts first, as in SQL ascending)
BOOK_SORTS: dict[str, Callable[[Book], Any]] = {
    "createdDate": lambda b: (b.created.timestamp(), b.seq),
    "created": lambda b: (b.created.timestamp(), b.seq),
    "lastModifiedDate": lambda b: (b.last_modified.timestamp(), b.seq),
    "lastModified": lambda b: (b.last_modified.timestamp(), b.seq),
    "metadata.numberSort": lambda b: b.metadata["numberSort"],
    "metadata.title": lambda b: b.metadata["title"].lower(),
    "metadata.releaseDate": lambda b: (b.metadata["releaseDate"] is not None, b.metadata["releaseDate"] or ""),
    "name": lambda b: natural_key(b.name),
    "number": lambda b: b.number,
    "fileSize": lambda b: b.size_bytes,
    "media.pagesCount": lambda b: b.media["pagesCount"],
}


class SseClient:
    def __init__(self, user: User, connection: socket.socket):
        self.user = user
        self.connection = connection
        self.queue: queue.Queue[Any] = queue.Queue()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _HttpError(Exception):
    """An answer in Spring's error format (``timestamp``, ``status``, ``error``, ``message``, ``path``)."""

    def __init__(self, status: int, *, message: str = "", headers: dict[str, str] | None = None):
        super().__init__(message or status)
        self.status = status
        self.message = message
        self.headers = headers or {}


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


class Handler(BaseHTTPRequestHandler):
    komga: KomgaStandIn
    protocol_version = "HTTP/1.1"
    server_version = "KomgaStandIn/" + KOMGA_VERSION
    # headers and body are two writes: without TCP_NODELAY the body waits for the client's delayed ACK
    # (40 ms on Linux) on each kept-alive answer, a stall the real server does not add
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    # ------------------------------------------------------------------ plumbing

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if body or (content_type and status != 204):
            self.send_header("Content-Type", content_type or "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # logged before the body goes out, so a client that got its answer always finds it in the log
        self.komga._record(self.command, self.path, status)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json", headers)

    def _error(self, error: _HttpError) -> None:
        body = {
            "timestamp": stamp(now()),
            "status": error.status,
            "error": _REASONS.get(error.status, "Error"),
            "path": urlsplit(self.path).path,
        }
        if error.message:
            body["message"] = error.message
        self._json(error.status, body, error.headers)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, *, required: bool = True) -> Any:
        raw = self._body
        if not raw.strip():
            if required:
                raise _HttpError(400, message="Required request body is missing")
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _HttpError(400, message=f"JSON parse error: {exc}") from exc

    def _authenticate(self) -> User:
        api_key = self.headers.get("X-API-Key")
        if api_key is not None:
            user = self.komga.user_for(api_key=api_key)
            if user is None:
                raise _HttpError(401)
            return user
        authorization = self.headers.get("Authorization") or ""
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "basic" or not credentials:
            raise _HttpError(401, headers={"WWW-Authenticate": 'Basic realm="Realm"'})
        try:
            email, _, password = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _HttpError(401) from exc
        user = self.komga.user_for(email=email, password=password)
        if user is None:
            raise _HttpError(401)
        return user

    def _dispatch(self) -> None:
        self._body = self._read_body()
        try:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            path = parts.path.rstrip("/") or "/"
            if not (path.startswith("/api/") or path.startswith("/sse/") or path.startswith("/actuator/")):
                raise _HttpError(404)
            user = self._authenticate()
            for method, pattern, handler in ROUTES:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                if method != self.command:
                    continue
                handler(self, user, query, *match.groups())
                return
            if any(pattern.fullmatch(path) for _, pattern, _ in ROUTES):
                raise _HttpError(405)
            raise _HttpError(404)
        except _HttpError as error:
            self._error(error)
        except ValidationFailed as failure:
            if failure.violations is not None:
                self._json(400, {"violations": failure.violations})
            else:
                self._error(_HttpError(400, message=failure.message or ""))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:
            self._error(_HttpError(500, message=f"{type(exc).__name__}: {exc}"))

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    # ------------------------------------------------------------------ helpers

    def _need_admin(self, user: User) -> None:
        if not user.is_admin:
            raise _HttpError(403)

    def _book(self, book_id: str) -> Book:
        book = self.komga._books.get(book_id)
        if book is None:
            raise _HttpError(404)
        return book

    def _series(self, series_id: str) -> Series:
        series = self.komga._series.get(series_id)
        if series is None:
            raise _HttpError(404)
        return series

    # ------------------------------------------------------------------ routes

    def users_me(self, user: User, query: dict[str, list[str]]) -> None:
        self._json(200, user_dto(user))

    def libraries(self, user: User, query: dict[str, list[str]]) -> None:
        with self.komga._lock:
            libraries = [library_dto(library) for library in self.komga._libraries.values()]
        if not user.is_admin:
            for library in libraries:
                library["root"] = ""
        self._json(200, libraries)

    def library_get(self, user: User, query: dict[str, list[str]], library_id: str) -> None:
        with self.komga._lock:
            library = self.komga._libraries.get(library_id)
            if library is None:
                raise _HttpError(404)
            dto = library_dto(library)
        if not user.is_admin:
            dto["root"] = ""
        self._json(200, dto)

    def library_scan(self, user: User, query: dict[str, list[str]], library_id: str) -> None:
        self._need_admin(user)
        if library_id not in self.komga._libraries:
            raise _HttpError(404)
        # Komga answers 202 and scans in its task queue
        self.komga.scan_later(library_id)
        self._send(202, b"", None)

    def books_list(self, user: User, query: dict[str, list[str]]) -> None:
        body = self._json_body(required=True)
        if not isinstance(body, dict):
            raise _HttpError(400, message="JSON parse error: BookSearch must be an object")
        condition = body.get("condition")
        text = body.get("fullTextSearch")
        with self.komga._lock:
            books = [book for book in self.komga._visible_books() if _matches(book, condition)]
            if text:
                books = [book for book in books if str(text).lower() in book.metadata["title"].lower()]
            self._page(books, user, query, sortable=True)

    def books_latest(self, user: User, query: dict[str, list[str]]) -> None:
        with self.komga._lock:
            books = sorted(
                self.komga._visible_books(), key=lambda b: (b.last_modified.timestamp(), b.seq), reverse=True
            )
            self._page(books, user, query, sortable=False, forced_sort=[("lastModifiedDate", "DESC")])

    def _page(
        self,
        books: list[Book],
        user: User,
        query: dict[str, list[str]],
        *,
        sortable: bool,
        forced_sort: list[tuple[str, str]] | None = None,
    ) -> None:
        orders = forced_sort or (_sort_orders(query.get("sort", [])) if sortable else [])
        if sortable:
            for prop, direction in reversed(orders):
                key = BOOK_SORTS.get(prop)
                if key is not None:
                    books = sorted(books, key=key, reverse=direction == "DESC")
        unpaged = (query.get("unpaged") or ["false"])[0].lower() == "true"
        page_number = max(_int(query.get("page"), 0), 0)
        size = _int(query.get("size"), DEFAULT_PAGE_SIZE)
        size = DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
        sort_json = {"empty": not orders, "sorted": bool(orders), "unsorted": not orders}
        total = len(books)
        if unpaged:
            page_number, size, chunk = 0, total, books
            pageable: Any = "INSTANCE"
            total_pages = 1
        else:
            chunk = books[page_number * size : (page_number + 1) * size]
            pageable = {
                "pageNumber": page_number,
                "pageSize": size,
                "sort": sort_json,
                "offset": page_number * size,
                "paged": True,
                "unpaged": False,
            }
            total_pages = -(-total // size) if size else 1
        content = [self.komga._book_dto(book, user) for book in chunk]
        self._json(
            200,
            {
                "content": content,
                "pageable": pageable,
                "last": page_number + 1 >= total_pages,
                "totalElements": total,
                "totalPages": total_pages,
                "size": size,
                "number": page_number,
                "sort": sort_json,
                "first": page_number == 0,
                "numberOfElements": len(content),
                "empty": not content,
            },
        )

    def book_get(self, user: User, query: dict[str, list[str]], book_id: str) -> None:
        with self.komga._lock:
            self._json(200, self.komga._book_dto(self._book(book_id), user))

    def book_file(self, user: User, query: dict[str, list[str]], book_id: str) -> None:
        if "FILE_DOWNLOAD" not in user.roles and not user.is_admin:  # ADMIN implies the other roles
            raise _HttpError(403)
        with self.komga._lock:
            book = self._book(book_id)
            path, media_type = book.path, book.media["mediaType"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _HttpError(404) from exc
        name = path.name
        fallback = name.encode("ascii", "replace").decode().replace('"', "_")
        self._send(
            200,
            data,
            media_type or "application/octet-stream",
            {
                "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
            },
        )

    def book_patch(self, user: User, query: dict[str, list[str]], book_id: str) -> None:
        self._need_admin(user)
        body = self._json_body()
        with self.komga._lock:
            self._book(book_id)
            self.komga._patch_book(book_id, body)
        self._send(204, b"", None)

    def book_analyze(self, user: User, query: dict[str, list[str]], book_id: str) -> None:
        self._need_admin(user)
        with self.komga._lock:
            self._book(book_id)
            self.komga.analyze(book_id)
        self._send(202, b"", None)

    def book_refresh(self, user: User, query: dict[str, list[str]], book_id: str) -> None:
        self._need_admin(user)
        with self.komga._lock:
            self._book(book_id)
            self.komga.refresh_metadata(book_id)
        self._send(202, b"", None)

    def series_get(self, user: User, query: dict[str, list[str]], series_id: str) -> None:
        with self.komga._lock:
            series = self._series(series_id)
            books = [book for book in self.komga._books.values() if book.series_id == series_id]
            self._json(
                200, series_dto(series, books, self.komga._libraries[series.library_id], restrict_url=not user.is_admin)
            )

    def series_books(self, user: User, query: dict[str, list[str]], series_id: str) -> None:
        with self.komga._lock:
            self._series(series_id)
            books = sorted(
                (book for book in self.komga._visible_books() if book.series_id == series_id), key=lambda b: b.number
            )
            self._page(books, user, query, sortable=True)

    def series_patch(self, user: User, query: dict[str, list[str]], series_id: str) -> None:
        self._need_admin(user)
        body = self._json_body()
        with self.komga._lock:
            self._series(series_id)
            self.komga._patch_series(series_id, body)
        self._send(204, b"", None)

    # series posters (Komga's "Series Poster" tag in the OpenAPI description)

    def series_thumbnails(self, user: User, query: dict[str, list[str]], series_id: str) -> None:
        with self.komga._lock:
            series = self._series(series_id)
            self._json(200, [thumbnail_series_dto(thumbnail) for thumbnail in series.thumbnails])

    def series_thumbnail_upload(self, user: User, query: dict[str, list[str]], series_id: str) -> None:
        self._need_admin(user)
        data = _multipart_file(self.headers.get("Content-Type") or "", self._body, "file")
        if data is None:
            raise _HttpError(400, message="Required part 'file' is not present.")
        info = image_info(data)
        if info is None:
            raise _HttpError(415)
        selected = (query.get("selected") or ["true"])[0].lower() != "false"
        with self.komga._lock:
            series = self._series(series_id)
            thumbnail = self.komga._add_series_thumbnail(series, data, info, "USER_UPLOADED", selected)
            self._json(200, thumbnail_series_dto(thumbnail))

    def _series_thumbnail(self, series_id: str, thumbnail_id: str) -> SeriesThumbnail:
        series = self._series(series_id)
        for thumbnail in series.thumbnails:
            if thumbnail.id == thumbnail_id:
                return thumbnail
        raise _HttpError(404)

    def series_thumbnail_get(self, user: User, query: dict[str, list[str]], series_id: str, thumbnail_id: str) -> None:
        with self.komga._lock:
            thumbnail = self._series_thumbnail(series_id, thumbnail_id)
            self._send(200, thumbnail.data, thumbnail.media_type)

    def series_thumbnail_select(
        self, user: User, query: dict[str, list[str]], series_id: str, thumbnail_id: str
    ) -> None:
        self._need_admin(user)
        with self.komga._lock:
            chosen = self._series_thumbnail(series_id, thumbnail_id)
            for thumbnail in self._series(series_id).thumbnails:
                thumbnail.selected = thumbnail is chosen
        self._send(202, b"", None)

    def series_thumbnail_delete(
        self, user: User, query: dict[str, list[str]], series_id: str, thumbnail_id: str
    ) -> None:
        self._need_admin(user)
        with self.komga._lock:
            thumbnail = self._series_thumbnail(series_id, thumbnail_id)
            self._series(series_id).thumbnails.remove(thumbnail)
        self._send(202, b"", None)

    def tasks_delete(self, user: User, query: dict[str, list[str]]) -> None:
        self._need_admin(user)
        with self.komga._lock:
            count = len(self.komga._tasks)
            self.komga._tasks.clear()
            self.komga._idle.notify_all()
        self._json(200, count)

    def actuator_info(self, user: User, query: dict[str, list[str]]) -> None:
        self._json(
            200, {"build": {"artifact": "komga", "name": "komga", "version": KOMGA_VERSION, "group": "org.gotson"}}
        )

    def events(self, user: User, query: dict[str, list[str]]) -> None:
        komga = self.komga
        client = SseClient(user, self.connection)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
        self.send_header("Transfer-Encoding", "chunked")
        with komga._lock:
            komga._sse_clients.append(client)
            komga._sse_connections += 1
            komga._requests.append((self.command, self.path, 200))
        ending: Any = None
        try:
            self.end_headers()
            self.wfile.flush()
            started = time.monotonic()
            expires = started + komga.sse_timeout_seconds if komga.sse_timeout_seconds else float("inf")
            next_heartbeat = started + komga.heartbeat_seconds
            while not komga._stopping.is_set():
                wake = min(next_heartbeat, expires)
                try:
                    item = client.queue.get(timeout=max(0.0, wake - time.monotonic()))
                except queue.Empty:
                    if time.monotonic() >= expires:
                        item = CLOSE  # Komga's emitter timeout: the stream ends cleanly
                    else:
                        item = b":heartbeat\n\n"
                        next_heartbeat = time.monotonic() + komga.heartbeat_seconds
                if item is ABORT or item is CLOSE:
                    ending = item
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(item), item))
                self.wfile.flush()
            komga._forget(client)  # before the client can see the end
            if ending is not ABORT:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except OSError:
            pass
        finally:
            komga._forget(client)
            self.close_connection = True
            if ending is ABORT:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _int(values: list[str] | None, default: int) -> int:
    try:
        return int(values[0]) if values else default
    except ValueError:
        return default


def _sort_orders(values: list[str]) -> list[tuple[str, str]]:
    """Spring's ``sort=prop,desc`` parameters (several allowed; ``sort=a,b,desc`` sorts a and b descending)."""
    orders: list[tuple[str, str]] = []
    for value in values:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        direction = "ASC"
        if parts and parts[-1].lower() in ("asc", "desc"):
            direction = parts.pop().upper()
        orders.extend((prop, direction) for prop in parts)
    return orders


def _matches(book: Book, condition: Any) -> bool:
    """Komga's book search conditions (the subset a tagger needs); unknown ones are a 400."""
    if condition is None or condition == {}:
        return True
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _HttpError(400, message=f"JSON parse error: bad search condition {condition!r}")
    ((name, value),) = condition.items()
    if name in ("allOf", "anyOf"):
        if not isinstance(value, list):
            raise _HttpError(400, message=f"JSON parse error: {name} must be an array")
        results = [_matches(book, item) for item in value]
        if not results:
            return True
        return all(results) if name == "allOf" else any(results)
    if not isinstance(value, dict) or "operator" not in value:
        raise _HttpError(400, message=f"JSON parse error: {name} needs an operator")
    operator = value["operator"]
    if name in ("libraryId", "seriesId", "mediaStatus", "title", "tag"):
        target = value.get("value")
        if name == "mediaStatus" and target not in MEDIA_STATUSES:
            raise _HttpError(400, message=f"JSON parse error: unknown media status {target!r}")
        actual: Any = {
            "libraryId": book.library_id,
            "seriesId": book.series_id,
            "mediaStatus": book.media["status"],
            "title": book.metadata["title"],
            "tag": None,
        }[name]
        if name == "tag":
            hit = str(target).lower() in book.metadata["tags"]
            return hit if operator == "is" else not hit if operator == "isNot" else _bad_operator(name, operator)
        if operator == "is":
            return actual == target
        if operator == "isNot":
            return actual != target
        if name == "title" and operator in ("contains", "doesNotContain", "beginsWith", "endsWith"):
            haystack, needle = str(actual).lower(), str(target).lower()
            return {
                "contains": needle in haystack,
                "doesNotContain": needle not in haystack,
                "beginsWith": haystack.startswith(needle),
                "endsWith": haystack.endswith(needle),
            }[operator]
        return _bad_operator(name, operator)
    if name in ("deleted", "oneShot"):
        actual = book.deleted if name == "deleted" else False
        if operator == "isTrue":
            return actual
        if operator == "isFalse":
            return not actual
        return _bad_operator(name, operator)
    raise _HttpError(400, message=f"the stand-in does not know the search condition {name!r}")


def _multipart_file(content_type: str, body: bytes, name: str) -> bytes | None:
    """The bytes of the form part ``name`` of a ``multipart/form-data`` body (None when absent)."""
    from email import policy
    from email.parser import BytesParser

    if not content_type.lower().startswith("multipart/form-data"):
        raise _HttpError(415)
    message = BytesParser(policy=policy.default).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise _HttpError(400, message="Failed to parse multipart servlet request")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def _bad_operator(name: str, operator: Any) -> bool:
    raise _HttpError(400, message=f"JSON parse error: bad operator {operator!r} for {name}")


_ID = r"([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Callable[..., None]]] = [
    (method, re.compile(pattern), handler)
    for method, pattern, handler in (
        ("GET", r"/api/v2/users/me", Handler.users_me),
        ("GET", r"/api/v1/libraries", Handler.libraries),
        ("GET", rf"/api/v1/libraries/{_ID}", Handler.library_get),
        ("POST", rf"/api/v1/libraries/{_ID}/scan", Handler.library_scan),
        ("POST", r"/api/v1/books/list", Handler.books_list),
        ("GET", r"/api/v1/books/latest", Handler.books_latest),
        ("GET", rf"/api/v1/books/{_ID}", Handler.book_get),
        ("GET", rf"/api/v1/books/{_ID}/file", Handler.book_file),
        ("PATCH", rf"/api/v1/books/{_ID}/metadata", Handler.book_patch),
        ("POST", rf"/api/v1/books/{_ID}/analyze", Handler.book_analyze),
        ("POST", rf"/api/v1/books/{_ID}/metadata/refresh", Handler.book_refresh),
        ("GET", rf"/api/v1/series/{_ID}", Handler.series_get),
        ("GET", rf"/api/v1/series/{_ID}/books", Handler.series_books),
        ("PATCH", rf"/api/v1/series/{_ID}/metadata", Handler.series_patch),
        ("GET", rf"/api/v1/series/{_ID}/thumbnails", Handler.series_thumbnails),
        ("POST", rf"/api/v1/series/{_ID}/thumbnails", Handler.series_thumbnail_upload),
        ("GET", rf"/api/v1/series/{_ID}/thumbnails/{_ID}", Handler.series_thumbnail_get),
        ("DELETE", rf"/api/v1/series/{_ID}/thumbnails/{_ID}", Handler.series_thumbnail_delete),
        ("PUT", rf"/api/v1/series/{_ID}/thumbnails/{_ID}/selected", Handler.series_thumbnail_select),
        ("DELETE", r"/api/v1/tasks", Handler.tasks_delete),
        ("GET", r"/actuator/info", Handler.actuator_info),
        ("GET", r"/sse/v1/events", Handler.events),
    )
]
