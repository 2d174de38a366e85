"""What each page shows, read from the database (called under the pages connection's lock).

Only data here, no HTTP: the routes in :mod:`bdnex_core.web.app` turn it into pages. The review
part goes through :class:`bdnex_core.pipeline.review_service.ReviewService`, as the terminal does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import BdnexError
from bdnex_core.pipeline.review_service import PENDING, SKIPPED, AlbumCard, ReviewEntry, ReviewError

if TYPE_CHECKING:
    from bdnex_core.web.state import WebState

SESSION_FILE_STATES = ("pending", "done", "failed", "skipped", "queued")


# ---------------------------------------------------------------------- review


def candidate_cards(state: WebState, entry: ReviewEntry, candidates: list[dict[str, Any]]) -> list[AlbumCard]:
    """Each candidate's card with its score and the field diff against the file (kept per file state)."""
    try:
        stat = os.stat(entry.file_path)
        file_state: tuple[Any, ...] = (entry.file_path, stat.st_size, stat.st_mtime_ns)
    except OSError:
        file_state = (entry.file_path, None, None)
    if len(state.previews) > 5000:  # a long session: start afresh rather than grow without end
        state.previews.clear()
    cards = []
    for candidate in candidates:
        album_id = int(candidate["album_id"])
        key = (entry.id, album_id, *file_state)
        card = state.previews.get(key)
        if card is None:
            try:
                card = state.service.preview(entry, album_id)
                card.add_score(candidate)
            except BdnexError as exc:
                card = state.service.card(album_id, candidate)
                card.problem = card.problem or str(exc)
            state.previews[key] = card
        cards.append(card)
    return cards


def review_page(state: WebState, entry_id: int | None, query: str, status: str) -> dict[str, Any]:
    service = state.service
    status = SKIPPED if status == SKIPPED else PENDING
    entries = service.entries(status)
    current = None
    if entry_id is not None:
        current = service.entry(entry_id)
    elif entries:
        current = entries[0]
    page: dict[str, Any] = {
        "entries": entries,
        "status": status,
        "current": current,
        "query": query,
        "cards": [],
        "found": [],
        "can_undo": bool(service.decisions),
        "pending_count": len(entries) if status == PENDING else len(service.entries(PENDING)),
    }
    if current is None:
        return page
    page["file_id"] = _file_id(state, current.file_path)
    page["cards"] = candidate_cards(state, current, current.candidates[:5])
    if query.strip():
        shown = {int(c["album_id"]) for c in current.candidates}
        page["found"] = [
            state.service.card(int(found["album_id"]), found) for found in service.search(query, exclude=shown)
        ]
    return page


def _file_id(state: WebState, path: str) -> int | None:
    row = state.pages.db.get_file(path)
    return int(row["id"]) if row else None


def preview_page(state: WebState, entry_id: int, album_id: int) -> dict[str, Any]:
    entry = state.service.entry(entry_id)
    card = state.service.preview(entry, album_id)
    listed = next((c for c in entry.candidates if int(c["album_id"]) == album_id), None)
    card.add_score(listed)
    return {"entry": entry, "card": card}


def accept(state: WebState, entry_id: int, album_id: int, confirmed: bool) -> str:
    """Tag the entry's file; an album that is not one of its candidates must be confirmed first.
    Returns where to go next."""
    entry = state.service.entry(entry_id)
    if entry.status not in (PENDING, SKIPPED):
        raise ReviewError(f"review entry {entry_id} is already {entry.status}")
    listed = {int(c["album_id"]) for c in entry.candidates[:5]}
    # the editions listed under a candidate's card were shown too
    listed |= {
        edition for card in candidate_cards(state, entry, entry.candidates[:5]) for edition in card.edition_ids()
    }
    if album_id not in listed and not confirmed:
        return f"/review/{entry_id}/preview?album={album_id}"
    applied = state.service.accept(entry, album_id)
    state.flash.append(f"tagged {os.path.basename(applied.file_path)} as album {applied.album_id}")
    return "/review"


def skip(state: WebState, entry_id: int) -> str:
    entry = state.service.entry(entry_id)
    state.service.skip(entry)
    state.flash.append(f"skipped {entry.name} (listed under “skipped”)")
    return "/review"


def undo(state: WebState) -> str:
    applied = state.service.undo()
    state.flash.append(f"undone: {applied.entry.name} is back to how it was (album {applied.album_id} taken back)")
    return f"/review/{applied.entry.id}"


# ---------------------------------------------------------------------- sessions


def sessions_page(state: WebState) -> dict[str, Any]:
    return {"sessions": state.pages.db.list_sessions(limit=200)}


def session_progress(state: WebState, session_id: int) -> dict[str, Any]:
    stats = state.pages.db.get_session_stats(session_id)
    if not stats:
        raise BdnexError(f"no session {session_id}")
    keys = ("id", "display_status", "total_files", "files_processed", "files_successful", "files_failed")
    progress = {key: stats.get(key) for key in keys}
    progress.update(
        files_skipped=stats.get("files_skipped"), files_queued=stats.get("files_queued"), remaining=stats["remaining"]
    )
    return progress


def session_page(state: WebState, session_id: int, file_state: str, decision: str) -> dict[str, Any]:
    stats = state.pages.db.get_session_stats(session_id)
    if not stats:
        raise BdnexError(f"no session {session_id}")
    library = state.pages.db.library
    return {
        "session": stats,
        "files": library.session_files(session_id, state=file_state, decision=decision),
        "file_state": file_state,
        "decision": decision,
        "states": SESSION_FILE_STATES,
        "decisions": library.session_decisions(session_id),
    }


# ---------------------------------------------------------------------- library


def library_page(state: WebState) -> dict[str, Any]:
    from bdnex_core.query import TAGGED, missing_tomes

    library = state.pages.db.library
    albums = [str(status) for status in TAGGED]  # albums: the files we tagged
    return {
        "charts": [
            ("Albums per publisher", library.counts_by("editor", by_count=True, limit=20, statuses=albums)),
            ("Albums per year", library.counts_by("year", by_count=False, limit=60, statuses=albums)),
            ("Files per status", library.counts_by("status", by_count=True, limit=20)),
        ],
        "series": missing_tomes(state.pages.db),
        "total": library.file_count(),
    }


# ---------------------------------------------------------------------- one file


def file_row(state: WebState, file_id: int) -> dict[str, Any]:
    row = state.pages.db.files.get_by_id(file_id)
    if row is None:
        raise BdnexError(f"no file {file_id} in the database")
    return row


def file_page(state: WebState, file_id: int) -> dict[str, Any]:
    from bdnex_core.cli.context import AppContext
    from bdnex_core.cli.show import file_report

    row = file_row(state, file_id)
    report = file_report(AppContext(_settings=state.settings, _db=state.pages.db), row["file_path"])
    report["backups"] = state.pages.db.backups.summaries_of_path(row["file_path"])
    return {"file_id": file_id, "report": report}


def restore(state: WebState, file_id: int, backup_id: int) -> str:
    """Put back an earlier ComicInfo.xml of the file; the one it replaces is kept as a backup first."""
    from bdnex_core import archive
    from bdnex_core.states import HistorySource

    db = state.pages.db
    row = file_row(state, file_id)
    path = row["file_path"]
    found = db.backups.one_of_path(backup_id, path)
    if found is None:
        raise BdnexError(f"{path}: no earlier ComicInfo.xml version {backup_id} of this file")
    if archive.detect_kind(path) != "cbz":
        raise BdnexError(f"{path}: only a CBZ can have its ComicInfo.xml restored")
    wanted = None if found["reason"] == "absent" else bytes(found["comicinfo"])  # 'absent': the file had none
    with archive.open_archive(path) as comic:
        current = comic.comicinfo_bytes()
    with db.write():
        if current is None:
            db.backups.record(path, b"", file_id=file_id, session_id=None, reason="absent")
        else:
            db.backups.record(path, current, file_id=file_id, session_id=None)
        archive.write_comicinfo(path, wanted, preserve_mtime=state.settings.archives.preserve_mtime)
        db.files.add_history(
            file_id,
            "ComicInfo.xml",
            "(kept as a backup)" if current is not None else "(none)",
            f"restored version {backup_id}" + (" (no ComicInfo.xml)" if wanted is None else ""),
            str(HistorySource.MANUAL),
        )
    state.flash.append(f"restored ComicInfo.xml version {backup_id} of {os.path.basename(path)}")
    return f"/file/{file_id}"
