"""The web page's actions over HTTP (no browser), on a sample library tagged against the fake site, on
SQLite and on PostgreSQL: an album that is not a listed candidate is written only once confirmed,
search, undo, the sessions' filters, the library page, covers by id, and restoring an earlier
ComicInfo.xml from the file page."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from bdnex_core.cli import main
from bdnex_core.demo.fakesite import human
from bdnex_core.web.app import create_app
from bdnex_testing import review as review_env
from bdnex_testing import web as web_env
from bdnex_testing.review import comicinfo_bytes, comicinfo_of

site = review_env.site  # fixture: the fake site (per module)


@pytest.fixture
def library(site, tmp_path, database_location):
    """The sample library of :func:`bdnex_testing.web.web_library`, on each backend."""
    lib = web_env.web_library(site, tmp_path, database_location)
    yield lib
    lib.db.close()


@pytest.fixture
def web(library):
    with TestClient(create_app(library.settings), base_url="http://127.0.0.1:8080", follow_redirects=False) as client:
        yield client


def csrf_of(web):
    return re.search(r'name="csrf" value="([^"]+)"', web.get("/review").text).group(1)


def pending(web):
    return web.app.state.web.service.entries("waiting")


def test_an_album_that_is_not_a_candidate_is_written_only_once_confirmed(web, library):
    entry = pending(web)[0]
    listed = {int(c["album_id"]) for c in entry.candidates}
    other = next(e for e in library.entries if e.album_id not in listed)
    before = comicinfo_bytes(entry.file_path)
    csrf = csrf_of(web)
    answer = web.post(f"/review/{entry.id}/accept", data={"album_id": other.album_id, "csrf": csrf})
    assert (
        answer.status_code == 303 and answer.headers["location"] == f"/review/{entry.id}/preview?album={other.album_id}"
    )
    assert comicinfo_bytes(entry.file_path) == before
    preview = web.get(answer.headers["location"])
    assert preview.status_code == 200 and f'data-album="{other.album_id}"' in preview.text
    assert 'name="confirmed" value="1"' in preview.text and "Nothing is written until you confirm" in preview.text
    assert comicinfo_bytes(entry.file_path) == before
    data = {"album_id": other.album_id, "csrf": csrf, "confirmed": "1"}
    assert web.post(f"/review/{entry.id}/accept", data=data).status_code == 303
    assert comicinfo_of(entry.file_path).get("Number") == other.tome
    assert entry.id not in {e.id for e in pending(web)}


def test_a_wrong_id_or_url_says_so(web):
    entry = pending(web)[0]
    answer = web.get(f"/review/{entry.id}/preview?album=lanfeust", follow_redirects=True)
    assert "neither an album id" in answer.text
    assert web.get("/review/987654").status_code == 404


def test_search_comes_first_scored_against_the_file(web, library):
    entry = pending(web)[0]
    wanted = library.entries[0]  # tome 1 of the series: the query names it exactly, the file another tome
    assert wanted.tome != entry.parsed["tome"]
    page = web.get(f"/review/{entry.id}", params={"q": f"{human(wanted.series_slug)} {wanted.tome}"}).text
    found = page.split('<div class="cards found">', 1)[1].split('<div class="cards candidates">', 1)[0]
    assert page.index("Found for") < page.index('<div class="cards candidates">')  # at the top
    card = found.split(f'data-album="{wanted.album_id}"', 1)[1].split("</article>", 1)[0]
    score = float(re.search(r"<b>(\d\.\d\d)</b>", card).group(1))
    assert score < 0.8, score  # against the query it would be a perfect match; against the file, a wrong tome
    assert f"tome differs: the name says {entry.parsed['tome']}, the album is tome {wanted.tome}" in card


def test_a_tome_absent_from_its_series_is_one_line(web, library, site):
    from bdnex_core.demo.samplelib import sample_pages, write_cbz

    series = human(library.entries[0].series_slug)
    write_cbz(library.config.parent / "library" / "absent" / f"{series} - 97.cbz", sample_pages("z", 3, 1))
    assert main(["--config", str(library.config), "tag", str(library.config.parent / "library"), "--batch"]) == 0
    entry = next(e for e in web.app.state.web.service.entries("waiting") if e.name.endswith(" - 97.cbz"))
    page = web.get(f"/review/{entry.id}").text
    regular = [e.tome_number for e in site.catalogue.series[library.entries[0].series_slug] if e.tome_kind == "regular"]
    assert f"No tome 97 in {series} (the catalogue has tomes {min(regular)}–{max(regular)})" in page
    assert '<details class="tied">' in page and 'data-key="1"' not in page  # no numbered list of ties


def test_undo_puts_the_file_and_the_entry_back(web):
    entry = pending(web)[0]
    before = comicinfo_bytes(entry.file_path)
    csrf = csrf_of(web)
    album_id = entry.candidates[0]["album_id"]
    web.post(f"/review/{entry.id}/accept", data={"album_id": album_id, "csrf": csrf, "confirmed": "1"})
    assert comicinfo_bytes(entry.file_path) != before
    answer = web.post("/review/undo", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == f"/review/{entry.id}"
    assert comicinfo_bytes(entry.file_path) == before  # the file is back to how it was
    assert entry.id in {e.id for e in pending(web)}
    assert "nothing to undo" in web.post("/review/undo", data={"csrf": csrf}, follow_redirects=True).text


def test_sessions_list_and_filters(web, library):
    listing = web.get("/sessions").text
    assert 'href="/sessions/1"' in listing
    queued = web.get("/sessions/1", params={"state": "waiting"}).text
    names = re.findall(r'<a href="/file/\d+">([^<]+)</a>', queued)
    assert sorted(names) == sorted(path.name for path in library.queued)
    accepted = web.get("/sessions/1", params={"decision": "accept"}).text
    names = re.findall(r'<a href="/file/\d+">([^<]+)</a>', accepted)
    assert sorted(names) == sorted(path.name for path in library.tagged)
    assert web.get("/sessions/1/progress").json()["total_files"] == 4


def test_the_file_page_restores_an_earlier_comicinfo(web, library):
    path = library.tagged[0]
    automatic = comicinfo_bytes(path)
    other = library.entries[3]
    assert main(["--config", str(library.config), "tag", str(path), "--id", str(other.album_id)]) == 0
    assert comicinfo_of(path).get("Number") == other.tome
    file_id = library.db.files.get(path)["id"]
    page = web.get(f"/file/{file_id}").text
    assert "Earlier ComicInfo.xml versions" in page and "Change history" in page
    # newest first: the automatic ComicInfo replaced by --id, then 'no ComicInfo' from before the first tagging
    backups = re.findall(r'name="backup_id" value="(\d+)"', page)
    assert len(backups) == 2 and "no ComicInfo.xml" in page
    csrf = csrf_of(web)
    answer = web.post(f"/file/{file_id}/restore", data={"backup_id": backups[0], "csrf": csrf}, follow_redirects=True)
    assert "restored ComicInfo.xml version" in answer.text
    assert comicinfo_bytes(path) == automatic
    again = web.get(f"/file/{file_id}").text
    assert len(re.findall(r'name="backup_id"', again)) == 3  # the version it replaced is kept too
    assert "restored version" in again
    web.post(f"/file/{file_id}/restore", data={"backup_id": backups[1], "csrf": csrf})
    assert comicinfo_bytes(path) is None  # as it was before any tagging
    # a backup of another file is not this file's to restore
    other_file = library.db.files.get(library.tagged[1])["id"]
    refused = web.post(
        f"/file/{other_file}/restore", data={"backup_id": backups[0], "csrf": csrf}, follow_redirects=True
    )
    assert "not restored" in refused.text


def test_the_library_page_charts_and_series(web, library):
    page = web.get("/library")
    assert page.status_code == 200
    assert "<small>4 files</small>" in page.text  # two tagged, two waiting for review
    assert "Albums per publisher" in page.text and "Files per status" in page.text
    statuses = dict(re.findall(r"<title>(\w+): (\d+)</title>", page.text.split("Files per status", 1)[1]))
    assert statuses == {"success": "2", "waiting": "2"}  # the files waiting for review say so
    series = re.findall(r'<details class="series" data-series="([^"]+)"', page.text)
    assert series == [library.entries[0].series_slug]
    owned = re.findall(r'src="/cover/album/(\d+)" alt="tome', page.text)
    assert sorted(int(album) for album in owned) == sorted(entry.album_id for entry in library.entries[:2])
    missing = set(re.findall(r'<figure class="tome missing" data-album="(\d+)"', page.text))
    assert {str(entry.album_id) for entry in library.entries[2:]} <= missing


def test_covers_by_id(web, library):
    file_id = library.db.files.get(library.tagged[0])["id"]
    cover = web.get(f"/cover/file/{file_id}")
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
    assert web.get(f"/cover/entry/{pending(web)[0].id}").status_code == 200
    assert web.get("/cover/file/987654").status_code == 404
    assert web.get("/cover/other/1").status_code == 404
    unknown = web.get("/cover/album/987654321")
    assert unknown.status_code == 404 and "not in the database" in unknown.text
