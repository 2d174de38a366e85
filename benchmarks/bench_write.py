"""Writing ComicInfo.xml into large CBZs: in place vs the limit of the job, and the copy path vs shutil.copyfile.

Usage: python benchmarks/bench_write.py [--size-mb 100] [--runs 5] [--in-place-runs 21] [--ct-python PATH]
                                        [--keep DIR] [--loop xfs|btrfs|ext4] [--only in_place|copy]

In place (issue 30), for a stored archive without ComicInfo.xml, one whose ComicInfo.xml is its last
member, and a deflated one, the median of N interleaved runs of
  limit     the limit of the job: append one member, as plainly as it can be done: open the archive,
            read its end record and central directory, write the new member (ComicInfo.xml, deflated),
            the directory with one more record and a new end record where the old directory began,
            fsync, close
  bytes     the same without reading anything: the very bytes ours writes, known in advance, written
            and flushed (what no writer can go below, shown for scale)
  in place  write_comicinfo(archives.write: in_place) with its journal in a real SQLite database in the
            same folder: read the end of the file, plan and check the new tail, commit the journal
            entry durably, write, fsync, read back, delete the entry
and the ratio in place / limit (target ≤ 3). The journal's database is first used for a few hundred
writes, as a library's database is during a run (its write-ahead log at its working size); the
figure of a fresh database, whose log still grows at every commit, is printed beside.
ComicTagger's bare zip append (``archiver.write_file``, no fsync) is timed too when importable.

The copy path (the ``copy`` setting, and ``auto`` where blocks are shared), for the same archives
deflated and with ComicInfo.xml first, the median of N runs of
  copy      write_comicinfo() through a copy (members copied raw, fsync, verify, os.replace, fsync the folder)
  copyfile  shutil.copyfile() of the same archive (the baseline of the copy path's ≤ 1.3× target)
and the ratio copy / copyfile; also two baselines doing the work it cannot skip:
copyfile over an existing copy (the old blocks are freed, as our os.replace frees the original's)
and copyfile followed by fsync (ours is durable, a bare copyfile is not). When ComicTagger 1.6.0b9 is importable by --ct-python (default .venv-ct), it times
its comicapi ``ComicArchive.write_tags(md, "cr")`` (which also reads every page to fill the page list)
and its bare zip write ``archiver.write_file("ComicInfo.xml", …)`` on fresh copies of the same files.
Every timed run starts from a fresh copy of the archive, flushed (the copy is not timed); the
in-place rounds run their cases in a shuffled order, and the median of the rounds' ratios is
printed beside the ratio of the medians (a busy machine's flushes vary from one second to the next).

The folder's filesystem matters: on ext4 a durable copy must put every byte on the disk, while
XFS and btrfs let the copy share the pages' blocks with the original. ``--loop xfs`` / ``--loop btrfs``
(root, Debian's xfsprogs / btrfs-progs) also run every case on a fresh filesystem of that kind
mounted from a loop image, after the run in the temporary (or --keep) folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bdnex_core.archives import WriteJournal, WriteMethod, WritePolicy, write_comicinfo
from bdnex_core.archives.inplace import plan_append
from bdnex_core.archives.zipformat import comicinfo_record
from bdnex_core.db import BDneXDB
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


IN_PLACE = WritePolicy(WriteMethod.IN_PLACE)
JOURNAL_WARM_UP_WRITES = 300


def _known_bytes(work: Path, tail: bytes, offset: int) -> None:
    descriptor = os.open(work, os.O_RDWR)
    try:
        os.pwrite(descriptor, tail, offset)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


_END = struct.Struct("<4s4H2LH")


def _fresh_copy(source: Path, work: Path) -> None:
    """The archive as it was, on disk (what a library's file at rest is): nothing of it left to flush."""
    shutil.copyfile(source, work)
    with open(work, "rb") as handle:
        os.fsync(handle.fileno())


def _plain_append(work: Path) -> None:
    """One member appended the plainest way (no comment, no zip64, nothing checked): the job's limit."""
    descriptor = os.open(work, os.O_RDWR)
    try:
        size = os.fstat(descriptor).st_size
        _sig, _disk, _cd_disk, _entries, count, cd_size, cd_offset, _comment = _END.unpack(
            os.pread(descriptor, _END.size, size - _END.size)
        )
        directory = os.pread(descriptor, cd_size, cd_offset)
        local, central = comicinfo_record(XML, cd_offset)
        directory += central
        end = _END.pack(b"PK\x05\x06", 0, 0, count + 1, count + 1, len(directory), cd_offset + len(local), 0)
        os.pwrite(descriptor, local + directory + end, cd_offset)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _in_place(work: Path, journal: WriteJournal) -> None:
    report = write_comicinfo(work, XML, policy=IN_PLACE, journal=journal)
    if not report.in_place:
        raise SystemExit(f"the write went through the copy path ({report.reason}): nothing to measure")


def _warm_journal(folder: Path, journal: WriteJournal) -> None:
    """A few hundred in-place writes into a small archive: the database's write-ahead log reaches its
    working size and restarts, as during a run (a fresh log grows, and a growing file costs more to flush)."""
    small = build_cbz(folder / "warm-up.cbz", 2, page_size=10_000)
    for _ in range(JOURNAL_WARM_UP_WRITES):
        _in_place(small, journal)
    small.unlink()


def run_in_place(folder: Path, options: argparse.Namespace, has_ct: bool) -> float:
    """In place against the limit of the job, interleaved runs; return the worst ratio (warm journal)."""
    pages = max(1, options.size_mb * 1_000_000 // PAGE_SIZE)
    old = b"<ComicInfo><Series>old</Series></ComicInfo>"
    cases = {
        "stored": build_cbz(folder / "stored.cbz", pages, page_size=PAGE_SIZE),
        "stored, ComicInfo last": build_cbz(folder / "stored-ci-last.cbz", pages, page_size=PAGE_SIZE, comicinfo=old),
        "deflated": build_cbz(folder / "deflated.cbz", pages, page_size=PAGE_SIZE, compression=zipfile.ZIP_DEFLATED),
    }
    work = folder / "work.cbz"
    fresh = BDneXDB(str(folder / "fresh-journal.db"))
    warm = BDneXDB(str(folder / "warm-journal.db"))
    journals = {"fresh": WriteJournal(fresh.archive_journal), "warm": WriteJournal(warm.archive_journal)}
    _warm_journal(folder, journals["warm"])
    print(
        f"In place: {options.size_mb} MB archives ({pages} pages of {PAGE_SIZE // 1000} KB) in {folder} "
        f"({_filesystem_type(folder)}), median of {options.in_place_runs} interleaved runs"
    )
    worst = 0.0
    for label, source in cases.items():
        shutil.copyfile(source, work)
        with open(work, "rb") as handle:
            plan = plan_append(handle.fileno(), work.stat().st_size, XML, IN_PLACE)
        actions = {
            "limit": lambda: _plain_append(work),
            "bytes": lambda: _known_bytes(work, plan.new_tail, plan.tail_offset),
            "warm": lambda: _in_place(work, journals["warm"]),
            "fresh": lambda: _in_place(work, journals["fresh"]),
        }
        times: dict[str, list[float]] = {name: [] for name in actions}
        order = random.Random(30)
        for _ in range(options.in_place_runs):
            names = list(actions)
            order.shuffle(names)  # each round in another order: none always runs right after a flush
            for name in names:
                _fresh_copy(source, work)
                started = time.perf_counter()
                actions[name]()
                times[name].append(time.perf_counter() - started)
        limit, known, ours, cold = (statistics.median(times[name]) for name in ("limit", "bytes", "warm", "fresh"))
        ratio = ours / limit
        # the same rounds, pair by pair: each pair saw the same load on this machine
        paired = statistics.median(a / b for a, b in zip(times["warm"], times["limit"], strict=True))
        worst = max(worst, ratio)
        print(
            f"  {label:<24} {source.stat().st_size / 1e6:6.1f} MB  in place {ours * 1000:6.2f} ms  "
            f"limit {limit * 1000:6.2f} ms  ratio {ratio:4.2f}  (median of the rounds' ratios {paired:4.2f})"
        )
        print(
            f"    known bytes only {known * 1000:6.2f} ms (in place/that {ours / known:4.2f}); fresh journal database "
            f"{cold * 1000:6.2f} ms (/limit {cold / limit:4.2f}); fastest runs: in place "
            f"{min(times['warm']) * 1000:5.2f} ms, limit {min(times['limit']) * 1000:5.2f} ms, "
            f"known bytes {min(times['bytes']) * 1000:5.2f} ms"
        )
        if has_ct:
            ct = _comictagger(options.ct_python, source, work, options.in_place_runs, "write_file")
            if ct is not None:
                print(f"    ComicTagger 1.6.0b9 write_file (no fsync, no journal) {ct * 1000:7.2f} ms")
    fresh.close()
    warm.close()
    print(
        f"worst ratio in place/limit on {_filesystem_type(folder)}: {worst:.2f} (target ≤ 3.00): "
        f"{'OK' if worst <= 3.0 else 'TOO SLOW'}"
    )
    return worst


def run_cases(folder: Path, options: argparse.Namespace, has_ct: bool) -> float:
    """Build the archives in ``folder``, time every case of the copy path, print the figures; return the worst ratio."""
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
        f"Copy path: {options.size_mb} MB archives ({pages} pages of {PAGE_SIZE // 1000} KB) in {folder} "
        f"({_filesystem_type(folder)}), median of {options.runs} runs"
    )
    for label, source in cases.items():
        size_mb = source.stat().st_size / 1e6
        ours = _median_time(lambda: write_comicinfo(work, XML), lambda: shutil.copyfile(source, work), options.runs)
        # (no policy: the copy path)
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
        print(f"  {label:<24} {size_mb:6.1f} MB  copy {ours:6.3f}s  copyfile {copy:6.3f}s  ratio {ratio:4.2f}")
        print(
            f"    other baselines: copyfile over an existing copy {copy_over:6.3f}s (copy/that "
            f"{ours / copy_over:4.2f}); copyfile+fsync {durable_copy:6.3f}s (copy/that {ours / durable_copy:4.2f})"
        )
        if has_ct:
            for mode in ("write_tags", "write_file"):
                ct = _comictagger(options.ct_python, source, work, options.runs, mode)
                if ct is not None:
                    print(
                        f"    ComicTagger 1.6.0b9 {mode:<10} {ct:7.3f}s  (ComicTagger/copy {ct / ours:5.2f}, "
                        f"/copyfile {ct / copy:5.2f})"
                    )
    if not has_ct:
        print(f"  ComicTagger not importable with {options.ct_python}: skipped")
    print(
        f"worst ratio copy/copyfile on {_filesystem_type(folder)}: {worst:.2f} (target ≤ 1.30): "
        f"{'OK' if worst <= 1.3 else 'TOO SLOW'}"
    )
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--in-place-runs", type=int, default=21)
    parser.add_argument("--only", choices=["in_place", "copy"], help="run one of the two parts only")
    parser.add_argument("--ct-python", type=Path, default=Path(__file__).resolve().parents[1] / ".venv-ct/bin/python")
    parser.add_argument("--keep", type=Path, help="build the archives in this folder and keep them")
    parser.add_argument(
        "--loop",
        action="append",
        choices=["xfs", "btrfs", "ext4"],
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
        if options.only != "copy":
            run_in_place(folder, options, has_ct)
            print()
        if options.only != "in_place":
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
                if options.only != "copy":
                    run_in_place(mount_point, options, has_ct)
                    print()
                    for leftover in mount_point.glob("*.cbz"):
                        leftover.unlink()
                if options.only != "in_place":
                    run_cases(mount_point, options, has_ct)
        except LoopFilesystemUnavailable as exc:
            print(f"\n{kind}: not run ({exc})")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
