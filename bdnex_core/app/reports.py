"""Reports on the library that every front-end shows: ``bdnex-core show`` prints one, the web page's file
view renders it, ``--json`` gives it whole.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from bdnex_core import archives
from bdnex_core.comicinfo import read_comicinfo_safely
from bdnex_core.errors import BdnexError
from bdnex_core.hashing import canonical_path

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

# the columns of a file's record a report shows
RECORD_FIELDS = (
    "status",
    "decision",
    "confidence_score",
    "bdgest_id",
    "bdgest_url",
    "series",
    "tome",
    "title",
    "editor",
    "year",
    "isbn",
    "session_id",
    "processed_date",
    "error_msg",
)


# what a person reads for each column of the record and each field of the history (--json keeps the names)
LABELS = {
    "confidence_score": "score",
    "bdgest_id": "album",
    "bdgest_url": "album page",
    "editor": "publisher",
    "isbn": "ISBN",
    "session_id": "session",
    "processed_date": "processed",
    "error_msg": "reason",
}


def file_report(db: BDneXDB, path: str) -> dict[str, Any]:
    """Everything known about one file: its ComicInfo.xml now (or why it cannot be read), its record,
    its change history, its review entries and the ComicInfo versions kept for undo."""

    real = canonical_path(path)
    record = db.files.get(real)
    if not os.path.isfile(real) and record is None:
        raise BdnexError(f"{path}: no such file, and nothing recorded under that path")
    report: dict[str, Any] = {"file": real, "exists": os.path.isfile(real), "comicinfo": None}
    if report["exists"]:
        with archives.open_archive(real) as comic:
            info, problem = read_comicinfo_safely(comic.comicinfo_bytes())
        report["comicinfo"] = dict(info.fields) if info is not None else None
        report["comicinfo_problem"] = problem
    report["record"] = {name: record.get(name) for name in RECORD_FIELDS} if record else None
    report["history"] = [
        {key: row[key] for key in ("timestamp", "field", "old_value", "new_value", "source")}
        for row in (db.files.history(record["id"]) if record else [])
    ]
    report["review"] = [
        {key: row[key] for key in ("id", "status", "chosen_album_id", "created_at", "resolved_at")}
        for row in db.reviews.for_path(real)
    ]
    report["comicinfo_backups"] = [
        {"id": backup.id, "session_id": backup.session_id, "reason": backup.reason, "bytes": len(backup.comicinfo)}
        for backup in db.backups.of_path(real)
    ]
    return report
