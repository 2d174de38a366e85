"""``watch`` end to end: the stand-in Komga's events, the fake Bédéthèque, the real pipeline."""

from __future__ import annotations

import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import Env, running_service, series_albums, wait_for

pytestmark = pytest.mark.timeout(60)


def watching(env: Env, **komga: Any):
    """The watch service running in a thread (as ``bdnex-core komga watch`` runs it)."""
    return running_service(env, events=True, **komga)


def album_of(env: Env, book: dict[str, Any], albums: list[tuple[int, str, str]]) -> int:
    name = Path(book["url"]).name
    return next(album_id for album_id, series, tome in albums if name == f"{series} T{int(tome):02d}.cbz")


def check_tagged(env: Env, book_id: str, album_id: int) -> dict[str, Any]:
    metadata = env.komga.book(book_id)["metadata"]
    assert any(
        link["label"] == "Bédéthèque" and link["url"].endswith(f"-{album_id}.html") for link in metadata["links"]
    ), metadata
    assert metadata["authors"] and all(author["role"] == author["role"].lower() for author in metadata["authors"])
    assert metadata["releaseDate"] and len(metadata["isbn"]) == 13
    return metadata


def test_watch_tags_added_books_once_through_a_disconnect(env: Env) -> None:
    komga = env.komga
    albums = series_albums(env.site, 4)
    with watching(env, reconnect_min_seconds=1.5, reconnect_max_seconds=3) as service:
        worker = service.worker
        assert wait_for(lambda: worker.stats.connections == 1 and worker.checkpoint() is not None, 10)

        # two books arrive while connected
        env.add_albums(albums[:2])
        first = komga.scan(env.library_id)
        assert wait_for(lambda: len(worker.stats.processed) == 2, 15), worker.snapshot()

        # the connection drops (Komga ends them every hour); two books arrive in the gap
        komga.disconnect_sse()
        assert wait_for(lambda: komga.sse_open == 0, 2)
        env.add_albums(albums[2:])
        second = komga.scan(env.library_id)
        assert komga.sse_open == 0, "the scan should happen while disconnected"
        assert len(second) == 2
        assert wait_for(lambda: len(worker.stats.processed) == 4, 15), worker.snapshot()
        assert worker.stats.connections >= 2 and worker.stats.caught_up == 2
        # a heartbeat comes every 0.5 s: on a small catalogue the books can be done before the first
        assert wait_for(lambda: service.reader.heartbeats > 0, 5)

        # our own writes make Komga send BookChanged: no new work comes of it
        runs = worker.stats.runs
        komga.wait_idle(5)
        time.sleep(1.0)
        assert worker.stats.runs == runs
        assert worker.stats.own_changes_ignored > 0
        processed = Counter(worker.stats.processed)
        assert set(processed) == set(first + second) and set(processed.values()) == {1}, processed

    for book_id in first + second:
        check_tagged(env, book_id, album_of(env, komga.book(book_id), albums))
    series = komga.series(komga.book(first[0])["seriesId"])["metadata"]
    assert series["publisher"] and series["language"] == "fr" and series["genres"]


def test_watch_restart_does_not_redo_books(env: Env) -> None:
    komga = env.komga
    albums = series_albums(env.site, 2)
    with watching(env) as service:
        assert wait_for(lambda: service.worker.checkpoint() is not None, 10)
        env.add_albums(albums[:1])
        komga.scan(env.library_id)
        assert wait_for(lambda: len(service.worker.stats.processed) == 1, 15)
    # stopped: a book arrives; the next start catches it up, and only it
    env.add_albums(albums[1:])
    [late] = komga.scan(env.library_id)
    with watching(env) as service:
        assert wait_for(lambda: len(service.worker.stats.processed) == 1, 15), service.worker.snapshot()
        assert service.worker.stats.processed == [late]
        time.sleep(0.5)
        assert service.worker.stats.runs == 1


def test_watch_comicinfo_mode(env: Env) -> None:
    komga = env.komga
    albums = series_albums(env.site, 2)
    with watching(env, write=["comicinfo"]) as service:
        worker = service.worker
        assert wait_for(lambda: worker.checkpoint() is not None, 10)
        paths = env.add_albums(albums)
        book_ids = komga.scan(env.library_id)
        assert wait_for(lambda: len(worker.stats.processed) == 2, 15), worker.snapshot()
        analyzed = [path for method, path, status in komga.requests if method == "POST" and path.endswith("/analyze")]
        assert len(analyzed) == 2
        assert komga.wait_idle(10)
        time.sleep(0.8)
        assert worker.stats.runs == 1 and sorted(worker.stats.processed) == sorted(book_ids)
    assert not [path for method, path, _ in komga.requests if method == "PATCH"]
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert "ComicInfo.xml" in archive.namelist()
    for book_id in book_ids:
        album_id = album_of(env, komga.book(book_id), albums)
        metadata = komga.book(book_id)["metadata"]  # what Komga read from the file we wrote
        assert any(link["url"].endswith(f"-{album_id}.html") for link in metadata["links"]), metadata
        assert metadata["authors"] and metadata["title"] != Path(komga.book(book_id)["url"]).stem


def test_watch_cli_exit_after(env: Env) -> None:
    code, _out, err = env.cli("komga", "watch", "--exit-after", "1.5")
    assert code == 0, err
    assert "following Komga events" in err


def test_watch_process_stops_cleanly_on_sigterm(env: Env) -> None:
    """What systemd does on `systemctl stop`: SIGTERM, and the process ends by itself, exit code 0."""
    import signal
    import subprocess
    import sys

    config = env.config()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), "komga", "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: env.komga.sse_open == 1 or proc.poll() is not None, 15), "watch did not connect"
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
