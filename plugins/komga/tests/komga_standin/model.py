"""The stand-in Komga's data: libraries, series and books as Komga 1.26 shows them.

Records hold the state; ``*_dto`` functions render them as the REST API's JSON
(``BookDto``, ``SeriesDto``, ``LibraryDto``, ``UserDto``); ``patch_*`` functions apply a
``PATCH …/metadata`` body with Komga's rules (omitted = unchanged, explicit ``null``
clears the clearable fields, lower-cased tags/genres/roles, ISBN-13 check) and raise
:class:`ValidationFailed` with Komga's ``violations`` list otherwise. ``read_archive``
plays the part of Komga's analysis: media type from the file's content, page count,
and the ComicInfo.xml fields Komga imports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse
from xml.etree import ElementTree

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
COMIC_EXTENSIONS = (".cbz", ".cbr", ".cb7")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".jxl", ".bmp", ".heif", ".heic")
MEDIA_STATUSES = ("UNKNOWN", "ERROR", "READY", "UNSUPPORTED", "OUTDATED")
SERIES_STATUSES = ("ENDED", "ONGOING", "ABANDONED", "HIATUS")
READING_DIRECTIONS = ("LEFT_TO_RIGHT", "RIGHT_TO_LEFT", "VERTICAL", "WEBTOON")
# ComicInfo creator elements → Komga author roles
COMICINFO_ROLES = (
    ("Writer", "writer"),
    ("Penciller", "penciller"),
    ("Inker", "inker"),
    ("Colorist", "colorist"),
    ("Letterer", "letterer"),
    ("CoverArtist", "cover"),
    ("Editor", "editor"),
    ("Translator", "translator"),
)
BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

_id_lock = threading.Lock()
_id_counter = itertools.count()


def new_id() -> str:
    """A 13-character Crockford base-32 id, shaped like Komga's TSIDs (time-ordered)."""
    with _id_lock:
        value = (int(time.time() * 1000) << 22) | (next(_id_counter) & 0x3FFFFF)
    chars = []
    for _ in range(13):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    """Komga's ``yyyy-MM-dd'T'HH:mm:ss'Z'`` (UTC, whole seconds)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def binary_size(size: int) -> str:
    """Human size the way Komga's ``BookDto.size`` shows it ("512 B", "1.5 KiB", "12.3 MiB")."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            text = f"{value:,.1f}".rstrip("0").rstrip(".") if unit != "B" else f"{int(value):,}"
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def isbn13_valid(value: str) -> bool:
    """Hibernate's ``@ISBN`` (ISBN-13): separators ignored, 13 digits, check digit right."""
    digits = re.sub(r"[^0-9X]", "", value)
    if len(digits) != 13 or not digits.isdigit():
        return False
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


class ValidationFailed(Exception):
    """A 400 answer; ``violations`` is Komga's ``ValidationErrorResponse.violations``."""

    def __init__(self, violations: list[dict[str, str]] | None = None, *, message: str | None = None):
        super().__init__(message or "; ".join(f"{v['fieldName']}: {v['message']}" for v in violations or []))
        self.violations = violations
        self.message = message


# ---------------------------------------------------------------------- records


@dataclass
class User:
    id: str
    email: str
    password: str
    roles: tuple[str, ...]
    api_key: str | None = None

    @property
    def is_admin(self) -> bool:
        return "ADMIN" in self.roles


@dataclass
class Library:
    id: str
    name: str
    folder: Path
    server_root: str | None

    @property
    def root(self) -> str:
        return self.server_root if self.server_root is not None else self.folder.resolve().as_posix()

    def server_path(self, path: Path) -> str:
        """How Komga names ``path`` (a file or folder under ``folder``): server_root + relative POSIX path."""
        if self.server_root is None:
            return path.resolve().as_posix()
        relative = path.resolve().relative_to(self.folder.resolve()).as_posix()
        root = self.server_root.rstrip("/") or "/"
        if relative in ("", "."):
            return root
        return f"{root}/{relative}" if root != "/" else f"/{relative}"


@dataclass
class SeriesThumbnail:
    """A series poster: ``USER_UPLOADED`` (``POST /api/v1/series/{id}/thumbnails``) or ``SIDECAR`` (a local file)."""

    id: str
    series_id: str
    type: str
    data: bytes
    media_type: str
    width: int
    height: int
    selected: bool


@dataclass
class Series:
    id: str
    library_id: str
    folder: Path
    name: str
    created: dt.datetime
    last_modified: dt.datetime
    file_last_modified: dt.datetime
    metadata: dict[str, Any]
    seq: int
    thumbnails: list[SeriesThumbnail] = field(default_factory=list)


@dataclass
class Book:
    id: str
    series_id: str
    library_id: str
    path: Path
    created: dt.datetime
    last_modified: dt.datetime
    file_last_modified: dt.datetime
    mtime_ns: int
    size_bytes: int
    number: int
    media: dict[str, Any]
    metadata: dict[str, Any]
    seq: int
    file_hash: str = ""
    deleted: bool = False
    has_comicinfo: bool = False  # what the last analysis saw: metadata refresh reads ComicInfo.xml only then
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


def default_book_metadata(title: str, number: int, moment: dt.datetime) -> dict[str, Any]:
    return {
        "title": title,
        "titleLock": False,
        "summary": "",
        "summaryLock": False,
        "number": str(number),
        "numberLock": False,
        "numberSort": float(number),
        "numberSortLock": False,
        "releaseDate": None,
        "releaseDateLock": False,
        "authors": [],
        "authorsLock": False,
        "tags": [],
        "tagsLock": False,
        "isbn": "",
        "isbnLock": False,
        "links": [],
        "linksLock": False,
        "created": moment,
        "lastModified": moment,
    }


def default_series_metadata(title: str, moment: dt.datetime) -> dict[str, Any]:
    return {
        "status": "ONGOING",
        "statusLock": False,
        "title": title,
        "titleLock": False,
        "titleSort": title,
        "titleSortLock": False,
        "alternateTitles": [],
        "alternateTitlesLock": False,
        "summary": "",
        "summaryLock": False,
        "readingDirection": "",
        "readingDirectionLock": False,
        "publisher": "",
        "publisherLock": False,
        "ageRating": None,
        "ageRatingLock": False,
        "language": "",
        "languageLock": False,
        "genres": [],
        "genresLock": False,
        "tags": [],
        "tagsLock": False,
        "totalBookCount": None,
        "totalBookCountLock": False,
        "sharingLabels": [],
        "sharingLabelsLock": False,
        "links": [],
        "linksLock": False,
        "created": moment,
        "lastModified": moment,
    }


def unknown_media() -> dict[str, Any]:
    return {
        "status": "UNKNOWN",
        "mediaType": "",
        "pagesCount": 0,
        "comment": "",
        "epubDivinaCompatible": False,
        "epubIsKepub": False,
    }


# ---------------------------------------------------------------------- DTOs


def _lower_unique(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        text = value.strip().lower()
        if text and text not in seen:
            seen.append(text)
    return seen


def media_profile(media_type: str) -> str:
    if media_type in (
        "application/zip",
        "application/x-rar-compressed",
        "application/x-rar-compressed; version=4",
        "application/x-7z-compressed",
    ):
        return "DIVINA"
    if media_type == "application/pdf":
        return "PDF"
    if media_type == "application/epub+zip":
        return "EPUB"
    return ""


def book_dto(book: Book, series: Series, library: Library, *, restrict_url: bool) -> dict[str, Any]:
    metadata = dict(book.metadata)
    metadata["created"] = stamp(metadata["created"])
    metadata["lastModified"] = stamp(metadata["lastModified"])
    metadata["authors"] = [dict(author) for author in metadata["authors"]]
    metadata["links"] = [dict(link) for link in metadata["links"]]
    metadata["tags"] = list(metadata["tags"])
    url = library.server_path(book.path)
    media = dict(book.media)
    media["mediaProfile"] = media_profile(media["mediaType"])
    return {
        "id": book.id,
        "seriesId": book.series_id,
        "seriesTitle": series.metadata["title"],
        "libraryId": book.library_id,
        "name": book.name,
        "url": PurePosixPath(url).name if restrict_url else url,
        "number": book.number,
        "created": stamp(book.created),
        "lastModified": stamp(book.last_modified),
        "fileLastModified": stamp(book.file_last_modified),
        "sizeBytes": book.size_bytes,
        "size": binary_size(book.size_bytes),
        "media": media,
        "metadata": metadata,
        "readProgress": None,
        "deleted": book.deleted,
        "fileHash": book.file_hash,
        "oneshot": False,
    }


def series_dto(series: Series, books: list[Book], library: Library, *, restrict_url: bool) -> dict[str, Any]:
    metadata = dict(series.metadata)
    metadata["created"] = stamp(metadata["created"])
    metadata["lastModified"] = stamp(metadata["lastModified"])
    for key in ("alternateTitles", "links"):
        metadata[key] = [dict(item) for item in metadata[key]]
    for key in ("genres", "tags", "sharingLabels"):
        metadata[key] = list(metadata[key])
    live = sorted((book for book in books if not book.deleted), key=lambda b: b.number)
    authors: list[dict[str, str]] = []
    tags: list[str] = []
    for book in live:
        for author in book.metadata["authors"]:
            if author not in authors:
                authors.append(dict(author))
        for tag in book.metadata["tags"]:
            if tag not in tags:
                tags.append(tag)
    dates = [book.metadata["releaseDate"] for book in live if book.metadata["releaseDate"]]
    first_summary = next((book for book in live if book.metadata["summary"]), None)
    url = library.server_path(series.folder)
    return {
        "id": series.id,
        "libraryId": series.library_id,
        "name": series.name,
        "url": PurePosixPath(url).name if restrict_url else url,
        "created": stamp(series.created),
        "lastModified": stamp(series.last_modified),
        "fileLastModified": stamp(series.file_last_modified),
        "booksCount": len(live),
        "booksReadCount": 0,
        "booksUnreadCount": len(live),
        "booksInProgressCount": 0,
        "metadata": metadata,
        "booksMetadata": {
            "authors": authors,
            "tags": tags,
            "releaseDate": min(dates) if dates else None,
            "summary": first_summary.metadata["summary"] if first_summary else "",
            "summaryNumber": first_summary.metadata["number"] if first_summary else "",
            "created": stamp(series.created),
            "lastModified": stamp(series.last_modified),
        },
        "deleted": False,
        "oneshot": False,
    }


def thumbnail_series_dto(thumbnail: SeriesThumbnail) -> dict[str, Any]:
    return {
        "id": thumbnail.id,
        "seriesId": thumbnail.series_id,
        "type": thumbnail.type,
        "selected": thumbnail.selected,
        "mediaType": thumbnail.media_type,
        "fileSize": len(thumbnail.data),
        "width": thumbnail.width,
        "height": thumbnail.height,
    }


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(media type, width, height) of an image Komga would accept as a poster; None when it is not one."""
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            kind = (image.format or "").lower()
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    media_type = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}.get(kind)
    return (media_type, width, height) if media_type else None


def library_dto(library: Library) -> dict[str, Any]:
    return {
        "id": library.id,
        "name": library.name,
        "root": library.root,
        "importComicInfoBook": True,
        "importComicInfoSeries": True,
        "importComicInfoCollection": True,
        "importComicInfoReadList": True,
        "importComicInfoSeriesAppendVolume": True,
        "importEpubBook": True,
        "importEpubSeries": True,
        "importMylarSeries": True,
        "importLocalArtwork": True,
        "importBarcodeIsbn": False,
        "scanForceModifiedTime": False,
        "scanInterval": "EVERY_6H",
        "scanOnStartup": False,
        "scanCbx": True,
        "scanPdf": True,
        "scanEpub": True,
        "scanDirectoryExclusions": ["#recycle", "@eaDir", "@Recycle"],
        "repairExtensions": False,
        "convertToCbz": False,
        "emptyTrashAfterScan": False,
        "seriesCover": "FIRST",
        "hashFiles": True,
        "hashPages": False,
        "hashKoreader": False,
        "analyzeDimensions": True,
        "oneshotsDirectory": None,
        "unavailable": not library.folder.is_dir(),
    }


def user_dto(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "roles": list(user.roles),
        "sharedAllLibraries": True,
        "sharedLibrariesIds": [],
        "labelsAllow": [],
        "labelsExclude": [],
        "ageRestriction": None,
    }


# ---------------------------------------------------------------------- PATCH


def _violation(field_name: str, message: str) -> dict[str, str]:
    return {"fieldName": field_name, "message": message}


def _expect(body: dict[str, Any], key: str, kinds: tuple[type, ...], what: str) -> None:
    """Type errors are JSON binding errors in Spring: 400 without a violations list."""
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) and bool not in kinds:
        raise ValidationFailed(message=f"JSON parse error: cannot read {key!r} as {what}")
    if not isinstance(value, kinds):
        raise ValidationFailed(message=f"JSON parse error: cannot read {key!r} as {what}")


def _check_date(value: str, key: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else _bad_date(key)
    except ValueError:
        return _bad_date(key)


def _bad_date(key: str) -> str:
    raise ValidationFailed(message=f"JSON parse error: cannot deserialize {key!r} as a LocalDate (yyyy-MM-dd)")


def _check_links(links: Any, key: str, violations: list[dict[str, str]]) -> list[dict[str, str]]:
    if not isinstance(links, list):
        raise ValidationFailed(message=f"JSON parse error: {key!r} must be an array")
    result = []
    for index, link in enumerate(links):
        if not isinstance(link, dict):
            raise ValidationFailed(message=f"JSON parse error: {key}[{index}] must be an object")
        label, url = link.get("label"), link.get("url")
        if not isinstance(label, str) or not label.strip():
            violations.append(_violation(f"{key}[{index}].label", "must not be blank"))
        if url is not None and (not isinstance(url, str) or (url and not urlparse(url).scheme)):
            violations.append(_violation(f"{key}[{index}].url", "must be a valid URL"))
        result.append({"label": label if isinstance(label, str) else "", "url": url or ""})
    return result


def _check_strings(values: Any, key: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ValidationFailed(message=f"JSON parse error: {key!r} must be an array of strings")
    return values


BOOK_LOCKS = (
    "titleLock",
    "summaryLock",
    "numberLock",
    "numberSortLock",
    "releaseDateLock",
    "authorsLock",
    "tagsLock",
    "isbnLock",
    "linksLock",
)
SERIES_LOCKS = (
    "statusLock",
    "titleLock",
    "titleSortLock",
    "alternateTitlesLock",
    "summaryLock",
    "readingDirectionLock",
    "publisherLock",
    "ageRatingLock",
    "languageLock",
    "genresLock",
    "tagsLock",
    "totalBookCountLock",
    "sharingLabelsLock",
    "linksLock",
)


def patch_book_metadata(metadata: dict[str, Any], body: Any) -> dict[str, Any]:
    """The book metadata after ``PATCH /api/v1/books/{id}/metadata`` with ``body`` (Komga's rules)."""
    if not isinstance(body, dict):
        raise ValidationFailed(message="JSON parse error: the body must be a JSON object")
    violations: list[dict[str, str]] = []
    for key in ("title", "summary", "number", "isbn"):
        _expect(body, key, (str,), "a string")
    _expect(body, "numberSort", (int, float), "a number")
    _expect(body, "releaseDate", (str,), "a date")
    for key in BOOK_LOCKS:
        _expect(body, key, (bool,), "a boolean")
    for key in ("title", "number"):  # @NullOrNotBlank: null = unchanged, blank = 400
        if isinstance(body.get(key), str) and not body[key].strip():
            violations.append(_violation(key, "must be null or not blank"))
    if isinstance(body.get("isbn"), str) and body["isbn"].strip() and not isbn13_valid(body["isbn"]):
        violations.append(_violation("isbn", "Must be null or blank or valid ISBN-13"))
    authors = None
    if body.get("authors") is not None:
        if not isinstance(body["authors"], list):
            raise ValidationFailed(message="JSON parse error: 'authors' must be an array")
        authors = []
        for index, author in enumerate(body["authors"]):
            if not isinstance(author, dict):
                raise ValidationFailed(message=f"JSON parse error: authors[{index}] must be an object")
            for part in ("name", "role"):
                if not isinstance(author.get(part), str) or not author[part].strip():
                    violations.append(_violation(f"authors[{index}].{part}", "must not be blank"))
            authors.append(
                {"name": str(author.get("name") or "").strip(), "role": str(author.get("role") or "").strip().lower()}
            )
    links = _check_links(body["links"], "links", violations) if body.get("links") is not None else None
    tags = _check_strings(body["tags"], "tags") if body.get("tags") is not None else None
    release = _check_date(body["releaseDate"], "releaseDate") if body.get("releaseDate") is not None else None
    if violations:
        raise ValidationFailed(violations)

    updated = dict(metadata)
    for key in ("title", "number"):
        if body.get(key) is not None:
            updated[key] = body[key]
    if body.get("numberSort") is not None:
        updated["numberSort"] = float(body["numberSort"])
    if "summary" in body:
        updated["summary"] = body["summary"] or ""
    if "releaseDate" in body:
        updated["releaseDate"] = release
    if "authors" in body:
        updated["authors"] = authors or []
    if "tags" in body:
        updated["tags"] = _lower_unique(tags or [])
    if "isbn" in body:
        updated["isbn"] = "".join(ch for ch in (body["isbn"] or "") if ch.isdigit())
    if "links" in body:
        updated["links"] = links or []
    for key in BOOK_LOCKS:
        if body.get(key) is not None:
            updated[key] = body[key]
    updated["lastModified"] = now()
    return updated


def patch_series_metadata(metadata: dict[str, Any], body: Any) -> dict[str, Any]:
    """The series metadata after ``PATCH /api/v1/series/{id}/metadata`` with ``body`` (Komga's rules)."""
    if not isinstance(body, dict):
        raise ValidationFailed(message="JSON parse error: the body must be a JSON object")
    violations: list[dict[str, str]] = []
    for key in ("title", "titleSort", "summary", "publisher", "language", "status", "readingDirection"):
        _expect(body, key, (str,), "a string")
    for key in ("ageRating", "totalBookCount"):
        _expect(body, key, (int,), "an integer")
    for key in SERIES_LOCKS:
        _expect(body, key, (bool,), "a boolean")
    if body.get("status") is not None and body["status"] not in SERIES_STATUSES:
        raise ValidationFailed(message=f"JSON parse error: 'status' not one of {', '.join(SERIES_STATUSES)}")
    if body.get("readingDirection") is not None and body["readingDirection"] not in READING_DIRECTIONS:
        raise ValidationFailed(
            message=f"JSON parse error: 'readingDirection' not one of {', '.join(READING_DIRECTIONS)}"
        )
    for key in ("title", "titleSort"):
        if isinstance(body.get(key), str) and not body[key].strip():
            violations.append(_violation(key, "must be null or not blank"))
    language = body.get("language")
    if isinstance(language, str) and language.strip() and not BCP47.match(language.strip()):
        violations.append(_violation("language", "Must be null or blank or valid BCP 47 language tag"))
    if isinstance(body.get("ageRating"), int) and body["ageRating"] < 0:
        violations.append(_violation("ageRating", "must be greater than or equal to 0"))
    if isinstance(body.get("totalBookCount"), int) and body["totalBookCount"] <= 0:
        violations.append(_violation("totalBookCount", "must be greater than 0"))
    links = _check_links(body["links"], "links", violations) if body.get("links") is not None else None
    lists = {
        key: _check_strings(body[key], key) for key in ("genres", "tags", "sharingLabels") if body.get(key) is not None
    }
    alternate = None
    if body.get("alternateTitles") is not None:
        if not isinstance(body["alternateTitles"], list):
            raise ValidationFailed(message="JSON parse error: 'alternateTitles' must be an array")
        alternate = []
        for index, item in enumerate(body["alternateTitles"]):
            item = item if isinstance(item, dict) else {}
            for part in ("label", "title"):
                if not isinstance(item.get(part), str) or not item[part].strip():
                    violations.append(_violation(f"alternateTitles[{index}].{part}", "must not be blank"))
            alternate.append({"label": str(item.get("label") or ""), "title": str(item.get("title") or "")})
    if violations:
        raise ValidationFailed(violations)

    updated = dict(metadata)
    # plain fields: null means "unchanged" on the series side
    for key in ("status", "title", "titleSort", "summary", "publisher"):
        if body.get(key) is not None:
            updated[key] = body[key]
    if body.get("language") is not None:
        updated["language"] = body["language"].strip()
    # "isSet" fields: explicit null clears
    if "readingDirection" in body:
        updated["readingDirection"] = body["readingDirection"] or ""
    if "ageRating" in body:
        updated["ageRating"] = body["ageRating"]
    if "totalBookCount" in body:
        updated["totalBookCount"] = body["totalBookCount"]
    for key in ("genres", "tags", "sharingLabels"):
        if key in body:
            updated[key] = _lower_unique(lists.get(key) or [])
    if "links" in body:
        updated["links"] = links or []
    if "alternateTitles" in body:
        updated["alternateTitles"] = alternate or []
    for key in SERIES_LOCKS:
        if body.get(key) is not None:
            updated[key] = body[key]
    updated["lastModified"] = now()
    return updated


# ---------------------------------------------------------------------- analysis


@dataclass
class Analysis:
    media: dict[str, Any]
    file_hash: str
    comicinfo: bytes | None


def read_archive(path: Path) -> Analysis:
    """What Komga's analysis learns from the file: media type by content, pages, ComicInfo.xml."""
    media = unknown_media()
    try:
        data = path.read_bytes()
    except OSError as exc:
        media.update(status="ERROR", comment=f"ERR_1018: {exc.strerror or 'file not found'}")
        return Analysis(media, "", None)
    file_hash = hashlib.blake2b(data, digest_size=16).hexdigest()
    head = data[:8]
    if head.startswith(b"PK"):
        media["mediaType"] = "application/zip"
        try:
            with zipfile.ZipFile(path) as archive:
                names = [info.filename for info in archive.infolist() if not info.is_dir()]
                pages = [name for name in names if name.lower().endswith(IMAGE_EXTENSIONS)]
                info_name = next((name for name in names if name.lower() == "comicinfo.xml"), None)
                comicinfo = archive.read(info_name) if info_name else None
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            media.update(status="ERROR", comment=f"ERR_1008: {exc}")
            return Analysis(media, file_hash, None)
        if not pages:
            media.update(status="ERROR", comment="ERR_1006")
            return Analysis(media, file_hash, comicinfo)
        media.update(status="READY", pagesCount=len(pages))
        return Analysis(media, file_hash, comicinfo)
    if head.startswith(b"Rar!\x1a\x07\x00"):
        # RAR 4 is supported by Komga; the stand-in cannot list RAR entries (no pages, no ComicInfo)
        media.update(status="READY", mediaType="application/x-rar-compressed; version=4")
        return Analysis(media, file_hash, None)
    if head.startswith(b"Rar!\x1a\x07\x01"):
        media.update(status="UNSUPPORTED", mediaType="application/x-rar-compressed; version=5", comment="ERR_1001")
        return Analysis(media, file_hash, None)
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        media.update(status="UNSUPPORTED", mediaType="application/x-7z-compressed", comment="ERR_1001")
        return Analysis(media, file_hash, None)
    media.update(status="UNSUPPORTED", mediaType="application/octet-stream", comment="ERR_1001")
    return Analysis(media, file_hash, None)


def _text(root: ElementTree.Element, name: str) -> str | None:
    element = root.find(name)
    if element is None or element.text is None or not element.text.strip():
        return None
    return element.text.strip()


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def comicinfo_patches(xml: bytes, *, append_volume: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(book fields, series fields) Komga imports from a ComicInfo.xml; absent elements are left out."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return {}, {}
    book: dict[str, Any] = {}
    series: dict[str, Any] = {}
    if (title := _text(root, "Title")) is not None:
        book["title"] = title
    if (summary := _text(root, "Summary")) is not None:
        book["summary"] = summary
    if (number := _text(root, "Number")) is not None:
        book["number"] = number
        try:
            book["numberSort"] = float(number.replace(",", "."))
        except ValueError:
            pass
    year = _text(root, "Year")
    if year and year.isdigit():
        month, day = _text(root, "Month"), _text(root, "Day")
        try:
            book["releaseDate"] = dt.date(
                int(year), int(month) if month and month.isdigit() else 1, int(day) if day and day.isdigit() else 1
            ).isoformat()
        except ValueError:
            pass
    authors = [
        {"name": name, "role": role} for element, role in COMICINFO_ROLES for name in _split(_text(root, element))
    ]
    if authors:
        book["authors"] = authors
    if tags := _lower_unique(_split(_text(root, "Tags"))):
        book["tags"] = tags
    gtin = _text(root, "GTIN")
    if gtin and isbn13_valid(gtin):
        book["isbn"] = re.sub(r"\D", "", gtin)
    if web := _text(root, "Web"):
        book["links"] = [{"label": urlparse(url).hostname or url, "url": url} for url in web.split()]

    if (name := _text(root, "Series")) is not None:
        volume = _text(root, "Volume")
        if append_volume and volume and volume != "1":
            name = f"{name} ({volume})"
        series["title"] = name
        series["titleSort"] = name
    if (publisher := _text(root, "Publisher")) is not None:
        series["publisher"] = publisher
    if genres := _lower_unique(_split(_text(root, "Genre"))):
        series["genres"] = genres
    if (language := _text(root, "LanguageISO")) is not None and BCP47.match(language):
        series["language"] = language
    if (count := _text(root, "Count")) and count.isdigit() and int(count) > 0:
        series["totalBookCount"] = int(count)
    manga = _text(root, "Manga")
    if manga == "YesAndRightToLeft":
        series["readingDirection"] = "RIGHT_TO_LEFT"
    if (rating := _text(root, "AgeRating")) is not None:
        age = re.search(r"(\d+)", rating)
        if age:
            series["ageRating"] = int(age.group(1))
        elif rating in ("Everyone", "G", "Early Childhood", "Kids to Adults"):
            series["ageRating"] = 0
    return book, series


def apply_unlocked(metadata: dict[str, Any], values: dict[str, Any]) -> bool:
    """Copy ``values`` into ``metadata`` except locked fields; True when something changed."""
    changed = False
    for key, value in values.items():
        if metadata.get(f"{key}Lock"):
            continue
        if metadata.get(key) != value:
            metadata[key] = value
            changed = True
    if changed:
        metadata["lastModified"] = now()
    return changed
