"""Candidates from the catalogue index, scored and decided for one parsed file name.

The editions of one album (the index's edition groups) are one candidate: the edition that
scores best stands for them, the others are listed in ``Score.editions`` and the edition is
chosen later (:func:`~bdnex_core.matching.editions.choose_edition`), so two editions never make
a name ambiguous.

A name can be read several ways. The first reading is the parser's likeliest; the others are
the parser's alternatives (another number as the tome, the folder as the series) and readings
the catalogue suggests: a series the name starts with ("Nains-Redwin de la forge"), or another
segment of the name as the series ("Goux - Avengers Vol5 2013 - Tome 39", "Titre - Série T05").
They never overrule: when the first reading is ambiguous or holds a tome written with a marker
that its series has, another reading's accept only joins the review, and two readings accepting
different albums go to review too.
"""

from __future__ import annotations

from dataclasses import replace

from rapidfuzz import fuzz, process

from bdnex_core.config import MatchingSettings
from bdnex_core.matching.decide import AMBIGUOUS_CAP, MatchResult, decide
from bdnex_core.matching.editions import series_qualifier
from bdnex_core.matching.filename import ParsedName
from bdnex_core.matching.index import (
    CatalogueLookup,
    IndexedAlbum,
    SeriesHit,
    find_series,
    has_series,
    series_at_start,
    title_key,
)
from bdnex_core.matching.normalize import normalize
from bdnex_core.matching.score import Score, score_album, score_title_only
from bdnex_core.states import Decision

MAX_SERIES = 6
LARGE_SERIES = 80  # above this many albums, only the contenders of a series are scored
CLOSEST_TITLES = 10
RANK = {Decision.NONE: 0, Decision.REVIEW: 1, Decision.ACCEPT: 2}
OTHER_SERIES = 0.5  # the series similarity of an album found by the name's title in another series


class Matcher:
    def __init__(self, index: CatalogueLookup, settings: MatchingSettings, *, url_of=None):
        self.index = index
        self.settings = settings
        self._url_of = url_of  # album id -> url, looked up only for the candidates shown
        # series searches already made (worker threads share it: a dict's get and set are atomic)
        self._found: dict[tuple[str, bool], tuple[SeriesHit, ...]] = {}

    def _find_series(self, query: str, *, fuzzy: bool = True) -> tuple[SeriesHit, ...]:
        """The index's series search, remembered: the readings of one name ask the same queries."""
        key = (query, fuzzy)
        found = self._found.get(key)
        if found is None:
            if len(self._found) > 4096:
                self._found.clear()
            found = self._found[key] = tuple(find_series(self.index, query, fuzzy=fuzzy))
        return found

    def _series_hits(self, parsed: ParsedName) -> list[SeriesHit]:
        hits = {hit.series: hit for hit in self._find_series(parsed.series_norm)[:MAX_SERIES]}
        if parsed.tome is None and parsed.title_norm:
            # "Série - Titre" for a one-shot: the catalogue files it under the title (found as written:
            # a similarity search over every series for each reading would cost more than it finds)
            for hit in self._find_series(parsed.title_norm, fuzzy=False)[:MAX_SERIES]:
                if hit.series not in hits:
                    hits[hit.series] = SeriesHit(hit.series, hit.similarity, f"{hit.how} title", hit.name)
            combined = f"{parsed.series_norm} {parsed.title_norm}".strip()
            for hit in self._find_series(combined, fuzzy=False)[:2]:
                hits.setdefault(hit.series, hit)
        return sorted(hits.values(), key=lambda hit: -hit.similarity)[:MAX_SERIES]

    def candidates(self, parsed: ParsedName, *, name_series: str = "") -> list[Score]:
        """Every album that may be the name's, scored; the editions of one album as one candidate.
        ``name_series``: the series of the name's first reading, when ``parsed`` is another reading."""
        scores: list[Score] = []
        given = {series for series in (parsed.series_norm, name_series) if series}
        known_series: set[str] | None = None  # the series the name gives that the catalogue has (asked when needed)
        hits = self._series_hits(parsed)
        exact = next((self.index.series_name(hit.series) for hit in hits if hit.how == "exact"), None)
        for hit in hits:
            albums = self.index.series_albums(hit.series)
            if len(albums) > LARGE_SERIES:
                albums = _contenders(parsed, albums)
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
            by_title = hit.how.endswith(" title")
            if by_title and known_series is None:
                known_series = {series for series in given if has_series(self.index, series)}
            similarity, how = hit.similarity, hit.how
            if by_title and known_series and known_series - {self.index.series_name(hit.series)}:
                # every reading keeps the series the name gives: "Triage X - 8" is no one-shot "8 (La)"
                similarity, how = OTHER_SERIES, f"{hit.how}, while the name's series '{parsed.series_norm}' is another"
            for album in albums:
                score = score_album(parsed, album, similarity, how, tome_exists_in_series=tome_exists)
                self._dropped_names_another(score, album, parsed.dropped)
                if how == "prefix" and exact is not None:
                    # "Appa - T1" while the catalogue has "Appa": "Appa manga" is another series
                    score.cap(
                        f"the catalogue has the series '{exact}' the name gives; this is another", contradiction=True
                    )
                if album.tome is None and (by_title or not parsed.title_norm):
                    self._title_alone(score, album.title_norm, one_shot=parsed.tome_kind == "oneshot")
                scores.append(score)
        if not scores:
            scores = self._title_candidates(parsed)
        return _one_per_album(scores)

    def _dropped_names_another(self, score: Score, album: IndexedAlbum, dropped: tuple[str, ...]) -> None:
        """A segment a reading left out as an author must not be the title of another album of the series
        ("Le Jour du soleil noir - XIII - T02" is not XIII tome 2 read with an author in front)."""
        mine = {score.album_id, *score.editions}
        for segment in dropped:
            for other in self.index.albums_titled(title_key(segment)):
                if other.series_norm == album.series_norm and other.album_id not in mine:
                    score.cap(f"'{segment}' is the title of album {other.album_id} of this series", contradiction=True)
                    return

    def _title_alone(self, score: Score, title: str, *, one_shot: bool) -> None:
        """A one-shot accepted on its title alone needs that no other album carries that title
        ("La chasse au papillon" is a one-shot and Monsieur Lapin's tome 2); a name that says it is a
        one-shot ("(One shot)") is no tome of a series, so only another one-shot counts then."""
        if not title:
            return
        mine = {score.album_id, *score.editions}
        others = [
            album
            for album in self.index.albums_titled(title_key(title))
            if album.album_id not in mine and not (one_shot and album.tome is not None)
        ]
        if others:
            other = others[0]
            what = f"{other.series_norm} {other.tome}" if other.tome else other.series_norm
            score.cap(f"found by its title alone, and album {other.album_id} ({what}) has that title too")

    def _title_candidates(self, parsed: ParsedName) -> list[Score]:
        """No series fits: the name may be an album's title alone (how calibre and readers search)."""
        for query in dict.fromkeys(
            filter(None, (parsed.title_norm, parsed.series_norm, f"{parsed.series_norm} {parsed.title_norm}".strip()))
        ):
            albums = self.index.albums_titled(title_key(query))
            if albums:
                return [score_title_only(parsed, album, query) for album in albums]
        return []

    def readings(self, parsed: ParsedName) -> list[ParsedName]:
        """The other readings of a name, likeliest first: the parser's alternatives, and for each
        reading those the catalogue suggests when its series is none of the catalogue's."""
        found: list[ParsedName] = []
        for reading in (parsed, *parsed.alternatives):
            if reading is not parsed:
                found.append(reading)
            found += self._catalogue_readings(reading, segments=reading is parsed)
        return found

    def _catalogue_readings(self, parsed: ParsedName, *, segments: bool) -> list[ParsedName]:
        """Readings the catalogue suggests for one reading; another segment as the series only for the
        likeliest reading (from a weaker one, "Capricorne - Intégrale T1" would become "Intégrale" T1)."""
        found = []
        if not parsed.title_norm and not has_series(self.index, parsed.series_norm):
            # "Nains-Redwin de la forge", "Nains Redwin T01": the name's words start with a series and
            # go on with the title (only in a name whose title, if any, the parser could not tell apart)
            qualified = series_qualifier(parsed.series_norm)
            for _series, words in series_at_start(self.index, parsed.series_norm)[:2]:
                series_words = parsed.series_norm.split()
                rest = " ".join(series_words[words:])
                if qualified is not None and qualified.base == " ".join(series_words[:words]):
                    continue  # "Willem Le Soir-Titre" names the Le Soir edition of "Willem", never "Willem"
                found.append(
                    replace(
                        parsed,
                        series=" ".join(series_words[:words]),
                        series_norm=" ".join(series_words[:words]),
                        title=rest,
                        title_norm=rest,
                        title_segments=(rest,),
                        series_segments=(),
                        alternatives=(),
                    )
                )
        # "Goux - Avengers Vol5 2013 - Tome 39 - Titre" (an author first), "Titre - Série T05" (swapped)
        if not segments:
            return found
        parts = parsed.series_segments
        after_tome = parsed.title_segments[max(0, len(parts) - 1) :]  # the parser put the others first
        for position, segment in enumerate(parts[1:], start=1):
            hits = self._find_series(normalize(segment), fuzzy=False)
            if not hits or hits[0].how not in ("exact", "prefix"):
                continue
            others = [normalize(other) for other in (*parts[:position], *parts[position + 1 :])]
            title_segments = tuple(filter(None, (*others, *after_tome)))
            moved = replace(
                parsed,
                series=segment,
                series_norm=normalize(segment),
                title=" - ".join(title_segments) or None,
                title_norm=" ".join(title_segments),
                title_segments=title_segments,
                series_segments=(),
                title_moved=True,
                alternatives=(),
            )
            found.append(moved)
            if not after_tome and parsed.tome is not None:
                # "Goux - Série - T02": the other segments an author (or noise), unless they name another
                # album of the series (checked when scoring)
                found.append(replace(moved, title=None, title_norm="", title_segments=(), dropped=tuple(others)))
        return found

    def match(self, parsed: ParsedName) -> MatchResult:
        """Score the candidates of ``parsed`` and decide; other readings only when the first is not
        accepted, and they never overrule it."""
        result = decide(self.candidates(parsed), self.settings)
        if result.decision != Decision.ACCEPT:
            result = self._other_readings(parsed, result)
        if self._url_of is not None:
            for candidate in result.candidates:
                candidate.url = self._url_of(candidate.album_id)
        return result

    def _other_readings(self, parsed: ParsedName, first: MatchResult) -> MatchResult:
        """Another reading's accept wins only when nothing the first reading found stands against it:
        the first reading is not ambiguous, does not hold a tome written with a marker and found in
        the series ("Pif - T51 - 3e serie T60" is not tome 60 unseen), and no reading accepts another
        album. Otherwise a person chooses among them."""
        best_first = first.best
        ambiguous = best_first is not None and any(cap.startswith(AMBIGUOUS_CAP) for cap in best_first.caps)
        tome = best_first.component("tome") if best_first is not None else None
        kept_tome = parsed.tome if parsed.tome_explicit and tome is not None and tome.similarity == 1.0 else None
        accepted: list[MatchResult] = []
        why = ""
        best = first
        for reading in self.readings(parsed):
            other = decide(self.candidates(reading, name_series=parsed.series_norm), self.settings)
            if other.decision == Decision.ACCEPT and other.best is not None:
                accepted.append(other)
                if ambiguous:
                    why = (
                        why
                        or f"the name's first reading is ambiguous; another reading finds album {other.best.album_id}"
                    )
                elif kept_tome is not None and reading.tome != kept_tome:
                    why = why or (
                        f"the name writes tome {kept_tome}, which the series has; another reading finds album "
                        f"{other.best.album_id} (tome {reading.tome or 'none'})"
                    )
            elif RANK[other.decision] > RANK[best.decision]:  # the name's first reading wins ties
                best = other
        if not accepted:
            return best
        albums = {_album_key(result.best) for result in accepted if result.best is not None}
        if len(albums) > 1:
            why = "readings of the name find different albums: " + ", ".join(str(a) for a in sorted(albums))
        if not why:
            return accepted[0]
        candidates = _one_per_album([*first.candidates, *(c for result in accepted for c in result.candidates)])
        ranked = sorted(candidates, key=lambda score: (-score.score, score.album_id))[: self.settings.max_candidates]
        top = ranked[0]
        if not any(cap.startswith(AMBIGUOUS_CAP) for cap in top.caps):
            top.cap(f"{AMBIGUOUS_CAP}: {why}")
        return MatchResult(Decision.REVIEW, top, ranked, why)


def _contenders(parsed: ParsedName, albums: list[IndexedAlbum]) -> list[IndexedAlbum]:
    """In a series of thousands of albums, the ones that can win: same tome, or the closest titles.
    Scoring the others could only add candidates capped as "tome number differs"."""
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


def _album_key(score: Score) -> int:
    """The same number for every edition of one album."""
    return min((score.album_id, *score.editions))


def _one_per_album(scores: list[Score]) -> list[Score]:
    """The best-scoring edition of each album (ties: the lowest id), the others as its editions."""
    best: dict[int, Score] = {}
    for score in scores:
        key = _album_key(score)
        known = best.get(key)
        if known is None or (score.score, -score.album_id) > (known.score, -known.album_id):
            best[key] = score
    return list(best.values())
