"""Accuracy of the matcher on a real catalogue, with realistic names (used by a test and a benchmark).

Present albums: names generated for albums of the index. Absent albums: albums removed
from the index before it is built, then looked for — they must never be accepted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bdnex_core.bedetheque.sitemaps import AlbumEntry
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex, CatalogueLookup
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.namegen import realistic_names
from bdnex_core.matching.noisegen import CONVENTIONS, contradicting_name, noisy_name

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
    for entry in rng.sample(kept, min(present, len(kept))):
        name = rng.choice(
            realistic_names(human(entry.series_slug), entry.tome, human(entry.title_slug) or None, rng=rng)
        )
        match = matcher.match(parse_filename(name))
        result.present += 1
        best = match.best.album_id if match.best else None
        result.decisions.append((name, match.decision, best))
        result.top1 += best == entry.album_id
        if match.decision == "accept":
            result.accepted += 1
            if best != entry.album_id:
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


def _match_one(matcher: Matcher, name: str, album_id: int, result: Evaluation, *, present: bool) -> None:
    match = matcher.match(parse_filename(name))
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
    result.top1 += best == album_id
    if match.decision == "accept":
        result.accepted += 1
        if best != album_id:
            result.wrong_accepted += 1
            result.failures.append((name, album_id, best, explained))
    elif best != album_id and len(result.failures) < 200:
        result.failures.append((name, album_id, best, explained))


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
                    _match_one(matcher, name, entry.album_id, result, present=is_present)
                    done += 1
    results[CONTRADICTING] = _contradicting(matcher, kept, absent * 3, rng)
    return results


def _contradicting(matcher: Matcher, kept: Sequence[AlbumEntry], wanted: int, rng: random.Random) -> Evaluation:
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
            _match_one(matcher, name, entry.album_id, result, present=False)
    return result
