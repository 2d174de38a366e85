"""Library statistics, computed from the processed files, and one snapshot of them per day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bdnex_core.store.backend import POSTGRESQL, Backend

SNAPSHOT_COLUMNS = (
    "total_files",
    "total_series",
    "total_editors",
    "avg_pages",
    "avg_processing_time_ms",
    "files_failed",
    "files_pending_review",
    "total_sessions",
)


class StatisticsStore:
    def __init__(self, backend: Backend):
        self.backend = backend

    def current(self) -> dict[str, Any]:
        backend = self.backend
        # SQLite's CAST truncates an average, PostgreSQL's rounds it: both truncate here
        trunc = "TRUNC" if backend.dialect == POSTGRESQL else ""
        row = backend.tuples(
            f"""
            SELECT
              COUNT(*) FILTER (WHERE status IN ('success', 'manual')),
              COUNT(DISTINCT series) FILTER (WHERE status IN ('success', 'manual')),
              COUNT(DISTINCT editor) FILTER (WHERE status IN ('success', 'manual')),
              CAST({trunc}(AVG(pages) FILTER (WHERE status IN ('success', 'manual'))) AS INTEGER),
              CAST({trunc}(AVG(processing_time_ms)) AS INTEGER),
              COUNT(*) FILTER (WHERE status = 'failed')
            FROM processed_files
            """
        )[0]
        return {
            "total_files": row[0],
            "total_series": row[1],
            "total_editors": row[2],
            "avg_pages": row[3],
            "avg_processing_time_ms": row[4],
            "files_failed": row[5],
            "files_pending_review": backend.value("SELECT COUNT(*) FROM review_queue WHERE status = 'waiting'"),
            "total_sessions": backend.value("SELECT COUNT(*) FROM processing_sessions"),
            "by_status": dict(backend.tuples("SELECT status, COUNT(*) FROM processed_files GROUP BY status")),
            "albums_cached": backend.value("SELECT COUNT(*) FROM bdgest_albums"),
        }

    def snapshot(self, day: date | None = None) -> dict[str, Any]:
        """Store today's statistics (one row per day; a later snapshot replaces it)."""
        stats = self.current()
        with self.backend.write() as backend:
            backend.upsert(
                "statistics",
                {
                    "date": (day or datetime.now(UTC).date()).isoformat(),
                    **{name: stats[name] for name in SNAPSHOT_COLUMNS},
                },
                key=("date",),
            )
        return stats

    def table_counts(self) -> dict[str, int]:
        """Rows per table (``db info``); SQLite's internal tables (``_…``, ``sqlite_…``) left out."""
        names = [name for name in self.backend.table_names() if not name.startswith(("_", "sqlite_"))]
        # names come from the database's own catalogue, quoted as identifiers
        return {name: int(self.backend.value(f'SELECT COUNT(*) FROM "{name}"')) for name in names}

    def history(self, limit: int = 30) -> list[dict[str, Any]]:
        return self.backend.rows("SELECT * FROM statistics ORDER BY date DESC LIMIT ?", [limit])
