"""Questions about the library: ``ls`` (beets-style queries over the processed files) and
``missing`` (the tomes of its series that the library does not have: the series page's list when one
was read, else the catalogue index's).

A query is a list of terms, all of which must hold:

- ``field:value`` — ``series``, ``title``, ``publisher``, ``path`` match words
  (accents and case ignored, a word matches its beginning: ``series:nain`` finds "Nains");
  ``status``, ``decision``, ``source``, ``tome``, ``isbn`` match exactly;
- ``year:2010..2015``, ``year:2010..``, ``year:..2015``, ``year:2012``; the same ranges for
  ``id`` (Bédéthèque album id), ``session`` and ``score`` (0–1);
- a bare word must appear in the series, the title or the path.

Words go through the full-text index of the database (SQLite's FTS5 table ``library_search``,
PostgreSQL's GIN indexes: :mod:`bdnex_core.store.library`), so a query over 100,000 files stays
fast, and gives the same files on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bdnex_core.bedetheque.series import tome_parts
from bdnex_core.errors import BdnexError
from bdnex_core.states import FileStatus
from bdnex_core.store.library import SAME_TEXT, LibraryQuery

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
# a word: a run of letters and digits, as both full-text indexes split text ("l'école" is two words)
WORD = re.compile(r"[^\W_]+")
TAGGED = (FileStatus.SUCCESS, FileStatus.MANUAL)
# where a bare word is looked for
BARE_WORD_COLUMNS = ("series", "title", "file_path")


class QueryError(BdnexError):
    """A query term that cannot be understood (the message says which and why)."""

    exit_code = 2


def _range(field_name: str, text: str, kind: type) -> tuple[Any, Any]:
    low, separator, high = text.partition("..")
    try:
        if not separator:
            value = kind(text)
            return value, value
        return (kind(low) if low else None), (kind(high) if high else None)
    except ValueError:
        raise QueryError(f"{field_name}:{text}: expected a number or a range such as 2010..2015") from None


def parse_query(terms: Iterable[str]) -> LibraryQuery:
    """Turn query terms into a :class:`LibraryQuery` (data: nothing typed reaches the SQL text)."""
    query = LibraryQuery()
    for term in terms:
        name, colon, value = term.partition(":")
        name = name.lower()
        if colon and name in TEXT_FIELDS:
            query.words.extend(((TEXT_FIELDS[name],), word) for word in WORD.findall(value))
        elif colon and name in LOWER_CASE_FIELDS:
            query.comparisons.append((EXACT_FIELDS[name], "=", value.lower()))
        elif colon and name in EXACT_FIELDS:
            query.comparisons.append((EXACT_FIELDS[name], SAME_TEXT, value))
        elif colon and name in RANGE_FIELDS:
            column, kind = RANGE_FIELDS[name]
            low, high = _range(name, value, kind)
            if low is not None:
                query.comparisons.append((column, ">=", low))
            if high is not None:
                query.comparisons.append((column, "<=", high))
        elif colon and name.isidentifier():
            raise QueryError(f"unknown field {name!r} in {term!r} (fields: {', '.join(FIELDS)})")
        else:
            query.words.extend((BARE_WORD_COLUMNS, word) for word in WORD.findall(term))
    return query


def list_files(db: BDneXDB, terms: Iterable[str], *, limit: int | None = None) -> list[dict[str, Any]]:
    """The processed files matching the query, in path order."""
    return db.library.files(parse_query(terms), LISTED_COLUMNS, limit=limit)


def count_files(db: BDneXDB, terms: Iterable[str]) -> int:
    return db.library.count(parse_query(terms))


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
    """One series of the library against its albums: its series page's list when a page of it was read
    (``series_id`` set: the whole series), else the catalogue index's albums of the same slug."""

    series: str
    series_slug: str
    owned: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    series_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "series_slug": self.series_slug,
            "series_id": self.series_id,
            "listed_by": "series page" if self.series_id is not None else "catalogue index",
            "owned": self.owned,
            "missing": self.missing,
        }


def _tome_order(row: dict[str, Any]) -> tuple[int, int, str]:
    kind_rank = {"regular": 0, None: 0, "hs": 1, "int": 2}.get(row.get("tome_kind"), 3)
    number = row.get("tome_number")
    return kind_rank, number if number is not None else 10**6, str(row.get("tome") or "")


def missing_tomes(db: BDneXDB, series_filter: Iterable[str] = ()) -> list[SeriesGaps]:
    """For each series the library has (tagged files with a Bédéthèque id known to the catalogue
    index), the albums of that series the library lacks: from the series' record when its page was
    read (the page lists the whole series; the sitemap slice of the index may hold a few of its
    albums), else from the catalogue index."""
    wanted = [word.casefold() for word in series_filter]
    owned_rows = db.library.owned_catalogue_albums(str(status) for status in TAGGED)
    series_of = db.series.series_of_albums(row["album_id"] for row in owned_rows)
    records = db.series.records(set(series_of.values()))
    by_series: dict[str, dict[str, Any]] = {}
    for row in owned_rows:
        record = records.get(series_of.get(row["album_id"], -1))
        key = f"series:{record['series_id']}" if record else row["series_slug"]
        entry = by_series.setdefault(
            key,
            {"series": row["series"] or row["series_slug"], "slug": row["series_slug"], "record": record, "owned": {}},
        )
        entry["owned"][row["album_id"]] = {
            "album_id": row["album_id"],
            "tome": row["tome"],
            "tome_number": row["tome_number"],
            "tome_kind": row["tome_kind"],
            "title": row["title_slug"],
            "file_path": row["file_path"],
        }
    gaps = []
    for entry in sorted(by_series.values(), key=lambda item: str(item["series"]).casefold()):
        slug = entry["slug"]
        if wanted and not any(word in str(entry["series"]).casefold() or word in slug.casefold() for word in wanted):
            continue
        listed = _listed_albums(db, entry["record"], slug)
        # another edition of a tome the library has is not a missing tome
        owned_tomes = {str(album["tome"]).casefold() for album in entry["owned"].values() if album["tome"]}
        missing = [
            album
            for album in listed
            if album["album_id"] not in entry["owned"]
            and not (album["tome"] and str(album["tome"]).casefold() in owned_tomes)
        ]
        gaps.append(
            SeriesGaps(
                series=entry["series"],
                series_slug=slug,
                owned=sorted(entry["owned"].values(), key=_tome_order),
                missing=sorted(missing, key=_tome_order),
                series_id=entry["record"]["series_id"] if entry["record"] else None,
            )
        )
    return gaps


def _listed_albums(db: BDneXDB, record: dict[str, Any] | None, slug: str) -> list[dict[str, Any]]:
    """The albums of a series: its page's list (``record``), else the catalogue index's for ``slug``."""
    if record is None:
        return [
            {
                "album_id": album["album_id"],
                "tome": album["tome"],
                "tome_number": album["tome_number"],
                "tome_kind": album["tome_kind"],
                "title": album["title_slug"],
                "url": album["url"],
            }
            for album in db.library.series_albums(slug)
        ]

    listed = []
    for album in record.get("albums") or []:
        kind, number = tome_parts(album.get("tome"))
        listed.append(
            {
                "album_id": int(album["album_id"]),
                "tome": album.get("tome"),
                "tome_number": number,
                "tome_kind": kind,
                "title": album.get("title"),
                "url": album.get("url"),
            }
        )
    return listed
