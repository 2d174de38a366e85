"""Album URL slugs (every tome form, all real sitemap URLs) and cover perceptual hashes."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw, ImageFilter

from bdnex_core.bedetheque.sitemaps import iter_album_entries, parse_album_url
from bdnex_core.config import MatchingSettings
from bdnex_core.errors import ParseError
from bdnex_core.matching.cover import CoverHash, hash_cover, hash_image, similarity
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex
from bdnex_core.matching.matcher import Matcher

BASE = "https://www.bedetheque.com/"


@pytest.mark.parametrize(
    ("path", "series", "tome", "number", "kind", "title"),
    [
        ("BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html", "Nains", "1", 1, "regular", "Redwin-de-la-Forge"),
        ("BD-Spirou-Tome-0-La-voleuse-1.html", "Spirou", "0", 0, "regular", "La-voleuse"),
        ("BD-Thorgal-Tome-1a-La-magicienne-2.html", "Thorgal", "1a", 1, "regular", "La-magicienne"),
        ("BD-Blueberry-Tome-5INT-Le-cavalier-3.html", "Blueberry", "INT5", 5, "int", "Le-cavalier"),
        ("BD-Asterix-Tome-2VC-La-serpe-d-or-4.html", "Asterix", "2VC", 2, "regular", "La-serpe-d-or"),
        ("BD-Largo-Winch-INT-Integrale-5.html", "Largo-Winch", "INT", None, "int", "Integrale"),
        ("BD-Largo-Winch-INT11-Integrale-11-6.html", "Largo-Winch", "INT11", 11, "int", "Integrale-11"),
        (
            "BD-Blake-et-Mortimer-HS2-Le-dernier-Pharaon-7.html",
            "Blake-et-Mortimer",
            "HS2",
            2,
            "hs",
            "Le-dernier-Pharaon",
        ),
        ("BD-Blake-et-Mortimer-HS-Le-secret-8.html", "Blake-et-Mortimer", "HS", None, "hs", "Le-secret"),
        ("BD-Tintin-J1-Le-journal-9.html", "Tintin", "J1", 1, "regular", "Le-journal"),
        ("BD-JLA-1997-INTHC04-248829.html", "JLA-1997", "INT4HC", 4, "int", ""),
        ("BD-Garulfo-INT1TT-247253.html", "Garulfo", "INT1TT", 1, "int", ""),
        (
            "BD-Blagues-de-Toto-HSBO2-Vacances-a-la-blague-248958.html",
            "Blagues-de-Toto",
            "HS2BO",
            2,
            "hs",
            "Vacances-a-la-blague",
        ),
        (
            "BD-Quelque-part-entre-les-ombres-10.html",
            "Quelque-part-entre-les-ombres",
            None,
            None,
            None,
            "Quelque-part-entre-les-ombres",
        ),
    ],
)
def test_album_url_tome_forms(path, series, tome, number, kind, title):
    entry = parse_album_url(BASE + path)
    assert entry is not None
    assert (entry.series_slug, entry.tome, entry.tome_number, entry.tome_kind, entry.title_slug) == (
        series,
        tome,
        number,
        kind,
        title,
    )
    assert entry.album_id == int(path.rsplit("-", 1)[1].split(".")[0])


def test_non_album_urls_are_refused():
    assert parse_album_url(BASE + "serie-47467-BD-Nains.html") is None
    assert parse_album_url(BASE + "media/Couvertures/Couv_245127.jpg") is None


def test_every_real_sitemap_url_splits(bedetheque_fixtures):
    """All 11,536 real URLs: none left as a one-shot while it carries a tome marker."""
    files = sorted((bedetheque_fixtures / "sitemaps").glob("albums_*_map.xml"))
    entries = [entry for path in files for entry in iter_album_entries(str(path))]
    assert len(entries) == 11536
    unsplit = [e.url for e in entries if e.tome is None and re.search(r"-(Tome-\d|INT|HS\d|J\d)", e.url)]
    assert unsplit == []
    assert all(e.series_slug for e in entries)
    assert len({e.album_id for e in entries}) == len(entries)


def _poster(seed: int) -> Image.Image:
    image = Image.new("RGB", (300, 420), (240, 230, 200))
    draw = ImageDraw.Draw(image)
    for step in range(12):
        x = (seed * 37 + step * 53) % 260
        y = (seed * 91 + step * 29) % 380
        draw.rectangle((x, y, x + 40 + step * 3, y + 30), fill=((seed * 40 + step * 20) % 255, 60, 120))
    return image


def test_cover_hash_survives_resizing_and_blur_but_separates_covers():
    original = hash_image(_poster(1))
    degraded = hash_image(_poster(1).resize((150, 210)).filter(ImageFilter.GaussianBlur(1)))
    other = hash_image(_poster(2))
    assert similarity(original, degraded) >= 0.9
    assert similarity(original, other) < 0.8
    assert CoverHash.from_hex(original.to_hex()) == original


def test_cover_hash_on_real_covers(bedetheque_fixtures):
    covers = bedetheque_fixtures / "covers"
    photo = hash_cover(covers / "archive-page-Nains-1-00a.jpg")
    tome1 = hash_cover((covers / "Couv_245127.jpg").read_bytes())
    tome3 = hash_cover(covers / "Couv_272757.jpg")
    assert similarity(photo, tome1) > 0.85
    assert similarity(photo, tome1) - similarity(photo, tome3) > 0.2


def test_unreadable_cover_is_a_parse_error(tmp_path):
    bad = tmp_path / "cover.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ParseError, match="cover.jpg"):
        hash_cover(bad)


def test_cover_hashes_tell_two_printings_apart():
    # the same tome listed twice (a reprint with its own id): only the cover can tell them apart
    urls = [
        BASE + "BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
        BASE + "BD-Nains-Tome-1-Redwin-de-la-Forge-245128.html",
    ]
    entries = [parse_album_url(url) for url in urls]
    index = CatalogueIndex.build(
        (e.album_id, e.url, e.series_norm, e.tome, e.tome_number, e.tome_kind, e.title_norm) for e in entries
    )
    matcher = Matcher(index, MatchingSettings())
    parsed = parse_filename("Nains - T01 - Redwin de la Forge.cbz")
    assert matcher.match(parsed).decision == "review"  # ambiguous without covers
    mine = hash_image(_poster(3))
    result = matcher.match(
        parsed, cover_hash=mine, cover_hashes_by_album={245127: hash_image(_poster(4)), 245128: mine}
    )
    assert result.best is not None and result.best.album_id == 245128
    assert "cover" in result.best.explain()
