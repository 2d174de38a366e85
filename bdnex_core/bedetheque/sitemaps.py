"""Bédéthèque's sitemaps: the index, album sitemaps (read streaming), and album URL slugs.

An album URL says most of what matching needs: ``BD-{Serie}-Tome-{N}-{Titre}-{id}.html``
(one-shots: ``BD-{Titre}-{id}.html``; intégrales ``-INT-``/``-INT3-``; hors-séries
``-HS02-``). Parsing the ~300,000 URLs of the sitemaps gives a local catalogue index,
so an album costs one page fetch instead of four searches.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

from lxml import etree

from bdnex_core.matching.normalize import slug_words

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ALBUM_URL = re.compile(r"/BD-(?P<slug>.+)-(?P<id>\d+)\.html$")
TOME_SLUG = re.compile(r"-Tome-(?P<token>[0-9][0-9A-Za-z]*)(?:-|$)")
# edition codes around an intégrale/hors-série number, seen in the real sitemaps:
# INTHC01 (hardcover), INTTT1/INT1TT (tirage de tête), INTTL2, INTFL1, INTC01, INTUC, HSBO2,
# INT02a / INTb (printings), INT03VC / INTVC (original version)
EDITION_CODE = r"(?:HC|TT|TL|FL|BO|UC|VC|C)"
INT_SLUG = re.compile(rf"-INT(?P<pre>{EDITION_CODE})?(?P<num>\d*)(?P<post>[a-z]|bis|{EDITION_CODE})?(?:-|$)")
HS_SLUG = re.compile(rf"-HS(?P<pre>{EDITION_CODE})?(?P<num>\d*)(?P<post>[a-z]|bis|{EDITION_CODE})?(?:-|$)")
J_SLUG = re.compile(r"-J(?P<num>\d+)(?P<pre>)(?P<post>[a-z]?)(?:-|$)")
TOKEN = re.compile(r"^(?P<num>\d+)(?P<suffix>[A-Za-z][A-Za-z0-9]*)?$")


@dataclass(frozen=True)
class SitemapRef:
    url: str
    lastmod: str | None


class AlbumEntry(NamedTuple):
    """One album as the catalogue index knows it (from its URL alone). A tuple: 300,000 of them are
    made by every full update."""

    album_id: int
    url: str
    series_slug: str
    tome: str | None  # '1', '1a', '10VC', 'INT3', 'INT2a', 'INT1HC', 'HS2', 'INT', 'HS', 'J1' or None (one-shot)
    tome_number: int | None
    tome_kind: str | None  # regular, int, hs, or None for a one-shot
    title_slug: str
    lastmod: str | None = None

    @property
    def series_norm(self) -> str:
        return slug_words(self.series_slug)

    @property
    def title_norm(self) -> str:
        return slug_words(self.title_slug)


def _tome_from_token(token: str) -> tuple[str, int | None, str]:
    match = TOKEN.match(token)
    if match is None:
        return token, None, "regular"
    number, suffix = int(match["num"]), match["suffix"] or ""
    upper = suffix.upper()
    if upper.startswith("INT"):
        return f"INT{number}", number, "int"
    if upper.startswith("HS"):
        return f"HS{number}", number, "hs"
    return f"{number}{suffix}", number, "regular"


_SLUG_PATTERNS = ((TOME_SLUG, "tome"), (INT_SLUG, "int"), (HS_SLUG, "hs"), (J_SLUG, "j"))


def split_album_url(url: str) -> tuple[int, str, str | None, int | None, str | None, str] | None:
    """(album id, series slug, tome, tome number, tome kind, title slug) of an album URL; ``None`` if it is
    not one (see :func:`parse_album_url`)."""
    match = ALBUM_URL.search(url)
    if match is None:
        return None
    slug, album_id = match["slug"], int(match["id"])
    for pattern, kind in _SLUG_PATTERNS:
        found = pattern.search(slug)
        if found is None or found.start() == 0:
            continue
        series, title = slug[: found.start()], slug[found.end() :]
        if kind == "tome":
            tome, number, tome_kind = _tome_from_token(found["token"])
        else:
            number = int(found["num"]) if found["num"] else None
            edition = (found["pre"] or "") + (found["post"] or "")
            tome = f"{kind.upper()}{number if number is not None else ''}{edition}"
            tome_kind = "regular" if kind == "j" else kind
        return album_id, series, tome, number, tome_kind, title
    return album_id, slug, None, None, None, slug


def parse_album_url(url: str, lastmod: str | None = None) -> AlbumEntry | None:
    """Split an album URL into series, tome and title; ``None`` if it is not an album URL."""
    parts = split_album_url(url)
    if parts is None:
        return None
    album_id, series, tome, number, tome_kind, title = parts
    return AlbumEntry(album_id, url, series, tome, number, tome_kind, title, lastmod)


def _iter_elements(source: str | IO[bytes], tag: str) -> Iterator[etree._Element]:
    # no entity resolution, no network: a sitemap is data, nothing else
    for _event, element in etree.iterparse(
        source, events=("end",), tag=tag, resolve_entities=False, no_network=True, huge_tree=False
    ):
        yield element
        element.clear(keep_tail=False)
        while element.getprevious() is not None:
            del element.getparent()[0]


_LOC, _LASTMOD, _URL = f"{SITEMAP_NS}loc", f"{SITEMAP_NS}lastmod", f"{SITEMAP_NS}url"
_NAMESPACES = {"s": SITEMAP_NS[1:-1]}
_ALL_LOCS = etree.XPath("s:url/s:loc/text()", namespaces=_NAMESPACES, smart_strings=False)
_ALL_LASTMODS = etree.XPath("s:url/s:lastmod/text()", namespaces=_NAMESPACES, smart_strings=False)
_URL_COUNT = etree.XPath("count(s:url)", namespaces=_NAMESPACES)
# a sitemap up to this size is parsed whole (a third faster); a larger one is read streaming
WHOLE_PARSE_BYTES = 32 * 1024 * 1024


def iter_locations(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[tuple[str, str | None]]:
    """(loc, lastmod) of each ``<url>``: a sitemap of the site's size is parsed whole and read by two
    XPath queries in C; a larger one, or one whose ``<url>`` lack a ``lastmod``, streaming."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    data = _whole(source)
    if data is not None:
        # well-formed or refused, as the tree would be, for a third of its cost (no element is built)
        etree.fromstring(data, etree.XMLParser(target=_WellFormed(), resolve_entities=False, no_network=True))
        found = _in_site_layout(data)
        if found is not None:
            yield from found
            return
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
        locs, lastmods = _ALL_LOCS(root), _ALL_LASTMODS(root)
        if len(locs) == len(lastmods) == int(_URL_COUNT(root)):  # one of each per <url>: paired by position
            for loc, lastmod in zip(locs, lastmods, strict=True):
                yield loc.strip(), lastmod.strip() or None
            return
        source = io.BytesIO(data)
    yield from _stream_locations(source)


class _WellFormed:
    """A parser target that builds nothing: the parse only checks the document."""

    def close(self) -> None:
        return None


# the site's own layout: one <loc> then one <lastmod> opening each <url>, of these elements only, in UTF-8,
# no entity, comment or CDATA. Such a well-formed document is read by one scan of its bytes; anything
# else (an older layout, a hand-written file) goes to the tree.
_SITE_URL = re.compile(rb"<url>\s*<loc>([^<&]*)</loc>\s*<lastmod>([^<&]*)</lastmod>")
# a start tag other than the site's own (one scan, nothing made for the tags that are)
_OTHER_TAG = re.compile(rb"<(?![/?]|(?:urlset|url|loc|lastmod|changefreq|priority|xhtml:link)[\s/>])")
_SITE_ROOT = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"'](?P<encoding>[^\"']+)")


def _in_site_layout(data: bytes) -> list[tuple[str, str | None]] | None:
    """(loc, lastmod) of each ``<url>`` of a well-formed document in the site's own layout; ``None`` when
    it is not (then the tree reads it)."""
    declared = _DECLARATION.match(data)
    if declared is not None and declared["encoding"].lower() not in (b"utf-8", b"utf8"):
        return None
    if b"&" in data or b"<!--" in data or b"<![CDATA[" in data or _SITE_ROOT not in data:
        return None
    if data.count(b'xmlns="') != 1 or _OTHER_TAG.search(data) is not None:
        return None
    found = _SITE_URL.findall(data)
    if not len(found) == data.count(b"<url>") == data.count(b"<loc") == data.count(b"<lastmod"):
        return None
    return [(loc.decode().strip(), lastmod.decode().strip() or None) for loc, lastmod in found if loc.strip()]


def _whole(source: str | os.PathLike[str] | IO[bytes]) -> bytes | None:
    """The whole of a source no larger than :data:`WHOLE_PARSE_BYTES`; ``None`` for a larger one (a
    file handle is rewound) or a stream that cannot be rewound."""
    if isinstance(source, (str, os.PathLike)):
        if os.path.getsize(source) > WHOLE_PARSE_BYTES:
            return None
        with open(source, "rb") as handle:
            return handle.read()
    if not source.seekable():
        return None
    start = source.tell()
    data = source.read(WHOLE_PARSE_BYTES + 1)
    if len(data) <= WHOLE_PARSE_BYTES:
        return data
    source.seek(start)
    return None


def _stream_locations(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[tuple[str, str | None]]:
    """(loc, lastmod) of each ``<url>``, streaming: lxml hands over only these three elements (the
    others, ``xhtml:link`` and the rest, never reach Python), each ``<url>`` freed once read."""
    loc: str | None = None
    lastmod: str | None = None
    for _event, element in etree.iterparse(
        source, events=("end",), tag=(_LOC, _LASTMOD, _URL), resolve_entities=False, no_network=True, huge_tree=False
    ):
        tag = element.tag
        if tag == _LOC:
            loc = element.text
        elif tag == _LASTMOD:
            lastmod = element.text
        else:
            if loc:
                yield loc.strip(), (lastmod or "").strip() or None
            loc = lastmod = None
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del element.getparent()[0]


def parse_sitemap_index(source: str | IO[bytes]) -> list[SitemapRef]:
    """The album sitemaps listed by ``/sitemap.xml``."""
    refs = []
    for element in _iter_elements(source, f"{SITEMAP_NS}sitemap"):
        loc = element.findtext(f"{SITEMAP_NS}loc")
        if loc and "albums_" in loc:
            refs.append(SitemapRef(loc.strip(), (element.findtext(f"{SITEMAP_NS}lastmod") or "").strip() or None))
    return refs


def iter_album_entries(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[AlbumEntry]:
    """Albums of one ``albums_*_map.xml``, read streaming (constant memory)."""
    for loc, lastmod in iter_locations(source):
        entry = parse_album_url(loc, lastmod)
        if entry is not None:
            yield entry
