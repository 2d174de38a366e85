"""The first pass over a new library: requests to Bédéthèque per tagged album, series first or album pages.

- A catalogue of about 150 series (lengths drawn from a long-tailed distribution, as French series
  run from 2 tomes to 60), served by the fake site; a library of 2,000 of their albums (most of each
  series, not all), one CBZ each, named as collectors name them. Fresh database (the catalogue index
  built by ``catalogue update`` first, as a user does) and fresh cache for every run.
- One run per ``catalogue.album_pages`` setting: ``never`` (the default: albums from their series'
  full-list page), ``missing``, and ``always`` (every album from its own page, today's path, plus one
  series page per series for its record). Requests are counted at the site; the album pages of the
  ``always`` run are today's cost (one per album), measured in the same run.
- Hours for 10,000 new albums at 2 s per request (the polite minimum delay), for each.
- On every file, the ComicInfo fields the series-first run wrote are compared with the album-page
  run's: equal, and the fields it leaves out are counted.
- Target: ``never`` <= 0.15 requests per tagged album.

    python benchmarks/bench_first_pass.py [--albums 2000] [--series 150] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bdnex_testing lives in the checkout

from bdnex_core.archives import open_archive
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.comicinfo import ComicInfo
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, human
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.pipeline import TagOptions, tag_locations

TARGET = 0.15
SECONDS_PER_REQUEST = 2.0
PROJECTED_ALBUMS = 10_000
HEROES = (
    "Kaer", "Ylith", "Morvan", "Astree", "Brennus", "Ondine", "Tarquin", "Seraphin", "Gwendal", "Isaure",
    "Valdor", "Mirelle", "Corentin", "Azilis", "Fulbert",
)  # fmt: skip
FRAMES = (
    "Les-Chroniques-de", "La-Legende-de", "Le-Secret-de", "Les-Enfants-de", "Le-Cycle-de",
    "Les-Voyages-de", "La-Quete-de", "Les-Gardiens-de", "Le-Royaume-de", "Les-Heritiers-de",
)  # fmt: skip
WORDS = ("Ombre", "Forge", "Tempete", "Serment", "Abime", "Couronne", "Exil", "Brasier", "Silence", "Retour")


def series_lengths(series: int, albums: int, rng: random.Random) -> list[int]:
    """How many albums each series has in the catalogue: long-tailed (lognormal), 2 to 60 tomes, so that
    the library's ``albums`` (about 77 % of each series) fit."""
    wanted = round(albums / 0.77)
    raw = [rng.lognormvariate(2.2, 0.8) for _ in range(series)]
    scale = wanted / sum(raw)
    lengths = [max(2, min(60, round(value * scale))) for value in raw]
    while sum(lengths) < wanted:
        lengths[rng.randrange(series)] += 1
    return lengths


def write_catalogue(folder: Path, series: int, albums: int, seed: int) -> Path:
    """An album sitemap of ``series`` invented series (ids from 800001: no real album has them)."""
    rng = random.Random(seed)
    names = [f"{frame}-{hero}" for frame in FRAMES for hero in HEROES]
    rng.shuffle(names)
    assert series <= len(names), f"at most {len(names)} series"
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    album_id = 800001
    for name, length in zip(names, series_lengths(series, albums, rng), strict=False):
        for tome in range(1, length + 1):
            title = f"{WORDS[(tome + album_id) % len(WORDS)]}-{tome}"
            url = f"https://www.bedetheque.com/BD-{name}-Tome-{tome}-{title}-{album_id}.html"
            lines.append(f"<url><loc>{url}</loc><lastmod>2026-01-01</lastmod></url>")
            album_id += 1
    lines.append("</urlset>")
    path = folder / "albums_800001_810000_map.xml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def build_library(folder: Path, site: FakeBedetheque, albums: int, seed: int) -> int:
    """``albums`` of the catalogue, spread over every series, one small CBZ each; returns the series count."""
    rng = random.Random(seed)
    entries = sorted(site.catalogue.albums.values(), key=lambda entry: entry.album_id)
    chosen = sorted(rng.sample(entries, albums), key=lambda entry: entry.album_id)
    pages = sample_pages("page", 2, seed)
    for entry in chosen:
        series = human(entry.series_slug)
        write_cbz(folder / series / f"{series} - T{int(entry.tome or 0):02d} - {human(entry.title_slug)}.cbz", pages)
    return len({entry.series_slug for entry in chosen})


def run(site: FakeBedetheque, base: Path, template: Path, mode: str, workers: int) -> dict:
    """One first pass in a fresh folder: catalogue index, then ``tag`` of a copy of the library."""
    folder = base / mode
    library = folder / "library"
    shutil.copytree(template, library)
    settings = from_mapping(
        {
            "database": {"path": str(folder / "bdnex.db")},
            "cache": {"dir": str(folder / "cache")},
            "pipeline": {"logs_dir": str(folder / "logs")},
            **site.settings_mapping(album_pages=mode, max_requests_per_hour=100_000),
        }
    )
    reset_politeness()
    with BDneXDB(settings=settings) as db:
        Catalogue(db).update_online(BedethequeClient(settings, database=db))
        site.clear_log()
        started = time.perf_counter()
        summary = tag_locations(
            settings,
            db,
            TagOptions(workers=workers, locations=(str(library),)),
            client=BedethequeClient(settings, database=db),
        )
        seconds = time.perf_counter() - started
    requests = [entry.path for entry in site.requests() if not entry.path.startswith("/_fake")]
    comicinfo = {}
    for path in sorted(library.rglob("*.cbz")):
        with open_archive(path) as comic:
            raw = comic.comicinfo_bytes()
        comicinfo[str(path.relative_to(library))] = dict(ComicInfo.from_xml(raw).fields) if raw else {}
    shutil.rmtree(library, ignore_errors=True)
    return {
        "tagged": summary.count("done"),
        "counts": summary.counts,
        "requests": len(requests),
        "album_pages": sum(path.startswith("/BD-") for path in requests),
        "series_pages": sum(path.startswith("/serie-") for path in requests),
        "seconds": seconds,
        "comicinfo": comicinfo,
    }


def hours(per_album: float) -> float:
    return per_album * PROJECTED_ALBUMS * SECONDS_PER_REQUEST / 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--albums", type=int, default=2000)
    parser.add_argument("--series", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="never,missing,always", help="album_pages settings to run (always last)")
    args = parser.parse_args()
    modes = [mode for mode in args.modes.split(",") if mode]
    base = Path(tempfile.mkdtemp(prefix="bdnex-bench-first-pass-", dir=os.environ.get("BENCH_DIR")))
    try:
        sitemap = write_catalogue(base, args.series, args.albums, seed=28)
        with FakeBedetheque([sitemap]) as site:
            template = base / "template"
            series = build_library(template, site, args.albums, seed=28)
            print(
                f"{args.albums:,} new albums in {series} series (catalogue: {len(site.catalogue.albums):,} albums); "
                f"fresh database and cache each run; {args.workers} workers; the fake site's requests counted",
                flush=True,
            )
            results = {}
            for mode in modes:
                results[mode] = result = run(site, base, template, mode, args.workers)
                per_album = result["requests"] / max(1, result["tagged"])
                print(
                    f"  album_pages: {mode:<8} {result['requests']:5d} requests ({result['album_pages']} album pages, "
                    f"{result['series_pages']} series pages) for {result['tagged']} tagged: {per_album:.3f} per album; "
                    f"10,000 albums at 2 s: {hours(per_album):.2f} h   ({result['seconds']:.0f} s here)",
                    flush=True,
                )
        return report(results, args.albums)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(results: dict, albums: int) -> int:
    failed = False
    if "always" in results:
        reference = results["always"]
        today = reference["album_pages"] / max(1, reference["tagged"])
        print(f"  today's path (one album page per album, measured in the 'always' run): {today:.3f} per album; "
              f"10,000 albums at 2 s: {hours(today):.2f} h")  # fmt: skip
    if "never" in results:
        never = results["never"]
        per_album = never["requests"] / max(1, never["tagged"])
        ok = per_album <= TARGET and never["tagged"] == albums
        failed |= not ok
        line = f"  series first: {per_album:.3f} requests per tagged album (target <= {TARGET}): {'ok' if ok else 'MISSED'}"
        if "always" in results:
            line += f"; {per_album / max(1e-9, today):.2f}x today's requests"
        print(line)
    if "never" in results and "always" in results:
        same, left_out, differing = compare(results["never"]["comicinfo"], results["always"]["comicinfo"])
        failed |= bool(differing)
        print(f"  ComicInfo: on {same}/{len(results['always']['comicinfo'])} files every field of the series-first "
              f"path equals the album-page path's")  # fmt: skip
        for path, name, ours, theirs in differing[:10]:
            print(f"    DIFFERS {path}: {name} {ours!r} != {theirs!r}")
        print("  fields only the album-page path wrote (files): "
              + ", ".join(f"{name} ({count})" for name, count in left_out.most_common()))  # fmt: skip
    return 1 if failed else 0


def compare(ours: dict, theirs: dict) -> tuple[int, Counter, list[tuple[str, str, str, str | None]]]:
    same, left_out, differing = 0, Counter(), []
    for path, fields in ours.items():
        reference = theirs.get(path, {})
        wrong = [
            (path, name, value, reference.get(name)) for name, value in fields.items() if reference.get(name) != value
        ]
        differing.extend(wrong)
        same += not wrong and bool(fields)
        left_out.update(name for name in reference if name not in fields)
    return same, left_out, differing


if __name__ == "__main__":
    sys.exit(main())
