"""The bdnex-core database: processed files, album cache, sessions, history, statistics.

Built on sqlite-utils. Every multi-step write runs in one ``BEGIN IMMEDIATE``
transaction (see :meth:`BDneXDB.write`) so that several processes can share a
database: the busy timeout makes them wait for each other instead of failing.
Public names follow the seed design (``BDneXDB``, ``SessionManager``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database
from sqlite_utils.db import Table

from bdnex_core import migrations
from bdnex_core.errors import BdnexError, DatabaseError
from bdnex_core.hashing import Fingerprint, canonical_path, sha256_file
from bdnex_core.liveness import process_alive

if TYPE_CHECKING:
    from bdnex_core.config import Settings

FILE_STATUSES = ("success", "manual", "skipped", "failed")
SESSION_STATUSES = ("running", "paused", "completed", "failed")
SESSION_FILE_STATES = ("pending", "done", "failed", "skipped", "queued")
HISTORY_SOURCES = ("auto", "manual", "api")
# Fields whose changes are written to metadata_history.
TRACKED_FIELDS = ("bdgest_id", "bdgest_url", "title", "series", "volume", "tome", "editor", "year", "isbn", "pages")
# Session columns update_session may change; nothing else is ever put into SQL.
SESSION_UPDATABLE = frozenset(
    {
        "total_files",
        "files_processed",
        "files_successful",
        "files_failed",
        "files_skipped",
        "files_queued",
        "status",
        "log_file_path",
        "json_log_path",
        "csv_log_path",
        "session_end",
        "heartbeat",
        "pid",
        "options",
    }
)
# session_files.state -> the processing_sessions counter that counts it
STATE_COUNTER = {
    "pending": None,
    "done": "files_successful",
    "failed": "files_failed",
    "skipped": "files_skipped",
    "queued": "files_queued",
}
ENDED_STATUSES = frozenset({"completed", "failed", "paused"})
# A running session whose process has given no sign of life for this long is interrupted.
STALE_HEARTBEAT = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_db_time(moment: datetime) -> str:
    """SQLite's CURRENT_TIMESTAMP format (UTC), so stored times compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def from_db_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalise_score(score: Any) -> float | None:
    """Scores come as 0..1 (ours) or 0..100 (legacy logs); store 0..1."""
    if score is None or score == "":
        return None
    value = float(score)
    return round(value / 100.0, 4) if value > 1.0 else value


def _inserted_id(table: Table) -> int:
    """The id of the row ``table`` has just inserted (sqlite-utils types it as optional)."""
    if table.last_pk is None:
        raise DatabaseError("the database gave no id for a new row")
    return int(table.last_pk)


@dataclass(frozen=True)
class FileLookup:
    """What the database knows about a file on disk.

    ``state`` is ``new`` (never seen), ``unchanged`` (same size and mtime, or same
    hash), ``changed`` (same path, different content) or ``moved`` (same content
    known under another path that no longer exists).
    """

    state: str
    row: dict[str, Any] | None
    file_hash: str | None
    fingerprint: Fingerprint


class BDneXDB:
    """Main database interface (seed name kept)."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None):
        if db_path is None:
            if settings is not None:
                db_path = settings.database.path
            else:
                from bdnex_core.paths import default_database_path

                db_path = default_database_path()
        self.settings = settings
        self.memory = str(db_path) == ":memory:"
        self.path = Path(db_path) if not self.memory else None
        self.album_ttl = timedelta(days=settings.cache.album_ttl_days if settings else 7)
        busy_ms = settings.database.busy_timeout_ms if settings else 30000
        self.db = self._open(busy_ms)
        self.created = False
        self._prepare()

    # ------------------------------------------------------------------ opening

    def _open(self, busy_ms: int) -> Database:
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the database directory: {exc.strerror}", path=self.path.parent
                ) from None
            if not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise DatabaseError("the database directory is not writable", path=self.path.parent)
            if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
                raise DatabaseError("the database file is not readable and writable", path=self.path)
        try:
            conn = sqlite3.connect(
                ":memory:" if self.path is None else str(self.path),
                timeout=busy_ms / 1000.0,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot open the database ({exc}); is it a bdnex-core SQLite file?", path=self.path
            ) from None
        return Database(conn)

    def _prepare(self) -> None:
        try:
            self.created = not self.db.table("processed_files").exists()
            if migrations.migrations.pending(self.db):
                # one transaction: a second process opening a new database waits, then finds it done
                with self.write():
                    migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"the database is unusable ({exc})", path=self.path) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> BDneXDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction taken up front (``BEGIN IMMEDIATE``).

        Taking the write lock first means a concurrent writer waits on the busy
        timeout instead of failing with "database is locked" on lock upgrade.
        Nested calls become savepoints.
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def execute_script(self, script: str) -> None:
        """Run a multi-statement script inside the current transaction."""
        migrations.execute_script(self.db, script)

    def schema_version(self) -> list[str]:
        return [migration.name for migration in migrations.migrations.applied(self.db)]

    # ------------------------------------------------------------------ files

    def get_file_hash(self, file_path: str | os.PathLike[str]) -> str:
        """SHA-256 of a file (seed name)."""
        return sha256_file(file_path)

    def get_file(self, file_path: str | os.PathLike[str]) -> dict[str, Any] | None:
        rows = list(self.db.table("processed_files").rows_where("file_path = ?", [canonical_path(file_path)], limit=1))
        return rows[0] if rows else None

    def lookup_file(self, file_path: str | os.PathLike[str]) -> FileLookup:
        """Classify a file on disk against what is recorded, hashing only when needed."""
        path = canonical_path(file_path)
        fingerprint = Fingerprint.of(path)
        row = self.get_file(path)
        if row and row["file_size"] == fingerprint.size and row["mtime_ns"] == fingerprint.mtime_ns:
            return FileLookup("unchanged", row, row["file_hash"], fingerprint)
        file_hash = sha256_file(path)
        if row:
            state = "unchanged" if row["file_hash"] == file_hash else "changed"
            return FileLookup(state, row, file_hash, fingerprint)
        for candidate in self.db.table("processed_files").rows_where("file_hash = ?", [file_hash]):
            if not os.path.exists(candidate["file_path"]):
                return FileLookup("moved", candidate, file_hash, fingerprint)
        return FileLookup("new", None, file_hash, fingerprint)

    def is_processed(self, file_path: str | os.PathLike[str], force_check: bool = False) -> bool:
        """True when the file was processed successfully and has not changed since.

        A file moved or renamed (same content) counts as processed: its record
        follows it (see :meth:`record_move`). ``force_check`` re-hashes even when
        size and mtime match.
        """
        path = canonical_path(file_path)
        if not os.path.exists(path):
            row = self.get_file(path)
            return bool(row and row["status"] in ("success", "manual"))
        lookup = self.lookup_file(path)
        if force_check and lookup.row and lookup.state == "unchanged" and sha256_file(path) != lookup.row["file_hash"]:
            return False
        if lookup.state == "moved" and lookup.row:
            self.record_move(lookup.row["file_path"], path, lookup.fingerprint)
        elif lookup.state == "unchanged" and lookup.row and lookup.row["mtime_ns"] != lookup.fingerprint.mtime_ns:
            with self.write():
                self.db.table("processed_files").update(
                    lookup.row["id"], {"mtime_ns": lookup.fingerprint.mtime_ns, "file_size": lookup.fingerprint.size}
                )
        return bool(
            lookup.row and lookup.state in ("unchanged", "moved") and lookup.row["status"] in ("success", "manual")
        )

    def record_move(
        self, old_path: str, new_path: str | os.PathLike[str], fingerprint: Fingerprint | None = None
    ) -> None:
        """The file at ``old_path`` now lives at ``new_path``: its row and history follow it."""
        new = canonical_path(new_path)
        fingerprint = fingerprint or Fingerprint.of(new)
        with self.write():
            # plain statements: renaming a thousand files calls this a thousand times
            found = self.db.execute("SELECT id FROM processed_files WHERE file_path = ?", [old_path]).fetchone()
            if found is None:
                return
            self.db.execute(
                "UPDATE processed_files SET file_path = ?, mtime_ns = ?, file_size = ?, updated_date = ? WHERE id = ?",
                [new, fingerprint.mtime_ns, fingerprint.size, to_db_time(utcnow()), found[0]],
            )
            self.db.execute(
                "INSERT INTO metadata_history (file_id, field, old_value, new_value, source) VALUES (?, ?, ?, ?, ?)",
                [found[0], "file_path", old_path, new, "auto"],
            )

    def record_processing(
        self,
        file_path: str | os.PathLike[str],
        session_id: int | None,
        result: Mapping[str, Any],
        *,
        source: str = "auto",
    ) -> int:
        """Record (insert or update) a processed file; return its id.

        Re-processing a file updates its row and writes one ``metadata_history``
        row per changed field, with ``source`` ``auto``, ``manual`` or ``api``.
        ``result`` uses the seed's keys (``editor`` and ``publisher`` are both
        accepted; ``score`` may be 0..1 or 0..100).
        """
        if source not in HISTORY_SOURCES:
            raise BdnexError(f"unknown history source {source!r} (expected one of {', '.join(HISTORY_SOURCES)})")
        status = result.get("status", "success")
        if status not in FILE_STATUSES:
            raise BdnexError(f"unknown file status {status!r} (expected one of {', '.join(FILE_STATUSES)})")
        path = canonical_path(file_path)
        values = self._file_values(path, session_id, result, status)
        with self.write():
            existing = self.get_file(path)
            table = self.db.table("processed_files")
            if existing is None:
                file_id = _inserted_id(table.insert(values))
                previous: Mapping[str, Any] = {}
            else:
                file_id = existing["id"]
                values["updated_date"] = to_db_time(utcnow())
                table.update(file_id, values)
                previous = existing
            history = [
                {
                    "file_id": file_id,
                    "field": field,
                    "old_value": None if previous.get(field) is None else str(previous.get(field)),
                    "new_value": None if values.get(field) is None else str(values.get(field)),
                    "source": source,
                }
                for field in TRACKED_FIELDS
                if field in values
                and values[field] != previous.get(field)
                and not (previous.get(field) is None and values[field] is None)
            ]
            if history:
                self.db.table("metadata_history").insert_all(history)
        return int(file_id)

    @staticmethod
    def _file_values(path: str, session_id: int | None, result: Mapping[str, Any], status: str) -> dict[str, Any]:
        file_hash = result.get("file_hash")
        size, mtime_ns = result.get("file_size"), result.get("mtime_ns")
        if os.path.isfile(path):  # a regular file: a FIFO or a device would never finish hashing
            fingerprint = Fingerprint.of(path)
            size = fingerprint.size if size is None else size
            mtime_ns = fingerprint.mtime_ns if mtime_ns is None else mtime_ns
            file_hash = file_hash or sha256_file(path)
        tome = result.get("tome")
        volume = result.get("volume")
        if volume is None and tome is not None and str(tome).isdigit():
            volume = int(tome)
        values: dict[str, Any] = {
            "file_path": path,
            "file_hash": file_hash or "",
            "file_size": size,
            "mtime_ns": mtime_ns,
            "last_modified": to_db_time(datetime.fromtimestamp(mtime_ns / 1e9, UTC)) if mtime_ns else None,
            "processed_date": to_db_time(utcnow()),
            "bdgest_id": result.get("bdgest_id"),
            "bdgest_url": result.get("bdgest_url"),
            "confidence_score": normalise_score(result.get("confidence_score", result.get("score"))),
            "title": result.get("title"),
            "series": result.get("series"),
            "volume": volume,
            "tome": None if tome is None else str(tome),
            # the seed's prototype never matched the editor: it was spelled two ways
            "editor": result.get("editor", result.get("publisher")),
            "year": result.get("year"),
            "isbn": result.get("isbn"),
            "pages": result.get("pages"),
            "status": status,
            "error_msg": result.get("error_msg", result.get("error")),
            "has_metadata": bool(result.get("has_metadata", False)),
            "metadata_hash": result.get("metadata_hash"),
            "session_id": session_id,
            "processing_time_ms": result.get("processing_time_ms"),
            "decision": result.get("decision"),
            "source": result.get("source", "folder"),
            "external_id": result.get("external_id"),
        }
        return values

    def get_processed_files(
        self,
        status: str | None = None,
        series: str | None = None,
        limit: int = 100,
        *,
        session_id: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Processed files, filtered by status, series and session, a page at a time."""
        clauses, params = [], []
        for column, value in (("status", status), ("series", series), ("session_id", session_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return list(
            self.db.table("processed_files").rows_where(
                " AND ".join(clauses) or None, params, order_by="id", limit=limit, offset=offset
            )
        )

    def get_history(self, file_id: int) -> list[dict[str, Any]]:
        return list(self.db.table("metadata_history").rows_where("file_id = ?", [file_id], order_by="id"))

    # ------------------------------------------------------------------ album cache

    def cache_album(
        self, album_data: Mapping[str, Any] | Any, *, ttl: timedelta | None = None, now: datetime | None = None
    ) -> None:
        """Cache a parsed album (an ``Album`` or its dict) for the configured TTL."""
        data = album_data.to_dict() if hasattr(album_data, "to_dict") else dict(album_data)
        album_id = data.get("album_id", data.get("id"))
        if album_id is None:
            raise BdnexError("cannot cache an album without an id")
        moment = now or utcnow()
        tome = data.get("tome", data.get("volume"))
        release = data.get("release_date") or data.get("legal_deposit") or ""
        year = data.get("year") or (int(release[:4]) if str(release)[:4].isdigit() else None)
        row = {
            "id": int(album_id),
            "title": data.get("title") or data.get("series") or "",
            "series": data.get("series"),
            "volume": int(tome) if tome is not None and str(tome).isdigit() else None,
            "editor": data.get("publisher", data.get("editor")),
            "year": year,
            "isbn": data.get("isbn"),
            "pages": data.get("planches", data.get("pages")),
            "cover_url": data.get("cover_url"),
            "url": data.get("url"),
            "cached_date": to_db_time(moment),
            "cache_valid_until": to_db_time(moment + (ttl or self.album_ttl)),
            "metadata": json.dumps(data, ensure_ascii=False),
        }
        with self.write():
            if row["url"]:
                # the same url under an old id (renumbered album) would break the UNIQUE constraint
                self.db.execute("DELETE FROM bdgest_albums WHERE url = ? AND id != ?", [row["url"], row["id"]])
            self.db.table("bdgest_albums").upsert(row, pk="id")

    def get_cached_album(self, bdgest_id: int, *, now: datetime | None = None) -> dict[str, Any] | None:
        """The cached album if still valid, else ``None``."""
        row = self.db.execute(
            "SELECT metadata FROM bdgest_albums WHERE id = ? AND cache_valid_until > ?",
            [int(bdgest_id), to_db_time(now or utcnow())],
        ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def purge_expired_albums(self, *, now: datetime | None = None) -> int:
        with self.write():
            cursor = self.db.execute(
                "DELETE FROM bdgest_albums WHERE cache_valid_until <= ?", [to_db_time(now or utcnow())]
            )
        return cursor.rowcount

    # ------------------------------------------------------------------ sessions

    def start_session(
        self,
        directory: str,
        batch_mode: bool = True,
        strict_mode: bool = False,
        num_workers: int = 4,
        *,
        options: Mapping[str, Any] | None = None,
        source: str = "folder",
    ) -> int:
        """Start a new processing session owned by this process; return its id."""
        now = to_db_time(utcnow())
        with self.write():
            return _inserted_id(
                self.db.table("processing_sessions").insert(
                    {
                        "session_start": now,
                        "directory": directory,
                        "batch_mode": batch_mode,
                        "strict_mode": strict_mode,
                        "num_workers": num_workers,
                        "status": "running",
                        "options": json.dumps(dict(options or {}), ensure_ascii=False),
                        "pid": os.getpid(),
                        "heartbeat": now,
                        "source": source,
                    }
                )
            )

    def update_session(self, session_id: int, **fields: Any) -> None:
        """Update whitelisted session fields. Unknown names are refused, never put into SQL."""
        unknown = set(fields) - SESSION_UPDATABLE
        if unknown:
            raise BdnexError(f"cannot update session field(s): {', '.join(sorted(unknown))}")
        if "status" in fields and fields["status"] not in SESSION_STATUSES:
            raise BdnexError(f"unknown session status {fields['status']!r}")
        values = dict(fields)
        if isinstance(values.get("options"), Mapping):
            values["options"] = json.dumps(values["options"], ensure_ascii=False)
        if values.get("status") in ENDED_STATUSES and "session_end" not in values:
            values["session_end"] = to_db_time(utcnow())
        if values.get("status") == "running":
            values.setdefault("session_end", None)
        if not values:
            return
        with self.write():
            if not self.db.table("processing_sessions").count_where("id = ?", [session_id]):
                raise BdnexError(f"no session {session_id}")
            self.db.table("processing_sessions").update(session_id, values)

    def add_session_files(
        self,
        session_id: int,
        files: Iterable[str | os.PathLike[str] | tuple[str, str] | tuple[str, str, str]],
        *,
        unchanged: int = 0,
    ) -> int:
        """Register the files a session will process, in order (optionally with a first state).
        ``unchanged`` files (processed before, not modified since) are only counted: a re-scan of a
        large library must not write a row per file. Returns how many files are new."""
        with self.write():
            if unchanged:
                self.db.execute(
                    "UPDATE processing_sessions SET files_unchanged = COALESCE(files_unchanged, 0) + ? WHERE id = ?",
                    [unchanged, session_id],
                )
            start = self.db.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM session_files WHERE session_id = ?", [session_id]
            ).fetchall()[0][0]
            now = to_db_time(utcnow())
            rows = []
            for offset, entry in enumerate(files):
                if isinstance(entry, tuple):
                    file_path, item_key, state = (*entry, "pending") if len(entry) == 2 else entry
                else:
                    file_path, item_key, state = canonical_path(entry), None, "pending"
                rows.append((session_id, start + offset, str(file_path), item_key or str(file_path), state, now))
            cursor = self.db.conn.executemany(
                "INSERT OR IGNORE INTO session_files (session_id, position, file_path, item_key, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = cursor.rowcount
            self._refresh_counters(session_id)
        return added

    def mark_session_file(
        self,
        session_id: int,
        item_key: str,
        state: str,
        *,
        file_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome of one file of a session and keep the counters in step (O(1))."""
        if state not in SESSION_FILE_STATES:
            raise BdnexError(f"unknown session file state {state!r}")
        with self.write():
            previous = self.db.execute(
                "SELECT state FROM session_files WHERE session_id = ? AND item_key = ?", [session_id, item_key]
            ).fetchall()
            if not previous:
                return
            self.db.execute(
                "UPDATE session_files SET state = ?, file_id = COALESCE(?, file_id), error_msg = ?, updated_at = ? "
                "WHERE session_id = ? AND item_key = ?",
                [state, file_id, error, to_db_time(utcnow()), session_id, item_key],
            )
            old = previous[0][0]
            if old != state:
                changes = [
                    f"{column} = {column} {sign} 1"
                    for column, sign in ((STATE_COUNTER[old], "-"), (STATE_COUNTER[state], "+"))
                    if column
                ]
                if old == "pending":
                    changes.append("files_processed = files_processed + 1")
                elif state == "pending":
                    changes.append("files_processed = files_processed - 1")
                # column names come from STATE_COUNTER only, never from input
                self.db.execute(
                    f"UPDATE processing_sessions SET {', '.join(changes)}, heartbeat = ? WHERE id = ?",
                    [to_db_time(utcnow()), session_id],
                )

    def _refresh_counters(self, session_id: int) -> None:
        """Session counters are derived from its files, so they always match them."""
        counts = dict(
            self.db.execute(
                "SELECT state, COUNT(*) FROM session_files WHERE session_id = ? GROUP BY state", [session_id]
            ).fetchall()
        )
        unchanged = self.db.execute(
            "SELECT COALESCE(files_unchanged, 0) FROM processing_sessions WHERE id = ?", [session_id]
        ).fetchall()[0][0]
        total = sum(counts.values()) + unchanged
        self.db.table("processing_sessions").update(
            session_id,
            {
                "total_files": total,
                "files_processed": total - counts.get("pending", 0),
                "files_successful": counts.get("done", 0),
                "files_failed": counts.get("failed", 0),
                "files_skipped": counts.get("skipped", 0) + unchanged,
                "files_queued": counts.get("queued", 0),
                "heartbeat": to_db_time(utcnow()),
            },
        )

    def session_files(self, session_id: int, state: str | None = None) -> list[dict[str, Any]]:
        where = "session_id = ?"
        params: list[object] = [session_id]
        if state is not None:
            where += " AND state = ?"
            params.append(state)
        return list(self.db.table("session_files").rows_where(where, params, order_by="position"))

    def get_session(self, session_id: int) -> dict[str, Any] | None:
        rows = list(self.db.table("processing_sessions").rows_where("id = ?", [session_id]))
        return self._with_liveness(rows[0]) if rows else None

    def _with_liveness(self, row: dict[str, Any]) -> dict[str, Any]:
        """Add ``interrupted``: a running session whose process died or went silent."""
        row = dict(row)
        row["options"] = json.loads(row["options"]) if row.get("options") else {}
        interrupted = False
        if row.get("status") == "running":
            heartbeat = from_db_time(row.get("heartbeat"))
            same_host_dead = row.get("pid") and not process_alive(row["pid"])
            stale = heartbeat is None or utcnow() - heartbeat > STALE_HEARTBEAT
            interrupted = bool(same_host_dead or stale)
        row["interrupted"] = interrupted
        return row

    def get_session_stats(self, session_id: int) -> dict[str, Any]:
        """A session with its counters, duration and failures (``{}`` if unknown)."""
        session = self.get_session(session_id)
        if session is None:
            return {}
        start, end = from_db_time(session["session_start"]), from_db_time(session["session_end"])
        reference = end or (
            utcnow()
            if session["status"] == "running" and not session["interrupted"]
            else from_db_time(session.get("heartbeat"))
        )
        session["duration_seconds"] = (reference - start).total_seconds() if start and reference else None
        session["remaining"] = self.db.table("session_files").count_where(
            "session_id = ? AND state = 'pending'", [session_id]
        )
        session["failures"] = [
            {"file_path": row["file_path"], "error": row["error_msg"]}
            for row in self.session_files(session_id, "failed")
        ]
        session["display_status"] = "interrupted" if session["interrupted"] else session["status"]
        return session

    def list_sessions(self, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.table("processing_sessions").rows_where(
            "status = ?" if status else None, [status] if status else [], order_by="id desc", limit=limit
        )
        sessions = [self._with_liveness(row) for row in rows]
        for session in sessions:
            session["display_status"] = "interrupted" if session["interrupted"] else session["status"]
        return sessions

    def interrupted_sessions(self) -> list[dict[str, Any]]:
        return [session for session in self.list_sessions(limit=1000, status="running") if session["interrupted"]]

    def heartbeat(self, session_id: int) -> None:
        with self.write():
            self.db.table("processing_sessions").update(session_id, {"heartbeat": to_db_time(utcnow())})

    # ------------------------------------------------------------------ review queue

    def queue_for_review(
        self,
        file_path: str,
        item_key: str,
        session_id: int | None,
        parsed: Mapping[str, Any],
        candidates: Sequence[Mapping[str, Any]],
    ) -> int:
        """Queue a file whose match needs a person; one pending entry per item."""
        with self.write():
            self.db.execute("DELETE FROM review_queue WHERE item_key = ? AND status = 'pending'", [item_key])
            return _inserted_id(
                self.db.table("review_queue").insert(
                    {
                        "file_path": file_path,
                        "item_key": item_key,
                        "session_id": session_id,
                        "parsed": json.dumps(dict(parsed), ensure_ascii=False, default=str),
                        "candidates": json.dumps(list(candidates), ensure_ascii=False, default=str),
                        "status": "pending",
                        "created_at": to_db_time(utcnow()),
                    }
                )
            )

    def pending_reviews(self, limit: int | None = None) -> list[dict[str, Any]]:
        rows = self.db.table("review_queue").rows_where("status = 'pending'", order_by="id", limit=limit)
        return [
            {**row, "parsed": json.loads(row["parsed"] or "{}"), "candidates": json.loads(row["candidates"] or "[]")}
            for row in rows
        ]

    def resolve_review(self, review_id: int, *, album_id: int | None, status: str = "resolved") -> None:
        if status not in ("resolved", "skipped"):
            raise BdnexError(f"unknown review status {status!r}")
        with self.write():
            self.db.table("review_queue").update(
                review_id, {"status": status, "chosen_album_id": album_id, "resolved_at": to_db_time(utcnow())}
            )

    # ------------------------------------------------------------------ plugin state

    def get_plugin_state(self, plugin: str, key: str, default: Any = None) -> Any:
        """A JSON value a plugin stored with :meth:`set_plugin_state` (``default`` when absent)."""
        row = self.db.execute("SELECT value FROM plugin_state WHERE plugin = ? AND key = ?", [plugin, key]).fetchone()
        return default if row is None else json.loads(row[0])

    def set_plugin_state(self, plugin: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` for ``plugin`` under ``key`` (replacing the old one)."""
        with self.write() as db:
            db.table("plugin_state").upsert(
                {
                    "plugin": plugin,
                    "key": key,
                    "value": json.dumps(value, ensure_ascii=False),
                    "updated_at": to_db_time(utcnow()),
                },
                pk=("plugin", "key"),
            )

    # ------------------------------------------------------------------ statistics

    def get_statistics(self) -> dict[str, Any]:
        """Library statistics computed from the processed files."""
        row = self.db.execute(
            """
            SELECT
              COUNT(*) FILTER (WHERE status IN ('success', 'manual')),
              COUNT(DISTINCT series) FILTER (WHERE status IN ('success', 'manual')),
              COUNT(DISTINCT editor) FILTER (WHERE status IN ('success', 'manual')),
              CAST(AVG(pages) FILTER (WHERE status IN ('success', 'manual')) AS INTEGER),
              CAST(AVG(processing_time_ms) AS INTEGER),
              COUNT(*) FILTER (WHERE status = 'failed')
            FROM processed_files
            """
        ).fetchone()
        by_status = dict(self.db.execute("SELECT status, COUNT(*) FROM processed_files GROUP BY status").fetchall())
        return {
            "total_files": row[0],
            "total_series": row[1],
            "total_editors": row[2],
            "avg_pages": row[3],
            "avg_processing_time_ms": row[4],
            "files_failed": row[5],
            "files_pending_review": self.db.table("review_queue").count_where("status = 'pending'"),
            "total_sessions": self.db.table("processing_sessions").count,
            "by_status": by_status,
            "albums_cached": self.db.table("bdgest_albums").count,
        }

    def snapshot_statistics(self, day: date | None = None) -> dict[str, Any]:
        """Store today's statistics (one row per day; a later snapshot replaces it)."""
        stats = self.get_statistics()
        columns = (
            "total_files",
            "total_series",
            "total_editors",
            "avg_pages",
            "avg_processing_time_ms",
            "files_failed",
            "files_pending_review",
            "total_sessions",
        )
        values = [(day or datetime.now(UTC).date()).isoformat(), *(stats[name] for name in columns)]
        with self.write():
            self.db.execute(
                f"INSERT INTO statistics (date, {', '.join(columns)}) VALUES ({', '.join('?' * len(values))}) "
                f"ON CONFLICT(date) DO UPDATE SET {', '.join(f'{name} = excluded.{name}' for name in columns)}",
                values,
            )
        return stats

    def statistics_history(self, limit: int = 30) -> list[dict[str, Any]]:
        return list(self.db.table("statistics").rows_where(order_by="date desc", limit=limit))


class SessionManager:
    """Resume and list processing sessions (seed name kept)."""

    def __init__(self, db: BDneXDB):
        self.db = db

    def remaining_files(self, session_id: int) -> list[dict[str, Any]]:
        """The files of the session that are not done yet, in their original order."""
        return self.db.session_files(session_id, "pending")

    def resume_session(self, session_id: int) -> list[dict[str, Any]]:
        """Take over an interrupted or paused session; return exactly the files left.

        Raises :class:`BdnexError` when the session does not exist, is complete,
        or is still running in a live process.
        """
        session = self.db.get_session(session_id)
        if session is None:
            raise BdnexError(f"no session {session_id}")
        if session["status"] == "running" and not session["interrupted"] and session.get("pid") != os.getpid():
            raise BdnexError(f"session {session_id} is still running (pid {session['pid']})")
        if session["status"] == "completed":
            raise BdnexError(f"session {session_id} is already completed")
        self.db.update_session(session_id, status="running", pid=os.getpid(), heartbeat=to_db_time(utcnow()))
        return self.remaining_files(session_id)

    def list_sessions(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.list_sessions(limit=limit)
