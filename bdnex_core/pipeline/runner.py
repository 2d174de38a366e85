"""A tagging run: one session, parallel workers, one writer that records every result.

Workers (threads) do the local work and the catalogue requests (through the shared
polite limiter of the client). Each result comes back to the calling thread, which
alone records it: processed file upserted with its history, session file marked,
counters derived, review queue filled. A result is recorded right after its archive
was written, so a killed run loses at most the files in flight, which stay
``pending`` and are processed again by ``--resume``.

When the database fails under the run (a full disk, a lock held too long, a PostgreSQL server
gone for longer than ``database.reconnect_seconds``), the run stops as it does when the site
stops it: no new file starts, the files in flight are recorded if the database still takes them
and otherwise given back as they were (no archive keeps our ComicInfo without its record), and the
session is left ``paused`` for ``--resume``. A PostgreSQL connection cut in the middle of a write
and opened again only makes that write run again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core import archives, plugins
from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.db import DONE_STATUSES, BDneXDB, SessionManager
from bdnex_core.errors import BdnexError, DatabaseError, SiteUnavailable
from bdnex_core.library import LibraryItem
from bdnex_core.pipeline.catalogue_matcher import LazyMatcher
from bdnex_core.pipeline.fresh_start import refuse_a_silent_fresh_start
from bdnex_core.pipeline.logs import write_session_logs, write_text_log
from bdnex_core.pipeline.options import TagOptions
from bdnex_core.pipeline.steps import (
    ItemProcessor,
    NameMatcher,
    Outcome,
    RecordedOutcome,
    RunProgress,
    take_back_writes,
)
from bdnex_core.service import notifications
from bdnex_core.signals import stop_on_signals
from bdnex_core.states import (
    Decision,
    FileStatus,
    HistorySource,
    OutcomeState,
    SessionFileState,
    file_status_for,
    session_state_for,
)
from bdnex_core.store import db_safety
from bdnex_core.store.backend import DatabaseFull, SQLiteBackend, run_again_if_disconnected
from bdnex_core.store.db_backups import RollingBackups

if TYPE_CHECKING:
    from bdnex_core.config import Settings

logger = logging.getLogger(__name__)

# how often a run waiting for files another run is processing looks again
CLAIM_RETRY_SECONDS = 1.0

Reviewer = Callable[[Outcome], "int | None"]


@dataclass
class RunSummary:
    session_id: int | None
    status: str
    # every file of the run; once recorded only what the summary shows of it (a dry run keeps it whole)
    outcomes: list[Outcome | RecordedOutcome] = field(default_factory=list)
    message: str = ""
    # how to go on after a pause: the text said, and the bdnex-core arguments that resume (a front-end
    # prints them as a command its user can run: its own executable and options)
    resume: tuple[str, tuple[str, ...]] | None = None
    json_log: str | None = None
    csv_log: str | None = None
    unchanged: int = 0  # skipped as processed before and unchanged: counted, not kept one by one
    warnings: list[str] = field(default_factory=list)  # one line each, printed with the summary
    stopped_by: BdnexError | None = None  # the stops_run error that paused the run (status "blocked")
    pace_notice: str | None = None  # the site asked us to slow down: the pace every request keeps now
    session_ended: bool = False  # how the session ended is in the database (not so when it failed too)

    @property
    def stopped_by_database(self) -> bool:
        return isinstance(self.stopped_by, DatabaseError)

    cover_requests: int = 0  # covers asked of the site to compare them (matching.cover_check)
    covers_not_fetched: str = ""  # why some covers were not compared (budget spent, site unreachable)

    def whole_outcomes(self) -> list[Outcome]:
        """The outcomes kept whole, with their album and changes: every one of a dry run, none of a real
        run (the database has those; :attr:`outcomes` keeps what a summary shows of them)."""
        return [outcome for outcome in self.outcomes if isinstance(outcome, Outcome)]

    def count(self, state: OutcomeState) -> int:
        listed = sum(1 for outcome in self.outcomes if outcome.state == state)
        return listed + self.unchanged if state == OutcomeState.SKIPPED else listed

    @property
    def counts(self) -> dict[str, int]:
        return {
            state: self.count(state)
            for state in (OutcomeState.DONE, OutcomeState.WAITING, OutcomeState.SKIPPED, OutcomeState.FAILED)
        }

    @property
    def exit_code(self) -> int:
        if self.status == "blocked":  # the site (4) or the database (3) stopped the run
            return self.stopped_by.exit_code if self.stopped_by is not None else SiteUnavailable.exit_code
        if self.status == "paused":
            return 130
        return 1 if self.count(OutcomeState.FAILED) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "status": self.status,
            "message": self.message,
            "counts": {
                "tagged": self.count(OutcomeState.DONE),
                "waiting": self.count(OutcomeState.WAITING),
                "skipped": self.count(OutcomeState.SKIPPED),
                "failed": self.count(OutcomeState.FAILED),
                "unchanged": self.unchanged,
            },
            "failures": [
                {"file": str(o.item.path or o.item.name), "reason": o.reason}
                for o in self.outcomes
                if o.state == OutcomeState.FAILED
            ],
            "json_log": self.json_log,
            "pace_notice": self.pace_notice,
            "cover_requests": self.cover_requests,
            "warnings": self.warnings,
            "csv_log": self.csv_log,
        }


class StopRequested:
    """Set by Ctrl-C (SIGINT) or SIGTERM: no new file starts, files in flight finish."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._signals = stop_on_signals(self.event, second_interrupt_raises=True)

    def __enter__(self) -> StopRequested:
        self._signals.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._signals.__exit__(*exc)


class TagRun:
    """Runs (or resumes) one session over a list of items."""

    def __init__(
        self,
        settings: Settings,
        db: BDneXDB,
        options: TagOptions,
        *,
        client: BedethequeClient | None = None,
        matcher: NameMatcher | None = None,
        reviewer: Reviewer | None = None,
        progress: RunProgress | None = None,
    ):
        if db.memory:
            raise BdnexError("tagging needs a database file or server (workers open their own connections)")
        self.settings = settings
        self.db = db
        self.options = options
        self.reviewer = reviewer
        self.progress = progress
        self.client = client if client is not None else _default_client(settings, db)
        self.matcher = matcher if matcher is not None else _default_matcher(settings, db)
        self.backups = _rolling_backups(settings, db, options)
        self.processor = ItemProcessor(
            settings,
            options,
            db_factory=db.reopen,
            client=self.client,
            matcher=self.matcher,
            writers=plugins.metadata_writers(settings),
        )

    # ------------------------------------------------------------------ sessions

    def start(self, items: Sequence[LibraryItem], *, unchanged: int | None = None) -> RunSummary:
        """A new session over ``items``. Files processed before and unchanged since are left out and
        counted; a caller that already left them out passes how many it found as ``unchanged``."""
        directory = ", ".join(self.options.locations) or "(items)"
        if not self.options.dry_run:
            refuse_a_silent_fresh_start(self.db, items)
        self.backups.maybe()  # the database as it was before this run, when the newest backup is old
        if unchanged is None:
            known = set() if self.options.force else self._unchanged_keys(items)
            items = [item for item in items if item.key not in known]
            unchanged = len(known)
        # the session and its file list in one transaction: a process killed in between leaves neither,
        # never a session that a resume would find with nothing to do and call completed
        with self.db.write():
            session_id = self.db.sessions.start(
                directory,
                batch_mode=not self.options.interactive,
                strict_mode=self.options.strict,
                num_workers=self.options.workers,
                options=self.options.to_dict(),
                source=self.options.source,
                pattern="|".join(self.options.patterns) or None,
            )
            self.db.sessions.add_files(
                session_id,
                ((str(item.path or item.name), item.key, SessionFileState.PENDING, item.to_record()) for item in items),
                unchanged=unchanged,
            )
        return self._run(session_id, items, unchanged=unchanged)

    def _unchanged_keys(self, items: Sequence[LibraryItem]) -> set[str]:
        """Keys of the local files processed before and unchanged since."""
        local = {str(item.path): item.key for item in items if item.path is not None}
        return {local[path] for path in unchanged_paths(self.db, list(local))}

    def resume(self, session_id: int, items_by_key: dict[str, LibraryItem]) -> RunSummary:
        self.backups.maybe()
        remaining = SessionManager(self.db).resume_session(session_id)
        items: list[LibraryItem] = []
        for row in remaining:
            item = items_by_key.get(row["item_key"])
            if item is None:
                self.db.sessions.mark_file(
                    session_id, row["item_key"], SessionFileState.FAILED, error="no longer in the library"
                )
            else:
                items.append(item)
        return self._run(session_id, items)

    # ------------------------------------------------------------------ the loop

    def _run(self, session_id: int, items: Sequence[LibraryItem], unchanged: int = 0) -> RunSummary:
        summary = RunSummary(session_id, "running", unchanged=unchanged)
        self._clean_leftovers(items)
        if self.progress is not None:
            self.progress.start(len(items))
        try:
            held = self.db.backend.room_held() if not self.options.dry_run else contextlib.nullcontext()
            with StopRequested() as stop, held:
                self._dispatch(session_id, items, summary, stop)
            summary.status = "paused" if stop.event.is_set() else "completed"
        except BdnexError as exc:
            if not exc.stops_run:
                self._end_session_anyway(session_id)
                raise
            # the site (or the hourly cap, or the database) stops the run: the files not done stay
            # pending for --resume
            summary.status, summary.stopped_by = "blocked", exc
            summary.resume = (
                f"{exc} — session {session_id} paused; resume it later",
                ("tag", "--resume", str(session_id)),
            )
        except KeyboardInterrupt:
            summary.status = "paused"
        except BaseException:  # a bug: reported as one, but the session is not left `running`
            self._end_session_anyway(session_id)
            raise
        finally:
            if self.progress is not None:
                self.progress.stop()
        budget = self.processor.covers.budget
        summary.cover_requests = budget.requests
        if budget.stopped or budget.refused:
            summary.covers_not_fetched = budget.stopped or (
                f"{budget.refused} covers not compared: the run's cover budget of {budget.limit} requests was spent"
            )
        summary.pace_notice = self._pace_notice()
        try:
            self._close_session(session_id, summary)
        except DatabaseError as exc:
            if not summary.stopped_by_database:
                raise
            # the database that stopped the run did not take all of the session's end either
            if summary.session_ended:
                summary.warnings.append(f"warning: session {session_id} paused, but {exc.reason}")
            else:
                summary.warnings.append(
                    f"warning: the end of session {session_id} could not be recorded ({exc.reason}); "
                    "it shows as interrupted and resumes all the same"
                )
                summary.resume = (
                    f"{summary.stopped_by} — session {session_id} could not be marked paused; resume it later",
                    ("tag", "--resume", str(session_id)),
                )
                summary.message = f"{summary.resume[0]}: bdnex-core tag --resume {session_id}"
        notifications.run_finished(self.settings, summary, dry_run=self.options.dry_run)
        return summary

    def _close_session(self, session_id: int, summary: RunSummary) -> None:
        """Record how the session ended, release its claims, write its logs, tell the plugins."""
        db_status = {"blocked": "paused"}.get(summary.status, summary.status)
        if summary.status == "paused" and summary.resume is None:
            summary.resume = ("paused; resume with", ("tag", "--resume", str(session_id)))
        if summary.resume is not None and not summary.message:
            said, args = summary.resume
            summary.message = f"{said}: bdnex-core {' '.join(args)}"
        # closed first (before anything else that may fail on a database in trouble): the logs then
        # say how the session ended, and a log that cannot be written never leaves it `running`
        self._mark_session(session_id, db_status)
        summary.session_ended = True
        if not self.options.dry_run:
            self._write(lambda: self.db.sessions.release_claims(session_id))  # files in flight when a stop came
            # and those a killed run held on files every live run had passed: nobody would reach them
            self._write(lambda: self.db.sessions.release_expired_claims())
            try:
                summary.json_log, summary.csv_log = write_session_logs(self.settings, self.db, session_id, summary)
                text_log = write_text_log(summary.json_log, self.db.sessions.stats(session_id), summary)
            except OSError as exc:
                summary.warnings.append(
                    f"warning: session logs not written in {self.settings.pipeline.logs_dir}: "
                    f"{exc.strerror or exc} (the database has every result)"
                )
            else:
                self._write(
                    lambda: self.db.sessions.update(
                        session_id, json_log_path=summary.json_log, csv_log_path=summary.csv_log, log_file_path=text_log
                    )
                )
            if not summary.stopped_by_database:
                self._write(lambda: self.db.statistics.snapshot())
        plugins.notify(
            "session_finished", session_id=session_id, status=db_status, stats=self.db.sessions.stats(session_id)
        )

    def _mark_session(self, session_id: int, status: str) -> None:
        """The session's status, even on a disk that just filled up: there, the room SQLite's
        journal holds is given back first (the status is a few bytes)."""
        try:
            self._write(lambda: self.db.sessions.update(session_id, status=status))
        except DatabaseFull:
            self.db.backend.reclaim_space()
            self._write(lambda: self.db.sessions.update(session_id, status=status))

    def _end_session_anyway(self, session_id: int) -> None:
        """On an error that ends the run: the session marked paused if the database takes it, and
        the files in flight released (the error itself is what the user must see)."""
        with contextlib.suppress(Exception):
            self._mark_session(session_id, "paused")
        with contextlib.suppress(Exception):
            self.db.sessions.release_claims(session_id)

    def _write(self, operation: Callable[[], Any]) -> Any:
        """A write of the runner's own, made again when a lost connection cut it (each such write
        is idempotent: the same values set, the same rows claimed or released)."""
        return run_again_if_disconnected(lambda _again: operation())

    def _claim(self, session_id: int, key: str) -> dict[str, Any] | None:
        claim: dict[str, Any] | None = self._write(lambda: self.db.sessions.claim(session_id, key))
        return claim

    def _dispatch(
        self, session_id: int, items: Sequence[LibraryItem], summary: RunSummary, stop: StopRequested
    ) -> None:
        pending = iter(items)
        # files another live run is processing wait here, and are taken once it has recorded them
        # (then usually found processed and unchanged): two runs never write a file twice
        deferred: list[LibraryItem] = []
        stopped_by: list[BdnexError] = []  # the first error that stops the run

        def stop_for(error: BdnexError) -> None:
            if not stopped_by:
                stopped_by.append(error)
            stop.event.set()

        with ThreadPoolExecutor(max_workers=max(1, self.options.workers), thread_name_prefix="bdnex-worker") as pool:
            running: dict[Future[Outcome], LibraryItem] = {}

            def submit_next() -> None:
                nonlocal pending
                while len(running) < self.options.workers * 2 and not stop.event.is_set():
                    item = next(pending, None)
                    if item is None:
                        if running or not deferred or stop.event.wait(CLAIM_RETRY_SECONDS):
                            return
                        pending, deferred[:] = iter(list(deferred)), []
                        continue
                    if not self.options.dry_run:
                        try:
                            self.db.backend.check_room()  # stop while the results can still be recorded
                            other_claim = self._claim(session_id, item.key)
                        except DatabaseError as exc:
                            stop_for(exc)
                            return
                        if other_claim is not None:
                            deferred.append(item)
                            continue
                    running[pool.submit(self._process_in_worker, item)] = item

            try:
                submit_next()
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        try:
                            outcome = future.result()
                        except BdnexError as exc:
                            if not exc.stops_run:
                                raise
                            stop_for(exc)
                            continue
                        try:
                            self._finish(session_id, outcome, summary)
                        except DatabaseError as exc:  # not recorded: the file goes back as it was
                            self._give_back(outcome, summary)
                            stop_for(exc)
                    if not stopped_by:
                        submit_next()
            except BaseException:
                stop.event.set()
                self._settle(session_id, running, summary)
                raise
            if stopped_by:
                raise stopped_by[0]

    def _settle(self, session_id: int, running: dict[Future[Outcome], LibraryItem], summary: RunSummary) -> None:
        """The run ends on an error while files are in flight: each is recorded when it ends, or,
        if that fails too, given back as it was (never an archive tagged without its record)."""
        for future in list(running):
            try:
                outcome = future.result()
            except BaseException:  # its error is not the one the run reports
                continue
            try:
                self._finish(session_id, outcome, summary)
            except Exception:
                self._give_back(outcome, summary)

    def _give_back(self, outcome: Outcome, summary: RunSummary) -> None:
        """``outcome``'s writes could not be recorded: undo them (the file stays pending)."""
        left = take_back_writes(outcome, self.settings)
        logger.info("%s: its record could not be made; given back as it was", outcome.item.path or outcome.item.name)
        if left:
            summary.warnings.append(
                f"warning: {outcome.item.path or outcome.item.name}: tagged, but its record could not be made; {left}"
            )

    def _process_in_worker(self, item: LibraryItem) -> Outcome:
        return self.processor.process(item)

    def _finish(self, session_id: int, outcome: Outcome, summary: RunSummary) -> None:
        """The single writer: every result is recorded here, in the calling thread."""
        if outcome.state == OutcomeState.REVIEW:
            outcome = self._decide_review(outcome)
        if not self.options.dry_run:
            self._record(session_id, outcome)
            self.backups.maybe()
        # the database has it now: the summary keeps a few hundred bytes of it, so that a run of 100,000
        # files does not hold every album, candidate list and ComicInfo it saw (a dry run shows them all)
        summary.outcomes.append(outcome if self.options.dry_run else outcome.recorded())
        if outcome.state == OutcomeState.DONE and outcome.album is not None and not self.options.dry_run:
            plugins.notify(
                "file_tagged",
                item=outcome.item,
                album=outcome.album.to_dict(),
                decision=Decision.MANUAL if outcome.history_source == HistorySource.MANUAL else Decision.ACCEPT,
                session_id=session_id,
            )
        if self.progress is not None:
            self.progress.advance(outcome, pace=self._pace_notice())

    def _pace_notice(self) -> str | None:
        """The client's word on the pace the site taught us (None: the configured one holds)."""
        notice = getattr(self.client, "pace_notice", None)
        return notice() if callable(notice) else None

    def _decide_review(self, outcome: Outcome) -> Outcome:
        """Ask a person (interactive, not strict) or queue the file for `bdnex-core review`."""
        if self.options.interactive and not self.options.strict and self.reviewer is not None:
            if self.progress is not None:
                self.progress.pause()
            try:
                album_id = self.reviewer(outcome)
            finally:
                if self.progress is not None:
                    self.progress.resume()
            if album_id is not None:
                decided = self.processor.apply_album(
                    outcome.item,
                    album_id,
                    decision=Decision.MANUAL,
                    confidence=None,
                    history_source=HistorySource.MANUAL,
                )
                decided.parsed, decided.candidates = outcome.parsed, outcome.candidates
                return decided
            # not now: the file waits in the review queue (a person's "skip" is never final here)
            outcome.state, outcome.reason = OutcomeState.WAITING, "left for review by the user"
            return outcome
        outcome.state = OutcomeState.WAITING
        return outcome

    def apply_choice(self, session_id: int | None, item: LibraryItem, album_id: int) -> Outcome:
        """A person chose ``album_id`` for ``item`` (the review queue): write and record it as manual."""
        outcome = self.processor.apply_album(
            item, album_id, decision=Decision.MANUAL, confidence=None, history_source=HistorySource.MANUAL
        )
        if not self.options.dry_run:
            if session_id is not None:
                self._record(session_id, outcome)
            else:
                with self.db.write():
                    _end_journal_entries(self.db, outcome)
                    file_id = self.db.files.record_processing(
                        _recorded_path(outcome),
                        None,
                        _result_values(outcome, file_status_for(outcome.state, manual=True)),
                        source=HistorySource.MANUAL,
                    )
                    if outcome.previous_comicinfo is not None or outcome.previous_layout is not None:
                        _keep_previous_comicinfo(self.db, outcome, file_id, None)
            if outcome.state == OutcomeState.DONE and outcome.album is not None:
                plugins.notify(
                    "file_tagged",
                    item=item,
                    album=outcome.album.to_dict(),
                    decision=Decision.MANUAL,
                    session_id=session_id,
                )
        return outcome

    def _record(self, session_id: int, outcome: Outcome) -> None:
        def record(again: bool) -> None:
            with self.db.write():  # the file, its history, the review entry and the session counters: all or nothing
                if again and self.db.sessions.file_state(session_id, outcome.item.key) != SessionFileState.PENDING:
                    return  # the lost connection had committed it: once is enough
                self._record_in_transaction(session_id, outcome)
                self.db.sessions.release_claims(session_id, [outcome.item.key])
                self.db.sessions.refresh_claims(session_id)

        run_again_if_disconnected(record)

    def _record_in_transaction(self, session_id: int, outcome: Outcome) -> None:
        _end_journal_entries(self.db, outcome)
        item = outcome.item
        if outcome.moved_from and item.path is not None:
            self.db.files.record_move(outcome.moved_from, item.path, outcome.fingerprint)
        file_id = None
        if outcome.leave_record:
            row = self.db.files.get(item.path) if item.path else None
            file_id = row["id"] if row else None
        elif item.path is not None or outcome.state != OutcomeState.SKIPPED:
            status = file_status_for(outcome.state, manual=outcome.history_source == HistorySource.MANUAL)
            file_id = self.db.files.record_processing(
                _recorded_path(outcome), session_id, _result_values(outcome, status), source=outcome.history_source
            )
        if (outcome.previous_comicinfo is not None or outcome.previous_layout is not None) and file_id is not None:
            _keep_previous_comicinfo(self.db, outcome, file_id, session_id)
        if outcome.state == OutcomeState.WAITING:
            self.db.reviews.queue(
                str(item.path or item.name),
                item.key,
                session_id,
                outcome.parsed,
                outcome.candidates,
                item=item.to_record(),
            )
        self.db.sessions.mark_file(
            session_id,
            item.key,
            session_state_for(outcome.state),
            file_id=file_id,
            error=outcome.reason if outcome.state in (OutcomeState.FAILED, OutcomeState.WAITING) else None,
        )

    def _clean_leftovers(self, items: Iterable[LibraryItem]) -> None:
        """Temporary files of a writer killed earlier are removed before anything else."""
        folders = {item.path.parent for item in items if item.path is not None}
        for folder in folders:
            try:
                for leftover in archives.cleanup_stale_temp_files(folder):
                    logger.info("removed %s, left by an interrupted write", leftover)
            except OSError as exc:
                logger.warning("cannot clean %s: %s", folder, exc)


def _rolling_backups(settings: Settings, db: BDneXDB, options: TagOptions) -> RollingBackups:
    """Backups of an SQLite database while it is tagged (none for a dry run, none on PostgreSQL)."""
    if options.dry_run or db.path is None or not isinstance(db.backend, SQLiteBackend):
        return RollingBackups(None, settings)
    return RollingBackups(db.backend, db_safety.settings_for(db.path, settings))


def unchanged_paths(db: BDneXDB, paths: list[str], roots: Iterable[str] = ()) -> set[str]:
    """Those of ``paths`` processed before and unchanged since (see :meth:`FileStore.unchanged_paths`)."""
    return db.files.unchanged_paths(paths, roots)


def _end_journal_entries(db: BDneXDB, outcome: Outcome) -> None:
    """Delete the journal entries of the outcome's in-place writes, in the transaction recording it.
    One missing was taken back by another process (its writer seemed dead): the file is its
    original again, and is recorded as failed, not as written."""
    if not outcome.journal_ids:
        return
    if db.archive_journal.end(outcome.journal_ids) == len(outcome.journal_ids):
        return
    outcome.state = OutcomeState.FAILED
    outcome.reason = "its write was taken back by another bdnex-core process meanwhile; tag it again"
    outcome.writes, outcome.previous_layout, outcome.metadata_hash = [], None, None
    outcome.fingerprint, outcome.file_hash = None, None


def _recorded_path(outcome: Outcome) -> str:
    for write in outcome.writes:
        if write.new_path is not None:
            return str(write.new_path)
    return str(outcome.item.path) if outcome.item.path else f"{outcome.item.source}:{outcome.item.external_id}"


def _keep_previous_comicinfo(db: BDneXDB, outcome: Outcome, file_id: int, session_id: int | None) -> None:
    """The ComicInfo the file held, byte for byte: replaced by our write, or unreadable and left alone."""
    replaced = outcome.state == OutcomeState.DONE and any(
        write.writer == "comicinfo" and write.written for write in outcome.writes
    )
    reason = "replaced" if replaced else "unreadable"
    if outcome.previous_comicinfo is None:
        reason = "absent"
    if replaced or (outcome.state == OutcomeState.WAITING and outcome.previous_comicinfo is not None):
        db.backups.record(
            _recorded_path(outcome),
            outcome.previous_comicinfo or b"",
            file_id=file_id,
            session_id=session_id,
            reason=reason,
            layout=outcome.previous_layout if replaced else None,
        )


def _result_values(outcome: Outcome, status: FileStatus) -> dict[str, Any]:
    album = outcome.album
    values: dict[str, Any] = {
        "status": status,
        "confidence_score": outcome.confidence,
        "decision": outcome.decision,
        "error": outcome.reason if status in (FileStatus.FAILED, FileStatus.SKIPPED, FileStatus.WAITING) else None,
        "processing_time_ms": outcome.elapsed_ms,
        "source": outcome.item.source,
        "external_id": outcome.item.external_id,
        "has_metadata": status in DONE_STATUSES,
    }
    if outcome.fingerprint is not None:
        values["file_size"], values["mtime_ns"] = outcome.fingerprint.size, outcome.fingerprint.mtime_ns
    if outcome.file_hash:
        values["file_hash"] = outcome.file_hash
    if outcome.metadata_hash:
        values["metadata_hash"] = outcome.metadata_hash
    if album is not None and status in DONE_STATUSES:
        values.update(
            bdgest_id=album.album_id,
            bdgest_url=album.url,
            title=album.title,
            series=album.series,
            tome=album.tome,
            publisher=album.publisher,
            year=album.year,
            isbn=album.isbn,
            pages=outcome.page_count,
        )
    return values


def _default_client(settings: Settings, db: BDneXDB) -> BedethequeClient:
    return BedethequeClient(settings, database=db)  # politeness shared with every run on this database


def _default_matcher(settings: Settings, db: BDneXDB) -> NameMatcher:
    return LazyMatcher(settings, db)


def run_tagging(
    settings: Settings,
    db: BDneXDB,
    items: list[LibraryItem],
    options: TagOptions,
    *,
    client: BedethequeClient | None = None,
    matcher: NameMatcher | None = None,
    reviewer: Reviewer | None = None,
    progress: RunProgress | None = None,
) -> RunSummary:
    """Tag ``items`` in a new session (the entry point adapters call)."""
    return TagRun(settings, db, options, client=client, matcher=matcher, reviewer=reviewer, progress=progress).start(
        items
    )


def collect_items(settings: Settings, source: str, locations: Iterable[str]) -> list[LibraryItem]:
    """Items of a library source (``folder``, ``komga``, ``calibre``...), de-duplicated by key."""
    sources = plugins.library_sources(settings)
    if source not in sources:
        raise BdnexError(f"unknown library source {source!r} (available: {', '.join(sorted(sources))})")
    seen: dict[str, LibraryItem] = {}
    for item in sources[source].iter_items(settings, list(locations)):
        seen.setdefault(item.key, item)
    return list(seen.values())


def tag_locations(
    settings: Settings,
    db: BDneXDB,
    options: TagOptions,
    *,
    client: BedethequeClient | None = None,
    matcher: NameMatcher | None = None,
    reviewer: Reviewer | None = None,
    progress: RunProgress | None = None,
) -> RunSummary:
    """Tag what ``options.locations`` of ``options.source`` hold (the ``bdnex-core tag`` command).

    A source that offers ``scan_new`` lists its new items itself: the folder source recognises the
    files unchanged since they were processed from its listing, before any item is built, so that
    re-scanning a large library costs about a listing.
    """
    items: Sequence[LibraryItem]
    unchanged: int | None
    # a source that can tell the new items itself (the folder source, from its listing) does
    scan_new = getattr(plugins.library_sources(settings).get(options.source), "scan_new", None)
    if scan_new is not None:
        scan = scan_new(settings, db, options.locations, takes=options.takes, force=options.force)
        items, unchanged, found = scan.items, scan.unchanged, scan.found
    else:
        items = [
            item for item in collect_items(settings, options.source, options.locations) if options.takes(item.name)
        ]
        unchanged, found = None, len(items)  # TagRun.start finds the unchanged ones
    if not found:
        matching = f" matching {' or '.join(options.patterns)}" if options.patterns else ""
        raise BdnexError(f"no comic files (cbz, cbr, cb7){matching} found in {', '.join(options.locations)}")
    run = TagRun(settings, db, options, client=client, matcher=matcher, reviewer=reviewer, progress=progress)
    return run.start(items, unchanged=unchanged)


def resume_tagging(
    settings: Settings,
    db: BDneXDB,
    session_id: int,
    *,
    overrides: dict[str, Any] | None = None,
    client: BedethequeClient | None = None,
    matcher: NameMatcher | None = None,
    reviewer: Reviewer | None = None,
    progress: RunProgress | None = None,
) -> RunSummary:
    """Resume a session: exactly its files not done yet, with the options it was started with."""
    session = db.sessions.get(session_id)
    if session is None:
        raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
    stored = dict(session["options"])
    stored.update({key: value for key, value in (overrides or {}).items() if value is not None})
    options = TagOptions.from_dict(stored)
    pending_keys = {row["item_key"] for row in db.sessions.files(session_id, SessionFileState.PENDING)}
    if options.source == "folder":
        items_by_key = {
            row["item_key"]: LibraryItem.from_record(json.loads(row["item"]))
            if row.get("item")
            else LibraryItem(
                source="folder",
                name=Path(row["file_path"]).name,
                path=Path(row["file_path"]),
                hints={"parent": Path(row["file_path"]).parent.name},
            )
            for row in db.sessions.files(session_id, SessionFileState.PENDING)
            if os.path.exists(row["file_path"])
        }
    else:
        items_by_key = {
            item.key: item
            for item in collect_items(settings, options.source, options.locations)
            if item.key in pending_keys
        }
    run = TagRun(settings, db, options, client=client, matcher=matcher, reviewer=reviewer, progress=progress)
    return run.resume(session_id, items_by_key)
