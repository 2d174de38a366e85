"""An OPF document for ``calibredb set_metadata ID file.opf`` built from ComicInfo fields.

``set_metadata`` with an OPF recomputes calibre's sort fields and keeps custom
columns, unlike ``--field``. calibre applies it with ``force_changes``: a field the
OPF leaves empty but present (tags) is cleared, so the tags are always written in full.

Series index rule (calibre needs a number, and sorts a series by it): a numeric tome
is used as is (``"12"`` -> 12, ``"1.5"`` -> 1.5, an edition code dropped: ``"10VC"``
-> 10); a lettered tome ``3b`` becomes 3.2 (a -> .1, b -> .2, ...). Hors-séries and
intégrales are numbered apart from the tomes on Bédéthèque (HS 2 is not "after tome 2"),
so they sort after every tome: ``HS n`` -> 1000 + n, ``INT n`` -> 2000 + n (a bare
``HS``/``INT`` -> 1000/2000, a letter adds tenths as above). Anything else -> no index.

Authors: calibre shows "First Last" and sorts by ``author_sort`` "Last, First".
Bédéthèque writes "Last, First", which tells where the last name starts ("Van Hamme,
Jean"); when only "First Last" is known the last word is taken as the last name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

HORS_SERIE_BASE = 1000.0
INTEGRALE_BASE = 2000.0
# "HS2", "HS 2", "Hors-série 2", "HSBO2"; "INT12", "Int. 3", "Intégrale", "INT2a", "INT1HC"
_APART = re.compile(
    r"^(?:(?P<hs>hs|hors[- ]?s[ée]rie)|(?P<int>int[ée]grale|int))\.?\s*[a-z]{0,3}?\s*(?P<num>\d+)?\s*(?P<letter>[a-i](?![a-z]))?[a-z]*$",
    re.IGNORECASE,
)
_TOME = re.compile(r"^(?P<num>\d+)\s*(?:(?P<letter>[a-i])|[a-z]{2,4})?$", re.IGNORECASE)
_ALBUM_ID_IN_URL = re.compile(r"-(\d+)\.html?$")
_ALBUM_ID_IN_NOTES = re.compile(r"Bédéthèque album (\d+)")
# what an attribute value cannot hold as is: XML would read these white spaces as plain spaces
_ATTRIBUTE_WHITESPACE = str.maketrans({"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def escape(text: str) -> str:
    """``text`` as XML character data (html.escape: xml.sax.saxutils would import urllib.request, and this
    module is loaded by every calibre lookup)."""
    return html.escape(text, quote=False)


def quoteattr(value: str) -> str:
    """``value`` as a double-quoted XML attribute."""
    return '"' + html.escape(value, quote=True).translate(_ATTRIBUTE_WHITESPACE) + '"'


def series_index(number: str | None) -> float | None:
    """calibre's series index for a ComicInfo ``Number`` (see the module docstring)."""
    if not number:
        return None
    text = number.strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        pass
    if match := _APART.match(text):
        base = HORS_SERIE_BASE if match.group("hs") else INTEGRALE_BASE
        return base + int(match.group("num") or 0) + _letter_tenths(match.group("letter"))
    if match := _TOME.match(text):
        return int(match.group("num")) + _letter_tenths(match.group("letter"))
    return None


def _letter_tenths(letter: str | None) -> float:
    return (ord(letter.lower()) - ord("a") + 1) / 10 if letter else 0.0


def album_id_of(fields: Mapping[str, str]) -> str | None:
    """The Bédéthèque album id a ComicInfo carries (its Web URL, else its Notes)."""
    if match := _ALBUM_ID_IN_URL.search(fields.get("Web") or ""):
        return match.group(1)
    if match := _ALBUM_ID_IN_NOTES.search(fields.get("Notes") or ""):
        return match.group(1)
    return None


def split_people(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def sort_name(display: str, bedetheque_names: Mapping[str, str] | None = None) -> str:
    """calibre's author sort ("Last, First") of a "First Last" name: Bédéthèque's own form when
    known (``bedetheque_names`` maps "First Last" to it), else the last word first."""
    if bedetheque_names and display in bedetheque_names:
        return bedetheque_names[display]
    first, _, last = display.rpartition(" ")
    return f"{last}, {first}" if first else display


def author_sort_of(authors: list[str], bedetheque_names: Mapping[str, str] | None = None) -> str | None:
    """The book's author sort: each author's sort name, joined as calibre does (" & ")."""
    return " & ".join(sort_name(author, bedetheque_names) for author in authors) or None


def merged_tags(existing: list[str], ours: list[str], policy: str) -> list[str]:
    """The book's tags under ``calibre.tags``: ``merge`` keeps the user's and adds ours,
    ``replace`` writes ours only, ``keep`` leaves the user's as they are."""
    if policy == "replace":
        return list(dict.fromkeys(ours))
    if policy == "keep":
        return list(existing)
    known = {tag.casefold() for tag in existing}
    return [*existing, *(tag for tag in dict.fromkeys(ours) if tag.casefold() not in known)]


def authors_of(fields: Mapping[str, str]) -> list[str]:
    """Writers first, then artists, each once."""
    people: list[str] = []
    for name in split_people(fields.get("Writer")) + split_people(fields.get("Penciller")):
        if name not in people:
            people.append(name)
    return people


def merged_identifiers(existing: Mapping[str, str], fields: Mapping[str, str]) -> dict[str, str]:
    """The book's identifiers with ``bedetheque`` and ``isbn`` added (others kept)."""
    identifiers = dict(existing)
    if album_id := album_id_of(fields):
        identifiers["bedetheque"] = album_id
    if isbn := (fields.get("GTIN") or "").replace("-", "").strip():
        identifiers["isbn"] = isbn
    return identifiers


def summary_html(summary: str | None) -> str | None:
    if not summary:
        return None
    paragraphs = [part.strip() for part in summary.split("\n\n") if part.strip()]
    return "".join(f"<p>{html.escape(part).replace(chr(10), '<br/>')}</p>" for part in paragraphs)


def pubdate_of(fields: Mapping[str, str]) -> str | None:
    if not fields.get("Year"):
        return None
    month = int(fields.get("Month") or 1)
    day = int(fields.get("Day") or 1)
    return f"{int(fields['Year']):04d}-{month:02d}-{day:02d}T12:00:00+00:00"


def rating_of(fields: Mapping[str, str]) -> int | None:
    """calibre stores 0-10 (half stars); ComicInfo's CommunityRating is 0-5."""
    try:
        value = float(fields.get("CommunityRating") or "")
    except ValueError:
        return None
    return max(0, min(10, round(value * 2)))


def build_opf(
    fields: Mapping[str, str],
    existing_identifiers: Mapping[str, str],
    *,
    tags: list[str] | None = None,
    bedetheque_names: Mapping[str, str] | None = None,
) -> str:
    """The OPF 2 package document for one book. ``tags``: the book's tags as they must end up
    (see :func:`merged_tags`; ``None``: the genres alone); ``bedetheque_names``: see :func:`sort_name`."""
    meta: list[str] = []

    def dc(tag: str, value: str | None, attrs: str = "") -> None:
        if value:
            meta.append(f"<dc:{tag}{attrs}>{escape(value)}</dc:{tag}>")

    def calibre_meta(name: str, value: str | None) -> None:
        if value is not None and value != "":
            meta.append(f"<meta name={quoteattr('calibre:' + name)} content={quoteattr(value)}/>")

    dc("title", fields.get("Title") or fields.get("Series"))
    authors = authors_of(fields)
    # calibre reads the book's author sort from the first creator's file-as
    book_sort = author_sort_of(authors, bedetheque_names)
    for position, author in enumerate(authors):
        file_as = f" opf:file-as={quoteattr(book_sort)}" if position == 0 and book_sort else ""
        dc("creator", author, f' opf:role="aut"{file_as}')
    dc("publisher", fields.get("Publisher"))
    dc("date", pubdate_of(fields))
    dc("language", fields.get("LanguageISO"))
    dc("description", summary_html(fields.get("Summary")))
    for tag in split_people(fields.get("Genre")) if tags is None else tags:
        dc("subject", tag)
    for scheme, value in merged_identifiers(existing_identifiers, fields).items():
        meta.append(f"<dc:identifier opf:scheme={quoteattr(scheme)}>{escape(value)}</dc:identifier>")
    if fields.get("Series"):
        calibre_meta("series", fields["Series"])
        index = series_index(fields.get("Number"))
        calibre_meta("series_index", None if index is None else repr(index))
    rating = rating_of(fields)
    calibre_meta("rating", None if rating is None else str(rating))
    body = "\n    ".join(meta)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="uuid_id">\n'
        '  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">\n'
        f"    {body}\n"
        "  </metadata>\n"
        "</package>\n"
    )
