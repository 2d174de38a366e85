"""Pages that are not the album page asked for: each kind raises its own one-line error naming the URL."""

from __future__ import annotations

import pytest

from bdnex_core.bedetheque.blocking import detect_block
from bdnex_core.bedetheque.parse import (
    BlockedPage,
    NotAnAlbumPage,
    TruncatedPage,
    escape_pseudo_authors,
    parse_album_page,
    parse_series_page,
)
from bdnex_core.errors import BlockedError, ParseError

URL = "https://m.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
CHALLENGE_PAGES = [
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>",
    '<html><body><div id="cf-browser-verification">Please wait</div></body></html>',
    '<html><body><form action="/?__cf_chl_tk=abc"><script src="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1">'
    "</script></form> Cloudflare</body></html>",
]


@pytest.fixture
def nains_html(bedetheque_fixtures):
    return (bedetheque_fixtures / "album" / "m-BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html").read_bytes()


def one_line_naming_url(error: Exception) -> None:
    assert "\n" not in str(error) and URL in str(error)


@pytest.mark.parametrize("body", CHALLENGE_PAGES)
def test_challenge_pages(body):
    with pytest.raises(BlockedPage, match="Cloudflare challenge") as raised:
        parse_album_page(body, URL)
    assert raised.value.block.kind == "challenge" and isinstance(raised.value, BlockedError)
    assert isinstance(raised.value, ParseError) and raised.value.exit_code == BlockedError.exit_code
    one_line_naming_url(raised.value)


@pytest.mark.parametrize("ip", ["203.0.113.7", "2001:db8::1"])
def test_ban_page_names_the_ip(ip):
    body = f"<html><head><title>Bedetheque</title></head><body><h1>Bloquage de l'IP : {ip}</h1></body></html>"
    with pytest.raises(BlockedPage, match="IP ban") as raised:
        parse_album_page(body.encode(), URL)
    assert raised.value.block.detail == ip and ip in str(raised.value)
    one_line_naming_url(raised.value)
    with pytest.raises(BlockedPage):
        parse_series_page(body, URL)


def test_detect_block_rules():
    assert detect_block(503, CHALLENGE_PAGES[0]).kind == "challenge"
    assert detect_block(403, b'<div class="g-recaptcha"></div>').kind == "challenge"
    assert detect_block(200, "Bloquage de l'IP : 10.1.2.3").detail == "10.1.2.3"
    assert detect_block(None, None) is None and detect_block(404, "") is None
    # An ordinary album page that mentions a moment in its summary is not a challenge.
    assert detect_block(200, "<html><body>Un moment de grâce</body></html>") is None


def test_page_not_found():
    body = "<html><head><title>Bedetheque - Page introuvable</title></head><body><h1>Oups</h1></body></html>"
    with pytest.raises(NotAnAlbumPage, match="does not exist") as raised:
        parse_album_page(body, URL)
    one_line_naming_url(raised.value)


def test_real_series_page_given_as_album(bedetheque_fixtures):
    html = (bedetheque_fixtures / "series" / "m-serie-47467-BD-Nains.html").read_bytes()
    with pytest.raises(NotAnAlbumPage, match="series page") as raised:
        parse_album_page(html, URL)
    one_line_naming_url(raised.value)


def test_real_album_page_given_as_series(nains_html):
    with pytest.raises(NotAnAlbumPage, match="album page"):
        parse_series_page(nains_html, URL)


@pytest.mark.parametrize("cut_before", [b'id="album-detail"', b"Dessin", b"ISBN", b"</html>"])
def test_truncated_real_page(nains_html, cut_before):
    with pytest.raises(TruncatedPage, match="cut") as raised:
        parse_album_page(nains_html[: nains_html.index(cut_before)], URL)
    one_line_naming_url(raised.value)


def test_empty_and_non_html_pages():
    with pytest.raises(TruncatedPage, match="empty"):
        parse_album_page(b"   ", URL)
    with pytest.raises(NotAnAlbumPage):
        parse_album_page("<html><body><p>Bienvenue</p></body></html>", URL)


def test_escaping_keeps_real_tags_and_frees_pseudo_authors():
    source = "<li><label>Couleurs :</label><N&B><BR><Collectif> <b>gras</b> <Indéterminé></li>"
    escaped = escape_pseudo_authors(source)
    assert "&lt;N&amp;B&gt;" in escaped and "&lt;Collectif&gt;" in escaped and "&lt;Indéterminé&gt;" in escaped
    assert "<BR>" in escaped and "<b>gras</b>" in escaped and "<li><label>" in escaped


def test_cloudflare_beacon_in_a_real_page_is_not_a_challenge(nains_html):
    beacon = (
        b"<script>(function(){window.__CF$cv$params={r:'8f',t:'MTcz'};var a=document.createElement('script');"
        b"a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';document.head.appendChild(a);})();</script>"
    )
    page = nains_html.replace(b"</body>", beacon + b"</body>")
    assert parse_album_page(page, URL).album_id == 245127
    assert detect_block(200, beacon) is None


def test_comments_and_processing_instructions_in_values_are_ignored(nains_html):
    # a comment among an item's children stopped the whole run ("unexpected ValueError" from lxml)
    page = nains_html.replace(b"<label>Editeur : </label>", b"<label>Editeur : </label><!-- pub --><?php x ?>")
    album = parse_album_page(page, URL)
    assert album.publisher == parse_album_page(nains_html, URL).publisher and album.publisher


def test_xml_illegal_characters_are_dropped(nains_html):
    page = nains_html.replace(b"Redwin", "Red\ufffe\x01win".encode())
    album = parse_album_page(page, URL)
    assert album.title == "Redwin de la Forge" and "Redwin" in (album.summary or "")
