"""Album URL slugs: every tome form, all real sitemap URLs."""

from __future__ import annotations

import re

import pytest

from bdnex_core.bedetheque.sitemaps import iter_album_entries, parse_album_url

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
