"""The tagging pipeline end to end, against the fake Bédéthèque site and real archives."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile

import pytest

from bdnex_core.archives import open_archive
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.cli import main
from bdnex_core.comicinfo import ComicInfo
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import human
from bdnex_core.demo.samplelib import CatalogueAlbum, build_library, sample_pages, write_cbz
from bdnex_core.pipeline import TagOptions, collect_items, run_tagging
from bdnex_core.states import OutcomeState
from bdnex_testing.pytest_plugin import database_mapping
from bdnex_testing.shared import fake_bedetheque


@pytest.fixture(scope="module")
def site():
    reset_politeness()
    with fake_bedetheque() as running:
        yield running


@pytest.fixture
def env(site, tmp_path, database_location):
    """Settings, database (SQLite, then PostgreSQL) and client pointed at the fake site, catalogue indexed."""
    reset_politeness()
    settings = from_mapping(
        {
            "database": database_mapping(database_location),
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
            **site.settings_mapping(),
        }
    )
    db = BDneXDB(settings=settings)
    client = BedethequeClient(settings)
    Catalogue(db).update_online(client)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({key: value for key, value in settings.raw.items()}))
    yield settings, db, client, config
    db.close()


def albums_of(site, count, *, seed=3):
    import random

    rng = random.Random(seed)
    pool = [
        entry
        for entries in site.catalogue.series.values()
        if len(entries) >= 3
        for entry in entries
        if entry.tome_kind == "regular" and entry.tome and entry.tome.isdigit()
    ]
    return [
        CatalogueAlbum(e.album_id, human(e.series_slug), e.tome, human(e.title_slug) or None)
        for e in rng.sample(pool, count)
    ]


def tag_folder(settings, db, client, folder, **options):
    """A run over the comics of ``folder`` (two workers unless said otherwise)."""
    chosen = TagOptions(locations=(str(folder),), **{"workers": 2, **options})
    return run_tagging(settings, db, collect_items(settings, "folder", chosen.locations), chosen, client=client)


def page_bytes(path):
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: (info.CRC, archive.read(info.filename))
            for info in archive.infolist()
            if info.filename != "ComicInfo.xml"
        }


def test_mixed_library_is_tagged_queued_and_failed(env, site, tmp_path):
    settings, db, client, _ = env
    present = albums_of(site, 12)
    absent = [CatalogueAlbum(0, present[0].series, "97", None), CatalogueAlbum(0, present[1].series, "98", None)]
    samples = build_library(tmp_path / "library", present, absent, broken=1)
    before = {sample.path: page_bytes(sample.path) for sample in samples if sample.kind != "broken"}
    items = collect_items(settings, "folder", [str(tmp_path / "library")])
    summary = run_tagging(
        settings, db, items, TagOptions(workers=2, locations=(str(tmp_path / "library"),)), client=client
    )
    assert summary.status == "completed"
    by_path = {str(outcome.item.path): outcome for outcome in summary.outcomes}
    for sample in samples:
        outcome = by_path[str(sample.path.resolve())]
        if sample.kind == "present":
            assert outcome.state == "done", (sample.path.name, outcome.reason, outcome.candidates[:1])
            with open_archive(sample.path) as comic:
                info = ComicInfo.from_xml(comic.comicinfo_bytes())
            assert info.get("Web", "").endswith(f"-{sample.expected_album_id}.html")
            assert page_bytes(sample.path) == before[sample.path]  # pages untouched, byte for byte
        elif sample.kind == "absent":
            assert outcome.state == "waiting", outcome.reason
            with open_archive(sample.path) as comic:
                assert comic.comicinfo_bytes() is None  # never tagged silently
        else:
            assert outcome.state == "failed" and "zip" in outcome.reason
    stats = db.sessions.stats(summary.session_id)
    assert (stats["files_successful"], stats["files_waiting"], stats["files_failed"]) == (12, 2, 1)
    assert stats["total_files"] == len(samples) and stats["remaining"] == 0
    assert len(db.reviews.waiting()) == 2
    assert db.statistics.current()["total_files"] == 12
    assert json.loads(open(summary.json_log).read())["summary"]["counts"]["tagged"] == 12
    assert open(summary.csv_log).read().count("\n") == len(samples) + 1
    history = db.files.history(db.files.get(samples[0].path)["id"])
    assert {row["field"] for row in history} >= {"title", "series", "bdgest_id"}

    # a second run skips the unchanged files without re-hashing or re-fetching
    site.clear_log()
    again = tag_folder(settings, db, client, tmp_path / "library")
    assert (
        again.count("skipped") == 14 and again.count("done") == 0
    )  # the 2 waiting files wait for review: unchanged too
    assert site.requests("/BD-") == []


def counting_sha256(digests: list[str]):
    """hashlib.sha256 that notes each digest it gives (to count how often a file's bytes are hashed)."""
    real = hashlib.sha256

    class Counting:
        def __init__(self, data=b"", **options):
            self._hash = real(data, **options)

        def update(self, data):
            self._hash.update(data)

        def hexdigest(self):
            digests.append(self._hash.hexdigest())
            return digests[-1]

        def __getattr__(self, name):
            return getattr(self._hash, name)

    return Counting


def test_each_file_is_hashed_once_and_its_undo_layout_has_its_real_hash(env, site, tmp_path, monkeypatch):
    """The lookup hashes a new file; the undo layout taken before the write reuses that hash."""
    from bdnex_core.archives.layout import original_sha256

    settings, db, client, _ = env
    samples = build_library(tmp_path / "library", albums_of(site, 4), broken=0)
    originals = {str(sample.path.resolve()): hashlib.sha256(sample.path.read_bytes()).hexdigest() for sample in samples}
    digests: list[str] = []
    monkeypatch.setattr(hashlib, "sha256", counting_sha256(digests))
    summary = tag_folder(settings, db, client, tmp_path / "library")
    monkeypatch.undo()
    assert summary.count("done") == len(samples)
    layouts = dict(db.backend.tuples("SELECT file_path, layout FROM comicinfo_backups"))
    assert {path: original_sha256(layout) for path, layout in layouts.items()} == originals
    assert {path: digests.count(digest) for path, digest in originals.items()} == dict.fromkeys(originals, 1)


def test_dry_run_changes_nothing_and_reports_the_diff(env, site, tmp_path, capsys):
    _settings, db, _client, config = env
    present = albums_of(site, 3, seed=5)
    samples = build_library(tmp_path / "lib", present, broken=0)
    before = {sample.path: sample.path.read_bytes() for sample in samples}
    mtimes = {sample.path: sample.path.stat().st_mtime_ns for sample in samples}
    code = main(["--config", str(config), "tag", str(tmp_path / "lib"), "--dry-run", "--batch"])
    output = capsys.readouterr().out
    assert code == 0
    assert "would change" in output and "Series" in output and "Number" in output
    for sample in samples:
        assert sample.path.read_bytes() == before[sample.path]
        assert sample.path.stat().st_mtime_ns == mtimes[sample.path]
    assert db.backend.value("SELECT COUNT(*) FROM processed_files") == 0


def test_uncertain_files_are_queued_then_resolved_with_review(env, site, tmp_path, monkeypatch, capsys):
    settings, _db, _client, config = env
    album = albums_of(site, 1, seed=11)[0]
    # a title that does not match: the series and tome are right, the title says otherwise -> review
    path = write_cbz(
        tmp_path / "lib" / f"{album.series} - {album.tome} - Un titre sans rapport.cbz", sample_pages("x", 3, 1)
    )
    code = main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["waiting"] == 1 and code == 0
    with open_archive(path) as comic:
        assert comic.comicinfo_bytes() is None
    # a scripted review session: pick the first candidate, then Enter (yes) at its confirmation
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("1\n\n"))
    assert main(["--config", str(config), "review"]) == 0
    assert "1 tagged, 0 skipped, 0 still waiting" in capsys.readouterr().out
    with open_archive(path) as comic:
        info = ComicInfo.from_xml(comic.comicinfo_bytes())
    assert info.get("Series") and info.get("Number") == album.tome
    review_db = BDneXDB(settings=settings)
    row = review_db.files.get(path)
    assert row["status"] == "manual"
    assert {entry["source"] for entry in review_db.files.history(row["id"]) if entry["field"] == "bdgest_id"} == {
        "manual"
    }
    session = review_db.sessions.recent()[0]
    assert session["files_waiting"] == 0 and session["files_successful"] == 1


def test_no_worker_reads_or_writes_through_the_runners_sqlite_connection(site, tmp_path):
    """The runner records results through its connection while the workers use their own. A read of a
    worker open on the runner's connection when the runner begins a write makes SQLite refuse that
    write at once (BUSY_SNAPSHOT, "database is locked": `tag --force` failed so once under load, the
    worker loading the lazy matcher). SQLite's trace tells which thread runs each statement: on the
    runner's connection, only the runner's thread. SQLite only: PostgreSQL's connection serves one
    thread at a time (a worker's statement there waits, then runs inside the runner's transaction)."""
    reset_politeness()
    settings = from_mapping(
        {
            "database": {"path": str(tmp_path / "bdnex.db")},
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
            **site.settings_mapping(),
        }
    )
    db = BDneXDB(settings=settings)
    client = BedethequeClient(settings)
    Catalogue(db).update_online(client)
    build_library(tmp_path / "library", albums_of(site, 3, seed=5), broken=0)  # no ComicInfo: each is matched
    runner_thread = threading.get_ident()
    strangers: list[tuple[str, str]] = []

    def note_stranger(statement: str) -> None:
        if threading.get_ident() != runner_thread:
            strangers.append((threading.current_thread().name, statement))

    db.backend.conn.set_trace_callback(note_stranger)  # type: ignore[attr-defined]
    try:
        summary = tag_folder(settings, db, client, tmp_path / "library")
    finally:
        db.backend.conn.set_trace_callback(None)  # type: ignore[attr-defined]
        db.close()
    assert summary.count(OutcomeState.DONE) == 3, [outcome.reason for outcome in summary.outcomes]
    assert strangers == []


def test_library_with_bad_files_finishes(env, site, tmp_path):
    settings, db, client, _ = env
    present = albums_of(site, 3, seed=17)
    samples = build_library(tmp_path / "lib", present, broken=0)
    bad = tmp_path / "lib" / "bad"
    bad.mkdir()
    (bad / "zero - T01.cbz").write_bytes(b"")
    (bad / "nozip - T02.cbz").write_bytes(b"this is not an archive at all")
    write_cbz(bad / "noimages - T03.cbz", [], extra_members=[("readme.txt", b"hello")])
    with zipfile.ZipFile(bad / "evil - T04.cbz", "w") as archive:
        archive.writestr("../../escape.jpg", b"\xff\xd8 not really")
    items = collect_items(settings, "folder", [str(tmp_path / "lib")])
    summary = run_tagging(settings, db, items, TagOptions(workers=2), client=client)
    states = {outcome.item.path.name: (outcome.state, outcome.reason) for outcome in summary.outcomes}
    assert states["zero - T01.cbz"] == ("failed", "empty file (0 bytes)")
    assert states["nozip - T02.cbz"][0] == "failed" and "not a comic archive" in states["nozip - T02.cbz"][1]
    assert states["noimages - T03.cbz"] == ("failed", "no image pages in the archive")
    assert states["evil - T04.cbz"][0] == "failed" and "unsafe member name" in states["evil - T04.cbz"][1]
    assert sum(1 for state, _ in states.values() if state == "done") == len(samples)
    failed = {row["file_path"].rsplit("/", 1)[-1]: row["error_msg"] for row in db.files.page(status="failed")}
    assert failed["zero - T01.cbz"] == "empty file (0 bytes)"


def test_blocked_site_stops_the_run_and_pauses_the_session(env, site, tmp_path):
    settings, db, client, _ = env
    present = albums_of(site, 4, seed=23)
    build_library(tmp_path / "lib", present, broken=0)
    site.set_mode("ban")
    try:
        site.clear_log()
        summary = run_tagging(
            settings,
            db,
            collect_items(settings, "folder", [str(tmp_path / "lib")]),
            TagOptions(workers=2),
            client=client,
        )
    finally:
        site.set_mode(None)
    assert summary.status == "blocked" and summary.exit_code == 4
    assert "banned" in summary.message and "cookies" in summary.message
    assert len(site.requests("/BD-")) <= 2  # at most the requests already in flight on the 2 workers
    assert db.sessions.get(summary.session_id)["status"] == "paused"


def test_rescan_counts_unchanged_files_and_redoes_changed_ones(env, site, tmp_path):
    import os

    from bdnex_core.pipeline import tag_locations

    settings, db, client, _config = env
    library = tmp_path / "library"
    albums = albums_of(site, 4, seed=11)
    paths = [
        write_cbz(
            library / album.series / f"{album.series} - T{int(album.tome):02d}.cbz",
            sample_pages(album.series, 2, album.album_id),
        )
        for album in albums
    ]
    # the same file reached twice: through a symlink and through a second location
    os.symlink(paths[0], library / "lien.cbz")
    locations = (str(library), str(paths[1]))
    first = tag_locations(settings, db, TagOptions(workers=2, locations=locations), client=client)
    assert first.count("done") + first.count("waiting") == 4 and first.count("skipped") == 0, first.to_dict()

    site.clear_log()
    again = tag_locations(settings, db, TagOptions(workers=2, locations=locations), client=client)
    assert again.count("skipped") == 4 and again.unchanged == 4 and again.count("done") == 0
    assert site.requests("/BD-") == []
    session = db.sessions.stats(again.session_id)
    assert (session["total_files"], session["files_skipped"], session["files_unchanged"], session["remaining"]) == (
        4,
        4,
        4,
        0,
    )
    assert db.sessions.files(again.session_id) == []  # counted, not listed
    assert json.loads(open(again.json_log, encoding="utf-8").read())["files"] == []

    # a file modified since (here: its ComicInfo removed by another tool) is processed again
    with zipfile.ZipFile(paths[2]) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist() if info.filename != "ComicInfo.xml"]
    with zipfile.ZipFile(paths[2], "w") as archive:
        for info, data in members:
            archive.writestr(info, data)
    third = tag_locations(settings, db, TagOptions(workers=2, locations=locations), client=client)
    assert third.unchanged == 3 and third.count("failed") == 0, third.to_dict()
    assert [outcome.item.path for outcome in third.outcomes] == [paths[2]]

    forced = tag_locations(settings, db, TagOptions(workers=2, force=True, locations=locations), client=client)
    assert forced.unchanged == 0 and len(forced.outcomes) == 4

    # the run's table, from what the summary keeps of recorded outcomes: first tagged, then tagged again
    # identically (unchanged), never the other way round
    from bdnex_core.cli.results import result_counts

    assert dict(result_counts(first, dry_run=False))["tagged"] == first.count("done") > 0
    done = [o for o in forced.outcomes if o.state == "done"]
    tagged_before = {x.item.path for x in first.outcomes if x.state == "done"} - {paths[2]}  # its ComicInfo went
    tagged_again = [o for o in done if o.item.path in tagged_before]
    assert tagged_again and all(not o.changed for o in tagged_again), [o.changed for o in tagged_again]
    counts = dict(result_counts(forced, dry_run=False))
    assert (
        counts["unchanged"] == sum(1 for o in done if not o.changed)
        and counts["tagged"] == len(done) - counts["unchanged"]
    )


def test_session_logs_are_written_after_the_session_is_closed(env, site, tmp_path):
    settings, db, client, _ = env
    build_library(tmp_path / "library", albums_of(site, 3), broken=0)
    summary = tag_folder(settings, db, client, tmp_path / "library")
    assert summary.outcomes and all(isinstance(outcome.state, OutcomeState) for outcome in summary.outcomes)
    document = json.loads(open(summary.json_log, encoding="utf-8").read())
    assert document["session"]["status"] == "completed"
    assert document["session"]["session_end"]
    # the seed's log_file_path: a plain-text log of the session, one line per file
    session = db.sessions.get(summary.session_id)
    text = open(session["log_file_path"], encoding="utf-8").read()
    assert text.startswith(f"session {summary.session_id}: completed")
    assert sum(line.startswith("done\t") for line in text.splitlines()) == 3


def test_an_unwritable_logs_folder_warns_and_still_closes_the_session(env, site, tmp_path, capsys):
    settings, _db, _client, config = env
    build_library(tmp_path / "library", albums_of(site, 2), broken=0)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the logs folder should be")
    raw = json.loads(config.read_text())
    raw["pipeline"] = {**raw.get("pipeline", {}), "logs_dir": str(blocker / "logs")}
    config.write_text(json.dumps(raw))
    code = main(["--config", str(config), "tag", str(tmp_path / "library"), "--batch"])
    captured = capsys.readouterr()
    assert "unexpected" not in captured.err
    assert "tagged" in captured.out  # the summary is printed
    warnings = [line for line in captured.err.splitlines() if "session logs not written" in line]
    assert len(warnings) == 1 and str(blocker) in warnings[0]
    assert code == 0
    session = BDneXDB(settings=settings).sessions.recent()[0]
    assert session["status"] == "completed" and session["json_log_path"] is None


def test_pattern_takes_only_matching_files_and_is_recorded(env, site, tmp_path, capsys):
    settings, _db, _client, config = env
    samples = build_library(tmp_path / "library", albums_of(site, 4), broken=1)
    code = main(
        ["--config", str(config), "tag", str(tmp_path / "library"), "--batch", "--json", "--pattern", "*ABIMEE*"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 1 and summary["counts"]["failed"] == 1 and summary["counts"]["tagged"] == 0
    db = BDneXDB(settings=settings)
    session = db.sessions.get(summary["session_id"])
    assert session["pattern"] == "*ABIMEE*" and session["total_files"] == 1
    assert len(samples) == 5


@pytest.mark.parametrize("write", ["in_place", "copy"])
def test_metadata_hash_is_recorded_and_notices_a_comicinfo_edited_by_another_tool(env, site, tmp_path, write):
    import hashlib

    settings, db, client, _ = env
    settings = from_mapping({**settings.raw, "archives": {"write": write}})  # both ways of writing
    (sample,) = build_library(tmp_path / "library", albums_of(site, 1), broken=0)
    inode = sample.path.stat().st_ino
    first = tag_folder(settings, db, client, tmp_path / "library")
    assert first.count(OutcomeState.DONE) == 1
    # in place, the archive is the same file (its end rewritten); through a copy, a new file renamed over it
    assert (sample.path.stat().st_ino == inode) == (write == "in_place")
    with open_archive(sample.path) as comic:
        written = comic.comicinfo_bytes()
    row = db.files.get(sample.path)
    assert row["metadata_hash"] == hashlib.sha256(written).hexdigest()
    # another tool rewrites the archive with its own ComicInfo.xml
    edited = written.replace(b"</ComicInfo>", b"<Notes>edited in another tool</Notes></ComicInfo>")
    pages = page_bytes(sample.path)
    with zipfile.ZipFile(sample.path, "w") as archive:
        for name, (_crc, data) in pages.items():
            archive.writestr(name, data)
        archive.writestr("ComicInfo.xml", edited)
    again = tag_folder(settings, db, client, tmp_path / "library")
    assert again.count(OutcomeState.SKIPPED) == 1, [o.reason for o in again.outcomes]
    assert "edited by another tool" in again.outcomes[0].reason
    with open_archive(sample.path) as comic:
        assert comic.comicinfo_bytes() == edited
    assert db.files.get(sample.path)["status"] == "success"
    third = tag_folder(settings, db, client, tmp_path / "library", force=True)
    assert third.count(OutcomeState.DONE) == 1


def test_below_the_review_threshold_nothing_is_queued_and_the_file_is_recorded_as_not_matched(env, site, tmp_path):
    settings, db, client, _ = env
    raw = {key: value for key, value in settings.raw.items()}
    raw["matching"] = {**raw.get("matching", {}), "review_threshold": 0.9, "accept_threshold": 0.95}
    strict = from_mapping(raw)
    present = albums_of(site, 1)
    absent = [CatalogueAlbum(0, present[0].series, "97", None)]
    samples = build_library(tmp_path / "library", [], absent, broken=0)
    summary = tag_folder(strict, db, client, tmp_path / "library")
    (outcome,) = summary.outcomes
    assert outcome.state == OutcomeState.SKIPPED
    assert outcome.reason.startswith("not matched: no candidate above the review threshold"), outcome.reason
    assert db.reviews.waiting() == []
    row = db.files.get(samples[0].path)
    assert (row["status"], row["decision"], row["bdgest_id"]) == ("skipped", "none", None)
    assert row["error_msg"] == outcome.reason
    with open_archive(samples[0].path) as comic:
        assert comic.comicinfo_bytes() is None


def test_a_run_finds_the_half_written_archive_of_a_run_killed_since_as_it_was(env, site, tmp_path):
    """Its database was opened before the other run died (so the opening did not take that write
    back): the file is taken back when this run comes to it, then tagged."""
    import os
    import socket
    import subprocess

    from bdnex_core.archives.inplace import WriteMethod, WritePolicy, journal_entry, plan_append

    settings, db, client, _ = env
    (sample,) = build_library(tmp_path / "library", albums_of(site, 1), broken=0)
    pages = page_bytes(sample.path)
    with open(sample.path, "rb") as handle:
        plan = plan_append(
            handle.fileno(), sample.path.stat().st_size, b"<ComicInfo/>", WritePolicy(WriteMethod.IN_PLACE)
        )
    dead = subprocess.Popen(["true"])
    dead.wait()
    entry = journal_entry(os.path.abspath(sample.path), sample.path.stat(), plan)
    db.archive_journal.begin({**entry.as_row(), "host": socket.gethostname(), "pid": dead.pid})
    with open(sample.path, "r+b") as handle:  # what the dead run had written of its tail
        handle.seek(plan.tail_offset)
        handle.write(plan.new_tail[:40])
    summary = tag_folder(settings, db, client, tmp_path / "library")
    assert summary.count(OutcomeState.DONE) == 1, [outcome.reason for outcome in summary.outcomes]
    assert page_bytes(sample.path) == pages
    assert db.archive_journal.pending() == []
