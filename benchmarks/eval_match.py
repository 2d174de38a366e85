"""Matching accuracy on the real sitemaps (../shared): top-1, automatic matches, wrong and absent ones.

First on tidy collector names (:mod:`namegen`), then per convention of real-world noise
(:mod:`noisegen`: roman tomes, scene releases, bracketed series...). ``--seed`` picks other names:
tune on one seed, report on another.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

from bdnex_core.bedetheque.sitemaps import iter_album_entries
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.evaluation import CONTRADICTING, evaluate, evaluate_noisy

# ../shared beside the checkout, or BDNEX_SHARED_DIR (as the tests read it)
SHARED = Path(os.environ.get("BDNEX_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
SITEMAPS = SHARED / "fixtures" / "bedetheque" / "sitemaps"


def print_noisy_table(results, failures: int) -> None:
    print(f"{'convention':<22} {'names':>5} {'best right':>10} {'automatic':>9} {'wrong auto':>10} {'auto absent':>11}")
    for convention, result in results.items():
        rates = result.rates()
        if convention == CONTRADICTING:
            print(
                f"{convention:<22} {result.absent:>5} {'-':>10} {'-':>9} {'-':>10} "
                f"{result.absent_accepted:>4}/{result.absent:<6}"
            )
            continue
        print(
            f"{convention:<22} {result.present:>5} {rates['top1']:>10.2%} {rates['accept_rate_present']:>9.2%} "
            f"{result.wrong_accepted:>10} {result.absent_accepted:>4}/{result.absent:<6}"
        )
    for convention, result in results.items():
        for failure in result.failures[:failures]:
            print(f"  [{convention}]", failure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("present", nargs="?", type=int, default=3000, help="tidy names of present albums")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-convention", type=int, default=400, help="noisy names per convention")
    parser.add_argument("--noisy-only", action="store_true")
    parser.add_argument("--failures", type=int, default=8, help="failures shown per convention")
    args = parser.parse_args()
    files = sorted(glob.glob(str(SITEMAPS / "albums_*_map.xml")))
    if not files:
        print(f"no sitemaps in {SITEMAPS}")
        return 1
    entries = [entry for path in files for entry in iter_album_entries(path)]
    if not args.noisy_only:
        started = time.perf_counter()
        result = evaluate(entries, MatchingSettings(), present=args.present, absent=500, seed=args.seed)
        rates = result.rates()
        print(
            f"catalogue: {len(entries)} albums; {result.present} present names, {result.absent} absent names "
            f"({time.perf_counter() - started:.1f} s)"
        )
        print(f"top-1: {rates['top1']:.2%} (target >= 99%)")
        print(f"accepted (present): {rates['accept_rate_present']:.2%} (target >= 90%)")
        print(f"wrong automatic: {rates['wrong_automatic']:.2%} (target <= 0.5%)")
        print(f"automatic on absent: {rates['absent_automatic']:.2%} (target <= 2%)")
        for failure in result.failures[:40]:
            print("  ", failure)
    started = time.perf_counter()
    noisy = evaluate_noisy(
        entries, MatchingSettings(), present=args.per_convention, absent=args.per_convention // 5, seed=args.seed
    )
    print(
        f"\nreal-world noise, seed {args.seed} ({time.perf_counter() - started:.1f} s); targets: best right >= 99.5%,"
    )
    print("automatic >= 95%, no wrong automatic match, no automatic match on absent albums or contradicting titles")
    print_noisy_table(noisy, args.failures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
