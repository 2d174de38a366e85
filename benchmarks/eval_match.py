"""Matching accuracy on the real sitemaps (../shared): top-1, automatic matches, wrong and absent ones."""

from __future__ import annotations

import glob
import sys
import time
from pathlib import Path

from bdnex_core.bedetheque.sitemaps import iter_album_entries
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.evaluation import evaluate

SITEMAPS = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "bedetheque" / "sitemaps"


def main() -> int:
    files = sorted(glob.glob(str(SITEMAPS / "albums_*_map.xml")))
    if not files:
        print(f"no sitemaps in {SITEMAPS}")
        return 1
    entries = [entry for path in files for entry in iter_album_entries(path)]
    started = time.perf_counter()
    result = evaluate(entries, MatchingSettings(), present=int(sys.argv[1]) if len(sys.argv) > 1 else 3000, absent=500)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
