"""One meaning for a stored value on both backends, and a checksum that compares them.

SQLite keeps times as text, booleans as 0/1 and JSON as text; PostgreSQL has TIMESTAMPTZ,
BOOLEAN and JSONB. A column's declared type gives its :class:`Kind`; each backend decodes its
raw values into the same Python values (aware UTC datetimes, bools, :class:`JsonDocument`...)
and encodes them back. The checksum of a table hashes a canonical text of each row (columns in
name order, rows in primary-key order), so equal checksums mean the same data, whatever the
storage: a time written ``2026-01-02T03:04:05+00:00`` and one read back as ``2026-01-02
03:04:05`` are the same instant; JSON is compared as parsed documents (JSONB keeps no key order).
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


class Kind(enum.Enum):
    INTEGER = "integer"
    REAL = "real"
    TEXT = "text"
    TIMESTAMP = "timestamp"
    DATE = "date"
    BOOLEAN = "boolean"
    JSON = "json"
    BLOB = "blob"
    ANY = "any"  # no declared type (SQLite): copied as it is


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


@dataclass(frozen=True)
class JsonDocument:
    """A parsed JSON value (kept apart from SQL NULL: the document ``null`` is not a missing value)."""

    value: Any


class BadValue(ValueError):
    """A stored value that does not fit its column's kind (the copy names the table, row and column)."""


def parse_time(text: str) -> datetime:
    """SQLite's ``YYYY-MM-DD HH:MM:SS`` (UTC) or any ISO 8601 time; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(f"{text!r} is not a time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_json(text: str | bytes) -> JsonDocument:
    try:
        return JsonDocument(json.loads(text))
    except ValueError:
        raise BadValue(f"{str(text)[:60]!r} is not JSON") from None


_AS_THEY_ARE = (type(None), bool, int, float)  # JSON says them exactly (floats by their shortest repr)


def _canonical(value: Any) -> Any:
    kind = type(value)  # the common cases first: this runs for every value of every row
    if kind is str:
        return "S:" + value
    if kind in _AS_THEY_ARE:
        return value
    if isinstance(value, datetime):
        return "T:" + value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return "D:" + value.isoformat()
    if isinstance(value, JsonDocument):
        return "J:" + json.dumps(value.value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "B:" + bytes(value).hex()
    if isinstance(value, str):
        return "S:" + value
    return value


class TableChecksum:
    """Count and SHA-256 of a table's rows, fed in primary-key order."""

    def __init__(self, columns: list[Column]):
        self._order = sorted(range(len(columns)), key=lambda index: columns[index].name)
        self._hash = hashlib.sha256(json.dumps([columns[i].name for i in self._order]).encode())
        self.rows = 0

    def add(self, row: tuple[Any, ...]) -> None:
        line = json.dumps([_canonical(row[i]) for i in self._order], ensure_ascii=False, allow_nan=True)
        self._hash.update(line.encode("utf-8") + b"\n")
        self.rows += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
