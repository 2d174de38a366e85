"""Writing ComicInfo into a 200 MB CBZ, compared with copying the same file (shutil.copyfile).

Two archives: stored JPEG-like pages (most scans) and deflated pages. For each, the median
of 5 runs of our atomic write (temporary file, raw copy of every member, fsync, verify,
rename) divided by the median of 5 ``shutil.copyfile`` of the same file. When ComicTagger
1.6.0b9 is available (its own environment, .venv-ct), its write is timed on the same files.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bdnex_core.archive import write_comicinfo

SIZE = 200 * 1024 * 1024
PAGE = 2 * 1024 * 1024
XML = b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Title>Bench</Title><Series>Nains</Series><Number>1</Number></ComicInfo>\n'
REPO = Path(__file__).resolve().parents[1]
CT_PYTHON = Path(os.environ.get("BDNEX_COMICTAGGER_PYTHON", REPO / ".venv-ct" / "bin" / "python"))
CT_WRITE = """
import sys, time
from comicapi.comicarchive import ComicArchive
from comicapi.genericmetadata import GenericMetadata
archive = ComicArchive(sys.argv[1])
metadata = GenericMetadata(series="Nains", issue="1", title="Bench")
started = time.perf_counter()
ok = archive.write_tags(metadata, "cr")
print(time.perf_counter() - started if ok else -1)
"""


def jpeg_like(size: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + os.urandom(size - 6) + b"\xff\xd9"


def build(path: Path, compression: int, maker) -> None:
    with zipfile.ZipFile(path, "w", compression=compression, compresslevel=1) as archive:
        for number in range(SIZE // PAGE):
            archive.writestr(f"page{number:03d}.jpg", maker(PAGE))


def median_time(action, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def comictagger_time(path: Path) -> float | None:
    if not CT_PYTHON.exists():
        return None
    times = []
    for _ in range(3):
        result = subprocess.run([str(CT_PYTHON), "-c", CT_WRITE, str(path)], capture_output=True, text=True)
        if result.returncode != 0 or not result.stdout.strip():
            return None
        times.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bdnex-bench-write-", dir=os.environ.get("BENCH_DIR")))
    try:
        worst = 0.0
        for label, compression, maker in (("stored JPEG-like", zipfile.ZIP_STORED, jpeg_like),
                                          ("deflated JPEG-like", zipfile.ZIP_DEFLATED, jpeg_like)):
            source = folder / f"{label.split()[0]}.cbz"
            build(source, compression, maker)
            copy_target = folder / "copy.cbz"
            copy = median_time(lambda: shutil.copyfile(source, copy_target))
            ours = median_time(lambda: write_comicinfo(source, XML))
            ratio = ours / copy
            worst = max(worst, ratio)
            line = (f"{label:17} {source.stat().st_size / 1e6:6.0f} MB: copyfile {copy * 1000:7.1f} ms, "
                    f"bdnex-core write {ours * 1000:7.1f} ms, ratio {ratio:.2f}")
            ct_source = folder / f"ct-{source.name}"
            shutil.copyfile(source, ct_source)
            theirs = comictagger_time(ct_source)
            if theirs is not None:
                line += f"; ComicTagger 1.6.0b9 write {theirs * 1000:7.1f} ms ({theirs / ours:.1f}x ours)"
            print(line, flush=True)
            for leftover in (source, copy_target, ct_source):
                leftover.unlink(missing_ok=True)
        print(f"worst ratio to copyfile: {worst:.2f} (target <= 1.3)")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
