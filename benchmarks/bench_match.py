"""Matching speed and memory at 300,000 albums, side by side with BDneX's method.

The catalogue is the generated one of ``bdnex_core/demo/catalogue_generator.py`` (the real sitemaps'
words and albums when ../shared is there, the built-in vocabulary otherwise), with its re-editions,
language and collection editions, spin-offs, reboots and intégrales; 1,000 tidy file names are
generated from it, then names of issue 21's conventions and of issue 26's, timed apart.
BDneX's method, written from its description: keep the catalogue names whose first
word equals the file name's, then one ``fuzz.ratio`` per remaining name.
"""

from __future__ import annotations

import glob
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

from rapidfuzz import fuzz

from bdnex_core.config import MatchingSettings
from bdnex_core.demo.catalogue_generator import generate_catalogue
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.namegen import realistic_names
from bdnex_core.matching.noisegen import CONVENTIONS, MORE_CONVENTIONS, noisy_name
from bdnex_core.matching.normalize import normalize, slug_words

# ../shared beside the checkout, or BDNEX_SHARED_DIR (as the tests read it)
SHARED = Path(os.environ.get("BDNEX_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
SITEMAPS = SHARED / "fixtures" / "bedetheque" / "sitemaps"
TARGET = 300_000


def bdnex_method(names: list[str], name: str) -> str:
    """One fuzz.ratio per catalogue name sharing the query's first word (BDneX, as described)."""
    query = normalize(name)
    first = query.split(" ", 1)[0]
    best, best_score = "", -1.0
    for candidate in names:
        if candidate.startswith(first):
            score = fuzz.ratio(query, candidate)
            if score > best_score:
                best, best_score = candidate, score
    return best


def timed(matcher: Matcher, names: list[str]) -> list[float]:
    times = []
    for name in names:
        begin = time.perf_counter()
        matcher.match(parse_filename(name))
        times.append((time.perf_counter() - begin) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> int:
    rng = random.Random(300)
    sitemaps = [Path(path) for path in sorted(glob.glob(str(SITEMAPS / "albums_*_map.xml")))]
    catalogue = generate_catalogue(TARGET, seed=300, sitemaps=sitemaps or None)
    entries = catalogue.entries
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = CatalogueIndex.build(
        (e.album_id, e.url, e.series_norm, e.tome, e.tome_number, e.tome_kind, e.title_norm) for e in entries
    )
    build_seconds = time.perf_counter() - started
    matcher = Matcher(index, MatchingSettings())
    sample = rng.sample(entries, 1000)
    names = [
        rng.choice(
            realistic_names(
                slug_words(e.series_slug).title(), e.tome, slug_words(e.title_slug).title() or None, rng=rng
            )
        )
        for e in sample
    ]
    matcher.match(parse_filename("warm up.cbz"))  # the lazily built title table is not a name's cost
    ours = timed(matcher, names)
    correct = sum(
        bool(result.best and catalogue.work.get(result.best.album_id) == catalogue.work[entry.album_id])
        for entry, result in (
            (entry, matcher.match(parse_filename(name))) for entry, name in zip(sample, names, strict=True)
        )
    )

    def noisy(conventions: list[str]) -> list[str]:
        found = []
        for entry in sample:
            name = noisy_name(
                rng.choice(conventions),
                slug_words(entry.series_slug),
                entry.tome,
                slug_words(entry.title_slug) or None,
                rng=rng,
            )
            if name:
                found.append(name)
        return found

    issue21 = timed(matcher, noisy(list(CONVENTIONS)))
    issue26 = timed(matcher, noisy(list(MORE_CONVENTIONS)))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    flat_names = sorted({f"{e.series_norm} {e.tome or ''} {e.title_norm}".strip() for e in entries})
    theirs = []
    for name in names[:200]:  # BDneX's method is slow: 200 names are enough for its median
        begin = time.perf_counter()
        bdnex_method(flat_names, name)
        theirs.append((time.perf_counter() - begin) * 1000)

    print(f"catalogue: {len(entries)} albums from {catalogue.source}, {len(index.series_names)} series")
    print(
        f"index build: {build_seconds:.2f} s; peak RSS {peak_rss_mb:.0f} MB (before the index: {rss_before / 1024:.0f} MB)"
    )
    for label, values in (("tidy", ours), ("issue 21 conventions", issue21), ("issue 26 conventions", issue26)):
        print(
            f"ours, {label}: median {statistics.median(values):.2f} ms, p95 {p95(values):.2f} ms over {len(values)} names"
        )
    print(f"best candidate right (tidy, any edition of the album): {correct / len(sample):.1%}")
    print(
        f"BDneX: median {statistics.median(theirs):.2f} ms, p95 {p95(theirs):.2f} ms per name over {len(theirs)} names"
    )
    print(f"ratio BDneX / ours (median, tidy): {statistics.median(theirs) / statistics.median(ours):.1f}x")
    print("targets: median <= 5 ms, p95 <= 20 ms (tidy), peak RSS <= 300 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
