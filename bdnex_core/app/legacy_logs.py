"""Import of the JSON batch logs written by earlier BDneX versions (``batch_*.json``).

Each log becomes one completed session; each result a processed file (when the
database does not already know that file better). A log is identified by the
SHA-256 of its content, so importing it twice — even from another folder — adds
nothing. A broken log is reported and skipped; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bdnex_core.db import FILE_STATUSES, BDneXDB, to_db_time
from bdnex_core.hashing import canonical_path
from bdnex_core.states import FileStatus, SessionFileState

LEGACY_LOG_DIRS = (
    Path("~/.config/bdnex/batch_results"),
    Path("~/.local/share/bdnex/batch_results"),
)

# a legacy result's status -> its state in the imported session
_SESSION_STATE = {
    FileStatus.SUCCESS: SessionFileState.DONE,
    FileStatus.MANUAL: SessionFileState.DONE,
    FileStatus.SKIPPED: SessionFileState.SKIPPED,
    FileStatus.FAILED: SessionFileState.FAILED,
}


@dataclass
class ImportReport:
    imported: list[tuple[str, int, int]] = field(default_factory=list)  # (log, session id, files)
    already: list[str] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)  # (log, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": [{"log": log, "session_id": sid, "files": count} for log, sid, count in self.imported],
            "already_imported": self.already,
            "broken": [{"log": log, "error": reason} for log, reason in self.broken],
        }


class BrokenLog(ValueError):
    """A log that cannot be imported; the message is the reason."""


def find_logs(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The logs named, and the ``batch_*.json`` files inside named folders."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            yield from sorted(path.glob("batch_*.json"))
        else:
            yield path


def legacy_log_files() -> list[Path]:
    return [log for folder in LEGACY_LOG_DIRS for log in find_logs([folder]) if folder.expanduser().is_dir()]


def _parse_time(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)):
            return to_db_time(datetime.fromtimestamp(value, UTC))
        moment = datetime.fromisoformat(str(value))
    except (ValueError, OSError, OverflowError):
        return None
    return to_db_time(moment if moment.tzinfo else moment.astimezone())


def _read_log(path: Path) -> tuple[dict[str, Any], str]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise BrokenLog(f"cannot read: {exc.strerror}") from None
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BrokenLog(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise BrokenLog("no 'results' list: not a BDneX batch log")
    return data, hashlib.sha256(content).hexdigest()


def _result_values(entry: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = entry["metadata"] if isinstance(entry.get("metadata"), dict) else {}
    status = _legacy_status(entry)
    succeeded = status in (FileStatus.SUCCESS, FileStatus.MANUAL)
    return {
        "status": status,
        "score": entry.get("score"),
        "title": entry.get("title") or metadata.get("Title") or metadata.get("title"),
        "series": metadata.get("Series") or metadata.get("series"),
        "volume": _int_or_none(metadata.get("Number") or metadata.get("volume")),
        "publisher": metadata.get("Publisher") or metadata.get("editor") or metadata.get("publisher"),
        "year": _int_or_none(metadata.get("Year") or metadata.get("year")),
        "isbn": metadata.get("GTIN") or metadata.get("ISBN") or metadata.get("isbn"),
        "pages": _int_or_none(metadata.get("PageCount") or metadata.get("pages")),
        "bdgest_url": metadata.get("Web") or metadata.get("url"),
        "error": None if succeeded else (entry.get("error") or f"{status} (no reason in the log)"),
        "has_metadata": succeeded,
    }


def _legacy_status(entry: dict[str, Any]) -> FileStatus:
    """Both formats: the guide's ``"status": "success" | "manual" | ...`` and the prototype's boolean
    ``success``; an unknown status word counts as failed."""
    status = entry.get("status")
    if isinstance(status, str) and status.strip().lower() in FILE_STATUSES:
        return FileStatus(status.strip().lower())
    if status is None and "success" in entry:
        return FileStatus.SUCCESS if entry.get("success") else FileStatus.FAILED
    return FileStatus.FAILED


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def import_log(db: BDneXDB, path: Path) -> tuple[int | None, int]:
    """Import one log; return (session id, files) or (None, 0) when already imported."""
    data, digest = _read_log(path)
    marker = f"sha256:{digest}"
    if db.sessions.imported(marker):
        return None, 0
    entries = []
    for index, entry in enumerate(data["results"]):
        if not isinstance(entry, dict) or not (entry.get("file_path") or entry.get("filename")):
            raise BrokenLog(f"result #{index + 1} has no file_path or filename")
        entries.append(entry)
    paths = [canonical_path(entry.get("file_path") or entry["filename"]) for entry in entries]
    directory = os.path.commonpath(paths) if paths else str(path.parent)
    with db.write():
        session_id = db.sessions.start(
            directory, batch_mode=True, options={"imported_from": str(path)}, source="legacy"
        )
        db.sessions.add_files(session_id, paths)
        for file_path, entry in zip(paths, entries, strict=True):
            values = _result_values(entry)
            existing = db.files.get(file_path)
            file_id = existing["id"] if existing else db.files.record_processing(file_path, session_id, values)
            if existing is None and entry.get("timestamp"):
                when = _parse_time(entry["timestamp"])
                if when:
                    db.files.set_processed_date(file_id, when)
            db.sessions.mark_file(
                session_id,
                file_path,
                _SESSION_STATE[values["status"]],
                file_id=file_id,
                error=values["error"],
            )
        started = _parse_time(data.get("batch_start")) or to_db_time(datetime.now(UTC))
        db.sessions.close_imported(
            session_id,
            started=started,
            ended=_parse_time(data.get("batch_end")) or started,
            marker=marker,
            log_path=str(path),
        )
    return session_id, len(entries)


def import_logs(db: BDneXDB, paths: Iterable[str | os.PathLike[str]]) -> ImportReport:
    report = ImportReport()
    for log in find_logs(paths):
        try:
            session_id, count = import_log(db, log)
        except BrokenLog as exc:
            report.broken.append((str(log), str(exc)))
            continue
        if session_id is None:
            report.already.append(str(log))
        else:
            report.imported.append((str(log), session_id, count))
    return report
