"""The catalogue index as matching sees it: a small query interface, the series search over it, and
the in-memory index.

Matching asks a catalogue index a few questions (:class:`CatalogueLookup`): which series have this
normalised form, which forms start with this prefix, which series share a word, which albums a series
has, which albums carry a title. Two indexes answer them: :class:`CatalogueIndex` here, built in memory
from catalogue rows (tests, the evaluation, a database in memory), and the persisted index file that
``catalogue update`` keeps (:mod:`bdnex_core.bedetheque.catalogue_index`), which a process opens
without building anything. The search rules (exact forms, then edition prefixes, then fuzzy) live
once, in :func:`find_series`, so both give the same candidates in the same order: ties are broken by
the series' normalised name, never by how an index numbers its series.

What one series and one album derive from their names (the forms a series is found under, the words
its fuzzy pool is keyed by, an album's title key) are pure functions here, used by both builders.
Two more come from :mod:`~bdnex_core.matching.editions`: each album's *edition group* (the editions of
one album: same series, tome without its printing code, and title), computed per series when an index
is built and kept with each album (:attr:`IndexedAlbum.editions`), and each series' *qualifier*
(``X en espagnol``, ``X Collection Atlas``: another edition of ``X``), a pure function of its name
that the search applies to every series it finds (:func:`find_series`).
"""

from __future__ import annotations

import bisect
import gc
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple, Protocol

from rapidfuzz import fuzz, process

from bdnex_core.matching.editions import Qualifier, edition_groups, qualifier_named, series_qualifier, tome_key
from bdnex_core.matching.normalize import strip_articles

# the prefix search looks at this many keys after the query ("nains" -> "nains hs", "nains 2e serie"...)
PREFIX_KEYS = 40
# a misspelt first word: the whole catalogue is searched, stricter than the pool of series sharing a word
POOL_CUTOFF, CATALOGUE_CUTOFF = 70, 80
# a qualified series ("largo winch en neerlandais") for a name that does not say its qualifier: below any
# exact (1.0) or prefix (0.90-0.96) series, so never ambiguous against them; score.py caps it
QUALIFIED_SIMILARITY = 0.8
# a longer series when the name's own series exists: far enough below it not to be ambiguous
PREFIX_BELOW_EXACT = 0.9


@dataclass(frozen=True)
class IndexedAlbum:
    album_id: int
    series_norm: str
    tome: str | None
    tome_number: int | None
    tome_kind: str | None
    title_norm: str
    editions: tuple[int, ...] = ()  # ids of the other editions of the same album, ascending
    qualifier: Qualifier | None = None  # the series' language or collection qualifier


class SeriesList(NamedTuple):
    """Every series of an index, for the fuzzy search: ordered by the length of the name without article
    (then by it, then by the name), so that a search reads only the lengths that can reach its cutoff."""

    series: Sequence[int]
    names: Sequence[str]  # without article
    lengths: Sequence[int]  # of those names, ascending


@dataclass(frozen=True)
class SeriesHit:
    series: int  # series number in the index that found it
    similarity: float  # 0..1
    how: str  # exact, prefix, qualified (another language or collection edition), fuzzy, title
    name: str = ""  # the series' normalised name (what ties are broken by)


# ----------------------------------------------------------------------------- derived values


def series_keys(name: str, stripped: str | None = None) -> set[str]:
    """The normalised forms a series is found under: its name, and its name without article (``stripped``,
    when the caller has it already)."""
    return {name, strip_articles(name) if stripped is None else stripped}


def series_words(name: str, stripped: str | None = None) -> set[str]:
    """The words that put a series in the fuzzy pool of a query: the first two of its name without article."""
    return set((strip_articles(name) if stripped is None else stripped).split()[:2])


def title_key(title_norm: str) -> str:
    """An album title as :meth:`CatalogueLookup.albums_titled` looks it up ('' for none)."""
    return strip_articles(title_norm) if title_norm else ""


@lru_cache(maxsize=16384)
def qualifier_of(series_norm: str) -> Qualifier | None:
    """A series' qualifier (:func:`~bdnex_core.matching.editions.series_qualifier`), remembered: the
    search asks it of every series it finds."""
    return series_qualifier(series_norm)


def editions_by_album(albums: Iterable[tuple[int, str | None, str | None, str]]) -> dict[int, tuple[int, ...]]:
    """The edition groups of one series' albums, given as (album_id, tome kind, tome, title): album id ->
    the ids of its other editions, ascending (only for albums that have some)."""
    # edition_groups groups within one tome kind and tome key only: an album alone with its tome (most of
    # them) is left out before its title is normalised
    by_tome: dict[tuple[str | None, str], list[tuple[int, str | None, str | None, str]]] = {}
    for album in albums:
        by_tome.setdefault((album[1], tome_key(album[2])), []).append(album)
    found: dict[int, tuple[int, ...]] = {}
    for same_tome in by_tome.values():
        if len(same_tome) < 2:
            continue
        for members in edition_groups(same_tome):
            for album_id in members:
                found[album_id] = tuple(other for other in members if other != album_id)
    return found


# ----------------------------------------------------------------------------- the interface


class CatalogueLookup(Protocol):
    """What matching reads from a catalogue index (no I/O of its own: an index may read a file).

    Series are numbers the index gives; :attr:`SeriesHit.name` and :meth:`series_name` say which.
    Every list of albums is in album-id order.
    """

    def series_with_key(self, key: str) -> Sequence[int]:
        """Series one of whose :func:`series_keys` is exactly ``key``."""
        ...

    def keys_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, Sequence[int]]]:
        """The first ``limit`` keys (in code-point order) that start with ``prefix``, each with its series."""
        ...

    def series_with_words(self, words: Iterable[str]) -> dict[int, str]:
        """Series one of whose :func:`series_words` is in ``words``: series -> name without article."""
        ...

    def all_series(self) -> SeriesList:
        """Every series and its name without article (see :class:`SeriesList`)."""
        ...

    def series_name(self, series: int) -> str:
        """The normalised name of a series."""
        ...

    def series_albums(self, series: int) -> list[IndexedAlbum]:
        """The albums of a series, each with its :attr:`~IndexedAlbum.editions` and the series' qualifier."""
        ...

    def albums_titled(self, key: str) -> list[IndexedAlbum]:
        """Albums whose :func:`title_key` is ``key`` (with their editions and qualifiers)."""
        ...


# ----------------------------------------------------------------------------- the search


def find_series(index: CatalogueLookup, query: str, *, limit: int = 8, fuzzy: bool = True) -> list[SeriesHit]:
    """Series whose name matches ``query`` (normalised), best first; ties by name. ``fuzzy=False``: exact
    and prefix look-ups only (no similarity search, which may read every series)."""
    if not query:
        return []
    hits: dict[int, tuple[float, str]] = {}

    def keep(series: int, similarity: float, how: str) -> None:
        if how != "exact":
            qualifier = qualifier_of(index.series_name(series))
            if qualifier is not None and not qualifier_named(qualifier, query):
                # "largo winch" for "largo winch en neerlandais": another language's edition, never as
                # likely as the series the name gives
                similarity, how = min(similarity, QUALIFIED_SIMILARITY), "qualified"
        if series not in hits or hits[series][0] < similarity:
            hits[series] = (similarity, how)

    forms = sorted({query, strip_articles(query)})
    for form in forms:
        for series in index.series_with_key(form):
            keep(series, 1.0, "exact")
    # a longer series never ties with the series the name gives: "pilote" is not "pilote 1959"
    longest = PREFIX_BELOW_EXACT if hits else 0.96
    for form in forms:  # edition qualifiers: "batwoman" -> "batwoman 2011", "nains" -> "nains hs"
        for key, found in index.keys_with_prefix(form + " ", PREFIX_KEYS):
            # an edition qualifier the name left out; several such series compete as ambiguity
            extra = len(key) - len(form)
            for series in found:
                keep(series, min(longest, max(0.90, 0.96 - 0.004 * extra)), "prefix")
    if fuzzy and not any(how == "exact" for _similarity, how in hits.values()):
        for series, similarity in _fuzzy(index, query, limit):
            keep(series, similarity, "fuzzy")
    ranked = sorted(
        (SeriesHit(series, similarity, how, index.series_name(series)) for series, (similarity, how) in hits.items()),
        key=lambda hit: (-hit.similarity, hit.name),
    )
    return ranked[: max(limit, 1) * 2]


def has_series(index: CatalogueLookup, query: str) -> bool:
    """Whether a series of the catalogue has exactly this (normalised) name."""
    return bool(query) and bool(index.series_with_key(query) or index.series_with_key(strip_articles(query)))


def series_at_start(index: CatalogueLookup, query: str) -> list[tuple[int, int]]:
    """(series, words) for each series whose whole name is the first ``words`` words of ``query`` (not
    all of them), longest first, then by name: "nains redwin de la forge" starts with the series "nains"."""
    words = query.split()
    found = []
    for count in range(len(words) - 1, 0, -1):
        same = index.series_with_key(" ".join(words[:count]))
        found += [(series, count) for series in sorted(same, key=index.series_name)]
    return found


def _fuzzy(index: CatalogueLookup, query: str, limit: int) -> list[tuple[int, float]]:
    stripped = strip_articles(query)
    if not stripped:
        return []
    pool = index.series_with_words(word for word in stripped.split()[:3] if len(word) > 1)
    if pool:
        found = _best(index, stripped, list(pool), list(pool.values()), limit, POOL_CUTOFF)
        if found:
            return found
    # nothing in the pool: a misspelt first word; the whole catalogue, stricter when the pool was not empty
    cutoff = CATALOGUE_CUTOFF if pool else POOL_CUTOFF
    every = index.all_series()
    low, high = _length_window(len(stripped), cutoff)
    first, last = bisect.bisect_left(every.lengths, low), bisect.bisect_right(every.lengths, high)
    return _best(index, stripped, every.series[first:last], every.names[first:last], limit, cutoff)


def _length_window(length: int, cutoff: int) -> tuple[int, int]:
    """The lengths a name can have and still reach ``cutoff`` (fuzz.ratio is 2 x common / total length,
    and the common part is at most the shorter name): every other name is left out unread."""
    share = cutoff / 100.0
    return math.floor(length * share / (2 - share)), math.ceil(length * (2 - share) / share)


def _best(
    index: CatalogueLookup, query: str, series_ids: Sequence[int], names: Sequence[str], limit: int, cutoff: int
) -> list[tuple[int, float]]:
    """The ``limit`` best of ``names`` at or above ``cutoff``; equal scores by name, so that every index
    ranks alike whatever order it hands its names in."""
    found = process.extract(query, names, scorer=fuzz.ratio, limit=None, score_cutoff=cutoff)
    ranked = sorted(
        (
            (score, name, index.series_name(series_ids[position]), series_ids[position])
            for name, score, position in found
        ),
        key=lambda hit: (-hit[0], hit[1], hit[2]),
    )
    return [(series, score / 100.0) for score, _name, _full, series in ranked[:limit]]


# ----------------------------------------------------------------------------- the in-memory index


class CatalogueIndex:
    """The catalogue in memory: flat lists of albums, dicts of series forms and words. Built from rows in
    one pass (about 3 s and 300 MB at 300,000 albums: the persisted index is for processes that only
    need a few answers)."""

    def __init__(self) -> None:
        self.series_names: list[str] = []
        self._series_ids: dict[str, int] = {}
        self._keys: dict[str, list[int]] = defaultdict(list)  # normalised form -> series
        self._sorted_keys: list[str] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._albums: list[IndexedAlbum] = []
        self.series_positions: list[list[int]] = []
        self._all_series = SeriesList([], [], [])
        self._stripped_names: list[str] = []
        # album title without its article -> album (a list only for repeated titles); built on first use
        self._titles: dict[str, int | list[int]] | None = None

    @classmethod
    def build(cls, rows: Iterable[tuple]) -> CatalogueIndex:
        """From (album_id, url, series_norm, tome, tome_number, tome_kind, title_norm, ...) rows."""
        index = cls()
        collecting = gc.isenabled()
        gc.disable()  # hundreds of thousands of small objects that live as long as the index: no cycle to find
        try:
            for row in rows:
                index.add(row[0], row[2], row[3], row[4], row[5], row[6] or "")
            index.finish()
        finally:
            if collecting:
                gc.enable()
        return index

    def add(
        self,
        album_id: int,
        series_norm: str,
        tome: str | None,
        tome_number: int | None,
        tome_kind: str | None,
        title_norm: str,
    ) -> None:
        series = self._series_ids.get(series_norm)
        if series is None:
            series = self._series_ids[series_norm] = len(self.series_names)
            self.series_names.append(series_norm)
            self.series_positions.append([])
        self.series_positions[series].append(len(self._albums))
        self._albums.append(
            IndexedAlbum(
                album_id,
                self.series_names[series],
                sys.intern(tome) if tome else None,
                tome_number,
                sys.intern(tome_kind) if tome_kind else None,
                title_norm,
            )
        )

    def finish(self) -> None:
        for series, name in enumerate(self.series_names):
            for key in series_keys(name):
                self._keys[key].append(series)
            for word in series_words(name):
                self._by_word[word].append(series)
            self.series_positions[series].sort(key=lambda position: self._albums[position].album_id)
        self._sorted_keys = sorted(self._keys)
        self._stripped_names = [strip_articles(name) for name in self.series_names]
        order = sorted(
            range(len(self.series_names)),
            key=lambda s: (len(self._stripped_names[s]), self._stripped_names[s], self.series_names[s]),
        )
        names = [self._stripped_names[series] for series in order]
        self._all_series = SeriesList(order, names, [len(name) for name in names])
        albums = self._albums
        for series, positions in enumerate(self.series_positions):
            qualifier = qualifier_of(self.series_names[series])
            if qualifier is not None:
                for position in positions:
                    albums[position] = replace(albums[position], qualifier=qualifier)
            if len(positions) > 1:
                rows = [
                    (albums[p].album_id, albums[p].tome_kind, albums[p].tome, albums[p].title_norm) for p in positions
                ]
                editions = editions_by_album(rows)
                if editions:
                    for position in positions:
                        others = editions.get(albums[position].album_id)
                        if others:
                            albums[position] = replace(albums[position], editions=others)

    def __len__(self) -> int:
        return len(self._albums)

    def album(self, position: int) -> IndexedAlbum:
        """The album at ``position`` (0 to ``len(index) - 1``, in the order the rows came)."""
        return self._albums[position]

    # ------------------------------------------------------------------ CatalogueLookup

    def series_with_key(self, key: str) -> Sequence[int]:
        return self._keys.get(key, ())

    def keys_with_prefix(self, prefix: str, limit: int) -> list[tuple[str, Sequence[int]]]:
        start = bisect.bisect_left(self._sorted_keys, prefix)
        found: list[tuple[str, Sequence[int]]] = []
        for key in self._sorted_keys[start : start + limit]:
            if not key.startswith(prefix):
                break
            found.append((key, self._keys[key]))
        return found

    def series_with_words(self, words: Iterable[str]) -> dict[int, str]:
        return {series: self._stripped_names[series] for word in words for series in self._by_word.get(word, ())}

    def all_series(self) -> SeriesList:
        return self._all_series

    def series_name(self, series: int) -> str:
        return self.series_names[series]

    def series_albums(self, series: int) -> list[IndexedAlbum]:
        return [self._albums[position] for position in self.series_positions[series]]

    def albums_titled(self, key: str) -> list[IndexedAlbum]:
        if self._titles is None:
            self._titles = self._title_table()
        found = self._titles.get(key)
        positions = [] if found is None else [found] if isinstance(found, int) else found
        return sorted((self._albums[position] for position in positions), key=lambda album: album.album_id)

    def _title_table(self) -> dict[str, int | list[int]]:
        # rarely needed (only names in which no series was found), so not paid for at start-up;
        # an int per title rather than a list keeps it small at 300,000 albums
        table: dict[str, int | list[int]] = {}
        for position, album in enumerate(self._albums):
            key = title_key(album.title_norm)
            if not key:
                continue
            known = table.get(key)
            if known is None:
                table[key] = position
            elif isinstance(known, int):
                table[key] = [known, position]
            else:
                known.append(position)
        return table

    # ------------------------------------------------------------------ conveniences

    def find_series(self, query: str, *, limit: int = 8, fuzzy: bool = True) -> list[SeriesHit]:
        """Series whose name matches ``query`` (normalised), best first (see :func:`find_series`)."""
        return find_series(self, query, limit=limit, fuzzy=fuzzy)
