"""Questions about the library: ``ls`` (beets-style queries over the processed files) and
``missing`` (the tomes the catalogue lists that the library does not have).

A query is a list of terms, all of which must hold:

- ``field:value`` — ``series``, ``title``, ``publisher``, ``path`` match words
  (accents and case ignored, a word matches its beginning: ``series:nain`` finds "Nains");
  ``status``, ``decision``, ``source``, ``tome``, ``isbn`` match exactly;
- ``year:2010..2015``, ``year:2010..``, ``year:..2015``, ``year:2012``; the same ranges for
  ``id`` (Bédéthèque album id), ``session`` and ``score`` (0–1);
- a bare word must appear in the series, the title or the path.

Text terms go through the ``library_search`` full-text index (SQLite FTS5, kept in step with
``processed_files`` by triggers), so a query over 100,000 files stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import BdnexError
from bdnex_core.states import FileStatus

if TYPE_CHECKING:
    from bdnex_core.db import BDneXDB

# field name in a query -> column of library_search (full-text)
TEXT_FIELDS = {"series": "series", "title": "title", "publisher": "editor", "path": "file_path"}
# field name -> column of processed_files, compared exactly (case-insensitively)
EXACT_FIELDS = {"status": "status", "decision": "decision", "source": "source", "tome": "tome", "isbn": "isbn"}
# stored in lower case: compared as typed in lower case, so their indexes serve (COLLATE NOCASE would not)
LOWER_CASE_FIELDS = frozenset({"status", "decision", "source"})
# field name -> (column, type) compared as a number or a range a..b
RANGE_FIELDS = {
    "year": ("year", int),
    "id": ("bdgest_id", int),
    "session": ("session_id", int),
    "score": ("confidence_score", float),
}
FIELDS = sorted({*TEXT_FIELDS, *EXACT_FIELDS, *RANGE_FIELDS})
# what `ls --json` prints for each file, in this order
LISTED_COLUMNS = (
    "id",
    "file_path",
    "status",
    "decision",
    "confidence_score",
    "bdgest_id",
    "series",
    "tome",
    "title",
    "editor",
    "year",
    "isbn",
    "source",
    "session_id",
    "processed_date",
)
WORD = re.compile(r"\w+", re.UNICODE)
TAGGED = (FileStatus.SUCCESS, FileStatus.MANUAL)


class QueryError(BdnexError):
    """A query term that cannot be understood (the message says which and why)."""

    exit_code = 2


@dataclass
class Query:
    """A parsed query: SQL conditions over ``processed_files`` (alias ``f``) and their parameters."""

    conditions: list[str] = field(default_factory=list)
    parameters: list[Any] = field(default_factory=list)

    def where(self) -> str:
        return " AND ".join(self.conditions) or "1"


def _fts_phrase(text: str) -> str | None:
    """Words of ``text`` as an FTS5 expression where each word matches as a prefix."""
    words = WORD.findall(text)
    return " ".join(f'"{word}"*' for word in words) if words else None


def _range(field_name: str, text: str, kind: type) -> tuple[Any, Any]:
    low, separator, high = text.partition("..")
    try:
        if not separator:
            value = kind(text)
            return value, value
        return (kind(low) if low else None), (kind(high) if high else None)
    except ValueError:
        raise QueryError(f"{field_name}:{text}: expected a number or a range such as 2010..2015") from None


def parse_query(terms: Iterable[str]) -> Query:
    """Turn query terms into SQL conditions (parameters only: nothing typed reaches the SQL text)."""
    query = Query()
    full_text: list[str] = []
    for term in terms:
        name, colon, value = term.partition(":")
        name = name.lower()
        if colon and name in TEXT_FIELDS:
            phrase = _fts_phrase(value)
            if phrase:
                full_text.append(f"{TEXT_FIELDS[name]} : ({phrase})")
        elif colon and name in LOWER_CASE_FIELDS:
            query.conditions.append(f"f.{EXACT_FIELDS[name]} = ?")
            query.parameters.append(value.lower())
        elif colon and name in EXACT_FIELDS:
            query.conditions.append(f"f.{EXACT_FIELDS[name]} = ? COLLATE NOCASE")
            query.parameters.append(value)
        elif colon and name in RANGE_FIELDS:
            column, kind = RANGE_FIELDS[name]
            low, high = _range(name, value, kind)
            if low is not None:
                query.conditions.append(f"f.{column} >= ?")
                query.parameters.append(low)
            if high is not None:
                query.conditions.append(f"f.{column} <= ?")
                query.parameters.append(high)
        elif colon and name.isidentifier():
            raise QueryError(f"unknown field {name!r} in {term!r} (fields: {', '.join(FIELDS)})")
        else:
            phrase = _fts_phrase(term)
            if phrase:
                full_text.append(f"{{series title file_path}} : ({phrase})")
    if full_text:
        query.conditions.append("f.id IN (SELECT rowid FROM library_search WHERE library_search MATCH ?)")
        query.parameters.append(" AND ".join(full_text))
    return query


def list_files(db: BDneXDB, terms: Iterable[str], *, limit: int | None = None) -> list[dict[str, Any]]:
    """The processed files matching the query, in path order."""
    query = parse_query(terms)
    # "+": sort the rows found rather than walk the whole path index in order (10x on a year range)
    columns = ", ".join(f"f.{column}" for column in LISTED_COLUMNS)
    sql = f"SELECT {columns} FROM processed_files f WHERE {query.where()} ORDER BY +f.file_path"
    parameters = list(query.parameters)
    if limit is not None:
        sql += " LIMIT ?"
        parameters.append(limit)
    cursor = db.db.execute(sql, parameters)
    return [dict(zip(LISTED_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def count_files(db: BDneXDB, terms: Iterable[str]) -> int:
    query = parse_query(terms)
    return int(
        db.db.execute(f"SELECT COUNT(*) FROM processed_files f WHERE {query.where()}", query.parameters).fetchone()[0]
    )


class _Fields(dict[str, Any]):
    """Format fields that are absent print as empty, so one template fits every file."""

    def __missing__(self, key: str) -> str:
        return ""


def format_file(row: dict[str, Any], template: str) -> str:
    """One line for ``ls -f``: ``{series}``, ``{tome}``, ``{title}``, ``{path}``, ``{publisher}``…"""
    values = _Fields({key: ("" if value is None else value) for key, value in row.items()})
    values["path"] = values.get("file_path", "")
    values["publisher"] = values.get("editor", "")
    values["album_id"] = values.get("bdgest_id", "")
    try:
        return template.format_map(values)
    except (ValueError, IndexError, AttributeError, KeyError) as exc:
        raise QueryError(f"format {template!r}: {exc}") from None


# ---------------------------------------------------------------------- missing tomes


@dataclass
class SeriesGaps:
    """One series of the library against the catalogue's albums of the same series."""

    series: str
    series_slug: str
    owned: list[dict[str, Any]]
    missing: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"series": self.series, "series_slug": self.series_slug, "owned": self.owned, "missing": self.missing}


def _tome_order(row: dict[str, Any]) -> tuple[int, int, str]:
    kind_rank = {"regular": 0, None: 0, "hs": 1, "int": 2}.get(row.get("tome_kind"), 3)
    number = row.get("tome_number")
    return kind_rank, number if number is not None else 10**6, str(row.get("tome") or "")


def missing_tomes(db: BDneXDB, series_filter: Iterable[str] = ()) -> list[SeriesGaps]:
    """For each series the library has (tagged files with a Bédéthèque id known to the catalogue
    index), the catalogue's albums of that series the library lacks."""
    wanted = [word.casefold() for word in series_filter]
    owned_rows = db.db.execute(
        "SELECT c.series_slug, c.album_id, c.tome, c.tome_number, c.tome_kind, c.title_slug, f.series, f.file_path "
        "FROM processed_files f JOIN catalogue_albums c ON c.album_id = f.bdgest_id "
        f"WHERE f.status IN ({', '.join('?' * len(TAGGED))})",
        [str(status) for status in TAGGED],
    ).fetchall()
    by_series: dict[str, dict[str, Any]] = {}
    for slug, album_id, tome, number, kind, title_slug, series, path in owned_rows:
        entry = by_series.setdefault(slug, {"series": series or slug, "owned": {}})
        entry["owned"][album_id] = {
            "album_id": album_id,
            "tome": tome,
            "tome_number": number,
            "tome_kind": kind,
            "title": title_slug,
            "file_path": path,
        }
    gaps = []
    for slug, entry in sorted(by_series.items(), key=lambda item: str(item[1]["series"]).casefold()):
        if wanted and not any(word in str(entry["series"]).casefold() or word in slug.casefold() for word in wanted):
            continue
        listed = db.db.execute(
            "SELECT album_id, tome, tome_number, tome_kind, title_slug, url FROM catalogue_albums WHERE series_slug = ?",
            [slug],
        ).fetchall()
        # another edition of a tome the library has is not a missing tome
        owned_tomes = {str(album["tome"]).casefold() for album in entry["owned"].values() if album["tome"]}
        missing = [
            {"album_id": album_id, "tome": tome, "tome_number": number, "tome_kind": kind, "title": title, "url": url}
            for album_id, tome, number, kind, title, url in listed
            if album_id not in entry["owned"] and not (tome and str(tome).casefold() in owned_tomes)
        ]
        gaps.append(
            SeriesGaps(
                series=entry["series"],
                series_slug=slug,
                owned=sorted(entry["owned"].values(), key=_tome_order),
                missing=sorted(missing, key=_tome_order),
            )
        )
    return gaps
