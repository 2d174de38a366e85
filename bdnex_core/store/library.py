"""The library as ``ls``, ``missing`` and the web pages read it: files found by words, fields and
ranges; the series the library has against the catalogue; the counts behind the charts.

Words are found through each backend's own full-text index: SQLite's FTS5 table ``library_search``
(schema.sql, kept in step with ``processed_files`` by triggers), PostgreSQL's GIN indexes over
``library_search_words(column)`` (:mod:`bdnex_core.store.postgres.search`). Both split text into runs of
letters and digits, fold case and accents and find a word by its beginning, so one query gives the
same files on both. Rows come in byte order of their path on both (``COLLATE "C"`` on PostgreSQL,
whose own order follows the database's locale).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bdnex_core.store.backend import POSTGRESQL, Backend
from bdnex_core.store.common import paths_under

#: a comparison operator of :class:`LibraryQuery`: equal, case ignored (ASCII)
SAME_TEXT = "same"
_OPERATORS = frozenset({"=", ">=", "<=", SAME_TEXT})
#: processed_files columns the full-text indexes cover
WORD_COLUMNS = frozenset({"series", "title", "editor", "file_path"})
#: how a session page may be sorted: its name in the URL -> the columns, ours, never typed by a user
SESSION_SORTS = {
    "position": ("sf.position",),
    "file": ("sf.file_path",),
    "state": ("sf.state",),
    "decision": ("pf.decision",),
    "score": ("pf.confidence_score",),
    "album": ("pf.bdgest_id",),
    "series": ("pf.series", "pf.tome"),
}
RECORD_SORTS = frozenset(name for name, columns in SESSION_SORTS.items() if columns[0].startswith("pf."))


@dataclass
class LibraryQuery:
    """What ``ls`` asks, as data (parsed by :func:`bdnex_core.app.query.parse_query`): every part must hold.

    Column names are ours, never typed by a user; the values travel as parameters.
    """

    #: (columns, word): a word of one of ``columns`` begins with ``word`` (letters and digits only)
    words: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    #: (column, operator, value), the operator one of ``=``, ``>=``, ``<=`` or :data:`SAME_TEXT`
    comparisons: list[tuple[str, str, Any]] = field(default_factory=list)


class LibraryStore:
    def __init__(self, backend: Backend):
        self.backend = backend
        self.postgresql = backend.dialect == POSTGRESQL

    # ------------------------------------------------------------------ ls

    def files(self, query: LibraryQuery, columns: Sequence[str], *, limit: int | None = None) -> list[dict[str, Any]]:
        """The processed files matching ``query`` (their ``columns``), in path order."""
        where, parameters = self._where(query)
        # SQLite's "+": sort the rows found rather than walk the whole path index in order (10x on a range)
        order = self.backend.byte_order("f.file_path") if self.postgresql else "+f.file_path"
        sql = f"SELECT {', '.join(f'f.{column}' for column in columns)} FROM processed_files f WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit)
        return self.backend.rows(sql, parameters)

    def count(self, query: LibraryQuery) -> int:
        where, parameters = self._where(query)
        return int(self.backend.value(f"SELECT COUNT(*) FROM processed_files f WHERE {where}", parameters))

    def _where(self, query: LibraryQuery) -> tuple[str, list[Any]]:
        conditions: list[str] = []
        parameters: list[Any] = []
        for column, operator, value in query.comparisons:
            if operator not in _OPERATORS:
                raise ValueError(f"unknown operator {operator!r}")
            if operator == SAME_TEXT:
                # SQLite's NOCASE does not exist on PostgreSQL; LOWER() on SQLite would leave the index aside
                conditions.append(
                    f"LOWER(f.{column}) = LOWER(?)" if self.postgresql else f"f.{column} = ? COLLATE NOCASE"
                )
            else:
                conditions.append(f"f.{column} {operator} ?")
            parameters.append(value)
        for columns, _ in query.words:
            if not WORD_COLUMNS.issuperset(columns):
                raise ValueError(f"no full-text index over {columns}")
        if query.words and self.postgresql:
            for columns, word in query.words:  # each word may be found in another of its columns
                conditions.append(
                    "(" + " OR ".join(f"library_search_words(f.{c}) @@ library_search_prefix(?)" for c in columns) + ")"
                )
                parameters.extend(word for _ in columns)
        elif query.words:
            conditions.append("f.id IN (SELECT rowid FROM library_search WHERE library_search MATCH ?)")
            parameters.append(
                " AND ".join(
                    f'{{{" ".join(columns)}}} : "{word.replace(chr(34), chr(34) * 2)}"*'
                    for columns, word in query.words
                )
            )
        return " AND ".join(conditions) or "1 = 1", parameters

    # ------------------------------------------------------------------ missing

    def owned_catalogue_albums(self, statuses: Iterable[str]) -> list[dict[str, Any]]:
        """The catalogue's albums the library has a file of (files in one of ``statuses``)."""
        wanted = list(statuses)
        return self.backend.rows(
            "SELECT c.series_slug, c.album_id, c.tome, c.tome_number, c.tome_kind, c.title_slug, f.series, "
            "f.file_path FROM processed_files f JOIN catalogue_albums c ON c.album_id = f.bdgest_id "
            f"WHERE f.status IN ({', '.join('?' for _ in wanted)})",
            wanted,
        )

    def series_albums(self, series_slug: str) -> list[dict[str, Any]]:
        """Every album the catalogue lists in one series."""
        return self.backend.rows(
            "SELECT album_id, tome, tome_number, tome_kind, title_slug, url FROM catalogue_albums WHERE series_slug = ?",
            [series_slug],
        )

    # ------------------------------------------------------------------ web pages

    def counts_by(
        self, column: str, *, by_count: bool, limit: int, statuses: Sequence[str] = ()
    ) -> list[tuple[str, int]]:
        """How many files have each value of ``column`` (ours), most frequent first or by value;
        only files in ``statuses`` when given."""
        label = f"COALESCE(CAST({column} AS TEXT), '(unknown)')"
        ordered = self.backend.byte_order(label)
        where = f"WHERE status IN ({', '.join('?' for _ in statuses)}) " if statuses else ""
        order = f"COUNT(*) DESC, {ordered}" if by_count else ordered
        rows = self.backend.tuples(
            f"SELECT {label}, COUNT(*) FROM processed_files {where}GROUP BY {label} ORDER BY {order} LIMIT ?",
            [*statuses, limit],
        )
        return [(str(value), int(count)) for value, count in rows]

    def file_count(self) -> int:
        return int(self.backend.value("SELECT COUNT(*) FROM processed_files"))

    def session_files(
        self, session_id: int, *, state: str = "", decision: str = "", limit: int = 5000
    ) -> list[dict[str, Any]]:
        """A session's files in order, with the record each got (filtered by state and decision)."""
        conditions: list[str] = ["sf.session_id = ?"]
        parameters: list[Any] = [session_id]
        for condition, value in (("sf.state = ?", state), ("pf.decision = ?", decision)):
            if value:
                conditions.append(condition)
                parameters.append(value)
        return self.backend.rows(
            "SELECT sf.file_path AS file, sf.state, sf.error_msg AS reason, sf.file_id, pf.bdgest_id AS album_id, "
            "pf.series, pf.tome, pf.title, pf.confidence_score AS score, pf.decision, pf.status "
            "FROM session_files sf LEFT JOIN processed_files pf ON pf.id = sf.file_id "
            f"WHERE {' AND '.join(conditions)} ORDER BY sf.position LIMIT ?",
            [*parameters, limit],
        )

    def session_page(
        self,
        session_id: int,
        *,
        state: str = "",
        decision: str = "",
        text: str = "",
        sort: str = "position",
        descending: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a session's files (``limit`` rows from ``offset``) in ``sort`` order (a key of
        :data:`SESSION_SORTS`), filtered by state, decision and words of the path; and how many match.
        Two indexed queries whatever the session's size: a page of 10,000 files costs a page of 100."""
        if sort not in SESSION_SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        conditions: list[str] = ["sf.session_id = ?"]
        parameters: list[Any] = [session_id]
        for condition, value in (("sf.state = ?", state), ("pf.decision = ?", decision)):
            if value:
                conditions.append(condition)
                parameters.append(value)
        for word in text.split():  # every word somewhere in the path, case ignored
            conditions.append("LOWER(sf.file_path) LIKE ? ESCAPE '!'")
            escaped = word.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
            parameters.append(f"%{escaped}%")
        where = " AND ".join(conditions)
        joined = "FROM session_files sf LEFT JOIN processed_files pf ON pf.id = sf.file_id"
        # counted from the session's own index, unless a record's column must be read
        counted = joined if decision else "FROM session_files sf"
        total = int(self.backend.value(f"SELECT COUNT(*) {counted} WHERE {where}", parameters))
        direction = "DESC" if descending else "ASC"
        # NULLs last either way, then the session's order: a stable order for paging
        order = ", ".join(f"{column} {direction} NULLS LAST" for column in SESSION_SORTS[sort])
        # the page's positions first (a sort that carries one number per row, the records joined only
        # when the order or a filter reads them), then its rows
        ranked = joined if decision or sort in RECORD_SORTS else "FROM session_files sf"
        positions = [
            position
            for (position,) in self.backend.tuples(
                f"SELECT sf.position {ranked} WHERE {where} ORDER BY {order}, sf.position LIMIT ? OFFSET ?",
                [*parameters, limit, offset],
            )
        ]
        if not positions:
            return [], total
        rows = self.backend.rows(
            "SELECT sf.position, sf.file_path AS file, sf.state, sf.error_msg AS reason, sf.file_id, "
            "pf.bdgest_id AS album_id, pf.series, pf.tome, pf.title, pf.confidence_score AS score, pf.decision, "
            f"pf.status {joined} WHERE sf.session_id = ? AND sf.position IN ({', '.join('?' for _ in positions)})",
            [session_id, *positions],
        )
        by_position = {row["position"]: row for row in rows}
        return [by_position[position] for position in positions], total

    def album_known(self, album_id: int) -> bool:
        """Whether the catalogue index or the album cache knows the album."""
        return bool(
            self.backend.value(
                "SELECT 1 FROM catalogue_albums WHERE album_id = ? UNION ALL SELECT 1 FROM bdgest_albums WHERE id = ? "
                "LIMIT 1",
                [album_id, album_id],
            )
        )

    def files_under(self, folder: str) -> list[dict[str, Any]]:
        """The files recorded under ``folder`` (canonical, no trailing separator), in path order."""
        column = self.backend.byte_order("file_path")
        return self.backend.rows(
            f"SELECT * FROM processed_files WHERE {column} > ? AND {column} < ? ORDER BY {column}",
            list(paths_under(folder)),
        )
