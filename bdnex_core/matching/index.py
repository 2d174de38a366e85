"""An in-memory index of the catalogue for candidate generation (fast at 300,000 albums).

Albums are kept in flat arrays (ids, series, tome, title); series names in a dict of
every normalised form (with and without articles) and a sorted list for prefix search
("batwoman" finds "batwoman 2011"). Fuzzy search (rapidfuzz) runs only when exact and
prefix look-ups find nothing, and first over series sharing a word with the query.

Two values are computed once per row when the index is built, by the pure functions of
:mod:`~bdnex_core.matching.editions` (an index kept on disk stores them): each album's *edition
group* (the editions of one album: same series, tome without its printing code, and title) and
each series' *qualifier* (``X en espagnol``, ``X Collection Atlas``: another edition of ``X``).

What the matcher asks of an index, and all it asks (an index kept on disk provides the same):

- ``len(index)``; ``find_series(query)`` -> :class:`SeriesHit` list, best first;
  ``series_at_start(query)`` -> the series whose whole name starts the query ("nains redwin de la
  forge" starts with "nains"), longest first; ``has_series(query)``;
- ``series_name(series)``, ``series_qualifier(series)``, ``albums_of(series)`` -> album positions,
  ``contenders(series, tome, tome_number, title)`` -> the positions that can win in a long series;
- ``album(position)`` -> :class:`IndexedAlbum` (with ``editions``: the ids of its other editions);
- ``albums_titled(title)`` -> positions of the albums with that title.
"""

from __future__ import annotations

import bisect
import gc
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bdnex_core.matching.editions import Qualifier, edition_groups, qualifier_named, series_qualifier
from bdnex_core.matching.normalize import strip_articles

# a qualified series ("largo winch en neerlandais") for a name that does not say its qualifier: below any
# exact (1.0) or prefix (0.90-0.96) series, so never ambiguous against them; score.py caps it
QUALIFIED_SIMILARITY = 0.8
# a longer series when the name's own series exists: far enough below it not to be ambiguous
PREFIX_BELOW_EXACT = 0.9
CLOSEST_TITLES = 10


@dataclass(frozen=True)
class IndexedAlbum:
    album_id: int
    series_norm: str
    tome: str | None
    tome_number: int | None
    tome_kind: str | None
    title_norm: str
    editions: tuple[int, ...] = ()  # ids of the other editions of the same album
    qualifier: Qualifier | None = None  # the series' language or collection qualifier


@dataclass(frozen=True)
class SeriesHit:
    series: int  # series number in the index
    similarity: float  # 0..1
    how: str  # exact, prefix, qualified (another language or collection edition), fuzzy, title


class CatalogueIndex:
    def __init__(self) -> None:
        self.series_names: list[str] = []
        self._series_ids: dict[str, int] = {}
        self._keys: dict[str, list[int]] = defaultdict(list)  # normalised form -> series
        self._sorted_keys: list[str] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self.album_ids = array("l")
        self.album_series = array("l")
        self.album_tome_numbers = array("l")
        self.album_tomes: list[str | None] = []
        self.album_kinds: list[str | None] = []
        self.album_titles: list[str] = []
        self.series_albums: list[list[int]] = []
        self.series_qualifiers: list[Qualifier | None] = []
        # the editions of one album: position -> the positions of its group (only for groups of two or more)
        self._editions: dict[int, list[int]] = {}
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
            self.series_albums.append([])
        position = len(self.album_ids)
        self.album_ids.append(album_id)
        self.album_series.append(series)
        self.album_tome_numbers.append(-1 if tome_number is None else tome_number)
        self.album_tomes.append(sys.intern(tome) if tome else None)
        self.album_kinds.append(sys.intern(tome_kind) if tome_kind else None)
        self.album_titles.append(title_norm)
        self.series_albums[series].append(position)

    def finish(self) -> None:
        for series, name in enumerate(self.series_names):
            for key in {name, strip_articles(name)}:
                self._keys[key].append(series)
            for word in set(strip_articles(name).split()[:2]):
                self._by_word[word].append(series)
        self._sorted_keys = sorted(self._keys)
        self._stripped_names = [strip_articles(name) for name in self.series_names]
        self.series_qualifiers = [series_qualifier(name) for name in self.series_names]
        self._editions = {}
        for positions in self.series_albums:
            if len(positions) > 1:
                self._group_editions(positions)

    def _group_editions(self, positions: list[int]) -> None:
        """The edition groups of one series (:func:`~bdnex_core.matching.editions.edition_groups`)."""
        rows = [
            (position, self.album_kinds[position], self.album_tomes[position], self.album_titles[position])
            for position in positions
        ]
        for members in edition_groups(rows):
            self._editions.update((position, members) for position in members)

    def __len__(self) -> int:
        return len(self.album_ids)

    # ------------------------------------------------------------------ albums

    def album(self, position: int) -> IndexedAlbum:
        number = self.album_tome_numbers[position]
        series = self.album_series[position]
        return IndexedAlbum(
            album_id=self.album_ids[position],
            series_norm=self.series_names[series],
            tome=self.album_tomes[position],
            tome_number=None if number < 0 else number,
            tome_kind=self.album_kinds[position],
            title_norm=self.album_titles[position],
            editions=tuple(self.album_ids[other] for other in self._editions.get(position, ()) if other != position),
            qualifier=self.series_qualifiers[series],
        )

    def editions_of(self, position: int) -> list[int]:
        """The positions of every edition of the album at ``position`` (itself included)."""
        return self._editions.get(position, [position])

    def albums_of(self, series: int) -> list[int]:
        return self.series_albums[series]

    def series_name(self, series: int) -> str:
        return self.series_names[series]

    def series_qualifier(self, series: int) -> Qualifier | None:
        return self.series_qualifiers[series]

    def contenders(self, series: int, tome: str | None, tome_number: int | None, title: str) -> list[int]:
        """In a series of thousands of albums, the ones that can win: same tome, or the closest
        titles. Scoring the others could only add candidates capped as "tome number differs"."""
        positions = self.series_albums[series]
        chosen: dict[int, None] = {}
        if tome is not None:
            wanted = tome.lower()
            chosen.update(
                (position, None)
                for position in positions
                if (tome_number is not None and self.album_tome_numbers[position] == tome_number)
                or (self.album_tomes[position] or "").lower() == wanted
            )
        if title:
            titles = {position: self.album_titles[position] for position in positions}
            for _title, _similarity, position in process.extract(
                title, titles, scorer=fuzz.ratio, limit=CLOSEST_TITLES
            ):
                chosen.setdefault(position, None)
        if not chosen:  # nothing to tell the albums apart: a few, to show the person who reviews
            chosen.update((position, None) for position in positions[:CLOSEST_TITLES])
        return list(chosen)

    def albums_titled(self, query: str) -> list[int]:
        """Albums whose own title is ``query`` (normalised; articles either side), for a name that
        gives only the album's title ("Redwin de la Forge" for Nains tome 1)."""
        if self._titles is None:
            self._titles = self._title_table()
        found = self._titles.get(strip_articles(query))
        return [] if found is None else [found] if isinstance(found, int) else list(found)

    def _title_table(self) -> dict[str, int | list[int]]:
        # rarely needed (only names in which no series was found), so not paid for at start-up;
        # an int per title rather than a list keeps it small at 300,000 albums
        table: dict[str, int | list[int]] = {}
        for position, title in enumerate(self.album_titles):
            if not title:
                continue
            key = strip_articles(title)
            known = table.get(key)
            if known is None:
                table[key] = position
            elif isinstance(known, int):
                table[key] = [known, position]
            else:
                known.append(position)
        return table

    # ------------------------------------------------------------------ series search

    def has_series(self, query: str) -> bool:
        """Whether a series of the catalogue has exactly this (normalised) name."""
        return bool(query) and (query in self._keys or strip_articles(query) in self._keys)

    def series_at_start(self, query: str) -> list[tuple[int, int]]:
        """(series, words) for each series whose whole name is the first ``words`` words of ``query``
        (not all of them), longest first: "nains redwin de la forge" starts with the series "nains"."""
        words = query.split()
        found = []
        for count in range(len(words) - 1, 0, -1):
            for series in self._keys.get(" ".join(words[:count]), ()):
                found.append((series, count))
        return found

    def find_series(self, query: str, *, limit: int = 8, fuzzy: bool = True) -> list[SeriesHit]:
        """Series whose name matches ``query`` (normalised), best first; ``fuzzy=False``: exact and
        prefix look-ups only (no similarity search, which may scan every series)."""
        if not query:
            return []
        hits: dict[int, SeriesHit] = {}

        def keep(series: int, similarity: float, how: str) -> None:
            qualifier = self.series_qualifiers[series]
            if qualifier is not None and how != "exact" and not qualifier_named(qualifier, query):
                # "largo winch" for "largo winch en neerlandais": another language's edition, never as
                # likely as the series the name gives
                similarity, how = min(similarity, QUALIFIED_SIMILARITY), "qualified"
            if series not in hits or hits[series].similarity < similarity:
                hits[series] = SeriesHit(series, similarity, how)

        forms = {query, strip_articles(query)}
        for form in forms:
            for series in self._keys.get(form, ()):
                keep(series, 1.0, "exact")
        # a longer series never ties with the series the name gives: "pilote" is not "pilote 1959"
        longest = PREFIX_BELOW_EXACT if hits else 0.96
        for form in forms:  # edition qualifiers: "batwoman" -> "batwoman 2011", "nains" -> "nains hs"
            start = bisect.bisect_left(self._sorted_keys, form + " ")
            for key in self._sorted_keys[start : start + 40]:
                if not key.startswith(form + " "):
                    break
                for series in self._keys[key]:
                    # an edition qualifier the name left out; several such series compete as ambiguity
                    extra = len(key) - len(form)
                    keep(series, min(longest, max(0.90, 0.96 - 0.004 * extra)), "prefix")
        if fuzzy and not any(hit.how == "exact" for hit in hits.values()):
            for series, similarity in self._fuzzy(query, limit):
                keep(series, similarity, "fuzzy")
        return sorted(hits.values(), key=lambda hit: -hit.similarity)[: max(limit, 1) * 2]

    def _fuzzy(self, query: str, limit: int) -> list[tuple[int, float]]:
        stripped = strip_articles(query)
        pool: set[int] = set()
        for word in stripped.split()[:3]:
            if len(word) > 1:
                pool.update(self._by_word.get(word, ()))
        choices = {series: self._stripped_names[series] for series in pool} if pool else None
        found = process.extract(
            stripped,
            choices if choices is not None else self._stripped_names,
            scorer=fuzz.ratio,
            limit=limit,
            score_cutoff=70,
        )
        if not found and choices is not None:  # a misspelt first word: the whole catalogue, stricter
            found = process.extract(stripped, self._stripped_names, scorer=fuzz.ratio, limit=limit, score_cutoff=80)
        return [(key, score / 100.0) for _name, score, key in found]
