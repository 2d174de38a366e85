"""Tagging throughput against the fake site, and the cost of re-scanning an unchanged library.

- 2,000 files (about 2 MB each: a few JPEG-like pages) tagged with an empty album cache
  (cold: the pages of their series fetched, series first) and again, copies of the same files,
  with the cache filled (warm). Network delay 0 and politeness off: this measures our own work.
- 10,000 processed, unchanged files re-scanned by the pipeline, against a bare os.walk
  that lists the same tree.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bdnex_testing lives in the checkout

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, human
from bdnex_core.pipeline import TagOptions, tag_locations
from bdnex_testing.shared import fake_bedetheque

WORKERS = 2


def jpeg_like(size: int, rng: random.Random) -> bytes:
    return b"\xff\xd8\xff\xe0" + rng.randbytes(size - 6) + b"\xff\xd9"


def build_library(folder: Path, site: FakeBedetheque, count: int, page_size: int, pages: int, seed: int) -> None:
    rng = random.Random(seed)
    pool = [
        e
        for entries in site.catalogue.series.values()
        for e in entries
        if e.tome_kind == "regular" and (e.tome or "").isdigit()
    ]
    content = [jpeg_like(page_size, rng) for _ in range(pages)]
    for number in range(count):
        entry = pool[number % len(pool)]
        series = human(entry.series_slug)[:50]
        folder_path = folder / series.replace("/", " ")
        folder_path.mkdir(parents=True, exist_ok=True)
        name = f"{series} - T{int(entry.tome):02d}" + (f" - {human(entry.title_slug)[:40]}" if entry.title_slug else "")
        path = folder_path / f"{name.replace('/', ' ')} ({number}).cbz"
        with zipfile.ZipFile(path, "w") as archive:
            for index, data in enumerate(content):
                archive.writestr(f"page{index:03d}.jpg", data)


def tag(settings, db, client, library: Path) -> tuple[float, dict[str, int]]:
    """What `bdnex-core tag LIBRARY` does after start-up: list the library, then run the session."""
    started = time.perf_counter()
    summary = tag_locations(settings, db, TagOptions(workers=WORKERS, locations=(str(library),)), client=client)
    return time.perf_counter() - started, summary.counts


def bare_walk(root: Path) -> float:
    """The baseline: os.walk listing the tree, each comic file's full path built."""
    started = time.perf_counter()
    count = sum(
        1
        for folder, _, files in os.walk(root)
        for name in files
        if os.path.splitext(os.path.join(folder, name))[1] == ".cbz"
    )
    assert count
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("throughput", "rescan"), help="run one of the two parts")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bdnex-bench-batch-", dir=os.environ.get("BENCH_DIR")))
    reset_politeness()
    try:
        with fake_bedetheque(network_delay=0.0) as site:
            settings = from_mapping(
                {
                    "database": {"path": str(base / "bdnex.db")},
                    "cache": {"dir": str(base / "cache")},
                    "pipeline": {"logs_dir": str(base / "logs")},
                    **site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0, max_requests_per_hour=100_000),
                }
            )
            db = BDneXDB(settings=settings)
            client = BedethequeClient(settings)
            Catalogue(db).update_online(client)
            if args.only != "rescan":
                throughput(settings, db, client, site, base)
            if args.only != "throughput":
                rescan(settings, db, client, site, base)
            db.close()
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def throughput(settings, db, client, site: FakeBedetheque, base: Path) -> None:
    template = base / "template"
    build_library(template, site, 2000, 512 * 1024, 4, seed=1)
    size_mb = sum(p.stat().st_size for p in template.rglob("*.cbz")) / 2000 / 1e6
    cold_library, warm_library = base / "cold", base / "warm"
    shutil.copytree(template, cold_library)
    shutil.copytree(template, warm_library)
    cold, cold_counts = tag(settings, db, client, cold_library)
    fetched = len(site.requests("/BD-")) + len(site.requests("/serie-"))
    warm, warm_counts = tag(settings, db, client, warm_library)
    print(f"2,000 files of {size_mb:.1f} MB, {WORKERS} workers:")
    print(f"  cold album cache: {2000 / cold:6.1f} files/s ({cold:.1f} s, {fetched} pages fetched) {cold_counts}")
    print(
        f"  warm album cache: {2000 / warm:6.1f} files/s ({warm:.1f} s, "
        f"{len(site.requests('/BD-')) + len(site.requests('/serie-')) - fetched} pages fetched) {warm_counts}"
        "   (target >= 50 files/s)",
        flush=True,
    )


def rescan(settings, db, client, site: FakeBedetheque, base: Path) -> None:
    big = base / "big"
    build_library(big, site, 10_000, 4 * 1024, 2, seed=2)
    tag(settings, db, client, big)
    walks, rescans = [], []
    for _ in range(5):
        walks.append(bare_walk(big))
        seconds, counts = tag(settings, db, client, big)
        assert counts["skipped"] == 10_000, counts
        rescans.append(seconds)
    walk, rescanned = statistics.median(walks), statistics.median(rescans)
    print(
        f"re-scan of 10,000 unchanged files: {rescanned * 1000:.0f} ms; bare os.walk {walk * 1000:.0f} ms; "
        f"ratio {rescanned / walk:.2f}   (target <= 2)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
