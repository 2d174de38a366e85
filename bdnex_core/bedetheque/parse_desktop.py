"""Parsers for the desktop Bédéthèque pages: the 2026 ``bdt-*`` template and the older one.

2026 template: a header ``section.bdt-ah--serie`` (or ``--album``) and one
``article.bdt-edition`` (schema.org Book microdata) per album, whose facts sit in a
``dl.bdt-sheet`` of ``<dt>Key</dt><dd>value</dd>``. Older template: the same
``<li><label>Key :</label>value</li>`` lists as the mobile page (with ``EAN/ISBN :``)
plus schema.org microdata. Both are read tolerantly: missing fields are normal.
Entry points are :func:`bdnex_core.bedetheque.parse.parse_album_page` and
``parse_series_page``, which pick the template themselves.
"""

from __future__ import annotations

import re
from typing import TypedDict
from urllib.parse import urljoin

from lxml import etree

from bdnex_core.bedetheque.album import SERIES_PAGE, Album
from bdnex_core.bedetheque.page_parts import (
    NUMBERED_TITLE,
    RATING,
    ROLE_FIELDS,
    SERIES_ID,
    TRAILING_ID,
    NotAnAlbumPage,
    Series,
    SeriesAlbum,
    _int_or_none,
    _iso_from_dmy,
    _iso_from_my,
    _store_field,
    _text,
    fill_from_detail_items,
)

YEARS = re.compile(r"\b(?:19|20)\d{2}(?:\s*-\s*(?:(?:19|20)\d{2}|\.\.\.|…))?")
ISO_DATE = re.compile(r"^\d{4}-\d{2}(?:-\d{2})?$")
ORIGINS = ("europe", "asie", "amérique", "usa", "comics", "autres")
LANGUAGES = ("français", "anglais", "néerlandais", "allemand", "espagnol", "italien", "japonais", "portugais")


def _has_class(element: etree._Element, name: str) -> bool:
    return name in (element.get("class") or "").split()


def _first_with_class(root: etree._Element, tag: str, name: str) -> etree._Element | None:
    return next((node for node in root.iter(tag) if _has_class(node, name)), None)


def _all_with_class(root: etree._Element, tag: str, name: str) -> list[etree._Element]:
    return [node for node in root.iter(tag) if _has_class(node, name)]


def _itemprop(scope: etree._Element, name: str) -> etree._Element | None:
    return next((node for node in scope.iter() if name in (node.get("itemprop") or "").split()), None)


def _itemprop_value(scope: etree._Element, name: str) -> str:
    node = _itemprop(scope, name)
    if node is None:
        return ""
    for attribute in ("content", "value"):
        if node.get(attribute):
            return node.get(attribute).strip()
    return _text(node)


def is_desktop_series(document: etree._Element) -> bool:
    return _first_with_class(document, "section", "bdt-ah--serie") is not None


def is_desktop_album(document: etree._Element) -> bool:
    if _first_with_class(document, "article", "bdt-edition") is not None:
        return True
    if _first_with_class(document, "section", "bdt-ah--album") is not None:
        return True
    # Older template: schema.org Book microdata and label lists.
    book = any("schema.org/Book" in (node.get("itemtype") or "") for node in document.iter())
    return book and document.find(".//li/label") is not None


def _names(value_node: etree._Element) -> list[str]:
    """Creator names of one ``dd``: one per link or itemprop element, else the text (pseudo-authors)."""
    holders = [
        node
        for node in value_node.iter()
        if node.tag == "a"
        or node.get("itemprop") in ("author", "illustrator", "colorist", "translator", "letterer", "contributor")
    ]
    # A link around an itemprop span would count twice: keep the outermost holders only.
    outermost = [node for node in holders if not any(parent in holders for parent in node.iterancestors())]
    names = [_text(node) for node in outermost] if outermost else [_text(value_node)]
    return [name for name in names if name]


def _apply_pair(album: Album, key: str, value_node: etree._Element, url: str) -> None:
    lowered = " ".join(key.replace(":", " ").split()).lower()
    role = ROLE_FIELDS.get(lowered)
    if role:
        getattr(album, role).extend(_names(value_node))
        return
    value = _text(value_node)
    if lowered in ("éditeur", "editeur"):
        album.publisher = value or None
    elif lowered in ("dépôt légal", "dépot légal", "depot legal"):
        album.legal_deposit = _iso_from_my(value.split("(")[0])
        album.release_date = album.release_date or _iso_from_dmy(value)
    else:
        _store_field(album, lowered, key, value, value_node, url)


def _apply_sheet(album: Album, sheet: etree._Element, url: str) -> None:
    """``<dt>Key</dt><dd>value</dd>`` pairs; several ``dd`` after one ``dt`` all belong to it."""
    key = None
    for node in sheet:
        if node.tag == "dt":
            key = _text(node)
        elif node.tag == "dd" and key:
            _apply_pair(album, key, node, url)


def _apply_microdata(album: Album, scope: etree._Element, url: str) -> None:
    """Fill what the visible fields left empty from schema.org Book microdata."""
    if not album.isbn:
        album.isbn = _itemprop_value(scope, "isbn") or None
    if album.planches is None:
        album.planches = _int_or_none(_itemprop_value(scope, "numberOfPages"))
    if album.rating is None:
        rating = _itemprop_value(scope, "ratingValue").replace(",", ".")
        try:
            album.rating = float(rating) if rating else None
        except ValueError:
            found = RATING.search(rating)
            album.rating = float(found.group(1)) if found else None
    if album.votes is None:
        album.votes = _int_or_none(_itemprop_value(scope, "ratingCount") or _itemprop_value(scope, "reviewCount"))
    published = _itemprop_value(scope, "datePublished")
    if ISO_DATE.match(published):
        if len(published) == 10:
            album.release_date = album.release_date or published
        album.legal_deposit = album.legal_deposit or published[:7]
    if not album.summary:
        album.summary = _itemprop_value(scope, "description") or None
    if not album.cover_url:
        image = _itemprop(scope, "image")
        source = (image.get("src") or image.get("content") or image.get("href")) if image is not None else None
        parent = image.getparent() if image is not None else None
        if parent is not None and parent.tag == "a" and "/Couvertures/" in (parent.get("href") or ""):
            source = parent.get("href")  # the thumbnail links to the full-size cover
        album.cover_url = urljoin(url, source) if source else None
    if not album.publisher:
        album.publisher = _itemprop_value(scope, "publisher") or None


def _apply_numbered_title(album: Album, text: str) -> None:
    numbered = NUMBERED_TITLE.match(text)
    if numbered:
        album.tome = album.tome or numbered["tome"]
        album.title = album.title or numbered["title"].strip()
    else:
        album.title = album.title or text.strip()


def album_from_edition(article: etree._Element, url: str) -> Album:
    """One ``article.bdt-edition`` (a schema.org Book) as an :class:`Album`."""
    anchor = next((node for node in article.iter("a") if (node.get("name") or "").isdigit()), None)
    link = next((node for node in article.iter("a") if node.get("itemprop") == "url"), None)
    href = urljoin(url, link.get("href")) if link is not None and link.get("href") else None
    album_id = int(anchor.get("name")) if anchor is not None else 0
    trailing = TRAILING_ID.search(href) if href else None
    if not album_id and trailing:
        album_id = int(trailing.group(1))
    album = Album(album_id=album_id, url=href or url)
    sheet = _first_with_class(article, "dl", "bdt-sheet")
    if sheet is not None:
        _apply_sheet(album, sheet, url)
    name = _itemprop_value(link, "name") if link is not None else _itemprop_value(article, "name")
    _apply_numbered_title(album, name)
    summary = _first_with_class(article, "p", "bdt-edition-resume")
    if summary is not None and not album.summary:
        album.summary = _text(summary) or None
    _apply_microdata(album, article, url)
    return album


class HeaderFacts(TypedDict, total=False):
    """What a ``section.bdt-ah`` header says; keys it does not show are absent."""

    title: str
    url: str
    genres: list[str]
    status: str | None
    origin: str
    language: str
    album_count: int | None
    years: str


def _header_facts(header: etree._Element | None, url: str) -> HeaderFacts:
    """Title, link, genres, status, origin, language, count and years of a ``section.bdt-ah``."""
    facts: HeaderFacts = {}
    if header is None:
        return facts
    heading = header.find(".//h1")
    if heading is not None:
        facts["title"] = _text(heading)
        link = heading.find(".//a")
        if link is not None and link.get("href"):
            facts["url"] = urljoin(url, link.get("href"))
    genres = [_text(node) for node in _all_with_class(header, "a", "bdt-sh-genre")]
    if genres:
        facts["genres"] = [genre for genre in genres if genre]
    status = _first_with_class(header, "b", "bdt-sh-parution")
    if status is not None:
        facts["status"] = _text(status) or None
    pastilles = _first_with_class(header, "ul", "bdt-ah-pastilles")
    for item in pastilles.iter("li") if pastilles is not None else ():
        _read_pastille(facts, (item.get("title") or "").strip(), _text(item))
    text = _text(header).replace(str(facts.get("title", "")), " ")
    years = YEARS.search(text)
    if years:
        facts["years"] = re.sub(r"\s+", "", years.group())
    return facts


def _read_pastille(facts: HeaderFacts, title: str, text: str) -> None:
    """A header badge: ``title`` is either the caption ("Origine") or the value itself."""
    caption, shown = title.lower(), text.strip()
    count = re.search(r"(\d+)\s*(?:tomes?|albums?)", f"{title} {text}", re.IGNORECASE)
    if caption.startswith(("tome", "album", "nombre")) or count:
        facts["album_count"] = int(count.group(1)) if count else _int_or_none(shown)
    elif caption.startswith("origine") or caption.lower() in ORIGINS:
        facts["origin"] = shown if caption.startswith("origine") else title
    elif caption.startswith("langue") or caption in LANGUAGES:
        facts["language"] = shown if caption.startswith("langue") and shown else title


def parse_desktop_album(document: etree._Element, url: str) -> Album:
    """An album page in either desktop template."""
    articles = _all_with_class(document, "article", "bdt-edition")
    wanted = TRAILING_ID.search(url)
    if articles:
        editions = [album_from_edition(article, url) for article in articles]
        album = next((item for item in editions if wanted and item.album_id == int(wanted.group(1))), editions[0])
    else:
        album = Album(album_id=int(wanted.group(1)) if wanted else 0, url=url)
        items = [item for item in document.iter("li") if item.find("label") is not None]
        fill_from_detail_items(album, items, url)
        scope = next((node for node in document.iter() if "schema.org/Book" in (node.get("itemtype") or "")), document)
        for heading in scope.iter("h2"):
            _apply_numbered_title(album, _text(heading))
            break
        if not album.title:
            album.title = _itemprop_value(scope, "name")
        _apply_microdata(album, scope, url)
    header = _first_with_class(document, "section", "bdt-ah--album")
    if header is None:
        header = _first_with_class(document, "section", "bdt-ah")
    facts = _header_facts(header, url)
    if header is None:
        heading = document.find(".//h1")
        link = heading.find(".//a") if heading is not None else None
        if link is not None and SERIES_ID.search(link.get("href") or ""):
            facts = {"title": _text(link), "url": urljoin(url, link.get("href") or "")}
    album.series = album.series or facts.get("title") or None
    if not album.series_url and facts.get("url") and SERIES_ID.search(str(facts["url"])):
        album.series_url = str(facts["url"])
    if album.series_url and album.series_id is None:
        found = SERIES_ID.search(album.series_url)
        album.series_id = int(found.group(1)) if found else None
    album.genre = album.genre or (", ".join(facts["genres"]) if facts.get("genres") else None)
    album.origin = album.origin or facts.get("origin")
    album.series_album_count = album.series_album_count or facts.get("album_count")
    if not album.album_id:
        raise NotAnAlbumPage("no album id in the page or its URL", path=url)
    return album


def parse_desktop_series_albums(document: etree._Element, url: str) -> list[Album]:
    """Every ``article.bdt-edition`` of a desktop series page, with the series filled in."""
    facts = _header_facts(_first_with_class(document, "section", "bdt-ah--serie"), url)
    found = SERIES_ID.search(url) or SERIES_ID.search(str(facts.get("url", "")))
    albums = []
    for article in _all_with_class(document, "article", "bdt-edition"):
        album = album_from_edition(article, url)
        album.series = album.series or facts.get("title") or None
        album.series_id = album.series_id or (int(found.group(1)) if found else None)
        album.series_url = album.series_url or facts.get("url") or url
        album.genre = album.genre or (", ".join(facts["genres"]) if facts.get("genres") else None)
        album.origin = album.origin or facts.get("origin")
        albums.append(album)
    return albums


def parse_desktop_series(document: etree._Element, url: str) -> Series:
    """A 2026 desktop series page (``section.bdt-ah--serie`` and its ``article.bdt-edition`` list)."""
    header = _first_with_class(document, "section", "bdt-ah--serie")
    facts = _header_facts(header, url)
    found = SERIES_ID.search(url) or SERIES_ID.search(str(facts.get("url", "")))
    genres = list(facts.get("genres") or [])
    series = Series(
        series_id=int(found.group(1)) if found else None,
        url=url,
        title=str(facts.get("title", "")),
        genre=", ".join(genres) or None,
        origin=facts.get("origin"),
        language=facts.get("language"),
        status=facts.get("status"),
        years=facts.get("years"),
        tags=genres,
        album_count=facts.get("album_count"),
        genres=genres,
        template="desktop",
    )
    summary = _first_with_class(document, "p", "bdt-sh-resume")
    series.abstract = _text(summary) or None if summary is not None else None
    series.full_albums = parse_desktop_series_albums(document, url)
    for album in series.full_albums:
        album.filled_from = SERIES_PAGE
        series.albums.append(
            SeriesAlbum(
                album_id=album.album_id,
                url=album.url,
                tome=album.tome,
                title=album.title,
                publisher=album.publisher,
                legal_deposit=album.legal_deposit,
                cover_url=album.cover_url,
            )
        )
    return series
