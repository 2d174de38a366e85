"""ComicInfo.xml: built from a Bédéthèque album, read safely, merged, written in schema order.

The element order of ComicInfo's ``xs:sequence`` matters for validation, and v2.1 adds
``Translator``, ``Tags``, ``StoryArcNumber`` and ``GTIN``. BD mapping (see GUIDE §2):
the tome goes to ``Number`` (kept as text: ``HS1``, ``INT2``, ``1a``), the ISBN to ``GTIN``
(into ``Notes`` for v2.0), the collection to ``Imprint``, the album URL to ``Web``.
Elements we do not know (a newer schema, another tool's) are kept as they were.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lxml import etree

from bdnex_core.errors import MetadataError

if TYPE_CHECKING:
    from bdnex_core.bedetheque.album import Album

V20_ORDER = (
    "Title",
    "Series",
    "Number",
    "Count",
    "Volume",
    "AlternateSeries",
    "AlternateNumber",
    "AlternateCount",
    "Summary",
    "Notes",
    "Year",
    "Month",
    "Day",
    "Writer",
    "Penciller",
    "Inker",
    "Colorist",
    "Letterer",
    "CoverArtist",
    "Editor",
    "Publisher",
    "Imprint",
    "Genre",
    "Web",
    "PageCount",
    "LanguageISO",
    "Format",
    "BlackAndWhite",
    "Manga",
    "Characters",
    "Teams",
    "Locations",
    "ScanInformation",
    "StoryArc",
    "SeriesGroup",
    "AgeRating",
    "Pages",
    "CommunityRating",
    "MainCharacterOrTeam",
    "Review",
)
V21_ORDER = (
    "Title",
    "Series",
    "Number",
    "Count",
    "Volume",
    "AlternateSeries",
    "AlternateNumber",
    "AlternateCount",
    "Summary",
    "Notes",
    "Year",
    "Month",
    "Day",
    "Writer",
    "Penciller",
    "Inker",
    "Colorist",
    "Letterer",
    "CoverArtist",
    "Editor",
    "Translator",
    "Publisher",
    "Imprint",
    "Genre",
    "Tags",
    "Web",
    "PageCount",
    "LanguageISO",
    "Format",
    "BlackAndWhite",
    "Manga",
    "Characters",
    "Teams",
    "Locations",
    "ScanInformation",
    "StoryArc",
    "StoryArcNumber",
    "SeriesGroup",
    "AgeRating",
    "Pages",
    "CommunityRating",
    "MainCharacterOrTeam",
    "Review",
    "GTIN",
)
ORDERS = {"2.0": V20_ORDER, "2.1": V21_ORDER}
KNOWN = frozenset(V21_ORDER)
MAX_XML_BYTES = 2 * 1024 * 1024  # real ComicInfo files are a few KB; a bigger one is not metadata
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
TAGGED_BY = "Tagged by bdnex-core from Bédéthèque album"

_parser = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


@dataclass(frozen=True)
class PageInfo:
    image: int
    type: str | None = None  # FrontCover, Story, ...
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass
class ComicInfo:
    """Simple fields by element name (text values), the page list, and unknown elements kept raw."""

    fields: dict[str, str] = field(default_factory=dict)
    pages: list[PageInfo] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.fields.get(name, default)

    def __getitem__(self, name: str) -> str:
        return self.fields[name]

    # ------------------------------------------------------------------ building

    @classmethod
    def from_album(
        cls,
        album: Album,
        *,
        pages: list[str] | None = None,
        cover_index: int = 0,
        page_count: int | None = None,
        version: str = "2.1",
    ) -> ComicInfo:
        """ComicInfo for ``album``; ``pages`` are the archive's image pages in reading order."""
        values: dict[str, str | int | float | None] = {
            "Title": album.title or None,
            "Series": album.series or album.title or None,
            "Number": album.tome,
            "Count": album.series_album_count,
            "Summary": album.summary,
            "Writer": _join(album.writers),
            # Bédéthèque's "Dessin" is the artist; ComicTagger also fills Inker for an artist, we keep to Penciller
            "Penciller": _join(album.pencillers),
            "Colorist": _join(album.colorists),
            "Letterer": _join(album.letterers),
            "CoverArtist": _join(album.cover_artists),
            "Translator": _join(album.translators),
            "Publisher": album.publisher,
            "Imprint": album.collection,
            "Genre": album.genre,
            "Web": album.url,
            "PageCount": page_count if page_count is not None else (len(pages) if pages else None),
            "LanguageISO": album.language or "fr",
            "Format": album.format,
            "CommunityRating": _rating(album.rating, version),
            "GTIN": _isbn_digits(album.isbn),
        }
        year, month, day = _date_parts(album.release_date or album.legal_deposit)
        values.update(Year=year, Month=month, Day=day)
        notes = [f"{TAGGED_BY} {album.album_id}."]
        if version == "2.0" and album.isbn:
            notes.append(f"ISBN {album.isbn}")
            values["GTIN"] = None
        values["Notes"] = " ".join(notes)
        info = cls({name: str(value) for name, value in values.items() if value not in (None, "")})
        if pages:
            cover = cover_index if 0 <= cover_index < len(pages) else 0
            info.pages = [PageInfo(index, "FrontCover" if index == cover else None) for index in range(len(pages))]
        return info

    # ------------------------------------------------------------------ reading

    @classmethod
    def from_xml(cls, data: bytes) -> ComicInfo:
        """Parse an existing ComicInfo.xml safely; raise :class:`MetadataError` with the reason."""
        if data is None:
            raise MetadataError("no ComicInfo.xml")
        if len(data) > MAX_XML_BYTES:
            raise MetadataError(
                f"ComicInfo.xml is {len(data) // 1024} KB, more than the {MAX_XML_BYTES // 1024} KB a real one can need"
            )
        try:
            data.decode("utf-8") if not data.startswith((b"\xff\xfe", b"\xfe\xff")) else data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise MetadataError(f"ComicInfo.xml is not valid UTF-8 (byte {exc.start})") from None
        head = data[:4096].lower()
        if b"<!doctype" in head or b"<!entity" in data.lower():
            raise MetadataError("ComicInfo.xml declares a DOCTYPE or entities: refused (they can expand without limit)")
        try:
            root = etree.fromstring(data, _parser)
        except etree.XMLSyntaxError as exc:
            raise MetadataError(f"ComicInfo.xml is not well-formed XML ({exc.msg})") from None
        # the byte scan above only looks at the head; a DOCTYPE hidden behind a long comment is caught here
        if root.getroottree().docinfo.doctype:
            raise MetadataError("ComicInfo.xml declares a DOCTYPE: refused")
        if etree.QName(root).localname != "ComicInfo":
            raise MetadataError(f"the root element is <{etree.QName(root).localname}>, not <ComicInfo>")
        info = cls()
        for child in root:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if name == "Pages":
                for page in child:
                    if not isinstance(page.tag, str) or etree.QName(page).localname != "Page":
                        continue
                    image = page.get("Image")
                    if image is None or not image.lstrip("-").isdigit():
                        continue
                    attributes = tuple(
                        (key, value) for key, value in page.attrib.items() if key not in ("Image", "Type")
                    )
                    info.pages.append(PageInfo(int(image), page.get("Type"), attributes))
            elif name in KNOWN and len(child) == 0:
                if child.text is not None and child.text.strip():
                    info.fields[name] = child.text.strip()
            else:
                info.unknown.append(etree.tostring(child, encoding="utf-8"))
        return info

    def front_cover_index(self) -> int | None:
        return next((page.image for page in self.pages if page.type and "FrontCover" in page.type.split()), None)

    # ------------------------------------------------------------------ writing

    def to_xml(self, version: str | None = None) -> bytes:
        """UTF-8 XML in the schema's element order for ``version`` ('2.0' or '2.1')."""
        version = version or "2.1"
        order = ORDERS[version]
        root = etree.Element("ComicInfo", nsmap={"xsi": XSI, "xsd": XSD})
        fields = dict(self.fields)
        if version == "2.0" and fields.get("GTIN"):
            gtin = fields.pop("GTIN")
            if gtin not in fields.get("Notes", ""):
                fields["Notes"] = f"{fields.get('Notes', '')} ISBN {gtin}".strip()
        if "CommunityRating" in fields:
            fields["CommunityRating"] = _rating(float(fields["CommunityRating"]), version) or fields["CommunityRating"]
        for name in order:
            if name == "Pages":
                if self.pages:
                    pages = etree.SubElement(root, "Pages")
                    for page in self.pages:
                        element = etree.SubElement(pages, "Page", Image=str(page.image))
                        if page.type:
                            element.set("Type", page.type)
                        for key, value in page.attributes:
                            element.set(key, value)
                continue
            field_value = fields.get(name)
            if field_value:
                etree.SubElement(root, name).text = _xml_safe(field_value)
        for raw in self.unknown:  # foreign elements after ours: the schema's sequence is closed to them anyway
            root.append(etree.fromstring(raw, _parser))
        return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)

    # ------------------------------------------------------------------ merging

    @classmethod
    def merge(
        cls, existing: ComicInfo | None, new: ComicInfo, policy: str = "replace", locked_fields: Iterable[str] = ()
    ) -> ComicInfo:
        """Combine a file's ComicInfo with ours.

        ``replace``: our values win; ``fill_empty``: only fields the file lacks are filled;
        ``keep_locked``: our values win except for ``locked_fields``. Elements of the
        existing file we do not produce (and unknown elements) are always kept.
        """
        if policy not in ("replace", "fill_empty", "keep_locked"):
            raise MetadataError(f"unknown merge policy {policy!r}")
        if existing is None:
            return copy.deepcopy(new)
        locked = set(locked_fields) if policy == "keep_locked" else set()
        merged = cls(dict(existing.fields), list(existing.pages), list(existing.unknown))
        for name, value in new.fields.items():
            if policy == "fill_empty" and merged.fields.get(name):
                continue
            if name in locked and merged.fields.get(name):
                continue
            merged.fields[name] = value
        if new.pages and (policy != "fill_empty" or not existing.pages) and "Pages" not in locked:
            merged.pages = list(new.pages)
        return merged


def diff(old: ComicInfo | None, new: ComicInfo) -> dict[str, tuple[str | None, str | None]]:
    """Field-by-field changes from ``old`` to ``new`` (``Pages`` summarised as a count)."""
    before = dict(old.fields) if old else {}
    changes = {
        name: (before.get(name), new.fields.get(name))
        for name in sorted(set(before) | set(new.fields), key=lambda n: V21_ORDER.index(n) if n in V21_ORDER else 99)
        if before.get(name) != new.fields.get(name)
    }
    old_pages = len(old.pages) if old else 0
    if old_pages != len(new.pages) or (old and [p.type for p in old.pages] != [p.type for p in new.pages]):
        changes["Pages"] = (
            f"{old_pages} pages" if old_pages else None,
            f"{len(new.pages)} pages" if new.pages else None,
        )
    return changes


def read_comicinfo_safely(data: bytes | None) -> tuple[ComicInfo | None, str | None]:
    """(ComicInfo, None), or (None, reason) when there is none or it is unusable — never raises."""
    if data is None:
        return None, None
    try:
        return ComicInfo.from_xml(data), None
    except MetadataError as exc:
        return None, str(exc)


# ---------------------------------------------------------------------- helpers

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_safe(text: str) -> str:
    return _CONTROL.sub("", text)


def person_name(name: str) -> str | None:
    """Bédéthèque writes 'Jarry, Nicolas'; ComicInfo lists are comma-separated, so 'Nicolas Jarry'.
    Pseudo-authors ('<N&B>', '<Indéterminé>', '<Collectif>') are not people: dropped."""
    name = " ".join(name.split())
    if not name or (name.startswith("<") and name.endswith(">")):
        return None
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if comma and first.strip() else last.strip()


def _join(names: list[str]) -> str | None:
    cleaned = [person for person in (person_name(name) for name in names if name) if person]
    return ", ".join(dict.fromkeys(cleaned)) or None


def _rating(value: float | None, version: str) -> str | None:
    if value is None:
        return None
    from decimal import ROUND_HALF_UP, Decimal

    bounded = Decimal(str(max(0.0, min(5.0, float(value)))))
    step = Decimal("0.1") if version == "2.1" else Decimal("0.01")  # the schemas' fractionDigits
    text = str(bounded.quantize(step, rounding=ROUND_HALF_UP))
    return text.rstrip("0").rstrip(".") if "." in text else text


def _isbn_digits(isbn: str | None) -> str | None:
    if not isbn:
        return None
    digits = re.sub(r"[^0-9Xx]", "", isbn)
    return digits or None


def _date_parts(iso: str | None) -> tuple[int | None, int | None, int | None]:
    if not iso:
        return None, None, None
    parts = iso.split("-")
    numbers = [int(part) for part in parts if part.isdigit()]
    numbers += [None] * (3 - len(numbers))  # type: ignore[list-item]
    return numbers[0], numbers[1], numbers[2]
