"""SIGKILL a writer at random moments: the archive is always the intact original or the complete new one."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import TEMP_PREFIX, cleanup_stale_temp_files, write_comicinfo
from bdnex_testing.archives import build_cbz, raw_members

NEW_XML = b"<ComicInfo><Series>Nains</Series><Number>1</Number><Title>Redwin de la Forge</Title></ComicInfo>"
TRIALS = 24

WRITER = """
import sys
from bdnex_core.archives import write_comicinfo
path, xml = sys.argv[1], sys.argv[2].encode()
print("ready", flush=True)
while True:
    write_comicinfo(path, xml)
"""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_during_writes_never_breaks_the_archive(tmp_path):
    _kill_writers_at_random(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_during_cloning_writes_never_breaks_the_archive(reflink_folder):
    _kill_writers_at_random(reflink_folder / "crash")


def _kill_writers_at_random(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    pristine = build_cbz(
        folder / "pristine.cbz",
        pages=40,
        page_size=2_000_000,
        seed=7,
        comicinfo=b"<ComicInfo><Series>old</Series></ComicInfo>",
        comicinfo_at=0,
    )  # ~80 MB
    original_sha = _sha256(pristine)
    original_members = {name: value for name, value in raw_members(pristine).items() if name != "ComicInfo.xml"}
    library = folder / "library"
    library.mkdir()
    target = library / "Nains - T01.cbz"

    shutil.copyfile(pristine, target)
    started = time.perf_counter()
    write_comicinfo(target, NEW_XML)
    one_write = time.perf_counter() - started

    rng = random.Random(20261124)
    outcomes = {"original": 0, "new": 0}
    leftovers = {"killed mid-write": 0}
    for _trial in range(TRIALS):
        shutil.copyfile(pristine, target)
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target), NEW_XML.decode()],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        # The child writes in a loop, so a kill lands in the middle of some write at almost any moment;
        # up to 2.5 writes long, some trials also find the first write completed.
        time.sleep(rng.uniform(0, 2.5 * one_write))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

        if _sha256(target) == original_sha:
            outcomes["original"] += 1
        else:
            with zipfile.ZipFile(target) as archive:
                assert archive.read("ComicInfo.xml") == NEW_XML
                assert [info.filename for info in archive.infolist()].count("ComicInfo.xml") == 1
            assert {n: v for n, v in raw_members(target).items() if n != "ComicInfo.xml"} == original_members
            outcomes["new"] += 1
        leftovers["killed mid-write"] += bool(cleanup_stale_temp_files(library))
        assert [p.name for p in library.iterdir()] == [target.name]
    print(f"one write {one_write:.3f}s; outcomes {outcomes}; {leftovers}")
    assert sum(outcomes.values()) == TRIALS
    # the kills really hit the middle of writes (not only the gaps between them)
    assert outcomes["new"] and leftovers["killed mid-write"]
    assert not [p for p in library.iterdir() if p.name.startswith(TEMP_PREFIX)]
