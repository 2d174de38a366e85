"""Pieces of the Komga adapter that need no server: SSE framing, paths, ISBN, patches, settings."""

from __future__ import annotations

import io
import itertools
import logging
from pathlib import Path

import pytest

from bdnex_core.config import from_mapping
from bdnex_core.errors import ConfigError
from bdnex_komga.events import Frame, iter_stream_lines, parse_frames
from bdnex_komga.paths import map_path
from bdnex_komga.settings import PathMapping, komga_settings
from bdnex_komga.source import book_condition, parse_location
from bdnex_komga.webhook import InvalidEvent, parse_events, parse_listen
from bdnex_komga.writeback import (
    desired_book_metadata,
    desired_series_metadata,
    number_sort,
    plan_patch,
    release_date,
    to_isbn13,
)


class Trickle(io.RawIOBase):
    """A body that arrives a few bytes at a time, as a slow stream does."""

    def __init__(self, data: bytes, step: int = 3):
        self.data, self.step = data, step

    def read1(self, size: int = -1) -> bytes:
        chunk, self.data = self.data[: self.step], self.data[self.step :]
        return chunk


def test_sse_frames() -> None:
    body = (
        b':heartbeat\n\nevent:BookAdded\ndata:{"bookId":"B1",\r\ndata: "seriesId":"S1"}\r\n\r\n'
        b'event: TaskQueueStatus\ndata:{"count":0}\n\nid: 7\n\ndata:plain\n\nevent:Unfinished\ndata:x'
    )
    frames = list(parse_frames(iter_stream_lines(Trickle(body))))
    assert frames == [
        Frame(None, "", comment="heartbeat"),
        Frame("BookAdded", '{"bookId":"B1",\n"seriesId":"S1"}'),
        Frame("TaskQueueStatus", '{"count":0}'),
        Frame("message", "plain"),
        Frame("Unfinished", "x"),
    ]


def test_path_map_longest_prefix_and_whole_components() -> None:
    mappings = (
        PathMapping("/data", "/mnt/all"),
        PathMapping("/data/bd", "/srv/bd"),
        PathMapping("/data/bd/manga", "/srv/manga"),
    )
    assert map_path("/data/bd/Nains/T1.cbz", mappings).local == Path("/srv/bd/Nains/T1.cbz")
    assert map_path("/data/bd/manga/x.cbz", mappings).local == Path("/srv/manga/x.cbz")
    assert map_path("/data/bdx/y.cbz", mappings).local == Path("/mnt/all/bdx/y.cbz")
    unmapped = map_path("/other/z.cbz", mappings)
    assert unmapped.local is None and unmapped.mapping is None and not unmapped.exists
    assert map_path("/same/host.cbz", ()).local == Path("/same/host.cbz")  # no mapping: Komga's own path
    assert map_path("D:\\BD\\Nains\\T1.cbz", (PathMapping("D:\\BD", "/srv/bd"),)).local == Path("/srv/bd/Nains/T1.cbz")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("978-2-302-04644-3", "9782302046443"),
        ("9782302046443", "9782302046443"),
        ("2-302-04644-4", None),  # wrong ISBN-10 check digit: dropped
        ("2302046447", "9782302046443"),  # ISBN-10 converted
        ("080442957X", "9780804429573"),  # X check digit
        ("9782302046444", None),  # wrong ISBN-13 check digit
        ("1234567890123", None),  # not a book prefix
        ("", None),
        (None, None),
    ],
)
def test_isbn13(value: str | None, expected: str | None) -> None:
    assert to_isbn13(value) == expected


def test_book_fields_from_comicinfo() -> None:
    fields = {
        "Title": "Redwin de la Forge",
        "Number": "1",
        "Summary": "Résumé",
        "Year": "2015",
        "Month": "6",
        "Writer": "Nicolas Jarry",
        "Penciller": "Pierre-Denis Goux, Autre Dessinateur",
        "CoverArtist": "X Y",
        "Translator": "T R",
        "Tags": "Nains, Fantasy",
        "GTIN": "2-302-04644-7",
        "Web": "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
    }
    current = {
        "tags": ["mine"],
        "links": [
            {"label": "Wiki", "url": "https://example.org"},
            {"label": "old", "url": "https://www.bedetheque.com/BD-x-1.html"},
        ],
    }
    desired = desired_book_metadata(fields, current)
    assert desired["number"] == "1" and desired["numberSort"] == 1.0
    assert desired["releaseDate"] == "2015-06-01"
    assert desired["isbn"] == "9782302046443"
    assert desired["tags"] == ["fantasy", "mine", "nains"]
    assert [author["role"] for author in desired["authors"]] == [
        "writer",
        "penciller",
        "penciller",
        "cover",
        "translator",
    ]
    assert desired["links"] == [
        {"label": "Bédéthèque", "url": fields["Web"]},
        {"label": "Wiki", "url": "https://example.org"},
    ]
    assert "isbn" not in desired_book_metadata({"GTIN": "12345"}, {})
    assert number_sort("HS1") is None and number_sort("2a") == 2.0 and number_sort("10.5") == 10.5
    assert release_date({"Year": "2001"}) == "2001-01-01" and release_date({}) is None


def test_series_fields_come_from_the_series_record() -> None:
    fields = {
        "Publisher": "Delcourt",  # this book's edition: not the series'
        "Genre": "Aventure",
        "LanguageISO": "fr",
        "Count": "19",
        "Summary": "Tome 1",
        "Number": "1",
    }
    series = {
        "publisher": "Soleil",
        "genres": ["Heroic Fantasy", "Fantasy"],
        "summary": "Les nains des Terres d'Arran.",
        "normal_status": "ended",
        "tome_count": 25,
    }
    desired = desired_series_metadata(fields, {"genres": ["Nains"], "summary": "", "publisher": "Glénat"}, series)
    assert desired == {
        "publisher": "Soleil",
        "genres": ["fantasy", "heroic fantasy"],
        "language": "fr",
        "totalBookCount": 25,
        "summary": "Les nains des Terres d'Arran.",
        "status": "ENDED",
    }
    assert desired_series_metadata({**fields, "Number": "7"}, {}, series) == desired  # every book asks the same
    assert "status" not in desired_series_metadata(fields, {}, {**series, "normal_status": None})


def test_without_a_series_record_a_book_only_fills_what_the_series_lacks() -> None:
    fields = {"Publisher": "Delcourt", "Genre": "Aventure", "LanguageISO": "fr", "Count": "19", "Summary": "Tome 1"}
    assert desired_series_metadata({**fields, "Number": "1"}, {}) == {
        "publisher": "Delcourt",
        "genres": ["aventure"],
        "language": "fr",
        "totalBookCount": 19,
    }  # an album's summary is never the series'
    current = {"publisher": "Soleil", "genres": ["fantasy"], "totalBookCount": 25}
    assert desired_series_metadata({**fields, "Number": "2"}, current) == {"language": "fr"}


def test_plan_patch_respects_locks() -> None:
    current = {
        "title": "Old",
        "titleLock": True,
        "summary": "",
        "summaryLock": False,
        "number": "1",
        "authors": [{"name": "A", "role": "writer"}],
    }
    desired = {"title": "New", "summary": "S", "number": "1", "authors": [{"name": "A", "role": "Writer"}]}
    body, changes, locked = plan_patch(desired, current, force=False, lock=False)
    assert body == {"summary": "S"} and locked == ["title"] and set(changes) == {"summary"}
    body, _, locked = plan_patch(desired, current, force=True, lock=True)
    assert body == {"title": "New", "titleLock": True, "summary": "S", "summaryLock": True} and locked == []


def test_locations_and_conditions() -> None:
    assert parse_location("library:0HT4VCG8Z1P5N") == ("library", "0HT4VCG8Z1P5N")
    assert parse_location("all") == ("all", "")
    with pytest.raises(Exception, match="not a Komga location"):
        parse_location("shelf:3")
    for bad in ("L1", "../libraries", "0HT4VCG8Z1P5N/../X", "0HT4VCG8Z1P5?", "0ht4vcg8z1p5n"):
        with pytest.raises(Exception, match="is not a Komga library id"):
            parse_location(f"library:{bad}")
    assert book_condition("library", "L1") == {"libraryId": {"operator": "is", "value": "L1"}}
    assert book_condition("series", "S1", ("READY",)) == {
        "allOf": [
            {"seriesId": {"operator": "is", "value": "S1"}},
            {"mediaStatus": {"operator": "is", "value": "READY"}},
        ]
    }
    assert book_condition("all", "") is None


def test_webhook_payloads() -> None:
    events = parse_events(
        [
            {"event": "BookAdded", "bookId": "0HT4VCG8Z1P5N", "libraryId": "0HT4VCG8Z1P5A"},
            {"event": "TaskQueueStatus", "count": 0},
        ]
    )
    assert [event.name for event in events] == ["BookAdded", "TaskQueueStatus"]
    with pytest.raises(InvalidEvent, match="seriesId"):
        parse_events({"event": "BookAdded", "bookId": "0HT4VCG8Z1P5N", "seriesId": 3})
    for bad in ("B1", "../libraries", "0HT4VCG8Z1P5N/../0HT4VCG8Z1P5A", "0HT4VCG8Z1P5N?x=1", "0HT4VCG8Z1P5N#"):
        with pytest.raises(InvalidEvent, match="not a Komga id"):
            parse_events({"event": "BookAdded", "bookId": bad})
    assert parse_listen("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError):
        parse_listen("8765x")


def _settings(komga: dict) -> object:
    return from_mapping({"komga": komga})


def test_secrets_from_env_file_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from bdnex_komga.client import KomgaClient

    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    assert komga_settings(_settings({"url": "http://k", "api_key_file": str(key_file)})).api_key == "from-file"
    both = {"url": "http://k", "api_key": "from-config", "api_key_file": str(key_file)}
    assert komga_settings(_settings(both)).api_key == "from-config"
    monkeypatch.setenv("BDNEX_KOMGA_API_KEY", "from-env")
    config = komga_settings(_settings({"url": "http://k/", "api_key": "from-config"}))
    assert config.api_key == "from-env" and config.url == "http://k"
    monkeypatch.setenv("BDNEX_KOMGA_PASSWORD", "pw-env")
    monkeypatch.setenv("BDNEX_KOMGA_WEBHOOK_TOKEN", "tok-env")
    config = komga_settings(_settings({"url": "http://k", "email": "a@b"}))
    assert config.password == "pw-env" and config.webhook_token == "tok-env"
    client = KomgaClient(config)
    with caplog.at_level(logging.DEBUG):
        text = repr(config) + repr(client) + str(client.__dict__.get("config"))
    for secret in ("from-env", "pw-env", "tok-env"):
        assert secret not in text
    monkeypatch.delenv("BDNEX_KOMGA_API_KEY")
    with pytest.raises(ConfigError, match="api_key_file"):
        komga_settings(_settings({"url": "http://k", "api_key_file": str(tmp_path / "missing")}))


def test_settings_validation() -> None:
    with pytest.raises(ConfigError, match="komga.write"):
        komga_settings(_settings({"write": ["api", "xml"]}))
    with pytest.raises(ConfigError, match="komga.path_map.0"):
        komga_settings(_settings({"path_map": [{"komga": "/data"}]}))
    with pytest.raises(ConfigError, match="komga.idle_timeout_seconds"):
        komga_settings(_settings({"idle_timeout_seconds": "soon"}))
    config = komga_settings(_settings({"write": "comicinfo", "path_map": {"/data": "/srv"}}))
    assert config.write == ("comicinfo",) and config.path_map == (PathMapping("/data", "/srv"),)


def test_event_reader_backs_off_when_connections_drop_at_once() -> None:
    """A server that ends every stream at once: the waits grow, up to the cap."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bdnex_komga.client import KomgaClient
    from bdnex_komga.events import CONNECTED, SseReader
    from bdnex_komga.settings import KomgaSettings

    moments: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            moments.append(time.monotonic())
            body = b'event:BookAdded\ndata:{"bookId":"B1"}\n\n:heartbeat\n\n'
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    events = []
    try:
        client = KomgaClient(KomgaSettings(url=f"http://127.0.0.1:{server.server_address[1]}", api_key="k"))
        reader = SseReader(client, events.append, min_delay=0.05, max_delay=0.2, read_timeout=2).start()
        time.sleep(1.5)
        reader.stop()
    finally:
        server.shutdown()
        server.server_close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert len(moments) >= 5, moments
    assert gaps[0] < 0.15 and gaps[1] > 0.08 and all(gap < 0.4 for gap in gaps)
    assert [event.name for event in events[:2]] == [CONNECTED, "BookAdded"] and events[1].data == {"bookId": "B1"}
    assert reader.heartbeats >= 1


def test_client_auth_and_tls_options(tmp_path: Path) -> None:
    from bdnex_komga.client import KomgaClient

    config = komga_settings(_settings({"url": "https://k.example", "api_key": "key", "verify_tls": False}))
    client = KomgaClient(config)
    assert client.session.verify is False and client.session.headers["X-API-Key"] == "key"
    assert client.session.auth is None
    bundle = tmp_path / "ca.pem"
    config = komga_settings(
        _settings({"url": "https://k.example", "email": "a@b", "password": "pw", "verify_tls": str(bundle)})
    )
    client = KomgaClient(config)
    assert client.session.verify == str(bundle) and client.session.auth == ("a@b", "pw")
    assert "X-API-Key" not in client.session.headers
    with pytest.raises(ConfigError, match="komga.url: expected an http"):
        KomgaClient(komga_settings(_settings({"url": "k.example", "api_key": "key"})))
    with pytest.raises(ConfigError, match="no Komga server configured"):
        KomgaClient(komga_settings(_settings({"api_key": "key"})))
