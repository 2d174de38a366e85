"""The work done for one item, off the main thread: identify, match, fetch, build, write.

Nothing here records results in the database: an :class:`Outcome` goes back to the
runner, whose single writer records it. Workers only read the database (and fill the
album cache through the catalogue service), each with its own connection.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from bdnex_core import archives
from bdnex_core.archives.journal import WriteJournal, journalled, take_back_abandoned
from bdnex_core.archives.layout import capture, rebuild
from bdnex_core.bedetheque.editions import EditionFinder
from bdnex_core.bedetheque.service import fetch_album
from bdnex_core.comicinfo import ComicInfo, diff, read_comicinfo_safely
from bdnex_core.covers.check import CoverBudget, CoverChecker
from bdnex_core.errors import BdnexError
from bdnex_core.hashing import Fingerprint, sha256_file
from bdnex_core.library import LibraryItem, MetadataWriter, WriteResult
from bdnex_core.matching.filename import parse_filename
from bdnex_core.states import ALREADY_PROCESSED, Decision, FileStatus, HistorySource, OutcomeState
from bdnex_core.store.backend import ConnectionLost
from bdnex_core.store.common import MAX_ID

if TYPE_CHECKING:
    from bdnex_core.bedetheque.album import Album
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.matching.filename import ParsedName
    from bdnex_core.matching.matcher import MatchResult
    from bdnex_core.pipeline.options import TagOptions
    from bdnex_core.store.files import FileLookup

# the reason of a file skipped as processed before and unchanged (the runner records no change for it)
RETRIES_AFTER_A_LOST_CONNECTION = 2
ALBUM_ID_IN_URL = re.compile(r"-([0-9]+)\.html")


def album_id_from_text(text: str) -> int | None:
    """An album id typed by a person: ``245127`` or a Bédéthèque album URL (ASCII digits, an id
    the database can hold: "²" or a 30-digit number is no album)."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
    else:
        found = ALBUM_ID_IN_URL.search(text)
        number = int(found.group(1)) if found else 0
    return number if 0 < number <= MAX_ID else None


@dataclass
class Outcome:
    """What happened to one item. ``state``: done, waiting, skipped, failed, or review
    (a person must decide: the runner prompts or queues)."""

    item: LibraryItem
    state: OutcomeState
    reason: str = ""
    decision: Decision | None = None
    confidence: float | None = None
    album: Album | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    parsed: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    writes: list[WriteResult] = field(default_factory=list)
    file_hash: str | None = None
    fingerprint: Fingerprint | None = None
    moved_from: str | None = None
    history_source: HistorySource = HistorySource.AUTO
    elapsed_ms: int = 0
    page_count: int | None = None
    metadata_hash: str | None = None  # SHA-256 of the ComicInfo.xml the file holds after our write
    leave_record: bool = False  # the file's processed_files row stays as it is (nothing new to record)
    # the ComicInfo.xml bytes the file held, kept in comicinfo_backups when recorded: replaced by
    # our write (state done), or unreadable and so left for review
    previous_comicinfo: bytes | None = None
    # how to give the CBZ back byte for byte (`bdnex-core undo`), taken just before our write
    previous_layout: bytes | None = None
    edition: str = ""  # why this edition of the album (matching.edition, an ISBN or a year in the file)
    # the journal entries of in-place writes into the file: deleted in the transaction that records
    # it (an entry left after a crash means "never recorded", and the next run takes the write back)
    journal_ids: list[int] = field(default_factory=list)
    cover: str = ""  # what the covers said, when they were compared ("" when not: see covers/check.py)

    @property
    def key(self) -> str:
        return self.item.key

    @property
    def changed(self) -> tuple[str, ...]:
        """The ComicInfo fields this outcome changed (none: the file was already as tagged)."""
        return tuple(self.changes)

    def summary_row(self) -> dict[str, Any]:
        return summary_row(self)

    def recorded(self) -> RecordedOutcome:
        """What a run's summary keeps of this outcome once the database has it: a few hundred bytes,
        not the album, the candidates, the ComicInfo bytes and the archive's layout."""
        album = self.album
        item = self.item
        key = item.key
        path = None if item.path is None else str(item.path)
        return RecordedOutcome(
            ItemRef(item.source, item.name, key if path == key else path, item.external_id, key),
            self.state,
            self.reason,
            self.decision,
            self.confidence,
            None if album is None else AlbumRef(album.album_id, album.series, album.tome, album.title),
            self.elapsed_ms,
            edition=self.edition,
            cover=self.cover,
            changed=self.changed,
        )


class ItemRef(NamedTuple):
    """The identity of a :class:`LibraryItem`, as a summary keeps it: its path as text (a ``Path`` object
    weighs half a kilobyte), made a ``Path`` again when asked for."""

    source: str
    name: str
    file: str | None
    external_id: str | None
    key: str

    @property
    def path(self) -> Path | None:
        return None if self.file is None else Path(self.file)


class AlbumRef(NamedTuple):
    """The album an outcome got, as a summary shows it."""

    album_id: int
    series: str | None
    tome: str | None
    title: str | None


class RecordedOutcome(NamedTuple):
    """An :class:`Outcome` recorded in the database, as a run's summary keeps it (see :meth:`Outcome.recorded`)."""

    item: ItemRef
    state: OutcomeState
    reason: str
    decision: Decision | None
    confidence: float | None
    album: AlbumRef | None
    elapsed_ms: int
    changes: Mapping[str, tuple[Any, Any]] = MappingProxyType({})  # a dry run keeps whole outcomes instead
    edition: str = ""  # why this edition of the album (see Outcome.edition)
    cover: str = ""  # what the covers said (see Outcome.cover)
    changed: tuple[str, ...] = ()  # the names of the fields changed (tagged, or tagged again identically)

    @property
    def key(self) -> str:
        return self.item.key

    def summary_row(self) -> dict[str, Any]:
        return summary_row(self)


def summary_row(outcome: Outcome | RecordedOutcome) -> dict[str, Any]:
    """One file of a run, as its logs and ``--json`` give it."""
    album = outcome.album
    return {
        "file": str(outcome.item.path or outcome.item.name),
        "key": outcome.key,
        "state": outcome.state,
        "reason": outcome.reason,
        "decision": outcome.decision,
        "confidence": outcome.confidence,
        "album_id": album.album_id if album else None,
        "series": album.series if album else None,
        "tome": album.tome if album else None,
        "title": album.title if album else None,
        "changes": {name: list(change) for name, change in outcome.changes.items()},
        "changed": list(outcome.changed),
        "elapsed_ms": outcome.elapsed_ms,
        "edition": outcome.edition or None,
        "cover": outcome.cover or None,
    }


class NameMatcher(Protocol):
    """What a tag run asks of its matcher: the catalogue's (:class:`~bdnex_core.matching.matcher.Matcher`,
    loaded lazily by the run) or any other that answers the same way."""

    def match(self, parsed: ParsedName) -> MatchResult: ...


class RunProgress(Protocol):
    """What a tag run tells its progress display (the terminal's :class:`ProgressDisplay`, or a front-end's)."""

    def start(self, total: int) -> None: ...

    def advance(self, outcome: Outcome, *, pace: str | None = None) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ArchiveView:
    """What a tag reads of a local archive, once: its pages and its ComicInfo.xml (parsed, as bytes,
    their SHA-256, and why it could not be read faithfully, if so). An item without a local file has none."""

    pages: list[str] = field(default_factory=list)
    existing: ComicInfo | None = None
    album_id_from_comicinfo: int | None = None
    comicinfo_hash: str | None = None
    comicinfo_bytes: bytes | None = None
    comicinfo_problem: str | None = None

    @property
    def gtin(self) -> str:
        """The GTIN (an ISBN) its ComicInfo gives, or ""."""
        return str(self.existing.get("GTIN") or "") if self.existing is not None else ""


class ItemProcessor:
    """Processes items; safe to call from several worker threads at once."""

    def __init__(
        self,
        settings: Settings,
        options: TagOptions,
        *,
        db_factory: Callable[[], BDneXDB],
        client: BedethequeClient,
        matcher: NameMatcher,
        writers: list[MetadataWriter],
    ):
        self.settings = settings
        self.options = options
        self._db_factory = db_factory
        self._local = threading.local()
        self.client = client
        self.matcher = matcher
        self.writers = writers

        matching = settings.matching
        self.covers = CoverChecker(
            client, matching.cover_check, CoverBudget(matching.cover_budget), review_threshold=matching.review_threshold
        )

    # each worker thread reads through its own connection (WAL: readers never block)
    @property
    def db(self) -> BDneXDB:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._db_factory()
        return db

    # ------------------------------------------------------------------ one item

    def process(self, item: LibraryItem) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = self._process_again_if_disconnected(item)
        except BdnexError as exc:
            if exc.stops_run:
                raise  # not about this file (the site is unusable now): the runner stops, the file stays pending
            outcome = Outcome(
                item, OutcomeState.FAILED, reason=exc.reason if item.path and exc.path == str(item.path) else str(exc)
            )
        except OSError as exc:
            outcome = Outcome(item, OutcomeState.FAILED, reason=f"{exc.strerror or exc}")
        outcome.elapsed_ms = int((time.perf_counter() - started) * 1000)
        return outcome

    def _process_again_if_disconnected(self, item: LibraryItem) -> Outcome:
        """A worker's database work (lookups, the album cache, the shared request slots) all comes
        before its writes: an item cut by a lost connection (opened again since) is processed again
        from the start, nothing of it written yet."""
        for attempt in range(RETRIES_AFTER_A_LOST_CONNECTION + 1):
            try:
                return self._process(item)
            except ConnectionLost:
                if attempt == RETRIES_AFTER_A_LOST_CONNECTION:
                    raise
        raise AssertionError("unreachable")

    def _process(self, item: LibraryItem) -> Outcome:
        """One item through its steps, in order; the first step that settles it gives the outcome."""
        if item.unavailable:  # the source could not provide the file: its reason
            return Outcome(item, OutcomeState.FAILED, reason=item.unavailable)
        lookup = None
        if item.path is not None:
            if not item.path.exists():
                return Outcome(item, OutcomeState.FAILED, reason="file vanished before processing")
            take_back_abandoned(self.db.archive_journal, item.path)  # a killed run's write, if any
            lookup = self.db.files.lookup(item.path)
            skipped = self._processed_before(item, lookup)
            if skipped is not None:
                return skipped
        view = self._read_archive(item)
        parsed = parse_filename(item.name, parent=item.hints.get("parent"))
        for step in (self._edited_elsewhere, self._unreadable_comicinfo, self._known_album):
            outcome = step(item, lookup, view, parsed)
            if outcome is not None:
                return outcome
        return self._matched(item, lookup, view, parsed)

    def _processed_before(self, item: LibraryItem, lookup: FileLookup) -> Outcome | None:
        """A file tagged before and unchanged (or only moved) since, or one waiting for review: skipped."""
        row = lookup.row
        already = row is not None and row["status"] in (FileStatus.SUCCESS, FileStatus.MANUAL)
        # queued for review by another run since this one listed the file: not matched a second time
        waiting = row is not None and row["status"] == FileStatus.WAITING
        if self.options.force or not (
            (already and lookup.state in ("unchanged", "moved")) or (waiting and lookup.state == "unchanged")
        ):
            return None
        outcome = Outcome(item, OutcomeState.SKIPPED, reason=ALREADY_PROCESSED, leave_record=True)
        outcome.moved_from = lookup.row["file_path"] if lookup.state == "moved" and lookup.row else None
        outcome.fingerprint = lookup.fingerprint
        return outcome

    def _unreadable_comicinfo(
        self, item: LibraryItem, lookup: FileLookup | None, view: ArchiveView, parsed: ParsedName
    ) -> Outcome | None:
        """A ComicInfo.xml that cannot be read faithfully is never replaced silently: a person decides,
        with the candidates of the name."""
        if not view.comicinfo_problem:
            return None
        unreadable = self.matcher.match(parsed)
        outcome = Outcome(
            item,
            OutcomeState.REVIEW,
            reason=f"its ComicInfo.xml cannot be read faithfully ({view.comicinfo_problem}); "
            "tagging it would replace it",
            decision=unreadable.decision,
            confidence=unreadable.best.confidence if unreadable.best is not None else None,
            candidates=[_candidate_dict(candidate) for candidate in unreadable.candidates],
            parsed=_parsed_as_dict(parsed),
            previous_comicinfo=view.comicinfo_bytes,
        )
        if lookup is not None:
            outcome.file_hash, outcome.fingerprint = lookup.file_hash, lookup.fingerprint
        return outcome

    def _known_album(
        self, item: LibraryItem, lookup: FileLookup | None, view: ArchiveView, parsed: ParsedName
    ) -> Outcome | None:
        """The album is known already (the source's hint, or the Bédéthèque URL of its ComicInfo): no matching."""
        known_id = item.hints.get("bedetheque_id") or view.album_id_from_comicinfo
        if not known_id:
            return None
        outcome = self.apply_album(
            item,
            int(known_id),
            decision=Decision.ACCEPT,
            confidence=1.0,
            archive_view=view,
            known_hash=_known_hash(lookup),
        )
        outcome.parsed = _parsed_as_dict(parsed)
        outcome.reason = outcome.reason or "Bédéthèque id already known"
        return outcome

    def _matched(self, item: LibraryItem, lookup: FileLookup | None, view: ArchiveView, parsed: ParsedName) -> Outcome:
        """Matched by its name against the catalogue, the cover weighed where the name leaves a doubt,
        the edition chosen; applied, asked about or recorded as not matched."""
        result = self.matcher.match(parsed)
        edition_said = bool(view.gtin or parsed.isbn or parsed.year is not None)
        covers = None
        if not self.options.timid and self.covers.wanted(result, edition_said=edition_said):
            if result.decision == Decision.ACCEPT and result.best is not None:
                # the album a tag reads anyway, first: series first, its series page puts every edition's
                # cover URL in the album cache
                fetch_album(self.client, self.db, result.best.album_id)
            covers = self.covers.check(
                self.db,
                item.path,
                lookup.file_hash if lookup is not None else None,
                result,
                edition_said=edition_said,
            )
        candidates = [_candidate_dict(candidate, covers) for candidate in result.candidates]
        best = result.best
        accepted = result.decision == Decision.ACCEPT and best is not None
        by_cover = ""
        if covers is not None and covers.accept is not None:  # the name left it in doubt; the cover says which
            best = next(candidate for candidate in result.candidates if candidate.album_id == covers.accept)
            accepted, by_cover = True, f"accepted by its cover ({covers.line(best.album_id)}): {result.reason}"
        edition = None
        if accepted and best is not None and not self.options.timid and not (covers is not None and covers.block):
            edition = self.choose_edition(best, parsed, view, covers.same_cover if covers else None)
        if edition is not None and not edition.ask:
            assert best is not None and edition.album_id is not None
            outcome = self.apply_album(
                item,
                edition.album_id,
                decision=Decision.ACCEPT,
                confidence=best.confidence,
                archive_view=view,
                known_hash=_known_hash(lookup),
            )
            outcome.edition = edition.reason
            outcome.reason = outcome.reason or by_cover
        elif edition is not None and best is not None:  # matching.edition: ask
            outcome = Outcome(
                item,
                OutcomeState.REVIEW,
                reason=f"album {best.album_id} accepted at {best.confidence:.2f}; {edition.reason}",
                decision=Decision.REVIEW,
                confidence=best.confidence,
            )
        elif covers is not None and covers.block and best is not None:  # the name's album, not the file's cover
            outcome = Outcome(
                item,
                OutcomeState.REVIEW,
                reason=f"album {best.album_id} accepted at {best.confidence:.2f} by its name; {covers.block}",
                decision=Decision.REVIEW,
                confidence=best.confidence,
            )
        elif best is not None and (result.decision != Decision.NONE or self.options.timid):
            outcome = Outcome(
                item,
                OutcomeState.REVIEW,
                reason=f"best candidate {best.album_id} at {best.confidence:.2f} "
                + (
                    "is below the accept threshold"
                    if result.decision != Decision.ACCEPT
                    else "(--timid: asked even above the threshold)"
                ),
                decision=Decision.REVIEW,
                confidence=best.confidence,
            )
        else:  # below matching.review_threshold: not worth a person's time; recorded as not matched
            outcome = Outcome(
                item,
                OutcomeState.SKIPPED,
                reason=(
                    f"not matched: no candidate above the review threshold (best: album {best.album_id} "
                    f"at {best.confidence:.2f})"
                    if best is not None
                    else "not matched: no candidate in the catalogue"
                ),
                decision=Decision.NONE,
                confidence=best.confidence if best else None,
            )
        outcome.candidates = candidates
        outcome.parsed = _parsed_as_dict(parsed)
        if covers is not None:
            outcome.cover = "; ".join(f"album {album_id}: {line.text()}" for album_id, line in covers.lines.items()) + (
                f" (file: {covers.file_cover})" if covers.file_cover else ""
            )
        if lookup is not None and outcome.file_hash is None:
            outcome.file_hash, outcome.fingerprint = lookup.file_hash, lookup.fingerprint
        return outcome

    def choose_edition(
        self, best: Any, parsed: ParsedName, view: ArchiveView, same_cover: frozenset[int] | None = None
    ) -> Any:
        """The edition of the matched album the file is (:mod:`bdnex_core.bedetheque.editions`): by the
        GTIN of its ComicInfo or an ISBN in its name, a year in its name, the editions whose cover is the
        file's (``same_cover``), else ``matching.edition``."""
        return EditionFinder(self.client, self.db).choose(
            [best.album_id, *getattr(best, "editions", ())],
            first=best.album_id,
            policy=self.settings.matching.edition,
            isbn=view.gtin or parsed.isbn,
            year=parsed.year,
            same_cover=same_cover or None,
        )[0]

    def _edited_elsewhere(
        self, item: LibraryItem, lookup: FileLookup | None, view: ArchiveView, parsed: ParsedName
    ) -> Outcome | None:
        """A file we tagged whose ComicInfo is no longer the one we wrote (its SHA-256 recorded as
        ``metadata_hash``): another tool edited it since, and it is not overwritten without --force."""
        if self.options.force or lookup is None or lookup.row is None or lookup.state != "changed":
            return None
        recorded = lookup.row.get("metadata_hash")
        if not recorded or lookup.row["status"] not in (FileStatus.SUCCESS, FileStatus.MANUAL):
            return None
        if view.comicinfo_hash == recorded:
            return None
        outcome = Outcome(
            item,
            OutcomeState.SKIPPED,
            reason="ComicInfo.xml edited by another tool since it was tagged; left as is (--force to tag it again)",
            leave_record=True,
        )
        outcome.file_hash, outcome.fingerprint = lookup.file_hash, lookup.fingerprint
        return outcome

    def _read_archive(self, item: LibraryItem) -> ArchiveView:
        """Pages and existing ComicInfo of a local archive (an unusable ComicInfo counts as none)."""
        if item.path is None:
            return ArchiveView()

        with archives.open_archive(item.path) as comic:
            pages = comic.pages()
            if not pages:
                raise BdnexError("no image pages in the archive", path=item.path)
            comicinfo_bytes = comic.comicinfo_bytes()
            existing, problem = read_comicinfo_safely(comicinfo_bytes)
        web = str(existing.get("Web") or "") if existing is not None else ""
        return ArchiveView(
            pages=pages,
            existing=existing,
            album_id_from_comicinfo=album_id_from_text(web) if "bedetheque" in web else None,
            comicinfo_hash=None if comicinfo_bytes is None else hashlib.sha256(comicinfo_bytes).hexdigest(),
            comicinfo_bytes=comicinfo_bytes,
            comicinfo_problem=problem,
        )

    def apply_album(
        self,
        item: LibraryItem,
        album_id: int,
        *,
        decision: Decision,
        confidence: float | None,
        archive_view: ArchiveView | None = None,
        history_source: HistorySource = HistorySource.AUTO,
        known_hash: tuple[str, Fingerprint] | None = None,
    ) -> Outcome:
        """Fetch the album (cache first), build ComicInfo, and have every writer write it.

        ``known_hash``: the file's SHA-256 and the size/mtime it had then (the lookup's), so that the
        undo layout does not read the whole file again while it is unchanged."""
        view = archive_view if archive_view is not None else self._read_archive(item)
        album = fetch_album(self.client, self.db, album_id)
        version = self.settings.comicinfo.version
        new_info = ComicInfo.from_album(album, pages=view.pages, page_count=len(view.pages) or None, version=version)
        merged = ComicInfo.merge(
            view.existing, new_info, self.settings.comicinfo.merge_policy, self.settings.comicinfo.locked_fields
        )
        changes = diff(view.existing, merged)
        outcome = Outcome(
            item,
            OutcomeState.DONE,
            decision=decision,
            confidence=confidence,
            album=album,
            changes=changes,
            history_source=history_source,
            page_count=len(view.pages) or None,
        )
        if self.options.dry_run:
            outcome.reason = "dry run: nothing written"
            return outcome
        applicable = [writer for writer in self.writers if writer.can_write(item, self.settings)]
        if not applicable:
            if item.path is not None and self.settings.archives.cbr == "skip":
                return Outcome(
                    item, OutcomeState.SKIPPED, reason="RAR/7z archive left as is (archives.cbr: skip)", album=album
                )
            return Outcome(item, OutcomeState.FAILED, reason="no metadata writer can write this item", album=album)
        outcome.previous_comicinfo = view.comicinfo_bytes
        writes_the_cbz = item.path is not None and any(writer.name == "comicinfo" for writer in applicable)
        if writes_the_cbz and item.path is not None and archives.detect_kind(item.path) == "cbz":
            known_sha256, known_as = known_hash or (None, None)
            outcome.previous_layout = capture(item.path, known_sha256=known_sha256, known_as=known_as)
        journal = WriteJournal(self.db.archive_journal, defer_end=True)
        try:
            with journalled(journal):  # the CBZ writer (and plugins' through the api) write in place under it
                for writer in applicable:
                    outcome.writes.append(writer.write(item, merged, self.settings, dry_run=False))
            if item.path is not None:
                written_path = _written_path(item, outcome.writes)
                outcome.fingerprint = Fingerprint.of(written_path)
                outcome.file_hash = sha256_file(written_path)
                outcome.metadata_hash = _comicinfo_hash(written_path)
        except BaseException:
            journal.take_back_all()  # nothing will record this file: its in-place write goes back now
            raise
        outcome.journal_ids = journal.pending_ids()
        return outcome


def take_back_writes(outcome: Outcome, settings: Settings) -> str | None:
    """Give the item's file back as it was before ``outcome``'s write, when that write cannot be
    recorded (the database failed): a CBZ rebuilt byte for byte from the layout taken before the
    write, the CBZ a conversion made removed while its original is still there. Returns what could
    not be given back (a message), or ``None``."""
    written = [write for write in outcome.writes if write.written]
    if not written or outcome.item.path is None:
        return f"written by {', '.join(write.writer for write in written)}" if written else None
    left = []
    for write in written:
        try:
            if write.writer != "comicinfo":
                left.append(f"written by {write.writer} too")
            elif write.new_path is not None and write.new_path != outcome.item.path:
                if not outcome.item.path.exists():
                    left.append(f"{write.new_path} made from it, whose original is gone")
                else:
                    write.new_path.unlink(missing_ok=True)  # converted beside its original: ours alone
            elif outcome.previous_layout is not None:
                rebuild(outcome.item.path, outcome.previous_layout, preserve_mtime=settings.archives.preserve_mtime)
            else:
                left.append("its earlier state was not kept")
        except (BdnexError, OSError) as exc:
            left.append(f"not given back ({exc})")
    return "; ".join(left) or None


def _known_hash(lookup: FileLookup | None) -> tuple[str, Fingerprint] | None:
    """The file's SHA-256 as the lookup knew it (computed, or recorded for a file of the same size/mtime)."""
    return (lookup.file_hash, lookup.fingerprint) if lookup is not None and lookup.file_hash else None


def _written_path(item: LibraryItem, writes: list[WriteResult]) -> Path:
    """The file that now holds the metadata (a CBR converted to CBZ moves it)."""
    assert item.path is not None
    return next((write.new_path for write in writes if write.new_path is not None), item.path)


def _comicinfo_hash(path: Path) -> str | None:
    """SHA-256 of the ComicInfo.xml in the archive at ``path`` (``None`` when it has none)."""
    try:
        with archives.open_archive(path) as comic:
            raw = comic.comicinfo_bytes()
    except (BdnexError, OSError):
        return None
    return None if raw is None else hashlib.sha256(raw).hexdigest()


def _parsed_as_dict(parsed: Any) -> dict[str, Any]:
    if is_dataclass(parsed) and not isinstance(parsed, type):
        return asdict(parsed)
    return dict(parsed)


def _candidate_dict(candidate: Any, covers: Any = None) -> dict[str, Any]:
    line = covers.lines.get(candidate.album_id) if covers is not None else None
    return {
        "album_id": candidate.album_id,
        "url": getattr(candidate, "url", None),
        "score": round(float(candidate.score), 4),
        "confidence": round(float(getattr(candidate, "confidence", candidate.score)), 4),
        "explain": candidate.explain()
        if callable(getattr(candidate, "explain", None))
        else getattr(candidate, "explain", ""),
        "label": getattr(candidate, "label", None),
        "editions": list(getattr(candidate, "editions", ()) or ()),
        "cover": line.text() if line is not None else None,
        "cover_distance": line.comparison.phash_distance if line is not None and line.comparison else None,
    }
