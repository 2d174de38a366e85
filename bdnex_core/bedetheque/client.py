"""A polite HTTP client for Bédéthèque.

One ``requests`` session with browser-like headers and a persistent cookie jar; a first
visit of ``/`` for the ``csrf_cookie_bel`` cookie and a Referer on every request; one
rate limiter per host shared by every thread of the process (minimum delay with jitter,
and a cap per hour), and, for a client given a database, the same limits shared by every
process of that database (``shared_limiter.py``); retries with exponential backoff on 429/503/timeouts honouring
``Retry-After`` (capped, jitter included); and a run-wide circuit breaker: the first
challenge or ban page stops every request of the run, because insisting is how a tool gets
its users banned, and so does a site that stopped answering (a request that failed after its
retries, whose home page does not answer either) or that keeps answering 429. The error
raised then has ``stops_run``: a batch pauses instead of failing file after file.

Every answer is read under a size cap (pages, sitemaps) and a total deadline, because a
server can send without end or one byte at a time, and the per-read timeout of ``requests``
does not see either.
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
from bdnex_core.bedetheque.deadline import DeadlineAdapter, DeadlineExceeded, deadline_for, read_body
from bdnex_core.bedetheque.shared_limiter import database_limiter, reset_database_limiters
from bdnex_core.errors import (
    BlockedError,
    CatalogueError,
    HourlyCapReached,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    Unreachable,
)
from bdnex_core.service import notifications

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB

logger = logging.getLogger(__name__)

BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Language": "fr-FR,fr;q=0.9,en-US;q=0.6,en;q=0.4",
    "Accept-Encoding": "gzip, deflate",
    "Upgrade-Insecure-Requests": "1",
}
COOKIE_NAME = "csrf_cookie_bel"


def retryable(status: int) -> bool:
    """429, and every 5xx: Cloudflare answers 520-524 when the site behind it is down."""
    return status == 429 or status >= 500


MAX_BACKOFF = 120.0  # the longest wait between two attempts, jitter included
PAGE_MAX_BYTES = 8 * 1024 * 1024  # album and series pages are 50-200 KB, covers under 2 MB
SITEMAP_MAX_BYTES = 64 * 1024 * 1024  # album sitemaps are about 2 MB; the sitemap protocol allows 50 MB
DEADLINE_PER_TIMEOUT = 4  # a request's total time: 4 x catalogue.timeout_seconds (which is per read)
PROBE_SECONDS = 10.0  # the home page, asked whether the site answers at all, is small: this long at most
OUTAGE_COOLDOWN = 60.0  # a long-lived process tries the site again this long after it stopped answering
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
                raise HourlyCapReached(
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
    """Once tripped, every request of the process to that host fails at once, without the network.

    A block (challenge, ban) holds for the life of the process. An outage (the site stopped
    answering, or keeps answering 429) holds ``OUTAGE_COOLDOWN`` seconds: a batch has stopped
    long before, and a long-lived process (a Komga watcher) then tries the site again.
    Threads waiting between two attempts are woken by the trip (:meth:`sleep`).
    """

    def __init__(self) -> None:
        self.tripped: CatalogueError | None = None
        self._until: float | None = None  # when an outage trip ends (None: never, a block)
        self._event = threading.Event()

    def check(self) -> None:
        tripped = self.tripped
        if tripped is None:
            return
        if self._until is not None and time.monotonic() >= self._until:
            self.tripped, self._until = None, None
            self._event.clear()
            return
        raise tripped

    def trip(self, block: Block, url: str) -> BlockedError:
        what = "banned our IP address" if block.kind == "ban" else "answered with an anti-bot challenge"
        self.trip_with(BlockedError(f"Bédéthèque {what} ({block.detail}) at {url}: {BLOCK_ADVICE}"))
        return self.tripped  # type: ignore[return-value]

    def trip_with(self, error: CatalogueError, *, cooldown: float | None = None) -> None:
        if isinstance(self.tripped, BlockedError):
            return  # a block is the stronger reason: keep it
        self.tripped = error
        self._until = time.monotonic() + cooldown if cooldown is not None else None
        self._event.set()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the breaker trips meanwhile."""
        self._event.wait(seconds)


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
    reset_database_limiters()


def reset_breakers() -> None:
    """Forget tripped breakers only (a long-running service trying again after its pause; the hourly
    counts of the limiters are kept)."""
    with _registry_lock:
        _breakers.clear()


def backoff_delay(attempt: int, retry_after: float | None, min_delay: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: what the site asked (``Retry-After``), else an
    exponential backoff; plus up to 10 % jitter, the whole capped at ``MAX_BACKOFF``."""
    wanted = retry_after if retry_after is not None else (2**attempt) * max(1.0, min_delay)
    capped = min(max(0.0, wanted), MAX_BACKOFF)
    return min(MAX_BACKOFF, capped + random.uniform(0, 0.1 * capped))


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


def _too_large(url: str, max_bytes: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"the answer is larger than {max_bytes // (1024 * 1024)} MB; stopped reading it", path=url)


def _check_size(url: str, content: bytes, max_bytes: int) -> bytes:
    if len(content) > max_bytes:
        raise _too_large(url, max_bytes)
    return content


class RequestsTransport:
    def __init__(self, session: requests.Session, timeout: float):
        self.session, self.timeout = session, timeout
        for prefix in ("http://", "https://"):
            session.mount(prefix, DeadlineAdapter())

    def get(self, url: str, headers: dict[str, str], *, max_bytes: int, deadline: float) -> FetchResult:
        timeout = max(0.1, min(self.timeout, deadline - time.monotonic()))
        with deadline_for(deadline):
            response = self.session.get(url, headers=headers, timeout=timeout, allow_redirects=True, stream=True)
            with response:  # leaving early closes the connection instead of reading the rest
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(url, max_bytes)
                content = read_body(response.raw, deadline, max_bytes, lambda: _too_large(url, max_bytes))
        return FetchResult(response.status_code, content, dict(response.headers), response.url)


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

    def get(self, url: str, headers: dict[str, str], *, max_bytes: int, deadline: float) -> FetchResult:
        # curl's timeout is a total one: the deadline holds; the size is checked once the answer is in
        timeout = max(0.1, deadline - time.monotonic())
        response = self.curl.get(url, headers=headers, timeout=timeout, cookies=dict(self.cookies))
        for name, value in response.cookies.items():
            set_cookie(self.cookies, name, value, urlparse(url).hostname)
        content = _check_size(url, response.content, max_bytes)
        return FetchResult(response.status_code, content, dict(response.headers), str(response.url))


class FlareSolverrTransport:
    """Goes through a FlareSolverr service (``POST /v1 {"cmd": "request.get"}``), which solves challenges."""

    def __init__(self, session: requests.Session, timeout: float, endpoint: str):
        self.session, self.timeout, self.endpoint = session, timeout, endpoint.rstrip("/") + "/v1"

    def get(self, url: str, headers: dict[str, str], *, max_bytes: int, deadline: float) -> FetchResult:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            answer = requests.post(
                self.endpoint,
                json={
                    "cmd": "request.get",
                    "url": url,
                    "maxTimeout": int(remaining * 1000),
                    "cookies": [{"name": c.name, "value": c.value} for c in self.session.cookies],
                },
                timeout=self.timeout + 10,
            )
            payload = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise Unreachable(f"FlareSolverr at {self.endpoint} did not answer: {exc}") from None
        if payload.get("status") != "ok":
            raise CatalogueError(f"FlareSolverr could not fetch {url}: {payload.get('message', 'no reason given')}")
        solution = payload.get("solution") or {}
        for cookie in solution.get("cookies") or []:
            set_cookie(
                self.session.cookies, cookie["name"], cookie["value"], cookie.get("domain") or urlparse(url).hostname
            )
        return FetchResult(
            int(solution.get("status", 200)),
            _check_size(url, str(solution.get("response", "")).encode("utf-8"), max_bytes),
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
    def __init__(self, settings: Settings, *, data_dir: Path | None = None, database: BDneXDB | None = None):
        self.settings = settings
        self.database = database  # its processes share the politeness limits (None: this process only)
        catalogue = settings.catalogue
        self.base_url = catalogue.base_url.rstrip("/") + "/"
        self.mobile_base_url = catalogue.mobile_base_url.rstrip("/") + "/"
        self.data_dir = Path(data_dir) if data_dir else settings.cache.dir
        self.session = requests.Session()
        self.session.headers.update(BROWSER_HEADERS)
        if catalogue.user_agent:
            self.session.headers["User-Agent"] = catalogue.user_agent
        self._cookie_file = self.data_dir / "cookies.txt"
        # requests takes any CookieJar; a Mozilla one can save itself as cookies.txt (save_cookies)
        self.session.cookies = self._load_cookies()  # type: ignore[assignment]
        self._cookie_lock = threading.Lock()
        self._have_cookie = any(cookie.name == COOKIE_NAME for cookie in self.session.cookies)
        self.stats = ClientStats()
        self.deadline_seconds = DEADLINE_PER_TIMEOUT * catalogue.timeout_seconds
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
            self._fetch(self.base_url, {"Referer": self.base_url}, max_bytes=PAGE_MAX_BYTES, home_page=True)
            self._have_cookie = any(cookie.name == COOKIE_NAME for cookie in self.session.cookies)
            self.save_cookies()

    def _request(self, url: str, headers: dict[str, str], max_bytes: int, within: float | None = None) -> FetchResult:
        host = urlparse(url).netloc
        breaker = shared_breaker(host)
        breaker.check()
        shared_limiter(host, self.settings).wait()
        across_processes = database_limiter(self.database, host, self.settings) if self.database else None
        if across_processes is not None:
            across_processes.wait()
        breaker.check()  # another thread may have been blocked while we waited
        deadline = time.monotonic() + (within or self.deadline_seconds)
        result = self.transport.get(url, headers, max_bytes=max_bytes, deadline=deadline)
        self.stats.requests += 1
        self.stats.by_status[result.status] = self.stats.by_status.get(result.status, 0) + 1
        block = detect_block(result.status, result.content[:300_000], result.headers)
        if block is not None:
            for other_host in self._hosts(url):
                shared_breaker(other_host).trip(block, url)
            raise breaker.tripped  # type: ignore[misc]
        return result

    def _hosts(self, url: str) -> set[str]:
        """The hosts one breaker decision covers: the site's www and mobile hosts, and the URL's."""
        return {urlparse(url).netloc, urlparse(self.base_url).netloc, urlparse(self.mobile_base_url).netloc}

    def get(
        self,
        url_or_path: str,
        *,
        headers: dict[str, str] | None = None,
        conditional: tuple[str | None, str | None] | None = None,
        mobile: bool = False,
        max_bytes: int = PAGE_MAX_BYTES,
    ) -> FetchResult:
        """GET with politeness, retries, a size cap and block detection. 304 is returned as is."""
        url = self.absolute(url_or_path, mobile=mobile)
        home_page = url.rstrip("/") + "/" == self.base_url
        request_headers = {"Referer": self.base_url, **(headers or {})}
        if conditional:
            etag, last_modified = conditional
            if etag:
                request_headers["If-None-Match"] = etag
            if last_modified:
                request_headers["If-Modified-Since"] = last_modified
        try:
            if not home_page:
                self._ensure_cookie()
            return self._fetch(url, request_headers, max_bytes=max_bytes, home_page=home_page)
        except CatalogueError as exc:
            if exc.stops_run:  # every way the client stops a run (a block, an outage, the hourly cap)
                notifications.site_paused(self.settings, str(exc))  # said once per pause
            raise

    def _fetch(self, url: str, headers: dict[str, str], *, max_bytes: int, home_page: bool) -> FetchResult:
        """One URL, with retries; a failure that the site as a whole is behind stops the run."""
        max_retries = self.settings.catalogue.max_retries
        breaker = shared_breaker(urlparse(url).netloc)
        refreshed_cookie = home_page  # the home page is where the cookie comes from: no refresh for it
        failure: CatalogueError | None = None
        probed = home_page
        for attempt in range(max_retries + 1):
            retry_after = None
            try:
                result = self._request(url, headers, max_bytes)
            except DeadlineExceeded:
                failure = Unreachable(
                    f"Bédéthèque sent its answer too slowly (not complete after {self.deadline_seconds:.0f} s)",
                    path=url,
                    timed_out=True,
                )
                break  # a server that trickles would hold us again: no retry
            except requests.RequestException as exc:
                failure = Unreachable(
                    f"no answer from Bédéthèque after {attempt + 1} attempt{'s' if attempt else ''} "
                    f"({type(exc).__name__})",
                    path=url,
                    timed_out=isinstance(exc, requests.Timeout),
                )
                if failure.timed_out and not probed:
                    # a timeout already cost a long wait: ask the home page now rather than after every retry
                    probed = True
                    if not self._site_answers():
                        raise self._stop_run(failure, url, "its home page does not answer either") from None
            else:
                if result.status == 403 and not refreshed_cookie:
                    refreshed_cookie = True  # an expired csrf cookie: visit the home page again, once
                    self._ensure_cookie(refresh=True)
                    continue
                if not retryable(result.status):
                    notifications.site_answered(self.settings)  # after a pause: "resumed", once
                    return self._final(result, url)
                retry_after = _retry_after(result.headers.get("Retry-After"))
                failure = self._retryable_failure(result.status, retry_after, attempt, url)
                if retry_after is not None and retry_after > MAX_BACKOFF:
                    raise self._stop_run(failure, url, f"it asks us to wait {retry_after:.0f} s (Retry-After)")
                self.stats.retries += 1
            if attempt < max_retries:
                breaker.sleep(backoff_delay(attempt, retry_after, self.settings.catalogue.min_delay_seconds))
                breaker.check()  # the site may have been found down by another thread meanwhile
        if failure is None:  # the last attempt went to refreshing the cookie
            raise CatalogueError(
                f"Bédéthèque kept refusing the page (HTTP 403) after {max_retries + 1} attempts", path=url, status=403
            )
        if isinstance(failure, RateLimited):
            raise self._stop_run(failure, url, "it kept answering 429 (too many requests)")
        if home_page or not self._site_answers():
            raise self._stop_run(failure, url, "its home page does not answer either")
        raise failure

    def _retryable_failure(self, status: int, retry_after: float | None, attempt: int, url: str) -> CatalogueError:
        message = f"Bédéthèque kept answering HTTP {status} after {attempt + 1} attempts"
        if status == 429:
            return RateLimited(message, path=url, status=status, retry_after=retry_after)
        return Unreachable(message, path=url, status=status)

    def _final(self, result: FetchResult, url: str) -> FetchResult:
        if result.status == 404:
            raise NotFound("not found on Bédéthèque (HTTP 404)", path=url, status=404)
        if result.status >= 400:
            raise CatalogueError(f"Bédéthèque answered HTTP {result.status}", path=url, status=result.status)
        return result

    def _site_answers(self) -> bool:
        """One request to the home page: does the site answer at all, or only this URL fails?"""
        try:
            result = self._request(
                self.base_url,
                {"Referer": self.base_url},
                PAGE_MAX_BYTES,
                within=min(PROBE_SECONDS, self.deadline_seconds),
            )
        except requests.RequestException:
            return False
        return not retryable(result.status)

    def _stop_run(self, failure: CatalogueError, url: str, why: str) -> CatalogueError:
        """The run-wide breaker: every request of the process stops (for a while), and so does the run."""
        message = f"Bédéthèque is not usable now: {failure.reason}, and {why}; stopping all requests for this run"
        error: CatalogueError
        if isinstance(failure, RateLimited):
            error = RateLimited(
                message, path=url, status=failure.status, stops_run=True, retry_after=failure.retry_after
            )
        elif isinstance(failure, Unreachable):
            error = Unreachable(message, path=url, status=failure.status, stops_run=True, timed_out=failure.timed_out)
        else:
            error = type(failure)(message, path=url, status=failure.status, stops_run=True)
        cooldown = max(OUTAGE_COOLDOWN, min(getattr(failure, "retry_after", None) or 0.0, 24 * 3600.0))
        for host in self._hosts(url):
            shared_breaker(host).trip_with(error, cooldown=cooldown)
        return error

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
