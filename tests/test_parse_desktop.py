"""The desktop templates (2026 ``bdt-*`` and the older label lists), from our own fixture pages."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from bdnex_core.bedetheque import parse_desktop
from bdnex_core.bedetheque.parse import NotAnAlbumPage, TruncatedPage, parse_album_page, parse_series_page

DESKTOP = Path(__file__).parent / "fixtures" / "bedetheque_desktop"
ALBUM_URL = "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
SERIES_URL = "https://www.bedetheque.com/serie-47467-BD-Nains.html"


def page(name: str) -> bytes:
    return (DESKTOP / name).read_bytes()


@pytest.mark.parametrize(
    "name", ["BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html", "BD-Nains-Tome-1-Redwin-de-la-Forge-245127-older.html"]
)
def test_desktop_album_pages_give_the_acceptance_facts(name):
    album = parse_album_page(page(name), ALBUM_URL)
    assert (album.series, album.series_id, album.tome, album.title, album.album_id) == (
        "Nains",
        47467,
        "1",
        "Redwin de la Forge",
        245127,
    )
    assert album.isbn == "978-2-302-04644-3" and album.publisher == "Soleil Productions"
    assert album.writers == ["Jarry, Nicolas"] and album.pencillers == ["Goux, Pierre-Denis"]
    assert album.colorists == ["Digikore Studios"]
    assert album.cover_artists == ["Goux, Pierre-Denis", "Saïto, Diogo"]
    assert (album.release_date, album.legal_deposit) == ("2015-06-03", "2015-06")
    assert (album.rating, album.votes, album.planches) == (4.25, 105, 56)
    assert album.collection == "Terres de Légendes" and album.format == "Format normal"
    assert album.estimation == "de 10 à 15 euros"
    assert album.summary == "Redwin, fils d'Ulrog, est un forgeron de l'Ordre de la Forge."
    assert album.cover_url == "https://www.bedetheque.com/media/Couvertures/Couv_245127.jpg"


def test_bdt_album_page_header_and_pseudo_author():
    album = parse_album_page(page("BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"), ALBUM_URL)
    assert album.genre == "Fantasy" and album.origin == "Europe"
    assert album.letterers == ["<N&B>"]
    assert album.other_info == "Couverture cartonnée"


def test_older_album_page_label_template():
    album = parse_album_page(page("BD-Nains-Tome-1-Redwin-de-la-Forge-245127-older.html"), ALBUM_URL)
    assert album.letterers == ["<Quadrichromie>"]  # literal text in angle brackets, not a tag
    assert album.created_on == "2015-04-29"
    assert album.rating == 4.25  # "4,25" with a French decimal comma


def test_bdt_series_page():
    series = parse_series_page(page("serie-47467-BD-Nains.html"), SERIES_URL)
    assert (series.series_id, series.title, series.status, series.years) == (47467, "Nains", "Série finie", "2015-2022")
    assert series.genre == "Fantasy, Heroic Fantasy" and series.tags == ["Fantasy", "Heroic Fantasy"]
    assert (series.origin, series.language, series.album_count) == ("Europe", "Français", 3)
    assert series.abstract.startswith("Les nains de l'Ordre du Temple") and "Terres d'Arran" in series.abstract
    assert [(a.album_id, a.tome, a.title) for a in series.albums] == [
        (245127, "1", "Redwin de la Forge"),
        (250512, "2", "Oyrun du Talion"),
        (383861, "INT1", "Intégrale"),
    ]
    first, second, third = series.albums
    assert first.url == ALBUM_URL and first.publisher == "Soleil Productions" and first.legal_deposit == "2015-06"
    assert first.cover_url == "https://www.bedetheque.com/cache/thb_couv/Couv_245127.jpg"
    assert second.legal_deposit == "2015-09" and third.legal_deposit is None and third.cover_url is None


def test_bdt_series_page_albums_carry_full_details():
    document = lxml.html.document_fromstring(page("serie-47467-BD-Nains.html").decode())
    albums = parse_desktop.parse_desktop_series_albums(document, SERIES_URL)
    first, second, _ = albums
    assert first.series == "Nains" and first.series_id == 47467 and first.isbn == "978-2-302-04644-3"
    assert first.release_date == "2015-06-03" and first.rating == 4.3 and first.votes == 105
    assert first.cover_artists == ["Goux, Pierre-Denis", "Saïto, Diogo"]
    assert second.pencillers == ["Maconi, Paolo"] and second.planches == 54


def test_series_page_given_as_album_and_album_given_as_series():
    with pytest.raises(NotAnAlbumPage, match="series page"):
        parse_album_page(page("serie-47467-BD-Nains.html"), SERIES_URL)
    with pytest.raises(NotAnAlbumPage, match="album page"):
        parse_series_page(page("BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"), ALBUM_URL)


@pytest.mark.parametrize(
    "name", ["BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html", "BD-Nains-Tome-1-Redwin-de-la-Forge-245127-older.html"]
)
def test_cut_desktop_album_page(name):
    whole = page(name)
    with pytest.raises(TruncatedPage, match="cut") as raised:
        parse_album_page(whole[: whole.index(b"Planches")], ALBUM_URL)
    assert ALBUM_URL in str(raised.value) and "\n" not in str(raised.value)


def test_missing_fields_are_tolerated():
    html = """<html><body><section class="bdt-ah bdt-ah--album"></section>
    <article class="bdt-edition" itemscope itemtype="https://schema.org/Book"><a name="77"></a></article>
    </body></html>"""
    album = parse_album_page(html, "https://www.bedetheque.com/BD-x-77.html")
    assert album.album_id == 77 and album.title == "" and album.series is None and album.writers == []


def test_desktop_series_record_and_a_bare_series_page():
    from bdnex_core.bedetheque.series import SeriesRecord

    record = SeriesRecord.from_page(parse_series_page(page("serie-47467-BD-Nains.html"), SERIES_URL))
    assert (record.series_id, record.slug, record.template, record.normal_status) == (
        47467,
        "Nains",
        "desktop",
        "ended",
    )
    assert record.genres == ["Fantasy", "Heroic Fantasy"] and record.language == "Français"
    assert record.publisher == "Soleil Productions" and record.publishers == ["Soleil Productions"]
    assert (record.tome_count, record.album_count) == (2, 3)  # tomes 1 and 2, and an intégrale
    bare = """<html><body><section class="bdt-ah bdt-ah--serie"><h1>Sans rien</h1></section>
    <article class="bdt-edition" itemscope itemtype="https://schema.org/Book"><a name="77"></a></article>
    </body></html>"""
    series = parse_series_page(bare, "https://www.bedetheque.com/serie-5-BD-Sans-rien__10000.html")
    record = SeriesRecord.from_page(series)
    assert (record.series_id, record.title, record.slug, record.album_ids) == (5, "Sans rien", "Sans-rien", [77])
    assert record.url == "https://www.bedetheque.com/serie-5-BD-Sans-rien.html"
    assert record.publisher is None and record.tome_count is None and record.summary is None
    assert series.full_albums[0].filled_from == "series_page"
