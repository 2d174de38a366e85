"""Cover comparison on generated covers: is a scan judged the same as its album's cover, and never
as another album of its series?

The set (``bdnex_core/demo/covers.py``): ``--series`` series (default 220) of ``--albums`` albums
(default 10) sharing their series' layout (logo band, palette, lettering), each album its own art;
one in five albums has a re-edition that keeps the art and changes the band, lettering or colours,
one in ten a re-edition with new art. Each album's cover is scanned once (crop ≤ 6 %, rotation ≤ 2°,
resize, gamma and colour shifts, JPEG 40–95, noise, sticker, spread; a blank or credits page first)
into a CBZ, whose cover is chosen and fingerprinted as a tag does (``covers.pages.archive_cover``).

Printed: same-album pairs judged same (goal ≥ 98 %), same-series other-album pairs judged same
(goal ≤ 0.2 %), editions, the distance distributions, time per archive and per site cover, memory;
and ratios against baselines of the same run: the first page taken blindly, a full JPEG decode
instead of draft decoding, the site's cover without its crop views.

    python benchmarks/bench_cover.py [--series 220 --albums 10 --seed 36]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bdnex_core.covers.fingerprint import (
    SAME_AT_MOST,
    CoverFingerprint,
    Verdict,
    compare,
    fingerprint_bytes,
    fingerprint_image,
    open_image,
)
from bdnex_core.covers.pages import archive_cover
from bdnex_core.demo.covers import (
    Edition,
    blank_page,
    cover_image,
    credits_page,
    jpeg,
    scan_of,
    scan_recipe,
)


def percentiles(values: list[int]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    at = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return f"min {ordered[0]}  p1 {at(0.01)}  p50 {at(0.5)}  p99 {at(0.99)}  max {ordered[-1]}"


def histogram(values: list[int], width: int = 8) -> str:
    buckets = Counter(value // width * width for value in values)
    return "  ".join(f"{low}-{low + width - 1}:{buckets[low]}" for low in sorted(buckets))


def make_archive(folder: Path, name: str, scan_jpeg: bytes, first_page: str, seed: int) -> Path:
    path = folder / f"{name}.cbz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        number = 0
        if first_page == "blank":
            archive.writestr(f"{number:03d}.jpg", jpeg(blank_page(), 80))
            number += 1
        elif first_page == "credits":
            archive.writestr(f"{number:03d}.jpg", jpeg(credits_page(seed), 80))
            number += 1
        archive.writestr(f"{number:03d}.jpg", scan_jpeg)
        inside = cover_image(seed + 5, seed + 6)  # an inner page: drawn art too
        archive.writestr(f"{number + 1:03d}.jpg", jpeg(inside, 80))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=220)
    parser.add_argument("--albums", type=int, default=10)
    parser.add_argument("--seed", type=int, default=36)
    options = parser.parse_args(argv)
    rng = random.Random(options.seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-cover-"))
    print(f"generated set: {options.series} series x {options.albums} albums, seed {options.seed}", flush=True)

    site: dict[tuple[int, int], CoverFingerprint] = {}  # (series, album) -> the site's cover
    bare: dict[tuple[int, int], CoverFingerprint] = {}  # the same without crop views (baseline)
    kept_art: dict[tuple[int, int], CoverFingerprint] = {}
    new_art: dict[tuple[int, int], CoverFingerprint] = {}
    archives: list[tuple[tuple[int, int], Path, str, bytes]] = []
    cover_seconds = 0.0
    covers = 0
    started = time.perf_counter()
    for series in range(options.series):
        series_seed = options.seed * 100_000 + series
        for album in range(options.albums):
            album_seed = series_seed * 100 + album
            key = (series, album)
            image = cover_image(series_seed, album_seed)
            site_jpeg = jpeg(image, 85)
            clock = time.perf_counter()
            site[key] = fingerprint_bytes(site_jpeg, reference=True)
            cover_seconds += time.perf_counter() - clock
            covers += 1
            bare[key] = CoverFingerprint(site[key].views[:1])
            if rng.random() < 0.2:
                change = rng.choice(
                    (
                        Edition(band_colour=True),
                        Edition(lettering=True),
                        Edition(colours=0.25),
                        Edition(True, True, 0.2),
                    )
                )
                kept_art[key] = fingerprint_image(cover_image(series_seed, album_seed, change), reference=True)
                covers += 1
            if rng.random() < 0.1:
                new_art[key] = fingerprint_image(cover_image(series_seed, album_seed + 7_777_777), reference=True)
                covers += 1
            recipe = scan_recipe(album_seed)
            scan_jpeg = jpeg(scan_of(image, recipe, album_seed), recipe.quality)
            path = make_archive(folder, f"{series}-{album}", scan_jpeg, recipe.first_page, album_seed)
            archives.append((key, path, recipe.first_page, scan_jpeg))
    print(
        f"generated {covers} site covers and {len(archives)} archives in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    same: list[int] = []
    same_bare: list[int] = []
    other: list[int] = []
    other_bare: list[int] = []
    verdicts_same: Counter[str] = Counter()
    verdicts_other: Counter[str] = Counter()
    kept_verdicts: Counter[str] = Counter()
    new_verdicts: Counter[str] = Counter()
    first_blind_same = 0
    chosen_right = 0
    archive_seconds = 0.0
    tracemalloc.start()
    for (series, album), path, first_page, _scan in archives:
        clock = time.perf_counter()
        chosen = archive_cover(path)
        archive_seconds += time.perf_counter() - clock
        assert chosen is not None
        chosen_right += chosen.page.endswith(f"{1 if first_page else 0:03d}.jpg")
        with zipfile.ZipFile(path) as archive:  # baseline: the first page, whatever it is
            blind = fingerprint_bytes(archive.read(sorted(archive.namelist())[0]))
        first_blind_same += compare(blind, site[series, album]).verdict == Verdict.SAME
        result = compare(chosen.fingerprint, site[series, album])
        same.append(result.distance)
        same_bare.append(compare(chosen.fingerprint, bare[series, album]).distance)
        verdicts_same[result.verdict] += 1
        for other_album in range(options.albums):
            if other_album != album:
                result = compare(chosen.fingerprint, site[series, other_album])
                other.append(result.distance)
                other_bare.append(compare(chosen.fingerprint, bare[series, other_album]).distance)
                verdicts_other[result.verdict] += 1
        if (series, album) in kept_art:
            kept_verdicts[compare(chosen.fingerprint, kept_art[series, album]).verdict] += 1
        if (series, album) in new_art:
            new_verdicts[compare(chosen.fingerprint, new_art[series, album]).verdict] += 1
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # the cost of a full decode against draft decoding, on the largest scans
    big = [scan for *_rest, scan in archives if open_image(scan, draft_side=100_000).size[0] >= 1400][:40]
    clock = time.perf_counter()
    for scan in big:
        fingerprint_bytes(scan)
    draft_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    for scan in big:
        fingerprint_image(open_image(scan, draft_side=100_000))
    full_seconds = time.perf_counter() - clock

    def share(counter: Counter[str], verdict: str) -> str:
        total = sum(counter.values())
        return f"{counter[verdict]}/{total} = {100 * counter[verdict] / max(1, total):.2f} %"

    bare_same = sum(1 for distance in same_bare if distance <= SAME_AT_MOST)
    print()
    print(f"same album, judged same:              {share(verdicts_same, Verdict.SAME)}   (goal >= 98 %)")
    print(f"same album, judged different:         {share(verdicts_same, Verdict.DIFFERENT)}")
    print(f"same series, other album, judged same: {share(verdicts_other, Verdict.SAME)}   (goal <= 0.2 %)")
    print(f"same series, other album, different:  {share(verdicts_other, Verdict.DIFFERENT)}")
    print(
        f"re-edition keeping the art (band/lettering/colours changed), judged same: {share(kept_verdicts, Verdict.SAME)}"
    )
    print(
        f"re-edition with new art, judged same:  {share(new_verdicts, Verdict.SAME)}; "
        f"different: {share(new_verdicts, Verdict.DIFFERENT)}"
    )
    print(f"cover page chosen right (blank/credits page first skipped): {chosen_right}/{len(archives)}")
    print()
    print(f"distance (pHash + dHash, of 128), same album:        {percentiles(same)}")
    print(f"   {histogram(same)}")
    print(f"distance, same series other album:                   {percentiles(other)}")
    print(f"   {histogram(other)}")
    print(f"without the site cover's crop views, same album:     {percentiles(same_bare)}")
    print(f"without the crop views, other album:                 {percentiles(other_bare)}")
    print()
    per_archive = 1000 * archive_seconds / len(archives)
    per_cover = 1000 * cover_seconds / len(site)
    print(f"time per archive (open, choose the cover, fingerprint): {per_archive:.1f} ms")
    print(f"time per site cover (decode, 9 views):                  {per_cover:.1f} ms")
    print(f"memory: peak traced while comparing {tracemalloc_mb(peak)}; process max RSS {rss_mb()} MB")
    print()
    print("ratios against baselines of this run:")
    print(
        f"  same album judged same, chosen cover / first page blindly: "
        f"{verdicts_same[Verdict.SAME]}/{first_blind_same} = {verdicts_same[Verdict.SAME] / max(1, first_blind_same):.3f}"
    )
    print(
        f"  same album judged same, with / without crop views: "
        f"{verdicts_same[Verdict.SAME]}/{bare_same} = {verdicts_same[Verdict.SAME] / max(1, bare_same):.3f}"
    )
    if big:
        print(
            f"  fingerprint of a >=1400 px scan, full decode / draft decode: "
            f"{full_seconds:.2f} s / {draft_seconds:.2f} s = {full_seconds / draft_seconds:.1f}x ({len(big)} scans)"
        )
    same_rate = verdicts_same[Verdict.SAME] / len(archives)
    other_rate = verdicts_other[Verdict.SAME] / max(1, sum(verdicts_other.values()))
    ok = same_rate >= 0.98 and other_rate <= 0.002
    print(
        f"\n{'PASS' if ok else 'FAIL'}: same {100 * same_rate:.2f} % (>= 98), other {100 * other_rate:.3f} % (<= 0.2)"
    )
    return 0 if ok else 1


def tracemalloc_mb(peak: int) -> str:
    return f"{peak / 1e6:.1f} MB"


def rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


if __name__ == "__main__":
    sys.exit(main())
