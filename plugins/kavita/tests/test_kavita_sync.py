"""``kavita sync`` against the stand-in Kavita and the fake Bédéthèque, through the real CLI."""

from __future__ import annotations

import json
import zipfile

from kavita_env import Env, series_albums


def _scan(env: Env, count: int = 2) -> list[int]:
    env.add_albums(series_albums(env.site, count))
    return env.kavita.scan_library(env.library_id)


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
