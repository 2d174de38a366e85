"""``kavita sync`` against the stand-in Kavita and the fake Bédéthèque, through the real CLI."""

from __future__ import annotations

import json
import zipfile

import pytest

from kavita_env import Env, series_albums, site_album


def _scan(env: Env, count: int = 2) -> list[int]:
    env.add_albums(series_albums(env.site, count))
    return env.kavita.scan_library(env.library_id)


@pytest.mark.parametrize("env", ["sqlite", "postgresql"], indirect=True)
def test_sync_writes_chapters_and_series_then_sends_nothing_the_second_time(env: Env) -> None:
    chapter_ids = _scan(env, 2)
    code, out, err = env.cli("kavita", "sync", "--library", "BD", "--batch")
    assert code == 0, out + err
    kavita = env.kavita
    updates = kavita.posts("/api/Chapter/update")
    assert sorted(update.body["id"] for update in updates) == sorted(chapter_ids)
    first = kavita.chapter_dto(kavita.chapters[chapter_ids[0]])
    assert first["titleName"] == "Redwin de la Forge"
    assert first["webLinks"].startswith("https://www.bedetheque.com/") and first["webLinks"].endswith("-245127.html")
    assert [person["name"] for person in first["writers"]]
    series_posts = kavita.posts("/api/Series/metadata")
    assert len(series_posts) == 1, "one series: its values chosen once, written once"
    series = kavita.series_metadata_dto(kavita.series_named("Nains"))
    assert series["summary"] == "", "an album's summary is never the series' summary"
    assert [genre["title"] for genre in series["genres"]]
    assert not series["genresLocked"] and not series["publisherLocked"], "what we write stays unlocked"

    before = len(kavita.requests)
    code, out, err = env.cli("kavita", "sync", "--library", "BD", "--batch", "--json")
    assert code == 0, out + err
    again = kavita.requests[before:]
    assert not [r for r in again if r.path.lower() in ("/api/chapter/update", "/api/series/metadata")]
    assert json.loads(out)["counts"]["skipped"] == 2


def test_dry_run_writes_nothing_and_says_what_would_change(env: Env) -> None:
    chapter_ids = _scan(env, 1)
    code, out, err = env.cli("kavita", "sync", "--dry-run", "--batch")
    assert code == 0, out + err
    assert "would change in Kavita" in out and "titleName" in out
    assert not env.kavita.posts("/api/Chapter/update") and not env.kavita.posts("/api/Series/metadata")
    assert env.kavita.chapters[chapter_ids[0]].title_name is None


def test_a_locked_field_and_an_untouched_field_survive_a_sync(env: Env) -> None:
    chapter_ids = _scan(env, 2)
    kavita = env.kavita
    chapter = kavita.chapters[chapter_ids[0]]
    chapter.summary, chapter.locks["summaryLocked"] = "Mon résumé", True  # the user's, locked
    chapter.age_rating, chapter.locks["ageRatingLocked"] = 9, True  # a field we never write
    chapter.people["characters"] = [kavita.people.person("Redwin")]  # a role we never write
    series = kavita.series_named("Nains")
    series.metadata.locks["publisherLocked"] = True  # the user's series lock
    series.metadata.summary = "Résumé de série"
    code, out, err = env.cli("kavita", "sync", "--batch")
    assert code == 0, out + err
    dto = kavita.chapter_dto(chapter)
    assert dto["summary"] == "Mon résumé" and dto["summaryLocked"] is True
    assert dto["ageRating"] == 9 and dto["ageRatingLocked"] is True
    assert [person["name"] for person in dto["characters"]] == ["Redwin"]
    assert dto["titleName"] == "Redwin de la Forge"  # an unlocked field of ours did change
    meta = kavita.series_metadata_dto(series)
    assert meta["publisherLocked"] is True and meta["publishers"] == []
    assert meta["summary"] == "Résumé de série" and meta["summaryLocked"] is False
    assert meta["genres"] and meta["genresLocked"] is False


def test_force_overwrites_locked_fields(env: Env) -> None:
    chapter_ids = _scan(env, 1)
    chapter = env.kavita.chapters[chapter_ids[0]]
    chapter.summary, chapter.locks["summaryLocked"] = "Mon résumé", True
    code, out, err = env.cli("kavita", "sync", "--batch", "--force")
    assert code == 0, out + err
    dto = env.kavita.chapter_dto(chapter)
    album = site_album(env.site, series_albums(env.site, 1)[0][0])
    assert album.summary and dto["summary"] == album.summary and dto["summaryLocked"] is True


def test_comicinfo_written_then_the_series_scanned(env: Env) -> None:
    paths = env.add_albums(series_albums(env.site, 2))
    chapter_ids = env.kavita.scan_library(env.library_id)
    code, out, err = env.cli("kavita", "sync", "--batch", write=["comicinfo"])
    assert code == 0, out + err
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert b"<Series>Nains</Series>" in archive.read("ComicInfo.xml")
    scans = env.kavita.posts("/api/Series/scan")
    assert scans and {scan.body["seriesId"] for scan in scans} == {env.kavita.series_named("Nains").id}
    assert not env.kavita.posts("/api/Chapter/update"), "comicinfo alone writes no metadata through the API"
    assert env.kavita.wait_idle(10)
    dto = env.kavita.chapter_dto(env.kavita.chapters[chapter_ids[0]])
    assert dto["titleName"] == "Redwin de la Forge", "Kavita read the file's ComicInfo on its scan"
    writers = site_album(env.site, series_albums(env.site, 1)[0][0]).writers  # "Jarry, Nicolas" on the site
    assert [person["name"] for person in dto["writers"]] == [
        " ".join(reversed(writer.split(", "))) for writer in writers
    ], "people under their real names"


def test_covers_only_when_asked_and_never_over_a_locked_one(env: Env) -> None:
    chapter_ids = _scan(env, 2)
    locked = env.kavita.chapters[chapter_ids[1]]
    locked.cover, locked.cover_locked = b"the user's cover", True
    code, out, err = env.cli("kavita", "sync", "--batch")
    assert code == 0 and not env.kavita.posts("/api/Upload/chapter")
    code, out, err = env.cli("kavita", "sync", "--batch", "--force", covers=True)
    assert code == 0, out + err
    uploads = env.kavita.posts("/api/Upload/chapter")
    assert [upload.body["id"] for upload in uploads] == [chapter_ids[0]]
    assert env.kavita.chapters[chapter_ids[0]].cover_locked and locked.cover == b"the user's cover"


def test_an_unreachable_server_or_a_wrong_key_is_one_line_exit_2(env: Env) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for args, settings, expected in (
        (("kavita", "sync"), {"url": closed, "timeout_seconds": 2}, "cannot reach Kavita"),
        (("kavita", "check"), {"url": env.kavita.url, "api_key": "wrong-key-123"}, "refused the API key"),
        (("kavita", "sync", "--dry-run"), {"api_key": "wrong-key-123"}, "refused the API key"),
    ):
        code, out, err = env.cli(*args, **settings)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, (args, out, err)
        assert len(lines) == 1 and expected in lines[0] and "wrong-key-123" not in err + out
        assert "unexpected" not in err
    from kavita_standin.server import READER_KEY

    code, out, err = env.cli("kavita", "sync", api_key=READER_KEY)
    assert code == 2 and "not an administrator" in err and READER_KEY not in err


def test_a_file_kavita_lists_but_we_cannot_reach_fails_alone(env: Env) -> None:
    chapter_ids = _scan(env, 2)
    missing = env.kavita.chapters[chapter_ids[1]].file_local
    missing.rename(missing.with_suffix(".moved"))
    code, out, err = env.cli("kavita", "sync", "--batch", "--json")
    summary = json.loads(out)
    assert summary["counts"]["failed"] == 1 and summary["counts"]["tagged"] == 1
    code, out, err = env.cli("kavita", "sync", "--batch", path_map=[{"kavita": "/elsewhere", "local": "/nowhere"}])
    assert code != 0 and "no kavita.path_map entry covers" in err and len(err.strip().splitlines()) == 1


def test_one_chapter_by_its_id(env: Env) -> None:
    """``chapter:ID`` is also what the watcher's sessions record, for ``tag --resume``."""
    chapter_ids = _scan(env, 2)
    code, out, err = env.cli("kavita", "sync", "--chapter", str(chapter_ids[1]), "--batch", "--json")
    assert code == 0, out + err
    assert [post.body["id"] for post in env.kavita.posts("/api/Chapter/update")] == [chapter_ids[1]]
    assert json.loads(out)["counts"]["tagged"] == 1
