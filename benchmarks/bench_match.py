"""Matching speed and memory at 300,000 albums, side by side with BDneX's method.

The synthetic catalogue follows the real sitemaps' distribution (series sizes, tome
forms, title words) with invented names; 1,000 file names are generated from it.
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

from bdnex_core.bedetheque.sitemaps import AlbumEntry, iter_album_entries
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.namegen import realistic_names
from bdnex_core.matching.normalize import normalize, slug_words

# ../shared beside the checkout, or BDNEX_SHARED_DIR (as the tests read it)
SHARED = Path(os.environ.get("BDNEX_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
SITEMAPS = SHARED / "fixtures" / "bedetheque" / "sitemaps"
TARGET = 300_000
SYLLABLES = ("ba", "lo", "ri", "de", "mon", "tar", "vel", "qui", "zo", "nar", "ste", "pha", "gru", "lin", "cor", "ka")


def real_distribution() -> tuple[list[int], list[str], list[int]]:
    files = sorted(glob.glob(str(SITEMAPS / "albums_*_map.xml")))
    entries = [entry for path in files for entry in iter_album_entries(path)]
    sizes: dict[str, int] = {}
    for entry in entries:
        sizes[entry.series_slug] = sizes.get(entry.series_slug, 0) + 1
    kinds = [entry.tome_kind or "oneshot" for entry in entries] or ["regular"]
    title_lengths = [len(entry.title_slug.split("-")) for entry in entries] or [3]
    return list(sizes.values()) or [5], kinds, title_lengths


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))).capitalize()


def synthetic_catalogue(count: int, rng: random.Random) -> list[AlbumEntry]:
    sizes, kinds, title_lengths = real_distribution()
    entries: list[AlbumEntry] = []
    album_id = 1
    while len(entries) < count:
        series = "-".join(word(rng) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.2:
            series += f"-{rng.randint(1960, 2025)}"  # edition qualifiers, as the real slugs have
        size = rng.choice(sizes)
        for number in range(1, size + 1):
            kind = rng.choice(kinds) if size > 1 else "oneshot"
            title = "-".join(word(rng) for _ in range(rng.choice(title_lengths)))
            if kind == "oneshot":
                entries.append(
                    AlbumEntry(album_id, f"https://x/BD-{title}-{album_id}.html", title, None, None, None, title)
                )
            elif kind == "int":
                entries.append(AlbumEntry(album_id, "", series, f"INT{number}", number, "int", title))
            elif kind == "hs":
                entries.append(AlbumEntry(album_id, "", series, f"HS{number}", number, "hs", title))
            else:
                entries.append(AlbumEntry(album_id, "", series, str(number), number, "regular", title))
            album_id += 1
    return entries[:count]


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


def main() -> int:
    rng = random.Random(300)
    entries = synthetic_catalogue(TARGET, rng)
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
    ours, correct = [], 0
    for entry, name in zip(sample, names, strict=True):
        begin = time.perf_counter()
        result = matcher.match(parse_filename(name))
        ours.append((time.perf_counter() - begin) * 1000)
        correct += bool(result.best and result.best.album_id == entry.album_id)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    flat_names = sorted({f"{e.series_norm} {e.tome or ''} {e.title_norm}".strip() for e in entries})
    theirs = []
    for name in names[:200]:  # BDneX's method is slow: 200 names are enough for its median
        begin = time.perf_counter()
        bdnex_method(flat_names, name)
        theirs.append((time.perf_counter() - begin) * 1000)

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    print(f"catalogue: {len(entries)} synthetic albums, {len(index.series_names)} series")
    print(
        f"index build: {build_seconds:.2f} s; peak RSS {peak_rss_mb:.0f} MB (before the index: {rss_before / 1024:.0f} MB)"
    )
    print(
        f"ours:  median {statistics.median(ours):.2f} ms, p95 {p95(ours):.2f} ms per name over {len(ours)} names; "
        f"top-1 {correct / len(sample):.1%}"
    )
    print(
        f"BDneX: median {statistics.median(theirs):.2f} ms, p95 {p95(theirs):.2f} ms per name over {len(theirs)} names"
    )
    print(f"ratio BDneX / ours (median): {statistics.median(theirs) / statistics.median(ours):.1f}x")
    print("targets: median <= 5 ms, p95 <= 20 ms, peak RSS <= 300 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
