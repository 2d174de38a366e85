"""The journal of in-place archive writes (``archive_journal``), for :mod:`bdnex_core.archives.journal`.

An entry is committed durably before its archive changes, and deleted by whoever records the
write (the tagging runner, in the transaction that records the file) or right after a write
nobody records. Every opening of the database takes back the writes whose entries are left.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from bdnex_core.errors import ArchiveError
from bdnex_core.store.backend import Backend
from bdnex_core.store.postgres.connection import psycopg_module

_COLUMNS = (
    "id, file_path, file_identity, host, pid, started_ns, original_size, original_mtime_ns, tail_offset, "
    "original_tail, original_tail_sha256, new_size, new_tail_sha256"
)


def _unique_violations() -> tuple[type[Exception], ...]:
    try:
        psycopg = psycopg_module()
    except ImportError:  # PostgreSQL support not installed
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)


class ArchiveJournalStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def begin(self, row: dict[str, Any]) -> int:
        """Keep the entry ``row`` on disk (a durable commit); its id."""
        try:
            with self.backend.write(durable=True) as backend:
                return backend.insert("archive_journal", row)
        except _unique_violations():  # file_path is the table's one UNIQUE column
            raise ArchiveError("another bdnex-core process is writing this file now", path=row["file_path"]) from None

    def end(self, journal_ids: Sequence[int]) -> int:
        """Delete these entries (joining the caller's transaction, if any); how many there were."""
        if not journal_ids:
            return 0
        with self.backend.write() as backend:
            marks = ", ".join("?" for _ in journal_ids)
            return backend.execute(f"DELETE FROM archive_journal WHERE id IN ({marks})", list(journal_ids))

    def is_empty(self) -> bool:
        """No write in progress nor interrupted (what nearly every opening of a database finds)."""
        return self.backend.value("SELECT 1 FROM archive_journal LIMIT 1") is None

    def pending(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        return self.backend.rows(f"SELECT {_COLUMNS} FROM archive_journal ORDER BY id")

    def pending_for(self, file_path: str) -> dict[str, Any] | None:
        """The entry of the archive at ``file_path`` (as its writer named it: an absolute path), if any."""
        return self.backend.row(f"SELECT {_COLUMNS} FROM archive_journal WHERE file_path = ?", [file_path])
