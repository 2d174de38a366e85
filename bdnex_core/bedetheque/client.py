"""A polite HTTP client for Bédéthèque.

One ``requests`` session with browser-like headers and a persistent cookie jar; a visit of ``/`` for
the ``csrf_cookie_bel`` cookie, renewed shortly before it expires (checked as each request is written,
not when its turn was granted; or once on a plain 403, then the request is tried again), and a Referer
on every request. Every request takes the site's request slot
first (``shared_limiter.py``, rules in ``pace.py``): one request in flight at a time for every thread of
the process (and, for a client given a database, every process of that database), the next one a pace
(minimum delay, jitter) after the previous one was written, at most so many an hour. A refusal (429, or
503 with ``Retry-After``) raises that pace for everyone and holds every request until its Retry-After;
the request is then tried again. Other failures are retried with exponential backoff. A run-wide circuit
breaker stops every request of the run on the first challenge or ban page (or a 403 with a cookie just
renewed), because insisting is how a tool gets its users banned, and so does a site that stopped
answering (a request that failed after its retries, whose home page does not answer either) or that
keeps refusing at the slowed pace. The error raised then has ``stops_run``: a batch pauses instead of
failing file after file.

Every answer is read under a size cap (pages, sitemaps) and a total deadline, because a
server can send without end or one byte at a time, and the per-read timeout of ``requests``
does not see either.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import logging
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

import requests

from bdnex_core.bedetheque.blocking import Block, detect_block
from bdnex_core.bedetheque.deadline import DeadlineAdapter, DeadlineExceeded, deadline_for, read_body
from bdnex_core.bedetheque.pace import LEASE_MARGIN, MAX_WAIT_SECONDS, Outcome, PaceReport, PaceRules
from bdnex_core.bedetheque.series import full_list_path
from bdnex_core.bedetheque.shared_limiter import LateForSlot, PoliteLimiter, Turn, limiter_for, reset_limiters
from bdnex_core.bedetheque.wire import WriteObserver, on_the_wire
from bdnex_core.errors import (
    BlockedError,
    CatalogueError,
    ConfigError,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    Unreachable,
)
from bdnex_core.fileio import damage_of, open_atomically, read_cache_file
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


MAX_BACKOFF = MAX_WAIT_SECONDS  # the longest wait between two attempts, jitter included
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
    cookie_generation: int = 0  # which of our cookies the request carried (see BedethequeClient._renew_cookie)
    retry_after: float | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


# ---------------------------------------------------------------------- the run-wide breaker


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
_breakers: dict[str, CircuitBreaker] = {}


def shared_breaker(host: str) -> CircuitBreaker:
    with _registry_lock:
        return _breakers.setdefault(host, CircuitBreaker())


def reset_politeness() -> None:
    """Forget request slots and tripped breakers (a new run in the same process, and tests); the
    pace a database's slot learned stays in the database."""
    with _registry_lock:
        _breakers.clear()
    reset_limiters()


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
    announces_writes = True  # its connections tell the politeness turn when a request is written (wire.py)
    follows_redirects = False  # the client does, each hop in its own turn

    def __init__(self, session: requests.Session, timeout: float):
        self.session, self.timeout = session, timeout
        for prefix in ("http://", "https://"):
            session.mount(prefix, DeadlineAdapter())

    def get(self, url: str, headers: dict[str, str], *, max_bytes: int, deadline: float) -> FetchResult:
        timeout = max(0.1, min(self.timeout, deadline - time.monotonic()))
        with deadline_for(deadline):
            response = self.session.get(url, headers=headers, timeout=timeout, allow_redirects=False, stream=True)
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
            from curl_cffi import requests as curl_requests  # lazy: the optional [impersonate] extra
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


# ---------------------------------------------------------------------- cookie jars

COOKIES_MAX_BYTES = 1024 * 1024  # a jar for one site holds a few cookies; a browser export of all sites more


def parse_cookie_jar(data: bytes) -> http.cookiejar.MozillaCookieJar:
    """A Netscape cookies.txt read from bytes (raises ``LoadError``, ``UnicodeDecodeError``, ``ValueError``)."""
    text = data.decode("utf-8")
    jar = http.cookiejar.MozillaCookieJar()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as copy:  # the jar reads files only
        copy.write(text)
        copy.flush()
        jar.load(copy.name, ignore_discard=True, ignore_expires=True)
    return jar


def _cookie_jar_damage(data: bytes) -> str | None:
    try:
        parse_cookie_jar(data)
    except (http.cookiejar.LoadError, UnicodeDecodeError, ValueError, IndexError) as exc:
        return f"not a cookies.txt file any more ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})"
    return None


def _users_cookies(path: Path) -> http.cookiejar.MozillaCookieJar:
    """The browser export ``catalogue.cookies_file`` names; what is wrong with it is the user's to fix."""
    fix = (
        "export the cookies of bedetheque.com from your browser again, in Netscape cookies.txt format "
        "(or remove catalogue.cookies_file from the configuration)"
    )
    reason = damage_of(path)
    if reason is None and not path.exists():
        reason = "it does not exist"
    data = b""
    if reason is None:
        try:
            with path.open("rb") as handle:
                data = handle.read(COOKIES_MAX_BYTES + 1)
        except OSError as exc:
            reason = exc.strerror or str(exc)
    if reason is None and len(data) > COOKIES_MAX_BYTES:
        reason = f"it is larger than {COOKIES_MAX_BYTES // 1024} KB"
    if reason is None:
        reason = _cookie_jar_damage(data)
    if reason is not None:
        raise ConfigError(f"cannot use your cookies file: {reason}; {fix}", path=path)
    return parse_cookie_jar(data)


def cookie_jar_text(jar: http.cookiejar.CookieJar) -> str:
    """The jar as a Netscape cookies.txt (what ``MozillaCookieJar.save`` writes, without its file)."""
    copy = http.cookiejar.MozillaCookieJar()
    for cookie in jar:
        copy.set_cookie(cookie)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "cookies.txt"
        copy.save(str(target), ignore_discard=True, ignore_expires=True)
        return target.read_text("utf-8")


# ---------------------------------------------------------------------- the client


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    refusals: int = 0  # 429, or 503 with Retry-After
    cookie_renewals: int = 0


class _CookieExpiring(Exception):
    """The cookie would expire before the request reaches the site: renew it first (nothing sent)."""


class _CookieCheckedWrite:
    """The turn told of the write, the cookie checked first: at the write, not at the grant, which may come
    up to LATE_SECONDS before it on a busy machine (a cookie ended meanwhile would be dropped by the jar
    and the request sent without it)."""

    def __init__(self, turn: Turn, cookie_due: Callable[[], bool]):
        self.turn, self.cookie_due = turn, cookie_due

    def before_write(self) -> None:
        if self.cookie_due():
            raise _CookieExpiring
        self.turn.before_write()

    def after_write(self) -> None:
        self.turn.after_write()


REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
LATE_TRIES = 3  # a request that missed its slot this many times in a row fails (see Turn.before_write)
COOKIE_SEND_MARGIN = 1.0  # a cookie expiring sooner than this is not sent: renewed first
COOKIE_RENEW_AHEAD = 60.0  # renewed at most this long before it expires (a quarter of its life if shorter:
# a request can wait several turns of the slot between the check and its send)


def refusal(status: int, retry_after: float | None) -> bool:
    """The site asking us to slow down: 429, or 503 with a Retry-After (of more than 0 s: 0 says "now")."""
    return status == 429 or (status == 503 and bool(retry_after))


class BedethequeClient:
    def __init__(self, settings: Settings, *, data_dir: Path | None = None, database: BDneXDB | None = None):
        self.settings = settings
        self.database = database  # its processes share the request slot (None: this process only)
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
        self._cookie_generation = 0  # one more at each renewal: a 403 tells which cookie it refused
        self._cookie_obtained: float | None = None  # time.time() of our last renewal
        self.stats = ClientStats()
        self.deadline_seconds = DEADLINE_PER_TIMEOUT * catalogue.timeout_seconds
        self.rules = PaceRules(
            min_delay=catalogue.min_delay_seconds,
            jitter=catalogue.jitter_seconds,
            per_hour=catalogue.max_requests_per_hour,
            max_delay=catalogue.max_delay_seconds,
            lease=self.deadline_seconds + LEASE_MARGIN,
        )
        self.pace: PaceReport | None = None  # what the last request left: the pace every worker keeps now
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

    # cookies: ours persist between runs (a cache: a damaged jar is dropped and made again); the user's
    # browser export is merged in (theirs: a damaged one is named with what to do)
    def _load_cookies(self) -> http.cookiejar.MozillaCookieJar:
        jar = http.cookiejar.MozillaCookieJar(str(self._cookie_file))
        ours = read_cache_file(self._cookie_file, max_bytes=COOKIES_MAX_BYTES, check=_cookie_jar_damage)
        sources = [parse_cookie_jar(ours)] if ours is not None else []
        users = self.settings.catalogue.cookies_file
        if users is not None:
            sources.append(_users_cookies(Path(users)))
        for other in sources:
            for cookie in other:
                if not cookie.expires:  # browsers export session cookies with expiry 0
                    cookie.expires, cookie.discard = None, True
                jar.set_cookie(cookie)
        return jar

    def save_cookies(self) -> None:
        """Replace our cookie jar in one step (never written through a link, never left half written)."""
        try:
            with open_atomically(self._cookie_file, "w", encoding="utf-8") as handle:
                handle.write(cookie_jar_text(self.session.cookies))
        except OSError as exc:
            logger.warning("cannot save cookies to %s: %s", self._cookie_file, exc)

    def absolute(self, url_or_path: str, *, mobile: bool = False) -> str:
        return urljoin(self.mobile_base_url if mobile else self.base_url, url_or_path)

    def _cookie_expiry(self) -> float | None:
        """When our cookie expires (time.time()); inf for a session cookie, None when we have none."""
        now = time.time()
        while True:
            try:
                ends = [
                    float("inf") if cookie.expires is None else float(cookie.expires)
                    for cookie in self.session.cookies
                    if cookie.name == COOKIE_NAME and not cookie.is_expired(int(now))
                ]
            except RuntimeError:  # another thread's answer set a cookie while we read the jar
                continue
            return max(ends) if ends else None

    def _cookie_due(self, margin: float | None = None) -> bool:
        """No cookie, or one that expires within ``margin`` seconds (by default: shortly, a quarter of its
        life at most, COOKIE_RENEW_AHEAD at most)."""
        expiry = self._cookie_expiry()
        if expiry is None:
            return True
        if margin is None:
            life = expiry - self._cookie_obtained if self._cookie_obtained is not None else float("inf")
            margin = max(COOKIE_SEND_MARGIN, min(COOKIE_RENEW_AHEAD, life / 4))
        return expiry - time.time() < margin

    def _renew_cookie(self, seen_generation: int) -> None:
        """GET ``/`` for a new cookie, unless another thread renewed it since ``seen_generation``."""
        with self._cookie_lock:
            if self._cookie_generation != seen_generation:
                return
            self._fetch(self.base_url, {"Referer": self.base_url}, max_bytes=PAGE_MAX_BYTES, home_page=True)
            self._cookie_obtained = time.time()
            self._cookie_generation += 1
            self.stats.cookie_renewals += 1
            self.save_cookies()

    def _cookie_fresh(self, generation: int) -> bool:
        """Whether the cookie of ``generation`` is ours of the last renewal and still in the first half of its
        life: a 403 then is the site refusing us, not our cookie."""
        expiry, obtained = self._cookie_expiry(), self._cookie_obtained
        if generation != self._cookie_generation or expiry is None or obtained is None:
            return False
        return time.time() - obtained < (expiry - obtained) / 2

    def _ensure_cookie(self) -> None:
        """A cookie that will not expire shortly."""
        generation = self._cookie_generation
        if self._cookie_due():
            self._renew_cookie(generation)

    def _limiter(self, url: str) -> PoliteLimiter:
        """The request slot of the site: its www and mobile hosts keep one pace together."""
        host = urlparse(url).netloc
        if host in self._hosts(self.base_url):
            host = urlparse(self.base_url).netloc
        return limiter_for(self.database, host)

    def _request(
        self, url: str, headers: dict[str, str], max_bytes: int, within: float | None = None, *, needs_cookie: bool
    ) -> FetchResult:
        """One exchange in its own turn of the site's slot (and one more per redirect). ``needs_cookie``:
        a cookie about to expire is renewed first (the turn given back unused, see _CookieExpiring)."""
        result = self._exchange(url, headers, max_bytes, within, needs_cookie=needs_cookie)
        for _ in range(MAX_REDIRECTS):
            location = result.headers.get("Location") or result.headers.get("location")
            if result.status not in REDIRECTS or not location or getattr(self.transport, "follows_redirects", True):
                break
            url = urljoin(result.url, location)
            result = self._exchange(url, headers, max_bytes, within, needs_cookie=needs_cookie)
        return result

    def _exchange(
        self, url: str, headers: dict[str, str], max_bytes: int, within: float | None, *, needs_cookie: bool
    ) -> FetchResult:
        host = urlparse(url).netloc
        breaker = shared_breaker(host)
        breaker.check()
        limiter = self._limiter(url)
        announces = getattr(self.transport, "announces_writes", False)
        late = 0
        while True:
            turn = limiter.take(self.rules, sleep=breaker.sleep, check=breaker.check)
            outcome, retry_after = Outcome.NOT_SENT, None
            try:
                breaker.check()  # another thread may have been blocked while we waited
                generation = self._cookie_generation
                deadline = time.monotonic() + (within or self.deadline_seconds)
                writes = (
                    _CookieCheckedWrite(turn, lambda: self._cookie_due(COOKIE_SEND_MARGIN)) if needs_cookie else turn
                )
                result = self._send(writes, announces, url, headers, max_bytes, deadline)
                retry_after = _retry_after(result.headers.get("Retry-After"))
                outcome = Outcome.REFUSED if refusal(result.status, retry_after) else Outcome.ANSWERED
                break
            except LateForSlot:
                late += 1
                if late == LATE_TRIES:
                    raise Unreachable(
                        f"the request could not be sent in its turn {LATE_TRIES} times (this machine is too busy)",
                        path=url,
                    ) from None
            finally:
                self.pace = turn.finish(outcome, retry_after)
        result.cookie_generation, result.retry_after = generation, retry_after
        self.stats.requests += 1
        self.stats.by_status[result.status] = self.stats.by_status.get(result.status, 0) + 1
        if outcome == Outcome.REFUSED:
            self.stats.refusals += 1
        block = detect_block(result.status, result.content[:300_000], result.headers)
        if block is not None:
            for other_host in self._hosts(url):
                shared_breaker(other_host).trip(block, url)
            raise breaker.tripped  # type: ignore[misc]
        return result

    def _send(
        self, writes: WriteObserver, announces: bool, url: str, headers: dict[str, str], max_bytes: int, deadline: float
    ) -> FetchResult:
        if announces:  # the connection tells the turn when the request is written
            with on_the_wire(writes):
                return self.transport.get(url, headers, max_bytes=max_bytes, deadline=deadline)
        writes.before_write()  # a transport that cannot tell: as if written when the answer is in
        try:
            return self.transport.get(url, headers, max_bytes=max_bytes, deadline=deadline)
        finally:
            writes.after_write()

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
            return self._fetch(url, request_headers, max_bytes=max_bytes, home_page=home_page)
        except CatalogueError as exc:
            if exc.stops_run:  # every way the client stops a run (a block, an outage, the hourly cap)
                notifications.site_paused(self.settings, str(exc))  # said once per pause
            raise

    def _fetch(self, url: str, headers: dict[str, str], *, max_bytes: int, home_page: bool) -> FetchResult:
        """One URL, with retries; a failure that the site as a whole is behind stops the run."""
        max_retries = self.settings.catalogue.max_retries
        breaker = shared_breaker(urlparse(url).netloc)
        renewed = False  # a plain 403 renews the cookie (the home page is where it comes from), then once more
        renewals = 0
        cookie_tries = 0  # renewals of a cookie found expiring in this request's turn
        failure: CatalogueError | None = None
        probed = home_page
        attempt = 0
        while attempt <= max_retries:
            needs_cookie = not home_page and cookie_tries < 4  # (a cookie living shorter than our margin: sent)
            if needs_cookie:
                self._ensure_cookie()
            retry_after = None
            try:
                result = self._request(url, headers, max_bytes, needs_cookie=needs_cookie)
            except _CookieExpiring:
                cookie_tries += 1
                continue
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
                if result.status == 403:
                    if home_page or (renewed and self._cookie_fresh(result.cookie_generation)) or renewals >= 3:
                        raise self._refused_with_fresh_cookie(url)
                    # an expired cookie (or one renewed so long ago, on a busy machine, that it may have been):
                    # a new one (unless another thread got it), then once more
                    renewed, renewals = True, renewals + 1
                    self._renew_cookie(result.cookie_generation)
                    continue
                retry_after = result.retry_after
                if refusal(result.status, retry_after):
                    failure = self._retryable_failure(result.status, retry_after, attempt, url)
                    if retry_after is not None and retry_after > MAX_BACKOFF:
                        raise self._stop_run(failure, url, f"it asks us to wait {retry_after:.0f} s (Retry-After)")
                    if self.pace is not None and self.pace.refusals > max_retries:
                        raise self._stop_run(failure, url, self._still_refused(result.status))
                    self.stats.retries += 1
                    attempt += 1
                    continue  # the slot holds every request until Retry-After, at the raised pace
                if not retryable(result.status):
                    notifications.site_answered(self.settings)  # after a pause: "resumed", once
                    return self._final(result, url)
                failure = self._retryable_failure(result.status, retry_after, attempt, url)
                self.stats.retries += 1
            if attempt < max_retries:
                breaker.sleep(backoff_delay(attempt, retry_after, self.settings.catalogue.min_delay_seconds))
                breaker.check()  # the site may have been found down by another thread meanwhile
            attempt += 1
        assert failure is not None
        if isinstance(failure, RateLimited):
            raise self._stop_run(failure, url, self._still_refused(failure.status))
        if home_page or not self._site_answers():
            raise self._stop_run(failure, url, "its home page does not answer either")
        raise failure

    def _still_refused(self, status: int | None) -> str:
        pace = f" even at {self.pace.pace:.1f} s between requests" if self.pace is not None else ""
        return f"it kept refusing our requests (HTTP {status}, too many requests){pace}"

    def _refused_with_fresh_cookie(self, url: str) -> BlockedError:
        """A 403 although the cookie was just renewed: the site refuses us, not our cookie."""
        error = BlockedError(
            f"Bédéthèque refused the page (HTTP 403) with a cookie just renewed from its home page at {url}: "
            f"{BLOCK_ADVICE}",
            path=url,
            status=403,
        )
        for host in self._hosts(url):
            shared_breaker(host).trip_with(error)
        return error

    def _retryable_failure(self, status: int, retry_after: float | None, attempt: int, url: str) -> CatalogueError:
        message = f"Bédéthèque kept answering HTTP {status} after {attempt + 1} attempts"
        if refusal(status, retry_after):
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
                needs_cookie=False,
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

    def pace_notice(self) -> str | None:
        """What to tell the user once the site asked us to slow down (None: it did not)."""
        return self.pace.describe() if self.pace is not None and self.pace.slowed else None

    # ------------------------------------------------------------------ pages

    def album_page_url(self, album_id_or_url: int | str) -> str:
        text = str(album_id_or_url)
        if text.isdigit():
            return self.absolute(f"BD-x-Tome-1-x-{text}.html", mobile=True)
        path = urlparse(text).path or text
        return self.absolute(path.lstrip("/"), mobile=True)

    def get_album_page(self, album_id_or_url: int | str) -> FetchResult:
        return self.get(self.album_page_url(album_id_or_url))

    def get_series_page(self, series_id: int, slug: str | None) -> FetchResult:
        """The desktop page listing every album of a series (``serie-{id}-BD-{slug}__10000.html``)."""
        return self.get(self.absolute(full_list_path(series_id, slug)))

    def get_cover(self, album_id_or_url: int | str) -> bytes:
        text = str(album_id_or_url)
        url = self.absolute(f"media/Couvertures/Couv_{text}.jpg") if text.isdigit() else text
        return self.get(url, headers={"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"}).content
