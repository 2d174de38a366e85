"""The stand-in Kavita's data: libraries, series, volumes, chapters, people, and Kavita 0.8.3's rules for them.

The rules that matter to a metadata writer follow Kavita's code (read at the commit the
OpenAPI description was built from):

- ``Chapter/update`` (``ChapterController.UpdateChapterMetadata``): every field is taken from the
  body (an absent summary, title, language, link list or date becomes empty, an absent sort order 0),
  genres, tags and people are replaced only by non-empty lists (all roles at once as soon as one
  role is non-empty), a person unknown to Kavita is created under its *normalised* name, the ISBN
  only when valid, and every lock is copied from the body (team and location locks excepted).
  Locks are not checked here: they only protect fields from scans.
- ``Series/metadata`` (``SeriesService.UpdateSeriesMetadata``): each changed field is locked, an
  absent summary or link list becomes empty, an absent or empty genre or tag list clears them,
  people of a locked role are left, then **every** lock is assigned from the body.
- Scans read ComicInfo.xml into the fields that are not locked (people under their real names).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kavita_standin.parser import DEFAULT_CHAPTER, SPECIAL_VOLUME, min_number, normalize

NO_DATE = "0001-01-01T00:00:00"
# ComicInfo element -> (list name in the DTOs, lock name, PersonRole)
PEOPLE = (
    ("Writer", "writers", "writerLocked", 3),
    ("Penciller", "pencillers", "pencillerLocked", 4),
    ("Inker", "inkers", "inkerLocked", 5),
    ("Colorist", "colorists", "coloristLocked", 6),
    ("Letterer", "letterers", "lettererLocked", 7),
    ("CoverArtist", "coverArtists", "coverArtistLocked", 8),
    ("Editor", "editors", "editorLocked", 9),
    ("Publisher", "publishers", "publisherLocked", 10),
    ("Characters", "characters", "characterLocked", 11),
    ("Translator", "translators", "translatorLocked", 12),
    ("Imprint", "imprints", "imprintLocked", 13),
    ("Teams", "teams", "teamLocked", 14),
    ("Locations", "locations", "locationLocked", 15),
)
ROLE_OF = {name: role for _element, name, _lock, role in PEOPLE}
CHAPTER_LOCKS = (
    "ageRatingLocked",
    "titleNameLocked",
    "genresLocked",
    "tagsLocked",
    *(lock for _element, _name, lock, _role in PEOPLE),
    "languageLocked",
    "summaryLocked",
    "isbnLocked",
    "releaseDateLocked",
    "sortOrderLocked",
    "publicationStatusLocked",
    "releaseYearLocked",
)
# absent from 0.8.3's ChapterDto although Chapter/update copies them
HIDDEN_CHAPTER_LOCKS = ("titleNameLocked", "sortOrderLocked", "releaseDateLocked", "isbnLocked")
# Chapter/update copies these locks from the body (0.8.3 forgets the team and location locks)
COPIED_CHAPTER_LOCKS = tuple(
    lock
    for lock in CHAPTER_LOCKS
    if lock not in ("teamLocked", "locationLocked", "publicationStatusLocked", "releaseYearLocked")
)
SERIES_LOCKS = (
    "languageLocked",
    "summaryLocked",
    "ageRatingLocked",
    "publicationStatusLocked",
    "genresLocked",
    "tagsLocked",
    *(lock for _element, _name, lock, _role in PEOPLE),
    "releaseYearLocked",
)


def now_local() -> str:
    return dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")


def utc(local: str) -> str:
    return local[:19] + "Z"


def valid_isbn(value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value or "")
    if re.fullmatch(r"\d{13}", digits):
        return sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10 == 0
    if re.fullmatch(r"\d{9}[\dXx]", digits):
        total = sum((10 - i) * (10 if d in "Xx" else int(d)) for i, d in enumerate(digits))
        return total % 11 == 0
    return False


def comma_values(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def links(value: str | None) -> str:
    """Kavita keeps links comma-joined, trimmed, empty ones dropped."""
    return ",".join(comma_values(value))


def read_comicinfo(path: Path) -> dict[str, str] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.lower(): name for name in archive.namelist()}
            if "comicinfo.xml" not in names:
                return None
            data = archive.read(names["comicinfo.xml"])
    except (zipfile.BadZipFile, OSError):
        return None
    from lxml import etree

    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    return {etree.QName(child).localname: (child.text or "").strip() for child in root if isinstance(child.tag, str)}


def page_count(path: Path) -> int:
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(1 for name in archive.namelist() if name.lower().endswith((".png", ".jpg", ".jpeg", ".webp")))
    except (zipfile.BadZipFile, OSError):
        return 0


@dataclass
class User:
    id: int
    username: str
    api_key: str
    roles: tuple[str, ...]


@dataclass
class Library:
    id: int
    name: str
    folder: Path
    server_root: str
    last_scanned: str = NO_DATE

    def kavita_path(self, local: Path) -> str:
        return self.server_root.rstrip("/") + "/" + local.relative_to(self.folder).as_posix()


@dataclass
class Chapter:
    id: int
    volume_id: int
    range: str
    file_local: Path
    file_kavita: str
    created: str
    size: int = 0
    mtime_ns: int = 0
    pages: int = 0
    is_special: bool = False
    title_name: str | None = None
    summary: str | None = ""
    release_date: str = NO_DATE
    isbn: str = ""
    language: str = ""
    web_links: str = ""
    sort_order: float = 0.0
    age_rating: int = 0
    count: int = 0
    total_count: int = 0
    people: dict[str, list[int]] = field(default_factory=dict)  # list name -> person ids
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    locks: dict[str, bool] = field(default_factory=dict)
    cover_locked: bool = False
    cover: bytes | None = None
    last_modified: str = ""

    @property
    def min_number(self) -> float:
        return float(DEFAULT_CHAPTER) if self.range == DEFAULT_CHAPTER else min_number(self.range)


@dataclass
class Volume:
    id: int
    series_id: int
    name: str
    created: str

    @property
    def min_number(self) -> float:
        return min_number(self.name) if self.name not in ("-100000",) else -100000.0


@dataclass
class SeriesMetadata:
    summary: str = ""
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    people: dict[str, list[int]] = field(default_factory=dict)
    locks: dict[str, bool] = field(default_factory=dict)
    age_rating: int = 0
    release_year: int = 0
    language: str = ""
    publication_status: int = 0
    total_count: int = 0
    max_count: int = 0
    web_links: str = ""


@dataclass
class Series:
    id: int
    library_id: int
    name: str
    normalized: str
    folder_local: Path
    folder_kavita: str
    created: str
    last_chapter_added: str
    metadata: SeriesMetadata = field(default_factory=SeriesMetadata)
    cover_locked: bool = False


class People:
    """Kavita's Person table: one person per normalised name."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.by_key: dict[str, int] = {}

    def person(self, name: str, *, display: str | None = None) -> int:
        key = normalize(name)
        if key not in self.by_key:
            person_id = len(self.names) + 1
            self.names[person_id] = display if display is not None else name
            self.by_key[key] = person_id
        return self.by_key[key]

    def dtos(self, ids: list[int], role: int) -> list[dict[str, Any]]:
        return [{"id": person_id, "name": self.names[person_id], "role": role} for person_id in ids]


def chapter_from_comicinfo(chapter: Chapter, info: dict[str, str], people: People) -> None:
    """A scan's ``ProcessSeries.UpdateChapterFromComicInfo``: each unlocked field from the file."""
    locked = chapter.locks.get
    if info.get("Title") and not locked("titleNameLocked"):
        chapter.title_name = info["Title"]
    if info.get("Summary") and not locked("summaryLocked"):
        chapter.summary = info["Summary"]
    if info.get("LanguageISO") and not locked("languageLocked"):
        chapter.language = info["LanguageISO"]
    if info.get("Web"):
        chapter.web_links = links(info["Web"])
    gtin = info.get("GTIN") or info.get("Isbn") or ""
    if gtin and valid_isbn(gtin) and not locked("isbnLocked"):
        chapter.isbn = re.sub(r"[\s-]", "", gtin)
    if (info.get("Count") or "").isdigit() and int(info["Count"]) > 0:
        chapter.total_count = int(info["Count"])
    if (info.get("Year") or "").isdigit() and int(info["Year"]) > 0 and not locked("releaseDateLocked"):
        month = int(info["Month"]) if (info.get("Month") or "").isdigit() else 1
        day = int(info["Day"]) if (info.get("Day") or "").isdigit() else 1
        chapter.release_date = f"{int(info['Year']):04d}-{max(month, 1):02d}-{max(day, 1):02d}T00:00:00"
    for element, name, lock, _role in PEOPLE:
        if element in info and not locked(lock):
            chapter.people[name] = [people.person(value) for value in comma_values(info[element])]
    if "Genre" in info and not locked("genresLocked"):
        chapter.genres = comma_values(info["Genre"])
    if "Tags" in info and not locked("tagsLocked"):
        chapter.tags = comma_values(info["Tags"])


def series_from_chapters(series: Series, chapters: list[Chapter], volumes: dict[int, Volume]) -> None:
    """A scan's ``ProcessSeries.UpdateSeriesMetadata``: the series' fields from its chapters, unless locked."""
    if not chapters:
        return
    meta = series.metadata
    locked = meta.locks.get
    ordered = sorted(chapters, key=lambda c: (volumes[c.volume_id].min_number, c.min_number))
    first = ordered[0]
    meta.total_count = max(chapter.total_count for chapter in chapters)
    if first.summary and not locked("summaryLocked"):
        meta.summary = first.summary
    if first.language and not locked("languageLocked"):
        meta.language = first.language
    if not locked("genresLocked"):
        meta.genres = _union(chapter.genres for chapter in chapters)
    if not locked("tagsLocked"):
        meta.tags = _union(chapter.tags for chapter in chapters)
    for _element, name, lock, _role in PEOPLE:
        if not locked(lock):
            meta.people[name] = list(dict.fromkeys(pid for chapter in chapters for pid in chapter.people.get(name, [])))
    years = [int(chapter.release_date[:4]) for chapter in chapters if chapter.release_date != NO_DATE]
    if years and not locked("releaseYearLocked"):
        meta.release_year = min(years)
    numbers = [
        volumes[c.volume_id].min_number
        for c in chapters
        if volumes[c.volume_id].name not in ("-100000", SPECIAL_VOLUME)
    ]
    numbers += [c.min_number for c in chapters if c.range != DEFAULT_CHAPTER]
    meta.max_count = int(max(numbers)) if numbers else 0
    if not locked("publicationStatusLocked"):
        meta.publication_status = 2 if meta.total_count and meta.max_count >= meta.total_count else 0


def _union(lists: Any) -> list[str]:
    seen: dict[str, str] = {}
    for values in lists:
        for value in values:
            seen.setdefault(normalize(value), value)
    return list(seen.values())


def update_chapter(chapter: Chapter, body: dict[str, Any], people: People) -> None:
    """``POST /api/Chapter/update`` as Kavita 0.8.3 applies it."""
    chapter.age_rating = int(body.get("ageRating") or 0)
    chapter.summary = (body.get("summary") or "").strip()
    chapter.language = body.get("language") or ""
    chapter.sort_order = float(body.get("sortOrder") or 0.0)
    chapter.title_name = body.get("titleName")
    chapter.release_date = str(body.get("releaseDate") or NO_DATE)[:19]
    if valid_isbn(body.get("isbn") or ""):
        chapter.isbn = body["isbn"]
    chapter.web_links = links(body.get("webLinks"))
    if body.get("genres"):
        chapter.genres = [entry["title"] for entry in body["genres"]]
    if body.get("tags"):
        chapter.tags = [entry["title"] for entry in body["tags"]]
    if any(body.get(name) for _element, name, _lock, _role in PEOPLE):
        for _element, name, _lock, _role in PEOPLE:
            ids = []
            for entry in body.get(name) or []:
                key = normalize(entry["name"])
                # a person Kavita does not know is created under the normalised name (0.8.3)
                ids.append(people.by_key.get(key) or people.person(key, display=key))
            chapter.people[name] = list(dict.fromkeys(ids))
    for lock in COPIED_CHAPTER_LOCKS:
        if lock not in ("publicationStatusLocked", "releaseYearLocked"):
            chapter.locks[lock] = bool(body.get(lock, False))
    chapter.last_modified = now_local()


def update_series_metadata(series: Series, body: dict[str, Any], people: People) -> None:
    """``POST /api/Series/metadata`` as Kavita 0.8.3 applies it (``SeriesService.UpdateSeriesMetadata``)."""
    meta, locks = series.metadata, series.metadata.locks
    if meta.age_rating != int(body.get("ageRating") or 0):
        meta.age_rating, locks["ageRatingLocked"] = int(body.get("ageRating") or 0), True
    year = int(body.get("releaseYear") or 0)
    if 1000 <= year <= 9999 and meta.release_year != year:
        meta.release_year, locks["releaseYearLocked"] = year, True
    if meta.publication_status != int(body.get("publicationStatus") or 0):
        meta.publication_status, locks["publicationStatusLocked"] = int(body.get("publicationStatus") or 0), True
    summary = (body.get("summary") or "").strip()
    if meta.summary != summary:
        meta.summary, locks["summaryLocked"] = summary, True
    if meta.language != (body.get("language") or ""):
        meta.language, locks["languageLocked"] = body.get("language") or "", True
    meta.web_links = links(body.get("webLinks"))
    genres = [entry["title"] for entry in body.get("genres") or []]
    if genres and {normalize(g) for g in genres} != {normalize(g) for g in meta.genres}:
        locks["genresLocked"] = True
    meta.genres = genres
    meta.tags = [entry["title"] for entry in body.get("tags") or []]
    if any(body.get(name) for _element, name, _lock, _role in PEOPLE):
        for _element, name, lock, _role in PEOPLE:
            if locks.get(lock):
                continue  # people of a locked role are not replaced
            meta.people[name] = list(dict.fromkeys(people.person(entry["name"]) for entry in body.get(name) or []))
    for lock in SERIES_LOCKS:
        if lock not in ("teamLocked", "locationLocked"):
            locks[lock] = bool(body.get(lock, False))
