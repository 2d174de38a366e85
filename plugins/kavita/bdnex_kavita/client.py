"""A small client for Kavita's REST API (the parts bdnex-kavita needs).

Kavita authenticates plugins with a user's API key: ``POST /api/Plugin/authenticate``
returns a JWT that later requests send as ``Authorization: Bearer``. The token is renewed
from the API key shortly before it expires (Kavita issues them for ten days) and once more
when Kavita answers 401 to a token we thought valid. Every failure becomes one line that
says what to fix; the API key and the token never appear in messages, logs or ``repr``
(urllib3 logs request lines with their query string at debug level: a filter masks them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from bdnex_core.errors import ConfigError
from bdnex_kavita.errors import KavitaAuthError, KavitaError, KavitaHTTPError, KavitaUnreachable
from bdnex_kavita.settings import KavitaSettings

logger = logging.getLogger(__name__)

USER_AGENT = "bdnex-kavita/0.1"
RENEW_BEFORE_SECONDS = 300.0
# FilterField.Libraries and FilterComparison.Equal of Kavita's FilterV2Dto; FilterCombination.And
LIBRARIES_FIELD, EQUAL, AND = 19, 0, 1
SORT_BY_NAME, SORT_BY_LAST_CHAPTER_ADDED = 1, 4
# the API key (authenticate), the JWT and SignalR's connection token (the hub's WebSocket URL)
# tokens already obtained in this process, by server and key (each thread has its own client)
_tokens: dict[tuple[str, str], tuple[str, float, dict[str, Any]]] = {}
_tokens_lock = threading.Lock()
_SECRET_IN_QUERY = re.compile(r"((?<![A-Za-z])(?:apiKey|access_token|id)=)[^&\s\"']+")


class _MaskSecrets(logging.Filter):
    """Masks ``apiKey=…`` and ``access_token=…`` in urllib3's debug lines (they carry the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _SECRET_IN_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def _mask_urllib3_logs() -> None:
    for name in ("urllib3.connectionpool", "websocket"):
        target = logging.getLogger(name)
        if not any(isinstance(existing, _MaskSecrets) for existing in target.filters):
            target.addFilter(_MaskSecrets())


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (we only read its expiry and roles; Kavita verifies it)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Page:
    """One page of a paged listing and Kavita's ``Pagination`` header (``totalPages`` None when absent)."""

    items: list[dict[str, Any]]
    current_page: int
    total_pages: int | None
    total_items: int | None


class KavitaClient:
    """One Kavita server and one ``requests`` session (give each thread its own client)."""

    def __init__(self, config: KavitaSettings, *, session: requests.Session | None = None):
        if not config.url:
            raise ConfigError("no Kavita server configured: set kavita.url (or BDNEX_KAVITA_URL)")
        if not config.api_key:
            raise ConfigError(
                "no Kavita API key: set kavita.api_key (or BDNEX_KAVITA_API_KEY, or kavita.api_key_file); "
                "Kavita shows it in the user's settings"
            )
        _mask_urllib3_logs()
        self.config = config
        self.url = config.url
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.verify = config.verify_tls
        self.timeout = config.timeout_seconds or None
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_lock = threading.Lock()
        self.user: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"KavitaClient({self.url!r})"

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ authentication

    def token(self) -> str:
        """A JWT that is valid for a while yet (authenticating with the API key when needed)."""
        key = (self.url, hashlib.sha256(str(self.config.api_key).encode()).hexdigest())
        with self._token_lock:
            if self._token is None:
                with _tokens_lock:
                    shared = _tokens.get(key)
                if shared is not None:
                    self._token, self._expires_at, self.user = shared
            if self._token is None or time.time() >= self._expires_at - RENEW_BEFORE_SECONDS:
                self._authenticate()
                with _tokens_lock:
                    _tokens[key] = (str(self._token), self._expires_at, self.user)
            assert self._token is not None
            return self._token

    def forget_token(self) -> None:
        """Kavita refused the token: the next request authenticates again (in every client of this process)."""
        key = (self.url, hashlib.sha256(str(self.config.api_key).encode()).hexdigest())
        with self._token_lock:
            with _tokens_lock:
                if _tokens.get(key, ("",))[0] == self._token:
                    _tokens.pop(key, None)
            self._token = None

    def _authenticate(self) -> None:
        answer = self._send(
            "POST",
            "/api/Plugin/authenticate",
            params={"apiKey": self.config.api_key, "pluginName": self.config.plugin_name},
            what="POST /api/Plugin/authenticate",
        )
        if answer.status_code == 401:
            raise KavitaAuthError(
                f"Kavita at {self.url} refused the API key (HTTP 401): check kavita.api_key "
                "(a user's key, from Kavita's user settings)",
                401,
            )
        self._raise_for(answer, "POST", "/api/Plugin/authenticate")
        user = _json(answer, self.url, "POST /api/Plugin/authenticate")
        token = user.get("token") if isinstance(user, dict) else None
        if not isinstance(token, str) or not token:
            raise KavitaError(f"{self.url} does not look like a Kavita server (no token from /api/Plugin/authenticate)")
        claims = jwt_claims(token)
        expiry = claims.get("exp")
        self._token = token
        # a token without a readable expiry is used until Kavita refuses it (then renewed once)
        self._expires_at = float(expiry) if isinstance(expiry, int | float) else float("inf")
        self.user = {
            "username": user.get("username"),
            "kavitaVersion": user.get("kavitaVersion"),
            "roles": _roles(claims),
        }
        logger.debug("authenticated to Kavita at %s as %s", self.url, self.user["username"])

    def check_admin(self) -> dict[str, Any]:
        """The user (name, Kavita version, roles) after checking the key and the admin role writes need."""
        self.token()
        if "Admin" not in self.user.get("roles", []):
            raise KavitaAuthError(
                f"Kavita user {self.user.get('username') or '?'} is not an administrator: bdnex-kavita needs "
                "an admin's API key to write metadata and ask for scans",
                403,
            )
        return self.user

    # ------------------------------------------------------------------ plumbing

    def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise KavitaUnreachable(
                f"TLS error talking to Kavita at {self.url} ({_short(exc)}); "
                "set kavita.verify_tls to a CA bundle path, or false for a self-signed test server"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise KavitaUnreachable(f"cannot reach Kavita at {self.url} ({_short(exc)})") from None
        except requests.exceptions.Timeout:
            raise KavitaUnreachable(f"Kavita at {self.url} did not answer {what} in time") from None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect_json: bool = True,
    ) -> requests.Response:
        """The answer (checked) of an authenticated request; renews the token once on a 401."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}"}
            response = self._send(method, path, json=json, params=params, headers=headers, what=f"{method} {path}")
            if response.status_code == 401 and attempt == 1:
                self.forget_token()  # revoked or expired early: one new token from the API key
                continue
            self._raise_for(response, method, path)
            return response
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _json(self.request("GET", path, params=params), self.url, f"GET {path}")

    def _raise_for(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:200]
        if status == 401:
            raise KavitaAuthError(f"Kavita at {self.url} refused our token for {method} {path} (HTTP 401)", 401, body)
        if status == 403:
            raise KavitaAuthError(
                f"Kavita at {self.url} forbids {method} {path} (HTTP 403): the API key's user must be an admin",
                403,
                body,
            )
        reason = ""
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, dict):
                reason = "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in errors.items())
            else:
                reason = str(body.get("message") or body.get("title") or "")
        elif isinstance(body, str):
            reason = body.strip().strip('"')
        raise KavitaHTTPError(
            f"Kavita at {self.url} answered {method} {path} with HTTP {status}" + (f" ({reason})" if reason else ""),
            status,
            body,
        )

    # ------------------------------------------------------------------ reading

    def libraries(self) -> list[dict[str, Any]]:
        answer = self.get_json("/api/Library/libraries")
        if not isinstance(answer, list):
            raise KavitaError(f"Kavita at {self.url} answered /api/Library/libraries with something not a list")
        return [library for library in answer if isinstance(library, dict)]

    def series_page(
        self, library_id: int, page: int, size: int, *, sort_field: int = SORT_BY_NAME, ascending: bool = True
    ) -> Page:
        """One page (1-based) of a library's series (``POST /api/Series/v2``)."""
        body = {
            "statements": [{"field": LIBRARIES_FIELD, "comparison": EQUAL, "value": str(library_id)}],
            "combination": AND,
            "sortOptions": {"sortField": sort_field, "isAscending": ascending},
            "limitTo": 0,
        }
        response = self.request("POST", "/api/Series/v2", json=body, params={"PageNumber": page, "PageSize": size})
        items = _json(response, self.url, "POST /api/Series/v2")
        if not isinstance(items, list):
            raise KavitaError(f"Kavita at {self.url} answered POST /api/Series/v2 with something not a list")
        header = _pagination(response.headers.get("Pagination"))
        return Page(
            [item for item in items if isinstance(item, dict)],
            int(header.get("currentPage") or page),
            header.get("totalPages") if isinstance(header.get("totalPages"), int) else None,
            header.get("totalItems") if isinstance(header.get("totalItems"), int) else None,
        )

    def iter_series(
        self, library_id: int, *, page_size: int = 200, sort_field: int = SORT_BY_NAME, ascending: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Every series of a library, page after page as the ``Pagination`` header counts them."""
        page = 1
        while True:
            found = self.series_page(library_id, page, page_size, sort_field=sort_field, ascending=ascending)
            yield from found.items
            if not found.items or (found.total_pages is not None and page >= found.total_pages):
                return
            if found.total_pages is None and len(found.items) < page_size:
                return
            page += 1

    def series(self, series_id: int) -> dict[str, Any]:
        answer = self.get_json(f"/api/Series/{int(series_id)}")
        if not isinstance(answer, dict) or answer.get("id") != int(series_id):
            raise KavitaHTTPError(f"Kavita at {self.url} has no series {series_id}", 404)
        return answer

    def volumes(self, series_id: int) -> list[dict[str, Any]]:
        answer = self.get_json("/api/Series/volumes", {"seriesId": int(series_id)})
        if not isinstance(answer, list):
            raise KavitaError(f"Kavita at {self.url} answered the volumes of series {series_id} with something else")
        return [volume for volume in answer if isinstance(volume, dict)]

    def chapter(self, chapter_id: int) -> dict[str, Any]:
        response = self.request("GET", "/api/Chapter", params={"chapterId": int(chapter_id)})
        answer = _json(response, self.url, "GET /api/Chapter") if response.content else None
        if not isinstance(answer, dict) or answer.get("id") != int(chapter_id):
            raise KavitaHTTPError(f"Kavita at {self.url} has no chapter {chapter_id}", 404)
        return answer

    def series_metadata(self, series_id: int) -> dict[str, Any]:
        answer = self.get_json("/api/Series/metadata", {"seriesId": int(series_id)})
        if not isinstance(answer, dict):
            raise KavitaHTTPError(f"Kavita at {self.url} has no metadata for series {series_id}", 404)
        return answer

    # ------------------------------------------------------------------ writing

    def update_chapter(self, body: dict[str, Any]) -> None:
        self.request("POST", "/api/Chapter/update", json=body, expect_json=False)

    def update_series_metadata(self, metadata: dict[str, Any]) -> None:
        self.request("POST", "/api/Series/metadata", json={"seriesMetadata": metadata}, expect_json=False)

    def scan_series(self, library_id: int, series_id: int) -> None:
        """Ask Kavita to read the series' files again (it does so in its task queue, later)."""
        body = {"libraryId": int(library_id), "seriesId": int(series_id), "forceUpdate": True}
        self.request("POST", "/api/Series/scan", json=body, expect_json=False)

    def upload_chapter_cover(self, chapter_id: int, image: bytes, *, lock: bool = True) -> None:
        body = {"id": int(chapter_id), "url": base64.b64encode(image).decode("ascii"), "lockCover": lock}
        self.request("POST", "/api/Upload/chapter", json=body, expect_json=False)

    # ------------------------------------------------------------------ events

    def negotiate(self) -> dict[str, Any]:
        """SignalR's negotiation for the message hub: the connection token to open the WebSocket with."""
        answer = _json(
            self.request("POST", "/hubs/messages/negotiate", params={"negotiateVersion": 1}),
            self.url,
            "POST /hubs/messages/negotiate",
        )
        if not isinstance(answer, dict):
            raise KavitaError(f"Kavita at {self.url} answered the hub negotiation with something not an object")
        return answer


def _roles(claims: dict[str, Any]) -> list[str]:
    value = claims.get("role") or claims.get("http://schemas.microsoft.com/ws/2008/06/identity/claims/role") or []
    return [value] if isinstance(value, str) else [str(role) for role in value if isinstance(role, str)]


def _pagination(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _json(response: requests.Response, url: str, what: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise KavitaError(f"Kavita at {url} answered {what} with something that is not JSON") from None


def _short(exc: Exception) -> str:
    """The last useful part of a requests/urllib3 error chain, without the URL (it may carry the key)."""
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
        "certificate verify failed",
        "Connection reset",
        "Temporary failure in name resolution",
        "Remote end closed connection",
    ):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
