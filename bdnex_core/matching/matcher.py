"""Candidates from the catalogue index, scored and decided for one parsed file name."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from bdnex_core.config import MatchingSettings
from bdnex_core.matching.decide import MatchResult, decide
from bdnex_core.matching.filename import ParsedName
from bdnex_core.matching.index import CatalogueLookup, IndexedAlbum, SeriesHit, find_series, title_key
from bdnex_core.matching.score import Score, score_album, score_title_only
from bdnex_core.states import Decision

MAX_SERIES = 6
LARGE_SERIES = 80  # above this many albums, only the contenders of a series are scored
CLOSEST_TITLES = 10
RANK = {Decision.NONE: 0, Decision.REVIEW: 1, Decision.ACCEPT: 2}


class Matcher:
    def __init__(self, index: CatalogueLookup, settings: MatchingSettings, *, url_of=None):
        self.index = index
        self.settings = settings
        self._url_of = url_of  # album id -> url, looked up only for the candidates shown

    def _series_hits(self, parsed: ParsedName) -> list[SeriesHit]:
        hits = {hit.series: hit for hit in find_series(self.index, parsed.series_norm)[:MAX_SERIES]}
        if parsed.tome is None and parsed.title_norm:
            # "Série - Titre" for a one-shot: the catalogue files it under the title
            for hit in find_series(self.index, parsed.title_norm)[:MAX_SERIES]:
                if hit.series not in hits:
                    hits[hit.series] = SeriesHit(hit.series, hit.similarity, f"{hit.how} title", hit.name)
            combined = f"{parsed.series_norm} {parsed.title_norm}".strip()
            for hit in find_series(self.index, combined)[:2]:
                hits.setdefault(hit.series, hit)
        return sorted(hits.values(), key=lambda hit: -hit.similarity)[:MAX_SERIES]

    def candidates(self, parsed: ParsedName) -> list[Score]:
        scores: list[Score] = []
        for hit in self._series_hits(parsed):
            albums = self.index.series_albums(hit.series)
            if len(albums) > LARGE_SERIES:
                albums = self._contenders(parsed, albums)
            tome_exists = (
                parsed.tome is None
                or any(album.tome and album.tome.lower() == parsed.tome.lower() for album in albums)
                or any(
                    album.tome_number == parsed.tome_number
                    and (album.tome_kind or "regular") == (parsed.tome_kind or "regular")
                    for album in albums
                    if parsed.tome_number is not None
                )
            )
            for album in albums:
                scores.append(
                    score_album(
                        parsed,
                        album,
                        hit.similarity,
                        hit.how,
                        tome_exists_in_series=tome_exists,
                    )
                )
        if not scores:
            scores = self._title_candidates(parsed)
        return scores

    def _contenders(self, parsed: ParsedName, albums: list[IndexedAlbum]) -> list[IndexedAlbum]:
        """In a series of thousands of albums, the ones that can win: same tome, or the closest
        titles. Scoring the others could only add candidates capped as "tome number differs"."""
        chosen: dict[int, None] = {}
        if parsed.tome is not None:
            wanted, number = parsed.tome.lower(), parsed.tome_number
            chosen.update(
                (position, None)
                for position, album in enumerate(albums)
                if (number is not None and album.tome_number == number) or (album.tome or "").lower() == wanted
            )
        if parsed.title_norm:
            titles = {position: album.title_norm for position, album in enumerate(albums)}
            for _title, _similarity, position in process.extract(
                parsed.title_norm, titles, scorer=fuzz.ratio, limit=CLOSEST_TITLES
            ):
                chosen.setdefault(position, None)
        if not chosen:  # nothing to tell the albums apart: a few, to show the person who reviews
            chosen.update((position, None) for position in range(min(len(albums), CLOSEST_TITLES)))
        return [albums[position] for position in chosen]

    def _title_candidates(self, parsed: ParsedName) -> list[Score]:
        """No series fits: the name may be an album's title alone (how calibre and readers search)."""
        for query in dict.fromkeys(
            filter(None, (parsed.title_norm, parsed.series_norm, f"{parsed.series_norm} {parsed.title_norm}".strip()))
        ):
            albums = self.index.albums_titled(title_key(query))
            if albums:
                return [score_title_only(parsed, album, query) for album in albums]
        return []

    def match(self, parsed: ParsedName) -> MatchResult:
        """Score the candidates of ``parsed`` and decide."""
        result = decide(self.candidates(parsed), self.settings)
        if result.decision != Decision.ACCEPT:
            # the tome was a guess ("Ms Marvel 2006 21 ... part 1"): another reading may fit the catalogue
            for alternative in parsed.alternatives:
                other = decide(self.candidates(alternative), self.settings)
                if RANK[other.decision] > RANK[result.decision]:  # the name's first reading wins ties
                    result = other
        if self._url_of is not None:
            for candidate in result.candidates:
                candidate.url = self._url_of(candidate.album_id)
        return result
