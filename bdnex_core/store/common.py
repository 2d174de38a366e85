"""Values and names every store shares: times in the database's text form, state lists, scores."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from bdnex_core.errors import BdnexError
from bdnex_core.states import FileStatus, HistorySource, SessionFileState, SessionStatus

E = TypeVar("E", bound=StrEnum)

# the value lists of the enums, for messages and the seed's names
FILE_STATUSES = tuple(FileStatus)
SESSION_STATUSES = tuple(SessionStatus)
SESSION_FILE_STATES = tuple(SessionFileState)
HISTORY_SOURCES = tuple(HistorySource)
DONE_STATUSES = (FileStatus.SUCCESS, FileStatus.MANUAL)
# A running session (or a claim) whose process has given no sign of life for this long is abandoned.
STALE_HEARTBEAT = timedelta(minutes=10)
# ids (rows, Bédéthèque albums) are 64-bit signed integers on both databases: a larger number names
# nothing, and cannot even be asked about (SQLite's driver raises OverflowError)
MAX_ID = 2**63 - 1


def member(enum: type[E], value: Any, what: str) -> E:
    """``value`` as a member of ``enum`` (its string form too); a clear error for anything else."""
    try:
        return enum(value)
    except ValueError:
        expected = ", ".join(item.value for item in enum)
        raise BdnexError(f"unknown {what} {value!r} (expected one of {expected})") from None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_db_time(moment: datetime) -> str:
    """SQLite's CURRENT_TIMESTAMP format (UTC), so stored times compare as text; PostgreSQL reads
    it as a UTC time (its sessions run in UTC)."""
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


def paths_under(folder: str) -> tuple[str, str]:
    """The bounds, both excluded, of the paths under ``folder`` (no trailing separator) in byte order."""
    return folder + os.sep, folder + chr(ord(os.sep) + 1)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
