"""Matching accuracy per file-name convention, on the real sitemaps (11,536 albums) and at the real
site's scale (``--scale 300000``: a generated catalogue with re-editions, language and collection
editions, spin-offs, reboots and intégrales, see ``bdnex_core/demo/catalogue_generator.py``).

For each convention (tidy collector names, the noise of issue 21, the conventions of issue 26): the
share of names whose best candidate is their album (any of its editions), the share decided
automatically, the wrong automatic decisions, and the automatic decisions on names of albums absent
from the catalogue (removed with all their editions; their neighbours stay). Then two traps: absent
albums whose neighbour (a language or collection edition, a longer series) holds their tome, and
names whose title contradicts their tome.

Seeds: the rules were tuned on seeds 1 and 3 (catalogue and names). Seeds then run once each as the
held-out seed, whose misses led to fixes and which are therefore held out no more: 2026 (a
contradicting title holding "T60" accepted), 7777 (two absent albums accepted through a collection
qualifier and a series found by its start; run-together acronyms) and 9001 ("Part 3 of 3" taken for
"Part 1 of 3"; "L'intégrale - 0011"). The default, seed 4242, was never used while tuning: it is the
held-out seed the figures are reported on.

    python benchmarks/eval_match.py --scale 300000
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
from bdnex_core.matching.evaluation import CONTRADICTING, NEIGHBOUR_TRAP, TIDY, Evaluation, evaluate_conventions
from bdnex_core.matching.noisegen import CONVENTIONS, MORE_CONVENTIONS

# ../shared beside the checkout, or BDNEX_SHARED_DIR (as the tests read it)
SHARED = Path(os.environ.get("BDNEX_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
SITEMAPS = SHARED / "fixtures" / "bedetheque" / "sitemaps"
TUNING_SEEDS = (1, 3)  # what the rules were tuned on
SEEN_SEEDS = (2026, 7777, 9001)  # each reported once as held out; their misses led to fixes: held out no more
HELD_OUT_SEED = 4242  # never used while tuning: the reported figures
TRAPS = (NEIGHBOUR_TRAP, CONTRADICTING)


def target(convention: str) -> float:
    """The automatic share the issue asks: 0.95 on tidy and issue-21 names, 0.85 on issue 26's."""
    return 0.85 if convention in MORE_CONVENTIONS else 0.95


def print_table(title: str, results: dict[str, Evaluation], failures: int) -> bool:
    """The per-convention table; whether every target is met."""
    print(f"\n{title}")
    print(
        f"{'convention':<28} {'names':>5} {'best right':>10} {'automatic':>9} {'target':>6} {'wrong auto':>10} {'auto absent':>11}"
    )
    met = True
    for convention, result in results.items():
        if convention in TRAPS:
            print(
                f"{convention:<28} {result.absent:>5} {'-':>10} {'-':>9} {'-':>6} {'-':>10} {result.absent_accepted:>4}/{result.absent:<6}"
            )
            met &= result.absent_accepted == 0
            continue
        rates = result.rates()
        ok = (
            rates["top1"] >= 0.99
            and rates["accept_rate_present"] >= target(convention)
            and result.wrong_accepted == 0
            and result.absent_accepted == 0
        )
        met &= ok
        print(
            f"{convention:<28} {result.present:>5} {rates['top1']:>10.2%} {rates['accept_rate_present']:>9.2%} "
            f"{target(convention):>6.0%} {result.wrong_accepted:>10} {result.absent_accepted:>4}/{result.absent:<6}"
            + ("" if ok else "  <- misses")
        )
    for convention, result in results.items():
        for failure in result.failures[:failures]:
            print(f"  [{convention}]", failure)
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=0, help="also a generated catalogue of this many albums")
    parser.add_argument(
        "--seed", type=int, default=HELD_OUT_SEED, help=f"held out: {HELD_OUT_SEED}; tuned on {TUNING_SEEDS}"
    )
    parser.add_argument("--per-convention", type=int, default=300, help="names of present albums per convention")
    parser.add_argument("--failures", type=int, default=3, help="failures shown per convention")
    args = parser.parse_args()
    settings = MatchingSettings()
    conventions = (TIDY, *CONVENTIONS, *MORE_CONVENTIONS)
    files = sorted(glob.glob(str(SITEMAPS / "albums_*_map.xml")))
    real = [entry for path in files for entry in iter_album_entries(path)]
    met = True
    print(f"seed {args.seed}" + (" (held out: never used while tuning)" if args.seed == HELD_OUT_SEED else ""))
    if real:
        started = time.perf_counter()
        results = evaluate_conventions(
            real,
            settings,
            present=args.per_convention,
            absent=args.per_convention // 5,
            seed=args.seed,
            conventions=conventions,
        )
        met &= print_table(
            f"real sitemaps: {len(real)} albums ({time.perf_counter() - started:.0f} s)", results, args.failures
        )
    else:
        print(f"no real sitemaps in {SITEMAPS}: the 11.5k table is skipped")
    if args.scale:
        from bdnex_core.demo.catalogue_generator import generate_catalogue

        started = time.perf_counter()
        catalogue = generate_catalogue(args.scale, seed=args.seed, sitemaps=[Path(path) for path in files] or None)
        generated = time.perf_counter() - started
        results = evaluate_conventions(
            catalogue.entries,
            settings,
            work=catalogue.work,
            present=args.per_convention,
            absent=args.per_convention // 5,
            seed=args.seed,
            conventions=conventions,
        )
        met &= print_table(
            f"generated catalogue: {len(catalogue.entries)} albums from {catalogue.source}, seed {args.seed} "
            f"(generated in {generated:.0f} s, evaluated in {time.perf_counter() - started - generated:.0f} s)",
            results,
            args.failures,
        )
    print(
        "\ntargets: best right >= 99%, automatic >= 95% (tidy, issue 21) or 85% (issue 26), 0 wrong, 0 absent accepted"
    )
    print("all targets met" if met else "some targets missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
