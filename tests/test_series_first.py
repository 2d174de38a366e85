"""Series first: a library's albums read from their series' full-list page, against the fake site.

A series costs its first album's page (the sitemaps name no series id; the album page does) and
its series page, which fills the album cache for every album of the series. The ComicInfo of the
series-first path holds the same values as the album-page path for every field both have; the
series record gives Count and Genre; a run killed inside a series resumes without the series page.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from bdnex_core.archives import open_archive
from bdnex_core.bedetheque.album import SERIES_PAGE, Album
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.bedetheque.series import SeriesRecord
from bdnex_core.bedetheque.service import with_series
from bdnex_core.comicinfo import ComicInfo
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, human
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.pipeline import TagOptions, collect_items, run_tagging
from bdnex_testing.databases import copy_into, peek_rows, peek_value
from bdnex_testing.processes import start_cli
from bdnex_testing.pytest_plugin import database_mapping

# what only an album's own page says: the series-first path leaves these out, nothing else
ALBUM_PAGE_ONLY = {"Summary", "Colorist", "CoverArtist", "Letterer", "Imprint", "CommunityRating", "Format"}
SERIES = ("Thorgal", "XIII", "Blacksad")


@pytest.fixture(scope="module")
def site():
    reset_politeness()
    with FakeBedetheque() as running:
        yield running
    reset_politeness()


@pytest.fixture(scope="module")
def catalogue(site, tmp_path_factory) -> Path:
    """A database holding the fake site's catalogue index, made once, copied for each test."""
    folder = tmp_path_factory.mktemp("catalogue")
    settings = from_mapping(
        {
            "database": {"path": str(folder / "bdnex.db")},
            "cache": {"dir": str(folder / "cache")},
            **site.settings_mapping(),
        }
    )
    reset_politeness()
    with BDneXDB(settings=settings) as db:
        Catalogue(db).update_online(BedethequeClient(settings))
        db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "bdnex.db"


def regular_tomes(site, slug: str, count: int | None = None):
    entries = sorted(
        (e for e in site.catalogue.series[slug] if e.tome_kind == "regular" and (e.tome or "").isdigit()),
        key=lambda e: int(e.tome),
    )
    return entries[:count] if count else entries


def build(folder: Path, entries, pages: int = 2) -> list[Path]:
    paths = []
    for entry in entries:
        series = human(entry.series_slug)
        name = f"{series} - T{int(entry.tome):02d} - {human(entry.title_slug)}.cbz"
        paths.append(write_cbz(folder / series / name, sample_pages(series, pages, entry.album_id)))
    return paths


def mapping_for(site, location: str, folder: Path, **catalogue) -> dict:
    return {
        "database": database_mapping(location),
        "cache": {"dir": str(folder / "cache")},
        "pipeline": {"logs_dir": str(folder / "logs")},
        **site.settings_mapping(**catalogue),
    }


def tag(site, location: str, folder: Path, library: Path, workers: int = 2, **catalogue):
    settings = from_mapping(mapping_for(site, location, folder, **catalogue))
    reset_politeness()
    db = BDneXDB(settings=settings)
    try:
        options = TagOptions(locations=(str(library),), workers=workers)
        items = collect_items(settings, "folder", options.locations)
        return run_tagging(settings, db, items, options, client=BedethequeClient(settings, database=db))
    finally:
        db.close()


def comicinfo_fields(path: Path) -> dict[str, str]:
    with open_archive(path) as comic:
        return dict(ComicInfo.from_xml(comic.comicinfo_bytes()).fields)


def page_requests(site) -> list[str]:
    return [entry.path for entry in site.requests() if entry.path.startswith(("/BD-", "/serie-"))]


def test_a_series_costs_its_first_album_page_and_its_series_page(site, catalogue, tmp_path, new_database):
    location = new_database(tmp_path)
    copy_into(catalogue, location)
    entries = [entry for slug in SERIES for entry in regular_tomes(site, slug, 6)]
    build(tmp_path / "library", entries)
    site.clear_log()
    summary = tag(site, location, tmp_path, tmp_path / "library", workers=4)
    assert summary.counts["done"] == len(entries), summary.to_dict()
    requested = page_requests(site)
    assert sorted(path.split("-")[0] for path in requested) == ["/BD"] * 3 + ["/serie"] * 3, requested
    with BDneXDB(location) as db:
        for slug in SERIES:
            series_id = site.catalogue.series_id(slug)
            assert db.series.id_of_slug(slug) == (True, series_id)
            record = SeriesRecord.from_dict(db.series.get(series_id))
            listed = {entry.album_id for entry in site.catalogue.series[slug]}
            assert set(record.album_ids) == listed  # the whole series, not only the library's albums
            cached = db.albums.fresh_many(listed)
            assert set(cached) == listed  # every album of the series is in the album cache now
            assert sum(data["filled_from"] == SERIES_PAGE for data in cached.values()) >= len(listed) - 1


def test_series_first_comicinfo_equals_the_album_page_path(site, catalogue, tmp_path, new_database):
    """On every file, each field the series-first path writes has the album-page path's value; what it
    leaves out is only what the series page does not show."""
    entries = [entry for slug in SERIES for entry in regular_tomes(site, slug, 5)]
    results = {}
    for mode in ("never", "always"):
        folder = tmp_path / mode
        folder.mkdir()
        location = new_database(folder)
        copy_into(catalogue, location)
        paths = build(folder / "library", entries)
        site.clear_log()
        summary = tag(site, location, folder, folder / "library", album_pages=mode)
        assert summary.counts["done"] == len(entries), summary.to_dict()
        results[mode] = ([comicinfo_fields(path) for path in paths], len(page_requests(site)))
    (series_first, series_requests), (album_pages, album_requests) = results["never"], results["always"]
    assert series_requests == 2 * len(SERIES) and album_requests == len(entries) + len(SERIES)
    for fields, reference in zip(series_first, album_pages, strict=True):
        assert {name: reference.get(name) for name in fields} == fields
        assert set(reference) - set(fields) <= ALBUM_PAGE_ONLY
        assert fields["Count"] and fields["Genre"] and fields["Publisher"] and fields["GTIN"]


def test_album_pages_missing_completes_what_the_series_page_lacks(site, catalogue, tmp_path):
    copy_into(catalogue, str(tmp_path / "bdnex.db"))
    entries = regular_tomes(site, "XIII", 4)
    paths = build(tmp_path / "library", entries)
    site.clear_log()
    summary = tag(site, str(tmp_path / "bdnex.db"), tmp_path, tmp_path / "library", album_pages="missing")
    assert summary.counts["done"] == len(entries)
    requested = page_requests(site)
    assert len([path for path in requested if path.startswith("/serie-")]) == 1
    assert len([path for path in requested if path.startswith("/BD-")]) == len(entries)
    assert all(comicinfo_fields(path).get("Summary") for path in paths)


def test_dry_run_and_a_challenge_on_the_series_page(site, catalogue, tmp_path):
    """A dry run fetches and caches as a real run does (nothing written); a challenge answered for the
    series page stops the run like one for an album page: paused, files pending, none failed."""
    location = str(tmp_path / "bdnex.db")
    copy_into(catalogue, location)
    entries = regular_tomes(site, "Blacksad", 4)
    paths = build(tmp_path / "library", entries)
    before = [path.read_bytes() for path in paths]
    site.set_mode("challenge", paths="/serie-")
    try:
        summary = tag(site, location, tmp_path, tmp_path / "library", workers=1)
    finally:
        site.set_mode(None)
    assert summary.status == "blocked" and summary.exit_code == 4 and summary.count("failed") == 0
    assert "challenge" in summary.message

    settings = from_mapping(mapping_for(site, location, tmp_path))
    reset_politeness()
    with BDneXDB(settings=settings) as db:
        options = TagOptions(locations=(str(tmp_path / "library"),), workers=2, dry_run=True)
        site.clear_log()
        dry = run_tagging(settings, db, collect_items(settings, "folder", options.locations), options)
        assert dry.counts["done"] == len(entries)
        assert [path.split("-")[0] for path in page_requests(site)] == ["/serie"]  # the album page was read
        assert db.series.get(site.catalogue.series_id("Blacksad")) is not None
    assert [path.read_bytes() for path in paths] == before


def write_config(folder: Path, mapping: dict) -> Path:
    config = folder / "config.yaml"
    config.write_text(json.dumps(mapping))
    return config


def test_a_run_killed_inside_a_series_resumes_without_its_series_page(site, catalogue, tmp_path, new_database):
    slug = "Les-Tuniques-Bleues"
    series_id = site.catalogue.series_id(slug)
    entries = regular_tomes(site, slug)
    assert len(entries) >= 20
    for trial in range(4):  # the kill must land between the series page and the last file
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        location = new_database(folder)
        copy_into(catalogue, location)
        build(folder / "library", entries, pages=6)
        config = write_config(folder, mapping_for(site, location, folder))
        run = start_cli(config, "tag", str(folder / "library"), "--batch", "--json", "--workers", "1")
        done = 0
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and run.poll() is None:
                stored = peek_value(
                    location, "SELECT COUNT(*) FROM bdgest_series WHERE id = ?", (series_id,), not_yet=0
                )
                done = peek_value(location, "SELECT COUNT(*) FROM session_files WHERE state != 'pending'", not_yet=0)
                if stored and done >= 2:
                    run.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
        finally:
            if run.poll() is None:
                run.kill()
            run.communicate()
        done = peek_value(location, "SELECT COUNT(*) FROM session_files WHERE state != 'pending'", not_yet=0)
        if 0 < done < len(entries):
            break
        shutil.rmtree(folder / "library")
    else:
        pytest.fail("the run was never killed inside the series")
    (session_id,) = peek_rows(location, "SELECT id FROM processing_sessions")[0]
    site.clear_log()
    resumed = start_cli(config, "tag", "--resume", str(session_id), "--batch", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    assert json.loads(out)["counts"]["tagged"] == len(entries) - done
    assert page_requests(site) == [], "the series page (or an album page) was fetched again within its TTL"
    assert peek_value(location, "SELECT COUNT(*) FROM session_files WHERE state = 'done'") == len(entries)


def test_count_never_below_number(site, catalogue, tmp_path):
    """Issue 38: a tome 14 in a series whose index knows 4 tomes gets no Count (or the series page's)."""
    location = str(tmp_path / "bdnex.db")
    copy_into(catalogue, location)
    with BDneXDB(location) as db:
        with db.write() as backend:
            for tome in (1, 2, 3, 14):  # the index slice knows 4 tomes of the series, tome 14 among them
                backend.execute(
                    "INSERT INTO catalogue_albums (album_id, url, series_slug, series_norm, tome, tome_number, "
                    "tome_kind, title_slug, title_norm, sitemap) VALUES (?, ?, 'Gaps', 'gaps', ?, ?, 'regular', 't', "
                    "'t', 'x')",
                    [
                        7000 + tome,
                        f"https://www.bedetheque.com/BD-Gaps-Tome-{tome}-t-{7000 + tome}.html",
                        str(tome),
                        tome,
                    ],
                )
        assert db.catalogue.series_regular_count(7014) == 4
        assert with_series(db, Album(7014, "u", tome="14")).series_album_count is None  # never Count=4
        assert with_series(db, Album(7003, "u", tome="3")).series_album_count == 4
        listed = [{"album_id": 7000 + n, "tome": str(n)} for n in (1, 2, 3, 4, 14)]
        record = SeriesRecord(9999, "https://www.bedetheque.com/serie-9999-BD-Gaps.html", "Gaps", albums=listed)
        db.series.put(record.to_dict(), tome_count=record.tome_count)
        assert with_series(db, Album(7014, "u", tome="14")).series_album_count == 14  # the series page's
        header_only = SeriesRecord(9999, record.url, "Gaps", album_count=4)
        db.series.put(header_only.to_dict(), tome_count=header_only.tome_count)
        with db.write() as backend:
            backend.execute("INSERT INTO bdgest_series_albums (album_id, series_id) VALUES (7014, 9999), (7002, 9999)")
        assert with_series(db, Album(7014, "u", tome="14")).series_album_count is None
        assert with_series(db, Album(7002, "u", tome="2")).series_album_count == 4


def test_the_real_mobile_series_page_makes_a_record(bedetheque_fixtures):
    """The saved mobile page of Nains (26 albums, the index slice knows 2): genres, status, summary,
    publishers, and a Count for tome 14 from the page, never from the index."""
    from bdnex_core.bedetheque.parse import parse_series_page

    html = (bedetheque_fixtures / "series" / "m-serie-47467-BD-Nains.html").read_bytes()
    series = parse_series_page(html, "https://m.bedetheque.com/serie-47467-BD-Nains.html")
    record = SeriesRecord.from_page(series)
    assert (record.series_id, record.slug, record.template) == (47467, "Nains", "mobile")
    assert record.genres == ["Fantasy"] and record.normal_status == "ongoing" and record.origin == "Europe"
    assert record.publisher == "Soleil Productions" and record.publishers == ["Soleil Productions"]
    assert record.summary.startswith("Redwin, fils d'Ulrog") and "Terres d'Arran" in record.keywords
    assert record.tome_count == 25 and record.album_count == 26
    assert record.albums[-1]["tome"] == "INT01"  # written as a span.numa on the page
    assert record.count_for("14") == 25 and record.count_for("INT01") == 25


def test_a_wrong_series_id_for_a_slug_costs_one_page_and_is_corrected(site, catalogue, tmp_path):
    """A series id learned for a slug whose page the site does not have (a renumbered series, two
    series of one slug): the album is read from its own page, which names the right series, kept."""
    location = str(tmp_path / "bdnex.db")
    copy_into(catalogue, location)
    with BDneXDB(location) as db:
        db.series.learn_slug("XIII", 424242)
    entries = regular_tomes(site, "XIII", 5)
    build(tmp_path / "library", entries)
    site.clear_log()
    summary = tag(site, location, tmp_path, tmp_path / "library", workers=2)
    assert summary.counts["done"] == len(entries)
    right = site.catalogue.series_id("XIII")
    assert [(path.split("-")[0], path.split("-")[1]) for path in page_requests(site)] == [
        ("/serie", "424242"),
        ("/BD", "x"),
        ("/serie", str(right)),
    ]
    with BDneXDB(location) as db:
        assert db.series.id_of_slug("XIII") == (True, right)


def test_the_hourly_cap_counts_series_pages_and_resume_goes_on(site, catalogue, tmp_path):
    """Four requests allowed: the home page (the cookie), the first series (its album page, its series
    page) and the next album page; the next series page meets the cap: the run pauses (exit 4), its
    files pending, and the resumed run asks only for what it had not had."""
    location = str(tmp_path / "bdnex.db")
    copy_into(catalogue, location)
    entries = [entry for slug in SERIES for entry in regular_tomes(site, slug, 3)]
    build(tmp_path / "library", entries)
    site.clear_log()
    summary = tag(site, location, tmp_path, tmp_path / "library", workers=1, max_requests_per_hour=4)
    assert summary.status == "blocked" and summary.exit_code == 4 and summary.count("failed") == 0
    assert len(site.requests()) == 4 and len(page_requests(site)) == 3
    assert 3 <= summary.count("done") < len(entries)
    (session_id,) = peek_rows(location, "SELECT id FROM processing_sessions")[0]
    site.clear_log()
    settings = from_mapping(mapping_for(site, location, tmp_path))
    reset_politeness()
    from bdnex_core.pipeline import resume_tagging

    with BDneXDB(settings=settings) as db:
        resumed = resume_tagging(settings, db, session_id)
    assert resumed.status == "completed" and resumed.count("failed") == 0
    assert [path.split("-")[0] for path in page_requests(site)] == ["/serie", "/BD", "/serie"]
    assert peek_value(location, "SELECT COUNT(*) FROM session_files WHERE state = 'done'") == len(entries)
