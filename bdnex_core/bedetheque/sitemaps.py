"""Bédéthèque's sitemaps: the index, album sitemaps (read streaming), and album URL slugs.

An album URL says most of what matching needs: ``BD-{Serie}-Tome-{N}-{Titre}-{id}.html``
(one-shots: ``BD-{Titre}-{id}.html``; intégrales ``-INT-``/``-INT3-``; hors-séries
``-HS02-``). Parsing the ~300,000 URLs of the sitemaps gives a local catalogue index,
so an album costs one page fetch instead of four searches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

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


@dataclass(frozen=True)
class AlbumEntry:
    """One album as the catalogue index knows it (from its URL alone)."""

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


def parse_album_url(url: str, lastmod: str | None = None) -> AlbumEntry | None:
    """Split an album URL into series, tome and title; ``None`` if it is not an album URL."""
    match = ALBUM_URL.search(url)
    if match is None:
        return None
    slug, album_id = match["slug"], int(match["id"])
    for pattern, kind in ((TOME_SLUG, "tome"), (INT_SLUG, "int"), (HS_SLUG, "hs"), (J_SLUG, "j")):
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
        return AlbumEntry(album_id, url, series, tome, number, tome_kind, title, lastmod)
    return AlbumEntry(album_id, url, slug, None, None, None, slug, lastmod)


def _iter_elements(source: str | IO[bytes], tag: str) -> Iterator[etree._Element]:
    # no entity resolution, no network: a sitemap is data, nothing else
    for _event, element in etree.iterparse(
        source, events=("end",), tag=tag, resolve_entities=False, no_network=True, huge_tree=False
    ):
        yield element
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


def iter_album_entries(source: str | IO[bytes]) -> Iterator[AlbumEntry]:
    """Albums of one ``albums_*_map.xml``, read streaming (constant memory)."""
    for element in _iter_elements(source, f"{SITEMAP_NS}url"):
        loc = element.findtext(f"{SITEMAP_NS}loc")
        if not loc:
            continue
        entry = parse_album_url(loc.strip(), (element.findtext(f"{SITEMAP_NS}lastmod") or "").strip() or None)
        if entry is not None:
            yield entry
