"""A polite HTTP client for Bédéthèque.

One ``requests`` session with browser-like headers and a persistent cookie jar; a first
visit of ``/`` for the ``csrf_cookie_bel`` cookie and a Referer on every request; one
rate limiter per host shared by every thread of the process (minimum delay with jitter,
and a cap per hour); retries with exponential backoff on 429/503/timeouts honouring
``Retry-After``; and a circuit breaker: the first challenge or ban page stops every
request of the run, because insisting is how a tool gets its users banned.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

import requests

from bdnex_core.bedetheque.blocking import Block, detect_block
from bdnex_core.errors import BlockedError, CatalogueError

if TYPE_CHECKING:
    from bdnex_core.config import Settings

logger = logging.getLogger(__name__)

BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Language": "fr-FR,fr;q=0.9,en-US;q=0.6,en;q=0.4",
    "Accept-Encoding": "gzip, deflate",
    "Upgrade-Insecure-Requests": "1",
}
COOKIE_NAME = "csrf_cookie_bel"
RETRYABLE = {429, 500, 502, 503, 504}
MAX_BACKOFF = 120.0
BLOCK_ADVICE = (
    "stopping all requests for this run. Wait a few hours before trying again; lower "
    "catalogue.max_requests_per_hour and raise catalogue.min_delay_seconds; if a challenge "
    "persists, export your browser's cookies for bedetheque.com to a cookies.txt file and set "
    "catalogue.cookies_file, or set catalogue.flaresolverr_url / catalogue.transport: curl_cffi"
)


@dataclass
class FetchResult:
    status: int
    content: bytes
    headers: dict[str, str]
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


# ---------------------------------------------------------------------- politeness, per process


class RateLimiter:
    """At least ``min_delay`` (+ random jitter) between two requests to a host, and at most
    ``per_hour`` requests in any hour. Shared by all threads: ``wait()`` reserves a slot."""

    def __init__(self, min_delay: float, jitter: float, per_hour: int):
        self.min_delay, self.jitter, self.per_hour = min_delay, jitter, per_hour
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._recent: deque[float] = deque()

    def wait(self) -> None:
        # the sleep happens under the lock and the next slot counts from the real wake-up time,
        # so a thread that wakes late cannot let the next one go out too close behind it
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] > 3600:
                self._recent.popleft()
            if len(self._recent) >= self.per_hour:
                raise CatalogueError(
                    f"reached catalogue.max_requests_per_hour ({self.per_hour}); stopping here to stay polite — "
                    "resume later (cached albums are not fetched again)"
                )
            delay = self._next_slot - now
            if delay > 0:
                time.sleep(delay)
            sent = time.monotonic()
            self._next_slot = sent + self.min_delay + random.uniform(0, self.jitter)
            self._recent.append(sent)


class CircuitBreaker:
    """Once tripped, every request of the process to that host fails at once, without the network."""

    def __init__(self) -> None:
        self.tripped: BlockedError | None = None

    def check(self) -> None:
        if self.tripped is not None:
            raise self.tripped

    def trip(self, block: Block, url: str) -> BlockedError:
        what = "banned our IP address" if block.kind == "ban" else "answered with an anti-bot challenge"
        self.tripped = BlockedError(f"Bédéthèque {what} ({block.detail}) at {url}: {BLOCK_ADVICE}")
        return self.tripped


_registry_lock = threading.Lock()
_limiters: dict[tuple[str, float, float, int], RateLimiter] = {}
_breakers: dict[str, CircuitBreaker] = {}


def shared_limiter(host: str, settings: Settings) -> RateLimiter:
    catalogue = settings.catalogue
    key = (host, catalogue.min_delay_seconds, catalogue.jitter_seconds, catalogue.max_requests_per_hour)
    with _registry_lock:
        if key not in _limiters:
            _limiters[key] = RateLimiter(
                catalogue.min_delay_seconds, catalogue.jitter_seconds, catalogue.max_requests_per_hour
            )
        return _limiters[key]


def shared_breaker(host: str) -> CircuitBreaker:
    with _registry_lock:
        return _breakers.setdefault(host, CircuitBreaker())


def reset_politeness() -> None:
    """Forget limiters and tripped breakers (a new run in the same process, and tests)."""
    with _registry_lock:
        _limiters.clear()
        _breakers.clear()


def reset_breakers() -> None:
    """Forget tripped breakers only (a long-running service trying again after its pause; the hourly
    counts of the limiters are kept)."""
    with _registry_lock:
        _breakers.clear()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


# ---------------------------------------------------------------------- transports


def set_cookie(jar: http.cookiejar.CookieJar, name: str, value: str, domain: str | None) -> None:
    jar.set_cookie(requests.cookies.create_cookie(name, value, domain=domain or "", path="/"))


class RequestsTransport:
    def __init__(self, session: requests.Session, timeout: float):
        self.session, self.timeout = session, timeout

    def get(self, url: str, headers: dict[str, str]) -> FetchResult:
        response = self.session.get(url, headers=headers, timeout=self.timeout, allow_redirects=True)
        return FetchResult(response.status_code, response.content, dict(response.headers), response.url)


class CurlCffiTransport:
    """Impersonates a browser's TLS fingerprint (optional extra: ``pip install bdnex-core[impersonate]``)."""

    def __init__(self, session: requests.Session, timeout: float):
        try:
            from curl_cffi import requests as curl_requests
        except ImportError:
            raise CatalogueError(
                "catalogue.transport is curl_cffi but curl_cffi is not installed "
                "(pip install 'bdnex-core[impersonate]')"
            ) from None
        self.curl = curl_requests.Session(impersonate="chrome")
        self.cookies = session.cookies
        self.timeout = timeout

    def get(self, url: str, headers: dict[str, str]) -> FetchResult:
        response = self.curl.get(url, headers=headers, timeout=self.timeout, cookies=dict(self.cookies))
        for name, value in response.cookies.items():
            set_cookie(self.cookies, name, value, urlparse(url).hostname)
        return FetchResult(response.status_code, response.content, dict(response.headers), str(response.url))


class FlareSolverrTransport:
    """Goes through a FlareSolverr service (``POST /v1 {"cmd": "request.get"}``), which solves challenges."""

    def __init__(self, session: requests.Session, timeout: float, endpoint: str):
        self.session, self.timeout, self.endpoint = session, timeout, endpoint.rstrip("/") + "/v1"

    def get(self, url: str, headers: dict[str, str]) -> FetchResult:
        try:
            answer = requests.post(
                self.endpoint,
                json={
                    "cmd": "request.get",
                    "url": url,
                    "maxTimeout": int(self.timeout * 1000),
                    "cookies": [{"name": c.name, "value": c.value} for c in self.session.cookies],
                },
                timeout=self.timeout + 10,
            )
            payload = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise CatalogueError(f"FlareSolverr at {self.endpoint} did not answer: {exc}") from None
        if payload.get("status") != "ok":
            raise CatalogueError(f"FlareSolverr could not fetch {url}: {payload.get('message', 'no reason given')}")
        solution = payload.get("solution") or {}
        for cookie in solution.get("cookies") or []:
            set_cookie(
                self.session.cookies, cookie["name"], cookie["value"], cookie.get("domain") or urlparse(url).hostname
            )
        return FetchResult(
            int(solution.get("status", 200)),
            str(solution.get("response", "")).encode("utf-8"),
            dict(solution.get("headers") or {}),
            solution.get("url", url),
        )


# ---------------------------------------------------------------------- the client


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class BedethequeClient:
    def __init__(self, settings: Settings, *, data_dir: Path | None = None):
        self.settings = settings
        catalogue = settings.catalogue
        self.base_url = catalogue.base_url.rstrip("/") + "/"
        self.mobile_base_url = catalogue.mobile_base_url.rstrip("/") + "/"
        self.data_dir = Path(data_dir) if data_dir else settings.cache.dir
        self.session = requests.Session()
        self.session.headers.update(BROWSER_HEADERS)
        if catalogue.user_agent:
            self.session.headers["User-Agent"] = catalogue.user_agent
        self._cookie_file = self.data_dir / "cookies.txt"
        self.session.cookies = self._load_cookies()
        self._cookie_lock = threading.Lock()
        self._have_cookie = any(cookie.name == COOKIE_NAME for cookie in self.session.cookies)
        self.stats = ClientStats()
        transport = catalogue.transport
        if transport == "flaresolverr" or (catalogue.flaresolverr_url and transport == "requests"):
            if not catalogue.flaresolverr_url:
                raise CatalogueError("catalogue.transport is flaresolverr but catalogue.flaresolverr_url is not set")
            self.transport: Any = FlareSolverrTransport(
                self.session, catalogue.timeout_seconds, catalogue.flaresolverr_url
            )
        elif transport == "curl_cffi":
            self.transport = CurlCffiTransport(self.session, catalogue.timeout_seconds)
        else:
            self.transport = RequestsTransport(self.session, catalogue.timeout_seconds)

    # cookies: ours persist between runs; the user's browser export is merged in
    def _load_cookies(self) -> http.cookiejar.MozillaCookieJar:
        jar = http.cookiejar.MozillaCookieJar(str(self._cookie_file))
        for source in (self._cookie_file, self.settings.catalogue.cookies_file):
            if source and Path(source).is_file():
                try:
                    other = http.cookiejar.MozillaCookieJar(str(source))
                    other.load(ignore_discard=True, ignore_expires=True)
                except (OSError, http.cookiejar.LoadError) as exc:
                    raise CatalogueError(
                        f"cannot read the cookies file ({exc}); it must be in Netscape cookies.txt format", path=source
                    ) from None
                for cookie in other:
                    if not cookie.expires:  # browsers export session cookies with expiry 0
                        cookie.expires, cookie.discard = None, True
                    jar.set_cookie(cookie)
        return jar

    def save_cookies(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.session.cookies.save(ignore_discard=True, ignore_expires=True)  # type: ignore[attr-defined]
        except OSError as exc:
            logger.warning("cannot save cookies to %s: %s", self._cookie_file, exc)

    def absolute(self, url_or_path: str, *, mobile: bool = False) -> str:
        return urljoin(self.mobile_base_url if mobile else self.base_url, url_or_path)

    def _ensure_cookie(self, *, refresh: bool = False) -> None:
        with self._cookie_lock:
            if self._have_cookie and not refresh:
                return
            self._request(self.base_url, {"Referer": self.base_url})
            self._have_cookie = any(cookie.name == COOKIE_NAME for cookie in self.session.cookies)
            self.save_cookies()

    def _request(self, url: str, headers: dict[str, str]) -> FetchResult:
        host = urlparse(url).netloc
        breaker = shared_breaker(host)
        breaker.check()
        shared_limiter(host, self.settings).wait()
        breaker.check()  # another thread may have been blocked while we waited
        result = self.transport.get(url, headers)
        self.stats.requests += 1
        self.stats.by_status[result.status] = self.stats.by_status.get(result.status, 0) + 1
        block = detect_block(
            result.status,
            result.content if result.status != 200 or len(result.content) < 300_000 else result.content[:300_000],
        )
        if block is not None:
            for other_host in {host, urlparse(self.base_url).netloc, urlparse(self.mobile_base_url).netloc}:
                shared_breaker(other_host).trip(block, url)
            raise breaker.tripped  # type: ignore[misc]
        return result

    def get(
        self,
        url_or_path: str,
        *,
        headers: dict[str, str] | None = None,
        conditional: tuple[str | None, str | None] | None = None,
        mobile: bool = False,
    ) -> FetchResult:
        """GET with politeness, retries and block detection. 304 is returned as is."""
        url = self.absolute(url_or_path, mobile=mobile)
        if url.rstrip("/") + "/" != self.base_url:
            self._ensure_cookie()
        request_headers = {"Referer": self.base_url, **(headers or {})}
        if conditional:
            etag, last_modified = conditional
            if etag:
                request_headers["If-None-Match"] = etag
            if last_modified:
                request_headers["If-Modified-Since"] = last_modified
        max_retries = self.settings.catalogue.max_retries
        refreshed_cookie = False
        last_problem = ""
        for attempt in range(max_retries + 1):
            try:
                result = self._request(url, request_headers)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_problem = f"{type(exc).__name__}"
                if attempt < max_retries:
                    self._sleep_backoff(attempt, None)
                    continue
                raise CatalogueError(
                    f"no answer from Bédéthèque after {attempt + 1} attempts ({last_problem})", path=url
                ) from None
            if result.status == 403 and not refreshed_cookie:
                refreshed_cookie = True  # an expired csrf cookie: visit the home page again, once
                self._ensure_cookie(refresh=True)
                continue
            if result.status in RETRYABLE:
                last_problem = f"HTTP {result.status}"
                if attempt < max_retries:
                    self.stats.retries += 1
                    self._sleep_backoff(attempt, _retry_after(result.headers.get("Retry-After")))
                    continue
                raise CatalogueError(f"Bédéthèque kept answering {last_problem} after {attempt + 1} attempts", path=url)
            if result.status == 404:
                raise CatalogueError("not found on Bédéthèque (HTTP 404)", path=url)
            if result.status >= 400:
                raise CatalogueError(f"Bédéthèque answered HTTP {result.status}", path=url)
            return result
        raise CatalogueError(f"giving up after {max_retries + 1} attempts ({last_problem})", path=url)

    def _sleep_backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = (
            retry_after
            if retry_after is not None
            else min(MAX_BACKOFF, (2**attempt) * max(1.0, self.settings.catalogue.min_delay_seconds))
        )
        time.sleep(min(delay, MAX_BACKOFF) + random.uniform(0, 0.1 * delay))

    # ------------------------------------------------------------------ pages

    def album_page_url(self, album_id_or_url: int | str) -> str:
        text = str(album_id_or_url)
        if text.isdigit():
            return self.absolute(f"BD-x-Tome-1-x-{text}.html", mobile=True)
        path = urlparse(text).path or text
        return self.absolute(path.lstrip("/"), mobile=True)

    def get_album_page(self, album_id_or_url: int | str) -> FetchResult:
        return self.get(self.album_page_url(album_id_or_url))

    def get_cover(self, album_id_or_url: int | str) -> bytes:
        text = str(album_id_or_url)
        url = self.absolute(f"media/Couvertures/Couv_{text}.jpg") if text.isdigit() else text
        return self.get(url, headers={"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"}).content
