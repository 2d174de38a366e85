"""``komga sync`` against the stand-in Komga and the fake Bédéthèque; the error messages users see."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import SERVER_ROOT, Env, series_albums

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def scanned(env: Env) -> tuple[list[str], list[Path], list[tuple[int, str, str]]]:
    albums = series_albums(env.site, 3)
    paths = env.add_albums(albums)
    book_ids = env.komga.scan(env.library_id)
    assert env.komga.wait_idle(10)
    return book_ids, paths, albums


def writes(komga: Any) -> list[tuple[str, str, int]]:
    return [
        request for request in komga.requests if request[0] in ("PATCH", "POST") and "/books/list" not in request[1]
    ]


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


BOTH_BACKENDS = pytest.mark.parametrize("env", ["sqlite", "postgresql"], indirect=True)


@BOTH_BACKENDS
def test_sync_api_writes_book_and_series_metadata(env: Env, scanned) -> None:
    book_ids, paths, albums = scanned
    before = [path.read_bytes() for path in paths]
    code, out, err = env.cli("komga", "sync", "--library", env.library_id)
    assert code == 0, out + err
    komga = env.komga
    for book_id, (album_id, _series, tome) in zip(book_ids, albums, strict=False):
        metadata = komga.book(book_id)["metadata"]
        assert metadata["links"] == [{"label": "Bédéthèque", "url": metadata["links"][0]["url"]}]
        assert metadata["links"][0]["url"].endswith(f"-{album_id}.html")
        assert metadata["number"] == str(int(tome)) and metadata["numberSort"] == float(int(tome))
        assert metadata["title"] and metadata["releaseDate"]  # a summary only when read from the album's page
        assert {author["role"] for author in metadata["authors"]} <= {
            "writer",
            "penciller",
            "inker",
            "colorist",
            "letterer",
            "cover",
            "editor",
            "translator",
        }
        assert len(metadata["isbn"]) == 13
    series = komga.series(komga.book(book_ids[0])["seriesId"])["metadata"]
    assert series["publisher"] and series["language"] == "fr" and series["genres"]
    assert series["totalBookCount"] and series["summary"]
    # API mode leaves the files alone
    assert [path.read_bytes() for path in paths] == before
    # a second sync finds nothing to do
    komga.clear_requests()
    code, out, err = env.cli("komga", "sync", "--json")
    assert code == 0 and '"skipped": 3' in out, out
    assert not [request for request in writes(komga) if request[0] == "PATCH"]


def test_sync_dry_run_writes_nothing(env: Env, scanned) -> None:
    book_ids, paths, _ = scanned
    komga = env.komga
    before = {book_id: komga.book(book_id) for book_id in book_ids}
    files = [path.read_bytes() for path in paths]
    komga.clear_requests()
    code, out, err = env.cli("komga", "sync", "--series", komga.book(book_ids[0])["seriesId"], "--dry-run")
    assert code == 0, err
    assert "would change" in out
    assert writes(komga) == []
    assert {book_id: komga.book(book_id) for book_id in book_ids} == before
    assert [path.read_bytes() for path in paths] == files


def test_locked_fields_are_left_alone_unless_forced(env: Env, scanned) -> None:
    book_ids, _, _ = scanned
    komga = env.komga
    series_id = komga.book(book_ids[0])["seriesId"]
    komga.lock(book_ids[0], "title")
    komga.lock_series(series_id, "publisher")
    title = komga.book(book_ids[0])["metadata"]["title"]
    publisher = komga.series(series_id)["metadata"]["publisher"]
    code, out, err = env.cli("komga", "sync", "--book", book_ids[0])
    assert code == 0, err
    metadata = komga.book(book_ids[0])["metadata"]
    assert metadata["title"] == title and metadata["titleLock"] is True
    assert metadata["links"] and metadata["authors"]  # the rest was written
    assert komga.series(series_id)["metadata"]["publisher"] == publisher

    code, _out, err = env.cli("komga", "sync", "--book", book_ids[0], "--force")
    assert code == 0, err
    assert komga.book(book_ids[0])["metadata"]["title"] != title
    assert komga.series(series_id)["metadata"]["publisher"] != publisher


def test_lock_written(env: Env, scanned) -> None:
    book_ids, _, _ = scanned
    code, _out, err = env.cli("komga", "sync", "--book", book_ids[1], lock_written=True)
    assert code == 0, err
    metadata = env.komga.book(book_ids[1])["metadata"]
    assert metadata["titleLock"] and metadata["authorsLock"] and metadata["linksLock"] and metadata["isbnLock"]
    assert env.komga.series(env.komga.book(book_ids[1])["seriesId"])["metadata"]["publisherLock"]


def test_sync_comicinfo_mode_writes_the_file_and_asks_for_analysis(env: Env, scanned) -> None:
    book_ids, paths, albums = scanned
    komga = env.komga
    code, _out, err = env.cli("komga", "sync", write="comicinfo")
    assert code == 0, err
    assert sorted(path for method, path, _ in writes(komga) if path.endswith("/analyze")) == sorted(
        f"/api/v1/books/{book_id}/analyze" for book_id in book_ids
    )
    assert not [request for request in writes(komga) if request[0] == "PATCH"]
    assert komga.wait_idle(10)
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert "ComicInfo.xml" in archive.namelist()
    for book_id, (album_id, _, _) in zip(book_ids, albums, strict=False):
        metadata = komga.book(book_id)["metadata"]
        assert any(link["url"].endswith(f"-{album_id}.html") for link in metadata["links"]), metadata


def test_sync_both_modes(env: Env, scanned) -> None:
    book_ids, paths, _ = scanned
    code, _out, err = env.cli("komga", "sync", "--book", book_ids[0], write=["api", "comicinfo"])
    assert code == 0, err
    methods = {(method, path.rsplit("/", 1)[-1]) for method, path, _ in writes(env.komga)}
    assert ("POST", "analyze") in methods and ("PATCH", "metadata") in methods
    with zipfile.ZipFile(paths[0]) as archive:
        assert "ComicInfo.xml" in archive.namelist()


def test_both_modes_final_state_is_ours(env: Env, scanned) -> None:
    """``write: [api, comicinfo]``: Komga's re-import of the file (after the analysis we ask for) must not
    undo the PATCH: the link stays labelled "Bédéthèque", whatever the order the tasks run in."""
    book_ids, paths, albums = scanned
    komga = env.komga
    code, _out, err = env.cli("komga", "sync", write=["api", "comicinfo"])
    assert code == 0, err
    assert komga.wait_idle(10)
    for book_id, (album_id, _, _) in zip(book_ids, albums, strict=True):
        links = komga.book(book_id)["metadata"]["links"]
        assert links == [{"label": "Bédéthèque", "url": links[0]["url"]}], links
        assert links[0]["url"].endswith(f"-{album_id}.html")
    # the analysis was asked for before the PATCH, and the PATCH came once the re-import had landed
    book_requests = [(method, path) for method, path, _ in komga.requests if book_ids[0] in path]
    analyse = book_requests.index(("POST", f"/api/v1/books/{book_ids[0]}/analyze"))
    patch = book_requests.index(("PATCH", f"/api/v1/books/{book_ids[0]}/metadata"))
    assert analyse < patch
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert "ComicInfo.xml" in archive.namelist()


def test_dry_run_compares_with_komga_not_the_file(env: Env, scanned) -> None:
    """After a sync (api only: the file has no ComicInfo), a dry run finds nothing to change in Komga,
    except a locked field, shown as kept; the names are Komga's fields, not ComicInfo's."""
    import sqlite3

    book_ids, _paths, _ = scanned
    komga = env.komga
    code, _out, err = env.cli("komga", "sync", "--book", book_ids[0])
    assert code == 0, err

    def forget_processed() -> None:  # so that the dry run matches the book again without --force
        with sqlite3.connect(env.db_path) as connection:
            connection.execute("DELETE FROM processed_files")

    forget_processed()
    komga.lock(book_ids[0], "title")
    with komga._lock:
        komga._books[book_ids[0]].metadata["title"] = "Titre choisi par moi"
    komga.clear_requests()
    code, out, err = env.cli("komga", "sync", "--book", book_ids[0], "--dry-run")
    assert code == 0, out + err
    assert "title: kept 'Titre choisi par moi' (locked in Komga" in out, out
    for comicinfo_name in ("Notes", "Pages", "Web", "Writer", "Summary"):
        assert f"{comicinfo_name}:" not in out, out
    assert writes(komga) == []
    code, out, err = env.cli("komga", "sync", "--book", book_ids[0], "--dry-run", "--json")
    [preview] = json.loads(out)["komga_changes"]
    assert preview["changes"] == {} and preview["locked_kept"] == {"komga.title": "Titre choisi par moi"}
    # a field changed in Komga since is listed under its Komga name
    with komga._lock:
        komga._books[book_ids[0]].metadata["summary"] = "autre"
    code, out, err = env.cli("komga", "sync", "--book", book_ids[0], "--dry-run", "--json")
    [preview] = json.loads(out)["komga_changes"]
    assert list(preview["changes"]) == ["komga.summary"] and preview["changes"]["komga.summary"][0] == "autre"
    assert writes(komga) == []


def test_sync_batch_option_and_configuration_exit_code(env: Env, scanned) -> None:
    book_ids, _, _ = scanned
    code, out, err = env.cli("komga", "sync", "--book", book_ids[0], "--batch")
    assert code == 0, out + err
    code, out, err = env.cli("komga", "sync", "--book", book_ids[1], "--interactive", "--dry-run")
    assert code == 0, out + err
    env.komga_section.pop("url")
    code, _, err = env.cli("komga", "sync")
    assert code == 2, err
    one_line_error(code, err, "no Komga server configured", "komga.url")
    code, _, err = env.cli("komga", "sync", url="ftp://komga")
    assert code == 2, err


def test_sync_downloads_when_there_is_no_local_file(env: Env, scanned) -> None:
    book_ids, paths, albums = scanned
    before = [path.read_bytes() for path in paths]
    code, _out, err = env.cli("komga", "sync", "--book", book_ids[0], path_map=[])
    assert code == 0, err
    assert ("GET", f"/api/v1/books/{book_ids[0]}/file", 200) in env.komga.requests
    assert env.komga.book(book_ids[0])["metadata"]["links"][0]["url"].endswith(f"-{albums[0][0]}.html")
    assert [path.read_bytes() for path in paths] == before


def test_tag_with_the_komga_source_leaves_no_downloads_behind(env: Env, scanned, tmp_path, monkeypatch) -> None:
    """``bdnex-core tag --source komga`` without a local file downloads each book into a temporary
    folder; the folder goes when the session ends (a resume downloads again)."""
    import tempfile

    book_ids, _, albums = scanned
    temporary = tmp_path / "system-tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    code, out, err = env.cli("tag", "--source", "komga", "--batch", f"library:{env.library_id}", path_map=[])
    assert code == 0, out + err
    assert ("GET", f"/api/v1/books/{book_ids[0]}/file", 200) in env.komga.requests
    assert env.komga.book(book_ids[0])["metadata"]["links"][0]["url"].endswith(f"-{albums[0][0]}.html")
    assert [path.name for path in temporary.iterdir() if path.name.startswith("bdnex-komga-")] == []


def test_secrets_stay_out_of_the_database(env: Env, scanned) -> None:
    code, _, err = env.cli("komga", "sync", "--book", scanned[0][0])
    assert code == 0, err
    for found in env.tmp_path.glob("bdnex.db*"):  # the database, its -wal, and its backups' folder
        for path in found.rglob("*") if found.is_dir() else [found]:
            assert b"admin-key" not in path.read_bytes(), path


# ---------------------------------------------------------------------- clear messages


def test_wrong_credentials(env: Env) -> None:
    code, _, err = env.cli("komga", "sync", api_key="not-the-key")
    one_line_error(code, err, "refused the credentials", "wrong API key")
    code, _, err = env.cli("komga", "check", api_key=None, email="admin@example.org", password="wrong")
    one_line_error(code, err, "refused the credentials", "admin@example.org")


def test_non_admin_user(env: Env) -> None:
    code, _, err = env.cli("komga", "sync", api_key="reader-key")
    one_line_error(code, err, "reader@example.org is not an administrator")
    code, _, err = env.cli("komga", "watch", "--exit-after", "1", api_key="reader-key")
    one_line_error(code, err, "not an administrator")


def test_unreachable_server(env: Env) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = env.cli("komga", "sync", url=f"http://127.0.0.1:{port}")
    one_line_error(code, err, f"cannot reach Komga at http://127.0.0.1:{port}")


def test_missing_configuration(env: Env) -> None:
    code, _, err = env.cli("komga", "sync", api_key=None)
    one_line_error(code, err, "no Komga credentials")
    code, _, err = env.cli("komga", "sync", write="both")
    one_line_error(code, err, "komga.write")


def test_bad_path_mapping(env: Env, scanned) -> None:
    _book_ids, _, _ = scanned
    wrong = env.tmp_path / "not-here"
    code, _, err = env.cli("komga", "sync", path_map=[{"komga": "/data/bd", "local": str(wrong)}])
    one_line_error(code, err, "Komga book", "/data/bd/", str(wrong), "komga.path_map")
    # no mapping at all and ComicInfo writing: the file is needed, the message says so
    code, _, err = env.cli("komga", "sync", path_map=[], write="comicinfo")
    one_line_error(code, err, "Komga book", "/data/bd/", "komga.path_map")


def test_check_command(env: Env) -> None:
    code, out, err = env.cli("komga", "check")
    assert code == 0, err
    assert "admin@example.org" in out and "BD" in out


def test_resume_collects_the_same_items(env: Env, scanned) -> None:
    from bdnex_core.pipeline.runner import collect_items

    book_ids, paths, _ = scanned
    items = collect_items(env.settings(), "komga", [f"library:{env.library_id}"])
    assert sorted(item.key for item in items) == sorted(f"komga:{book_id}" for book_id in book_ids)
    assert sorted(item.path for item in items) == sorted(paths)
    assert all(item.write_back.comicinfo is False for item in items)


def test_isbn_sent_to_komga_is_13_digits(env: Env, scanned) -> None:
    """ISBN-10 converted, an invalid one left out (Komga would refuse the whole PATCH)."""
    from bdnex_core.comicinfo import ComicInfo
    from bdnex_core.library import LibraryItem, WriteBack
    from bdnex_komga.writeback import KomgaWriter

    book_ids, paths, _ = scanned
    settings = env.settings()
    writer = KomgaWriter()
    item = LibraryItem("komga", paths[0].name, paths[0], external_id=book_ids[0], write_back=WriteBack(comicinfo=False))
    assert writer.can_write(item, settings)
    result = writer.write(item, ComicInfo({"Title": "Un titre", "GTIN": "2-302-04644-7"}), settings)
    assert env.komga.book(book_ids[0])["metadata"]["isbn"] == "9782302046443"
    assert result.changes["komga.isbn"] == ("", "9782302046443")
    result = writer.write(item, ComicInfo({"Title": "Autre titre", "GTIN": "2-302-04644-4"}), settings)
    metadata = env.komga.book(book_ids[0])["metadata"]
    assert metadata["title"] == "Autre titre" and metadata["isbn"] == "9782302046443"
    assert "komga.isbn" not in result.changes


@BOTH_BACKENDS
def test_interrupted_sync_resumes_with_the_core(env: Env, scanned) -> None:
    """A komga session left with pending books is finished by ``bdnex-core tag --resume``."""
    from bdnex_core.db import BDneXDB
    from bdnex_core.pipeline import TagOptions
    from bdnex_core.pipeline.runner import collect_items

    book_ids, _, albums = scanned
    settings = env.settings()
    options = TagOptions(workers=1, source="komga", locations=(f"library:{env.library_id}",))
    items = collect_items(settings, "komga", options.locations)
    with BDneXDB(settings=settings) as db:
        session_id = db.sessions.start(
            ", ".join(options.locations),
            batch_mode=True,
            strict_mode=False,
            num_workers=1,
            options=options.to_dict(),
            source="komga",
        )
        db.sessions.add_files(session_id, [(str(item.path), item.key, "pending") for item in items])
        db.sessions.update(session_id, status="paused")
    code, out, err = env.cli("tag", "--resume", str(session_id))
    assert code == 0, out + err
    for book_id, (album_id, _, _) in zip(book_ids, albums, strict=False):
        assert env.komga.book(book_id)["metadata"]["links"][0]["url"].endswith(f"-{album_id}.html")


def test_a_book_whose_file_cannot_be_reached_fails_alone(env: Env) -> None:
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    albums = series_albums(env.site, 4)
    env.add_albums(albums[:3])
    album_id, series, tome = albums[3]
    write_cbz(env.library_folder / "Ailleurs" / f"{series} T{int(tome):02d}.cbz", sample_pages(series, 3, album_id))
    env.komga.scan(env.library_id)
    assert env.komga.wait_idle(10)
    wrong = env.tmp_path / "not-here"
    code, out, err = env.cli(
        "komga",
        "sync",
        "--json",
        path_map=[
            {"komga": SERVER_ROOT, "local": str(env.library_folder)},
            {"komga": f"{SERVER_ROOT}/Ailleurs", "local": str(wrong)},
        ],
    )
    summary = json.loads(out)
    assert code == 1, err  # some file failed; the others were tagged
    assert summary["counts"]["tagged"] == 3 and summary["counts"]["failed"] == 1
    [failure] = summary["failures"]
    assert f"{SERVER_ROOT}/Ailleurs/" in failure["reason"] and str(wrong) in failure["reason"]


def posters(env: Env, series_id: str) -> list[dict[str, Any]]:
    return env.komga.series_thumbnails(series_id)


def poster_uploads(env: Env, series_id: str = "") -> list[str]:
    return [
        path
        for method, path, _ in env.komga.requests
        if method == "POST" and path.split("?")[0].endswith("/thumbnails") and series_id in path
    ]


def test_series_poster_uploaded_once_and_a_chosen_one_kept(env: Env, scanned) -> None:
    """Tome 1's Bédéthèque cover becomes the poster of a series that has none; a second sync uploads
    nothing; a poster the user selected is never replaced."""
    from bdnex_core.demo.samplelib import page_jpeg

    book_ids, _paths, albums = scanned
    komga = env.komga
    series_id = komga.book(book_ids[0])["seriesId"]
    code, out, err = env.cli("komga", "sync")
    assert code == 0, out + err
    [poster] = posters(env, series_id)
    assert poster["type"] == "USER_UPLOADED" and poster["selected"]
    expected = env.site.cover(albums[0][0])
    assert poster["data"] == expected  # the cover of tome 1 (album 245127), as the site serves it
    assert len(poster_uploads(env, series_id)) == 1
    assert (env.tmp_path / "cache").exists() and any((env.tmp_path / "cache").rglob(f"{albums[0][0]}.jpg"))
    # again, forced: the poster is there (ours), nothing uploaded
    code, out, err = env.cli("komga", "sync", "--force")
    assert code == 0, out + err
    assert len(poster_uploads(env, series_id)) == 1 and len(posters(env, series_id)) == 1

    # the user chooses another poster in Komga: kept through a forced sync
    mine = page_jpeg("mon affiche", size=(90, 120), seed=7)
    response = requests.post(
        f"{komga.url}/api/v1/series/{series_id}/thumbnails",
        files={"file": ("mine.jpg", mine, "image/jpeg")},
        headers={"X-API-Key": "admin-key"},
        timeout=10,
    )
    assert response.status_code == 200
    komga.clear_requests()
    code, out, err = env.cli("komga", "sync", "--force")
    assert code == 0, out + err
    assert poster_uploads(env, series_id) == []
    selected = [thumbnail for thumbnail in posters(env, series_id) if thumbnail["selected"]]
    assert [thumbnail["data"] for thumbnail in selected] == [mine]


def test_series_poster_can_be_switched_off(env: Env, scanned) -> None:
    book_ids, _, _ = scanned
    code, out, err = env.cli("komga", "sync", series_thumbnails=False)
    assert code == 0, out + err
    assert posters(env, env.komga.book(book_ids[0])["seriesId"]) == [] and poster_uploads(env) == []


def test_a_book_accepted_in_review_is_written_as_komga_write_says(env: Env) -> None:
    # with write: [api], the library file is Komga's: a choice made later in `review` goes
    # through the API too, never into the file (the review rebuilds the item without its hints)
    from bdnex_core.app.review import ReviewError, ReviewService
    from bdnex_core.db import BDneXDB
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    album_id, series, tome = series_albums(env.site, 1)[0]
    path = write_cbz(
        env.library_folder / series / f"{series} T{int(tome):02d} - Un titre sans aucun rapport.cbz",
        sample_pages(series, 3, album_id),
    )
    (book_id,) = env.komga.scan(env.library_id)
    assert env.komga.wait_idle(10)
    code, out, err = env.cli("komga", "sync", "--batch", "--library", env.library_id)
    assert code == 0 and "waiting for review" in out, out + err
    before = path.read_bytes()
    with BDneXDB(settings=env.settings()) as db:
        service = ReviewService(env.settings(), db)
        (entry,) = service.entries()
        service.accept(entry, album_id)
        with pytest.raises(ReviewError, match="through komga"):  # `u` would rewrite Komga's file
            service.undo()
    assert path.read_bytes() == before  # the file is left to Komga
    links = env.komga.book(book_id)["metadata"]["links"]
    assert links and links[0]["url"].endswith(f"-{album_id}.html")  # written through the API
