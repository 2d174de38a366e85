"""An OPF document for ``calibredb set_metadata ID file.opf`` built from ComicInfo fields.

``set_metadata`` with an OPF recomputes calibre's sort fields and keeps custom
columns, unlike ``--field``. Series index rule (calibre needs a number):
a numeric tome is used as is (``"12"`` -> 12, ``"1.5"`` -> 1.5); a hors-série
``HS n`` goes just after tome n (``n + 0.5``; a bare ``HS`` -> 0.5); a lettered
tome ``3b`` becomes 3.2 (a -> .1, b -> .2, ...); anything else -> no index.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

_HORS_SERIE = re.compile(r"^\s*(?:HS|hors[- ]s[ée]rie)\s*(\d+)?\s*$", re.IGNORECASE)
_LETTERED = re.compile(r"^\s*(\d+)\s*([a-i])\s*$", re.IGNORECASE)
_ALBUM_ID_IN_URL = re.compile(r"-(\d+)\.html?$")
_ALBUM_ID_IN_NOTES = re.compile(r"Bédéthèque album (\d+)")


def series_index(number: str | None) -> float | None:
    """calibre's series index for a ComicInfo ``Number`` (see the module docstring)."""
    if not number:
        return None
    text = number.strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        pass
    if match := _HORS_SERIE.match(text):
        return int(match.group(1)) + 0.5 if match.group(1) else 0.5
    if match := _LETTERED.match(text):
        return int(match.group(1)) + (ord(match.group(2).lower()) - ord("a") + 1) / 10
    return None


def album_id_of(fields: Mapping[str, str]) -> str | None:
    """The Bédéthèque album id a ComicInfo carries (its Web URL, else its Notes)."""
    if match := _ALBUM_ID_IN_URL.search(fields.get("Web") or ""):
        return match.group(1)
    if match := _ALBUM_ID_IN_NOTES.search(fields.get("Notes") or ""):
        return match.group(1)
    return None


def split_people(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


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


def build_opf(fields: Mapping[str, str], existing_identifiers: Mapping[str, str]) -> str:
    """The OPF 2 package document for one book."""
    meta: list[str] = []

    def dc(tag: str, value: str | None, attrs: str = "") -> None:
        if value:
            meta.append(f"<dc:{tag}{attrs}>{escape(value)}</dc:{tag}>")

    def calibre_meta(name: str, value: str | None) -> None:
        if value is not None and value != "":
            meta.append(f"<meta name={quoteattr('calibre:' + name)} content={quoteattr(value)}/>")

    dc("title", fields.get("Title") or fields.get("Series"))
    for author in authors_of(fields):
        dc("creator", author, ' opf:role="aut"')
    dc("publisher", fields.get("Publisher"))
    dc("date", pubdate_of(fields))
    dc("language", fields.get("LanguageISO"))
    dc("description", summary_html(fields.get("Summary")))
    for tag in split_people(fields.get("Genre")):
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
