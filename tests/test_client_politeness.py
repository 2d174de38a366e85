"""The Bédéthèque client against the fake site: rate limit, retries, circuit breaker, cookies, caches."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.bedetheque.service import fetch_album
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.errors import BlockedError, CatalogueError
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
    times = sorted(entry.time for entry in site.requests("/BD-"))
    assert len(times) == 16
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # never two requests closer than the minimum delay (slack for the server threads' scheduling)
    assert min(gaps) >= 0.12, gaps
    assert sum(gaps) / len(gaps) >= 0.15, gaps


def test_hourly_cap_stops_politely(site, make_client):
    client, _ = make_client(max_requests_per_hour=3)
    client.get(any_album_paths(site, 1)[0])  # home page + 1 album = 2 requests
    client.get(any_album_paths(site, 2)[1])
    with pytest.raises(CatalogueError, match="max_requests_per_hour"):
        client.get(any_album_paths(site, 3)[2])


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
    with pytest.raises(CatalogueError, match="HTTP 503 after 3 attempts"):
        client.get(ALBUM)
    assert len(site.requests("/BD-")) == 3


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


def test_no_album_is_fetched_twice_within_its_ttl(site, make_client, tmp_path):
    client, settings = make_client()
    db = BDneXDB(tmp_path / "cache.db", settings=settings)
    album_id = list(site.catalogue.albums)[5]
    first = fetch_album(client, db, album_id)
    again = fetch_album(client, db, album_id)
    assert first == again
    assert len(site.requests(f"-{album_id}.html")) == 1
    assert (client.data_dir / "pages" / f"{album_id}.html").is_file()  # the raw page is kept on disk
    from datetime import timedelta

    from bdnex_core.db import utcnow

    assert db.get_cached_album(album_id, now=utcnow() + timedelta(days=8)) is None  # after the TTL: fetched again
