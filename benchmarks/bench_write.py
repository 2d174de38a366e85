"""Writing ComicInfo.xml into 200 MB CBZs: our atomic raw-copy writer vs shutil.copyfile (and ComicTagger).

Usage: python benchmarks/bench_write.py [--size-mb 200] [--runs 5] [--ct-python PATH] [--keep DIR]
                                        [--loop xfs] [--loop btrfs]

For each archive (stored JPEG-like pages; the same pages deflated) it prints the median of N runs of
  ours      write_comicinfo() (copy members raw, fsync, verify, os.replace, fsync the folder)
  copyfile  shutil.copyfile() of the same archive (the baseline of the issue's ≤ 1.3× target)
and the ratio ours / copyfile (to a new file); also two baselines doing the work ours cannot skip:
copyfile over an existing copy (the old blocks are freed, as our os.replace frees the original's)
and copyfile followed by fsync (ours is durable, a bare copyfile is not). When ComicTagger 1.6.0b9 is importable by --ct-python (default /work/main/.venv-ct), it times
its comicapi ``ComicArchive.write_tags(md, "cr")`` (which also reads every page to fill the page list)
and its bare zip write ``archiver.write_file("ComicInfo.xml", …)`` on fresh copies of the same files.
Every timed run starts from a fresh copy of the archive (the copy is not timed).

The folder's filesystem matters: on ext4 a durable write must put every byte on the disk, while
XFS and btrfs let ours share the pages' blocks with the original. ``--loop xfs`` / ``--loop btrfs``
(root, Debian's xfsprogs / btrfs-progs) also run every case on a fresh filesystem of that kind
mounted from a loop image, after the run in the temporary (or --keep) folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bdnex_core.archive import write_comicinfo
from bdnex_testing.archives import build_cbz
from bdnex_testing.loopfs import LoopFilesystemUnavailable, loop_filesystem

XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Nains</Series><Number>1</Number>'
    b"<Title>Redwin de la Forge</Title><Writer>Nicolas Jarry</Writer><Publisher>Soleil</Publisher>"
    b"<Year>2015</Year></ComicInfo>\n"
)
PAGE_SIZE = 2_000_000

CT_SCRIPT = r"""
import json, os, shutil, sys, time, pathlib
from comicapi import comicarchive
from comicapi.genericmetadata import GenericMetadata
comicarchive.load_archive_plugins(); comicarchive.load_tag_plugins()
source, work, runs, mode = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
xml = sys.argv[5].encode()
times = []
for _ in range(runs):
    shutil.copyfile(source, work)
    os.sync()
    started = time.perf_counter()
    archive = comicarchive.ComicArchive(work)
    if mode == "write_tags":
        ok = archive.write_tags(GenericMetadata(series="Nains", issue="1", title="Redwin de la Forge",
                                                publisher="Soleil", year=2015), "cr")
    else:
        ok = archive.archiver.write_file("ComicInfo.xml", xml)
    times.append(time.perf_counter() - started)
    assert ok, "ComicTagger reported a failed write"
print(json.dumps(times))
"""


def _median_time(action, prepare, runs: int) -> float:
    times = []
    for _ in range(runs):
        prepare()
        os.sync()  # each run starts with nothing left to write back (as a file at rest in a library)
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _fsynced_copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def _comictagger(python: Path, source: Path, work: Path, runs: int, mode: str) -> float | None:
    result = subprocess.run(
        [str(python), "-c", CT_SCRIPT, str(source), str(work), str(runs), mode, XML.decode()],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        print(f"    ComicTagger {mode} failed: {result.stderr.strip().splitlines()[-1:]}")
        return None
    return statistics.median(json.loads(result.stdout.strip().splitlines()[-1]))


def _filesystem_type(folder: Path) -> str:
    """The type of the filesystem holding ``folder`` (the longest mount point above it in /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(folder.resolve())
    for line in mounts:
        fields = line.split()
        inside = len(fields) >= 3 and (resolved == fields[1] or resolved.startswith(fields[1].rstrip("/") + "/"))
        if inside and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind


def run_cases(folder: Path, options: argparse.Namespace, has_ct: bool) -> float:
    """Build the archives in ``folder``, time every case, print the figures; return the worst ratio."""
    pages = max(1, options.size_mb * 1_000_000 // PAGE_SIZE)
    cases = {
        "stored": build_cbz(folder / "stored.cbz", pages, page_size=PAGE_SIZE),
        "deflated": build_cbz(folder / "deflated.cbz", pages, page_size=PAGE_SIZE, compression=zipfile.ZIP_DEFLATED),
        "stored, ComicInfo first": build_cbz(
            folder / "stored-ci-first.cbz",
            pages,
            page_size=PAGE_SIZE,
            comicinfo=b"<ComicInfo><Series>old</Series></ComicInfo>",
            comicinfo_at=0,
        ),
    }
    work = folder / "work.cbz"
    copy_target = folder / "copy.cbz"
    worst = 0.0
    print(
        f"{options.size_mb} MB archives ({pages} pages of {PAGE_SIZE // 1000} KB) in {folder} "
        f"({_filesystem_type(folder)}), median of {options.runs} runs"
    )
    for label, source in cases.items():
        size_mb = source.stat().st_size / 1e6
        ours = _median_time(lambda: write_comicinfo(work, XML), lambda: shutil.copyfile(source, work), options.runs)
        copy = _median_time(
            lambda: shutil.copyfile(source, copy_target), lambda: copy_target.unlink(missing_ok=True), options.runs
        )
        copy_over = _median_time(
            lambda: shutil.copyfile(source, copy_target), lambda: shutil.copyfile(source, copy_target), options.runs
        )
        durable_copy = _median_time(
            lambda: _fsynced_copy(source, copy_target), lambda: copy_target.unlink(missing_ok=True), options.runs
        )
        ratio = ours / copy
        worst = max(worst, ratio)
        print(f"  {label:<24} {size_mb:6.1f} MB  ours {ours:6.3f}s  copyfile {copy:6.3f}s  ratio {ratio:4.2f}")
        print(
            f"    other baselines: copyfile over an existing copy {copy_over:6.3f}s (ours/that "
            f"{ours / copy_over:4.2f}); copyfile+fsync {durable_copy:6.3f}s (ours/that {ours / durable_copy:4.2f})"
        )
        if has_ct:
            for mode in ("write_tags", "write_file"):
                ct = _comictagger(options.ct_python, source, work, options.runs, mode)
                if ct is not None:
                    print(
                        f"    ComicTagger 1.6.0b9 {mode:<10} {ct:7.3f}s  (ComicTagger/ours {ct / ours:5.2f}, "
                        f"/copyfile {ct / copy:5.2f})"
                    )
    if not has_ct:
        print(f"  ComicTagger not importable with {options.ct_python}: skipped")
    print(
        f"worst ratio ours/copyfile on {_filesystem_type(folder)}: {worst:.2f} (target ≤ 1.30): "
        f"{'OK' if worst <= 1.3 else 'TOO SLOW'}"
    )
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ct-python", type=Path, default=Path(__file__).resolve().parents[1] / ".venv-ct/bin/python")
    parser.add_argument("--keep", type=Path, help="build the archives in this folder and keep them")
    parser.add_argument(
        "--loop",
        action="append",
        choices=["xfs", "btrfs"],
        default=[],
        help="also run on a fresh loop-mounted filesystem of this kind (root)",
    )
    options = parser.parse_args()

    has_ct = (
        options.ct_python.exists()
        and subprocess.run(
            [str(options.ct_python), "-c", "import comicapi.comicarchive"], capture_output=True
        ).returncode
        == 0
    )
    folder = options.keep or Path(tempfile.mkdtemp(prefix="bdnex-bench-write-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run_cases(folder, options, has_ct)
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    for kind in options.loop:
        workdir = Path(tempfile.mkdtemp(prefix=f"bdnex-bench-{kind}-"))
        size_mb = 4 * options.size_mb + 512  # three archives, the work file and the copy
        try:
            with loop_filesystem(kind, workdir, size_mb=size_mb) as mount_point:
                print()
                run_cases(mount_point, options, has_ct)
        except LoopFilesystemUnavailable as exc:
            print(f"\n{kind}: not run ({exc})")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
