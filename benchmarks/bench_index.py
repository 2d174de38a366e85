"""The catalogue index at full scale (issue 27): start-up, identify processes, updates, per-name times, one
calibre lookup, and a tag over 100,000 small files, each against a baseline measured in the same run.

    python benchmarks/bench_index.py                       # 300,000 and 600,000 albums, everything
    python benchmarks/bench_index.py --sizes 300000 --tag-files 0 --runs 7

Catalogues come from the generator of issue 26 ("Matching at the real catalogue's scale",
:mod:`bdnex_core.demo.catalogue_generator`: the real sitemaps' words when ../shared has them, its
re-editions, language and collection editions, spin-offs), written as sitemap files of 10,000 ids in
the site's format; ``--generator MODULE:FUNCTION`` names another, called as
``FUNCTION(folder, albums, seed) -> list[Path]``.

Processes are timed as a user runs them: bytecode caches written (PYTHONDONTWRITEBYTECODE unset, one
warm-up run), wall and CPU time (the machine may be shared: CPU time is the steadier figure), peak
memory measured by /usr/bin/time around the process itself (a parent's memory never counts).
``python3 -c pass`` is the interpreter PATH finds, as the issue measured it; the interpreter alone is
given too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bdnex_core.bedetheque.sitemaps import iter_album_entries  # noqa: E402
from bdnex_core.matching.evaluation import human  # noqa: E402
from bdnex_core.matching.namegen import realistic_names  # noqa: E402
from bdnex_core.matching.noisegen import CONVENTIONS, noisy_name  # noqa: E402

SHARED = Path(os.environ.get("BDNEX_SHARED_DIR", REPO.parent / "shared"))
REAL_SITEMAPS = SHARED / "fixtures" / "bedetheque" / "sitemaps"
TIME = shutil.which("time") and Path("/usr/bin/time")
ENV = {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "BDNEX_CONFIG")}


# ----------------------------------------------------------------------------- catalogues


def issue26_generator(folder: Path, albums: int, seed: int) -> list[Path]:
    """The generator of issue 26 (``bdnex_core.demo.catalogue_generator``), from the real sitemaps' words
    when ../shared has them."""
    from bdnex_core.demo.catalogue_generator import generate_catalogue

    real = sorted(REAL_SITEMAPS.glob("albums_*_map.xml")) if REAL_SITEMAPS.is_dir() else None
    return list(generate_catalogue(albums, seed=seed, sitemaps=real).write_sitemaps(folder))


def load_generator(spec: str | None) -> tuple[str, Callable[[Path, int, int], list[Path]]]:
    """The generator named, else issue 26's."""
    if spec:
        module, _, function = spec.partition(":")
        return spec, getattr(importlib.import_module(module), function)
    return "issue 26's (bdnex_core.demo.catalogue_generator)", issue26_generator


def changed_copy(path: Path) -> None:
    """One sitemap changed as the site changes one: some albums gone, some added, some renamed."""
    text = path.read_text(encoding="utf-8")
    blocks = text.split("<url>")
    head, urls = blocks[0], blocks[1:]
    kept = [block for number, block in enumerate(urls) if number % 50 != 7]  # 2 % removed
    renamed = [
        re.sub(r"(BD-)([A-Za-z])", r"\1Nouvelle-\2", block) if number % 40 == 3 else block
        for number, block in enumerate(kept)
    ]
    added = [
        f"\n<loc>https://www.bedetheque.com/BD-Serie-ajoutee-{n}-Tome-1-Premier-{9_000_000 + n}.html</loc>\n"
        "<lastmod>2026-12-01</lastmod>\n</url>\n"
        for n in range(100)
    ]
    closing = "</urlset>"
    body = "<url>".join([head, *renamed, *added]).replace(closing, "") + closing
    path.write_text(body, encoding="utf-8")


# ----------------------------------------------------------------------------- processes


@dataclass
class Runs:
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)  # MB

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def peak(self) -> float:
        return max(self.peaks) if self.peaks else float("nan")


def run(args: Sequence[str], runs: Runs | None = None, *, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run one process; record its wall time, CPU time and peak memory (measured around it alone)."""
    runs = runs if runs is not None else Runs()
    with (
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        command = [str(TIME), "-f", "%M", "-o", rss.name, *args] if TIME else list(args)
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env or ENV)
        _pid, status, usage = os.wait4(child.pid, 0)
        runs.walls.append(time.perf_counter() - started)
        runs.cpus.append(usage.ru_utime + usage.ru_stime)  # this process and what it waited for, nothing else
        child.returncode = os.waitstatus_to_exitcode(status)
        if TIME:
            peak = rss.read().strip().splitlines()
            if peak and peak[-1].isdigit():
                runs.peaks.append(int(peak[-1]) / 1024)
        out.seek(0)
        err.seek(0)
        if check and child.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:6])}... exited {child.returncode}: {err.read().decode()[-2000:]}")
        return out.read().decode()


def interleaved(commands: dict[str, Sequence[str]], rounds: int) -> dict[str, Runs]:
    """Each command once per round, in turn (a load that comes and goes touches them all alike)."""
    results = {name: Runs() for name in commands}
    for command in commands.values():  # warm-up: bytecode written, files in the page cache
        run(command, check=False)
    for _ in range(rounds):
        for name, command in commands.items():
            run(command, results[name], check=False)
    return results


def bdnex(*args: str) -> list[str]:
    return [sys.executable, "-m", "bdnex_core", *args]


# ----------------------------------------------------------------------------- names


def names_for(entries: Sequence[tuple[str, str | None, str | None]], count: int, seed: int) -> list[str]:
    """File names of albums of the catalogue, issue 21's way: half tidy (namegen), half with the noise of
    real collections, one convention after the other (noisegen)."""
    rng = random.Random(seed)
    conventions = list(CONVENTIONS)
    names: list[str] = []
    for number, (series_slug, tome, title_slug) in enumerate(rng.sample(list(entries), min(len(entries), count * 3))):
        if len(names) >= count:
            break
        series, title = human(series_slug), human(title_slug or "") or None
        if number % 2:
            name = noisy_name(conventions[(number // 2) % len(conventions)], series, tome, title, rng=rng)
        else:
            name = rng.choice(realistic_names(series, tome, title, rng=rng))
        if name:
            names.append(name)
    return names


def per_name_times(database: Path, names: list[str]) -> dict[str, float]:
    """Open time of the index file (ms), then per name the median and 95th percentile (ms) of the wall
    time and of the CPU time (the steadier figure on a shared machine), and names per second."""
    from bdnex_core.bedetheque.catalogue_index import PersistedIndex, index_path
    from bdnex_core.config import MatchingSettings
    from bdnex_core.db import BDneXDB
    from bdnex_core.matching.filename import parse_filename
    from bdnex_core.matching.matcher import Matcher

    with BDneXDB(database) as db:
        path = index_path(db)
    assert path is not None
    opens = []
    for _ in range(10):
        started = time.perf_counter()
        index = PersistedIndex(path)
        opens.append(time.perf_counter() - started)
    matcher = Matcher(index, MatchingSettings())
    walls, cpus = [], []
    for name in names:
        started, cpu = time.perf_counter(), time.process_time()
        matcher.match(parse_filename(name))
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    walls.sort()
    cpus.sort()
    p95 = int(len(names) * 0.95)
    return {
        "open": statistics.median(opens) * 1e3,
        "median": statistics.median(walls) * 1e3,
        "p95": walls[p95] * 1e3,
        "cpu median": statistics.median(cpus) * 1e3,
        "cpu p95": cpus[p95] * 1e3,
        "rate": len(names) / sum(walls),
    }


# ----------------------------------------------------------------------------- the fake site, calibre


@contextlib.contextmanager
def fake_site(sitemaps: Sequence[Path]) -> Iterator[str]:
    """The fake Bédéthèque serving these sitemaps, in a process of its own (its memory is not ours)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = subprocess.Popen(
        [sys.executable, "-m", "bdnex_core.demo.fakesite", "--port", str(port), "--sitemaps", *map(str, sitemaps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=ENV,
        text=True,
    )
    try:
        assert site.stdout is not None
        site.stdout.readline()  # "fake Bédéthèque on ... with N albums"
        yield f"http://127.0.0.1:{port}"
    finally:
        site.terminate()
        site.wait()


def write_config(path: Path, database: Path, base_url: str | None, work: Path) -> Path:
    lines = [
        f"database: {{path: {json.dumps(str(database))}}}",
        f"cache: {{dir: {json.dumps(str(work / 'cache'))}}}",
        f"pipeline: {{logs_dir: {json.dumps(str(work / 'logs'))}, workers: 2}}",
    ]
    if base_url:
        lines.append(
            f"catalogue: {{base_url: {json.dumps(base_url)}, mobile_base_url: {json.dumps(base_url)}, "
            "min_delay_seconds: 0, jitter_seconds: 0, max_requests_per_hour: 100000}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def calibre_lookup(work: Path, config: Path, name: str, rounds: int) -> dict[str, Runs] | None:
    """One lookup of calibre's metadata source: its whole process (fetch-ebook-metadata), the bdnex-core
    process it runs (``calibre identify``: the match, then the album records), and calibre's own start as
    the baseline."""
    if not (shutil.which("fetch-ebook-metadata") and shutil.which("calibre-customize")):
        return None
    env = {
        **ENV,
        "BDNEX_CONFIG": str(config),
        "CALIBRE_CONFIG_DIRECTORY": str(work / "calibre-config"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{ENV['PATH']}",
    }
    plugin = work / "bdnex_bedetheque.zip"
    run(bdnex("calibre", "build-plugin", "--output", str(plugin)), env=env)
    run(["calibre-customize", "-a", str(plugin)], env=env)
    lookup = bdnex("calibre", "identify", "--title", name)
    run(lookup, env=env)  # the album pages fetched once, then cached as calibre finds them
    results = {name: Runs() for name in ("calibre alone", "whole lookup", "calibre identify")}
    for _ in range(rounds):
        run(["fetch-ebook-metadata", "--help"], results["calibre alone"], env=env, check=False)
        run(
            ["fetch-ebook-metadata", "-p", "Bédéthèque (bdnex)", "-t", name],
            results["whole lookup"],
            env=env,
            check=False,
        )
        run(lookup, results["calibre identify"], env=env, check=False)
    return results


# ----------------------------------------------------------------------------- tag over many files


def tag_many(work: Path, sitemaps: Sequence[Path], files: int) -> tuple[Runs, dict]:
    """``tag`` over ``files`` small CBZ files (two tiny pages), named after albums of the catalogue."""
    from bdnex_core.demo.fakesite import human as display

    entries = [
        entry for path in sitemaps[:3] for entry in iter_album_entries(path) if entry.tome and entry.tome.isdigit()
    ]
    pool = entries[:400]  # the album cache holds these after their first file: the run measures our own work
    library = work / "library"
    page = b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(1000) + b"\xff\xd9"
    for number in range(files):
        entry = pool[number % len(pool)]
        series = display(entry.series_slug)[:50].replace("/", " ")
        folder = library / series / f"{number // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / f"{series} - T{int(entry.tome):02d} ({number}).cbz", "w") as archive:
            archive.writestr("p1.jpg", page)
            archive.writestr("p2.jpg", page)
    database = work / "bdnex.db"
    runs = Runs()
    with fake_site(sitemaps) as base_url:
        config = write_config(work / "config.yaml", database, base_url, work)
        env = {**ENV, "BDNEX_CONFIG": str(config)}
        run(bdnex("catalogue", "update", "--from-files", *map(str, sitemaps)), env=env)
        out = run(bdnex("tag", str(library), "--batch", "--json"), runs, env=env)
    return runs, json.loads(out)["counts"]


# ----------------------------------------------------------------------------- the report


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[300_000, 600_000])
    parser.add_argument("--runs", type=int, default=9, help="rounds of each timed process")
    parser.add_argument("--names", type=int, default=1000, help="names timed one by one per catalogue")
    parser.add_argument("--tag-files", type=int, default=100_000, help="files of the tag run (0: none)")
    parser.add_argument("--generator", help="MODULE:FUNCTION(folder, albums, seed) -> sitemap paths")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--work", type=Path, help="where to work (default: a temporary folder, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bdnex-bench-index-", dir=os.environ.get("BENCH_DIR")))
    work.mkdir(parents=True, exist_ok=True)
    generator_name, generator = load_generator(args.generator)
    print(f"catalogue generator: {generator_name}; load {os.getloadavg()[0]:.1f}")
    try:
        start = interleaved(
            {
                "python3 -c pass": ["python3", "-c", "pass"],
                "interpreter alone": [sys.executable, "-c", "pass"],
                "--help": bdnex("--help"),
            },
            args.runs,
        )
        help_runs = start["--help"]
        print(
            f"\nstart-up (medians; wall / CPU); python3 on PATH is {shutil.which('python3')}, the interpreter {sys.executable}"
        )
        for name, runs in start.items():
            print(f"  {name:20} {runs.wall * 1e3:7.1f} / {runs.cpu * 1e3:6.1f} ms   peak {runs.peak:5.1f} MB")
        print(
            f"  --help vs python3 -c pass: {ratio(help_runs.wall, start['python3 -c pass'].wall)} wall, "
            f"{ratio(help_runs.cpu, start['python3 -c pass'].cpu)} CPU (target <= 2.5x); vs the interpreter alone: "
            f"{ratio(help_runs.wall, start['interpreter alone'].wall)} wall, {ratio(help_runs.cpu, start['interpreter alone'].cpu)} CPU"
        )
        for size in args.sizes:
            folder = work / str(size)
            sitemaps = generator(folder / "sitemaps", size, args.seed)
            database = folder / "bdnex.db"
            env = {**ENV, "BDNEX_CONFIG": str(write_config(folder / "config.yaml", database, None, folder))}
            update = Runs()
            run(bdnex("catalogue", "update", "--from-files", *map(str, sitemaps)), update, env=env)
            changed = sitemaps[len(sitemaps) // 2]
            changed_copy(changed)
            one = Runs()
            report = json.loads(run(bdnex("catalogue", "update", "--from-files", str(changed), "--json"), one, env=env))
            index_files = sorted(folder.glob("bdnex.db-catalogue-v*.sqlite"))
            entries = [
                (entry.series_slug, entry.tome, entry.title_slug)
                for path in sitemaps[:: max(1, len(sitemaps) // 12)]
                for entry in iter_album_entries(path)
            ]
            names = names_for(entries, args.names, args.seed)
            rounds = interleaved({"--help": bdnex("--help"), "identify": bdnex("identify", names[0])}, args.runs)
            identify, baseline = rounds["identify"], rounds["--help"]
            timed = per_name_times(database, names)
            print(
                f"\n{size:,} albums ({len(sitemaps)} sitemaps; index file {index_files[-1].stat().st_size / 1e6:.0f} MB)"
            )
            print(
                f"  catalogue update --from-files: {update.wall:.1f} s wall, {update.cpu:.1f} s CPU, peak {update.peak:.0f} MB"
                " (target <= 10 s)"
            )
            print(
                f"  one changed sitemap: {one.wall:.2f} s wall, {one.cpu:.2f} s CPU ({report.get('index_file')}) "
                "(target <= 2 s)"
            )
            target = 1.5 if size <= 300_000 else 1.7
            print(
                f"  identify NAME process: {identify.wall * 1e3:.0f} ms wall / {identify.cpu * 1e3:.0f} ms CPU, "
                f"--help {baseline.wall * 1e3:.0f} / {baseline.cpu * 1e3:.0f} ms -> {ratio(identify.wall, baseline.wall)} wall, "
                f"{ratio(identify.cpu, baseline.cpu)} CPU (target <= {target}x); peak {identify.peak:.1f} MB (target <= 120)"
            )
            print(
                f"  per name ({len(names)} names, issue 21's conventions): median {timed['median']:.2f} ms wall / "
                f"{timed['cpu median']:.2f} ms CPU (target <= 2), 95th percentile {timed['p95']:.2f} ms wall / "
                f"{timed['cpu p95']:.2f} ms CPU (target <= 10); {timed['rate']:.0f} names/s; index file opened in "
                f"{timed['open']:.2f} ms"
            )
            if size == args.sizes[0]:
                with fake_site(sitemaps) as base_url:
                    calibre_config = write_config(folder / "calibre.yaml", database, base_url, folder)
                    lookup = calibre_lookup(folder, calibre_config, names[0], max(3, args.runs // 2))
                if lookup is None:
                    print("  calibre lookup: calibre is not installed here")
                else:
                    print(
                        f"  calibre lookup: bdnex-core's process (calibre identify: the match and the album records, "
                        f"peak {lookup['calibre identify'].peak:.0f} MB) "
                        f"{lookup['calibre identify'].wall:.2f} s wall / {lookup['calibre identify'].cpu:.2f} s CPU "
                        f"(target <= 0.5 s); the whole fetch-ebook-metadata {lookup['whole lookup'].wall:.2f} s, "
                        f"calibre's own start (fetch-ebook-metadata --help) {lookup['calibre alone'].wall:.2f} s"
                    )
        if args.tag_files:
            tag_folder = work / "tag"
            sitemaps = sorted((work / str(args.sizes[0]) / "sitemaps").glob("*.xml")) or issue26_generator(
                tag_folder / "sitemaps", 300_000, args.seed
            )
            runs, counts = tag_many(tag_folder, sitemaps, args.tag_files)
            print(
                f"\ntag over {args.tag_files:,} small files ({len(sitemaps)} sitemaps in the catalogue): "
                f"peak {runs.peak:.0f} MB (target <= 300), {runs.wall:.0f} s, {counts}"
            )
        print(f"\nload at the end {os.getloadavg()[0]:.1f}")
        return 0
    finally:
        if args.keep or args.work:
            print(f"(kept {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
