"""The persisted catalogue index: a local SQLite file of normalised keys that a process opens, not builds.

Matching asks the catalogue a few questions (:class:`~bdnex_core.matching.index.CatalogueLookup`).
Building the in-memory answer to them from 300,000 catalogue rows costs every process seconds and
hundreds of MB; this file holds them ready: series by normalised form and by word, albums by series
and by title key, and the list the fuzzy search runs over. Why SQLite tables and not a packed
memory-mapped file, and why a file of its own beside the database (or, with PostgreSQL, one per
machine in the cache folder): see docs/architecture.md, "The catalogue index".

- **Derived, never the truth**: everything in it comes from the database's ``catalogue_albums`` by
  the pure functions of :mod:`bdnex_core.matching.index`. Deleting it loses nothing.
- **Versioned with this code**: :data:`FORMAT` is in the file's name and in its ``user_version``; a
  change to the tables or to a derived value bumps it, and the new code builds its own file.
- **Incremental**: the file records the revision of each sitemap it holds
  (``catalogue_sitemaps.revision``); :func:`open_catalogue_index` re-reads only the sitemaps whose
  revision differs, in one transaction (WAL: readers keep their snapshot until it commits).
- **Rebuilt, never a crash**: a missing, older or damaged file is built again (a new file, renamed
  over the old one: a reader never sees half of one), with one line saying why.
- **Extensible**: a value derived per series or per album is one more column in :data:`SERIES_COLUMNS`
  or :data:`ALBUM_COLUMNS`, filled by :func:`series_values` / :func:`album_values`, read into
  :class:`~bdnex_core.matching.index.IndexedAlbum`; bump :data:`FORMAT`. A value derived from a whole
  series is computed again for each series a change touches: the edition groups
  (``albums.edition``: the lowest album id of the album's group, NULL for an album with no other
  edition). A series' qualifier is a pure function of its name, computed when a series is read.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import re
import sqlite3
import sys
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, suppress
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core import paths
from bdnex_core.errors import BdnexError, CatalogueError
from bdnex_core.matching.editions import tome_key
from bdnex_core.matching.index import (
    IndexedAlbum,
    SeriesList,
    editions_by_album,
    qualifier_of,
    series_keys,
    series_words,
    title_key,
)
from bdnex_core.matching.normalize import strip_articles
from bdnex_core.store.sqlite_files import set_aside

if TYPE_CHECKING:
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB

logger = logging.getLogger(__name__)

#: the file's format: bump it whenever a table, a column or a derived value changes
FORMAT = 4
#: what the file reads from catalogue_albums (after album_id)
SOURCE_COLUMNS = ("series_norm", "tome", "tome_number", "tome_kind", "title_norm", "sitemap")
#: per series, beside its id: (column, SQL type); a value equal to the name is stored as NULL
SERIES_COLUMNS = (("name", "TEXT NOT NULL"), ("stripped", "TEXT"))
#: per album, beside its id, its series and its sitemap; a title key equal to the title is NULL
ALBUM_COLUMNS = (
    ("tome", "TEXT"),
    ("tome_number", "INTEGER"),
    ("tome_kind", "TEXT"),
    ("title", "TEXT NOT NULL"),
    ("title_key", "TEXT"),
    # the albums edition groups are made within (tome kind and tome without its printing code): an update
    # groups again only the ones its albums share
    ("tome_group", "TEXT NOT NULL"),
)
# where the tome group is among an album's derived values
_TOME_GROUP = [name for name, _kind in ALBUM_COLUMNS].index("tome_group")
# above this share of the catalogue changed, one new file is faster than updating the old one
REBUILD_SHARE = 0.3
_BATCH = 5000

Announce = Callable[[str], None]


class IndexUnusable(Exception):
    """The file cannot be used as it is (the reason says why): it is built again."""


def series_values(name: str) -> tuple[Any, ...]:
    """The derived columns of one series (:data:`SERIES_COLUMNS`, ``name`` first)."""
    stripped = strip_articles(name)
    return (name, None if stripped == name else stripped)


def album_values(
    tome: str | None, tome_number: int | None, tome_kind: str | None, title_norm: str | None
) -> tuple[Any, ...]:
    """The derived columns of one album (:data:`ALBUM_COLUMNS`)."""
    title = title_norm or ""
    key = title_key(title)
    return (tome, tome_number, tome_kind, title, None if key == title else key, tome_group(tome_kind, tome))


@lru_cache(maxsize=8192)  # a few thousand distinct tomes, 300,000 albums
def tome_group(tome_kind: str | None, tome: str | None) -> str:
    """The albums whose editions :func:`~bdnex_core.matching.editions.edition_groups` may group together,
    within one series (``albums.tome_group``)."""
    return f"{tome_kind or ''}|{tome_key(tome)}"


def _schema() -> list[str]:
    series_columns = ", ".join(f"{name} {kind}" for name, kind in SERIES_COLUMNS)
    album_columns = ", ".join(f"{name} {kind}" for name, kind in ALBUM_COLUMNS)
    return [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE sitemaps (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, revision TEXT)",
        f"CREATE TABLE series (id INTEGER PRIMARY KEY, {series_columns})",
        "CREATE TABLE series_keys (key TEXT NOT NULL, series INTEGER NOT NULL, PRIMARY KEY (key, series)) WITHOUT ROWID",
        "CREATE TABLE series_words (word TEXT NOT NULL, series INTEGER NOT NULL, PRIMARY KEY (word, series)) "
        "WITHOUT ROWID",
        # edition: the lowest album id of the album's edition group (NULL when it has no other edition)
        "CREATE TABLE albums (album_id INTEGER PRIMARY KEY, series INTEGER NOT NULL, sitemap INTEGER, "
        f"edition INTEGER, {album_columns})",
        # every series, ordered as the fuzzy search wants them: ids packed, names one per line
        "CREATE TABLE fuzzy_list (id INTEGER PRIMARY KEY CHECK (id = 1), series BLOB NOT NULL, names TEXT NOT NULL)",
    ]


_INDEXES = (
    "CREATE INDEX albums_by_series ON albums(series, album_id)",
    "CREATE INDEX albums_by_title ON albums(coalesce(title_key, title)) WHERE title <> ''",
    "CREATE INDEX albums_by_sitemap ON albums(sitemap)",
    "CREATE INDEX albums_by_edition ON albums(edition) WHERE edition IS NOT NULL",
    "CREATE INDEX series_by_name ON series(name)",
)


# ----------------------------------------------------------------------------- where it lives


def index_path(db: BDneXDB, settings: Settings | None = None) -> Path | None:
    """Beside an SQLite database; in the cache folder, per database, with PostgreSQL; ``None`` in memory."""
    if db.memory:
        return None
    if db.path is not None:
        return db.path.with_name(f"{db.path.name}-catalogue-v{FORMAT}.sqlite")

    cache = settings.cache.dir if settings is not None else paths.user_data_dir() / "cache"
    identity = db.identity
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9]+", "-", identity.rsplit("@", 1)[-1].rsplit("/", 1)[-1])[:40].strip("-")
    return Path(cache) / "catalogue-index" / f"{readable or 'postgresql'}-{digest}-v{FORMAT}.sqlite"


# ----------------------------------------------------------------------------- reading


def _connect(path: Path, *, write: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 60000")
    if not write:
        conn.execute("PRAGMA query_only = 1")
    return conn


class PersistedIndex:
    """A catalogue index file, read lazily: each query reads the few pages it needs.

    Implements :class:`~bdnex_core.matching.index.CatalogueLookup`. Safe from several threads (each
    reads through its own connection). A query that finds the file damaged rebuilds it, once, through
    ``on_damage``, then reads the new one.
    """

    def __init__(self, path: Path, *, on_damage: Callable[[str], None] | None = None):
        self.path = path
        self._on_damage = on_damage
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._names: dict[int, str] = {}
        self._all: SeriesList | None = None
        if not path.is_file():
            raise FileNotFoundError(path)
        with closing(_connect(path)) as conn:
            self._check(conn)

    @staticmethod
    def _check(conn: sqlite3.Connection) -> dict[str, str | None]:
        """The sitemap revisions the file holds; :class:`IndexUnusable` if it is not a complete index of our format."""
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
                raise IndexUnusable("empty")
            if version != FORMAT:
                raise IndexUnusable(f"format {version}, this version reads {FORMAT}")
            complete = conn.execute("SELECT value FROM meta WHERE key = 'complete'").fetchone()
            if complete is None:
                raise IndexUnusable("left incomplete")
            return dict(conn.execute("SELECT name, revision FROM sitemaps").fetchall())
        except sqlite3.DatabaseError as exc:
            raise IndexUnusable(f"damaged: {exc}") from None

    def revisions(self) -> dict[str, str | None]:
        return self._check(self._conn())

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.generation != self._generation:
            if conn is not None:
                conn.close()
            conn = self._local.conn = _connect(self.path)
            self._local.generation = self._generation
        return conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if self._on_damage is None or (isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)):
                raise
            with self._lock:
                self._on_damage(f"damaged: {exc}")
                self._generation += 1
                self._names.clear()
                self._all = None
            return self._conn().execute(sql, params).fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ CatalogueLookup

    def series_with_key(self, key: str) -> Sequence[int]:
        return [series for (series,) in self._query("SELECT series FROM series_keys WHERE key = ?", [key])]

    def keys_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, Sequence[int]]]:
        # every key starting with the prefix sorts between it and the prefix with its last character raised
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        wanted = limit * 4
        while True:
            rows = self._query(
                "SELECT key, series FROM series_keys WHERE key >= ? AND key < ? ORDER BY key, series LIMIT ?",
                [prefix, upper, wanted],
            )
            found: dict[str, list[int]] = {}
            for key, series in rows:
                found.setdefault(key, []).append(series)
            if len(rows) < wanted or len(found) > limit:
                ordered: list[tuple[str, Sequence[int]]] = list(found.items())
                return ordered[:limit]
            wanted *= 4

    def series_with_words(self, words: Iterable[str]) -> dict[int, str]:
        wanted = sorted(set(words))
        if not wanted:
            return {}
        rows = self._query(
            "SELECT w.series, coalesce(s.stripped, s.name), s.name FROM series_words w JOIN series s ON s.id = w.series "
            f"WHERE w.word IN ({', '.join('?' for _ in wanted)})",
            wanted,
        )
        names = self._names
        pool = {}
        for series, stripped, name in rows:
            pool[series] = stripped
            names[series] = name
        return pool

    def all_series(self) -> SeriesList:
        if self._all is None:
            rows = self._query("SELECT series, names FROM fuzzy_list WHERE id = 1")
            ids = array("q")
            names: list[str] = []
            if rows:
                ids.frombytes(rows[0][0])
                names = rows[0][1].split("\n") if rows[0][1] else []
            self._all = SeriesList(ids, names, [len(name) for name in names])
        return self._all

    def series_name(self, series: int) -> str:
        name = self._names.get(series)
        if name is None:
            rows = self._query("SELECT name FROM series WHERE id = ?", [series])
            name = self._names[series] = rows[0][0] if rows else ""
        return name

    def series_albums(self, series: int) -> list[IndexedAlbum]:
        name = self.series_name(series)
        qualifier = qualifier_of(name)
        rows = self._query(
            "SELECT album_id, tome, tome_number, tome_kind, title, edition FROM albums WHERE series = ? "
            "ORDER BY album_id",
            [series],
        )
        groups: dict[int, list[int]] = {}
        for album_id, *_values, edition in rows:
            if edition is not None:
                groups.setdefault(edition, []).append(album_id)
        return [
            IndexedAlbum(
                album_id,
                name,
                tome,
                tome_number,
                tome_kind,
                title,
                _others(groups, edition, album_id),
                qualifier,
            )
            for album_id, tome, tome_number, tome_kind, title, edition in rows
        ]

    def albums_titled(self, key: str) -> list[IndexedAlbum]:
        if not key:
            return []
        rows = self._query(
            "SELECT a.album_id, s.name, a.tome, a.tome_number, a.tome_kind, a.title, a.edition FROM albums a "
            "JOIN series s ON s.id = a.series WHERE coalesce(a.title_key, a.title) = ? AND a.title <> '' "
            "ORDER BY a.album_id",
            [key],
        )
        wanted = sorted({edition for *_values, edition in rows if edition is not None})
        groups: dict[int, list[int]] = {}
        if wanted:
            for album_id, edition in self._query(
                f"SELECT album_id, edition FROM albums WHERE edition IN ({', '.join('?' for _ in wanted)}) "
                "ORDER BY album_id",
                wanted,
            ):
                groups.setdefault(edition, []).append(album_id)
        return [
            IndexedAlbum(
                album_id,
                name,
                tome,
                tome_number,
                tome_kind,
                title,
                _others(groups, edition, album_id),
                qualifier_of(name),
            )
            for album_id, name, tome, tome_number, tome_kind, title, edition in rows
        ]

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM albums")[0][0])


def _others(groups: dict[int, list[int]], edition: int | None, album_id: int) -> tuple[int, ...]:
    """The other editions of an album, from its group's ids (ascending)."""
    if edition is None:
        return ()
    return tuple(other for other in groups.get(edition, ()) if other != album_id)


# ----------------------------------------------------------------------------- writing


def _albums(db: BDneXDB, sitemaps: Iterable[str] | None = None) -> Iterator[tuple[Any, ...]]:
    """(album_id, series_norm, tome, tome_number, tome_kind, title_norm, sitemap) from the database."""
    return db.catalogue.album_rows(("album_id", *SOURCE_COLUMNS), sitemaps=sitemaps)


class _Writer:
    """Fills an index file's tables, in the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection, *, new_file: bool = False):
        self.conn = conn
        self.new_file = new_file
        # a new file: keys and words gathered and written in their order at the end (each B-tree filled
        # from left to right, not page after page split at random)
        self.pending: tuple[list[tuple[str, int]], list[tuple[str, int]]] | None = ([], []) if new_file else None
        # name -> series: every one in a new file; in an update, those asked for (by the name's index)
        self.series_ids: dict[str, int] = {}
        self.next_series = 1 + int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM series").fetchone()[0])
        self.added: list[tuple[int, str, str]] = []  # (series, name, name without article), for the fuzzy list
        self.removed: set[int] = set()
        # in an update: the (series, tome group) whose edition groups are computed again
        self.touched: set[tuple[int, str]] = set()
        # in a new file, every album (series, sitemap, album_values), written once at the end with its edition
        # group, in album-id order; by album id: the last row of an id wins, as in the table
        self.held: dict[int, tuple[int, int | None, tuple[Any, ...]]] = {}
        self.sitemap_ids: dict[str, int] = {
            name: number for number, name in conn.execute("SELECT id, name FROM sitemaps")
        }
        self.series_changed = False
        series_columns = ", ".join(name for name, _kind in SERIES_COLUMNS)
        self._insert_series = (
            f"INSERT INTO series (id, {series_columns}) VALUES (?, {', '.join('?' for _ in SERIES_COLUMNS)})"
        )
        album_columns = ", ".join(name for name, _kind in ALBUM_COLUMNS)
        self._insert_album = (
            f"INSERT OR REPLACE INTO albums (album_id, series, sitemap, {album_columns}) "
            f"VALUES (?, ?, ?, {', '.join('?' for _ in ALBUM_COLUMNS)})"
        )
        self._insert_new_album = (
            f"INSERT INTO albums (album_id, series, sitemap, edition, {album_columns}) "
            f"VALUES (?, ?, ?, ?, {', '.join('?' for _ in ALBUM_COLUMNS)})"
        )

    def sitemap(self, name: str | None) -> int | None:
        if name is None:
            return None
        number = self.sitemap_ids.get(name)
        if number is None:
            number = self.sitemap_ids[name] = 1 + max(self.sitemap_ids.values(), default=0)
            self.conn.execute("INSERT INTO sitemaps (id, name, revision) VALUES (?, ?, NULL)", [number, name])
        return number

    def add_albums(self, rows: Iterable[tuple[Any, ...]]) -> int:
        count = 0
        albums: list[tuple[Any, ...]] = []
        new_series: list[tuple[Any, ...]] = []
        series_ids, sitemap_ids = self.series_ids, self.sitemap_ids
        held = self.held if self.new_file else None
        if held is None:
            rows = self._known_series_looked_up(rows)
        for album_id, series_norm, tome, tome_number, tome_kind, title_norm, sitemap in rows:
            count += 1
            series = series_ids.get(series_norm)
            if series is None:
                series = series_ids[series_norm] = self.next_series
                self.next_series += 1
                new_series.append((series, *series_values(series_norm)))
            number = sitemap_ids.get(sitemap) if sitemap is not None else None
            if number is None and sitemap is not None:
                number = self.sitemap(sitemap)
            values = album_values(tome, tome_number, tome_kind, title_norm)
            if held is not None:  # written by finish, with the edition groups
                held[album_id] = (series, number, values)
                if len(new_series) >= _BATCH:
                    self._flush([], new_series)
                    new_series = []
                continue
            self.touched.add((series, values[_TOME_GROUP]))
            albums.append((album_id, series, number, *values))
            if len(albums) >= _BATCH:
                self._flush(albums, new_series)
                albums, new_series = [], []
        self._flush(albums, new_series)
        return count

    def _known_series_looked_up(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        """The rows as they come, the series the file has already put in :attr:`series_ids` a batch of rows
        at a time (one query per few hundred names, not one per album)."""
        iterator = iter(rows)
        while batch := list(islice(iterator, _BATCH)):
            unknown = sorted({row[1] for row in batch} - self.series_ids.keys())
            for start in range(0, len(unknown), 500):
                names = unknown[start : start + 500]
                self.series_ids.update(
                    self.conn.execute(
                        f"SELECT name, id FROM series WHERE name IN ({', '.join('?' for _ in names)})", names
                    ).fetchall()
                )
            yield from batch

    def _flush(self, albums: list[tuple[Any, ...]], new_series: list[tuple[Any, ...]]) -> None:
        if new_series:
            self.series_changed = True
            self.conn.executemany(self._insert_series, new_series)
            keys, words = self.pending if self.pending is not None else ([], [])
            for series, name, stripped, *_derived in new_series:
                stripped = stripped or name
                if not self.new_file:
                    self.added.append((series, name, stripped))
                keys.extend((key, series) for key in series_keys(name, stripped))
                words.extend((word, series) for word in series_words(name, stripped))
            if self.pending is None:
                self._insert_forms(keys, words)
        if albums:
            self.conn.executemany(self._insert_album, albums)

    def _insert_forms(self, keys: list[tuple[str, int]], words: list[tuple[str, int]]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO series_keys (key, series) VALUES (?, ?)", keys)
        self.conn.executemany("INSERT OR IGNORE INTO series_words (word, series) VALUES (?, ?)", words)

    def remove_sitemaps(self, names: Sequence[str]) -> None:
        """The albums of these sitemaps, and the series left without any album."""
        numbers = [self.sitemap_ids[name] for name in names if name in self.sitemap_ids]
        if not numbers:
            return
        marks = ", ".join("?" for _ in numbers)
        touched = self.conn.execute(
            f"SELECT DISTINCT series, tome_group FROM albums WHERE sitemap IN ({marks})", numbers
        ).fetchall()
        self.conn.execute(f"DELETE FROM albums WHERE sitemap IN ({marks})", numbers)
        self.touched.update(touched)
        self.remove_empty_series(series for series, _group in touched)

    def _candidates(self, series: Iterable[int]) -> bool:
        """The temporary table ``candidates`` holding these series; False when there are none."""
        wanted = sorted(set(series))
        if not wanted:
            return False
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS candidates (series INTEGER PRIMARY KEY)")
        self.conn.execute("DELETE FROM candidates")
        self.conn.executemany("INSERT INTO candidates (series) VALUES (?)", [(series,) for series in wanted])
        return True

    def remove_empty_series(self, candidates: Iterable[int]) -> None:
        if not self._candidates(candidates):
            return
        gone = dict(
            self.conn.execute(
                "SELECT s.id, s.name FROM candidates c JOIN series s ON s.id = c.series "
                "WHERE NOT EXISTS (SELECT 1 FROM albums a WHERE a.series = c.series)"
            ).fetchall()
        )
        if not gone:
            return
        self.series_changed = True
        self.removed.update(gone)
        # by their whole primary key: the keys and words a series has are those its name gives
        self.conn.executemany(
            "DELETE FROM series_keys WHERE key = ? AND series = ?",
            [(key, series) for series, name in gone.items() for key in series_keys(name)],
        )
        self.conn.executemany(
            "DELETE FROM series_words WHERE word = ? AND series = ?",
            [(word, series) for series, name in gone.items() for word in series_words(name)],
        )
        self.conn.executemany("DELETE FROM series WHERE id = ?", [(series,) for series in gone])
        for name in gone.values():
            self.series_ids.pop(name, None)

    def finish(self, revisions: dict[str, str | None]) -> None:
        """The fuzzy list when the series changed, and the sitemap revisions the file now holds."""
        if self.pending is not None:
            keys, words = self.pending
            self._insert_forms(sorted(keys), sorted(words))
            self.pending = None
        if self.new_file:
            self._write_held_albums()
        else:
            self._group_editions()
        if self.series_changed and not (not self.new_file and self._update_fuzzy_list()):
            rows = self.conn.execute(
                "SELECT id, coalesce(stripped, name) AS key FROM series ORDER BY length(key), key, name"
            ).fetchall()
            self._write_fuzzy_list(array("q", (series for series, _key in rows)), [key for _series, key in rows])
        for name, revision in revisions.items():
            self.sitemap(name)
            self.conn.execute("UPDATE sitemaps SET revision = ? WHERE name = ?", [revision, name])
        gone = [(name,) for name in self.sitemap_ids if name not in revisions]
        self.conn.executemany("DELETE FROM sitemaps WHERE name = ?", gone)
        for (name,) in gone:
            del self.sitemap_ids[name]

    def _write_held_albums(self) -> None:
        """A new file's albums, each with its edition group (:func:`~bdnex_core.matching.index.editions_by_album`,
        the in-memory index's rule), inserted once in album-id order: the table's B-tree is filled from left
        to right and no row is written twice."""
        held, self.held = self.held, {}
        # the albums that share a series and a tome group with another (most albums have none)
        first: dict[tuple[int, str], int] = {}
        shared: dict[tuple[int, str], list[int]] = {}
        for album_id, (series, _sitemap, values) in held.items():
            group = (series, values[_TOME_GROUP])
            other = first.setdefault(group, album_id)
            if other != album_id:
                members = shared.get(group)
                if members is None:
                    shared[group] = [other, album_id]
                else:
                    members.append(album_id)
        del first
        editions: dict[int, int] = {}
        for members in shared.values():
            members.sort()
            # (album_id, tome kind, tome, title) from the derived values (tome, number, kind, title, ...)
            albums = [
                (album_id, held[album_id][2][2], held[album_id][2][0], held[album_id][2][3]) for album_id in members
            ]
            for album_id, others in editions_by_album(albums).items():
                editions[album_id] = min(album_id, *others)
        self.conn.executemany(
            self._insert_new_album,
            (
                (album_id, series, sitemap, editions.get(album_id), *values)
                for album_id, (series, sitemap, values) in sorted(held.items())
            ),
        )

    def _group_editions(self) -> None:
        """``albums.edition`` of the series the change touched in an update
        (:func:`~bdnex_core.matching.index.editions_by_album`, the in-memory index's rule)."""
        by_group: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
        touched = sorted((series, group) for series, group in self.touched if series not in self.removed)
        if not touched:
            return
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS touched_groups (series INTEGER, tome_group TEXT, "
            "PRIMARY KEY (series, tome_group))"
        )
        self.conn.execute("DELETE FROM touched_groups")
        self.conn.executemany("INSERT INTO touched_groups (series, tome_group) VALUES (?, ?)", touched)
        rows = self.conn.execute(
            "SELECT a.series, a.tome_group, a.album_id, a.tome_kind, a.tome, a.title, a.edition "
            # CROSS JOIN: the albums of the few touched series read through their index (albums_by_series),
            # not every album scanned for them
            "FROM touched_groups t CROSS JOIN albums a ON a.series = t.series AND a.tome_group = t.tome_group"
        ).fetchall()
        # the groups are made again: each album's edition from scratch
        self.conn.executemany(
            "UPDATE albums SET edition = NULL WHERE album_id = ?",
            [(row[2],) for row in rows if row[6] is not None],
        )
        for series, group, *album, _edition in rows:
            by_group.setdefault((series, group), []).append(tuple(album))
        updates: list[tuple[int, int]] = []
        for albums in by_group.values():
            if len(albums) > 1:
                albums.sort()  # by album id
                for album_id, others in editions_by_album(albums).items():
                    updates.append((min(album_id, *others), album_id))
        self.conn.executemany("UPDATE albums SET edition = ? WHERE album_id = ?", updates)

    def _write_fuzzy_list(self, ids: array, names: list[str]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO fuzzy_list (id, series, names) VALUES (1, ?, ?)", [ids.tobytes(), "\n".join(names)]
        )

    def _update_fuzzy_list(self) -> bool:
        """The series removed taken out of the fuzzy list and those added put in their place, instead of
        sorting every series again; False when there is no list to update."""
        row = self.conn.execute("SELECT series, names FROM fuzzy_list WHERE id = 1").fetchone()
        if row is None:
            return False
        ids = array("q")
        ids.frombytes(row[0])
        names = row[1].split("\n") if row[1] else []
        if self.removed:
            kept = [position for position, series in enumerate(ids) if series not in self.removed]
            ids, names = array("q", (ids[position] for position in kept)), [names[position] for position in kept]
        full_names: dict[int, str] = {}

        def full_name(series: int) -> str:  # ties of the name without article are ordered by the name
            if series not in full_names:
                found = self.conn.execute("SELECT name FROM series WHERE id = ?", [series]).fetchone()
                full_names[series] = found[0] if found else ""
            return full_names[series]

        # the series added, in the list's order, merged into it in one pass (not inserted one by one, each
        # insertion moving the 100,000 names after it)
        added = sorted(self.added, key=lambda series: (len(series[2]), series[2], series[1]))
        merged_ids = array("q")
        merged_names: list[str] = []
        start = 0
        for series, name, stripped in added:
            full_names[series] = name
            wanted = (len(stripped), stripped)
            position = bisect.bisect_left(names, wanted, lo=start, key=lambda other: (len(other), other))
            while position < len(names) and names[position] == stripped and full_name(ids[position]) < name:
                position += 1
            merged_ids.extend(ids[start:position])
            merged_names.extend(names[start:position])
            merged_ids.append(series)
            merged_names.append(stripped)
            start = position
        merged_ids.extend(ids[start:])
        merged_names.extend(names[start:])
        ids, names = merged_ids, merged_names
        self._write_fuzzy_list(ids, names)
        return True


class FullBuild:
    """A new index file, written beside ``path`` and renamed over it by :meth:`finish` (a reader has the
    old file or the new one, never half of one). ``catalogue update`` feeds it the sitemaps it has just
    stored (:meth:`add`); :meth:`finish` reads the others from the database."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        _remove(self.temporary)
        self.conn = _connect(self.temporary, write=True)
        self.conn.execute("PRAGMA journal_mode = OFF")  # a new file: nothing to roll back to but its absence
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.execute("BEGIN")
        for statement in _schema():
            self.conn.execute(statement)
        self.writer = _Writer(self.conn, new_file=True)
        self.writer.series_changed = True
        self.fed: dict[str, str | None] = {}
        self.albums = 0

    def add(self, sitemap: str, revision: str | None, rows: Iterable[tuple[Any, ...]]) -> None:
        """The albums of one sitemap as stored with ``revision``: (album_id, *SOURCE_COLUMNS) tuples."""
        self.fed[sitemap] = revision
        self.albums += self.writer.add_albums(rows)

    def finish(self, db: BDneXDB) -> int:
        """The sitemaps not fed, from the database; the file completed and put in place. Returns its albums."""
        try:
            revisions = db.catalogue.revisions()  # before the rows: a sitemap replaced meanwhile reads as changed
            others = [name for name in revisions if name not in self.fed]
            if others:
                self.albums += self.writer.add_albums(_albums(db, others))
            self.writer.finish({**{name: revisions[name] for name in others}, **self.fed})
            for statement in _INDEXES:
                self.conn.execute(statement)
            # which database it was built from, as a digest: a PostgreSQL URL may carry a password
            database = hashlib.sha256(db.identity.encode()).hexdigest()
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('complete', '1'), ('database', ?)", [database])
            self.conn.execute(f"PRAGMA user_version = {FORMAT}")
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA journal_mode = WAL")  # readers beside the incremental updates to come
            self.conn.close()
            with open(self.temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            for suffix in ("-wal", "-shm"):  # an older file's side files must not be read with the new one
                _remove(Path(f"{self.path}{suffix}"))
            os.replace(self.temporary, self.path)
        finally:
            self.abort()
        return self.albums

    def abort(self) -> None:
        """Nothing of an unfinished build left behind."""
        self.conn.close()
        _remove(self.temporary)
        for suffix in ("-wal", "-shm", "-journal"):
            _remove(Path(f"{self.temporary}{suffix}"))


def build(db: BDneXDB, path: Path) -> int:
    """A new index file of the whole catalogue (see :class:`FullBuild`); returns its albums."""
    return FullBuild(path).finish(db)


def refresh(path: Path, db: BDneXDB, wanted: dict[str, str | None]) -> list[str]:
    """Bring the file up to the catalogue's sitemap revisions ``wanted``: re-read the changed sitemaps,
    drop the ones gone, in one transaction. Returns the sitemaps re-read."""
    with closing(_connect(path, write=True)) as conn:
        conn.execute("PRAGMA cache_size = -65536")  # the albums' three indexes touched all over
        conn.execute("BEGIN IMMEDIATE")
        try:
            held = dict(conn.execute("SELECT name, revision FROM sitemaps").fetchall())
            changed = sorted(name for name in set(held) | set(wanted) if held.get(name) != wanted.get(name))
            if changed:
                writer = _Writer(conn)
                writer.remove_sitemaps(changed)
                present = [name for name in changed if name in wanted]
                writer.add_albums(_albums(db, present))
                writer.finish(wanted)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return changed


def _remove(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


# ----------------------------------------------------------------------------- opening


def _share(counts: dict[str, int], changed: Iterable[str]) -> float:
    """The share of the catalogue (by its sitemaps' album counts) the ``changed`` sitemaps hold; a
    sitemap it does not have yet counts as an average one."""
    changed = set(changed)
    if not counts:
        return 1.0 if changed else 0.0
    total = sum(counts.values()) or 1
    average = total / len(counts)
    touched = sum(counts.get(name, average) for name in changed)
    return touched / (total + sum(average for name in changed if name not in counts))


def _changed_share(db: BDneXDB, held: dict[str, str | None], wanted: dict[str, str | None]) -> float:
    return _share(
        db.catalogue.album_counts(), (name for name in set(held) | set(wanted) if held.get(name) != wanted.get(name))
    )


def _held(path: Path) -> dict[str, str | None] | str:
    """The sitemap revisions the file holds, or why it cannot be used."""
    if not path.is_file():
        return "missing"
    try:
        with closing(_connect(path)) as conn:
            return PersistedIndex._check(conn)
    except IndexUnusable as why:
        return str(why)
    except sqlite3.Error as exc:
        return f"unreadable: {exc}"


def full_build_for_import(
    db: BDneXDB, settings: Settings | None, sitemaps: Sequence[str], *, announce: Announce | None = None
) -> FullBuild | None:
    """A new index file to feed while the ``sitemaps`` named are imported, when one is needed anyway (none,
    an unusable one, or most of the catalogue about to change); ``None`` when updating the file after
    the import costs less."""
    path = index_path(db, settings)
    if path is None:
        return None
    held = _held(path)
    if isinstance(held, str):
        reason = held
    elif _share(db.catalogue.album_counts(), sitemaps) > REBUILD_SHARE:
        reason = "most of the catalogue changes"
    else:
        return None
    (announce or _stderr)(f"catalogue index: building {path} with the import ({reason})")
    try:
        return FullBuild(path)
    except (OSError, sqlite3.Error) as exc:
        raise CatalogueError(f"cannot write the catalogue index: {exc}", path=str(path)) from None


def update_index(db: BDneXDB, settings: Settings | None = None, *, announce: Announce | None = None) -> str:
    """Bring the index file of ``db``'s catalogue up to date: nothing when it is, the sitemaps that
    changed since when they are few, a new file when it is missing, older or damaged or when most
    of the catalogue changed (``announce`` is told in one line why). Returns what was done.
    Raises :class:`CatalogueError` when no index file can be written where it belongs."""
    path = index_path(db, settings)
    if path is None:
        raise BdnexError("an in-memory database has no index file")
    say = announce or _stderr
    held = _held(path)
    if isinstance(held, str):
        return _rebuild(db, path, held, say)
    wanted = db.catalogue.revisions()
    if held == wanted:
        return "up to date"
    if _changed_share(db, held, wanted) > REBUILD_SHARE:
        return _rebuild(db, path, "most of the catalogue changed", say)
    try:
        changed = refresh(path, db, wanted)
    except sqlite3.DatabaseError as exc:
        return _rebuild(db, path, f"damaged: {exc}", say)
    except OSError as exc:
        raise CatalogueError(f"cannot update the catalogue index: {exc.strerror or exc}", path=str(path)) from None
    return f"{len(changed)} sitemap(s) re-read"


def _set_aside_what_is_no_file(path: Path, say: Announce) -> None:
    """A folder (or anything but a file) where the index file or its -wal/-shm belongs is moved aside,
    never deleted (it may hold something of the user's), so that the new file can take its place."""
    for place in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if (place.exists() or place.is_symlink()) and not place.is_file():
            aside = set_aside(place)
            say(f"catalogue index: {place} was no file; moved aside as {aside.name}")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _rebuild(db: BDneXDB, path: Path, reason: str, say: Announce) -> str:
    say(f"catalogue index: building {path} ({reason})")
    try:
        _set_aside_what_is_no_file(path, say)
        albums = build(db, path)
    except OSError as exc:
        raise CatalogueError(f"cannot write the catalogue index: {exc.strerror or exc}", path=str(path)) from None
    return f"built ({albums} albums)"


def open_catalogue_index(
    db: BDneXDB, settings: Settings | None = None, *, announce: Announce | None = None
) -> PersistedIndex:
    """The index file of ``db``'s catalogue, up to date (see :func:`update_index`), opened. A query that
    later finds the file damaged has it built again, once, with its own connection to the database."""
    update_index(db, settings, announce=announce)
    path = index_path(db, settings)
    assert path is not None
    say = announce or _stderr

    def rebuild(reason: str) -> None:
        with db.reopen() as fresh:
            _rebuild(fresh, path, reason, say)

    return PersistedIndex(path, on_damage=rebuild)
