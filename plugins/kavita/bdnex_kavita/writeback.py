"""Writing an album's metadata back to Kavita.

``kavita.write`` chooses how (one or both):

- ``api``: ``POST /api/Chapter/update`` for the album's chapter and ``POST /api/Series/metadata``
  for its series, each built from Kavita's current values with only our fields changed
  (:mod:`bdnex_kavita.chapters`, :mod:`bdnex_kavita.series`), sent only when something changes.
  Fields the user locked in Kavita are left alone unless forced; ``kavita.lock_written`` locks
  what we write.
- ``comicinfo``: ComicInfo.xml written into the chapter's file by the core, then
  ``POST /api/Series/scan`` so that Kavita reads it (the people then come from the file, with
  their names as written: Kavita 0.8.3 names a person first created by ``Chapter/update`` by its
  normalised form, "jeanvanhamme").

With ``kavita.covers``, the Bédéthèque cover (through the core's polite client and cache)
becomes the chapter's cover, locked, unless a cover is already locked there.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import BdnexError
from bdnex_core.library import LibraryItem, WriteResult
from bdnex_kavita.chapters import ChapterPlan, plan_chapter
from bdnex_kavita.client import KavitaClient
from bdnex_kavita.series import SeriesChoices, SeriesPlan, plan_series, record_from_album
from bdnex_kavita.settings import KavitaSettings, kavita_settings
from bdnex_kavita.source import SOURCE_NAME, bedetheque_album_id

if TYPE_CHECKING:
    from bdnex_core.api import Settings

logger = logging.getLogger(__name__)

series_choices = SeriesChoices()
_warned_locks: set[str] = set()


@dataclass
class KavitaPlan:
    """What the API write does (or would do) for one chapter and its series."""

    chapter_id: int
    series_id: int | None
    chapter: ChapterPlan | None = None
    series: SeriesPlan | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        found = {f"kavita.{name}": change for name, change in (self.chapter.changes if self.chapter else {}).items()}
        if self.series is not None:
            found |= {f"kavita.series.{name}": change for name, change in self.series.changes.items()}
        return found

    @property
    def kept(self) -> dict[str, Any]:
        found = {f"kavita.{name}": value for name, value in (self.chapter.kept if self.chapter else {}).items()}
        if self.series is not None:
            found |= {f"kavita.series.{name}": value for name, value in self.series.kept.items()}
        return found

    def message(self, *, dry_run: bool) -> str:
        chapter = len(self.chapter.changes) if self.chapter else 0
        parts = [f"Kavita chapter {self.chapter_id}: {chapter} field(s)"]
        if self.series is not None:
            parts.append(f"series {self.series_id}: {len(self.series.changes)} field(s)")
        if self.kept:
            parts.append(f"locked in Kavita, left alone: {', '.join(name[7:] for name in self.kept)}")
        parts.extend(self.notes)
        return ("dry run: " if dry_run else "") + ", ".join(parts)


class KavitaWriter:
    """Writes to Kavita for items of the ``kavita`` source, per ``kavita.write``."""

    name = "kavita"

    def __init__(self) -> None:
        self._local = threading.local()

    def _client(self, config: KavitaSettings) -> KavitaClient:
        client = getattr(self._local, "client", None)
        if client is None or client.url != config.url:
            client = self._local.client = KavitaClient(config)
        return client

    def can_write(self, item: LibraryItem, settings: Settings) -> bool:
        return item.source == SOURCE_NAME and bool(item.external_id)

    def write(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool = False) -> WriteResult:
        config = kavita_settings(settings)
        client = self._client(config)
        force = item.write_back.force or config.overwrite_locked
        messages: list[str] = []
        changes: dict[str, tuple[Any, Any]] = {}
        file_written = False
        if config.writes_comicinfo:
            message, file_written = self._write_file(item, metadata, settings, dry_run=dry_run)
            messages.append(message)
        fields = dict(metadata.fields)
        if config.writes_api:
            # with the file written, its scan brings the people (with their real names)
            plan = self.plan(client, item, fields, config, force=force, people=not file_written, send=not dry_run)
            changes.update(plan.changes)
            messages.append(plan.message(dry_run=dry_run))
        if config.covers and not dry_run:
            messages.append(self._cover(client, item, fields, settings))
        if file_written:
            library_id, series_id = item.hints.get("kavita_library_id"), item.hints.get("kavita_series_id")
            if isinstance(library_id, int) and isinstance(series_id, int):
                client.scan_series(library_id, series_id)
                messages.append(f"scan of Kavita series {series_id} asked")
        return WriteResult(self.name, written=not dry_run, message="; ".join(messages), changes=changes)

    def preview(self, item: LibraryItem, metadata: Any, settings: Settings) -> KavitaPlan:
        """What ``write`` would send through the API, against Kavita's current chapter and series."""
        config = kavita_settings(settings)
        force = item.write_back.force or config.overwrite_locked
        return self.plan(self._client(config), item, dict(metadata.fields), config, force=force, send=False)

    def _write_file(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool) -> tuple[str, bool]:
        from bdnex_core.api import comic_kind, write_comicinfo

        chapter_id = item.external_id
        if item.path is None:
            return f"Kavita chapter {chapter_id}: no local file, ComicInfo not written", False
        if comic_kind(item.path) != "cbz":
            return f"Kavita chapter {chapter_id}: {item.path.name} is not a CBZ, ComicInfo not written", False
        if dry_run:
            return f"dry run: ComicInfo for Kavita chapter {chapter_id}", False
        write_comicinfo(item, metadata, settings)
        return f"ComicInfo written to {item.path}", True

    def plan(
        self,
        client: KavitaClient,
        item: LibraryItem,
        fields: dict[str, str],
        config: KavitaSettings,
        *,
        force: bool,
        send: bool,
        people: bool = True,
    ) -> KavitaPlan:
        """Compare with Kavita's current chapter and series; send what changes when ``send``."""
        chapter_id = int(str(item.external_id))
        series_id = item.hints.get("kavita_series_id")
        plan = KavitaPlan(chapter_id, series_id if isinstance(series_id, int) else None)
        chapter = client.chapter(chapter_id)
        plan.chapter = plan_chapter(chapter, fields, force=force, lock=config.lock_written, people=people)
        if plan.chapter.body is not None:
            if plan.chapter.unreadable_locks:
                plan.notes.append(_unreadable_note(plan.chapter.unreadable_locks, client.url))
            if send:
                client.update_chapter(plan.chapter.body)
        if plan.series_id is not None:
            record = series_choices.choose(plan.series_id, record_from_album(fields))
            with series_choices.lock(plan.series_id):
                current = client.series_metadata(plan.series_id)
                plan.series = plan_series(current, record, force=force, lock=config.lock_written)
                if plan.series.body is not None and send:
                    client.update_series_metadata(plan.series.body)
        return plan

    def _cover(self, client: KavitaClient, item: LibraryItem, fields: dict[str, str], settings: Settings) -> str:
        """The Bédéthèque cover as the chapter's cover (locked), unless one is locked there already."""
        from bdnex_core.api import album_cover

        chapter_id = int(str(item.external_id))
        if client.chapter(chapter_id).get("coverImageLocked"):
            return f"Kavita chapter {chapter_id}: its cover is locked, left alone"
        album_id = bedetheque_album_id(fields.get("Web"))
        if album_id is None:
            return f"Kavita chapter {chapter_id}: no Bédéthèque link, no cover"
        try:
            image = album_cover(settings, {"album_id": album_id, "url": fields.get("Web") or ""})
        except BdnexError as exc:
            if exc.stops_run:
                raise
            logger.warning("Kavita chapter %s: no cover, Bédéthèque's failed (%s)", chapter_id, exc)
            return f"Kavita chapter {chapter_id}: no cover ({exc})"
        client.upload_chapter_cover(chapter_id, image, lock=True)
        return f"Kavita chapter {chapter_id}: Bédéthèque cover uploaded and locked"


def _unreadable_note(locks: tuple[str, ...], url: str) -> str:
    """Said once per process in the log, and in every write's message."""
    note = f"Kavita does not report {', '.join(locks)}: sent as false"
    if url not in _warned_locks:
        _warned_locks.add(url)
        logger.warning(
            "Kavita at %s does not report %s in its chapters (Kavita 0.8.3): Chapter/update copies them from the "
            "request, so they are sent as false (unlocked); a lock set on them by hand is lost",
            url,
            ", ".join(locks),
        )
    return note
