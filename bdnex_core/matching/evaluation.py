"""Accuracy of the matcher on a real catalogue, with realistic names (used by a test and a benchmark).

Present albums: names generated for albums of the index. Absent albums: albums removed
from the index before it is built, then looked for — they must never be accepted.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bdnex_core.bedetheque.sitemaps import AlbumEntry
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.decide import MatchResult
from bdnex_core.matching.editions import edition_groups
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex, CatalogueLookup
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.namegen import realistic_names
from bdnex_core.matching.noisegen import ALL_CONVENTIONS, CONVENTIONS, contradicting_name, noisy_name
from bdnex_core.matching.normalize import strip_articles

#: an index of the given albums: the in-memory one by default; a test passes the persisted one to compare
IndexFactory = Callable[[Sequence[AlbumEntry]], CatalogueLookup]


def in_memory_index(entries: Sequence[AlbumEntry]) -> CatalogueLookup:
    return CatalogueIndex.build(index_rows(entries))


def index_rows(entries: Iterable[AlbumEntry]) -> Iterable[tuple]:
    """Entries as the rows :meth:`CatalogueIndex.build` reads."""
    return ((e.album_id, e.url, e.series_norm, e.tome, e.tome_number, e.tome_kind, e.title_norm) for e in entries)


def human(slug: str) -> str:
    """A slug as a person would type it (spaces, same letters)."""
    return slug.replace("-", " ").strip()


@dataclass
class Evaluation:
    present: int = 0
    top1: int = 0
    accepted: int = 0
    wrong_accepted: int = 0
    absent: int = 0
    absent_accepted: int = 0
    failures: list[tuple[str, int, int | None, str]] = field(default_factory=list)
    # every name looked up: (name, decision, best candidate), in order (two indexes are compared by it)
    decisions: list[tuple[str, str, int | None]] = field(default_factory=list)
    # names of present albums left to a person although their best candidate is right (why: the caps)
    reviews: list[tuple[str, int, str]] = field(default_factory=list)

    def rates(self) -> dict[str, float]:
        return {
            "top1": self.top1 / self.present if self.present else 0.0,
            "accept_rate_present": self.accepted / self.present if self.present else 0.0,
            "wrong_automatic": self.wrong_accepted / self.present if self.present else 0.0,
            "absent_automatic": self.absent_accepted / self.absent if self.absent else 0.0,
        }


def evaluate(
    entries: Sequence[AlbumEntry],
    settings: MatchingSettings,
    *,
    present: int = 2000,
    absent: int = 400,
    seed: int = 7,
    make_index: IndexFactory = in_memory_index,
) -> Evaluation:
    rng = random.Random(seed)
    by_id = {entry.album_id: entry for entry in entries}
    removed = set(rng.sample(sorted(by_id), absent))
    matcher = Matcher(make_index([e for e in entries if e.album_id not in removed]), settings)
    result = Evaluation()
    kept = [entry for entry in entries if entry.album_id not in removed]
    right = _same_album(_groups_as_work(entries))
    for entry in rng.sample(kept, min(present, len(kept))):
        name = rng.choice(
            realistic_names(human(entry.series_slug), entry.tome, human(entry.title_slug) or None, rng=rng)
        )
        match = matcher.match(parse_filename(name))
        result.present += 1
        best = match.best.album_id if match.best else None
        result.decisions.append((name, match.decision, best))
        result.top1 += right(entry.album_id, best)
        if match.decision == "accept":
            result.accepted += 1
            if not right(entry.album_id, best):
                result.wrong_accepted += 1
                result.failures.append((name, entry.album_id, best, match.best.explain() if match.best else ""))
        elif best != entry.album_id and len(result.failures) < 200:
            result.failures.append((name, entry.album_id, best, match.best.explain() if match.best else "no candidate"))
    for album_id in sorted(removed):
        entry = by_id[album_id]
        name = rng.choice(
            realistic_names(human(entry.series_slug), entry.tome, human(entry.title_slug) or None, rng=rng)
        )
        match = matcher.match(parse_filename(name))
        result.absent += 1
        result.decisions.append((name, match.decision, match.best.album_id if match.best else None))
        if match.decision == "accept":
            result.absent_accepted += 1
            result.failures.append(
                (
                    f"ABSENT {name}",
                    album_id,
                    match.best.album_id if match.best else None,
                    match.best.explain() if match.best else "",
                )
            )
    return result


CONTRADICTING = "contradicting title"
# what else a tag knows besides the name: (the name's match, the album the file is) -> the match decided
Judge = Callable[[MatchResult, int], MatchResult]


def _match_one(
    matcher: Matcher,
    name: str,
    album_id: int,
    result: Evaluation,
    *,
    present: bool,
    right: Callable[[int, int | None], bool] = lambda expected, found: expected == found,
    judge: Judge | None = None,
) -> None:
    match = matcher.match(parse_filename(name))
    if judge is not None:  # further evidence on the name's match (the cover benchmark's covers)
        match = judge(match, album_id)
    best = match.best.album_id if match.best else None
    result.decisions.append((name, match.decision, best))
    explained = match.best.explain() if match.best else "no candidate"
    if not present:
        result.absent += 1
        if match.decision == "accept":
            result.absent_accepted += 1
            result.failures.append((f"ABSENT {name}", album_id, best, explained))
        return
    result.present += 1
    result.top1 += right(album_id, best)
    if match.decision == "accept":
        result.accepted += 1
        if not right(album_id, best):
            result.wrong_accepted += 1
            result.failures.append((f"WRONG {name}", album_id, best, explained))
    elif not right(album_id, best) and len(result.failures) < 200:
        result.failures.append((name, album_id, best, explained))
    elif len(result.reviews) < 200:
        result.reviews.append((name, album_id, match.reason))


def evaluate_noisy(
    entries: Sequence[AlbumEntry],
    settings: MatchingSettings,
    *,
    present: int = 300,
    absent: int = 60,
    seed: int = 7,
    conventions: Sequence[str] | None = None,
    make_index: IndexFactory = in_memory_index,
) -> dict[str, Evaluation]:
    """Per convention of :mod:`noisegen`: ``present`` names of albums in the index and ``absent`` of
    albums removed from it; plus names whose title contradicts their tome (never to be accepted)."""
    rng = random.Random(seed)
    by_id = {entry.album_id: entry for entry in entries}
    removed = set(rng.sample(sorted(by_id), max(absent * 10, len(by_id) // 20)))
    matcher = Matcher(make_index([e for e in entries if e.album_id not in removed]), settings)
    kept = [entry for entry in entries if entry.album_id not in removed]
    gone = [by_id[album_id] for album_id in sorted(removed)]
    right = _same_album(_groups_as_work(entries))
    results: dict[str, Evaluation] = {}
    for convention in conventions or CONVENTIONS:
        result = results[convention] = Evaluation()
        for pool, wanted, is_present in ((kept, present, True), (gone, absent, False)):
            done = 0
            for entry in rng.sample(pool, len(pool)):
                if done >= wanted:
                    break
                name = noisy_name(
                    convention, human(entry.series_slug), entry.tome, human(entry.title_slug) or None, rng=rng
                )
                if name is not None:
                    _match_one(matcher, name, entry.album_id, result, present=is_present, right=right)
                    done += 1
    results[CONTRADICTING] = _contradicting(matcher, kept, absent * 3, rng)
    return results


def _same_album(work: Mapping[int, int]) -> Callable[[int, int | None], bool]:
    """Whether a found id is an edition of the expected album (the same id, or one of its group)."""

    def right(expected: int, found: int | None) -> bool:
        return found is not None and work.get(found, found) == work.get(expected, expected)

    return right


def _contradicting(
    matcher: Matcher, kept: Sequence[AlbumEntry], wanted: int, rng: random.Random, judge: Judge | None = None
) -> Evaluation:
    by_series: dict[str, list[AlbumEntry]] = {}
    for entry in kept:
        by_series.setdefault(entry.series_slug, []).append(entry)
    result = Evaluation()
    for entry in rng.sample(kept, len(kept)):
        if result.absent >= wanted:
            break
        others = [
            other
            for other in by_series[entry.series_slug]
            if other.title_norm
            and other.tome_number != entry.tome_number
            and fuzz.token_set_ratio(other.title_norm, entry.title_norm) < 50
        ]
        if not others:
            continue
        name = contradicting_name(
            human(entry.series_slug), entry.tome or "", human(rng.choice(others).title_slug), rng=rng
        )
        if name is not None:
            _match_one(matcher, name, entry.album_id, result, present=False, judge=judge)
    return result


TIDY = "tidy"
WITHOUT_TOME = ("Série/Titre folder", "Série-Titre")  # conventions whose names carry no tome
NEIGHBOUR_TRAP = "absent, a neighbour present"


def _nameable(entry: AlbumEntry) -> bool:
    """Albums whose tome a collector writes as the catalogue does: none, '12', '1a', 'HS2', 'INT3'."""
    tome = entry.tome
    return tome is None or re.fullmatch(r"\d{1,3}[a-z]?|HS\d*|INT\d*", tome) is not None


def evaluate_conventions(
    entries: Sequence[AlbumEntry],
    settings: MatchingSettings,
    *,
    work: Mapping[int, int] | None = None,
    conventions: Sequence[str] | None = None,
    present: int = 300,
    absent: int = 60,
    seed: int = 7,
    index: CatalogueLookup | None = None,
    make_index: IndexFactory = in_memory_index,
    judge: Judge | None = None,
) -> dict[str, Evaluation]:
    """Per convention (``tidy`` names of :mod:`namegen`, then each of :mod:`noisegen`): ``present`` names
    of albums in the index and ``absent`` of albums removed from it with all their editions (their
    neighbours, language and collection editions, spin-offs, stay).

    ``work`` maps an album id to the album it is an edition of (the generator knows it); without it
    the index's edition groups say which ids are one album. A name is right when its best candidate
    is an edition of its album. ``NEIGHBOUR_TRAP`` counts names of absent albums whose language or
    collection edition, or whose series' other edition, is in the index: never to be accepted."""
    rng = random.Random(seed)
    work = dict(work) if work is not None else _groups_as_work(entries)
    members: dict[int, list[AlbumEntry]] = {}
    for entry in entries:
        members.setdefault(work.get(entry.album_id, entry.album_id), []).append(entry)
    originals = sorted(members)
    removed_works = set(rng.sample(originals, max(absent * 20, len(originals) // 40)))
    removed = {entry.album_id for key in removed_works for entry in members[key]}
    kept = [entry for entry in entries if entry.album_id not in removed and _nameable(entry)]
    if index is None:
        index = make_index([e for e in entries if e.album_id not in removed])
    matcher = Matcher(index, settings)
    gone = [entry for key in sorted(removed_works) for entry in members[key][:1] if _nameable(entry)]
    trapped = _with_neighbours(gone, entries, removed)
    # a name without a tome names its album by series and title: an absent album whose series and title a
    # present one has ("Kiwi" 148 and 214, both "L'espion") cannot be told from it, so for those conventions
    # it is not counted as absent
    titled = {(e.series_norm, strip_articles(e.title_norm)) for e in entries if e.album_id not in removed}
    told_apart = [entry for entry in gone if (entry.series_norm, strip_articles(entry.title_norm)) not in titled]
    # likewise a present album whose title is another album's of the series, or has no letter we read
    works_titled: dict[tuple[str, str], set[int]] = {}
    for e in entries:
        if e.album_id not in removed:
            works_titled.setdefault((e.series_norm, strip_articles(e.title_norm)), set()).add(
                work.get(e.album_id, e.album_id)
            )
    nameable_by_title = [
        e for e in kept if e.title_norm and len(works_titled[(e.series_norm, strip_articles(e.title_norm))]) == 1
    ]

    right = _same_album(work)

    def name_of(convention: str, entry: AlbumEntry) -> str | None:
        series, title = human(entry.series_slug), human(entry.title_slug) or None
        if convention == TIDY:
            return rng.choice(realistic_names(series, entry.tome, title, rng=rng))
        return noisy_name(convention, series, entry.tome, title, rng=rng)

    results: dict[str, Evaluation] = {}
    for convention in conventions or (TIDY, *ALL_CONVENTIONS):
        result = results[convention] = Evaluation()
        without_tome = convention in WITHOUT_TOME
        present_pool, absent_pool = (nameable_by_title, told_apart) if without_tome else (kept, gone)
        for pool, wanted, is_present in ((present_pool, present, True), (absent_pool, absent, False)):
            done = 0
            for entry in rng.sample(pool, len(pool)):
                if done >= wanted:
                    break
                name = name_of(convention, entry)
                if name is not None:
                    _match_one(matcher, name, entry.album_id, result, present=is_present, right=right, judge=judge)
                    done += 1
    trap = results[NEIGHBOUR_TRAP] = Evaluation()
    for entry in trapped[: absent * 5]:
        name = name_of(TIDY, entry)
        if name is not None:
            _match_one(matcher, name, entry.album_id, trap, present=False, right=right, judge=judge)
    results[CONTRADICTING] = _contradicting(matcher, kept, absent * 3, rng, judge)
    return results


def _groups_as_work(entries: Sequence[AlbumEntry]) -> dict[int, int]:
    """Without the generator's knowledge, the edition groups of the index say which ids are one album."""
    by_series: dict[str, list[AlbumEntry]] = {}
    for entry in entries:
        by_series.setdefault(entry.series_norm, []).append(entry)
    work = {entry.album_id: entry.album_id for entry in entries}
    for members in by_series.values():
        for group in edition_groups([(i, e.tome_kind, e.tome, e.title_norm) for i, e in enumerate(members)]):
            first = min(members[i].album_id for i in group)
            work.update((members[i].album_id, first) for i in group)
    return work


def _with_neighbours(gone: Sequence[AlbumEntry], entries: Sequence[AlbumEntry], removed: set[int]) -> list[AlbumEntry]:
    """Absent albums a neighbour stands in for: a series that starts with theirs holds their tome number."""
    tomes: dict[tuple[str, int | None], list[str]] = {}
    for entry in entries:
        if entry.album_id not in removed and entry.tome_number is not None:
            tomes.setdefault((entry.series_slug.split("-")[0].lower(), entry.tome_number), []).append(entry.series_slug)
    found = []
    for entry in gone:
        others = tomes.get((entry.series_slug.split("-")[0].lower(), entry.tome_number), [])
        if any(other != entry.series_slug and other.startswith(entry.series_slug + "-") for other in others):
            found.append(entry)
    return found
