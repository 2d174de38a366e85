"""Parsing Bédéthèque pages: the real Nains album and series pages, synthetic pages, and pages that are not albums."""

from __future__ import annotations

import json

import pytest

from bdnex_core.bedetheque.blocking import detect_block
from bdnex_core.bedetheque.parse import NotAnAlbumPage, TruncatedPage, parse_album_page, parse_series_page
from bdnex_core.bedetheque.sitemaps import parse_album_url
from bdnex_core.cli import main
from bdnex_core.demo.fakesite import BAN_PAGE, CHALLENGE_PAGE, FakeCatalogue, render_album_page
from bdnex_core.errors import BlockedError, ParseError

NAINS_URL = "https://m.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"


@pytest.fixture
def nains_html(bedetheque_fixtures):
    return (bedetheque_fixtures / "album" / "m-BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html").read_bytes()


def test_real_nains_album_page(nains_html, bedetheque_fixtures):
    album = parse_album_page(nains_html, NAINS_URL)
    assert album.series == "Nains" and album.title == "Redwin de la Forge" and album.tome == "1"
    assert album.album_id == 245127
    assert album.isbn == "978-2-302-04644-3"
    assert album.publisher == "Soleil Productions"
    assert album.writers == ["Jarry, Nicolas"]
    assert album.pencillers == ["Goux, Pierre-Denis"]
    assert album.colorists == ["Digikore Studios"]
    assert album.cover_artists == ["Goux, Pierre-Denis", "Saïto, Diogo"]
    assert album.release_date == "2015-06-03" and album.legal_deposit == "2015-06"
    assert (album.rating, album.votes) == (4.25, 105)
    assert album.planches == 56
    assert album.genre == "Fantasy" and album.origin == "Europe"
    assert [edition.album_id for edition in album.editions] == [245127, 289144, 383861]
    assert album.cover_url == "https://www.bedetheque.com/media/Couvertures/Couv_245127.jpg"
    assert album.summary.startswith("Redwin, fils d'Ulrog")
    assert album.summary.count("Redwin, fils d'Ulrog") == 1  # BDneX duplicated it
    assert album.url == "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    assert album.series_id == 47467
    expected = json.loads((bedetheque_fixtures / "expected" / "bdnex-parsed-245127.json").read_text("utf-8"))
    assert album.format == expected["Format"] and album.estimation == expected["Estimation"]
    assert album.year == 2015


def test_real_nains_series_page(bedetheque_fixtures):
    html = (bedetheque_fixtures / "series" / "m-serie-47467-BD-Nains.html").read_bytes()
    series = parse_series_page(html, "https://m.bedetheque.com/serie-47467-BD-Nains.html")
    assert series.series_id == 47467 and series.title == "Nains"
    assert series.genre == "Fantasy" and series.origin == "Europe" and series.language == "Français"
    assert series.years == "2015-2022"
    assert series.abstract.startswith("Redwin, fils d'Ulrog")
    assert series.album_count == len(series.albums) == 26
    first = series.albums[0]
    assert (first.album_id, first.tome, first.title, first.publisher, first.legal_deposit) == (
        245127,
        "1",
        "Redwin de la Forge",
        "Soleil Productions",
        "2015-06",
    )
    assert "Terres d'Arran" in series.tags


def test_pseudo_authors_and_continuation_lines_survive():
    html = """<html><body><ul id="album-detail">
    <li><label>Titre : </label>Le Temple</li>
    <li><label>Scénario :</label><a href="/a">Sfar, Joann</a></li>
    <li><label>Couleurs :</label><N&B></li>
    <li class="no-border"><label></label><Quadrichromie></li>
    <li><label>Lettrage :</label><Indéterminé></li>
    <li><label>Identifiant : </label>12345</li>
    </ul></body></html>"""
    album = parse_album_page(html, "https://m.bedetheque.com/BD-x-12345.html")
    assert album.colorists == ["<N&B>", "<Quadrichromie>"]
    assert album.letterers == ["<Indéterminé>"]
    assert album.writers == ["Sfar, Joann"] and album.title == "Le Temple"


def test_synthetic_pages_of_the_fake_site_parse_like_real_ones():
    entry = parse_album_url(
        "https://www.bedetheque.com/BD-Les-Tuniques-Bleues-Tome-12-La-grande-patrouille-900123.html"
    )
    album = parse_album_page(render_album_page(entry, FakeCatalogue()), "http://127.0.0.1/BD-x-900123.html")
    assert (album.series, album.tome, album.title, album.album_id) == (
        "Les Tuniques Bleues",
        "12",
        "La grande patrouille",
        900123,
    )
    assert album.writers and album.publisher and album.isbn and album.release_date and album.rating is not None


@pytest.mark.parametrize(
    ("page", "error", "fragment"),
    [
        (CHALLENGE_PAGE, BlockedError, "challenge"),
        (BAN_PAGE.format(ip="1.2.3.4"), BlockedError, "IP ban"),
        (
            "<html><head><title>Page introuvable</title></head><body>Erreur 404</body></html>",
            NotAnAlbumPage,
            "does not exist",
        ),
        ('<html><body><div class="info-serie"><h3>Nains</h3></div></body></html>', NotAnAlbumPage, "series page"),
        ("", TruncatedPage, "empty"),
    ],
)
def test_pages_that_are_not_album_pages(page, error, fragment):
    with pytest.raises(error, match=fragment) as raised:
        parse_album_page(page, "https://m.bedetheque.com/BD-x-1.html")
    assert "\n" not in str(raised.value) and "BD-x-1.html" in str(raised.value)


def test_truncated_album_page(nains_html):
    cut = nains_html[: nains_html.index(b"Dessin")]
    with pytest.raises(ParseError, match="cut"):
        parse_album_page(cut, NAINS_URL)


def test_block_detection():
    assert detect_block(200, BAN_PAGE.format(ip="9.9.9.9")).detail == "9.9.9.9"
    assert detect_block(403, CHALLENGE_PAGE).kind == "challenge"
    assert detect_block(200, "<html>Bienvenue sur Bedetheque</html>") is None


def test_album_cli_offline_json(bedetheque_fixtures, capsys):
    page = bedetheque_fixtures / "album" / "m-BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    assert main(["album", "--html", str(page), "--url", NAINS_URL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["album_id"] == 245127 and data["writers"] == ["Jarry, Nicolas"]


def test_real_page_editions_and_edition_info(nains_html, bedetheque_fixtures):
    album = parse_album_page(nains_html, NAINS_URL)
    expected = json.loads((bedetheque_fixtures / "expected" / "bdnex-parsed-245127.json").read_text("utf-8"))
    assert [edition.label for edition in album.editions] == expected["3_éditions"].split("\n")
    assert album.edition_info.startswith('Noté "Première édition"')
    assert album.estimation == "non coté" and album.format == "Grand format" and album.created_on == "2015-05-05"
    assert album.summary == expected["description"].split("\n Redwin, fils")[0]  # BDneX's text, once


def test_pseudo_authors_inside_the_real_page(nains_html):
    """``<N&B>`` as the colourist and ``<Quadrichromie>`` on a continuation line, in the real markup."""
    start = nains_html.index(b'<a href="https://m.bedetheque.com/auteur-18954-BD-Digikore-Studios.html"')
    end = nains_html.index(b"</a>", start) + len(b"</a>")
    page = nains_html[:start] + b"<N&B>" + nains_html[end:]
    page = page.replace(
        b'<li class="no-border">\n                        <label></label>',
        b'<li class="no-border"><label></label><Quadrichromie></li><li class="no-border">\n<label></label>',
        1,
    )
    album = parse_album_page(page, NAINS_URL)
    assert album.colorists == ["<N&B>"]
    assert album.cover_artists == ["Goux, Pierre-Denis", "<Quadrichromie>", "Saïto, Diogo"]
    assert album.publisher == "Soleil Productions" and album.isbn == "978-2-302-04644-3"
