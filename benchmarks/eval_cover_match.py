"""What the cover adds to matching at the site's scale: the names of ``eval_match.py`` (held-out seed),
decided by the name alone, then with the file's cover compared as ``matching.cover_check: doubt`` does.

The catalogue is generated (``--scale``, default 300,000 albums); each album's cover is the one the
fake site serves (``demo/covers.py``: ``album_cover_seeds``, series sharing a layout, re-editions
keeping or changing the art), and each file's first page is a scan of its own album's cover (cropped,
rotated, re-coloured, re-compressed, with stickers...). Covers are compared only where ``doubt``
compares them (a name between the review and accept thresholds: its candidates the name does not
contradict), and decided by the code a tag runs (``covers.check``: ``CoverChecker.wanted``,
``cover_decision``). Printed per convention: automatic before and after, wrong automatic after (goal
0), then the totals and the covers fingerprinted.

    python benchmarks/eval_cover_match.py --scale 300000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval_match import HELD_OUT_SEED, SITEMAPS

from bdnex_core.config import MatchingSettings
from bdnex_core.covers.check import CoverBudget, CoverChecker, CoverLine, cover_decision
from bdnex_core.covers.fingerprint import CoverFingerprint, compare, fingerprint_bytes, fingerprint_image
from bdnex_core.demo.covers import album_cover_seeds, cover_image, jpeg, scan_of, scan_recipe
from bdnex_core.matching.decide import MatchResult
from bdnex_core.matching.evaluation import Evaluation, evaluate_conventions
from bdnex_core.matching.noisegen import CONVENTIONS, MORE_CONVENTIONS
from bdnex_core.states import Decision


class CoverJudge:
    """The file's cover against its candidates', for the names ``doubt`` compares."""

    def __init__(self, entries: list, work: dict[int, int], settings: MatchingSettings):
        self.slug = {entry.album_id: entry.series_slug for entry in entries}
        self.first: dict[int, int] = {}
        for album_id, original in work.items():  # an album's first edition: the lowest id of its work
            self.first[original] = min(self.first.get(original, album_id), album_id)
        self.work = work
        self.settings = settings
        self.checker = CoverChecker(None, "doubt", CoverBudget(0), review_threshold=settings.review_threshold)
        self.sites: dict[int, CoverFingerprint] = {}
        self.compared = self.accepted_by_cover = 0
        self.seconds = 0.0

    def seeds(self, album_id: int) -> tuple:
        return album_cover_seeds(self.slug[album_id], album_id, self.first[self.work.get(album_id, album_id)])

    def site_cover(self, album_id: int) -> CoverFingerprint:
        if album_id not in self.sites:
            self.sites[album_id] = fingerprint_image(cover_image(*self.seeds(album_id)), reference=True)
        return self.sites[album_id]

    def __call__(self, match: MatchResult, album_id: int) -> MatchResult:
        wanted = self.checker.wanted(match, edition_said=False)
        if match.decision != Decision.REVIEW or not wanted:
            return match  # an accept's editions are compared too, but change no automatic share
        started = time.perf_counter()
        recipe = scan_recipe(album_id)
        scan = fingerprint_bytes(jpeg(scan_of(cover_image(*self.seeds(album_id)), recipe, album_id), recipe.quality))
        lines = {candidate: CoverLine(candidate, compare(scan, self.site_cover(candidate))) for candidate in wanted}
        decision = cover_decision(match, lines, self.settings.review_threshold)
        self.compared += 1
        self.seconds += time.perf_counter() - started
        if decision.accept is None:
            return match
        self.accepted_by_cover += 1
        chosen = next(candidate for candidate in match.candidates if candidate.album_id == decision.accept)
        return MatchResult(Decision.ACCEPT, chosen, match.candidates, "accepted by its cover")


def totals(results: dict[str, Evaluation]) -> tuple[int, int, int, int]:
    present = sum(result.present for result in results.values())
    accepted = sum(result.accepted for result in results.values())
    wrong = sum(result.wrong_accepted for result in results.values())
    absent = sum(result.absent_accepted for result in results.values())
    return present, accepted, wrong, absent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--per-convention", type=int, default=300)
    args = parser.parse_args()
    from bdnex_core.demo.catalogue_generator import generate_catalogue
    from bdnex_core.matching.evaluation import TIDY

    settings = MatchingSettings()
    started = time.perf_counter()
    sitemaps = sorted(SITEMAPS.glob("albums_*_map.xml")) or None
    catalogue = generate_catalogue(args.scale, seed=args.seed, sitemaps=sitemaps)
    print(f"generated catalogue: {len(catalogue.entries)} albums from {catalogue.source}, seed {args.seed}", flush=True)
    conventions = (TIDY, *CONVENTIONS, *MORE_CONVENTIONS)
    common = dict(
        work=catalogue.work,
        present=args.per_convention,
        absent=args.per_convention // 5,
        seed=args.seed,
        conventions=conventions,
    )
    before = evaluate_conventions(catalogue.entries, settings, **common)  # type: ignore[arg-type]
    print(f"names decided by the name alone ({time.perf_counter() - started:.0f} s)", flush=True)
    judge = CoverJudge(catalogue.entries, catalogue.work, settings)
    after = evaluate_conventions(catalogue.entries, settings, judge=judge, **common)  # type: ignore[arg-type]
    print(f"\n{'convention':38} {'automatic before':>17} {'after':>8} {'wrong after':>12} {'absent acc.':>12}")
    for name, result in after.items():
        was = before[name]
        present = max(1, result.present)
        print(
            f"{name[:38]:38} {100 * was.accepted / present:16.1f}% {100 * result.accepted / present:7.1f}% "
            f"{result.wrong_accepted:12d} {result.absent_accepted:12d}"
        )
    present, accepted_before, wrong_before, absent_before = totals(before)
    _present, accepted_after, wrong_after, absent_after = totals(after)
    print(
        f"\nall names of present albums: {present}; decided automatically {accepted_before} -> {accepted_after} "
        f"({100 * accepted_before / present:.2f} % -> {100 * accepted_after / present:.2f} %, "
        f"ratio {accepted_after / max(1, accepted_before):.4f})"
    )
    print(
        f"wrong automatic: {wrong_before} -> {wrong_after}; absent albums accepted: {absent_before} -> {absent_after}"
    )
    print(
        f"names whose covers were compared: {judge.compared}, accepted by their cover: {judge.accepted_by_cover}; "
        f"site covers fingerprinted: {len(judge.sites)}; {1000 * judge.seconds / max(1, judge.compared):.0f} ms per name"
    )
    met = accepted_after > accepted_before and wrong_after == 0 and absent_after == 0
    print("targets met (more decided automatically, 0 wrong, 0 absent accepted)" if met else "targets missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
