"""The review service on its own (what a web page will call): no prompt, no click."""

from __future__ import annotations

import json
import zipfile

import pytest

from bdnex_core.app.review import SKIPPED, WAITING, ReviewError, ReviewService, breakdown
from bdnex_core.cli import main
from bdnex_core.demo.fakesite import human
from bdnex_core.hashing import sha256_file
from bdnex_testing import review as review_env
from bdnex_testing.review import (
    comicinfo_bytes,
    comicinfo_of,
    make_env,
    series_entries,
    uncertain_file,
)

site = review_env.site  # the fake Bédéthèque site, one per module


def page_bytes(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "ComicInfo.xml"}


@pytest.fixture
def service(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    path = uncertain_file(tmp_path / "lib", entries[1])
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    yield ReviewService(settings, db), path, entries
    db.close()


def test_cards_preview_and_search_write_nothing(service):
    review, path, entries = service
    [entry] = review.entries(WAITING)
    cards = review.cards(entry.candidates)
    assert cards[0].series == human(entries[1].series_slug) and cards[0].tome == entries[1].tome
    assert cards[0].year and cards[0].publisher and cards[0].authors and cards[0].isbn
    assert cards[0].breakdown.startswith("series 1.00, tome 1.00, title ")
    json.dumps([card.to_dict() for card in cards])  # a web page gets them as JSON
    preview = review.preview(entry, entries[5].album_id)
    assert preview.changes["Number"] == (None, entries[5].tome)
    found = review.search(f"{human(entries[6].series_slug)} {entries[6].tome}")
    assert found[0]["album_id"] == entries[6].album_id
    more = review.more_candidates(entry.name, None, entry.candidates)
    assert more and not {c["album_id"] for c in more} & {c["album_id"] for c in entry.candidates}
    assert comicinfo_bytes(path) is None


def test_accept_skip_undo(service):
    review, path, entries = service
    [entry] = review.entries(WAITING)
    pages = page_bytes(path)
    with pytest.raises(ReviewError, match="nothing to undo"):
        review.undo()
    applied = review.accept(entry, entries[1].album_id)
    assert applied.backup_id is not None  # the file had no ComicInfo.xml, but its layout is kept
    assert comicinfo_of(path).get("Number") == entries[1].tome and review.entries(WAITING) == []
    review.undo()
    assert comicinfo_bytes(path) is None  # it had none: ours is removed, the pages are as they were
    assert page_bytes(path) == pages
    [again] = review.entries(WAITING)
    review.skip(again)
    assert review.entries(WAITING) == [] and [e.id for e in review.entries(SKIPPED)] == [again.id]


def test_undo_gives_the_file_back_byte_for_byte_once(service, tmp_path, capsys):
    """The review's `u` and `bdnex-core undo` are one mechanism: the whole file comes back, and the
    backup is spent (a later `bdnex-core undo` has nothing left to restore)."""
    review, path, entries = service
    [entry] = review.entries(WAITING)
    before = sha256_file(path)
    review.accept(entry, entries[1].album_id)
    assert sha256_file(path) != before
    review.undo()
    assert sha256_file(path) == before
    [back] = review.entries(WAITING)
    assert back.id == entry.id and review.db.files.get(path)["decision"] == "review"
    assert main(["--config", str(tmp_path / "config.yaml"), "undo", str(path)]) == 1
    assert "nothing to undo for this file" in capsys.readouterr().err
    assert sha256_file(path) == before


def test_undo_restores_a_file_that_had_its_own_comicinfo_byte_for_byte(site, tmp_path, database_location):
    settings, db, config = make_env(site, tmp_path, database_location)
    entries = series_entries(site, minimum=8)
    own = b"<?xml version='1.0'?>\n<ComicInfo><Series>Mine</Series><Notes>kept by hand</Notes></ComicInfo>"
    path = uncertain_file(tmp_path / "lib", entries[1])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:  # as another tool would
        archive.writestr("ComicInfo.xml", own)
        archive.comment = b"made elsewhere"
    assert main(["--config", str(config), "tag", str(tmp_path / "lib"), "--batch"]) == 0
    review = ReviewService(settings, db)
    [entry] = review.entries(WAITING)
    before = sha256_file(path)
    review.accept(entry, entries[1].album_id)
    review.undo()
    assert sha256_file(path) == before and comicinfo_bytes(path) == own
    db.close()


def test_breakdown_keeps_names_and_numbers_only():
    explain = (
        "series 1.00 (exact 'a, b'); tome 0.00 (3 != 4); title 0.37 ('x' ~ 'y'); CAP: tome number differs; "
        "CAP: title differs: the name says 'x, z', the album is 'y'"
    )
    assert breakdown(explain) == (
        "series 1.00, tome 0.00, title 0.37; not automatic: tome number differs, title differs"
    )  # no internal word ("cap") in what a person reads


def test_removing_comicinfo_keeps_every_page_byte_for_byte(tmp_path):
    """Undo of a first tagging removes our ComicInfo.xml, wherever it sits in the zip."""
    from bdnex_core.archives import write_comicinfo
    from bdnex_core.demo.samplelib import page_jpeg

    path = tmp_path / "a.cbz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("01.jpg", page_jpeg("one"))
        archive.writestr("ComicInfo.xml", b"<ComicInfo><Series>x</Series></ComicInfo>", zipfile.ZIP_DEFLATED)
        archive.writestr("02.jpg", page_jpeg("two"), zipfile.ZIP_DEFLATED)
    pages = page_bytes(path)
    write_comicinfo(path, None)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["01.jpg", "02.jpg"] and archive.testzip() is None
    assert page_bytes(path) == pages and comicinfo_bytes(path) is None
