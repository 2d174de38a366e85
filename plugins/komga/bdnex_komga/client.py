"""A small client for Komga's REST API (the parts bdnex-komga needs).

Authentication is an API key (header ``X-API-Key``) or HTTP Basic with an email
and a password. Every failure becomes a :class:`KomgaError` with one line that
says what to fix; credentials never appear in messages, logs or ``repr``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from bdnex_core.errors import ConfigError
from bdnex_komga.errors import InvalidKomgaId, KomgaError, KomgaHTTPError
from bdnex_komga.ids import checked_id, id_segment
from bdnex_komga.settings import KomgaSettings

logger = logging.getLogger(__name__)

USER_AGENT = "bdnex-komga/0.1"


class KomgaClient:
    """One Komga server and one ``requests`` session (give each thread its own client)."""

    def __init__(self, config: KomgaSettings, *, session: requests.Session | None = None):
        if not config.url:
            raise ConfigError("no Komga server configured: set komga.url (or BDNEX_KOMGA_URL)")
        if not config.url.startswith(("http://", "https://")):
            raise ConfigError(f"komga.url must start with http:// or https:// (got {config.url!r})")
        if config.auth_kind == "none":
            raise ConfigError(
                "no Komga credentials: set komga.api_key (or BDNEX_KOMGA_API_KEY, or komga.api_key_file), "
                "or komga.email with komga.password (or BDNEX_KOMGA_PASSWORD, or komga.password_file)"
            )
        self.config = config
        self.url = config.url
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        if config.api_key:
            self.session.headers["X-API-Key"] = config.api_key
        else:
            self.session.auth = (str(config.email), str(config.password))
        self.session.verify = config.verify_tls
        self.timeout = config.timeout_seconds or None

    def __repr__(self) -> str:
        return f"KomgaClient({self.url!r}, auth={self.config.auth_kind!r})"

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ plumbing

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        stream: bool = False,
        timeout: Any = None,
        expect_json: bool = True,
        headers: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
    ) -> Any:
        url = f"{self.url}{path}"
        try:
            response = self.session.request(
                method,
                url,
                json=json,
                files=files,
                params=params,
                stream=stream,
                headers=headers,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except requests.exceptions.SSLError as exc:
            raise KomgaError(
                f"TLS error talking to Komga at {self.url} ({_short(exc)}); "
                "set komga.verify_tls to a CA bundle path, or false for a self-signed test server"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise KomgaError(f"cannot reach Komga at {self.url} ({_short(exc)})") from None
        except requests.exceptions.Timeout:
            raise KomgaError(f"Komga at {self.url} did not answer {method} {path} in time") from None
        if response.status_code >= 400:
            self._raise_for(response, method, path)
        if stream:
            return response
        if not expect_json or response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise KomgaError(f"Komga at {self.url} answered {method} {path} with something that is not JSON") from None

    def _raise_for(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status == 401:
            what = "API key" if self.config.api_key else f"email or password of {self.config.email}"
            raise KomgaHTTPError(f"Komga at {self.url} refused the credentials (HTTP 401): wrong {what}", status, body)
        if status == 403:
            raise KomgaHTTPError(
                f"Komga at {self.url} forbids {method} {path} (HTTP 403): "
                "the user needs the ADMIN role (and FILE_DOWNLOAD to download files)",
                status,
                body,
            )
        if status == 404:
            raise KomgaHTTPError(f"Komga at {self.url}: {path} not found (HTTP 404)", status, body)
        reason = ""
        if isinstance(body, dict):
            violations = body.get("violations")
            if violations:
                reason = "; ".join(
                    f"{v.get('fieldName', '?')}: {v.get('message', '')}" for v in violations if isinstance(v, dict)
                )
            else:
                reason = str(body.get("message") or body.get("error") or "")
        raise KomgaHTTPError(
            f"Komga at {self.url} answered {method} {path} with HTTP {status}" + (f" ({reason})" if reason else ""),
            status,
            body,
        )

    # ------------------------------------------------------------------ users

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/api/v2/users/me")

    def check_admin(self) -> dict[str, Any]:
        """The current user, after checking the credentials and the ADMIN role (writes need it)."""
        user = self.me()
        if not isinstance(user, dict) or "roles" not in user:
            raise KomgaError(f"{self.url} does not look like a Komga server (unexpected answer to /api/v2/users/me)")
        if "ADMIN" not in user.get("roles", []):
            raise KomgaError(
                f"Komga user {user.get('email', '?')} is not an administrator: bdnex-komga needs "
                "the ADMIN role to write metadata (give it in Komga's user settings)"
            )
        return user

    # ------------------------------------------------------------------ libraries and books

    def libraries(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/libraries") or [])

    def books_page(
        self, condition: dict[str, Any] | None, page: int, size: int, sort: str = "createdDate,asc"
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"condition": condition} if condition else {}
        return self.request("POST", "/api/v1/books/list", json=body, params={"page": page, "size": size, "sort": sort})

    def iter_books(self, condition: dict[str, Any] | None, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every book matching ``condition``, page by page (Spring ``Page`` JSON, 0-based)."""
        page = 0
        while True:
            data = self.books_page(condition, page, page_size)
            content = data.get("content") or []
            yield from content
            total_pages = data.get("totalPages")
            last = data.get("last")
            page += 1
            if not content or last is True or (isinstance(total_pages, int) and page >= total_pages):
                return

    def latest_books(self, page: int = 0, size: int = 50) -> dict[str, Any]:
        return self.request("GET", "/api/v1/books/latest", params={"page": page, "size": size})

    def book(self, book_id: str) -> dict[str, Any]:
        """The ``BookDto``; an answer that is not that book (another id, not an object) is refused."""
        return self._one("book", book_id, self.request("GET", f"/api/v1/books/{id_segment(book_id, 'book id')}"))

    def series(self, series_id: str) -> dict[str, Any]:
        return self._one(
            "series", series_id, self.request("GET", f"/api/v1/series/{id_segment(series_id, 'series id')}")
        )

    def _one(self, kind: str, wanted: str, answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict) or answer.get("id") != wanted:
            got = answer.get("id") if isinstance(answer, dict) else type(answer).__name__
            raise InvalidKomgaId(f"Komga at {self.url} answered {kind} {wanted} with {got!r}, not that {kind}")
        for key in ("seriesId", "libraryId"):
            if key in answer and answer[key] is not None:
                checked_id(answer[key], f"{key} (in the answer for {kind} {wanted})")
        return answer

    def download_book(self, book_id: str, destination: Path) -> Path:
        """Download the book's file to ``destination`` (written to a temp name, then renamed)."""
        response = self.request("GET", f"/api/v1/books/{id_segment(book_id, 'book id')}/file", stream=True)
        partial = destination.with_name(destination.name + ".part")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with response, partial.open("wb") as out:
                shutil.copyfileobj(response.raw, out)
            partial.replace(destination)
        except requests.exceptions.RequestException as exc:
            partial.unlink(missing_ok=True)
            raise KomgaError(f"download of Komga book {book_id} failed ({_short(exc)})") from None
        return destination

    # ------------------------------------------------------------------ writes

    def patch_book_metadata(self, book_id: str, body: dict[str, Any]) -> None:
        self.request("PATCH", f"/api/v1/books/{id_segment(book_id, 'book id')}/metadata", json=body, expect_json=False)

    def patch_series_metadata(self, series_id: str, body: dict[str, Any]) -> None:
        self.request(
            "PATCH", f"/api/v1/series/{id_segment(series_id, 'series id')}/metadata", json=body, expect_json=False
        )

    def series_thumbnails(self, series_id: str) -> list[dict[str, Any]]:
        """The series' posters (``ThumbnailSeriesDto``: ``type`` USER_UPLOADED or SIDECAR, ``selected``)."""
        answer = self.request("GET", f"/api/v1/series/{id_segment(series_id, 'series id')}/thumbnails")
        if not isinstance(answer, list):
            raise KomgaError(
                f"Komga at {self.url} answered the posters of series {series_id} with something not a list"
            )
        return [thumbnail for thumbnail in answer if isinstance(thumbnail, dict)]

    def upload_series_thumbnail(self, series_id: str, image: bytes, *, name: str = "cover.jpg") -> dict[str, Any]:
        """Add a poster to the series and select it (``POST …/thumbnails``, multipart ``file``)."""
        return self.request(
            "POST",
            f"/api/v1/series/{id_segment(series_id, 'series id')}/thumbnails",
            params={"selected": "true"},
            files={"file": (name, image, "image/jpeg")},
        )

    def analyze_book(self, book_id: str) -> None:
        self.request("POST", f"/api/v1/books/{id_segment(book_id, 'book id')}/analyze", expect_json=False)

    # ------------------------------------------------------------------ events

    def open_events(self, read_timeout: float) -> requests.Response:
        """The Server-Sent Events stream (``GET /sse/v1/events``), open and streaming."""
        connect = self.timeout or 30.0
        return self.request(
            "GET",
            "/sse/v1/events",
            stream=True,
            timeout=(connect, read_timeout or None),
            expect_json=False,
            headers={"Accept": "text/event-stream", "Cache-Control": "no-cache", "Accept-Encoding": "identity"},
        )


def _short(exc: Exception) -> str:
    """The last useful part of a requests/urllib3 error chain, without the URL repeated."""
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
        "certificate verify failed",
        "Connection reset",
        "Temporary failure in name resolution",
    ):
        if marker in text:
            return marker.lower()
    return text.rsplit(":", 1)[-1].strip(" )'\"") or type(exc).__name__
