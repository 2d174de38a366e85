"""Cover fingerprints: the hashes, the archive's cover page, storage, and the real pair of ../shared."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bdnex_core.covers.fingerprint import (
    CoverFingerprint,
    Verdict,
    compare,
    fingerprint_bytes,
    fingerprint_image,
)
from bdnex_core.covers.pages import archive_cover, frontcover_index, not_a_cover
from bdnex_core.db import BDneXDB
from bdnex_core.demo.covers import Edition, blank_page, cover_image, credits_page, jpeg, scan_of, scan_recipe


def test_help_does_not_import_imaging() -> None:
    """`--help` stays as fast as before: neither Pillow nor the cover code is loaded."""
    probe = (
        "import sys\n"
        "from bdnex_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('PIL', 'imagehash', 'numpy')"
        " or name.startswith('bdnex_core.covers'))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "LOADED []" in out.stdout, out.stdout[-500:]


def test_fingerprint_text_round_trip_and_damaged_text() -> None:
    fingerprint = fingerprint_image(cover_image(1, 2), reference=True)
    assert len(fingerprint.views) == 9
    text = fingerprint.to_text()
    assert text.startswith("c1:")
    assert CoverFingerprint.from_text(text) == fingerprint
    assert CoverFingerprint.from_text("c0:" + text[3:]) is None
    assert CoverFingerprint.from_text("c1:zz") is None
    assert CoverFingerprint.from_text("c1:" + text[3:20]) is None


def test_scan_of_a_cover_is_same_and_another_tome_of_the_series_is_not() -> None:
    tome1, tome3 = cover_image(7, 701), cover_image(7, 703)
    site1 = fingerprint_bytes(jpeg(tome1), reference=True)
    site3 = fingerprint_bytes(jpeg(tome3), reference=True)
    recipe = scan_recipe(12)
    scan = fingerprint_bytes(jpeg(scan_of(tome1, recipe, 12), 45))
    assert compare(scan, site1).verdict == Verdict.SAME
    assert compare(scan, site3).verdict == Verdict.DIFFERENT
    assert compare(site1, site3).describe().startswith("different (distance ")


def test_an_edition_keeping_the_art_is_the_same_cover_and_new_art_is_not() -> None:
    first = fingerprint_image(cover_image(3, 300), reference=True)
    recoloured = fingerprint_image(cover_image(3, 300, Edition(band_colour=True, colours=0.2)))
    new_art = fingerprint_image(cover_image(3, 300 + 7_777_777))
    assert compare(recoloured, first).verdict == Verdict.SAME
    assert compare(new_art, first).verdict != Verdict.SAME


def test_a_spread_matches_by_its_right_half() -> None:
    from dataclasses import replace

    cover = cover_image(5, 501)
    recipe = replace(scan_recipe(3), spread=True, sticker=False)
    spread = scan_of(cover, recipe, 3)
    assert spread.size[0] > spread.size[1]
    fingerprint = fingerprint_bytes(jpeg(spread, 85))
    assert len(fingerprint.views) == 2
    assert compare(fingerprint, fingerprint_image(cover, reference=True)).verdict == Verdict.SAME


def _cbz(path: Path, pages: list[bytes], comicinfo: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for number, data in enumerate(pages):
            archive.writestr(f"p{number:03d}.jpg", data)
        if comicinfo is not None:
            archive.writestr("ComicInfo.xml", comicinfo)
    return path


def test_archive_cover_skips_a_blank_and_a_credits_page(tmp_path: Path) -> None:
    cover, inner = jpeg(cover_image(9, 901)), jpeg(cover_image(4, 402))
    assert not_a_cover(blank_page()) == "blank"
    assert not_a_cover(credits_page(1)) == "a credits page"
    assert not_a_cover(cover_image(9, 901)) is None
    chosen = archive_cover(_cbz(tmp_path / "a.cbz", [jpeg(blank_page()), jpeg(credits_page(2)), cover, inner]))
    assert chosen is not None and chosen.page == "p002.jpg"
    assert chosen.why == "page 3 (page 1 is blank; page 2 is a credits page)"
    plain = archive_cover(_cbz(tmp_path / "b.cbz", [cover, inner]))
    assert plain is not None and (plain.page, plain.why) == ("p000.jpg", "first page")


def test_archive_cover_follows_comicinfo_front_cover(tmp_path: Path) -> None:
    comicinfo = (
        '<ComicInfo><Pages><Page Image="0" Type="Story"/><Page Image="1" Type="FrontCover"/></Pages></ComicInfo>'
    )
    assert frontcover_index(comicinfo.encode()) == 1
    pages = [jpeg(cover_image(4, 402)), jpeg(cover_image(9, 901))]
    chosen = archive_cover(_cbz(tmp_path / "c.cbz", pages, comicinfo))
    assert chosen is not None and (chosen.page, chosen.why) == ("p001.jpg", "ComicInfo FrontCover")


def test_fingerprints_kept_per_content_hash_and_per_album(database_location: str) -> None:
    db = BDneXDB(database_location)
    try:
        text = fingerprint_image(cover_image(1, 1)).to_text()
        assert db.covers.file_cover("ab" * 32) is None
        db.covers.keep_file_cover("ab" * 32, text, "p000.jpg (first page)")
        db.covers.keep_file_cover("ab" * 32, text, "p000.jpg (first page)")  # again: one row
        assert db.covers.file_cover("ab" * 32) == text
        db.covers.keep_album_cover(245127, text, "https://www.bedetheque.com/media/Couvertures/Couv_245127.jpg")
        assert db.covers.album_cover(245127) == text
        assert db.covers.album_cover(272757) is None
    finally:
        db.close()


@pytest.fixture
def real_covers(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "bedetheque" / "covers"


def test_real_pair_same_album_and_other_tome_different(real_covers: Path) -> None:
    """The scan of Nains tome 1 (sticker, 2560×3591) against the site's covers of tomes 1 and 3."""
    scan = fingerprint_bytes((real_covers / "archive-page-Nains-1-00a.jpg").read_bytes())
    tome1 = fingerprint_bytes((real_covers / "Couv_245127.jpg").read_bytes(), reference=True)
    tome3 = fingerprint_bytes((real_covers / "Couv_272757.jpg").read_bytes(), reference=True)
    same, other = compare(scan, tome1), compare(scan, tome3)
    assert same.verdict == Verdict.SAME and same.phash_distance <= 8
    assert other.verdict == Verdict.DIFFERENT and other.phash_distance >= 20
