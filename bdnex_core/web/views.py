"""What each page shows, read from the database (called under the pages connection's lock).

Only data here, no HTTP: the routes in :mod:`bdnex_core.web.app` turn it into pages. The review
part goes through :class:`bdnex_core.app.review.ReviewService`, as the terminal does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bdnex_core.app.query import TAGGED, missing_tomes
from bdnex_core.app.reports import LABELS, file_report
from bdnex_core.app.review import SKIPPED, WAITING, AlbumCard, ReviewEntry, ReviewError
from bdnex_core.app.undo import restore_version
from bdnex_core.errors import BdnexError
from bdnex_core.states import Decision
from bdnex_core.store.library import SESSION_SORTS

if TYPE_CHECKING:
    from bdnex_core.web.state import WebState

SESSION_FILE_STATES = ("pending", "done", "failed", "skipped", "waiting")
SESSION_PAGE_ROWS = 100  # rows of a session page: thousands of files stay one quick page at a time
QUEUE_SHOWN = 200  # entries listed in the review's queue column (the count says how many wait)


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
    """The queue, the file under review and its candidates (the best marked); a search's results come
    first, scored against the file; a tome absent from its series is said in one line."""
    service = state.service
    status = SKIPPED if status == SKIPPED else WAITING
    entries = service.entries(status)
    current = None
    if entry_id is not None:
        current = service.entry(entry_id)
    elif entries:
        current = entries[0]
    shown = entries[:QUEUE_SHOWN]
    if current is not None and current not in shown and current.status == status:
        shown.append(current)
    page: dict[str, Any] = {
        "entries": shown,
        "entry_count": len(entries),
        "status": status,
        "current": current,
        "query": query,
        "cards": [],
        "found": [],
        "absent": None,
        "can_undo": bool(service.decisions),
        "waiting_count": len(entries) if status == WAITING else len(service.entries(WAITING)),
        "skipped_count": len(entries) if status == SKIPPED else len(service.entries(SKIPPED)),
        "accept_threshold": state.settings.matching.accept_threshold,
    }
    if current is None:
        return page
    page["file_id"] = _file_id(state, current.file_path)
    ids = [entry.id for entry in entries]
    if current.id in ids:
        at = ids.index(current.id)
        page["previous_id"] = ids[at - 1] if at > 0 else None
        page["next_id"] = ids[at + 1] if at + 1 < len(ids) else None
    listed = current.candidates[:5]
    page["absent"] = service.absent_tome(current.parsed, listed)
    page["cards"] = candidate_cards(state, current, listed)
    if query.strip():
        item = current.item()
        found = service.search(
            query, exclude={int(c["album_id"]) for c in listed}, file_name=item.name, parent=item.hints.get("parent")
        )
        page["found"] = candidate_cards(state, current, found)
    return page


def _file_id(state: WebState, path: str) -> int | None:
    row = state.pages.db.files.get(path)
    return int(row["id"]) if row else None


def preview_page(state: WebState, entry_id: int, album_id: int) -> dict[str, Any]:
    """The confirmation every write from the review goes through: the album, what would change in the
    file, and in words where the album disagrees with the file's name."""
    entry = state.service.entry(entry_id)
    card = state.service.preview(entry, album_id)
    listed = next((c for c in entry.candidates if int(c["album_id"]) == album_id), None)
    card.add_score(listed)
    return {"entry": entry, "card": card, "accept_threshold": state.settings.matching.accept_threshold}


def accept(state: WebState, entry_id: int, album_id: int, confirmed: bool) -> str:
    """Tag the entry's file once a person confirmed it on the confirmation page (a candidate's number,
    a search result, an id: one rule for every write). Returns where to go next."""
    entry = state.service.entry(entry_id)
    if entry.status not in (WAITING, SKIPPED):
        raise ReviewError(f"review entry {entry_id} is already {entry.status}")
    if not confirmed:
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
    return {"sessions": state.pages.db.sessions.recent(limit=200)}


def session_progress(state: WebState, session_id: int) -> dict[str, Any]:
    stats = state.pages.db.sessions.stats(session_id)
    if not stats:
        raise BdnexError(f"no session {session_id}")
    keys = ("id", "display_status", "total_files", "files_processed", "files_successful", "files_failed")
    progress = {key: stats.get(key) for key in keys}
    progress.update(
        files_skipped=stats.get("files_skipped"), files_waiting=stats.get("files_waiting"), remaining=stats["remaining"]
    )
    return progress


@dataclass(frozen=True)
class SessionView:
    """What a session page shows: its filters, its order and its page (all from the URL)."""

    state: str = ""
    decision: str = ""
    text: str = ""
    sort: str = "position"
    descending: bool = False
    page: int = 1

    def link(self, **changes: Any) -> str:
        """The query string of this view with ``changes`` (a new filter or order starts at page 1)."""
        view = replace(self, **({"page": 1} | changes if "page" not in changes else changes))
        wanted = {
            "state": view.state,
            "decision": view.decision,
            "q": view.text,
            "sort": ("-" if view.descending else "") + view.sort if view.sort != "position" or view.descending else "",
            "page": str(view.page) if view.page > 1 else "",
        }
        return "?" + urlencode({key: value for key, value in wanted.items() if value})


def session_view(state: str, decision: str, text: str, sort: str, page: str) -> SessionView:
    """The view a URL asks for; what is not understood falls back to the default."""

    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    return SessionView(
        state=state if state in SESSION_FILE_STATES else "",
        decision=decision[:40],
        text=text.strip()[:200],
        sort=sort if sort in SESSION_SORTS else "position",
        descending=descending and sort in SESSION_SORTS,
        page=max(1, int(page)) if page.isdigit() and len(page) < 9 else 1,
    )


def session_page(state: WebState, session_id: int, view: SessionView) -> dict[str, Any]:
    stats = state.pages.db.sessions.stats(session_id)
    if not stats:
        raise BdnexError(f"no session {session_id}")
    library = state.pages.db.library
    rows, total = library.session_page(
        session_id,
        state=view.state,
        decision=view.decision,
        text=view.text,
        sort=view.sort,
        descending=view.descending,
        offset=(view.page - 1) * SESSION_PAGE_ROWS,
        limit=SESSION_PAGE_ROWS,
    )
    pages = max(1, -(-total // SESSION_PAGE_ROWS))
    return {
        "session": stats,
        "files": rows,
        "view": view,
        "total": total,
        "pages": pages,
        "first_row": (view.page - 1) * SESSION_PAGE_ROWS + 1 if rows else 0,
        "last_row": (view.page - 1) * SESSION_PAGE_ROWS + len(rows),
        "states": SESSION_FILE_STATES,
        "decisions": [str(decision) for decision in Decision],  # known without reading every record
    }


# ---------------------------------------------------------------------- library


def library_page(state: WebState) -> dict[str, Any]:

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
    row = file_row(state, file_id)
    report = file_report(state.pages.db, row["file_path"])
    report["backups"] = state.pages.db.backups.summaries_of_path(row["file_path"])
    return {"file_id": file_id, "report": report, "labels": LABELS}


def restore(state: WebState, file_id: int, backup_id: int) -> str:
    """Put back an earlier ComicInfo.xml of the file; the one it replaces is kept as a backup first."""
    path = file_row(state, file_id)["file_path"]
    restore_version(state.settings, state.pages.db, file_id, path, backup_id)
    state.flash.append(f"restored ComicInfo.xml version {backup_id} of {os.path.basename(path)}")
    return f"/file/{file_id}"
