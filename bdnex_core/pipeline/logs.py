"""Each session's JSON and CSV logs (their paths are stored in the session row).

Session ids are numbered per database, so the logs of each database go in a folder of their own
under ``pipeline.logs_dir``, named after the database file and its full path: two databases
sharing the logs folder never overwrite each other's ``session_N`` files.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bdnex_core.fileio import open_atomically
from bdnex_core.paths import logs_folder_for

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.pipeline.runner import RunSummary

CSV_COLUMNS = ("file", "state", "reason", "decision", "confidence", "album_id", "series", "tome", "title", "elapsed_ms")


def database_logs_folder(logs_dir: Path, db: BDneXDB) -> Path:
    """``<logs_dir>/<database name>-<hash of where it is>``: one folder per database (an SQLite file's
    absolute path; a PostgreSQL database's server and name, never its password)."""
    if db.url is not None:
        parts = urlsplit(db.url)
        name = parts.path.strip("/") or "postgresql"
        where = f"{parts.hostname}:{parts.port}/{name}"
        return logs_dir / f"{name}-{hashlib.sha1(where.encode()).hexdigest()[:8]}"
    if db.path is None:
        return logs_dir / "memory"
    return logs_folder_for(logs_dir, db.path)


def write_session_logs(settings: Settings, db: BDneXDB, session_id: int, summary: RunSummary) -> tuple[str, str]:
    """Write ``session_<id>.json`` and ``.csv``: every file of the session so far, in its order, with this
    run's details. Written as the session's files are read from the database, a batch at a time: the
    logs of 100,000 files are never held in memory whole."""
    folder = database_logs_folder(settings.pipeline.logs_dir, db)
    folder.mkdir(parents=True, exist_ok=True)
    this_run = {outcome.key: outcome for outcome in summary.outcomes}
    json_path = folder / f"session_{session_id}.json"
    csv_path = folder / f"session_{session_id}.csv"
    # unchanged files are counted in the summary, not listed: a re-scan logs only what it did
    head = {"session": db.sessions.stats(session_id), "summary": summary.to_dict()}
    with (
        open_atomically(json_path, "w", encoding="utf-8") as document,
        open_atomically(csv_path, "w", newline="", encoding="utf-8") as table,
    ):
        writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        document.write(_dumps(head)[:-1] + ', "files": [')
        separator = ""
        for row in _session_rows(db, session_id, this_run):
            document.write(separator + _dumps(row))
            separator = ", "
            writer.writerow(row)
        document.write("]}")
    return str(json_path), str(csv_path)


def _session_rows(db: BDneXDB, session_id: int, this_run: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each file of the session in its order: this run's outcome, or how an earlier run left it."""
    left = dict(this_run)
    for entry in db.sessions.iter_files(session_id):
        outcome = left.pop(entry["item_key"], None)
        if outcome is not None:
            yield outcome.summary_row()
        else:  # handled by an earlier run of a resumed session
            yield {
                "file": entry["file_path"],
                "key": entry["item_key"],
                "state": entry["state"],
                "reason": entry["error_msg"] or "",
            }
    for outcome in left.values():  # none in a run that recorded its files
        yield outcome.summary_row()


def _dumps(value: Any) -> str:
    # no indent: the C encoder is used only without one
    return json.dumps(value, ensure_ascii=False, default=str)


def write_text_log(json_log: str, session: dict[str, Any], summary: RunSummary) -> str:
    """``session_<id>.log`` beside the JSON log: the session in plain text, one line per file of this
    run (the seed's ``log_file_path``), for a person reading it with ``less`` or ``grep``."""
    path = Path(json_log).with_suffix(".log")
    counts = summary.to_dict()["counts"]
    lines = [
        f"session {session['id']}: {session['status']}, started {session['session_start']}, "
        f"ended {session.get('session_end') or '-'}, source {session.get('source') or 'folder'}, "
        f"in {session.get('directory')}",
        ", ".join(f"{name} {count}" for name, count in counts.items()),
    ]
    with open_atomically(path, "w", encoding="utf-8") as text:
        text.writelines(line + "\n" for line in lines)
        for outcome in summary.outcomes:
            reason = f": {outcome.reason}" if outcome.reason else ""
            album = f" -> album {outcome.album.album_id}" if outcome.album is not None else ""
            text.write(f"{outcome.state}\t{outcome.item.path or outcome.item.name}{album}{reason}\n")
        if summary.pace_notice:
            text.write(summary.pace_notice + "\n")
        if summary.message:
            text.write(summary.message + "\n")
    return str(path)
