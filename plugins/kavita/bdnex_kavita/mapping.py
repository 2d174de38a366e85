"""From a ComicInfo's fields to Kavita's chapter fields, and the comparisons that decide what changes.

Kavita compares names the way its ``Parser.Normalize`` does (letters and digits only, lower
case): "Jean Van Hamme" and "jeanvanhamme" are one person, "Heroic Fantasy" and
"heroic-fantasy" one genre. We compare the same way, so that what Kavita already holds is
never sent again under another spelling. Pure functions: no I/O.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from bdnex_core.api import to_isbn13

BEDETHEQUE_HOST = "bedetheque.com"
# ComicInfo element -> (Kavita's list in ChapterDto/UpdateChapterDto, its lock, PersonRole)
PEOPLE = (
    ("Writer", "writers", "writerLocked", 3),
    ("Penciller", "pencillers", "pencillerLocked", 4),
    ("Inker", "inkers", "inkerLocked", 5),
    ("Colorist", "colorists", "coloristLocked", 6),
    ("Letterer", "letterers", "lettererLocked", 7),
    ("CoverArtist", "coverArtists", "coverArtistLocked", 8),
    ("Editor", "editors", "editorLocked", 9),
    ("Publisher", "publishers", "publisherLocked", 10),
    ("Translator", "translators", "translatorLocked", 12),
    ("Imprint", "imprints", "imprintLocked", 13),
)
# the people lists of UpdateChapterDto and SeriesMetadataDto we never fill but always echo
OTHER_PEOPLE = ("characters", "teams", "locations")
PEOPLE_LISTS = tuple(name for _element, name, _lock, _role in PEOPLE) + OTHER_PEOPLE
# chapter field -> its lock (UpdateChapterDto). The four marked in UNREADABLE_LOCKS are absent from
# Kavita 0.8.3's ChapterDto although Chapter/update copies them from the body.
CHAPTER_LOCKS = {
    "titleName": "titleNameLocked",
    "summary": "summaryLocked",
    "releaseDate": "releaseDateLocked",
    "isbn": "isbnLocked",
    "language": "languageLocked",
    "genres": "genresLocked",
    "tags": "tagsLocked",
    "sortOrder": "sortOrderLocked",
    "ageRating": "ageRatingLocked",
} | {name: lock for _element, name, lock, _role in PEOPLE}
UNREADABLE_LOCKS = ("titleNameLocked", "sortOrderLocked", "releaseDateLocked", "isbnLocked")
# every property of UpdateChapterDto (Kavita 0.8.3): the body is built from these only, since
# Kavita's schemas forbid unknown properties
UPDATE_CHAPTER_KEYS = (
    "id",
    "summary",
    "genres",
    "tags",
    *PEOPLE_LISTS,
    "ageRating",
    "language",
    "ageRatingLocked",
    "titleNameLocked",
    "genresLocked",
    "tagsLocked",
    "writerLocked",
    "characterLocked",
    "coloristLocked",
    "editorLocked",
    "inkerLocked",
    "imprintLocked",
    "lettererLocked",
    "pencillerLocked",
    "publisherLocked",
    "translatorLocked",
    "teamLocked",
    "locationLocked",
    "coverArtistLocked",
    "languageLocked",
    "summaryLocked",
    "isbnLocked",
    "releaseDateLocked",
    "sortOrder",
    "sortOrderLocked",
    "webLinks",
    "isbn",
    "releaseDate",
    "titleName",
)
# Kavita writes "no release date" as .NET's DateTime.MinValue
NO_DATE = "0001-01-01T00:00:00"
_NOT_NAME = re.compile(r"[^\w+!＊！＋]|_")


def normalized(name: Any) -> str:
    """Kavita's ``Parser.Normalize``: letters, digits and ``+!`` only, lower case."""
    return _NOT_NAME.sub("", unicodedata.normalize("NFC", str(name or ""))).lower()


def split_values(value: str | None) -> list[str]:
    """A ComicInfo multi-value field (comma-separated), in order, each value once."""
    seen: set[str] = set()
    values = []
    for part in (value or "").split(","):
        part = part.strip()
        if part and normalized(part) not in seen:
            seen.add(normalized(part))
            values.append(part)
    return values


def names(entries: Iterable[Mapping[str, Any]] | None, key: str = "name") -> list[str]:
    return [str(entry.get(key) or "") for entry in entries or [] if isinstance(entry, Mapping)]


def same_names(current: Iterable[str], desired: Iterable[str]) -> bool:
    return {normalized(name) for name in current} == {normalized(name) for name in desired}


def merged_names(current: list[str], ours: list[str]) -> list[str]:
    """Ours first, then the ones already there that ours does not name (nothing of the user's is dropped)."""
    ours_keys = {normalized(name) for name in ours}
    return ours + [name for name in current if normalized(name) not in ours_keys]


def release_date(fields: Mapping[str, str]) -> str | None:
    """``Year``/``Month``/``Day`` as Kavita's date-time (midnight), None without a year."""
    try:
        year, month, day = int(fields.get("Year") or 0), int(fields.get("Month") or 1), int(fields.get("Day") or 1)
    except ValueError:
        return None
    if not 1 <= year <= 9999:
        return None
    month = min(max(month, 1), 12)
    day = min(max(day, 1), calendar.monthrange(year, month)[1])
    return f"{year:04d}-{month:02d}-{day:02d}T00:00:00"


def same_date(current: Any, desired: str | None) -> bool:
    return str(current or NO_DATE)[:10] == str(desired or NO_DATE)[:10]


def isbn_of(fields: Mapping[str, str]) -> str | None:
    """The album's ISBN-13 (Kavita keeps only a valid ISBN-10 or -13)."""
    return to_isbn13(fields["GTIN"]) if fields.get("GTIN") else None


def web_links(current: str | None, ours: str | None) -> str:
    """Kavita's comma-separated links: our Bédéthèque link first, the user's other links kept, any older
    Bédéthèque link replaced. A comma inside a URL would split it, so it is percent-encoded."""
    others = [link.strip() for link in (current or "").split(",") if link.strip()]
    if not ours:
        return ",".join(others)
    ours = ours.strip().replace(",", "%2C")
    return ",".join([ours, *(link for link in others if BEDETHEQUE_HOST not in link.lower() and link != ours)])


def same_links(current: str | None, desired: str | None) -> bool:
    def split(value: str | None) -> list[str]:
        return [link.strip() for link in (value or "").split(",") if link.strip()]

    return split(current) == split(desired)


def bedetheque_link(current: str | None) -> str | None:
    for link in (current or "").split(","):
        if BEDETHEQUE_HOST in link.lower():
            return link.strip()
    return None
