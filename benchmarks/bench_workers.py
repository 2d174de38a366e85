"""Tagging throughput of several `bdnex-core tag` processes sharing one library and one database.

- 2,000 small files on the fake site, no politeness delay (min delay 0, jitter 0, no hourly cap
  to speak of): this measures our own work and the cost of sharing the database (claims, the
  shared request slot, the album cache), not the site.
- 1, 2 and 4 processes (``--threads`` workers each) on PostgreSQL, started together on the
  library; and 1 process on SQLite against 1 on PostgreSQL. Each run starts from a fresh copy of
  the library, a fresh database holding the catalogue (indexed once, then copied) and an empty
  cache, so runs compare. Time: from the start of the processes to the end of the last one; the
  CPU time of the processes per file says whether they were bound by the machine's cores.
- Targets: 4 processes >= 2.5x one process (bounded by the machine's cores: the run says how many
  and where the curve flattens); PostgreSQL single process >= 0.7x SQLite.

    python benchmarks/bench_workers.py [--files 2000] [--postgres-url URL] [--processes 1,2,4]
                                       [--sqlite-processes 1] [--threads 2]

``--postgres-url`` (default: $BDNEX_TEST_POSTGRES_URL) names a server whose role may create
databases: the benchmark creates its own and drops them. Without it, or on a version that does
not tag on PostgreSQL, the PostgreSQL part is skipped with the reason.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bdnex_testing lives in the checkout

from bench_batch import build_library  # the batch benchmark's files: same names and sizes

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_core.errors import BdnexError
from bdnex_testing.databases import peek_rows
from bdnex_testing.postgres import SERVER_VARIABLE, with_database
from bdnex_testing.shared import fake_bedetheque

TEMPLATE = "bdnex_bench_workers_template"


def settings_mapping(site: FakeBedetheque, folder: Path, database: dict[str, Any], threads: int) -> dict[str, Any]:
    return {
        "database": database,
        "cache": {"dir": str(folder / "cache")},
        "pipeline": {"logs_dir": str(folder / "logs"), "workers": threads},
        **site.settings_mapping(min_delay_seconds=0.0, jitter_seconds=0.0, max_requests_per_hour=100_000),
    }


def index_catalogue(site: FakeBedetheque, folder: Path, database: dict[str, Any]) -> None:
    settings = from_mapping(settings_mapping(site, folder, database, 1))
    reset_politeness()
    with BDneXDB(settings=settings) as db:
        Catalogue(db).update_online(BedethequeClient(settings))


@contextmanager
def postgres_template(site: FakeBedetheque, server: str, base: Path) -> Iterator[str]:
    """A database on ``server`` holding the catalogue, copied for each run (CREATE DATABASE … TEMPLATE)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    try:
        index_catalogue(site, base, {"backend": "postgresql", "url": with_database(server, TEMPLATE)})
        yield TEMPLATE
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE)))


@contextmanager
def postgres_copy(server: str, template: str, name: str) -> Iterator[dict[str, Any]]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    try:
        yield {"backend": "postgresql", "url": with_database(server, name)}
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def timed_run(
    site: FakeBedetheque, template_library: Path, folder: Path, database: dict[str, Any], processes: int, threads: int
) -> tuple[float, float, float, dict[str, int]]:
    """``processes`` `tag` processes at once on a fresh copy of the library; (seconds, CPU seconds of
    the processes, of the fake site, files by status)."""
    library = folder / "library"
    shutil.copytree(template_library, library)
    mapping = settings_mapping(site, folder, database, threads)
    env = {**os.environ}
    if database["backend"] == "postgresql":  # the password stays out of the file
        mapping["database"] = {"backend": "postgresql"}
        env["BDNEX_DATABASE_URL"] = database["url"]
    config = folder / "config.yaml"
    config.write_text(json.dumps(mapping))
    env["BDNEX_CONFIG"] = str(config)
    command = [sys.executable, "-m", "bdnex_core", "--config", str(config), "tag", str(library), "--batch"]
    cpu_before, site_before = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        for _ in range(processes)
    ]
    outputs = [run.communicate()[0] for run in runs]
    seconds = time.perf_counter() - started
    cpu, site_cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu_before, _cpu(resource.RUSAGE_SELF) - site_before
    for run, output in zip(runs, outputs, strict=True):
        if run.returncode not in (0, 1):
            raise SystemExit(f"tag exited with {run.returncode}:\n{output.decode(errors='replace')[-2000:]}")
    location = database["url"] if database["backend"] == "postgresql" else database["path"]
    statuses = dict(peek_rows(location, "SELECT status, COUNT(*) FROM processed_files GROUP BY status"))
    shutil.rmtree(library, ignore_errors=True)
    return seconds, cpu, site_cpu, statuses


def _cpu(who: int) -> float:
    """CPU seconds (user + system): of the ended child processes (the `tag` runs' own work), or of
    this process (while it waits for them, the fake site's)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files in the library (a few for a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="workers of each process (pipeline.workers)")
    parser.add_argument("--processes", default="1,2,4", help="process counts to time on PostgreSQL")
    parser.add_argument("--sqlite-processes", default="1", help="process counts to time on SQLite")
    parser.add_argument("--postgres-url", default=os.environ.get(SERVER_VARIABLE), help=f"default: ${SERVER_VARIABLE}")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.processes.split(",") if n.strip()})  # "": that backend not timed
    sqlite_counts = sorted({int(n) for n in args.sqlite_processes.split(",") if n.strip()})
    base = Path(tempfile.mkdtemp(prefix="bdnex-bench-workers-", dir=os.environ.get("BENCH_DIR")))
    try:
        with fake_bedetheque(network_delay=0.0) as site:
            template = base / "template"
            build_library(template, site, args.files, 16 * 1024, 2, seed=3)
            print(
                f"{args.files:,} files, {args.threads} workers per process, fake site without delay, "
                f"{os.cpu_count()} cores:",
                flush=True,
            )
            results: dict[tuple[str, int], float] = {}

            def measure(backend: str, processes: int, database: dict[str, Any]) -> None:
                folder = base / f"{backend}-{processes}"
                seconds, cpu, site_cpu, statuses = timed_run(site, template, folder, database, processes, args.threads)
                results[backend, processes] = args.files / seconds
                recorded = sum(statuses.values())
                warning = "" if recorded == args.files else f"   ({recorded} files recorded: expected {args.files})"
                print(
                    f"  {backend:<10} {processes} process{'es' if processes > 1 else '  '}: "
                    f"{args.files / seconds:7.1f} files/s ({seconds:.1f} s; CPU per file: "
                    f"{cpu * 1000 / args.files:.0f} ms in the processes, {site_cpu * 1000 / args.files:.0f} ms "
                    f"in the site) {statuses}{warning}",
                    flush=True,
                )
                shutil.rmtree(folder, ignore_errors=True)

            sqlite_template = base / "catalogue.db"
            if sqlite_counts:
                index_catalogue(site, base, {"backend": "sqlite", "path": str(sqlite_template)})
            for processes in sqlite_counts:
                copy = base / f"SQLite-{processes}" / "bdnex.db"
                copy.parent.mkdir()
                shutil.copy(sqlite_template, copy)
                measure("SQLite", processes, {"backend": "sqlite", "path": str(copy)})

            skipped = postgres_skipped(args.postgres_url) if counts else None
            if skipped:
                print(f"  PostgreSQL part skipped: {skipped}", flush=True)
            elif counts:
                with postgres_template(site, args.postgres_url, base) as template_name:
                    for processes in counts:
                        with postgres_copy(args.postgres_url, template_name, f"{TEMPLATE}_{processes}") as database:
                            measure("PostgreSQL", processes, database)
            report(results, counts, sqlite_counts)
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def postgres_skipped(server: str | None) -> str | None:
    """Why the PostgreSQL part cannot run here (no server, no driver, a version that refuses it), or None."""
    if not server:
        return f"no server (--postgres-url or ${SERVER_VARIABLE})"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgresql]')"
    try:
        from_mapping({"database": {"backend": "postgresql", "url": server}})
    except BdnexError as exc:
        return str(exc)
    return None


def report(results: dict[tuple[str, int], float], counts: list[int], sqlite_counts: list[int]) -> None:
    for backend, measured in (("PostgreSQL", counts), ("SQLite", sqlite_counts)):
        rates = {processes: rate for (name, processes), rate in results.items() if name == backend}
        if 1 not in rates or len(rates) < 2:
            continue
        for processes in measured[1:]:
            target = "   (target >= 2.5)" if processes == 4 and backend == "PostgreSQL" else ""
            print(f"  {backend} {processes} processes / 1: {rates[processes] / rates[1]:.2f}{target}")
        flat = next(((low, high) for low, high in itertools.pairwise(measured) if rates[high] < 1.1 * rates[low]), None)
        where = (
            f"after {flat[0]} process{'es' if flat[0] > 1 else ''} ({flat[1]} give less than 10% more)"
            if flat
            else "not within the run"
        )
        print(f"  {backend}: the curve flattens {where}; {os.cpu_count()} cores")
    if ("SQLite", 1) in results and ("PostgreSQL", 1) in results:
        ratio = results["PostgreSQL", 1] / results["SQLite", 1]
        print(f"  PostgreSQL / SQLite, 1 process: {ratio:.2f}   (target >= 0.7)")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
