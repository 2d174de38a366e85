"""Writing an album's metadata back to Komga.

``komga.write`` chooses how (one or both):

- ``api``: ``PATCH /api/v1/books/{id}/metadata`` and ``PATCH /api/v1/series/{id}/metadata``
  with only the fields that change. Fields the user locked in Komga (``titleLock``...)
  are left alone unless forced; ``komga.lock_written`` locks what we write. Series fields
  come from the series' own record (``bdnex_core.api.series_of_album``), never from the
  book's album: see :func:`desired_series_metadata`.
- ``comicinfo``: ComicInfo.xml written into the book's file by the core's ComicInfo
  writer, then ``POST /api/v1/books/{id}/analyze`` so Komga reads it again
  (``/metadata/refresh`` alone misses a newly added ComicInfo.xml).
- both: the file first, then the analysis, and the PATCH only once Komga has re-imported
  the file (its analysis runs later, in Komga's task queue, and would overwrite a PATCH
  sent before it: the "Bédéthèque" link came back labelled with the host name).

With ``komga.series_thumbnails`` (default on), a series with no selected poster gets the
Bédéthèque cover of its tome 1, fetched through the core's polite client and cover cache;
a poster someone selected is never replaced.

Every book and series we touch is noted in :data:`recent_writes`, so the watcher
can tell the ``BookChanged`` events our own writes cause from the others.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bdnex_core.api import series_of_album, to_isbn13
from bdnex_core.errors import BdnexError
from bdnex_core.library import LibraryItem, WriteResult
from bdnex_komga.client import KomgaClient
from bdnex_komga.settings import KomgaSettings, komga_settings
from bdnex_komga.source import SOURCE_NAME

if TYPE_CHECKING:
    from bdnex_core.api import Settings

logger = logging.getLogger(__name__)

BEDETHEQUE_LABEL = "Bédéthèque"
ROLES = (  # ComicInfo element -> Komga author role (Komga lower-cases roles)
    ("Writer", "writer"),
    ("Penciller", "penciller"),
    ("Inker", "inker"),
    ("Colorist", "colorist"),
    ("Letterer", "letterer"),
    ("CoverArtist", "cover"),
    ("Editor", "editor"),
    ("Translator", "translator"),
)
LEADING_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)")
ALBUM_ID_IN_WEB = re.compile(r"-(\d+)\.html$")
ISBN_IN_NOTES = re.compile(r"ISBN[:\s]*([0-9Xx][0-9Xx\- ]{8,16}[0-9Xx])")
# a series record's normal_status -> Komga's series status
SERIES_STATUS = {"ended": "ENDED", "ongoing": "ONGOING", "abandoned": "ABANDONED", "hiatus": "HIATUS"}


# ---------------------------------------------------------------------- own writes


class RecentWrites:
    """Book and series ids we wrote, with when: our own writes make Komga send ``BookChanged``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._books: dict[str, float] = {}
        self._series: dict[str, float] = {}

    def note(self, book_id: str | None, series_id: str | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            if book_id:
                self._books[str(book_id)] = now
            if series_id:
                self._series[str(series_id)] = now

    def is_recent(self, *, book_id: str | None = None, series_id: str | None = None, window: float = 120.0) -> bool:
        now = time.monotonic()
        with self._lock:
            for table, key in ((self._books, book_id), (self._series, series_id)):
                if key and now - table.get(str(key), -1e18) <= window:
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self._books.clear()
            self._series.clear()


recent_writes = RecentWrites()
_series_locks: dict[str, threading.Lock] = {}
_series_locks_guard = threading.Lock()


def _series_lock(series_id: str) -> threading.Lock:
    """Books of one series processed in parallel read-then-write the same series: one at a time."""
    with _series_locks_guard:
        return _series_locks.setdefault(series_id, threading.Lock())


# ---------------------------------------------------------------------- field mapping


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def number_sort(number: str | None) -> float | None:
    found = LEADING_NUMBER.match(number or "")
    return float(found.group(1).replace(",", ".")) if found else None


def release_date(fields: Mapping[str, str]) -> str | None:
    try:
        year = int(fields.get("Year") or 0)
        month = int(fields.get("Month") or 1)
        day = int(fields.get("Day") or 1)
    except ValueError:
        return None
    if not year:
        return None
    return f"{year:04d}-{min(max(month, 1), 12):02d}-{min(max(day, 1), 31):02d}"


def isbn_of(fields: Mapping[str, str]) -> str | None:
    if fields.get("GTIN"):
        return to_isbn13(fields["GTIN"])
    found = ISBN_IN_NOTES.search(fields.get("Notes") or "")
    return to_isbn13(found.group(1)) if found else None


def is_first_tome(fields: Mapping[str, str]) -> bool:
    return number_sort(fields.get("Number")) == 1.0


def album_id_of(fields: Mapping[str, str]) -> int | None:
    """The Bédéthèque album id at the end of the ComicInfo ``Web`` link (``…-245127.html``)."""
    found = ALBUM_ID_IN_WEB.search(fields.get("Web") or "")
    return int(found.group(1)) if found else None


def desired_book_metadata(fields: Mapping[str, str], current: Mapping[str, Any]) -> dict[str, Any]:
    """Book fields as we want them in Komga, from a ComicInfo's fields (absent values left out)."""
    desired: dict[str, Any] = {}
    if fields.get("Title"):
        desired["title"] = fields["Title"]
    if fields.get("Summary"):
        desired["summary"] = fields["Summary"]
    if fields.get("Number"):
        desired["number"] = fields["Number"]
        sort = number_sort(fields["Number"])
        if sort is not None:
            desired["numberSort"] = sort
    if date := release_date(fields):
        desired["releaseDate"] = date
    authors = [{"name": name, "role": role} for element, role in ROLES for name in _split(fields.get(element))]
    if authors:
        desired["authors"] = authors
    if fields.get("Tags"):
        tags = {tag.lower() for tag in current.get("tags") or []}
        desired["tags"] = sorted(tags | {tag.lower() for tag in _split(fields["Tags"])})
    if isbn := isbn_of(fields):
        desired["isbn"] = isbn
    if fields.get("Web"):
        others = [
            link
            for link in current.get("links") or []
            if link.get("label") != BEDETHEQUE_LABEL and "bedetheque.com" not in str(link.get("url") or "")
        ]
        desired["links"] = [{"label": BEDETHEQUE_LABEL, "url": fields["Web"]}] + [
            {"label": link.get("label"), "url": link.get("url")} for link in others
        ]
    return desired


def desired_series_metadata(
    fields: Mapping[str, str], current: Mapping[str, Any], series: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Series fields as we want them, from the series' own record (``bdnex_core.api.series_of_album``):
    its summary, status, genres, tome count and the publisher chosen once for it, so that every book of
    the series asks for the same values and a second sync (or ``--force``, or a book arriving later)
    changes nothing. Without a record (no page of the series was read), a book's own publisher, genres
    and count only fill what the series lacks: they would otherwise take turns on it, and an album's
    summary is never the series'."""
    desired: dict[str, Any] = {}
    if fields.get("LanguageISO"):
        desired["language"] = fields["LanguageISO"]
    if series is not None:
        if series.get("publisher"):
            desired["publisher"] = series["publisher"]
        if series.get("genres"):
            desired["genres"] = sorted({str(genre).lower() for genre in series["genres"]})
        if series.get("summary"):
            desired["summary"] = series["summary"]
        if SERIES_STATUS.get(series.get("normal_status") or ""):
            desired["status"] = SERIES_STATUS[series["normal_status"]]
        if isinstance(series.get("tome_count"), int) and series["tome_count"] > 0:
            desired["totalBookCount"] = series["tome_count"]
        return desired
    if fields.get("Publisher") and not current.get("publisher"):
        desired["publisher"] = fields["Publisher"]
    if fields.get("Genre") and not current.get("genres"):
        desired["genres"] = sorted({genre.lower() for genre in _split(fields["Genre"])})
    if (fields.get("Count") or "").isdigit() and int(fields["Count"]) > 0 and not current.get("totalBookCount"):
        desired["totalBookCount"] = int(fields["Count"])
    return desired


def _comparable(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "authors":
        return sorted((str(a.get("name")), str(a.get("role")).lower()) for a in value)
    if name in ("tags", "genres"):
        return sorted({str(item).lower() for item in value})
    if name == "links":
        return [(link.get("label"), link.get("url")) for link in value]
    if name == "numberSort":
        return float(value)
    return value


def plan_patch(
    desired: Mapping[str, Any], current: Mapping[str, Any], *, force: bool, lock: bool
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]], list[str]]:
    """(PATCH body, changes, locked fields left alone): only what differs, locks respected unless ``force``."""
    body: dict[str, Any] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    locked: list[str] = []
    for name, value in desired.items():
        if _comparable(name, current.get(name)) == _comparable(name, value):
            continue
        if current.get(f"{name}Lock") and not force:
            locked.append(name)
            continue
        body[name] = value
        changes[name] = (current.get(name), value)
        if lock:
            body[f"{name}Lock"] = True
    return body, changes, locked


# ---------------------------------------------------------------------- the writer


class KomgaWriter:
    """Writes to Komga for items of the ``komga`` source, per ``komga.write``."""

    name = "komga"

    def __init__(self) -> None:
        self._local = threading.local()

    def _client(self, config: KomgaSettings) -> KomgaClient:
        client = getattr(self._local, "client", None)
        if client is None or client.url != config.url:
            client = self._local.client = KomgaClient(config)
        return client

    def can_write(self, item: LibraryItem, settings: Settings) -> bool:
        return item.source == SOURCE_NAME and bool(item.external_id)

    def write(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool = False) -> WriteResult:
        config = komga_settings(settings)
        client = self._client(config)
        force = item.write_back.force or config.overwrite_locked
        messages: list[str] = []
        changes: dict[str, tuple[Any, Any]] = {}
        analysed_from: dict[str, Any] | None = None
        if config.writes_comicinfo:
            message, analysed_from = self._write_file(client, item, metadata, settings, dry_run=dry_run)
            messages.append(message)
        if config.writes_api:
            if analysed_from is not None:
                # Komga re-imports the file's ComicInfo after its analysis and would overwrite a PATCH sent
                # before (the "Bédéthèque" link relabelled with the host name): the PATCH goes after it
                wait_for_import(client, str(item.external_id), analysed_from)
            plan = self.plan(
                client,
                item,
                dict(metadata.fields),
                config,
                force=force,
                dry_run=dry_run,
                settings=settings,
                series=series_of_album(settings, album_id_of(metadata.fields)),
            )
            changes.update(plan.changes)
            messages.append(plan.message(dry_run=dry_run))
        return WriteResult(self.name, written=not dry_run, message="; ".join(messages), changes=changes)

    def preview(self, item: LibraryItem, metadata: Any, settings: Settings) -> ApiPlan:
        """What ``write`` would send through the API, against Komga's current book and series (nothing sent)."""
        config = komga_settings(settings)
        force = item.write_back.force or config.overwrite_locked
        return self.plan(
            self._client(config),
            item,
            dict(metadata.fields),
            config,
            force=force,
            dry_run=True,
            series=series_of_album(settings, album_id_of(metadata.fields)),
        )

    def _write_file(
        self, client: KomgaClient, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool
    ) -> tuple[str, dict[str, Any] | None]:
        """(message, the book's metadata just before the analysis was asked for, or None when not asked)."""
        from bdnex_core.api import comic_kind, write_comicinfo

        book_id = str(item.external_id)
        if item.path is None or item.write_back.downloaded:
            return f"Komga book {book_id}: no local file, ComicInfo not written", None
        if comic_kind(item.path) != "cbz":
            return f"Komga book {book_id}: {item.path.name} is not a CBZ, ComicInfo not written", None
        if dry_run:
            return f"dry run: ComicInfo for Komga book {book_id}", None
        # the core's writer, called directly: the item's hint keeps it from running on its own,
        # so the file is written before we ask Komga to analyse it
        write_comicinfo(item, metadata, settings)
        before = client.book(book_id).get("metadata") or {}
        recent_writes.note(book_id, item.hints.get("komga_series_id"))
        client.analyze_book(book_id)
        return f"ComicInfo written to {item.path}, Komga book {book_id} analysed", before

    def plan(
        self,
        client: KomgaClient,
        item: LibraryItem,
        fields: dict[str, str],
        config: KomgaSettings,
        *,
        force: bool,
        dry_run: bool,
        settings: Settings | None = None,
        series: Mapping[str, Any] | None = None,
    ) -> ApiPlan:
        """Compare with Komga's current book and series; send the PATCHes unless ``dry_run``. ``series``:
        the book's series record (see :func:`desired_series_metadata`)."""
        book_id = str(item.external_id)
        book = client.book(book_id)
        series_id = str(book.get("seriesId") or item.hints.get("komga_series_id") or "")
        current = book.get("metadata") or {}
        body, book_changes, locked = plan_patch(
            desired_book_metadata(fields, current), current, force=force, lock=config.lock_written
        )
        if body and not dry_run:
            recent_writes.note(book_id)
            client.patch_book_metadata(book_id, body)
        plan = ApiPlan(book_id, series_id)
        plan.changes = {f"komga.{name}": change for name, change in book_changes.items()}
        plan.kept = {f"komga.{name}": current.get(name) for name in locked}
        if series_id:
            with _series_lock(series_id):
                series_current = client.series(series_id).get("metadata") or {}
                series_body, series_changes, series_locked = plan_patch(
                    desired_series_metadata(fields, series_current, series),
                    series_current,
                    force=force,
                    lock=config.lock_written,
                )
                if series_body and not dry_run:
                    recent_writes.note(book_id, series_id)
                    client.patch_series_metadata(series_id, series_body)
                if config.series_thumbnails and is_first_tome(fields):
                    self._series_poster(client, plan, fields, dry_run=dry_run, settings=settings)
            plan.changes.update({f"komga.series.{name}": change for name, change in series_changes.items()})
            plan.kept.update({f"komga.series.{name}": series_current.get(name) for name in series_locked})
        return plan

    def _series_poster(
        self,
        client: KomgaClient,
        plan: ApiPlan,
        fields: Mapping[str, str],
        *,
        dry_run: bool,
        settings: Settings | None,
    ) -> None:
        """The series' poster: the cover of tome 1 from Bédéthèque, unless a poster is already selected
        (the user's choice, or ours from an earlier run). Called under the series lock."""
        album_id = album_id_of(fields)
        if album_id is None:
            return
        selected = [thumbnail for thumbnail in client.series_thumbnails(plan.series_id) if thumbnail.get("selected")]
        if selected:
            return  # never replace a poster someone chose (nor ours, uploaded before)
        plan.changes["komga.series.thumbnail"] = (None, f"Bédéthèque cover of album {album_id}")
        if dry_run:
            return
        assert settings is not None, "writing a poster needs the core's settings (its polite client)"
        try:
            image = self._cover(album_id, fields, settings)
        except BdnexError as exc:
            if exc.stops_run:
                raise
            # the book's metadata is written; a missing cover only costs the poster
            logger.warning(
                "Komga series %s: no poster, the cover of album %s failed (%s)", plan.series_id, album_id, exc
            )
            del plan.changes["komga.series.thumbnail"]
            return
        recent_writes.note(None, plan.series_id)
        client.upload_series_thumbnail(plan.series_id, image, name=f"bedetheque-{album_id}.jpg")

    def _cover(self, album_id: int, fields: Mapping[str, str], settings: Settings) -> bytes:
        """Through the core's polite client (rate limits, breaker) and its cover cache."""
        from bdnex_core.api import album_cover

        return album_cover(settings, {"album_id": album_id, "url": fields.get("Web") or ""})


@dataclass
class ApiPlan:
    """The Komga fields that change (``komga.title``, ``komga.series.publisher``: (now, ours)) and those
    locked in Komga and kept as they are (name: current value)."""

    book_id: str
    series_id: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    kept: dict[str, Any] = field(default_factory=dict)

    def message(self, *, dry_run: bool) -> str:
        book = sum(1 for name in self.changes if not name.startswith("komga.series."))
        parts = [f"Komga book {self.book_id}: {book} field(s)"]
        if self.series_id:
            parts.append(f"series {self.series_id}: {len(self.changes) - book} field(s)")
        if self.kept:
            parts.append(f"locked in Komga, left alone: {', '.join(name[6:] for name in self.kept)}")
        return ("dry run: " if dry_run else "") + ", ".join(parts)


IMPORT_WAIT_SECONDS = 30.0
IMPORT_POLL_SECONDS = 0.25


def wait_for_import(
    client: KomgaClient, book_id: str, before: Mapping[str, Any], *, timeout: float = IMPORT_WAIT_SECONDS
) -> bool:
    """Wait until Komga's analysis has re-imported the book's ComicInfo (its metadata changed since
    ``before``); False after ``timeout`` (an import that changes nothing cannot be seen)."""
    deadline = time.monotonic() + timeout
    while True:
        if (client.book(book_id).get("metadata") or {}) != before:
            return True
        if time.monotonic() >= deadline:
            logger.info("Komga book %s: no re-import seen after %g s, writing through the API now", book_id, timeout)
            return False
        time.sleep(IMPORT_POLL_SECONDS)
