"""Komga series metadata comes from the series page, and its publisher is chosen once.

The fake Bédéthèque gives the albums of one series different publishers (as reprints by other
houses do): a series PATCHed with each book's own publisher took them in turn. Here the library
holds albums whose own publishers differ from the series' chosen one (its tome 1's, a tome the
library does not even have), then `sync`, `sync --force` and a book arriving by `watch` or `serve`
must all leave it as chosen; the summary, status, genres and tome count are the series page's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import Env, add_album, running_service, wait_for

pytestmark = pytest.mark.timeout(90)


def own_publisher(site: Any, album_id: int) -> str:
    from bdnex_core.bedetheque.parse import parse_album_page

    page = site.album_page(album_id)
    return str(parse_album_page(page, f"https://www.bedetheque.com/BD-x-{album_id}.html").publisher)


def series_with_other_publishers(site: Any) -> tuple[str, str, list[tuple[int, str, str]]]:
    """(series slug, tome 1's publisher, two other tomes each published by another house than tome 1)."""
    from bdnex_core.demo.fakesite import human

    for slug, entries in sorted(site.catalogue.series.items()):
        regular = {e.tome: e for e in entries if e.tome_kind == "regular" and (e.tome or "").isdigit()}
        if "1" not in regular or len(regular) < 3:
            continue
        first = own_publisher(site, regular["1"].album_id)
        others = [e for tome, e in sorted(regular.items()) if tome != "1"]
        chosen: list[Any] = []
        for entry in others:
            publisher = own_publisher(site, entry.album_id)
            if publisher != first and all(own_publisher(site, e.album_id) != publisher for e in chosen):
                chosen.append(entry)
            if len(chosen) == 2:
                return slug, first, [(e.album_id, human(slug), str(e.tome)) for e in chosen]
    raise AssertionError("the fake catalogue has no series whose tomes have three publishers")


def series_patches(komga: Any, series_id: str) -> list[tuple[str, str, int]]:
    return [request for request in komga.requests if request[:2] == ("PATCH", f"/api/v1/series/{series_id}/metadata")]


def record_of(env: Env, album_id: int) -> dict[str, Any]:
    from bdnex_core.api import series_of_album

    record = series_of_album(env.settings(), album_id)
    assert record is not None, "the series page was not read"
    return record


@pytest.mark.parametrize("env", ["sqlite", "postgresql"], indirect=True)
def test_series_fields_come_from_the_series_page_and_its_publisher_stays(env: Env) -> None:
    komga = env.komga
    _slug, first_publisher, (early, later) = series_with_other_publishers(env.site)
    add_album(env.library_folder, early)
    (book_id,) = komga.scan(env.library_id)
    assert komga.wait_idle(10)
    series_id = komga.book(book_id)["seriesId"]

    code, out, err = env.cli("komga", "sync", "--library", env.library_id)
    assert code == 0, out + err
    record = record_of(env, early[0])
    metadata = komga.series(series_id)["metadata"]
    # the series' own facts: its summary (never the album's), status, genres, tome count, and the
    # publisher of its tome 1, although the only book here has another publisher
    assert record["publisher"] == first_publisher != own_publisher(env.site, early[0])
    assert metadata["publisher"] == first_publisher
    assert metadata["summary"] == record["summary"] and metadata["summary"]
    assert metadata["summary"] != (komga.book(book_id)["metadata"]["summary"] or None)
    assert metadata["status"] == {"ended": "ENDED", "ongoing": "ONGOING"}[record["normal_status"]]
    assert metadata["genres"] == sorted(genre.lower() for genre in record["genres"]) and metadata["genres"]
    assert metadata["totalBookCount"] == record["tome_count"] >= int(early[2])

    komga.clear_requests()
    code, out, err = env.cli("komga", "sync", "--json")
    assert code == 0, out + err
    assert not [request for request in komga.requests if request[0] == "PATCH"], "a second sync changed nothing"

    code, out, err = env.cli("komga", "sync", "--library", env.library_id, "--force")
    assert code == 0, out + err
    assert not series_patches(komga, series_id), "sync --force PATCHed a series that was right"
    assert komga.series(series_id)["metadata"]["publisher"] == first_publisher

    # a book of another publisher arrives through the watcher
    komga.clear_requests()
    with running_service(env, events=True) as service:
        worker = service.worker
        assert wait_for(lambda: worker.stats.connections == 1 and worker.checkpoint() is not None, 10)
        add_album(env.library_folder, later)
        added = komga.scan(env.library_id)  # the new book only
        assert wait_for(lambda: set(added) <= set(worker.stats.processed), 30), worker.snapshot()
    assert komga.book(added[0])["seriesId"] == series_id
    assert own_publisher(env.site, later[0]) != first_publisher
    assert komga.series(series_id)["metadata"]["publisher"] == first_publisher
    assert not series_patches(komga, series_id), "the series was right: nothing to PATCH"


def test_a_book_arriving_by_serve_leaves_the_publisher_as_chosen(env: Env) -> None:
    komga = env.komga
    _slug, first_publisher, (early, later) = series_with_other_publishers(env.site)
    add_album(env.library_folder, early)
    (book_id,) = komga.scan(env.library_id)
    assert komga.wait_idle(10)
    code, out, err = env.cli("komga", "sync", "--library", env.library_id)
    assert code == 0, out + err
    series_id = komga.book(book_id)["seriesId"]
    assert komga.series(series_id)["metadata"]["publisher"] == first_publisher
    komga.clear_requests()

    token = "s3cret-t0ken"
    with running_service(
        env, events=False, listen=("127.0.0.1", 0), webhook_token=token, idle_timeout_seconds=0.3
    ) as service:
        add_album(env.library_folder, later)
        (added,) = komga.scan(env.library_id)
        assert komga.wait_idle(10)
        book = komga.book(added)
        response = requests.post(
            f"{service.webhook.url}/hooks/komga",
            json={"event": "BookAdded", "bookId": added, "seriesId": book["seriesId"], "libraryId": book["libraryId"]},
            headers={"X-Bdnex-Token": token},
            timeout=5,
        )
        assert response.status_code == 202
        assert wait_for(lambda: added in service.worker.stats.processed, 30), service.worker.snapshot()
    assert Path(komga.book(added)["url"]).name.startswith(later[1])
    assert komga.series(series_id)["metadata"]["publisher"] == first_publisher
    assert not series_patches(komga, series_id), "the series was right: nothing to PATCH"
