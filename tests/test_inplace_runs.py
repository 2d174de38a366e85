"""Tagging runs that write in place (issue 30): SIGKILLed at every step of a write, and on a full disk.

The run is a real ``bdnex-core tag`` process on a library of three CBZs, writing in place (ext4, or
``archives.write: in_place``); a few lines run before the CLI replace one step of the write with
"do it (or part of it), then SIGKILL this process" on the second file's write. After the next
command (any command opens the database, which takes back interrupted writes), every archive is
its original byte for byte, or holds every page byte for byte plus the new ComicInfo.xml, and the
database says which: a file it does not record as tagged is the original; one it records has the
hash it records, the ComicInfo whose hash it records, and the backup from which ``undo`` gives
the original back byte for byte.

On a disk that fills up during the append, the file fails with one line and is its original again.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bdnex_core.cli.demo import pick_albums
from bdnex_core.demo.samplelib import build_library
from bdnex_core.hashing import canonical_path
from bdnex_testing.databases import copy_into, peek_rows, peek_value
from bdnex_testing.pytest_plugin import database_mapping
from tests import test_shared_database_processes as shared_processes

site = shared_processes.site  # the fake Bédéthèque of the processes tests (one per module)
VICTIM = 2  # the write that is killed: the first file's is done (recorded or not yet) by then

CHILD = r"""
import os, signal, sys
step, offset, victim, told = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
from bdnex_core.archives import inplace
from bdnex_core.store.archive_journal import ArchiveJournalStore
from bdnex_core.pipeline.runner import TagRun

writes = {"count": 0, "victim_id": None}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def victim_now():
    return writes["count"] == victim

real_begin = ArchiveJournalStore.begin
def begin(self, row):
    writes["count"] += 1
    if victim_now():
        with open(told, "w") as handle:
            handle.write(row["file_path"])
    if step == "before the journal" and victim_now():
        die()
    journal_id = real_begin(self, row)
    if victim_now():
        writes["victim_id"] = journal_id
    if step == "after the journal" and victim_now():
        die()
    return journal_id
ArchiveJournalStore.begin = begin

real_write_tail = inplace.write_tail
def write_tail(descriptor, data, position):
    if step == "in the tail" and victim_now():
        os.pwrite(descriptor, data[:offset], position)
        die()
    real_write_tail(descriptor, data, position)
inplace.write_tail = write_tail

real_flush = inplace.flush
def flush(descriptor):
    if step == "before the fsync" and victim_now():
        die()
    real_flush(descriptor)
    if step == "after the fsync" and victim_now():
        die()
inplace.flush = flush

real_end = ArchiveJournalStore.end
def end(self, journal_ids):
    if step == "before dropping the journal" and writes["victim_id"] in journal_ids:
        die()  # inside the transaction that records the file: it never commits
    return real_end(self, journal_ids)
ArchiveJournalStore.end = end

real_record = TagRun._record
def record(self, session_id, outcome):
    real_record(self, session_id, outcome)
    if step == "after dropping the journal" and writes["victim_id"] in outcome.journal_ids:
        die()
TagRun._record = record

from bdnex_core.cli import main
sys.exit(main(sys.argv[5:]))
"""

# (step, offset into the new tail): before the journal, after it, inside the tail's write at several
# bytes (the local header, the middle, inside the end record, one short), around the fsync, around
# the journal's deletion (the transaction that records the file)
STEPS = [
    ("before the journal", 0),
    ("after the journal", 0),
    ("in the tail", 1),
    ("in the tail", 30),
    ("in the tail", -40),
    ("in the tail", -10),
    ("in the tail", -1),
    ("before the fsync", 0),
    ("after the fsync", 0),
    ("before dropping the journal", 0),
    ("after dropping the journal", 0),
]


@pytest.fixture(scope="module")
def catalogue(site, tmp_path_factory):
    """A database holding the catalogue index, copied for every trial."""
    folder = tmp_path_factory.mktemp("catalogue")
    shared_processes.index_catalogue(
        site, {"database": {"path": str(folder / "catalogue.db")}, "cache": {"dir": str(folder / "cache")}}
    )
    return folder / "catalogue.db"


def prepare(site, catalogue: Path, folder: Path, location: str) -> tuple[Path, dict[Path, tuple[bytes, int]]]:
    copy_into(catalogue, location)
    present, _ = pick_albums(site, 3, 0, seed=30)
    library = build_library(folder / "library", present, broken=0, pages_per_file=2)
    config = folder / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "database": database_mapping(location),
                "cache": {"dir": str(folder / "cache")},
                "pipeline": {"logs_dir": str(folder / "logs"), "workers": 1},
                "archives": {"write": "in_place"},
                **site.settings_mapping(min_delay_seconds=0.05, jitter_seconds=0.0),
            }
        )
    )
    return config, {sample.path: (sample.path.read_bytes(), sample.path.stat().st_mtime_ns) for sample in library}


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bdnex_core", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def pages_and_comicinfo(data: bytes, path: Path) -> tuple[dict[str, bytes], bytes | None]:
    path.with_suffix(".check").write_bytes(data)
    with zipfile.ZipFile(path.with_suffix(".check")) as archive:
        assert archive.testzip() is None
        names = [info.filename for info in archive.infolist()]
        assert names.count("ComicInfo.xml") <= 1
        pages = {name: archive.read(name) for name in names if name != "ComicInfo.xml"}
        comicinfo = archive.read("ComicInfo.xml") if "ComicInfo.xml" in names else None
    return pages, comicinfo


def check_agreement(location: str, originals: dict[Path, tuple[bytes, int]]) -> dict[Path, str]:
    """Every archive original or new, as the database says; returns which each is."""
    assert peek_value(location, "SELECT COUNT(*) FROM archive_journal") == 0
    rows = {
        path: (status, file_hash, metadata_hash)
        for path, status, file_hash, metadata_hash in peek_rows(
            location, "SELECT file_path, status, file_hash, metadata_hash FROM processed_files"
        )
    }
    states = {}
    for path, (original, mtime_ns) in originals.items():
        data = path.read_bytes()
        recorded = rows.get(canonical_path(path))
        if data == original:
            assert path.stat().st_mtime_ns == mtime_ns, f"{path.name}: its bytes are back, not its time"
            assert recorded is None, f"{path.name}: the original, yet recorded as {recorded[0]}"
            states[path] = "original"
            continue
        pages, comicinfo = pages_and_comicinfo(data, path)
        assert pages == pages_and_comicinfo(original, path)[0], f"{path.name}: a page changed"
        assert comicinfo is not None, f"{path.name}: changed, without a ComicInfo.xml"
        assert recorded is not None, f"{path.name}: written but not recorded"
        status, file_hash, metadata_hash = recorded
        assert status == "success"
        assert file_hash == hashlib.sha256(data).hexdigest()
        assert metadata_hash == hashlib.sha256(comicinfo).hexdigest()
        layouts = peek_value(
            location,
            "SELECT COUNT(*) FROM comicinfo_backups WHERE file_path = ? AND layout IS NOT NULL",
            (canonical_path(path),),
        )
        assert layouts == 1, f"{path.name}: no undo record"
        states[path] = "new"
    return states


def kill_at(config: Path, step: str, offset: int) -> subprocess.CompletedProcess[str]:
    folder = config.parent
    child = [sys.executable, "-c", CHILD, step, str(offset), str(VICTIM), str(folder / "victim")]
    run = subprocess.run(
        [*child, "--config", str(config), "tag", str(folder / "library"), "--batch", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -9, f"the run was not killed at {step!r}: {run.returncode} {run.stderr[-1500:]}"
    return run


def trial(site, catalogue: Path, folder: Path, location: str, step: str, offset: int, *, finish: bool) -> None:
    config, originals = prepare(site, catalogue, folder, location)
    kill_at(config, step, offset)
    next_command = cli(config, "stats")
    assert next_command.returncode == 0, next_command.stderr
    states = check_agreement(location, originals)
    victim = Path((folder / "victim").read_text())
    assert states[victim] == ("new" if step == "after dropping the journal" else "original"), step
    if not finish:
        return
    # the session resumed does what was left; undo then gives every file back byte for byte
    (session_id,) = peek_rows(location, "SELECT id FROM processing_sessions")[0]
    resumed = cli(config, "tag", "--resume", str(session_id), "--batch", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert set(check_agreement(location, originals).values()) == {"new"}
    undone = cli(config, "undo", str(session_id), "--json")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    for path, (original, _mtime_ns) in originals.items():
        assert path.read_bytes() == original, f"{path.name}: undo did not give the original back"


@pytest.mark.slow
@pytest.mark.parametrize(("step", "offset"), STEPS, ids=[f"{step} {offset}".strip(" 0") for step, offset in STEPS])
def test_sigkill_at_every_step_of_an_in_place_write(site, catalogue, tmp_path, step, offset):
    finish = step in ("in the tail", "after the fsync", "after dropping the journal") and offset in (0, -40)
    trial(site, catalogue, tmp_path, str(tmp_path / "bdnex.db"), step, offset, finish=finish)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["in the tail", "before dropping the journal"])
def test_sigkill_during_an_in_place_write_on_both_databases(site, catalogue, tmp_path, new_database, step):
    trial(site, catalogue, tmp_path, new_database(tmp_path), step, 30, finish=True)


@pytest.mark.slow
def test_a_full_disk_during_a_runs_append_fails_the_file_with_one_line(site, catalogue, tmp_path):
    from bdnex_core.demo.samplelib import sample_pages, write_cbz
    from bdnex_testing.loopfs import LoopFilesystemUnavailable, fill_up, loop_filesystem

    location = str(tmp_path / "bdnex.db")
    config, originals = prepare(site, catalogue, tmp_path, location)
    try:
        with loop_filesystem("ext4", tmp_path / "loop", size_mb=8) as disk:
            # one file of the library, moved onto the small disk, ending on a block boundary
            source = next(iter(originals))
            target = disk / source.parent.name / source.name
            pages = sample_pages(source.stem, 2, 1)
            padding = 0
            while True:
                write_cbz(target, pages, extra_members=[("zz-padding.txt", bytes(padding))])
                if target.stat().st_size % 4096 == 0:
                    break
                padding = (padding + (-target.stat().st_size % 4096)) % 4096
            original = target.read_bytes()
            fill_up(disk)
            run = cli(config, "tag", str(disk), "--batch")
            assert run.returncode == 1, run.stdout + run.stderr
            lines = [line for line in (run.stdout + run.stderr).splitlines() if "no space left" in line]
            assert len(lines) == 1 and target.name in lines[0], run.stdout + run.stderr
            assert "unexpected" not in run.stdout + run.stderr and "Traceback" not in run.stderr
            assert target.read_bytes() == original
            assert peek_value(location, "SELECT COUNT(*) FROM archive_journal") == 0
            status, error = peek_rows(
                location, "SELECT status, error_msg FROM processed_files WHERE file_path = ?", (canonical_path(target),)
            )[0]
            assert status == "failed" and "no space left" in error
    except LoopFilesystemUnavailable as exc:
        pytest.skip(f"no loop-mounted ext4 here: {exc}")
