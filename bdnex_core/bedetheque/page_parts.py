"""What both page templates share: the text and date helpers, the label/value items, the parsed series.

The mobile parser (:mod:`parse`) and the desktop one (:mod:`parse_desktop`) both read these; the
mobile parser hands a desktop page to the desktop one, so what they share lives below both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from bdnex_core.bedetheque.album import Album, Edition
from bdnex_core.bedetheque.blocking import Block, detect_block
from bdnex_core.comicinfo import xml_legal
from bdnex_core.errors import BlockedError, ParseError

# Literal "<N&B>", "<Indéterminé>", "<Collectif>": capitalised text in angle brackets, no attributes.
PSEUDO_AUTHOR = re.compile(r"<(?=[A-ZÀ-Ý])([^<>/=\"']{1,40})>")
HTML_TAGS = frozenset(lxml.html.defs.tags) | {"tbody", "thead", "tfoot", "svg", "path", "main", "section", "article"}


def escape_pseudo_authors(source: str) -> str:
    """Turn ``<N&B>`` into ``&lt;N&amp;B&gt;`` so it stays text; real tags (even ``<BR>``) are kept."""

    def replace(found: re.Match[str]) -> str:
        inner = found.group(1)
        name = inner.split()[0].lower() if inner.split() else ""
        if name in HTML_TAGS:
            return found.group(0)
        return "&lt;" + inner.replace("&", "&amp;") + "&gt;"

    return PSEUDO_AUTHOR.sub(replace, source)


CONTENT_MARKERS = ('id="album-detail"', "id='album-detail'", 'class="info-serie"', "bdt-edition", "bdt-ah--")
TRAILING_ID = re.compile(r"-(\d+)\.html")
# "1. Title", "INT01. Title", "HS. Title" in a series' list; a one-shot's "Dr. Slump" has no tome
NUMBERED_TITLE = re.compile(r"^\s*(?P<tome>(?=[^.\s]*\d)[^.\s]+|HS|INT)\.\s*(?P<title>.*)$", re.IGNORECASE)
SERIES_ID = re.compile(r"serie-(\d+)-")
RATING = re.compile(r"(\d+(?:[.,]\d+)?)\s*/\s*5(?:\s*\((\d+)\s*votes?\))?")
DATE_DMY = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
DATE_MY = re.compile(r"(\d{2})/(\d{4})")
ROLE_FIELDS = {
    "scénario": "writers",
    "scenario": "writers",
    "dessin": "pencillers",
    "couleurs": "colorists",
    "couverture": "cover_artists",
    "lettrage": "letterers",
    "traduction": "translators",
}


class NotAnAlbumPage(ParseError):
    """The page is not an album page (a 404 page, a series page, a search page...)."""


class BlockedPage(BlockedError, ParseError):
    """The site answered with a Cloudflare challenge or its IP-ban page instead of the page.

    A :class:`BlockedError` (the client's circuit breaker and the CLI treat it as a block)
    and a :class:`ParseError`; ``block`` says which kind and its detail (the banned IP).
    """

    def __init__(self, block: Block, *, path: str):
        self.block = block
        what = "an IP ban page" if block.kind == "ban" else "a Cloudflare challenge"
        super().__init__(f"Bédéthèque answered with {what} ({block.detail}) instead of the page", path=path)


class TruncatedPage(ParseError):
    """The page stops before the album's details: a transfer was cut."""


@dataclass
class SeriesAlbum:
    album_id: int
    url: str
    tome: str | None = None
    title: str = ""
    publisher: str | None = None
    legal_deposit: str | None = None
    cover_url: str | None = None


@dataclass
class Series:
    series_id: int | None
    url: str
    title: str = ""
    genre: str | None = None
    origin: str | None = None
    language: str | None = None
    status: str | None = None
    years: str | None = None
    tags: list[str] = field(default_factory=list)  # the desktop page's genres; the mobile page's keywords
    abstract: str | None = None
    albums: list[SeriesAlbum] = field(default_factory=list)
    album_count: int | None = None  # what the page's header says ("3 tomes", "26 albums")
    genres: list[str] = field(default_factory=list)
    template: str = "mobile"  # or "desktop"
    # the desktop page's ``article.bdt-edition``s read as whole albums (the mobile page has none)
    full_albums: list[Album] = field(default_factory=list)


def _text(node: etree._Element | None) -> str:
    return " ".join(node.text_content().split()) if node is not None else ""


# comments and processing instructions are not content, and iterating an element's children would meet them
_HTML_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)


def _document(html: str | bytes, url: str) -> lxml.html.HtmlElement:
    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    html = xml_legal(html)  # what we read goes into ComicInfo.xml, which cannot hold U+FFFE or controls
    # Pages with content are content, whatever scripts Cloudflare injected into them.
    has_content = any(marker in html for marker in CONTENT_MARKERS)
    block = None if has_content else detect_block(None, html)
    if block is not None:
        raise BlockedPage(block, path=url)
    if not html.strip():
        raise TruncatedPage("empty page", path=url)
    try:
        return lxml.html.document_fromstring(escape_pseudo_authors(html), parser=_HTML_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"not an HTML page ({exc})", path=url) from None


def _iso_from_dmy(text: str) -> str | None:
    found = DATE_DMY.search(text)
    return f"{found[3]}-{found[2]}-{found[1]}" if found else None


def _iso_from_my(text: str) -> str | None:
    found = DATE_MY.search(text)
    return f"{found[2]}-{found[1]}" if found else None


def _int_or_none(text: str) -> int | None:
    digits = re.search(r"\d+", text or "")
    return int(digits.group()) if digits else None


def _label_value(item: etree._Element) -> tuple[str, str, etree._Element | None]:
    """(key without ':', value text, the label element) of one ``li``."""
    label = item.find("label")
    key = " ".join(_text(label).replace(":", " ").split()) if label is not None else ""
    parts = []
    if label is not None and label.tail:
        parts.append(label.tail)
    for child in item:
        if child is label or child.tag in ("li", "select"):
            continue
        parts.append(child.text_content())
        if child.tail:
            parts.append(child.tail)
    return key, " ".join(" ".join(parts).split()), label


def _source(html: str | bytes) -> str:
    return html if isinstance(html, str) else html.decode("utf-8", "replace")


def _ends_properly(source: str) -> bool:
    """A whole page ends with ``</html>``; a cut transfer does not."""
    return "</html>" in source[-4000:].lower()


def fill_from_detail_items(album: Album, items, url: str) -> None:
    """Read ``<li><label>Key :</label>value</li>`` items (mobile and older desktop pages) into ``album``."""
    last_role: str | None = None
    for item in items:
        css = item.get("class") or ""
        if "title" in css.split():
            continue
        info = item.find(".//span[@class='infoedition']")
        if info is not None:
            caption = _text(info.find("em")).lower()
            body = info.text_content()
            heading = info.find("em")
            if heading is not None:
                body = body.replace(heading.text_content(), "", 1)
            text = "\n".join(line.strip() for line in body.strip().splitlines() if line.strip())
            if caption.startswith("résumé") or caption.startswith("resume"):
                album.summary = album.summary or text
            elif caption.startswith("info"):
                album.edition_info = text
            continue
        key, value, label = _label_value(item)
        if label is None:
            continue
        lowered = key.lower()
        if not key and last_role:  # mobile marks these li.no-border; older desktop pages do not
            names = [_text(link) for link in item.findall(".//a")] or ([value] if value else [])
            getattr(album, last_role).extend(name for name in names if name)
            continue
        role = ROLE_FIELDS.get(lowered)
        if role:
            names = [_text(link) for link in item.findall(".//a")] or ([value] if value else [])
            getattr(album, role).extend(name for name in names if name)
            last_role = role
            continue
        last_role = None
        _store_field(album, lowered, key, value, item, url)


def _store_field(album: Album, lowered: str, key: str, value: str, item: etree._Element, url: str) -> None:
    if lowered == "série":
        link = item.find(".//a")
        album.series = value or None
        if link is not None and link.get("href"):
            album.series_url = urljoin(url, link.get("href"))
            series_id = SERIES_ID.search(album.series_url)
            album.series_id = int(series_id.group(1)) if series_id else None
    elif lowered == "titre":
        album.title = value
    elif lowered == "tome":
        album.tome = value or None
    elif lowered.endswith("éditions") or lowered.endswith("editions") or lowered.endswith("édition"):
        album.editions = [
            Edition(album_id=int(option.get("value")), label=" ".join(option.text_content().split()))
            for option in item.iter("option")
            if (option.get("value") or "").isdigit()
        ]
    elif lowered == "note":
        rating = RATING.search(value)
        if rating:
            album.rating = float(rating.group(1).replace(",", "."))
            album.votes = int(rating.group(2)) if rating.group(2) else None
    elif lowered == "origine":
        album.origin = value or None
    elif lowered == "style":
        album.genre = value or None
    elif lowered == "identifiant":
        album.album_id = _int_or_none(value) or album.album_id
    elif lowered in ("dépot légal", "dépôt légal", "depot legal"):
        album.legal_deposit = _iso_from_my(value.split("(")[0])
        album.release_date = _iso_from_dmy(value)
    elif lowered == "estimation":
        album.estimation = value or None
    elif lowered == "editeur" or lowered == "éditeur":
        album.publisher = value or None
    elif lowered == "collection":
        album.collection = value or None
    elif lowered == "format":
        album.format = value or None
    elif lowered in ("isbn", "ean/isbn"):
        album.isbn = value or None
    elif lowered == "planches":
        album.planches = _int_or_none(value)
    elif lowered == "autres info":
        album.other_info = value or None
    elif lowered in ("créé le", "cree le"):
        album.created_on = _iso_from_dmy(value.split("(")[0])


def _first_line(node: etree._Element | None) -> str:
    """The text of ``node`` before its first ``<br>``: "1. Title", or "INT01. Title" whose tome is
    a ``span.numa``."""
    if node is None:
        return ""
    parts = [node.text or ""]
    for child in node:
        if child.tag == "br":
            break
        parts.append(child.text_content())
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())
