"""The fake Bédéthèque site itself: synthetic pages parse like real ones, control endpoints, no-shared fallback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import urllib.request

import pytest
from PIL import Image

from bdnex_core.bedetheque.parse import parse_album_page, parse_series_page
from bdnex_core.demo.fakesite import FakeBedetheque, isbn13


def isbn13_is_valid(isbn: str) -> bool:
    digits = [int(ch) for ch in isbn if ch.isdigit()]
    return len(digits) == 13 and sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10 == 0


@pytest.fixture(scope="module")
def builtin_site():
    # no sitemaps: the generated catalogue, as the demo and a clone without ../shared use it
    with FakeBedetheque() as running:
        yield running


def fetch(url: str, data: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_isbn_check_digits_are_valid_and_deterministic():
    for album_id in (1, 245127, 900001, 999999):
        assert isbn13_is_valid(isbn13(album_id))
        assert isbn13(album_id) == isbn13(album_id)


def test_builtin_catalogue_pages_parse_with_the_real_parser(builtin_site):
    entries = list(builtin_site.catalogue.albums.values())
    assert len(entries) >= 300
    for entry in entries[:40]:
        status, body, _ = fetch(f"{builtin_site.base_url}/BD-x-{entry.album_id}.html")
        assert status == 200
        album = parse_album_page(body.decode("utf-8"), f"{builtin_site.base_url}/BD-x-{entry.album_id}.html")
        assert album.album_id == entry.album_id
        assert album.isbn and isbn13_is_valid(album.isbn)
        assert album.publisher and album.title
        assert (album.tome or None) == (entry.tome or None)
    first = entries[0]
    again = fetch(f"{builtin_site.base_url}/BD-x-{first.album_id}.html")[1]
    assert again == fetch(f"{builtin_site.base_url}/BD-x-{first.album_id}.html")[1]  # deterministic


def test_series_page_and_cover(builtin_site):
    entry = next(iter(builtin_site.catalogue.albums.values()))
    album = parse_album_page(fetch(f"{builtin_site.base_url}/BD-x-{entry.album_id}.html")[1].decode(), "u")
    status, body, headers = fetch(f"{builtin_site.base_url}/media/Couvertures/Couv_{entry.album_id}.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).format == "JPEG"
    assert body == fetch(f"{builtin_site.base_url}/media/Couvertures/Couv_{entry.album_id}.jpg")[1]
    assert album.series_url
    status, page, _ = fetch(builtin_site.base_url + "/" + album.series_url.split("/", 3)[-1])
    assert status == 200
    series = parse_series_page(page.decode(), album.series_url)
    assert any(item.album_id == entry.album_id for item in series.albums)


def test_mode_and_log_over_http(builtin_site):
    builtin_site.clear_log()
    status, _, _ = fetch(
        f"{builtin_site.base_url}/_fake/mode", json.dumps({"kind": "503", "remaining": 1, "retry_after": 3}).encode()
    )
    assert status == 204
    first = fetch(f"{builtin_site.base_url}/sitemap.xml")
    second = fetch(f"{builtin_site.base_url}/sitemap.xml")
    assert first[0] == 503 and first[2]["Retry-After"] == "3"
    assert second[0] == 200 and b"sitemapindex" in second[1]
    log = json.loads(fetch(f"{builtin_site.base_url}/_fake/log")[1])
    assert [(row["path"], row["status"]) for row in log if not row["path"].startswith("/_fake/")] == [
        ("/sitemap.xml", 503),
        ("/sitemap.xml", 200),
    ]
    fetch(f"{builtin_site.base_url}/_fake/mode", json.dumps({"kind": "ban"}).encode())
    assert "Bloquage de l'IP : 127.0.0.1" in fetch(f"{builtin_site.base_url}/")[1].decode()
    builtin_site.set_mode(None)


def test_runs_as_a_module(tmp_path):
    sitemap = tmp_path / "albums_1_2_map.xml"
    sitemap.write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://www.bedetheque.com/BD-Thorgal-Tome-3-Les-trois-vieillards-42.html</loc>"
        "<lastmod>2024-01-01</lastmod></url></urlset>"
    )
    with FakeBedetheque() as probe:  # borrow a free port number, then release it
        port = probe.port
    process = subprocess.Popen(
        [sys.executable, "-m", "bdnex_core.demo.fakesite", "--port", str(port), "--sitemaps", str(sitemap)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                status, body, _ = fetch(f"http://127.0.0.1:{port}/BD-x-42.html")
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("fake site did not start")
        assert status == 200
        assert parse_album_page(body.decode(), "u").series == "Thorgal"
    finally:
        process.terminate()
        process.wait(timeout=5)
