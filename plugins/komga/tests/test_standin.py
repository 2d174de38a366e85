"""The stand-in Komga behaves like Komga 1.26 where the adapter depends on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from komga_standin.archives import make_cbz
from komga_standin.sse import EventRecorder
from komga_standin.standin import KomgaStandIn

ADMIN = ("admin@example.org", "admin-pass")
READER = ("reader@example.org", "reader-pass")
ISBN = "978-2-8001-2345-5"  # valid check digit
BAD_ISBN = "978-2-8001-2345-4"


@pytest.fixture
def komga():
    with KomgaStandIn(heartbeat_seconds=0.2, task_status_seconds=0.1, analysis_seconds=0.05) as server:
        yield server


@pytest.fixture
def library(tmp_path: Path, komga: KomgaStandIn) -> dict:
    folder = tmp_path / "bd"
    make_cbz(
        folder / "Thorgal" / "Thorgal 01.cbz",
        comicinfo={
            "Title": "La Magicienne trahie",
            "Series": "Thorgal",
            "Number": "1",
            "Writer": "Jean Van Hamme",
            "Penciller": "Rosinski",
            "Tags": "Viking, Magie",
            "Summary": "Un enfant des étoiles.",
            "Year": 1980,
            "Month": 4,
            "Publisher": "Le Lombard",
            "Genre": "Fantasy, Aventure",
            "GTIN": ISBN,
            "LanguageISO": "fr",
            "Count": 42,
        },
    )
    make_cbz(folder / "Thorgal" / "Thorgal 02.cbz")
    make_cbz(folder / "Nains" / "Nains 1.cbz", pages=3)
    library_id = komga.add_library("BD", folder=folder, server_root="/data/bd")
    book_ids = komga.scan(library_id)
    assert komga.wait_idle(10)
    return {"id": library_id, "folder": folder, "books": book_ids}


def api(komga: KomgaStandIn, method: str, path: str, auth=ADMIN, **kwargs) -> requests.Response:
    if isinstance(auth, str):
        kwargs.setdefault("headers", {})["X-API-Key"] = auth
        auth = None
    return requests.request(method, komga.url + path, auth=auth, timeout=10, **kwargs)


def book_list(komga: KomgaStandIn, condition=None, query: str = "", auth=ADMIN) -> dict:
    body = {} if condition is None else {"condition": condition}
    response = api(komga, "POST", f"/api/v1/books/list{query}", auth=auth, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------- auth


def test_missing_credentials_are_401_with_basic_challenge(komga):
    response = requests.get(komga.url + "/api/v2/users/me", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("auth", [("admin@example.org", "wrong"), ("nobody@example.org", "admin-pass"), "wrong-key"])
def test_wrong_credentials_are_401(komga, auth):
    assert api(komga, "GET", "/api/v2/users/me", auth=auth).status_code == 401
    assert api(komga, "GET", "/sse/v1/events", auth=auth).status_code == 401


def test_basic_and_api_key_identify_the_user(komga):
    assert api(komga, "GET", "/api/v2/users/me").json()["email"] == "admin@example.org"
    me = api(komga, "GET", "/api/v2/users/me", auth="reader-key").json()
    assert me["email"] == "reader@example.org"
    assert "ADMIN" not in me["roles"] and "FILE_DOWNLOAD" in me["roles"]


def test_non_admin_cannot_write(komga, library):
    book_id = library["books"][1]
    series_id = komga.book(book_id)["seriesId"]
    for method, path in (
        ("PATCH", f"/api/v1/books/{book_id}/metadata"),
        ("PATCH", f"/api/v1/series/{series_id}/metadata"),
        ("POST", f"/api/v1/books/{book_id}/analyze"),
        ("POST", f"/api/v1/libraries/{library['id']}/scan"),
    ):
        assert api(komga, method, path, auth=READER, json={"title": "x"}).status_code == 403, path
    assert komga.book(book_id)["metadata"]["title"] == "La Magicienne trahie"


def test_url_is_redacted_for_non_admins(komga, library):
    book_id = library["books"][1]
    admin = api(komga, "GET", f"/api/v1/books/{book_id}").json()
    reader = api(komga, "GET", f"/api/v1/books/{book_id}", auth=READER).json()
    assert admin["url"] == "/data/bd/Thorgal/Thorgal 01.cbz"
    assert reader["url"] == "Thorgal 01.cbz"
    assert all("/" not in book["url"] for book in book_list(komga, auth=READER)["content"])
    assert api(komga, "GET", "/api/v1/libraries", auth=READER).json()[0]["root"] == ""


def test_file_download_needs_the_role(komga, library):
    book_id = library["books"][1]
    response = api(komga, "GET", f"/api/v1/books/{book_id}/file", auth=READER)
    assert response.status_code == 200
    assert response.content == (library["folder"] / "Thorgal" / "Thorgal 01.cbz").read_bytes()
    assert "Thorgal%2001.cbz" in response.headers["Content-Disposition"]
    komga.add_user("streamer@example.org", "pw", roles=("PAGE_STREAMING",))
    assert api(komga, "GET", f"/api/v1/books/{book_id}/file", auth=("streamer@example.org", "pw")).status_code == 403


def test_unknown_ids_are_404(komga, library):
    for path in ("/api/v1/books/NOPE", "/api/v1/series/NOPE", "/api/v1/libraries/NOPE", "/api/v1/books/NOPE/file"):
        assert api(komga, "GET", path).status_code == 404, path
    assert api(komga, "PATCH", "/api/v1/books/NOPE/metadata", json={}).status_code == 404


# ---------------------------------------------------------------------- scan, paths, listing


def test_scan_makes_one_series_per_folder_and_maps_paths(komga, library, tmp_path):
    books = [komga.book(book_id) for book_id in library["books"]]
    assert [book["name"] for book in books] == ["Nains 1", "Thorgal 01", "Thorgal 02"]
    assert len({book["seriesId"] for book in books}) == 2
    assert [book["number"] for book in books] == [1, 1, 2]
    thorgal = komga.series(books[1]["seriesId"])
    assert thorgal["url"] == "/data/bd/Thorgal" and thorgal["booksCount"] == 2
    other = komga.add_library("raw", folder=tmp_path / "bd" / "Nains")
    (new_id,) = komga.scan(other)
    assert komga.book(new_id)["url"] == (tmp_path / "bd" / "Nains" / "Nains 1.cbz").resolve().as_posix()
    assert komga.scan(library["id"]) == []  # nothing new


def test_analysis_reads_comicinfo_into_unlocked_fields(komga, library):
    book = komga.book(library["books"][1])
    assert book["media"]["status"] == "READY" and book["media"]["pagesCount"] == 2
    assert book["media"]["mediaType"] == "application/zip"
    metadata = book["metadata"]
    assert metadata["title"] == "La Magicienne trahie"
    assert metadata["summary"] == "Un enfant des étoiles."
    assert metadata["releaseDate"] == "1980-04-01"
    assert metadata["isbn"] == "9782800123455"
    assert {"name": "Jean Van Hamme", "role": "writer"} in metadata["authors"]
    assert {"name": "Rosinski", "role": "penciller"} in metadata["authors"]
    assert metadata["tags"] == ["viking", "magie"]
    series = komga.series(book["seriesId"])["metadata"]
    assert series["publisher"] == "Le Lombard" and series["genres"] == ["fantasy", "aventure"]
    assert series["language"] == "fr" and series["totalBookCount"] == 42
    plain = komga.book(library["books"][2])["metadata"]
    assert plain["title"] == "Thorgal 02" and plain["number"] == "2" and plain["numberSort"] == 2.0


def test_books_list_conditions(komga, library, tmp_path):
    make_cbz(tmp_path / "other" / "S" / "x.cbz")
    other = komga.add_library("other", folder=tmp_path / "other")
    with komga.tasks_paused():
        (other_book,) = komga.scan(other)
        assert komga.task_count() == {"count": 1, "countByType": {"AnalyzeBook": 1}}
        unknown = book_list(komga, {"allOf": [{"mediaStatus": {"operator": "is", "value": "UNKNOWN"}}]})
        assert [book["id"] for book in unknown["content"]] == [other_book]  # not analysed yet
    everything = book_list(komga)
    assert everything["totalElements"] == 4
    only_bd = book_list(komga, {"allOf": [{"libraryId": {"operator": "is", "value": library["id"]}}]})
    assert {book["id"] for book in only_bd["content"]} == set(library["books"])
    not_bd = book_list(komga, {"libraryId": {"operator": "isNot", "value": library["id"]}})
    assert [book["id"] for book in not_bd["content"]] == [other_book]
    series_id = komga.book(library["books"][0])["seriesId"]
    either = book_list(
        komga,
        {
            "anyOf": [
                {"seriesId": {"operator": "is", "value": series_id}},
                {"libraryId": {"operator": "is", "value": other}},
            ]
        },
    )
    assert either["totalElements"] == 2
    assert komga.wait_idle(10)
    ready = book_list(komga, {"mediaStatus": {"operator": "is", "value": "READY"}})
    assert ready["totalElements"] == 4
    assert book_list(komga, {"allOf": []})["totalElements"] == 4


def test_books_list_bad_requests(komga, library):
    assert api(komga, "POST", "/api/v1/books/list").status_code == 400  # the body is required
    assert api(komga, "POST", "/api/v1/books/list", json={"condition": {"frobnicate": {}}}).status_code == 400
    assert (
        api(
            komga,
            "POST",
            "/api/v1/books/list",
            json={"condition": {"mediaStatus": {"operator": "is", "value": "NOPE"}}},
        ).status_code
        == 400
    )


def test_books_list_paging_and_sorting(komga, library):
    first = book_list(komga, query="?page=0&size=2&sort=createdDate,asc")
    assert [book["id"] for book in first["content"]] == library["books"][:2]
    assert first["totalElements"] == 3 and first["totalPages"] == 2 and first["size"] == 2
    assert first["first"] and not first["last"] and first["numberOfElements"] == 2
    assert first["pageable"]["pageNumber"] == 0 and first["pageable"]["offset"] == 0 and first["sort"]["sorted"]
    second = book_list(komga, query="?page=1&size=2&sort=createdDate,asc")
    assert [book["id"] for book in second["content"]] == library["books"][2:]
    assert second["last"] and second["number"] == 1
    newest = book_list(komga, query="?sort=createdDate,desc")
    assert [book["id"] for book in newest["content"]] == library["books"][::-1]
    assert newest["size"] == 20 and not newest["sort"]["unsorted"]
    assert book_list(komga, query="?size=5000")["size"] == 2000
    by_number = book_list(komga, query="?sort=metadata.numberSort,desc&sort=createdDate,asc")
    assert [book["metadata"]["numberSort"] for book in by_number["content"]] == [2.0, 1.0, 1.0]
    unpaged = book_list(komga, query="?unpaged=true&size=1")
    assert len(unpaged["content"]) == 3 and unpaged["totalPages"] == 1 and unpaged["pageable"] == "INSTANCE"
    beyond = book_list(komga, query="?page=7&size=2")
    assert beyond["content"] == [] and beyond["empty"] and beyond["totalElements"] == 3


def test_latest_books_are_the_last_modified_first(komga, library):
    ids = library["books"]
    latest = api(komga, "GET", "/api/v1/books/latest?size=2").json()
    assert latest["totalElements"] == 3 and len(latest["content"]) == 2
    assert api(komga, "PATCH", f"/api/v1/books/{ids[0]}/metadata", json={"summary": "x"}).status_code == 204
    latest = api(komga, "GET", "/api/v1/books/latest").json()
    assert latest["content"][0]["id"] == ids[0]


# ---------------------------------------------------------------------- PATCH


def test_patch_book_omitted_null_and_normalisation(komga, library):
    book_id = library["books"][1]
    before = komga.book(book_id)["metadata"]
    response = api(
        komga,
        "PATCH",
        f"/api/v1/books/{book_id}/metadata",
        json={
            "summary": None,
            "releaseDate": None,
            "tags": ["BD", " Fantasy "],
            "title": None,
            "authors": [{"name": "Jean Van Hamme", "role": "Writer"}, {"name": "Rosinski", "role": "COVER"}],
            "isbn": "978-2-2050-5001-1",
            "numberSort": 1.5,
            "number": "1bis",
            "links": [{"label": "Bédéthèque", "url": "https://www.bedetheque.com/BD-Thorgal-1.html"}],
            "titleLock": True,
        },
    )
    assert response.status_code == 204, response.text
    after = komga.book(book_id)["metadata"]
    assert after["summary"] == "" and after["releaseDate"] is None
    assert after["title"] == before["title"]  # null title = unchanged
    assert after["tags"] == ["bd", "fantasy"]
    assert after["authors"] == [{"name": "Jean Van Hamme", "role": "writer"}, {"name": "Rosinski", "role": "cover"}]
    assert after["isbn"] == "9782205050011"
    assert after["number"] == "1bis" and after["numberSort"] == 1.5
    assert after["links"] == [{"label": "Bédéthèque", "url": "https://www.bedetheque.com/BD-Thorgal-1.html"}]
    assert after["titleLock"] is True and after["summaryLock"] is False
    assert (
        api(
            komga,
            "PATCH",
            f"/api/v1/books/{book_id}/metadata",
            json={"authors": None, "tags": None, "isbn": None, "links": None},
        ).status_code
        == 204
    )
    cleared = komga.book(book_id)["metadata"]
    assert (cleared["authors"], cleared["tags"], cleared["isbn"], cleared["links"]) == ([], [], "", [])
    assert cleared["number"] == "1bis"  # omitted = unchanged


def test_patch_book_validation(komga, library):
    book_id = library["books"][0]
    before = komga.book(book_id)["metadata"]
    for body, field_name in (
        ({"isbn": BAD_ISBN}, "isbn"),
        ({"isbn": "2-8001-2345-3"}, "isbn"),
        ({"title": "  "}, "title"),
        ({"number": ""}, "number"),
        ({"authors": [{"name": "", "role": "writer"}]}, "authors[0].name"),
    ):
        response = api(komga, "PATCH", f"/api/v1/books/{book_id}/metadata", json=body)
        assert response.status_code == 400, body
        assert field_name in [violation["fieldName"] for violation in response.json()["violations"]]
    for body in ({"releaseDate": "01/02/2020"}, {"numberSort": "one"}, {"tags": "bd"}):
        assert api(komga, "PATCH", f"/api/v1/books/{book_id}/metadata", json=body).status_code == 400, body
    assert (
        api(
            komga,
            "PATCH",
            f"/api/v1/books/{book_id}/metadata",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ).status_code
        == 400
    )
    assert komga.book(book_id)["metadata"] == before
    assert api(komga, "PATCH", f"/api/v1/books/{book_id}/metadata", json={"isbn": ""}).status_code == 204


def test_locks_protect_from_refresh_but_not_from_patch(komga, library):
    book_id = library["books"][1]
    komga.lock(book_id, "title")
    assert komga.book(book_id)["metadata"]["titleLock"] is True
    assert (
        api(komga, "PATCH", f"/api/v1/books/{book_id}/metadata", json={"title": "Mine", "summary": "S"}).status_code
        == 204
    )
    assert komga.book(book_id)["metadata"]["title"] == "Mine"  # Komga lets PATCH write a locked field
    assert api(komga, "POST", f"/api/v1/books/{book_id}/analyze").status_code == 202
    assert komga.wait_idle(10)
    after = komga.book(book_id)["metadata"]
    assert after["title"] == "Mine"  # locked: kept
    assert after["summary"] == "Un enfant des étoiles."  # unlocked: back from ComicInfo.xml


def test_patch_series(komga, library):
    series_id = komga.book(library["books"][1])["seriesId"]
    body = {
        "genres": ["Fantasy", "HEROIC fantasy"],
        "tags": ["Viking"],
        "publisher": "Le Lombard",
        "language": "fr-FR",
        "totalBookCount": 38,
        "summary": "La saga.",
        "status": "ENDED",
        "publisherLock": True,
    }
    assert api(komga, "PATCH", f"/api/v1/series/{series_id}/metadata", json=body).status_code == 204
    metadata = api(komga, "GET", f"/api/v1/series/{series_id}").json()["metadata"]
    assert metadata["genres"] == ["fantasy", "heroic fantasy"] and metadata["tags"] == ["viking"]
    assert metadata["publisher"] == "Le Lombard" and metadata["publisherLock"] is True
    assert (metadata["language"], metadata["totalBookCount"], metadata["status"]) == ("fr-FR", 38, "ENDED")
    assert (
        api(
            komga,
            "PATCH",
            f"/api/v1/series/{series_id}/metadata",
            json={"genres": None, "totalBookCount": None, "publisher": None},
        ).status_code
        == 204
    )
    metadata = komga.series(series_id)["metadata"]
    assert metadata["genres"] == [] and metadata["totalBookCount"] is None
    assert metadata["publisher"] == "Le Lombard"  # null publisher = unchanged on series
    for bad in ({"language": "français!"}, {"totalBookCount": 0}, {"ageRating": -1}):
        response = api(komga, "PATCH", f"/api/v1/series/{series_id}/metadata", json=bad)
        assert response.status_code == 400 and response.json()["violations"], bad
    assert api(komga, "PATCH", f"/api/v1/series/{series_id}/metadata", json={"status": "DONE"}).status_code == 400


def test_lock_series_protects_from_refresh(komga, library):
    book_id = library["books"][1]
    series_id = komga.book(book_id)["seriesId"]
    komga.lock_series(series_id, "publisher")
    assert api(komga, "PATCH", f"/api/v1/series/{series_id}/metadata", json={"publisher": "Dargaud"}).status_code == 204
    komga.analyze(book_id)
    assert komga.wait_idle(10)
    assert komga.series(series_id)["metadata"]["publisher"] == "Dargaud"


# ---------------------------------------------------------------------- file changes and analysis


def test_rewritten_file_needs_analyze_for_a_new_comicinfo(komga, library):
    book_id = library["books"][2]  # Thorgal 02: no ComicInfo.xml yet
    path = library["folder"] / "Thorgal" / "Thorgal 02.cbz"
    make_cbz(path, comicinfo={"Title": "L'Île des mers gelées", "Number": "2"})
    assert api(komga, "POST", f"/api/v1/books/{book_id}/metadata/refresh").status_code == 202
    assert komga.wait_idle(10)
    assert komga.book(book_id)["metadata"]["title"] == "Thorgal 02"  # refresh alone misses the new ComicInfo.xml
    assert api(komga, "POST", f"/api/v1/books/{book_id}/analyze").status_code == 202
    assert komga.wait_idle(10)
    assert komga.book(book_id)["metadata"]["title"] == "L'Île des mers gelées"


def test_scan_sees_changed_and_vanished_files(komga, library):
    first, _, second = library["books"]
    path = library["folder"] / "Thorgal" / "Thorgal 02.cbz"
    make_cbz(path, pages=5)
    (library["folder"] / "Nains" / "Nains 1.cbz").unlink()
    assert komga.scan(library["id"]) == []
    assert komga.book(second)["media"]["status"] in ("OUTDATED", "READY")
    assert komga.wait_idle(10)
    assert komga.book(second)["media"]["pagesCount"] == 5
    assert komga.book(first)["deleted"] is True


def test_scan_over_http_is_a_queued_task(komga, tmp_path):
    library_id = komga.add_library("BD", folder=tmp_path)
    make_cbz(tmp_path / "S" / "a.cbz")
    assert api(komga, "POST", f"/api/v1/libraries/{library_id}/scan").status_code == 202
    assert komga.wait_idle(10)
    (book_id,) = komga.book_ids(library_id)
    assert komga.book(book_id)["media"]["status"] == "READY"
    assert api(komga, "POST", "/api/v1/libraries/NOPE/scan").status_code == 404


def test_other_archive_kinds(komga, tmp_path):
    (tmp_path / "S").mkdir()
    (tmp_path / "S" / "a.cbr").write_bytes(b"Rar!\x1a\x07\x00" + b"\0" * 32)
    (tmp_path / "S" / "b.cb7").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\0" * 32)
    (tmp_path / "S" / "c.cbz").write_bytes(b"not a zip")
    (tmp_path / "S" / "notes.txt").write_text("ignored")
    library_id = komga.add_library("BD", folder=tmp_path)
    ids = komga.scan(library_id)
    assert komga.wait_idle(10)
    statuses = [komga.book(book_id)["media"]["status"] for book_id in ids]
    assert statuses == ["READY", "UNSUPPORTED", "UNSUPPORTED"]


def test_requests_are_logged_before_the_answer(komga, library):
    api(komga, "GET", "/api/v1/books/latest?size=1")
    api(komga, "GET", "/api/v2/users/me", auth=None)
    assert komga.requests[-2:] == [("GET", "/api/v1/books/latest?size=1", 200), ("GET", "/api/v2/users/me", 401)]


# ---------------------------------------------------------------------- events


def test_event_stream_framing_heartbeat_and_scan_events(komga, tmp_path):
    library_id = komga.add_library("BD", folder=tmp_path)
    make_cbz(tmp_path / "Série" / "1.cbz", comicinfo={"Title": "Un"})
    make_cbz(tmp_path / "Série" / "2.cbz")
    with EventRecorder(komga.url, auth=ADMIN) as events:
        assert events.status == 200 and events.content_type.startswith("text/event-stream")
        events.wait_for(lambda frame: frame.comment == "heartbeat", timeout=5)
        with komga.tasks_paused():
            ids = komga.scan(library_id)
            (series_added,) = events.wait_for(lambda frame: frame.event == "SeriesAdded")
            series_id = komga.book(ids[0])["seriesId"]
            assert series_added.data == {"seriesId": series_id, "libraryId": library_id}
            added = events.wait_for(lambda frame: frame.event == "BookAdded", count=2)
            assert [frame.data for frame in added] == [
                {"bookId": book_id, "seriesId": series_id, "libraryId": library_id} for book_id in ids
            ]
            assert min(frame.at for frame in added) >= series_added.at
            busy = events.wait_for(
                lambda frame: frame.event == "TaskQueueStatus" and frame.data["count"] > 0, timeout=5
            )
            assert busy[0].data == {"count": 2, "countByType": {"AnalyzeBook": 2}}
            assert not events.events("BookChanged")  # BookAdded comes before any analysis
        changed = events.wait_for(
            lambda frame: frame.event == "BookChanged" and frame.data["bookId"] == ids[0], count=2
        )
        assert komga.wait_idle(10)
        events.wait_for(
            lambda frame: frame.event == "TaskQueueStatus" and frame.data["count"] == 0 and frame.at > changed[-1].at,
            timeout=5,
        )
        assert komga.book(ids[0])["metadata"]["title"] == "Un"


def test_patch_emits_book_changed(komga, library):
    book_id = library["books"][0]
    with EventRecorder(komga.url, headers={"X-API-Key": "admin-key"}) as events:
        assert api(komga, "PATCH", f"/api/v1/books/{book_id}/metadata", json={"summary": "x"}).status_code == 204
        events.wait_for(lambda frame: frame.event == "BookChanged" and frame.data["bookId"] == book_id)
        series_id = komga.book(book_id)["seriesId"]
        assert api(komga, "PATCH", f"/api/v1/series/{series_id}/metadata", json={"summary": "y"}).status_code == 204
        events.wait_for(lambda frame: frame.event == "SeriesChanged" and frame.data["seriesId"] == series_id)


def test_non_admins_get_no_task_status(komga, library):
    with EventRecorder(komga.url, auth=READER) as reader, EventRecorder(komga.url, auth=ADMIN) as admin:
        admin.wait_for(lambda frame: frame.event == "TaskQueueStatus", count=3, timeout=5)
        komga.emit("BookChanged", {"bookId": "b", "seriesId": "s", "libraryId": "l"})
        reader.wait_for(lambda frame: frame.event == "BookChanged")
        assert reader.events("TaskQueueStatus") == []
        assert reader.comments()


def test_disconnect_sse_ends_streams_and_counts_connections(komga):
    assert komga.sse_connections == 0
    with EventRecorder(komga.url, auth=ADMIN) as first:
        komga.emit("Custom", {"n": 1})
        assert first.wait_for(lambda frame: frame.event == "Custom")[0].data == {"n": 1}
        komga.disconnect_sse()
        assert first.ended.wait(3)
    with EventRecorder(komga.url, auth=ADMIN) as second:
        assert komga.sse_connections == 2
        komga.disconnect_sse(clean=True)
        assert second.ended.wait(3)
        assert second.error is None  # a clean end, like Komga's emitter timeout
    assert [entry for entry in komga.requests if entry[1] == "/sse/v1/events"] == [("GET", "/sse/v1/events", 200)] * 2


def test_streams_expire_cleanly_like_komga_emitters(komga):
    komga.sse_timeout_seconds = 0.3
    with EventRecorder(komga.url, auth=ADMIN) as events:
        assert events.ended.wait(3)
        assert events.error is None
    assert komga.sse_open == 0


def test_unknown_event_kinds_are_part_of_the_stream(komga, tmp_path):
    """Komga sends more than the adapter needs (LibraryAdded, ThumbnailBookAdded…): clients must skip them."""
    with EventRecorder(komga.url, auth=ADMIN) as events:
        library_id = komga.add_library("BD", folder=tmp_path)
        make_cbz(tmp_path / "S" / "a.cbz")
        (book_id,) = komga.scan(library_id)
        events.wait_for(lambda frame: frame.event == "LibraryAdded" and frame.data == {"libraryId": library_id})
        events.wait_for(lambda frame: frame.event == "ThumbnailBookAdded" and frame.data["bookId"] == book_id)


def test_stop_ends_open_streams(tmp_path):
    komga = KomgaStandIn(heartbeat_seconds=5).start()
    with EventRecorder(komga.url, auth=ADMIN) as events:
        komga.stop()
        assert events.ended.wait(3)
