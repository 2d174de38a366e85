"""Processed files and their history: what was tagged, with what, and every change since.

A file is known by its canonical path; its SHA-256 recognises it after a move, and its size and
mtime spare the hashing of files that have not changed (a re-scan of a large library reads no file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bdnex_core.hashing import Fingerprint, canonical_path, sha256_file
from bdnex_core.states import FileStatus, HistorySource
from bdnex_core.store.backend import POSTGRESQL, Backend
from bdnex_core.store.common import DONE_STATUSES, member, normalise_score, paths_under, to_db_time, utcnow

# Fields whose changes are written to metadata_history.
TRACKED_FIELDS = ("bdgest_id", "bdgest_url", "title", "series", "volume", "tome", "editor", "year", "isbn", "pages")
# done, or already waiting in the review queue: nothing new to do for such a file while it is unchanged
# (SQLite's "+status": the path index must drive the search, not the status index that covers most rows)
_RECORDED = (
    "SELECT file_path, file_size, mtime_ns FROM processed_files "
    "WHERE ({plus}status IN ('success', 'manual') OR ({plus}status = 'waiting')) AND "
)
# under SQLite's oldest limit of 999 parameters
_PATHS_PER_QUERY = 900


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


class FileStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def has_any(self) -> bool:
        return bool(self.backend.value("SELECT EXISTS (SELECT 1 FROM processed_files)"))

    def get(self, file_path: str | os.PathLike[str]) -> dict[str, Any] | None:
        return self.backend.row("SELECT * FROM processed_files WHERE file_path = ?", [canonical_path(file_path)])

    def get_by_id(self, file_id: int) -> dict[str, Any] | None:
        return self.backend.row("SELECT * FROM processed_files WHERE id = ?", [file_id])

    def with_hash(self, file_hash: str) -> list[dict[str, Any]]:
        """The files recorded with this content (a file moved, or copies), oldest first."""
        return self.backend.rows("SELECT * FROM processed_files WHERE file_hash = ? ORDER BY id", [file_hash])

    def lookup(self, file_path: str | os.PathLike[str]) -> FileLookup:
        """Classify a file on disk against what is recorded, hashing only when needed."""
        path = canonical_path(file_path)
        fingerprint = Fingerprint.of(path)
        row = self.get(path)
        if row and row["file_size"] == fingerprint.size and row["mtime_ns"] == fingerprint.mtime_ns:
            return FileLookup("unchanged", row, row["file_hash"], fingerprint)
        file_hash = sha256_file(path)
        if row:
            state = "unchanged" if row["file_hash"] == file_hash else "changed"
            return FileLookup(state, row, file_hash, fingerprint)
        for candidate in self.backend.rows("SELECT * FROM processed_files WHERE file_hash = ?", [file_hash]):
            if not os.path.exists(candidate["file_path"]):
                return FileLookup("moved", candidate, file_hash, fingerprint)
        return FileLookup("new", None, file_hash, fingerprint)

    def is_processed(self, file_path: str | os.PathLike[str], force_check: bool = False) -> bool:
        """True when the file was processed successfully and has not changed since (a moved file
        too: its record follows it); ``force_check`` re-hashes even when size and mtime match."""
        path = canonical_path(file_path)
        if not os.path.exists(path):
            row = self.get(path)
            return bool(row and row["status"] in DONE_STATUSES)
        lookup = self.lookup(path)
        if force_check and lookup.row and lookup.state == "unchanged" and sha256_file(path) != lookup.row["file_hash"]:
            return False
        if lookup.state == "moved" and lookup.row:
            self.record_move(lookup.row["file_path"], path, lookup.fingerprint)
        elif lookup.state == "unchanged" and lookup.row and lookup.row["mtime_ns"] != lookup.fingerprint.mtime_ns:
            with self.backend.write():
                self.backend.update(
                    "processed_files",
                    {"id": lookup.row["id"]},
                    {"mtime_ns": lookup.fingerprint.mtime_ns, "file_size": lookup.fingerprint.size},
                )
        return bool(lookup.row and lookup.state in ("unchanged", "moved") and lookup.row["status"] in DONE_STATUSES)

    def record_move(
        self, old_path: str, new_path: str | os.PathLike[str], fingerprint: Fingerprint | None = None
    ) -> None:
        """The file at ``old_path`` now lives at ``new_path``: its row and history follow it."""
        new = canonical_path(new_path)
        fingerprint = fingerprint or Fingerprint.of(new)
        backend = self.backend
        with backend.write():
            file_id = backend.value("SELECT id FROM processed_files WHERE file_path = ?", [old_path])
            if file_id is None:
                return
            backend.execute(
                "UPDATE processed_files SET file_path = ?, mtime_ns = ?, file_size = ?, updated_date = ? WHERE id = ?",
                [new, fingerprint.mtime_ns, fingerprint.size, to_db_time(utcnow()), file_id],
            )
            backend.execute(
                "INSERT INTO metadata_history (file_id, field, old_value, new_value, source) VALUES (?, ?, ?, ?, ?)",
                [file_id, "file_path", old_path, new, str(HistorySource.AUTO)],
            )

    def record_processing(
        self,
        file_path: str | os.PathLike[str],
        session_id: int | None,
        result: Mapping[str, Any],
        *,
        source: str = HistorySource.AUTO,
    ) -> int:
        """Record (insert or update) a processed file and one history row per changed field."""
        source = member(HistorySource, source, "history source")
        status = member(FileStatus, result.get("status", FileStatus.SUCCESS), "file status")
        path = canonical_path(file_path)
        values = file_values(path, session_id, result, status)
        backend = self.backend
        with backend.write():
            existing = self.get(path)
            if existing is None:
                file_id = backend.insert("processed_files", values)
                previous: Mapping[str, Any] = {}
            else:
                file_id = existing["id"]
                values["updated_date"] = to_db_time(utcnow())
                backend.update("processed_files", {"id": file_id}, values)
                previous = existing
            history = [
                (
                    file_id,
                    field,
                    None if previous.get(field) is None else str(previous.get(field)),
                    None if values.get(field) is None else str(values.get(field)),
                    str(source),
                )
                for field in TRACKED_FIELDS
                if field in values
                and values[field] != previous.get(field)
                and not (previous.get(field) is None and values[field] is None)
            ]
            if history:
                backend.executemany(
                    "INSERT INTO metadata_history (file_id, field, old_value, new_value, source) VALUES (?, ?, ?, ?, ?)",
                    history,
                )
        return int(file_id)

    def set_processed_date(self, file_id: int, when: str) -> None:
        with self.backend.write():
            self.backend.update("processed_files", {"id": file_id}, {"processed_date": when})

    def page(
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
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return self.backend.rows(
            f"SELECT * FROM processed_files {where}ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset]
        )

    def history(self, file_id: int) -> list[dict[str, Any]]:
        return self.backend.rows("SELECT * FROM metadata_history WHERE file_id = ? ORDER BY id", [file_id])

    def add_history(self, file_id: int, field: str, old_value: Any, new_value: Any, source: str) -> None:
        """One change of a file made outside a run (a restored ComicInfo.xml, say)."""
        with self.backend.write() as backend:
            backend.insert(
                "metadata_history",
                {"file_id": file_id, "field": field, "old_value": old_value, "new_value": new_value, "source": source},
            )

    def unchanged_paths(self, paths: list[str], roots: Iterable[str] = ()) -> set[str]:
        """Those of ``paths`` (canonical) processed before and unchanged since (same size and mtime),
        found in bulk (no hashing): one range query per root folder when the paths all come from
        ``roots``, else one query per 900 paths; then one stat per recorded file."""
        select = _RECORDED.format(plus="" if self.backend.dialect == POSTGRESQL else "+")
        if roots:
            queries = [self._under_root(select, root) for root in roots]
        else:
            queries = [
                (select + f"file_path IN ({', '.join('?' * len(chunk))})", chunk)
                for chunk in (
                    paths[start : start + _PATHS_PER_QUERY] for start in range(0, len(paths), _PATHS_PER_QUERY)
                )
            ]
        wanted = set(paths)
        known: dict[str, tuple[int, int]] = {}
        for sql, parameters in queries:
            known.update(
                (found, (size, mtime)) for found, size, mtime in self.backend.tuples(sql, parameters) if found in wanted
            )
        unchanged = set()
        for path, recorded in known.items():
            try:
                stat = os.stat(path)
            except OSError:
                continue
            if (stat.st_size, stat.st_mtime_ns) == recorded:
                unchanged.add(path)
        return unchanged

    def _under_root(self, recorded: str, root: str) -> tuple[str, list[Any]]:
        """The files under ``root``: a range of paths (byte order on PostgreSQL too, whatever the
        database's collation: a locale's order would leave paths out)."""
        column = self.backend.byte_order("file_path")
        return recorded + f"(file_path = ? OR ({column} > ? AND {column} < ?))", [root, *paths_under(root)]


def file_values(path: str, session_id: int | None, result: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The processed_files columns of a result (the seed's keys: ``editor`` or ``publisher``,
    ``score`` 0..1 or 0..100)."""
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
    return {
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
        "status": str(status),
        "error_msg": result.get("error_msg", result.get("error")),
        "has_metadata": bool(result.get("has_metadata", False)),
        "metadata_hash": result.get("metadata_hash"),
        "session_id": session_id,
        "processing_time_ms": result.get("processing_time_ms"),
        "decision": result.get("decision"),
        "source": result.get("source", "folder"),
        "external_id": result.get("external_id"),
    }
