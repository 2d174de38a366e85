"""Reviewing uncertain matches, without any user interface: one service, several front-ends.

The terminal prompt (``bdnex-core review``, ``tag --interactive``) and a future web page do the
same things: list the waiting entries, show an entry's candidates as album cards (what the
album is, why it scored what it did, what would change in the file), search the local
catalogue, take a candidate or an explicit album id, skip, undo. All of it lives here so that
both front-ends behave alike; they only read input and print.

An entry follows its file by identity (its hash), not its path: a file moved since it was
queued is found again, and an entry whose file is gone is dropped (:meth:`ReviewService.prune`).
Undo gives the file back as it was before the choice, through :mod:`bdnex_core.app.undo` (the layout
and ComicInfo.xml kept in ``comicinfo_backups`` when the choice was written).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from bdnex_core import archives
from bdnex_core.app.undo import undo_backup
from bdnex_core.bedetheque.album import person_name
from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.bedetheque.service import fetch_album
from bdnex_core.db import to_db_time, utcnow
from bdnex_core.default_plugins.folder_files import folder_item
from bdnex_core.errors import BdnexError
from bdnex_core.hashing import canonical_path
from bdnex_core.library import LibraryItem, WriteBack
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import IndexedAlbum
from bdnex_core.matching.normalize import normalize, readable_tome, strip_articles
from bdnex_core.matching.score import score_album
from bdnex_core.pipeline.catalogue_matcher import LazyMatcher
from bdnex_core.pipeline.options import TagOptions
from bdnex_core.pipeline.runner import TagRun
from bdnex_core.pipeline.steps import _candidate_dict, album_id_from_text
from bdnex_core.states import Decision, FileStatus, HistorySource, OutcomeState, ReviewStatus, SessionFileState

if TYPE_CHECKING:
    from bdnex_core.bedetheque.album import Album
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.pipeline.steps import Outcome

WAITING, SKIPPED, RESOLVED = ReviewStatus.WAITING, ReviewStatus.SKIPPED, ReviewStatus.RESOLVED
PENDING = WAITING  # its former name (review_queue said "pending" before it said "waiting")
PAGE = 5  # candidates shown at a time


class ReviewError(BdnexError):
    """A review action that cannot be done (an unknown entry, a file gone, nothing to undo)."""


@dataclass
class ReviewEntry:
    """One file waiting for a person (``review_queue`` row)."""

    id: int
    file_path: str
    item_key: str
    session_id: int | None
    status: str
    parsed: dict[str, Any]
    candidates: list[dict[str, Any]]
    record: dict[str, Any] | None = None  # the item as its source gave it (LibraryItem.to_record)

    @property
    def name(self) -> str:
        return Path(self.file_path).name

    def item(self) -> LibraryItem:
        """The library item to write: a local file, or a source's book (``source:external id``)."""
        path = Path(self.file_path)
        local = path if path.exists() else None
        if self.record:  # written back exactly as the run that queued it would have
            stored = LibraryItem.from_record(self.record)
            if stored.source != "folder":
                return stored
            # the queue follows a moved file: its place is the entry's
            return replace(stored, name=path.name, path=local, hints={**stored.hints, "parent": path.parent.name})
        if self.item_key != self.file_path and ":" in self.item_key and not self.item_key.startswith("/"):
            source, _, external = self.item_key.partition(":")
            # queued before items were stored: how its source writes back is unknown, so its file is left alone
            return LibraryItem(
                source=source, name=path.name, path=local, external_id=external, write_back=WriteBack(comicinfo=False)
            )
        return LibraryItem(source="folder", name=path.name, path=local, hints={"parent": path.parent.name})

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ReviewEntry:
        """From a row of :class:`~bdnex_core.store.reviews.ReviewStore` (its JSON already parsed)."""
        return cls(
            id=row["id"],
            file_path=row["file_path"],
            item_key=row["item_key"],
            session_id=row["session_id"],
            status=row["status"],
            parsed=row["parsed"],
            candidates=row["candidates"],
            record=row.get("item"),
        )


@dataclass
class AlbumCard:
    """What a person needs to judge one album: its identity, its score and what would change."""

    album_id: int
    url: str | None = None
    series: str | None = None
    tome: str | None = None
    title: str | None = None
    year: int | None = None
    publisher: str | None = None
    authors: list[str] = field(default_factory=list)
    isbn: str | None = None
    score: float | None = None
    breakdown: str = ""  # the score's components, e.g. "series 1.00, tome 1.00, title 0.12"
    cover: str = ""  # "cover: same (distance 6 of 64; ...)" when the file's cover was compared with this album's
    cover_distance: int | None = None  # its pHash distance (of 64), drawn by the web page
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (in the file, would be)
    problem: str | None = None  # the album page could not be read: only the catalogue's view is shown
    # what the chosen album says that the file name does not (its series, its tome), in words
    differences: list[str] = field(default_factory=list)
    # the editions of this album, this one among them: (album id, "06/2015 -1a2016- Soleil Productions")
    editions: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def of(cls, album: Album, candidate: dict[str, Any] | None = None) -> AlbumCard:

        # "Goscinny, René" -> "René Goscinny": a list of names must not be read as one comma list
        authors = list(dict.fromkeys(person_name(name) or name for name in [*album.writers, *album.pencillers]))
        card = cls(
            album_id=album.album_id,
            url=album.url,
            series=album.series,
            tome=album.tome,
            title=album.title or None,
            year=album.year,
            publisher=album.publisher,
            authors=authors,
            isbn=album.isbn,
            editions=[(edition.album_id, edition.label) for edition in album.editions],
        )
        card.add_score(candidate)
        return card

    def add_score(self, candidate: dict[str, Any] | None) -> None:
        if candidate:
            # one number: the confidence the decision used (the score, held below the accept threshold
            # when something forbids an automatic match), as `identify` and the run's lines say it
            self.score = candidate.get("confidence", candidate.get("score"))
            self.breakdown = breakdown(str(candidate.get("explain") or ""))
            self.cover = str(candidate.get("cover") or "")
            self.cover_distance = candidate.get("cover_distance")
            # editions the catalogue index groups with this album, when the page did not list them
            known = {album_id for album_id, _label in self.editions}
            others = [int(album_id) for album_id in candidate.get("editions") or () if int(album_id) not in known]
            if others:
                if not self.editions:
                    self.editions = [(self.album_id, "")]
                self.editions += [(album_id, "") for album_id in others]

    def edition_ids(self) -> list[int]:
        """Every edition of the album shown, this one included (one id when it has no other)."""
        return [album_id for album_id, _label in self.editions] or [self.album_id]

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["changes"] = {name: list(change) for name, change in self.changes.items()}
        return data


@dataclass
class Applied:
    """A decision taken in this review, kept so that it can be undone."""

    entry: ReviewEntry
    album_id: int
    file_path: str  # where the file is after the write (a converted CBR moves)
    backup_id: int | None  # the comicinfo_backups row of the state before the write (None: nothing was kept)
    previous_status: str


def breakdown(explain: str) -> str:
    """The score's components without their long reasons ('series 1.00 (exact), tome 0.00 (...), CAP: tome
    number differs' -> 'series 1.00, tome 0.00; not automatic: tome number differs')."""
    components = ", ".join(f"{name} {value}" for name, value in _COMPONENT.findall(explain))
    caps = [cap.strip() for cap in _CAP.findall(explain)]
    return components + (f"; not automatic: {', '.join(caps)}" if caps else "")


def name_differences(parsed: dict[str, Any], card: AlbumCard) -> list[str]:
    """Where the album a person is about to choose disagrees with the file's name: its series, its tome."""
    said: list[str] = []
    wanted_series, series = parsed.get("series"), card.series
    if wanted_series and series:
        name, album = strip_articles(normalize(str(wanted_series))), strip_articles(normalize(series))
        if name and album and fuzz.token_set_ratio(name, album) < 90:
            said.append(f"series differs: the name says “{wanted_series}”, the album is of “{series}”")
    wanted_tome, tome = parsed.get("tome"), card.tome
    if wanted_tome and not _same_tome(str(wanted_tome), tome):
        this = f"tome {readable_tome(tome)}" if tome else "a one-shot"
        said.append(f"tome differs: the name says {readable_tome(str(wanted_tome))}, the album is {this}")
    return said


def _same_tome(wanted: str, tome: str | None) -> bool:
    if tome is None:
        return False
    strip = lambda text: re.sub(r"(?<![0-9])0+(?=[0-9])", "", text.replace(" ", "").lower())  # noqa: E731
    return strip(wanted) == strip(tome)


_ABSENT_TOME = "CAP: tome {tome} does not exist in this series"


_COMPONENT = re.compile(r"(?:^|[;,] )([a-z][a-z_ ]*?) (\d\.\d\d) \(")
_CAP = re.compile(r"CAP: ([^:,;]+)")


class ReviewService:
    """The review actions over one database; the front-ends call only this."""

    def __init__(self, settings: Settings, db: BDneXDB, *, client: Any = None, matcher: Any = None):
        self.settings = settings
        self.db = db
        self._client = client
        self._matcher = matcher
        self._run: Any = None
        self._preview: Any = None
        self.decisions: list[Applied] = []  # this review's, newest last (undo takes them back)

    # ------------------------------------------------------------------ lazily built collaborators

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = BedethequeClient(self.settings)
        return self._client

    @property
    def matcher(self) -> Any:
        if self._matcher is None:
            self._matcher = LazyMatcher(self.settings, self.db)
        return self._matcher

    @property
    def run(self) -> Any:
        """The tagging run that writes a person's choice (recorded as manual)."""
        if self._run is None:
            self._run = TagRun(
                self.settings, self.db, TagOptions(interactive=True), client=self.client, matcher=self.matcher
            )
        return self._run

    @property
    def preview_run(self) -> Any:
        """The same run in dry-run mode: builds the ComicInfo a choice would write, writes nothing."""
        if self._preview is None:
            self._preview = TagRun(
                self.settings, self.db, TagOptions(dry_run=True), client=self.client, matcher=self.matcher
            )
        return self._preview

    # ------------------------------------------------------------------ listing

    def entries(self, status: str = WAITING, limit: int | None = None) -> list[ReviewEntry]:
        """Entries in ``status`` (waiting or skipped; "pending", its former name, is waiting), oldest first."""
        status = WAITING if status == "pending" else status
        if status not in (WAITING, SKIPPED):
            raise ReviewError(f"unknown review status {status!r} (waiting or skipped)")
        return [ReviewEntry.from_row(row) for row in self.db.reviews.with_status(status, limit)]

    def entry(self, entry_id: int) -> ReviewEntry:
        row = self.db.reviews.get(entry_id)
        if row is None:
            raise ReviewError(f"no review entry {entry_id} (see `bdnex-core review --list`)")
        return ReviewEntry.from_row(row)

    def prune(self) -> list[str]:
        """Make the queue follow the files: an entry whose file moved (same hash) follows it, a second
        entry for one file is dropped, an entry whose file is gone is dropped. Returns one notice per
        change, for the front-end to show."""
        notices: list[str] = []
        waiting = [*self.entries(WAITING), *self.entries(SKIPPED)]
        seen: dict[str, ReviewEntry] = {}  # file identity -> the entry kept
        for entry in waiting:
            if entry.item_key != entry.file_path:  # a source's book (Komga, calibre): its key is its identity
                continue
            path = entry.file_path
            if not os.path.exists(path):
                moved_to = self._moved_to(path)
                if moved_to is None:
                    self._drop(entry)
                    notices.append(f"dropped review entry {entry.id}: {path} is gone")
                    continue
                if self._waiting_under(moved_to, entry.id):  # queued again under its new path: one is enough
                    self._drop(entry)
                    notices.append(f"dropped review entry {entry.id}: {path} moved to {moved_to}, queued there")
                    continue
                notices.append(f"review entry {entry.id} follows its file: {path} -> {moved_to}")
                path = moved_to
                self._follow(entry, moved_to)
            identity = self._identity(path)
            kept = seen.get(identity)
            if kept is not None:
                self._drop(entry)
                notices.append(f"dropped review entry {entry.id}: the same file as entry {kept.id} ({path})")
                continue
            seen[identity] = entry
        return notices

    def _identity(self, path: str) -> str:
        row = self.db.files.get(path)
        return str(row["file_hash"]) if row and row["file_hash"] else os.path.realpath(path)

    def _moved_to(self, old_path: str) -> str | None:
        """Where a file recorded at ``old_path`` lives now: a recorded file of the same hash that exists."""
        row = self.db.files.get(old_path)
        if not row or not row["file_hash"]:
            return None
        for other in self.db.files.with_hash(row["file_hash"]):
            if other["file_path"] != old_path and os.path.exists(other["file_path"]):
                return str(other["file_path"])
        return None

    def _waiting_under(self, path: str, other_than: int) -> bool:
        return self.db.reviews.waiting_for(path, other_than=other_than)

    def _follow(self, entry: ReviewEntry, new_path: str) -> None:
        self.db.reviews.update(entry.id, {"file_path": new_path, "item_key": new_path})
        entry.file_path = entry.item_key = new_path

    def _drop(self, entry: ReviewEntry) -> None:
        self.db.reviews.delete(entry.id)

    # ------------------------------------------------------------------ cards

    def cards(self, candidates: list[dict[str, Any]]) -> list[AlbumCard]:
        """One card per candidate (album pages from the cache, else the site through the polite client)."""
        return [self.card(int(candidate["album_id"]), candidate) for candidate in candidates]

    def card(self, album_id: int, candidate: dict[str, Any] | None = None) -> AlbumCard:
        """The album's card; when its page cannot be had, what the catalogue index says, with the reason."""
        try:
            return AlbumCard.of(fetch_album(self.client, self.db, album_id, read_series=False), candidate)
        except BdnexError as exc:
            card = self._catalogue_card(album_id)
            card.problem = str(exc)
            card.add_score(candidate)
            return card

    def _catalogue_card(self, album_id: int) -> AlbumCard:
        row = self.db.catalogue.album(album_id)
        if row is None:
            return AlbumCard(album_id)
        human = lambda slug: slug.replace("-", " ") if slug else None  # noqa: E731
        return AlbumCard(
            album_id, url=row["url"], series=human(row["series_slug"]), tome=row["tome"], title=human(row["title_slug"])
        )

    def preview(
        self, entry: ReviewEntry | LibraryItem, album_id: int, parsed: dict[str, Any] | None = None
    ) -> AlbumCard:
        """What taking ``album_id`` would do, for a person to confirm (every write from a review is shown
        and asked first): the album's card, the field diff against what the file holds now, and where
        the album disagrees with the file's name (``parsed``; a queue entry's own by default). Writes nothing."""
        if parsed is None and isinstance(entry, ReviewEntry):
            parsed = entry.parsed
        item = entry.item() if isinstance(entry, ReviewEntry) else entry
        if item.path is None and item.external_id is None:
            raise ReviewError(f"{getattr(entry, 'file_path', item.name)}: the file is gone")
        outcome = self.preview_run.processor.apply_album(item, album_id, decision=Decision.MANUAL, confidence=None)
        if outcome.album is None:
            raise ReviewError(f"{item.name}: {outcome.reason or 'album ' + str(album_id) + ' cannot be read'}")
        card = AlbumCard.of(outcome.album)
        card.changes = dict(outcome.changes)
        card.differences = name_differences(parsed or {}, card)
        return card

    def absent_tome(self, parsed: dict[str, Any], candidates: list[dict[str, Any]]) -> str | None:
        """One line instead of a list of tied candidates when the name's tome is not in its series at all:
        "No tome 47 in Lucky Luke (the catalogue has tomes 1–78)". ``None`` when some candidate may be it."""
        tome = parsed.get("tome")
        if not tome or not candidates:
            return None
        absent = _ABSENT_TOME.format(tome=tome)
        if not all(absent in str(candidate.get("explain") or "") for candidate in candidates):
            return None
        best = int(candidates[0]["album_id"])
        cached = self.db.albums.latest(best)  # the series as the site writes it, when its page was read
        row = self.db.catalogue.album(best)
        series = (cached or {}).get("series") or (row["series_slug"].replace("-", " ") if row else None)
        if not series:
            return None
        tomes = self.db.catalogue.series_tomes(best)
        have = f" (the catalogue has tomes {tomes[0]}–{tomes[1]})" if tomes else ""
        return f"No tome {readable_tome(str(tome))} in {series}{have}"

    # ------------------------------------------------------------------ finding more

    def more_candidates(self, name: str, parent: str | None, shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The next candidates for the file name, after those ``shown`` (the queue keeps only the best few)."""
        return self._ranked(parse_filename(name, parent=parent), exclude={int(c["album_id"]) for c in shown})

    def search(
        self, text: str, exclude: set[int] | None = None, *, file_name: str | None = None, parent: str | None = None
    ) -> list[dict[str, Any]]:
        """Free text over the local catalogue index ('lanfeust 4', 'nains redwin'): the albums it finds
        best. Given the file's name, each is then scored against the file, not the query (how well it
        fits the file is what a person judges), and they come in that order."""
        if not text.strip():
            raise ReviewError("search for what? e.g. / lanfeust 4")
        found = self._ranked(parse_filename(text.strip()), exclude=exclude or set())[:PAGE]
        if file_name is None:
            return found
        of_file = parse_filename(file_name, parent=parent)
        scored = [self._scored_against(of_file, candidate) for candidate in found]
        return sorted(scored, key=lambda candidate: (-candidate["confidence"], candidate["album_id"]))

    def _scored_against(self, parsed: Any, candidate: dict[str, Any]) -> dict[str, Any]:
        """``candidate`` scored against the file's name ``parsed``, as matching would have scored it."""
        album_id = int(candidate["album_id"])
        row = self.db.catalogue.album(album_id)
        if row is None:
            return candidate
        album = IndexedAlbum(
            album_id, row["series_norm"], row["tome"], row["tome_number"], row["tome_kind"], row["title_norm"] or ""
        )
        similarity = fuzz.ratio(strip_articles(parsed.series_norm), strip_articles(album.series_norm)) / 100
        tome_exists = parsed.tome is None or self.db.catalogue.series_has_tome(
            album_id, parsed.tome, parsed.tome_number, parsed.tome_kind
        )
        score = score_album(
            parsed, album, similarity, "exact" if similarity == 1 else "fuzzy", tome_exists_in_series=tome_exists
        )
        score.url = candidate.get("url")
        return _candidate_dict(score)

    def _ranked(self, parsed: Any, exclude: set[int]) -> list[dict[str, Any]]:
        scores = sorted(self.matcher.candidates(parsed), key=lambda score: (-score.score, score.album_id))
        found = []
        for score in scores:
            if score.album_id in exclude:
                continue
            exclude.add(score.album_id)
            if score.url is None:
                score.url = self.db.catalogue.url_of(score.album_id)
            found.append(_candidate_dict(score))
        return found

    # ------------------------------------------------------------------ deciding

    def accept(self, entry: ReviewEntry, album_id: int) -> Applied:
        """Tag the entry's file with ``album_id`` (recorded as a person's choice) and close the entry."""
        item = entry.item()
        if item.path is None and item.external_id is None:
            raise ReviewError(f"{entry.file_path}: the file is gone (moved or deleted)")
        last_backup = self.db.backups.last_id()
        outcome = self.run.apply_choice(entry.session_id, item, album_id)
        if outcome.state != OutcomeState.DONE:
            raise ReviewError(f"{entry.name}: {outcome.reason or outcome.state}")
        written = _written_path(outcome, entry.file_path)
        # 'absent' counts: the file had no ComicInfo, but its layout is kept
        backup = self.db.backups.last_write_after(last_backup)
        self._close(entry, RESOLVED, album_id, new_path=written)
        applied = Applied(entry, album_id, written, backup, entry.status)
        self.decisions.append(applied)
        return applied

    def skip(self, entry: ReviewEntry) -> None:
        """Leave the file as it is; the entry stays listable (``review --list --skipped``) and reviewable."""
        self._close(entry, SKIPPED, None)

    def _close(self, entry: ReviewEntry, status: str, album_id: int | None, new_path: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "chosen_album_id": album_id, "resolved_at": to_db_time(utcnow())}
        if new_path and new_path != entry.file_path and entry.item_key == entry.file_path:
            values.update(file_path=new_path, item_key=new_path)
        self.db.reviews.update(entry.id, values)

    def undo(self) -> Applied:
        """Take back the last decision of this review: the file is given back byte for byte as it was
        (:func:`bdnex_core.app.undo.undo_backup`, the same restoring as ``bdnex-core undo``, which then has
        nothing left to restore), its record says it waits for review again, and the entry is back
        where it was."""
        if not self.decisions:
            raise ReviewError("nothing to undo in this review")
        applied = self.decisions[-1]
        if applied.entry.item_key != applied.entry.file_path:  # a manager's book: we did not write its file
            source = applied.entry.item_key.partition(":")[0]
            raise ReviewError(f"{applied.entry.name}: written through {source}; take it back there")
        path = Path(applied.file_path)
        if not path.exists():
            raise ReviewError(f"{path}: the file is gone; cannot restore its ComicInfo.xml")
        if applied.backup_id is not None:
            result = undo_backup(self.settings, self.db, applied.backup_id, record=self._back_to_review(applied))
            if result.failed:
                raise ReviewError(f"{path}: {result.message}")
        else:  # nothing kept (a CBR converted to a CBZ, without ComicInfo before): ours is removed
            if archives.detect_kind(path) != "cbz":
                raise ReviewError(f"{path}: only a CBZ can have its ComicInfo.xml restored")
            archives.write_comicinfo(path, None, preserve_mtime=self.settings.archives.preserve_mtime)
            with self.db.write():
                self._back_to_review(applied)(self.db, path, None)
        self.decisions.pop()
        return applied

    @staticmethod
    def _back_to_review(applied: Applied) -> Any:
        """How an undone decision is recorded: the file waits for review, its entry is as it was."""
        entry = applied.entry

        def record(db: BDneXDB, final: Path, _backup_session_id: int | None) -> None:
            file_id = db.files.record_processing(
                str(final),
                entry.session_id,
                {
                    "status": FileStatus.WAITING,
                    "decision": Decision.REVIEW,
                    "error": "decision undone; waiting for review",
                    "has_metadata": False,
                },
                source=HistorySource.MANUAL,
            )
            # a waiting entry of the same file queued meanwhile would break the one-waiting-entry-per-file rule
            db.reviews.drop_other_pending(entry.item_key, entry.id)
            db.reviews.update(
                entry.id,
                {"status": applied.previous_status, "chosen_album_id": None, "resolved_at": None},
            )
            if entry.session_id is not None:
                db.sessions.mark_file(
                    entry.session_id, entry.item_key, SessionFileState.WAITING, file_id=file_id, error="undone"
                )

        return record


def album_id_of(text: str) -> int | None:
    """An explicit album: ``id 245127``, ``245127`` or a Bédéthèque album URL."""
    text = text.strip()
    if text.lower().startswith("id "):  # `id 245127`, or `id` and a pasted URL, as the help shows
        text = text[3:].strip()
        if not (text.isascii() and text.isdigit()) and "bedetheque" not in text and not text.startswith("http"):
            return None
    if text.isdigit() or "bedetheque" in text or text.startswith("http"):
        return album_id_from_text(text)
    return None


def _written_path(outcome: Outcome, default: str) -> str:
    for write in outcome.writes:
        if write.new_path is not None:  # a CBR converted to a CBZ: the metadata is in the new file
            return str(write.new_path)
    return str(outcome.item.path) if outcome.item.path else default


def correct_file(
    settings: Settings, db: BDneXDB, path: str, album_id: int, *, dry_run: bool = False, client: Any = None
) -> Outcome:
    """Tag one file with the album a person names (``tag FILE --id``), whatever matching thinks;
    recorded as manual, its review entry (if any) closed. With ``dry_run`` only the diff is computed."""
    real = canonical_path(path)
    if not os.path.isfile(real):
        raise ReviewError(f"{path}: not a file (--id tags one file)")
    item = folder_item(real, os.path.basename(os.path.dirname(real)))
    run = TagRun(settings, db, TagOptions(dry_run=dry_run), client=client, matcher=_NoMatcher())
    outcome = run.apply_choice(None, item, album_id)
    if outcome.state == OutcomeState.DONE and not dry_run:
        db.reviews.resolve_waiting(item.key, album_id)
    return outcome


class _NoMatcher:
    """``tag --id`` never matches: it needs no catalogue index."""

    def match(self, parsed: Any) -> Any:
        raise ReviewError("tag --id does not match file names")
