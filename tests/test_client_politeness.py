"""The Bédéthèque client against the fake site: rate limit, retries, circuit breaker, cookies, caches."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bdnex_core.bedetheque.client import MAX_BACKOFF, BedethequeClient, backoff_delay, reset_politeness
from bdnex_core.bedetheque.service import fetch_album
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.errors import (
    BlockedError,
    CacheError,
    HourlyCapReached,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    Unreachable,
)
from bdnex_testing.shared import fake_bedetheque

ALBUM = "/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"


@pytest.fixture(scope="module")
def site():
    with fake_bedetheque() as running:
        yield running


@pytest.fixture
def make_client(site, tmp_path):
    reset_politeness()
    site.set_mode(None)
    site.clear_log()

    def build(**catalogue):
        settings = from_mapping({**site.settings_mapping(**catalogue), "cache": {"dir": str(tmp_path / "cache")}})
        return BedethequeClient(settings), settings

    yield build
    site.set_mode(None)
    reset_politeness()


def any_album_paths(site, count):
    return [f"/BD-x-{album_id}.html" for album_id in list(site.catalogue.albums)[:count]]


def test_rate_limit_holds_under_four_threads(site, make_client):
    client, _ = make_client(min_delay_seconds=0.15, jitter_seconds=0.05)
    client.get("/")  # the cookie visit, so every thread only fetches pages
    site.clear_log()
    paths = any_album_paths(site, 16)
    threads = [
        threading.Thread(target=lambda chunk=paths[i::4]: [client.get(path) for path in chunk]) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = sorted(entry.arrived for entry in site.requests("/BD-"))
    assert len(times) == 16
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # never two requests arriving closer than the minimum delay, less 30 ms: the server stamps a request
    # when its thread wakes to read it, and with both cores busy one wake-up came 14 ms late (0.136 s);
    # four threads without the shared slot would arrive together (gaps near 0)
    assert min(gaps) >= 0.12, gaps
    assert sum(gaps) / len(gaps) >= 0.15, gaps


def test_hourly_cap_stops_politely(site, make_client):
    client, _ = make_client(max_requests_per_hour=3)
    client.get(any_album_paths(site, 1)[0])  # home page + 1 album = 2 requests
    client.get(any_album_paths(site, 2)[1])
    with pytest.raises(HourlyCapReached, match="max_requests_per_hour") as raised:
        client.get(any_album_paths(site, 3)[2])
    assert raised.value.stops_run and raised.value.exit_code == 4  # the run pauses, no file fails for it


def test_429_with_retry_after_is_honoured_then_succeeds(site, make_client):
    client, _ = make_client()
    client.get("/")
    site.set_mode("429", remaining=2, retry_after=1, paths="/BD-")
    started = time.monotonic()
    result = client.get(ALBUM)
    assert result.status == 200
    assert time.monotonic() - started >= 2.0  # two Retry-After: 1 waits
    assert [entry.status for entry in site.requests("/BD-")] == [429, 429, 200]


def test_503_forever_is_reported_after_the_retries(site, make_client):
    client, _ = make_client(max_retries=2)
    client.get("/")
    site.set_mode("503", retry_after=0, paths="/BD-")
    with pytest.raises(Unreachable, match="HTTP 503 after 3 attempts") as raised:
        client.get(ALBUM)
    assert len(site.requests("/BD-")) == 3
    # only this page fails (the home page answers): this file fails, the run goes on
    assert raised.value.status == 503 and not raised.value.stops_run and not raised.value.timed_out
    site.set_mode(None)
    assert client.get(ALBUM).status == 200


@pytest.mark.parametrize("kind", ["challenge", "ban"])
def test_challenge_or_ban_stops_the_run_after_one_request(site, make_client, kind):
    client, _ = make_client()
    client.get("/")
    site.clear_log()
    site.set_mode(kind)
    with pytest.raises(BlockedError) as raised:
        client.get(ALBUM)
    message = str(raised.value)
    assert ("banned" if kind == "ban" else "challenge") in message and "cookies_file" in message and "\n" not in message
    assert len(site.requests()) == 1
    site.set_mode(None)
    other = BedethequeClient(client.settings)  # another client of the same run: stopped too
    for caller in (client, other):
        with pytest.raises(BlockedError):  # later calls make no request at all
            caller.get(any_album_paths(site, 1)[0])
    assert len(site.requests()) == 1


def test_cookie_required_is_met_by_the_first_visit(site, make_client):
    site.set_mode("cookie_required")
    client, _ = make_client()
    assert client.get(ALBUM).status == 200
    logged = site.requests()
    assert logged[0].path == "/" and logged[-1].cookie and logged[-1].referer.endswith("/")


def test_conditional_requests_get_304(site, make_client):
    client, _ = make_client()
    name = sorted(site.catalogue.sitemaps)[0]
    first = client.get(f"/{name}")
    again = client.get(f"/{name}", conditional=(first.headers.get("ETag"), first.headers.get("Last-Modified")))
    assert first.status == 200 and again.status == 304 and again.content == b""


def test_browser_cookies_file_is_used(site, make_client, tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tcsrf_cookie_bel\tfrom-my-browser\n")
    site.set_mode("cookie_required")
    client, _ = make_client(cookies_file=str(cookies))
    assert client.get(ALBUM).status == 200
    assert [entry.path for entry in site.requests()] == [ALBUM]  # no home-page visit needed


def test_flaresolverr_transport(site, make_client):
    calls = []

    class Solver(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(request)
            import urllib.request

            with urllib.request.urlopen(request["url"]) as answer:
                body = answer.read().decode()
            payload = json.dumps(
                {
                    "status": "ok",
                    "solution": {
                        "url": request["url"],
                        "status": 200,
                        "response": body,
                        "cookies": [{"name": "cf_clearance", "value": "ok"}],
                        "headers": {},
                    },
                }
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Solver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client, _ = make_client(
            transport="flaresolverr", flaresolverr_url=f"http://127.0.0.1:{server.server_address[1]}"
        )
        result = client.get(ALBUM)
        assert "Redwin" in result.text or "album-detail" in result.text
        assert calls and all(call["cmd"] == "request.get" for call in calls)
    finally:
        server.shutdown()


def test_no_album_is_fetched_twice_within_its_ttl(site, make_client, database_location):
    client, settings = make_client()
    db = BDneXDB(database_location, settings=settings)
    album_id = list(site.catalogue.albums)[5]
    first = fetch_album(client, db, album_id)
    again = fetch_album(client, db, album_id)
    assert first == again
    assert len(site.requests(f"-{album_id}.html")) == 1
    assert (client.data_dir / "pages" / f"{album_id}.html").is_file()  # the raw page is kept on disk
    from datetime import timedelta

    from bdnex_core.db import utcnow

    assert db.albums.get(album_id, now=utcnow() + timedelta(days=8)) is None  # after the TTL: fetched again


# ---------------------------------------------------------------------- typed errors, run-wide breaker


def test_not_found_is_typed_with_its_status(site, make_client):
    client, _ = make_client()
    with pytest.raises(NotFound) as raised:
        client.get("/BD-x-1.html")
    assert raised.value.status == 404 and not raised.value.stops_run


def test_a_site_that_always_answers_429_stops_the_run(site, make_client):
    client, _ = make_client(max_retries=2)
    client.get("/")
    site.clear_log()
    site.set_mode("429", retry_after=0)
    with pytest.raises(RateLimited) as raised:
        client.get(ALBUM)
    assert raised.value.stops_run and raised.value.status == 429 and "\n" not in str(raised.value)
    assert len(site.requests()) == 3  # the attempts of one page, not the retries of every file
    site.set_mode(None)
    with pytest.raises(RateLimited):  # the breaker is run-wide: the next file asks nothing
        BedethequeClient(client.settings).get(any_album_paths(site, 1)[0])
    assert len(site.requests()) == 3


def test_retry_after_beyond_the_cap_stops_the_run_instead_of_sleeping(site, make_client):
    client, _ = make_client(max_retries=2)
    client.get("/")
    site.set_mode("429", retry_after=86400, paths="/BD-")
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(outcome, client.get, ALBUM), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(60)  # the old client slept min(86400, 120) + up to 8,640 s of jitter here
    assert not worker.is_alive(), "the client is still sleeping on Retry-After: 86400"
    assert time.monotonic() - started < 30
    error = outcome[0]
    assert isinstance(error, RateLimited) and error.stops_run and error.retry_after == 86400
    assert "86400 s" in str(error)


def _capture(outcome: list[BaseException], function, *arguments) -> None:
    try:
        function(*arguments)
    except BaseException as exc:  # handed to the test's thread
        outcome.append(exc)


def test_backoff_with_jitter_never_exceeds_the_cap():
    for retry_after in (None, 0.0, 60.0, 119.0, 120.0, 3600.0, 86400.0):
        for attempt in range(8):
            delays = [backoff_delay(attempt, retry_after, 2.0) for _ in range(200)]
            assert max(delays) <= MAX_BACKOFF, (retry_after, attempt)
    assert 1.0 <= backoff_delay(0, 1.0, 0.0) <= 1.1  # what the site asked, plus at most 10 %


@pytest.fixture
def own_site():
    """A site of the test's own, to stop and start again."""
    reset_politeness()
    running = FakeBedetheque().start()
    yield running
    running.stop()
    reset_politeness()


def test_cloudflare_saying_the_site_is_down_stops_the_run(site, make_client):
    client, _ = make_client(max_retries=1)
    client.get(any_album_paths(site, 1)[0])  # the cookie visit is behind us
    site.clear_log()
    site.set_mode("522")  # every page, the home page too
    with pytest.raises(Unreachable) as raised:
        client.get(ALBUM)
    assert raised.value.stops_run and raised.value.status == 522
    assert [entry.path for entry in site.requests()] == [ALBUM, ALBUM, "/"]  # two attempts, one look at the home


def test_a_site_that_accepts_and_never_answers_stops_the_run_after_one_timeout(own_site, tmp_path):
    mapping = own_site.settings_mapping(max_retries=4, timeout_seconds=1.0)
    client = BedethequeClient(from_mapping({**mapping, "cache": {"dir": str(tmp_path / "cache")}}))
    client.get(any_album_paths(own_site, 1)[0])
    own_site.set_mode("slow", delay=30)  # far beyond the timeout, on every page
    started = time.monotonic()
    with pytest.raises(Unreachable) as raised:
        client.get(ALBUM)
    assert raised.value.stops_run and raised.value.timed_out
    # one timeout on the page, one on the home page (about 2 s): not five timeouts and their backoff (20 s)
    assert time.monotonic() - started < 12


def test_a_site_gone_away_stops_the_run_then_answers_again(own_site, tmp_path):
    settings = from_mapping({**own_site.settings_mapping(), "cache": {"dir": str(tmp_path / "cache")}})
    client = BedethequeClient(settings)
    paths = any_album_paths(own_site, 3)
    assert client.get(paths[0]).status == 200  # a kept-alive connection is open now
    own_site.stop()
    started = time.monotonic()
    with pytest.raises(Unreachable) as raised:
        client.get(paths[1])
    assert time.monotonic() - started < 30  # 3 attempts (1 s, 2 s apart), one look at the home page
    error = raised.value
    assert error.stops_run and error.status is None and not error.timed_out and "\n" not in str(error)
    assert "home page does not answer" in str(error)
    started = time.monotonic()
    with pytest.raises(Unreachable):  # later requests of the run fail at once
        BedethequeClient(settings).get(paths[2])
    assert time.monotonic() - started < 1
    own_site.start()  # the site is back (same address): a new run works
    reset_politeness()
    assert BedethequeClient(settings).get(paths[2]).status == 200


# ---------------------------------------------------------------------- size cap and deadline


def test_an_answer_without_end_is_cut_at_the_size_cap(site, make_client):
    client, _ = make_client()
    client.get("/")
    site.set_mode("huge", size=40 * 1024 * 1024, paths="/BD-")
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge) as raised:
        client.get(ALBUM)
    message = str(raised.value)
    assert ALBUM in message and "8 MB" in message and "\n" not in message
    assert not raised.value.stops_run
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("kind", ["drip", "drip_all"])  # the body only; the status line and headers too
def test_a_server_sending_one_byte_at_a_time_is_cut_off(site, make_client, kind):
    client, settings = make_client(timeout_seconds=1.0)  # deadline: 4 s for the whole answer
    client.get("/")
    site.set_mode(kind, delay=0.3, paths="/BD-")  # each read is in time; the page would take 10 min
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(outcome, client.get, ALBUM), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the client is still reading the trickling page"
    assert time.monotonic() - started < 30
    error = outcome[0]
    assert isinstance(error, Unreachable) and error.timed_out and ALBUM in str(error)
    assert len(site.requests("/BD-")) == 1  # a trickling server is not asked again


def test_no_watchdog_outlives_its_exchange(site, make_client):
    """The deadline's watchdogs are ordinary threads (a daemon waking during the interpreter's exit can
    abort it): each must end with its exchange, answered or cut off, or every exit would wait for it."""
    client, _ = make_client(timeout_seconds=1.0)
    client.get("/")
    for path in any_album_paths(site, 3):
        client.get(path)
    site.set_mode("drip", delay=0.3, paths="/BD-")
    with pytest.raises(Unreachable):
        client.get(ALBUM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        watchdogs = [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]
        if not watchdogs:
            break
        time.sleep(0.05)
    assert not watchdogs, f"{len(watchdogs)} watchdog threads still alive after their exchanges"


def test_a_sitemap_without_end_is_cut_at_the_sitemap_cap(site, make_client, tmp_path):
    from bdnex_core.bedetheque.catalogue import Catalogue

    client, settings = make_client()
    site.set_mode("huge", size=80 * 1024 * 1024, paths="_map.xml")
    with pytest.raises(ResponseTooLarge) as raised:
        Catalogue(BDneXDB(tmp_path / "bdnex.db", settings=settings)).update_online(client)
    assert "_map.xml" in str(raised.value) and "64 MB" in str(raised.value)


# ---------------------------------------------------------------------- challenge detection, cache folder


def test_an_album_titled_just_a_moment_is_an_album(tmp_path):
    sitemap = tmp_path / "albums_990001_1000000_map.xml"
    sitemap.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
        "<loc>https://www.bedetheque.com/BD-Attente-Tome-1-Just-a-moment-990001.html</loc>"
        "<lastmod>2024-01-01</lastmod></url></urlset>"
    )
    reset_politeness()
    with FakeBedetheque([sitemap]) as running:
        settings = from_mapping(
            {
                **running.settings_mapping(),
                "cache": {"dir": str(tmp_path / "cache")},
                "database": {"path": str(tmp_path / "bdnex.db")},
            }
        )
        client = BedethequeClient(settings)
        assert b"<title>Attente -1- Just a moment</title>" in client.get_album_page(990001).content
        album = fetch_album(client, BDneXDB(settings=settings), 990001)
        assert album.title == "Just a moment" and album.series == "Attente"
        running.set_mode("challenge")  # the real challenge is still recognised
        with pytest.raises(BlockedError):
            client.get("/BD-x-990001.html")
    reset_politeness()


def test_a_read_only_cache_folder_is_named_with_the_fix(site, make_client, tmp_path):
    import subprocess

    cache = tmp_path / "cache"
    cache.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(cache)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root without mount: a read-only folder cannot be simulated")
        os.chmod(cache, 0o555)
    try:
        client, settings = make_client()
        db = BDneXDB(tmp_path / "bdnex.db", settings=settings)
        with pytest.raises(CacheError) as raised:
            fetch_album(client, db, list(site.catalogue.albums)[3])
        message = str(raised.value)
        assert str(cache / "pages") in message and "cache.dir" in message and "\n" not in message
    finally:
        if mounted:
            subprocess.run(["umount", str(cache)], capture_output=True)
        else:
            os.chmod(cache, 0o755)
