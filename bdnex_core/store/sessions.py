"""Processing sessions, the files each one takes, and the claims that share files between runs.

A session's counters are kept in step with its files (one ``UPDATE … + 1`` per outcome), so a
session of 100,000 files is never recounted. A file is claimed before it is processed: a claim of
another live run sends it back to wait; claims of a dead or silent run are taken over.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bdnex_core.errors import BdnexError
from bdnex_core.hashing import canonical_path
from bdnex_core.liveness import process_alive
from bdnex_core.states import SessionFileState, SessionStatus
from bdnex_core.store.backend import Backend
from bdnex_core.store.common import STALE_HEARTBEAT, from_db_time, member, to_db_time, to_json, utcnow

# Session columns update() may change; nothing else is ever put into SQL.
SESSION_UPDATABLE = frozenset(
    {
        "total_files",
        "files_processed",
        "files_successful",
        "files_failed",
        "files_skipped",
        "files_waiting",
        "status",
        "log_file_path",
        "json_log_path",
        "csv_log_path",
        "session_end",
        "heartbeat",
        "pid",
        "host",
        "options",
    }
)
# session_files.state -> the processing_sessions counter that counts it
STATE_COUNTER = {
    SessionFileState.PENDING: None,
    SessionFileState.DONE: "files_successful",
    SessionFileState.FAILED: "files_failed",
    SessionFileState.SKIPPED: "files_skipped",
    SessionFileState.WAITING: "files_waiting",
}
ENDED_STATUSES = frozenset({SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.PAUSED})
# sessions info: what each process (pid, host) did for a session
WORKER_COUNTS = (
    (
        "files_done",
        "SELECT worker_pid, worker_host, COUNT(*), MIN(updated_at), MAX(updated_at) FROM session_files "
        "WHERE session_id = ? AND worker_pid IS NOT NULL GROUP BY worker_pid, worker_host",
    ),
    (
        "in_flight",
        "SELECT pid, host, COUNT(*), MIN(claimed_at), MAX(heartbeat) FROM file_claims "
        "WHERE session_id = ? GROUP BY pid, host",
    ),
)


_FILE_BATCH = 5000


class SessionStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    # ------------------------------------------------------------------ sessions

    def start(
        self,
        directory: str,
        batch_mode: bool = True,
        strict_mode: bool = False,
        num_workers: int = 4,
        *,
        options: Mapping[str, Any] | None = None,
        source: str = "folder",
        pattern: str | None = None,
    ) -> int:
        now = to_db_time(utcnow())
        with self.backend.write() as backend:
            return backend.insert(
                "processing_sessions",
                {
                    "session_start": now,
                    "directory": directory,
                    "batch_mode": bool(batch_mode),
                    "strict_mode": bool(strict_mode),
                    "num_workers": num_workers,
                    "status": str(SessionStatus.RUNNING),
                    "options": json.dumps(dict(options or {}), ensure_ascii=False),
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "heartbeat": now,
                    "source": source,
                    **({"pattern": pattern} if pattern else {}),
                },
            )

    def update(self, session_id: int, **fields: Any) -> None:
        """Update whitelisted session fields. Unknown names are refused, never put into SQL."""
        unknown = set(fields) - SESSION_UPDATABLE
        if unknown:
            raise BdnexError(f"cannot update session field(s): {', '.join(sorted(unknown))}")
        values = dict(fields)
        if "status" in values:
            values["status"] = str(member(SessionStatus, values["status"], "session status"))
        if isinstance(values.get("options"), Mapping):
            values["options"] = json.dumps(values["options"], ensure_ascii=False)
        if values.get("status") in ENDED_STATUSES and "session_end" not in values:
            values["session_end"] = to_db_time(utcnow())
        if values.get("status") == SessionStatus.RUNNING:
            values.setdefault("session_end", None)
        if not values:
            return
        with self.backend.write() as backend:
            if not backend.value("SELECT COUNT(*) FROM processing_sessions WHERE id = ?", [session_id]):
                raise BdnexError(f"no session {session_id}")
            backend.update("processing_sessions", {"id": session_id}, values)

    def add_files(
        self,
        session_id: int,
        files: Iterable[str | os.PathLike[str] | tuple[Any, ...]],
        *,
        unchanged: int = 0,
    ) -> int:
        """Register the files a session will process, in order: paths, or tuples (path, item key,
        first state, the item's record as :meth:`LibraryItem.to_record` gives it). ``unchanged`` files
        (processed before, not modified since) are only counted: a re-scan of a large library must not
        write a row per file. Returns how many files are new."""
        with self.backend.write() as backend:
            if unchanged:
                backend.execute(
                    "UPDATE processing_sessions SET files_unchanged = COALESCE(files_unchanged, 0) + ? WHERE id = ?",
                    [unchanged, session_id],
                )
            start = backend.value(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM session_files WHERE session_id = ?", [session_id]
            )
            now = to_db_time(utcnow())
            insert = (
                "INSERT INTO session_files (session_id, position, file_path, item_key, state, updated_at, item) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
            )
            added = 0
            rows: list[tuple[Any, ...]] = []
            for offset, entry in enumerate(files):  # in batches: a list of 100,000 files is never held at once
                if isinstance(entry, tuple):
                    file_path, item_key, state, record = (*entry, SessionFileState.PENDING, None, None)[:4]
                else:
                    file_path, item_key, state, record = canonical_path(entry), None, SessionFileState.PENDING, None
                item = None if record is None else to_json(record)
                rows.append(
                    (session_id, start + offset, str(file_path), item_key or str(file_path), str(state), now, item)
                )
                if len(rows) >= _FILE_BATCH:
                    added += backend.executemany(insert, rows)
                    rows = []
            if rows:
                added += backend.executemany(insert, rows)
            self.refresh_counters(session_id)
        return added

    def mark_file(
        self,
        session_id: int,
        item_key: str,
        state: str,
        *,
        file_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome of one file of a session and keep the counters in step (O(1))."""
        state = member(SessionFileState, state, "session file state")
        with self.backend.write() as backend:
            previous = backend.value(
                "SELECT state FROM session_files WHERE session_id = ? AND item_key = ?", [session_id, item_key]
            )
            if previous is None:
                return
            # who recorded it: the workers of a session (`sessions info`) outlive their released claims
            worker = (None, None) if state == SessionFileState.PENDING else (os.getpid(), socket.gethostname())
            backend.execute(
                "UPDATE session_files SET state = ?, file_id = COALESCE(?, file_id), error_msg = ?, updated_at = ?, "
                "worker_pid = ?, worker_host = ? WHERE session_id = ? AND item_key = ?",
                [str(state), file_id, error, to_db_time(utcnow()), *worker, session_id, item_key],
            )
            old = SessionFileState(previous)
            if old != state:
                changes = [
                    f"{column} = {column} {sign} 1"
                    for column, sign in ((STATE_COUNTER[old], "-"), (STATE_COUNTER[state], "+"))
                    if column
                ]
                if old == SessionFileState.PENDING:
                    changes.append("files_processed = files_processed + 1")
                elif state == SessionFileState.PENDING:
                    changes.append("files_processed = files_processed - 1")
                # column names come from STATE_COUNTER only, never from input
                backend.execute(
                    f"UPDATE processing_sessions SET {', '.join(changes)}, heartbeat = ? WHERE id = ?",
                    [to_db_time(utcnow()), session_id],
                )

    def refresh_counters(self, session_id: int) -> None:
        """Session counters are derived from its files, so they always match them."""
        backend = self.backend
        with backend.write():
            counts = dict(
                backend.tuples(
                    "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", [session_id]
                )
            )
            unchanged = backend.value(
                "SELECT COALESCE(files_unchanged, 0) FROM processing_sessions WHERE id = ?", [session_id]
            )
            total = sum(counts.values()) + (unchanged or 0)
            backend.update(
                "processing_sessions",
                {"id": session_id},
                {
                    "total_files": total,
                    "files_processed": total - counts.get(SessionFileState.PENDING, 0),
                    "files_successful": counts.get(SessionFileState.DONE, 0),
                    "files_failed": counts.get(SessionFileState.FAILED, 0),
                    "files_skipped": counts.get(SessionFileState.SKIPPED, 0) + (unchanged or 0),
                    "files_waiting": counts.get(SessionFileState.WAITING, 0),
                    "heartbeat": to_db_time(utcnow()),
                },
            )

    def file_state(self, session_id: int, item_key: str) -> str | None:
        """The state of one file of a session (``None``: not one of its files)."""
        state = self.backend.value(
            "SELECT state FROM session_files WHERE session_id = ? AND item_key = ?", [session_id, item_key]
        )
        return None if state is None else str(state)

    def files(self, session_id: int, state: str | None = None) -> list[dict[str, Any]]:
        if state is None:
            return self.backend.rows("SELECT * FROM session_files WHERE session_id = ? ORDER BY position", [session_id])
        return self.backend.rows(
            "SELECT * FROM session_files WHERE session_id = ? AND state = ? ORDER BY position", [session_id, str(state)]
        )

    def has_files(self, session_id: int) -> bool:
        return self.backend.value("SELECT 1 FROM session_files WHERE session_id = ? LIMIT 1", [session_id]) is not None

    def iter_files(self, session_id: int, *, batch: int = _FILE_BATCH) -> Iterator[dict[str, Any]]:
        """The files of a session in their order, read ``batch`` at a time (a session may hold 100,000)."""
        after = -1
        while True:
            rows = self.backend.rows(
                "SELECT * FROM session_files WHERE session_id = ? AND position > ? ORDER BY position LIMIT ?",
                [session_id, after, batch],
            )
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1]["position"]

    def file_results(self, session_id: int) -> list[dict[str, Any]]:
        """Each file of a session, in order, with the album its record got, its score and decision."""
        return self.backend.rows(
            "SELECT sf.file_path AS file, sf.state, sf.error_msg AS reason, pf.bdgest_id AS album_id, pf.series, "
            "pf.tome, pf.title, pf.confidence_score AS confidence, pf.decision FROM session_files sf "
            "LEFT JOIN processed_files pf ON pf.id = sf.file_id WHERE sf.session_id = ? ORDER BY sf.position",
            [session_id],
        )

    def count_files(self, session_id: int, state: str) -> int:
        return int(
            self.backend.value(
                "SELECT COUNT(*) FROM session_files WHERE session_id = ? AND state = ?", [session_id, str(state)]
            )
        )

    def get(self, session_id: int) -> dict[str, Any] | None:
        row = self.backend.row("SELECT * FROM processing_sessions WHERE id = ?", [session_id])
        return with_liveness(row) if row else None

    def stats(self, session_id: int) -> dict[str, Any]:
        """A session with its counters, duration and failures (``{}`` if unknown)."""
        session = self.get(session_id)
        if session is None:
            return {}
        start, end = from_db_time(session["session_start"]), from_db_time(session["session_end"])
        reference = end or (
            utcnow()
            if session["status"] == SessionStatus.RUNNING and not session["interrupted"]
            else from_db_time(session.get("heartbeat"))
        )
        session["duration_seconds"] = (reference - start).total_seconds() if start and reference else None
        session["remaining"] = self.count_files(session_id, SessionFileState.PENDING)
        session["failures"] = [
            {"file_path": row["file_path"], "error": row["error_msg"]}
            for row in self.files(session_id, SessionFileState.FAILED)
        ]
        session["display_status"] = "interrupted" if session["interrupted"] else session["status"]
        return session

    def recent(self, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        if status:
            rows = self.backend.rows(
                "SELECT * FROM processing_sessions WHERE status = ? ORDER BY id DESC LIMIT ?", [str(status), limit]
            )
        else:
            rows = self.backend.rows("SELECT * FROM processing_sessions ORDER BY id DESC LIMIT ?", [limit])
        sessions = [with_liveness(row) for row in rows]
        for session in sessions:
            session["display_status"] = "interrupted" if session["interrupted"] else session["status"]
        return sessions

    def interrupted(self) -> list[dict[str, Any]]:
        return [session for session in self.recent(limit=1000, status=SessionStatus.RUNNING) if session["interrupted"]]

    def heartbeat(self, session_id: int) -> None:
        with self.backend.write() as backend:
            backend.update("processing_sessions", {"id": session_id}, {"heartbeat": to_db_time(utcnow())})

    # ------------------------------------------------------------------ imported logs

    def imported(self, marker: str) -> bool:
        return bool(self.backend.value("SELECT COUNT(*) FROM processing_sessions WHERE imported_from = ?", [marker]))

    def close_imported(self, session_id: int, *, started: str, ended: str, marker: str, log_path: str) -> None:
        """An imported log's session: its own times, completed, remembered by the log's content."""
        with self.backend.write() as backend:
            backend.update(
                "processing_sessions",
                {"id": session_id},
                {
                    "session_start": started,
                    "session_end": ended,
                    "status": str(SessionStatus.COMPLETED),
                    "pid": None,
                    "imported_from": marker,
                    "json_log_path": log_path,
                },
            )

    # ------------------------------------------------------------------ file claims

    def claim(self, session_id: int, item_key: str) -> dict[str, Any] | None:
        """Claim ``item_key`` for ``session_id``; ``None`` when the claim is ours, else the live claim
        of another run (its row). Claims of dead or silent owners are taken over.

        A claim row another transaction is deciding on right now (PostgreSQL's ``SKIP LOCKED``) is
        somebody else's: the file waits, as for a live claim."""
        now = to_db_time(utcnow())
        mine = {
            "item_key": item_key,
            "session_id": session_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "claimed_at": now,
            "heartbeat": now,
        }
        with self.backend.write() as backend:
            columns = ", ".join(mine)
            inserted = backend.value(
                f"INSERT INTO file_claims ({columns}) VALUES ({', '.join('?' for _ in mine)}) "
                "ON CONFLICT (item_key) DO NOTHING RETURNING item_key",
                list(mine.values()),
            )
            if inserted is not None:
                return None
            claim = backend.row(f"SELECT * FROM file_claims WHERE item_key = ?{backend.skip_locked}", [item_key])
            if claim is None:
                return {**mine, "session_id": None, "pid": None, "host": None}
            if claim["session_id"] != session_id and not claim_expired(claim, utcnow()):
                return claim
            backend.update("file_claims", {"item_key": item_key}, {key: mine[key] for key in mine if key != "item_key"})
        return None

    def release_claims(self, session_id: int, item_keys: Iterable[str] | None = None) -> None:
        with self.backend.write() as backend:
            if item_keys is None:
                backend.execute("DELETE FROM file_claims WHERE session_id = ?", [session_id])
            else:
                backend.executemany(
                    "DELETE FROM file_claims WHERE session_id = ? AND item_key = ?",
                    [(session_id, key) for key in item_keys],
                )

    def release_expired_claims(self) -> int:
        """Delete the claims of dead or silent runs; how many. A run killed while it held a file that every
        live run had already passed leaves a claim nobody reaches to take over: the runs that end sweep it.
        Each row is deleted only as it was read (owner, heartbeat), so a claim taken over meanwhile stays."""
        now = utcnow()
        expired = [claim for claim in self.backend.rows("SELECT * FROM file_claims") if claim_expired(claim, now)]
        if not expired:
            return 0
        with self.backend.write() as backend:
            return sum(
                backend.execute(
                    "DELETE FROM file_claims WHERE item_key = ? AND session_id = ? AND COALESCE(pid, 0) = ? "
                    "AND COALESCE(host, '') = ? AND heartbeat = ?",
                    [
                        claim["item_key"],
                        claim["session_id"],
                        claim["pid"] or 0,
                        claim["host"] or "",
                        claim["heartbeat"],
                    ],
                )
                for claim in expired
            )

    def refresh_claims(self, session_id: int) -> None:
        with self.backend.write() as backend:
            backend.execute(
                "UPDATE file_claims SET heartbeat = ? WHERE session_id = ?", [to_db_time(utcnow()), session_id]
            )

    def worker_counts(self, session_id: int) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """Per counted kind (``files_done``, ``in_flight``): (pid, host, count, first, last) rows."""
        return [(counted, self.backend.tuples(sql, [session_id])) for counted, sql in WORKER_COUNTS]

    def workers(self, session_id: int) -> list[SessionWorker]:
        """The processes that claimed or recorded the session's files, first heard of first.

        A session is run by one process at a time, but over its life by several: a run killed mid-way
        and the one that resumed it, on this machine or another. Claims (``file_claims``) say who holds
        files now and are released as results are recorded; each session file keeps the process that
        recorded it (``worker_pid``, ``worker_host``). Together: per process, files done, files in
        flight, when it was last heard of, and whether it still runs."""
        found: dict[tuple[int, str], SessionWorker] = {}
        for counted, rows in self.worker_counts(session_id):
            for pid, host, count, first, last in rows:
                worker = found.setdefault((pid, host), SessionWorker(pid, host))
                setattr(worker, counted, count)
                worker.heard(first, last)
        session = self.get(session_id) or {}
        here = socket.gethostname()
        for worker in found.values():
            # the session row names its current owner: its pid, and its machine (none: this one, as before)
            owner = bool(session) and worker.pid == session["pid"] and worker.host == (session.get("host") or here)
            if owner:
                worker.heard(None, session["heartbeat"])
            heartbeat = from_db_time(worker.last_heartbeat)
            if worker.host == here:
                alive = process_alive(worker.pid)
            else:
                alive = heartbeat is not None and utcnow() - heartbeat <= STALE_HEARTBEAT
            worker.running = alive and (worker.in_flight > 0 or (owner and session["status"] == SessionStatus.RUNNING))
        return sorted(found.values(), key=lambda worker: (worker.first_seen or "", worker.pid))


@dataclass
class SessionWorker:
    """One process of a session: files it recorded, files it holds now, when it was first and last heard
    of (UTC, database format), and whether it is alive and still on this session."""

    pid: int
    host: str
    files_done: int = 0
    in_flight: int = 0
    first_seen: str | None = None
    last_heartbeat: str | None = None
    running: bool = False

    def heard(self, first: str | None, last: str | None) -> None:
        self.first_seen = min(filter(None, (self.first_seen, first)), default=None)
        self.last_heartbeat = max(filter(None, (self.last_heartbeat, last)), default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def with_liveness(row: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``interrupted``: a running session whose process died or went silent."""
    session = dict(row)
    session["options"] = json.loads(session["options"]) if session.get("options") else {}
    interrupted = False
    if session.get("status") == SessionStatus.RUNNING:
        heartbeat = from_db_time(session.get("heartbeat"))
        here = session.get("host") in (None, socket.gethostname())  # no host: made before hosts were kept
        same_host_dead = here and session.get("pid") and not process_alive(session["pid"])
        stale = heartbeat is None or utcnow() - heartbeat > STALE_HEARTBEAT
        interrupted = bool(same_host_dead or stale)
    session["interrupted"] = interrupted
    return session


def claim_expired(claim: Mapping[str, Any], now: datetime) -> bool:
    heartbeat = from_db_time(claim["heartbeat"])
    dead_here = claim["host"] == socket.gethostname() and not process_alive(claim["pid"])
    return dead_here or heartbeat is None or now - heartbeat > STALE_HEARTBEAT
