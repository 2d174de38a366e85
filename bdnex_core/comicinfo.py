"""ComicInfo.xml: built from a Bédéthèque album, read safely, merged, written in schema order.

The element order of ComicInfo's ``xs:sequence`` matters for validation, and v2.1 adds
``Translator``, ``Tags``, ``StoryArcNumber`` and ``GTIN``. BD mapping (see GUIDE §2):
the tome goes to ``Number`` (kept as text: ``HS1``, ``INT2``, ``1a``), the ISBN to ``GTIN``
(into ``Notes`` for v2.0), the collection to ``Imprint``, the album URL to ``Web``.
Elements we do not know (a newer schema, another tool's) are kept as they were.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from lxml import etree

from bdnex_core.bedetheque.album import person_name
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
# an XML declaration naming its encoding (in an ASCII-compatible encoding; UTF-16 starts with a BOM)
DECLARED_ENCODING = re.compile(rb"\s*<\?xml[^>]*\sencoding\s*=\s*[\"'][A-Za-z][A-Za-z0-9._-]*[\"']")

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
    """Simple fields by element name (text values), the page list, and unknown elements kept raw.

    What a file holds that we do not set ourselves survives a read and a write: the attributes of
    each ``<Page>`` (bookmarks, sizes, ...), the ``<Pages>`` element's own attributes, anything
    else inside ``<Pages>`` at its place (``pages_other``: how many pages precede it, raw bytes),
    the root's attributes, and unknown elements.
    """

    fields: dict[str, str] = field(default_factory=dict)
    pages: list[PageInfo] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)
    pages_other: list[tuple[int, bytes]] = field(default_factory=list)
    pages_attributes: tuple[tuple[str, str], ...] = ()
    root_attributes: tuple[tuple[str, str], ...] = ()

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
        if not data.startswith((b"\xff\xfe", b"\xfe\xff")) and not DECLARED_ENCODING.match(data):
            try:  # no declaration: XML says UTF-8 (a declared latin-1 or cp1252 is read as declared)
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MetadataError(
                    f"ComicInfo.xml is not valid UTF-8 and declares no other encoding (byte {exc.start})"
                ) from None
        if b"<!entity" in data.lower():  # before parsing: entities can expand without limit
            raise MetadataError("ComicInfo.xml declares entities in a DOCTYPE: refused (they can expand without limit)")
        try:
            root = etree.fromstring(data, _parser)
        except etree.XMLSyntaxError as exc:
            raise MetadataError(f"ComicInfo.xml is not well-formed XML ({exc.msg})") from None
        # a DOCTYPE that only names the root or a DTD is harmless (never loaded); entities are not
        internal = root.getroottree().docinfo.internalDTD
        if internal is not None and any(True for _entity in internal.iterentities()):
            raise MetadataError("ComicInfo.xml declares entities in a DOCTYPE: refused")
        if etree.QName(root).localname != "ComicInfo":
            raise MetadataError(f"the root element is <{etree.QName(root).localname}>, not <ComicInfo>")
        info = cls(root_attributes=tuple(root.attrib.items()))
        for child in root:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if name == "Pages":
                info.pages_attributes = tuple(child.attrib.items())
                for page in child:
                    if not isinstance(page.tag, str):
                        continue
                    image = page.get("Image")
                    if etree.QName(page).localname != "Page" or image is None or not image.lstrip("-").isdigit():
                        info.pages_other.append((len(info.pages), _raw(page)))  # kept as it is, where it is
                        continue
                    attributes = tuple(
                        (key, value) for key, value in page.attrib.items() if key not in ("Image", "Type")
                    )
                    info.pages.append(PageInfo(int(image), page.get("Type"), attributes))
            elif name in KNOWN and len(child) == 0:
                if child.text is not None and child.text.strip():
                    info.fields[name] = child.text.strip()
            else:
                info.unknown.append(_raw(child))
        return info

    def front_cover_index(self) -> int | None:
        return next((page.image for page in self.pages if page.type and "FrontCover" in page.type.split()), None)

    # ------------------------------------------------------------------ writing

    def to_xml(self, version: str | None = None) -> bytes:
        """UTF-8 XML in the schema's element order for ``version`` ('2.0' or '2.1')."""
        version = version or "2.1"
        order = ORDERS[version]
        root = etree.Element("ComicInfo", nsmap={"xsi": XSI, "xsd": XSD})
        for key, value in self.root_attributes:
            root.set(key, value)
        fields = dict(self.fields)
        if version == "2.0" and fields.get("GTIN"):
            gtin = fields.pop("GTIN")
            if gtin not in fields.get("Notes", ""):
                fields["Notes"] = f"{fields.get('Notes', '')} ISBN {gtin}".strip()
        if "CommunityRating" in fields:
            with contextlib.suppress(ValueError):  # a file's own odd value ("great") is kept as it is
                fields["CommunityRating"] = (
                    _rating(float(fields["CommunityRating"]), version) or fields["CommunityRating"]
                )
        for name in order:
            if name == "Pages":
                if self.pages or self.pages_other:
                    self._write_pages(etree.SubElement(root, "Pages"))
                continue
            field_value = fields.get(name)
            if field_value:
                etree.SubElement(root, name).text = xml_legal(field_value)
        for raw in self.unknown:  # foreign elements after ours: the schema's sequence is closed to them anyway
            root.append(etree.fromstring(raw, _parser))
        return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)

    def _write_pages(self, pages: etree._Element) -> None:
        for key, value in self.pages_attributes:
            pages.set(key, value)
        others = sorted(self.pages_other, key=lambda other: other[0])
        for index, page in enumerate([*self.pages, None]):
            while others and others[0][0] <= index:
                pages.append(etree.fromstring(others.pop(0)[1], _parser))
            if page is None:
                break
            element = etree.SubElement(pages, "Page", Image=str(page.image))
            if page.type:
                element.set("Type", page.type)
            for key, value in page.attributes:
                element.set(key, value)

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
        merged = copy.deepcopy(existing)
        for name, value in new.fields.items():
            if policy == "fill_empty" and merged.fields.get(name):
                continue
            if name in locked and merged.fields.get(name):
                continue
            merged.fields[name] = value
        if new.pages and "Pages" not in locked:
            merged.pages = _merge_pages(existing.pages, new.pages)
        return merged


def _merge_pages(existing: list[PageInfo], ours: list[PageInfo]) -> list[PageInfo]:
    """The file's pages in the file's order with everything they say; ours add only what is missing.

    Our page entries only number the pages and guess the cover (the first page): a page's
    ``Type`` from the file wins, and so does a FrontCover the file puts elsewhere.
    """
    if not existing:
        return list(ours)
    has_cover = any(page.type and "FrontCover" in page.type.split() for page in existing)
    our_types = {page.image: page.type for page in ours}
    known = {page.image for page in existing}
    merged = [
        page if page.type or has_cover else dataclasses.replace(page, type=our_types.get(page.image))
        for page in existing
    ]
    merged += [
        page if not has_cover else dataclasses.replace(page, type=None) for page in ours if page.image not in known
    ]
    return merged


def _raw(element: etree._Element) -> bytes:
    """An element as bytes, without its tail (the whitespace after it belongs to the layout)."""
    return etree.tostring(element, encoding="utf-8", with_tail=False)


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

# What XML 1.0 forbids (controls, lone surrogates, U+FFFE/U+FFFF): lxml refuses such text with a ValueError
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_legal(text: str) -> str:
    """``text`` without the characters an XML document cannot hold (a web page may contain them)."""
    return _XML_ILLEGAL.sub("", text)


def _join(names: list[str]) -> str | None:
    cleaned = [person for person in (person_name(name) for name in names if name) if person]
    return ", ".join(dict.fromkeys(cleaned)) or None


def _rating(value: float | None, version: str) -> str | None:
    if value is None:
        return None

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
