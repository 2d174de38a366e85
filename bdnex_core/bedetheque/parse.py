"""Parsers for Bédéthèque pages (lxml.html): the mobile album and series pages.

The mobile album page lists its facts as ``<li><label>Key :</label>value</li>`` in
``ul#album-detail``. Two traps: a ``li.no-border`` with an empty label continues the
previous role (a second cover artist), and pseudo-authors such as ``<N&B>`` are written
as literal text in angle brackets, which an HTML parser would take for tags.
A page that is not the page expected raises a specific :class:`ParseError`. A desktop page is
handed to :mod:`parse_desktop`; what both read is in :mod:`page_parts`.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from bdnex_core.bedetheque import parse_desktop
from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.page_parts import (
    NUMBERED_TITLE,
    SERIES_ID,
    TRAILING_ID,
    BlockedPage,
    NotAnAlbumPage,
    Series,
    SeriesAlbum,
    TruncatedPage,
    _document,
    _ends_properly,
    _first_line,
    _iso_from_my,
    _source,
    _text,
    escape_pseudo_authors,
    fill_from_detail_items,
)
from bdnex_core.errors import ParseError

# what callers have imported from here since the page parts were split out
__all__ = [
    "BlockedPage",
    "NotAnAlbumPage",
    "Series",
    "SeriesAlbum",
    "TruncatedPage",
    "escape_pseudo_authors",
    "parse_album_page",
    "parse_series_page",
]


def parse_album_page(html: str | bytes, url: str) -> Album:
    """Parse an album page (the mobile page, or either desktop template) into an :class:`Album`."""
    document = _document(html, url)
    details = document.find(".//ul[@id='album-detail']")
    if details is None:
        title = _text(document.find(".//title")).lower()
        if document.find(".//div[@class='info-serie']") is not None or parse_desktop.is_desktop_series(document):
            raise NotAnAlbumPage("this is a series page, not an album page", path=url)
        if parse_desktop.is_desktop_album(document):
            if not _ends_properly(_source(html)):
                raise TruncatedPage("the page is cut before its end (no </html>)", path=url)
            return parse_desktop.parse_desktop_album(document, url)
        if "introuvable" in title or "404" in title or "erreur" in title or "not found" in title:
            raise NotAnAlbumPage("the site says this page does not exist", path=url)
        if document.find(".//body") is None or "</html>" not in (
            html if isinstance(html, str) else html.decode("utf-8", "replace")
        ):
            raise TruncatedPage("the page is cut before the album details", path=url)
        raise NotAnAlbumPage("no album details on this page", path=url)
    source = html if isinstance(html, str) else html.decode("utf-8", "replace")
    if "</ul>" not in source[source.find('id="album-detail"') :]:
        raise TruncatedPage("the page is cut inside the album details", path=url)
    if not _ends_properly(source):
        raise TruncatedPage("the page is cut after the album details (no </html>)", path=url)

    found_id = TRAILING_ID.search(url)
    album = Album(album_id=int(found_id.group(1)) if found_id else 0, url=url)
    fill_from_detail_items(album, details.iter("li"), url)
    if not album.album_id:
        raise NotAnAlbumPage("no album id in the page or its URL", path=url)
    canonical = document.find(".//link[@rel='canonical']")
    if canonical is not None and TRAILING_ID.search(canonical.get("href") or ""):
        album.url = canonical.get("href").strip()  # the stable www URL, whatever page we were given
    slider = document.find(".//div[@id='album-slider']")
    cover = None
    if slider is not None:
        cover = next((img for img in slider.iter("img") if (img.get("alt") or "").lower() == "couverture"), None)
    if cover is not None and cover.get("src"):
        album.cover_url = urljoin(url, cover.get("src"))
    return album


def parse_series_page(html: str | bytes, url: str) -> Series:
    """Parse a mobile series page: title, genre, origin, language, status, years, abstract, albums."""
    document = _document(html, url)
    info = document.find(".//div[@class='info-serie']")
    if info is None:
        if parse_desktop.is_desktop_series(document):
            if not _ends_properly(_source(html)):
                raise TruncatedPage("the series page is cut before its end (no </html>)", path=url)
            return parse_desktop.parse_desktop_series(document, url)
        if document.find(".//ul[@id='album-detail']") is not None or parse_desktop.is_desktop_album(document):
            raise NotAnAlbumPage("this is an album page, not a series page", path=url)
        raise ParseError("no series information on this page", path=url)
    found_id = SERIES_ID.search(url)
    series = Series(series_id=int(found_id.group(1)) if found_id else None, url=url, title=_text(info.find("h3")))
    origin_line = info.find("h4")
    if origin_line is not None:
        style = origin_line.find(".//span[@class='serie-style']")
        series.genre = _text(style).lstrip("/ ").strip() or None
        series.genres = [series.genre] if series.genre else []
        origin_text = _text(origin_line).replace(_text(style), "") if style is not None else _text(origin_line)
        series.origin = origin_text.strip() or None
    details = info.find("h5")
    if details is not None:
        status = details.find(".//span[@class='parution']")
        series.status = _text(status) or None
        text = _text(details).replace(_text(status), "") if status is not None else _text(details)
        years = re.search(r"\d{4}(?:\s*-\s*\d{4})?", text)
        series.years = years.group().replace(" ", "") if years else None
        series.language = text[: years.start()].strip() if years else text.strip() or None
    series.tags = [_text(tag) for tag in info.findall(".//div[@class='mots-cles']/span")]
    abstract = document.find(".//input[@id='full-commentaire']")
    if abstract is not None and abstract.get("value"):
        series.abstract = abstract.get("value").strip()
    for heading in document.iter("h4"):
        count = re.match(r"\s*(\d+)\s+albums?", _text(heading))
        if count:
            series.album_count = int(count.group(1))
            break
    listing = document.find(".//ul[@class='li-album']")
    for item in listing.iter("li") if listing is not None else ():
        link = item.find("a")
        href = link.get("href") if link is not None else None
        album_id = TRAILING_ID.search(href or "")
        if not album_id:
            continue
        title_node = item.find(".//p[@class='titre']")
        first_line = _first_line(title_node)
        numbered = NUMBERED_TITLE.match(first_line)
        image = item.find(".//img")
        series.albums.append(
            SeriesAlbum(
                album_id=int(album_id.group(1)),
                url=urljoin(url, href),
                tome=numbered["tome"] if numbered else None,
                title=(numbered["title"] if numbered else first_line).strip(),
                publisher=_text(item.find(".//span[@class='editeur']")) or None,
                legal_deposit=_iso_from_my(_text(item.find(".//span[@class='dl']"))),
                cover_url=urljoin(url, image.get("src")) if image is not None and image.get("src") else None,
            )
        )
    return series
